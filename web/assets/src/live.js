// Live updates from /live (web/live.go): one EventSource for the whole
// visit, opened on the first signed-in page (<meta name="mobayilo-live">)
// and kept across Turbo navigations, closed on a page without it (signed
// out). Its messages are Turbo Stream actions that carry the version of the
// row they show (a balance, a call, a top-up); every element that shows a
// row carries the version it shows (data-version), and an action older
// than or as old as an element leaves it alone. So nothing stale wins:
// not the current state a stream sends when it (re)opens, not a message
// that raced a page render. The newest action per target is kept and
// applied again to each page Turbo renders, so a page rendered from an
// older read catches up at once.
import { StreamActions, renderStreamMessage, visit } from "@hotwired/turbo"

const latest = new Map() // "action targets" -> { version, html }
const KEEP = 64

const older = (element, version) => !(Number(element.dataset.version) >= version)

function liveAction(apply) {
  return function () {
    const version = Number(this.getAttribute("version")) || 0
    const key = `${this.getAttribute("action")} ${this.getAttribute("targets")}`
    if (!(latest.get(key)?.version >= version)) {
      latest.delete(key)
      latest.set(key, { version, html: this.outerHTML })
      if (latest.size > KEEP) latest.delete(latest.keys().next().value)
    }
    let applied = false
    for (const element of this.targetElements) {
      if (!older(element, version)) continue
      apply.call(this, element, version)
      applied = true
    }
    if (applied) document.dispatchEvent(new CustomEvent("mobayilo:live", { detail: { targets: this.getAttribute("targets"), version } }))
  }
}

StreamActions["live-update"] = liveAction(function (element, version) {
  element.replaceChildren(this.templateContent)
  element.dataset.version = version
})
// The template's element carries its own data-version.
StreamActions["live-replace"] = liveAction(function (element) {
  element.replaceWith(this.templateContent)
})
StreamActions["live-remove"] = liveAction(function (element) {
  element.remove()
})
// A page that shows more of a row than an update carries (a call's ledger
// and timeline) visits itself again; this stream stays open.
let refreshTimer
StreamActions["live-refresh"] = liveAction(function (element, version) {
  element.dataset.version = version
  clearTimeout(refreshTimer)
  refreshTimer = setTimeout(() => visit(location.href, { action: "replace" }), 250)
})

// reapply gives the page the newest action of each target it missed.
export function reapply() {
  for (const { html } of latest.values()) renderStreamMessage(html)
}

let source = null
let opens = 0

function mark(state) {
  document.documentElement.dataset.live = state
}

// sync opens the stream if this page is a signed-in one and none is open,
// and closes it on a page that is not.
function sync() {
  const url = document.querySelector('meta[name="mobayilo-live"]')?.content
  if (!url) {
    source?.close()
    source = null
    latest.clear()
    mark("off")
    return
  }
  if (source && source.readyState !== EventSource.CLOSED) return
  source = new EventSource(url)
  document.documentElement.dataset.liveOpens = String(++opens)
  mark("connecting")
  const s = source
  s.addEventListener("open", () => mark("open"))
  s.addEventListener("error", () => mark(s.readyState === EventSource.CLOSED ? "closed" : "connecting"))
  s.addEventListener("message", (event) => renderStreamMessage(event.data))
}

export function startLive() {
  sync()
  document.addEventListener("turbo:load", () => {
    sync()
    reapply()
  })
  document.addEventListener("turbo:frame-render", reapply)
  // A stream the server closed for good (204) opens again once the
  // network is back, if the page is still signed in.
  window.addEventListener("online", sync)
}
