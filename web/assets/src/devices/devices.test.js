// Unit tests of the device adapters against a fake Voice SDK that emits the
// event sequences the real SDK 2.x emits (see the comment in twilio.js and
// @twilio/voice-sdk lib/twilio/call.ts). Run: node --test src/devices/
import { test } from "node:test"
import assert from "node:assert/strict"

import { TwilioDevice } from "./twilio.js"
import { SimulatorDevice } from "./simulator.js"

class Emitter {
  constructor() {
    this.handlers = {}
  }
  on(name, fn) {
    ;(this.handlers[name] ||= []).push(fn)
    return this
  }
  emit(name, ...args) {
    for (const fn of this.handlers[name] || []) fn(...args)
  }
}

class FakeCall extends Emitter {
  constructor() {
    super()
    this.state = "connecting"
  }
  status() {
    return this.state
  }
  // disconnect is the SDK's local hang-up: closed, then "disconnect".
  disconnect() {
    if (this.state === "closed") return
    this.state = "closed"
    this.emit("disconnect", this)
  }
  mute() {}
  sendDigits() {}
}

// fakeSDK returns the SDK module the adapter loads, and what it made.
function fakeSDK({ failConnect } = {}) {
  const made = { devices: [] }
  class Device extends Emitter {
    constructor(token, options) {
      super()
      this.token = token
      this.options = options
      this.destroyed = 0
      made.devices.push(this)
    }
    async connect({ params }) {
      this.params = params
      if (failConnect) {
        this.emit("error", failConnect)
        throw Object.assign(new Error(failConnect.message), failConnect)
      }
      this.call = new FakeCall()
      made.call = this.call
      return this.call
    }
    destroy() {
      this.destroyed++
    }
  }
  return { sdk: async () => ({ Device }), made }
}

function recorder() {
  const r = { ended: [], warnings: [], reconnecting: 0, reconnected: 0, accepted: 0, posts: [] }
  r.events = {
    warning: (text) => r.warnings.push(text),
    cleared: () => {},
    accepted: () => r.accepted++,
    reconnecting: () => r.reconnecting++,
    reconnected: () => r.reconnected++,
    ended: (reason) => r.ended.push(reason),
  }
  r.fetch = async (url, init) => {
    r.posts.push({ url, init })
    return { ok: true, status: 204 }
  }
  return r
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))
const CALL = "2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11"

async function connected(opts) {
  const r = recorder()
  const { sdk, made } = fakeSDK(opts)
  const device = new TwilioDevice(r.events, { sdk, fetch: r.fetch })
  await device.connect(CALL, "token-1")
  made.call.state = "open"
  made.call.emit("accept", made.call)
  return { r, made, device }
}

function hangupPosts(r) {
  return r.posts.filter((p) => p.url === `/calls/${CALL}/hangup`)
}

function assertReported(r) {
  const posts = hangupPosts(r)
  assert.equal(posts.length, 1, "the server is told once")
  assert.equal(posts[0].init.method, "POST")
  assert.equal(posts[0].init.headers["Content-Type"], "application/json")
  assert.equal(posts[0].init.credentials, "same-origin")
}

test("connects with the call id as a connect param and the token", async () => {
  const { r, made } = await connected()
  assert.deepEqual(made.devices[0].params, { CallId: CALL, Lang: "en" })
  assert.equal(made.devices[0].token, "token-1")
  assert.equal(r.accepted, 1)
  assert.deepEqual(r.ended, [])
  assert.equal(r.posts.length, 0)
})

test("error then disconnect ends once, with the error's reason", async () => {
  const { r, made } = await connected()
  // A gateway hang-up with an error: "error", then closed and "disconnect".
  made.call.emit("error", { code: 31005, message: "Connection error" })
  made.call.state = "closed"
  made.call.emit("disconnect", made.call)
  await flush()
  await flush()
  assert.deepEqual(r.ended, ["The connection failed"])
  assert.equal(made.devices[0].destroyed, 1)
  assertReported(r)
})

test("disconnect then error (a media failure) ends once, with the error's reason", async () => {
  const { r, made } = await connected()
  made.call.state = "closed"
  made.call.emit("disconnect", made.call)
  made.call.emit("error", { code: 53405, message: "Media connection failed" })
  await flush()
  await flush()
  assert.deepEqual(r.ended, ["The connection failed"])
  assertReported(r)
})

