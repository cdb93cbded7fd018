import { Controller } from "@hotwired/stimulus"
import { askMicrophone, loadVoiceSDK } from "../devices/twilio.js"

// The dialer: a keypad (hold 0 for +), backspace and redial fill the number;
// the price line (the rate-quote Turbo Frame, from /rates/calculate) says
// whether the number can be called, and the Call button follows it: it is
// disabled, with the reason, for an invalid, blocked or unaffordable number,
// and never posts /calls then.
export default class extends Controller {
  static targets = ["number", "form", "quote", "call", "reason"]
  static values = { longPress: { type: Number, default: 500 } }

  connect() {
    this.onQuote = () => this.readQuote()
    this.quoteTarget.addEventListener("turbo:frame-load", this.onQuote)
    this.numberTarget.addEventListener("input", () => this.pending())
  }

  disconnect() {
    this.quoteTarget.removeEventListener("turbo:frame-load", this.onQuote)
    clearTimeout(this.holdTimer)
  }

  // Keypad: a click types the key (so screen readers, switches and
  // keyboards work); holding a key with a long form (0) types that instead.
  press(event) {
    const key = event.currentTarget
    clearTimeout(this.holdTimer)
    this.longTyped = null
    if (key.dataset.long) {
      this.holdTimer = setTimeout(() => {
        this.longTyped = key
        this.insert(key.dataset.long, key.dataset.key)
      }, this.longPressValue)
    }
  }

  cancel() {
    clearTimeout(this.holdTimer)
  }

  type(event) {
    clearTimeout(this.holdTimer)
    if (this.longTyped === event.currentTarget) {
      this.longTyped = null // the click that ends a long press types nothing more
      return
    }
    this.insert(event.currentTarget.dataset.key)
  }

  backspace() {
    this.numberTarget.value = this.numberTarget.value.slice(0, -1)
    this.changed()
  }

  redial(event) {
    this.numberTarget.value = event.currentTarget.dataset.number
    this.changed()
  }

  // insert types text; a + can only start a number, so elsewhere the key's
  // own digit is typed instead.
  insert(text, fallback = "") {
    if (text === "+" && this.numberTarget.value !== "") text = fallback
    if (!text) return
    this.numberTarget.value += text
    this.changed()
  }

  changed() {
    this.numberTarget.dispatchEvent(new Event("input", { bubbles: true }))
  }

  // Until the new price arrives, the old one says nothing.
  pending() {
    this.callTarget.disabled = true
    this.reasonTarget.textContent = this.numberTarget.value ? "Checking the price…" : "Type a number to see its price."
  }

  readQuote() {
    const quote = this.quoteTarget.querySelector("[data-quote]")
    if (!quote) return
    const canCall = quote.dataset.canCall === "true"
    this.callTarget.disabled = !canCall || this.busy()
    this.reasonTarget.textContent = canCall ? "" : (quote.dataset.reason || "This number cannot be called.")
  }

  // busy: a call is being placed, or one is in progress.
  busy() {
    const bar = document.getElementById("in-call")
    return this.inFlight || (bar && !bar.hidden)
  }

  async call() {
    if (this.callTarget.disabled || this.busy()) return
    this.inFlight = true
    this.callTarget.disabled = true
    try {
      await this.place()
    } finally {
      this.inFlight = false
    }
  }

  async place() {
    if (document.getElementById("in-call")?.dataset.callDeviceValue === "twilio") {
      // Microphone and SDK first: no call is authorized that could not
      // be connected.
      this.reasonTarget.textContent = "Allow the microphone to call…"
      try {
        await askMicrophone()
        await loadVoiceSDK()
      } catch (error) {
        this.reasonTarget.textContent = error.message || "The call could not start."
        this.callTarget.disabled = false
        return
      }
    }
    this.reasonTarget.textContent = "Connecting…"
    try {
      const response = await fetch("/calls", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ phone_number: this.numberTarget.value }),
      })
      const body = await response.json()
      if (!response.ok) {
        this.reasonTarget.textContent = body.error?.message || "The call could not be placed."
        this.callTarget.disabled = false
        return
      }
      this.reasonTarget.textContent = ""
      // The in-call bar takes it from here.
      window.dispatchEvent(new CustomEvent("mobayilo:call", { detail: { ...body, number: this.numberTarget.value } }))
    } catch {
      this.reasonTarget.textContent = "No connection. Check your data or Wi-Fi and try again."
      this.callTarget.disabled = false
    }
  }
}
