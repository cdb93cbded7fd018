// The simulator device stands in for the Twilio Voice SDK in development:
// the server's carrier simulator plays Twilio (signed webhooks, in real
// time), so every server path is the real one. Status comes back over the
// live stream like a real call's.
export class SimulatorDevice {
  async connect(callId) {
    const response = await fetch("/dev/carrier/connect", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ call_id: callId, talk_seconds: 600 }),
    })
    if (!response.ok) throw new Error(`connect: ${response.status}`)
  }

  mute(on) {
    this.muted = on
  }

  sendDigits(digits) {
    this.sent = (this.sent || "") + digits
  }

  async disconnect(callId) {
    await fetch("/dev/carrier/hangup", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ call_id: callId }),
    })
  }
}
