// Every tap shows progress and every failure says what to do.
//
// - A form's buttons all wait while it is sent (Turbo disables the one
//   tapped and shows its data-turbo-submits-with text: "Starting payment…").
// - A request the network lost (Turbo's turbo:fetch-request-error) says so
//   where the person is looking, next to the button they tapped or at the
//   bottom of the screen for a link, with Retry, and is retried by itself
//   when the connection returns (the online event). Turbo's own answer, a
//   full reload, would drop a call in progress.
// - After a form comes back with errors, the first one is scrolled to the
//   middle of the screen and focused (the header and bottom nav hide the
//   top and bottom).
// - A fetch the network failed is never an uncaught "Failed to fetch".
import { visit } from "@hotwired/turbo"

const NETWORK_ERROR = /fetch|network|load failed/i

let waiting = null // the retry to run when the connection returns

function retryWhenOnline(retry) {
  waiting = retry
}

window.addEventListener("online", () => {
  const retry = waiting
  waiting = null
  clearNotices()
  retry?.()
})

function clearNotices() {
  document.querySelectorAll("[data-net-notice]").forEach((n) => n.remove())
}

// notice shows message with a Retry button after anchor (or as a bar
// above the bottom nav), scrolls it into view and returns it.
function notice(message, retry, anchor) {
  clearNotices()
  const box = document.createElement("div")
  box.dataset.netNotice = ""
  box.setAttribute("role", "alert")
  box.className = anchor
    ? "mt-3 flex items-center justify-between gap-3 rounded-xl bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200"
    : "fixed inset-x-3 bottom-20 z-30 mx-auto flex max-w-lg items-center justify-between gap-3 rounded-xl bg-slate-900 p-3 text-sm text-white shadow-lg"
  const text = document.createElement("p")
  text.textContent = message
  const button = document.createElement("button")
  button.type = "button"
  button.className = "min-h-12 shrink-0 rounded-lg px-3 font-semibold underline underline-offset-2"
  button.textContent = "Retry"
  button.addEventListener("click", () => {
    waiting = null
    box.remove()
    retry()
  })
  box.append(text, button)
  if (anchor) anchor.insertAdjacentElement("afterend", box)
  else document.body.append(box)
  box.scrollIntoView({ block: "nearest" })
  retryWhenOnline(retry)
  return box
}

document.addEventListener("turbo:fetch-request-error", (event) => {
  const { request } = event.detail
  const delegate = request.delegate
  event.preventDefault()
  if (delegate?.formElement) {
    const form = delegate.formElement
    const submitter = delegate.submitter
    notice("No connection: this was not sent. It is sent again when you are back online.", () => form.requestSubmit(submitter || undefined),
      submitter || form.lastElementChild)
  } else if (delegate?.element?.localName === "turbo-frame") {
    const frame = delegate.element
    notice("No connection. This list updates again when you are back online.", () => frame.reload())
  } else if (delegate && "restorationIdentifier" in delegate) {
    // A visit: stay on this page (a call may be going on) and say so.
    const url = request.url.href
    delegate.fail?.()
    notice("No connection. The page opens when you are back online.", () => visit(url))
  }
  // A link prefetch that failed needs nothing: the tap will ask again.
})

// A fetch the network failed rejects a promise somebody may not await
// (Turbo's own, a prefetch): it is reported above, not as a crash.
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason
  if (reason instanceof TypeError && NETWORK_ERROR.test(reason.message)) event.preventDefault()
})

// While a form is sent, none of its buttons can send it again.
document.addEventListener("turbo:submit-start", (event) => {
  for (const button of event.target.querySelectorAll("button:not([disabled])")) {
    button.disabled = true
    button.dataset.netHeld = ""
  }
})
document.addEventListener("turbo:submit-end", (event) => {
  for (const button of event.target.querySelectorAll("button[data-net-held]")) {
    button.disabled = false
    delete button.dataset.netHeld
  }
})

// After a render (a form sent back with errors is one), bring the first
// error into view and focus it.
document.addEventListener("turbo:render", () => requestAnimationFrame(focusFirstError))
focusFirstError()

export function focusFirstError() {
  const field = document.querySelector('main [aria-invalid="true"], main [data-form-error]')
  if (!field) return
  const block = field.closest(".mb-4, .mb-6") || field
  block.scrollIntoView({ block: "center" })
  field.focus({ preventScroll: true })
}

