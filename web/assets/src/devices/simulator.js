import { reportHangUp } from "./hangup.js"

// The simulator device stands in for the Twilio Voice SDK in development:
// the server's carrier simulator plays Twilio (signed webhooks, in real
// time), so every server path is the real one. It connects with the call's
// access token, as the SDK would (the simulator takes the caller from it).
// Status comes back over the live stream like a real call's.
export class SimulatorDevice {
  constructor(options = {}) {
    this.fetch = options.fetch || ((...args) => globalThis.fetch(...args))
    this.reported = false
  }

  async connect(callId, token) {
    this.callId = callId
    const response = await this.fetch("/dev/carrier/connect", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ call_id: callId, token, talk_seconds: 600 }),
    })
    if (!response.ok) {
      this.report()
      throw new Error(`connect: ${response.status}`)
    }
  }

  mute(on) {
    this.muted = on
  }

  sendDigits(digits) {
    this.sent = (this.sent || "") + digits
  }

  async disconnect(callId = this.callId) {
    try {
      await this.fetch("/dev/carrier/hangup", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ call_id: callId }),
      })
    } finally {
      this.report(callId)
    }
  }

  // postFeedback: the simulator has no Twilio Insights to tell; the rating
  // is stored by POST /calls/{id}/rating as with the real SDK.
  async postFeedback() {}

  // report tells the server once that the browser hung up.
  report(callId = this.callId) {
    if (this.reported) return
    this.reported = true
    reportHangUp(callId, this.fetch)
  }
}
