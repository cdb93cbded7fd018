// reportHangUp tells the server that this browser's call is over, so the
// call's workflow asks the carrier at once instead of waiting for a final
// callback that may be lost. Fire and forget: same-origin JSON POST, as
// POST /calls (the server's cross-origin check reads Sec-Fetch-Site);
// keepalive so that it survives the page going away; a failure is only
// logged (the workflow still reconciles on its own).
export function reportHangUp(callId, fetchImpl = globalThis.fetch) {
  if (!callId || typeof fetchImpl !== "function") return
  try {
    Promise.resolve(
      fetchImpl(`/calls/${encodeURIComponent(callId)}/hangup`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
        credentials: "same-origin",
        keepalive: true,
      }),
    )
      .then((response) => {
        if (response && !response.ok) console.warn(`hang-up report for call ${callId}: ${response.status}`)
      })
      .catch((err) => console.warn(`hang-up report for call ${callId} failed`, err))
  } catch (err) {
    console.warn(`hang-up report for call ${callId} failed`, err)
  }
}
