import { Controller } from "@hotwired/stimulus"
import { SimulatorDevice } from "../devices/simulator.js"
import { TwilioDevice } from "../devices/twilio.js"

const FINAL = ["Completed", "Busy", "No answer", "Failed", "Canceled", "Refused"]

// The in-call bar. It starts when the dialer has an authorized call
// (a "mobayilo:call" event), connects through a device adapter, and follows
// the call's status as the server pushes it (the status element is a
// target of the live Turbo Stream: data-call-status="<call id>"): ringing,
// in call (the timer and the time left start), ended. Mute, digits and
// hang up go to the device. Nothing is charged for a call that never
// connects: that is the server's rule, the bar only shows it.
export default class extends Controller {
  static targets = ["number", "status", "timer", "left", "warning", "mute", "keypad", "keypadToggle", "digits", "hangUp", "output"]
  static values = { device: String }

  connect() {
    this.onCall = (event) => this.start(event.detail)
    window.addEventListener("mobayilo:call", this.onCall)
  }

  disconnect() {
    window.removeEventListener("mobayilo:call", this.onCall)
  }

  async start({ call_id, token, max_seconds, number }) {
    if (this.active) return // one call at a time; the server enforces it too
    this.active = true
    clearInterval(this.tick)
    clearTimeout(this.endTimer)
    this.tick = null
    this.callId = call_id
    this.maxSeconds = max_seconds
    this.answeredAt = null
    this.muted = false
    this.element.hidden = false
    this.numberTarget.textContent = number
    this.statusTarget.dataset.callStatus = call_id
    this.statusTarget.textContent = "Connecting"
    this.leftTarget.textContent = `up to ${Math.floor(max_seconds / 60)} min`
    this.warningTarget.classList.add("hidden")
    this.digitsTarget.textContent = ""
    this.hangUpTarget.disabled = false
    this.observer?.disconnect()
    this.observer = new MutationObserver(() => this.onStatus(this.statusTarget.textContent.trim()))
    this.observer.observe(this.statusTarget, { childList: true, characterData: true, subtree: true })
    this.device = this.deviceValue === "simulator" ? new SimulatorDevice() : new TwilioDevice({
      warning: (text) => this.warn(text),
      cleared: () => this.warningTarget.classList.add("hidden"),
      reconnecting: () => this.warn("Connection lost. Reconnecting…"),
      reconnected: () => this.warningTarget.classList.add("hidden"),
      ended: (reason) => this.end(reason || "Ended"),
    })
    try {
      await this.device.connect(call_id, token)
      this.showOutputs()
    } catch {
      this.warn("The connection dropped before the call started. Nothing was charged. Try again in a few minutes.")
      this.end("Connection lost", { stay: true })
    }
  }

  warn(text) {
    this.warningTarget.textContent = text
    this.warningTarget.classList.remove("hidden")
  }

  // Speaker or earpiece, where the browser lets a page choose.
  showOutputs() {
    const outputs = this.device.outputs?.() || []
    this.outputTarget.hidden = outputs.length < 2
    this.outputTarget.replaceChildren(...outputs.map((o) => new Option(o.label, o.id)))
  }

  output() {
    this.device.setOutput?.(this.outputTarget.value)
  }

  onStatus(label) {
    if (label === "In call" && !this.answeredAt) {
      this.answeredAt = Date.now()
      this.tick = setInterval(() => this.updateTimer(), 1000)
      this.updateTimer()
    }
    if (FINAL.includes(label)) this.end(label)
  }

  updateTimer() {
    const elapsed = Math.floor((Date.now() - this.answeredAt) / 1000)
    const left = Math.max(this.maxSeconds - elapsed, 0)
    this.timerTarget.textContent = clock(elapsed)
    this.leftTarget.textContent = `${clock(left)} left`
    if (left <= 60) {
      this.warningTarget.textContent = "Less than a minute left: your balance runs out."
      this.warningTarget.classList.remove("hidden")
    }
  }

  mute() {
    this.muted = !this.muted
    this.device?.mute(this.muted)
    this.muteTarget.setAttribute("aria-pressed", String(this.muted))
    this.muteTarget.textContent = this.muted ? "Unmute" : "Mute"
  }

  toggleKeypad() {
    this.keypadTarget.hidden = !this.keypadTarget.hidden
    this.keypadToggleTarget.setAttribute("aria-expanded", String(!this.keypadTarget.hidden))
  }

  digit(event) {
    const key = event.currentTarget.dataset.key
    this.device?.sendDigits(key)
    this.digitsTarget.textContent += key
  }

  hangUp() {
    this.hangUpTarget.disabled = true
    this.statusTarget.textContent = "Hanging up"
    this.device?.disconnect(this.callId)
  }

  // end shows why the call ended, then the call's page (its cost appears
  // there once billed); with stay, the bar remains until dismissed.
  end(label, { stay = false } = {}) {
    if (!this.active) return
    this.active = false
    clearInterval(this.tick)
    this.tick = null
    this.observer?.disconnect()
    this.hangUpTarget.disabled = true
    this.statusTarget.textContent = label
    const callId = this.callId
    this.endTimer = setTimeout(() => {
      this.element.hidden = true
      if (!stay && callId) window.Turbo.visit(`/calls/${callId}`)
    }, stay ? 6000 : 1500)
  }
}

function clock(seconds) {
  const m = Math.floor(seconds / 60)
  const s = String(seconds % 60).padStart(2, "0")
  return `${m}:${s}`
}
