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