test("a plain disconnect ends once with no error reason", async () => {
  const { r, made } = await connected()
  made.call.state = "closed"
  made.call.emit("disconnect", made.call)
  made.call.emit("disconnect", made.call)
  await flush()
  assert.deepEqual(r.ended, [undefined])
  assertReported(r)
})

test("the person's hang-up ends once and tells the server once", async () => {
  const { r, device } = await connected()
  device.disconnect()
  device.disconnect()
  await flush()
  assert.deepEqual(r.ended, [undefined])
  assertReported(r)
})

test("cancel ends once, with no disconnect after it", async () => {
  const { r, made } = await connected()
  made.call.state = "closed"
  made.call.emit("cancel")
  await flush()
  assert.deepEqual(r.ended, ["Canceled"])
  assertReported(r)
})

test("reject ends once", async () => {
  const { r, made } = await connected()
  made.call.state = "closed"
  made.call.emit("reject")
  await flush()
  assert.deepEqual(r.ended, ["Rejected"])
  assertReported(r)
})

test("reconnecting then reconnected does not end the call", async () => {
  const { r, made } = await connected()
  made.call.state = "reconnecting"
  made.call.emit("reconnecting", { code: 53001, message: "Signaling connection disconnected" })
  made.call.state = "open"
  made.call.emit("reconnected")
  await flush()
  assert.equal(r.reconnecting, 1)
  assert.equal(r.reconnected, 1)
  assert.deepEqual(r.ended, [])
  assert.equal(r.posts.length, 0)
  made.call.disconnect()
  await flush()
  assert.deepEqual(r.ended, [undefined])
  assertReported(r)
})

test("an error that does not close the call is a warning, not the end", async () => {
  const { r, made } = await connected()
  // DTMF over a closed signalling channel: "error", the call goes on.
  made.call.emit("error", { code: 31005, message: "Could not send DTMF" })
  await flush()
  await flush()
  assert.deepEqual(r.ended, [])
  assert.equal(r.warnings.length, 1)
  made.call.disconnect()
  await flush()
  assert.deepEqual(r.ended, [undefined], "the earlier warning is not the reason")
  assertReported(r)
})

test("a Device error before the call exists ends once, and connect fails", async () => {
  const r = recorder()
  const { sdk } = fakeSDK({ failConnect: { code: 20104, message: "Access token expired" } })
  const device = new TwilioDevice(r.events, { sdk, fetch: r.fetch })
  await assert.rejects(device.connect(CALL, "expired-token"))
  await flush()
  assert.deepEqual(r.ended, ["The call's authorization ran out. Try again."])
  assertReported(r)
})

test("a Device error or tokenWillExpire during a call does not end it", async () => {
  const { r, made } = await connected()
  made.devices[0].emit("tokenWillExpire", made.devices[0])
  made.devices[0].emit("error", { code: 20104, message: "Access token expired" }, made.call)
  await flush()
  assert.deepEqual(r.ended, [])
  assert.equal(r.warnings.length, 1)
  assert.equal(r.posts.length, 0)
})

test("the simulator's hang-up tells the server once", async () => {
  const posts = []
  const fetch = async (url, init) => {
    posts.push({ url, init })
    return { ok: true, status: url.endsWith("/connect") ? 202 : 204 }
  }
  const device = new SimulatorDevice({ fetch })
  await device.connect(CALL, "token-1")
  assert.equal(JSON.parse(posts[0].init.body).token, "token-1")
  await device.disconnect(CALL)
  await device.disconnect(CALL)
  await flush()
  assert.equal(posts.filter((p) => p.url === "/dev/carrier/hangup").length, 2)
  assert.equal(posts.filter((p) => p.url === `/calls/${CALL}/hangup`).length, 1)
})

test("a failed hang-up report is logged, not thrown", async () => {
  const { made } = await connected()
  const warned = []
  const original = console.warn
  console.warn = (...args) => warned.push(args)
  try {
    const r = recorder()
    const { sdk, made: m2 } = fakeSDK()
    const device = new TwilioDevice(r.events, { sdk, fetch: async () => Promise.reject(new Error("offline")) })
    await device.connect(CALL, "t")
    m2.call.disconnect()
    await flush()
    await flush()
    assert.deepEqual(r.ended, [undefined])
    assert.equal(warned.length, 1)
  } finally {
    console.warn = original
  }
  assert.ok(made.call)
})
