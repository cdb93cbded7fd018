import { lang } from "../i18n.js"
import { reportHangUp } from "./hangup.js"
import { loadVoiceSDK } from "./bundles.js"

// How the Voice SDK 2.x reports the end of an outgoing call, and what we
// do with each (see @twilio/voice-sdk lib/twilio/call.ts and device.ts):
// - Call "disconnect": the call is over (either side hung up). A fatal
//   error also ends in "disconnect", emitted just before or just after its
//   "error" (a gateway hang-up with an error: error then disconnect; a media
//   failure: disconnect then error), so the end is settled a moment later,
//   once, with the error's reason when there was one.
// - Call "error" with no disconnect (DTMF or message failures): the call
//   goes on; it is a warning, never the end.
// - Call "cancel" and "reject" replace "disconnect" (the SDK then emits no
//   disconnect): the call is over.
// - Call "reconnecting"/"reconnected": media or signalling is recovering;
//   the call is not over.
// - Device "error": token and signalling errors arrive here, not on the
//   Call. Before the call is up it means the call cannot be placed; during
//   a call it is a warning (an active call does not need the token).
// - Device "tokenWillExpire": our token lives only as long as the call's
//   authorization and names that one call, so it is never refreshed: a
//   call that has not connected by then will not, and one in progress
//   carries on without it.
// Whichever way it ends, "ended" runs exactly once and the server is told
// once (reportHangUp).
const ACTIVE = ["connecting", "ringing", "open", "reconnecting", "pending"]

export class TwilioDevice {
  // events: { warning(text), cleared(), accepted(), reconnecting(), reconnected(), ended(reason) }
  // options: { sdk: () => Promise<{Device}>, fetch } (tests inject fakes)
  constructor(events, options = {}) {
    this.events = events
    this.sdk = options.sdk || loadVoiceSDK
    this.fetch = options.fetch
    this.ended = false
    this.settling = null
  }

  async connect(callId, token) {
    this.callId = callId
    try {
      await this.open(token)
    } catch (err) {
      // The caller shows this failure (connect rejects); the server still
      // hears that the call is over, so its slot frees at once.
      this.finish(undefined, { quiet: true })
      throw err
    }
  }

  async open(token) {
    const callId = this.callId
    const { Device } = await this.sdk()
    this.device = new Device(token, { codecPreferences: ["opus", "pcmu"], closeProtection: true })
    this.device.on("error", (error) => this.onDeviceError(error))
    this.device.on("tokenWillExpire", () => {
      this.tokenExpiring = true
      console.info(`call ${callId}: the access token is about to expire; not refreshed (it is bound to this call's authorization)`)
    })
    const call = await this.device.connect({ params: { CallId: callId, Lang: lang() } })
    this.call = call
    call.on("accept", () => this.events.accepted?.())
    call.on("warning", (name) => this.events.warning(warningText(name)))
    call.on("warning-cleared", () => this.events.cleared())
    call.on("reconnecting", () => this.events.reconnecting())
    call.on("reconnected", () => this.events.reconnected())
    call.on("disconnect", () => this.settle())
    call.on("cancel", () => this.finish("Canceled"))
    call.on("reject", () => this.finish("Rejected"))
    call.on("error", (error) => this.onCallError(error))
  }

  onCallError(error) {
    if (this.ended) return
    this.error = this.error || errorText(error)
    // Fatal errors close the call (and bring a disconnect); others do not.
    setTimeout(() => {
      if (this.ended) return
      if (this.settling || !this.callActive()) {
        this.finish(this.error)
      } else {
        this.events.warning(errorText(error))
        this.error = null
      }
    }, 0)
  }

  onDeviceError(error) {
    if (this.ended) return
    if (this.call && this.callActive()) {
      this.events.warning(errorText(error))
      return
    }
    this.error = this.error || errorText(error)
    if (!this.call) {
      // Before the call exists (a bad or expired token): connect() fails
      // too; end here so the reason is the SDK's.
      this.finish(this.error)
      return
    }
    this.settle()
  }

