import { t } from "../i18n.js"
import { SimulatorDevice } from "./simulator.js"
import { TwilioDevice } from "./twilio.js"
import { reportHangUp } from "./hangup.js"
import { oneTapOffer, payOneTap } from "../one_tap.js"

// Call statuses after which nothing more happens (workflows.IsFinal).
const FINAL = new Set(["completed", "busy", "no_answer", "failed", "canceled", "refused"])

// The shortest call the bar asks to rate (web/ratings.go's minRatedSeconds;
// the server refuses shorter ones with 422 whatever the bar measured).
const MIN_RATED_SECONDS = 5

// The in-call bar's behaviour (controllers/call_controller.js is its
// Stimulus shell, which loads this with the device adapters when a call
// starts: the dialer's first load carries neither).
//
// It connects through a device adapter and follows the call as the server
// pushes it: the live stream replaces the bar's [data-call-status="<call
// id>"] element, and its data-status (the status value, never its words)
// says ringing, in call (the timer and the time left start), over. Once
// over, the bar stays on whatever page is shown with the outcome ("Busy —
// nothing charged", "3 min · $0.06", from data-outcome), Mute and Keypad
// disabled, and Call again and Details, until it is closed. Nothing is
// charged for a call that never connects: that is the server's rule, the
// bar only shows it.
export class InCall {
  // bar: the Stimulus controller (its element and targets); page: what the
  // bar needs of the app ({ reapply, visit }).
  constructor(bar, page) {
    this.page = page
    for (const name of bar.constructor.targets) {
      Object.defineProperty(this, `${name}Target`, { get: () => bar[`${name}Target`] })
    }
    this.element = bar.element
    this.deviceValue = bar.deviceValue
  }

