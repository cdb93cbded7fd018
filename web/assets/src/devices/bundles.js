// The parts a call needs that the dialer's first load does not carry, each a
// bundle of its own served under a content hash, named by the page
// (<meta name="voice-sdk">, <meta name="call-devices">): the device
// adapters (devices.js) and Twilio's Voice SDK (voice-sdk.js). The dialer
// prefetches them once it shows a number that can be called, and asks the
// service worker to keep them, so the first tap on Call waits for neither.

export function bundleURL(name) {
  return globalThis.document?.querySelector(`meta[name="${name}"]`)?.content || ""
}

function load(name) {
  const url = bundleURL(name)
  if (!url) return Promise.reject(new Error("The calling software is missing from this page. Reload it and try again."))
  return import(url)
}

export const loadVoiceSDK = () => load("voice-sdk")
export const loadDevices = () => load("call-devices")

let prefetched = false

// prefetch fetches (without running) what a call on this page's device
// needs, once.
export function prefetch(device) {
  if (prefetched) return
  prefetched = true
  const urls = [bundleURL("call-devices"), device === "twilio" ? bundleURL("voice-sdk") : ""].filter(Boolean)
  for (const url of urls) {
    const link = document.createElement("link")
    link.rel = "modulepreload"
    link.href = url
    document.head.append(link)
  }
  navigator.serviceWorker?.ready.then((r) => r.active?.postMessage({ precache: urls })).catch(() => {})
}
