// One-tap top-up from the dialer's low-balance question and the in-call
// bar (issue 21): GET /credits/one-tap says what can be paid in one tap
// (the smallest package with the default saved card: "Add $5 with Visa
// •4242"), POST /credits/one-tap pays it, as the Credits page's button
// does. The credit lands through the usual top-up path; a call in progress
// is extended when it does (the live stream brings its new limit).

// oneTapOffer is the offer, or null without a saved card (or when it
// cannot be asked): then the caller links to Credits.
export async function oneTapOffer(fetchImpl = globalThis.fetch) {
  try {
    const r = await fetchImpl("/credits/one-tap", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    if (!r.ok) return null
    const offer = await r.json()
    return offer?.label && offer.payment_method && offer.package ? offer : null
  } catch {
    return null
  }
}

// payOneTap starts the top-up and answers its page's URL (where a 3-D
// Secure challenge or a decline is shown); it throws when none started.
export async function payOneTap(offer, fetchImpl = globalThis.fetch) {
  const body = new URLSearchParams({ package: String(offer.package), payment_method: offer.payment_method })
  const r = await fetchImpl("/credits/one-tap", { method: "POST", body, credentials: "same-origin", headers: { Accept: "text/html" } })
  if (!r.ok || !/\/credits\/topups\/[^/]+$/.test(new URL(r.url, "http://x").pathname)) throw new Error(`one-tap top-up: ${r.status}`)
  return r.url
}