  callActive() {
    const status = typeof this.call?.status === "function" ? this.call.status() : "open"
    return ACTIVE.includes(status)
  }

  // settle ends the call a moment after a disconnect, so that an error
  // emitted alongside it gives the reason.
  settle() {
    if (this.ended || this.settling) return
    this.settling = setTimeout(() => this.finish(this.error), 0)
  }

  finish(reason, { quiet = false } = {}) {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.settling)
    try {
      this.device?.destroy()
    } catch (err) {
      console.warn("destroy the Voice SDK device", err)
    }
    reportHangUp(this.callId, this.fetch)
    if (!quiet) this.events.ended(reason || undefined)
  }

  // outputs lists the audio outputs the browser lets us choose, if any.
  outputs() {
    const audio = this.device?.audio
    if (!audio?.isOutputSelectionSupported) return []
    return Array.from(audio.availableOutputDevices.values()).map((d) => ({ id: d.deviceId, label: d.label || "Speaker" }))
  }

  setOutput(id) {
    return this.device?.audio?.speakerDevices.set(id)
  }

  mute(on) {
    this.call?.mute(on)
  }

  sendDigits(digits) {
    this.call?.sendDigits(digits)
  }

  disconnect() {
    if (this.call) {
      this.call.disconnect()
    } else {
      this.finish()
    }
  }

  // postFeedback sends the caller's rating to Twilio Insights with the
  // SDK's Call.postFeedback(score, issue), which works after the call ended
  // (the call keeps its own event publisher when the device is destroyed).
  // Our rating is stored by POST /calls/{id}/rating first; this is a copy
  // for Twilio, so a failure is only logged.
  async postFeedback(score, issues) {
    if (typeof this.call?.postFeedback !== "function") return
    const { score: s, issue } = feedbackFor(score, issues)
    try {
      await this.call.postFeedback(s, issue)
    } catch (err) {
      console.warn(`call ${this.callId}: Twilio feedback`, err)
    }
  }
}

// The Voice SDK takes one issue per call (Call.FeedbackIssue: audio-latency,
// choppy-audio, dropped-call, echo, noisy-call, one-way-audio); ours are a
// set (web/ratings.go's ratingIssues), so the worst one ticked goes, in
// this order.
const FEEDBACK_ISSUES = [
  ["dropped", "dropped-call"],
  ["could_not_hear", "one-way-audio"],
  ["choppy", "choppy-audio"],
  ["echo", "echo"],
]

// feedbackFor maps our rating to postFeedback's arguments: the score as
// the SDK's FeedbackScore (an integer 1-5), the issue or undefined.
export function feedbackFor(score, issues = []) {
  const n = Number(score)
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new RangeError(`feedback score ${score}: not 1-5`)
  const found = FEEDBACK_ISSUES.find(([ours]) => issues.includes(ours))
  return { score: n, issue: found?.[1] }
}

// errorText is what the person reads for a Voice SDK error (a TwilioError
// with a code; see Twilio's error dictionary).
export function errorText(error) {
  const code = error?.code
  switch (code) {
    case 20101:
    case 20104:
    case 31204:
    case 31205:
    case 31206:
    case 31207:
      return "The call's authorization ran out. Try again."
    case 31401:
    case 31402:
    case 31208:
      return "Mobayilo could not use your microphone."
    case 31005:
    case 31009:
    case 53000:
    case 53405:
      return "The connection failed"
    case 31480:
    case 31486:
      return "Busy"
  }
  return "The connection failed"
}

function warningText(name) {
  if (name.includes("packet") || name.includes("jitter") || name.includes("rtt") || name.includes("mos")) {
    return "Poor connection: the other side may hear you badly."
  }
  if (name.includes("audio")) return "No audio from your microphone."
  return "Connection trouble."
}
