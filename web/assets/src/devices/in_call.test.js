// The in-call bar's time left as balance changes move the call's limit
// (data-cut-seconds on the live status): the last minute's warning offers
// Top up; a top-up that extends the call (issue 21) gives the new time
// left and takes the warning away; a money loss cuts it and says why.
// Run: node --test src/devices/
import { test } from "node:test"
import assert from "node:assert/strict"

import { InCall } from "./in_call.js"

function target() {
  const classes = new Set(["hidden"])
  return {
    textContent: "",
    hidden: true,
    dataset: {},
    classList: { add: (c) => classes.add(c), remove: (c) => classes.delete(c), contains: (c) => classes.has(c) },
  }
}

// bar builds an InCall on fake targets, answered just now and allowed
// maxSeconds; status(data) sets the live status element the bar reads.
function bar(maxSeconds) {
  const names = ["status", "timer", "left", "warning", "topUp"]
  class Bar {
    static targets = names
  }
  const b = new Bar()
  for (const n of names) b[`${n}Target`] = target()
  const parts = { "[data-bar-one-tap]": target(), "[data-top-up-link]": target(), "[data-top-up-note]": target() }
  b.topUpTarget.querySelector = (sel) => parts[sel]
  let el = null
  b.statusTarget.querySelector = () => el
  b.element = { dataset: {} }
  const call = new InCall(b, {})
  Object.assign(call, { active: true, maxSeconds, initialMax: maxSeconds, cut: false, low: false, answeredAt: Date.now() })
  return {
    call,
    t: b,
    status(dataset) {
      el = { dataset: { status: "in_progress", ...dataset }, textContent: "In call" }
      call.onStatus()
    },
  }
}

test("the last minute warns once with Top up; a top-up's extension gives the new time left and clears it", () => {
  const { call, t, status } = bar(60)
  call.updateTimer()
  assert.equal(t.warningTarget.classList.contains("hidden"), false)
  assert.match(t.warningTarget.textContent, /Less than a minute left.*Top up/)
  assert.equal(t.topUpTarget.hidden, false)

  status({ cutSeconds: "1320", cutNotice: "During this call, a top-up landed: your balance now pays for 22 min in all." })
  assert.equal(call.maxSeconds, 1320)
  assert.match(t.leftTarget.textContent, /^2[12]:\d\d left$/)
  assert.equal(t.warningTarget.classList.contains("hidden"), true)
  assert.equal(t.topUpTarget.hidden, true)
  call.updateTimer()
  assert.equal(t.warningTarget.classList.contains("hidden"), true, "no last-minute warning 22 min before the end")
})

test("a money loss cuts the call below what was authorized, says why and offers Top up; a credit lifts it", () => {
  const { call, t, status } = bar(600)
  status({ cutSeconds: "120", cutNotice: "During this call, a top-up was refunded: your balance now pays for 2 min in all, so the call ends then." })
  assert.equal(call.maxSeconds, 120)
  assert.equal(call.cut, true)
  assert.match(t.warningTarget.textContent, /refunded/)
  assert.equal(t.topUpTarget.hidden, false)

  status({}) // the cut cleared: what was authorized stands again
  assert.equal(call.maxSeconds, 600)
  assert.equal(call.cut, false)
  assert.equal(t.warningTarget.classList.contains("hidden"), true)
  assert.equal(t.topUpTarget.hidden, true)
})
