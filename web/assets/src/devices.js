// What a call needs beyond the dialer, a bundle of its own (dist/devices.js):
// the device adapters and the in-call bar's behaviour, loaded before a
// call is asked for, prefetched once the dialer shows a number that can be
// called (devices/bundles.js).
export { SimulatorDevice } from "./devices/simulator.js"
export { TwilioDevice } from "./devices/twilio.js"
export { InCall } from "./devices/in_call.js"
