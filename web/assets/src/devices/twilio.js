// The real device: Twilio's Voice SDK, loaded only when the person is about
// to call (it is a separate chunk, not part of the dialer's first load).
export async function loadVoiceSDK() {
  return import("@twilio/voice-sdk")
}

// askMicrophone asks for the microphone in context, before a call is
// authorized, and says plainly what to do when it is refused.
export async function askMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser cannot use a microphone for calls. Try Chrome, Firefox or Safari.")
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true })
    stream.getTracks().forEach((t) => t.stop())
  } catch {
    throw new Error("Mobayilo needs your microphone to call. Allow it in your browser's site settings, then try again.")
  }
}

export class TwilioDevice {
  // events: { warning(text), cleared(), reconnecting(), reconnected(), ended(reason) }
  constructor(events) {
    this.events = events
  }

  async connect(callId, token) {
    const { Device } = await loadVoiceSDK()
    this.device = new Device(token, { codecPreferences: ["opus", "pcmu"], closeProtection: true })
    this.call = await this.device.connect({ params: { CallId: callId } })
    this.call.on("warning", (name) => this.events.warning(warningText(name)))
    this.call.on("warning-cleared", () => this.events.cleared())
    this.call.on("reconnecting", () => this.events.reconnecting())
    this.call.on("reconnected", () => this.events.reconnected())
    this.call.on("disconnect", () => {
      this.device.destroy()
      this.events.ended()
    })
    this.call.on("error", () => {
      this.device.destroy()
      this.events.ended("The connection failed")
    })
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
    this.call?.disconnect()
  }
}

function warningText(name) {
  if (name.includes("packet") || name.includes("jitter") || name.includes("rtt") || name.includes("mos")) {
    return "Poor connection: the other side may hear you badly."
  }
  if (name.includes("audio")) return "No audio from your microphone."
  return "Connection trouble."
}
