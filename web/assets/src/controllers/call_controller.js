import { Controller } from "@hotwired/stimulus"
import { visit } from "@hotwired/turbo"
import { loadDevices } from "../devices/bundles.js"
import { reportHangUp } from "../devices/hangup.js"
import { reapply } from "../live.js"

// The in-call bar (partials/in_call.html). It starts when the dialer has
// an authorized call (a "mobayilo:call" event); what it does then is
// devices/in_call.js, loaded with the device adapters (the dialer has
// loaded them before it asked for the call).
export default class extends Controller {
  static targets = ["number", "status", "clock", "timer", "left", "outcome", "warning", "mute", "keypad", "keypadToggle", "digits", "hangUp",
    "close", "after", "details", "output", "rate", "topUp"]
  static values = { device: String }

  connect() {
    this.onCall = (event) => this.start(event.detail)
    window.addEventListener("mobayilo:call", this.onCall)
    // Pages leave room for the bar while it shows (main's bottom padding).
    this.resized = new ResizeObserver(() => {
      document.documentElement.style.setProperty("--in-call", `${this.element.hidden ? 0 : this.element.offsetHeight}px`)
    })
    this.resized.observe(this.element)
  }

  disconnect() {
    window.removeEventListener("mobayilo:call", this.onCall)
    this.resized?.disconnect()
  }

  async start(call) {
    if (this.call?.active) return // one call at a time; the server enforces it too
    try {
      const { InCall } = await loadDevices()
      this.call ||= new InCall(this, { reapply, visit })
    } catch {
      // No device to connect with: the server hears the call is over, so
      // its slot frees at once.
      reportHangUp(call.call_id)
      return
    }
    this.call.start(call)
  }

  mute() { this.call?.mute() }
  toggleKeypad() { this.call?.toggleKeypad() }
  digit(event) { this.call?.digit(event) }
  hangUp() { this.call?.hangUp() }
  output() { this.call?.output() }
  close() { this.call?.close() }
  again() { this.call?.again() }
  score(event) { this.call?.score(event) }
  issue(event) { this.call?.issue(event) }
  sendRating() { this.call?.sendRating() }
  oneTap() { this.call?.oneTap() }
}