  async start({ call_id, token, max_seconds, number, topping }) {
    if (this.active) return // one call at a time; the server enforces it too
    this.active = true
    this.element.dataset.callActive = "true"
    clearInterval(this.tick)
    this.tick = null
    this.callId = call_id
    this.number = number
    this.maxSeconds = max_seconds
    this.initialMax = max_seconds
    this.cut = false
    this.low = false
    this.answeredAt = null
    this.muted = false
    this.element.hidden = false
    this.numberTarget.textContent = number
    const status = document.createElement("span")
    status.dataset.callStatus = call_id
    status.textContent = t("call_status.authorized")
    this.statusTarget.replaceChildren(status)
    this.timerTarget.textContent = "0:00"
    this.leftTarget.textContent = t("js.up_to", { Minutes: Math.floor(max_seconds / 60) })
    this.showOutcome("")
    this.warningTarget.classList.add("hidden")
    this.resetTopUp(topping)
    this.digitsTarget.textContent = ""
    this.keypadTarget.hidden = true
    this.keypadToggleTarget.setAttribute("aria-expanded", "false")
    this.muteTarget.setAttribute("aria-pressed", "false")
    this.muteTarget.textContent = t("call.mute")
    for (const b of [this.muteTarget, this.keypadToggleTarget, this.hangUpTarget]) b.disabled = false
    this.hangUpTarget.hidden = false
    this.closeTarget.hidden = true
    this.afterTarget.hidden = true
    this.detailsTarget.href = `/calls/${call_id}`
    this.resetRating()
    this.observer?.disconnect()
    this.observer = new MutationObserver(() => this.onStatus())
    this.observer.observe(this.statusTarget, { childList: true, subtree: true, attributes: true, characterData: true })
    this.page.reapply() // a status that came before the bar named its call
    try {
      this.device = this.deviceValue === "simulator" ? new SimulatorDevice() : new TwilioDevice({
        warning: (text) => this.warn(text),
        cleared: () => this.warningTarget.classList.add("hidden"),
        reconnecting: () => this.warn(t("js.reconnecting")),
        reconnected: () => this.warningTarget.classList.add("hidden"),
        ended: () => this.end(),
      })
      await this.device.connect(call_id, token)
      this.showOutputs()
    } catch {
      // Without a device the server still hears the call is over, so its
      // slot frees at once (a device reports this itself).
      if (!this.device) reportHangUp(call_id)
      this.warn(t("js.dropped_before"))
      this.end()
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

  // onStatus reads the status the live stream put in the bar.
  onStatus() {
    const el = this.statusTarget.querySelector("[data-call-status]")
    const status = el?.dataset.status
    if (!status) return
    if (status === "in_progress" && !this.answeredAt && this.active) {
      this.answeredAt = Date.now()
      this.tick = setInterval(() => this.updateTimer(), 1000)
      this.updateTimer()
    }
    // A balance change during the call moved its limit (data-cut-seconds,
    // the talk time in all): a money loss (a refund, a dispute, a staff
    // debit) cut it below what was authorized, and the server ends it
    // then; a top-up lifted the cut, or extended the call past it (issue
    // 21). No limit: what was authorized stands.
    const cut = el.dataset.cutSeconds
    const limit = cut === undefined ? this.initialMax : Number(cut)
    if (!FINAL.has(status) && limit !== this.maxSeconds) {
      this.maxSeconds = limit
      this.cut = limit < this.initialMax
      if (this.cut) {
        this.warn(el.dataset.cutNotice || "Your balance went down: the call ends early.")
      } else {
        this.low = false
        this.warningTarget.classList.add("hidden")
      }
      if (this.cut) this.showTopUp()
      else if (!this.topping) this.topUpTarget.hidden = true
      else if (limit > this.initialMax) {
        // The one-tap top-up landed and extended the call.
        this.topUpTarget.querySelector("[data-top-up-note]").textContent =
          `${this.topping.label.replace(/^Add/, "Added")}: the call can now last ${Math.floor(limit / 60)} min.`
      }
      if (this.answeredAt) this.updateTimer()
    }
    if (FINAL.has(status)) {
      this.end()
      // The charge follows the final status: the outcome then says it.
      this.showOutcome(el.dataset.outcome || el.textContent)
      this.offerRating(status)
    }
  }

  updateTimer() {
    const elapsed = Math.floor((Date.now() - this.answeredAt) / 1000)
    const left = Math.max(this.maxSeconds - elapsed, 0)
    this.timerTarget.textContent = clock(elapsed)
    this.leftTarget.textContent = t("js.left", { Time: clock(left) })
    if (left <= 60 && !this.cut && !this.low) {
      // Once: a top-up now extends the call (the live stream then brings
      // the new limit, and the warning goes).
      this.low = true
      this.warn(t("js.last_minute"))
      this.showTopUp()
    }
  }

  // The top-up line (issue 21): a link to Credits (a Turbo visit; the bar
  // stays), and with a saved card a one-tap button ("Add $5 with Visa
  // •4242"), asked once per call when the line first shows. topping: a
  // one-tap top-up the dialer started before this call.
  resetTopUp(topping) {
    const part = (name) => this.topUpTarget.querySelector(`[data-${name}]`)
    this.offer = null
    this.offerAsked = false
    this.topping = topping || null
    part("bar-one-tap").hidden = true
    part("top-up-link").href = "/credits"
    part("top-up-link").textContent = t("dial.top_up")
    part("top-up-note").textContent = t("call.top_up_note")
    this.topUpTarget.hidden = !topping
    if (topping) this.toppingUp(topping.label, topping.page)
  }

  showTopUp() {
    this.topUpTarget.hidden = false
    if (this.offerAsked || this.topping) return
    this.offerAsked = true
    oneTapOffer().then((offer) => {
      if (!offer || !this.active || this.topping) return
      this.offer = offer
      const button = this.topUpTarget.querySelector("[data-bar-one-tap]")
      button.textContent = offer.label
      button.disabled = false
      button.hidden = false
      this.topUpTarget.querySelector("[data-top-up-link]").textContent = t("js.other_amounts")
    })
  }

  async oneTap() {
    const offer = this.offer
    const button = this.topUpTarget.querySelector("[data-bar-one-tap]")
    if (!offer || button.disabled) return
    button.disabled = true
    try {
      this.toppingUp(offer.label, await payOneTap(offer))
    } catch {
      button.disabled = false
      this.topUpTarget.querySelector("[data-top-up-note]").textContent = t("js.card_failed")
    }
  }

  // toppingUp says a one-tap top-up is on its way, with its page (where a
  // bank's check or a decline shows).
  toppingUp(label, page) {
    this.topping = { label, page }
    this.topUpTarget.hidden = false
    this.topUpTarget.querySelector("[data-bar-one-tap]").hidden = true
    const link = this.topUpTarget.querySelector("[data-top-up-link]")
    link.href = page
    link.textContent = t("js.see_topup")
    this.topUpTarget.querySelector("[data-top-up-note]").textContent = `${label.replace(/^Add/, "Adding")}: the call gets longer when it lands.`
  }

  mute() {
    this.muted = !this.muted
    this.device?.mute(this.muted)
    this.muteTarget.setAttribute("aria-pressed", String(this.muted))
    this.muteTarget.textContent = this.muted ? t("js.unmute") : t("call.mute")
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
    this.showOutcome(t("js.hanging_up"))
    this.device?.disconnect(this.callId)
  }

  // end: the call is over here (the device or the server says so). The bar
  // stays with the outcome; the server's final status and charge fill it in.
  end() {
    if (!this.active) return
    this.active = false
    this.endedAt = Date.now()
    delete this.element.dataset.callActive
    clearInterval(this.tick)
    this.tick = null
    this.warningTarget.classList.add("hidden")
    this.topUpTarget.hidden = true
    this.keypadTarget.hidden = true
    this.keypadToggleTarget.setAttribute("aria-expanded", "false")
    this.muteTarget.disabled = true
    this.keypadToggleTarget.disabled = true
    this.hangUpTarget.hidden = true
    this.closeTarget.hidden = false
    this.afterTarget.hidden = false
    if (!this.outcomeTarget.textContent || this.outcomeTarget.textContent === t("js.hanging_up")) this.showOutcome(t("js.ended"))
  }

  // How the call sounded: after a completed call of 5 s or more talked (as
  // the bar timed it), a score 1-5, optional issues and Send. The rating is
  // POST /calls/{id}/rating (a second one replaces it); then, with the real
  // SDK, a copy to Twilio Insights (the adapter's postFeedback).
  resetRating() {
    this.rating = null
    this.endedAt = null
    this.rateTarget.hidden = true
    this.rateTarget.querySelector("[data-rate-form]").hidden = false
    this.rateTarget.querySelector("[data-rate-result]").textContent = ""
    for (const b of this.rateTarget.querySelectorAll("[aria-pressed]")) b.setAttribute("aria-pressed", "false")
    this.rateTarget.querySelector("[data-rate-send]").disabled = true
  }

  offerRating(status) {
    if (status !== "completed" || this.rating || !this.answeredAt) return
    const talked = Math.floor(((this.endedAt ?? Date.now()) - this.answeredAt) / 1000)
    if (talked < MIN_RATED_SECONDS) return
    this.rating = { callId: this.callId, device: this.device, score: 0, issues: new Set() }
    this.rateTarget.hidden = false
  }

  score(event) {
    const r = this.rating
    if (!r || r.sent) return
    r.score = Number(event.currentTarget.dataset.score)
    for (const b of this.rateTarget.querySelectorAll("[data-score]")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.score) === r.score))
    }
    this.rateTarget.querySelector("[data-rate-send]").disabled = false
  }

  issue(event) {
    const r = this.rating
    if (!r || r.sent) return
    const b = event.currentTarget
    const on = !r.issues.has(b.dataset.issue)
    if (on) r.issues.add(b.dataset.issue)
    else r.issues.delete(b.dataset.issue)
    b.setAttribute("aria-pressed", String(on))
  }

  async sendRating() {
    const r = this.rating
    if (!r?.score || r.sending || r.sent) return
    r.sending = true
    const send = this.rateTarget.querySelector("[data-rate-send]")
    const result = this.rateTarget.querySelector("[data-rate-result]")
    send.disabled = true
    const rating = { score: r.score, issues: [...r.issues] }
    try {
      const response = await fetch(`/calls/${encodeURIComponent(r.callId)}/rating`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(rating),
        credentials: "same-origin",
      })
      if (response.status === 422) {
        // The server's rule (its duration, not the bar's timer) stands.
        const body = await response.json().catch(() => ({}))
        r.sent = true
        this.rateTarget.querySelector("[data-rate-form]").hidden = true
        result.textContent = body.error?.message || t("js.cannot_rate")
        return
      }
      if (!response.ok) throw new Error(`rating: ${response.status}`)
      r.sent = true
      this.rateTarget.querySelector("[data-rate-form]").hidden = true
      result.textContent = t("js.thanks")
      r.device?.postFeedback?.(rating.score, rating.issues)
    } catch (err) {
      console.warn(`rating of call ${r.callId}`, err)
      result.textContent = t("js.rating_failed")
      send.disabled = false
    } finally {
      r.sending = false
    }
  }

  showOutcome(text) {
    this.outcomeTarget.textContent = text
    this.outcomeTarget.hidden = !text
    this.clockTarget.hidden = !!text
  }

  close() {
    if (this.active) return
    this.observer?.disconnect()
    this.element.hidden = true
  }

  // again calls the same number: on the dialer at once, else there.
  again() {
    const number = this.number
    this.close()
    if (document.querySelector("[data-controller~=dialer]")) {
      window.dispatchEvent(new CustomEvent("mobayilo:redial", { detail: { number } }))
    } else {
      this.page.visit(`/call?number=${encodeURIComponent(number)}`)
    }
  }
}

function clock(seconds) {
  const m = Math.floor(seconds / 60)
  const s = String(seconds % 60).padStart(2, "0")
  return `${m}:${s}`
}
