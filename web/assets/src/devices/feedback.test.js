// The in-call bar's rating as Twilio Insights gets it: our score and issues
// mapped to the Voice SDK 2.x's Call.postFeedback(score, issue), checked
// against the SDK's own enums and its own argument validation.
import { test } from "node:test"
import assert from "node:assert/strict"
import { Call } from "@twilio/voice-sdk"

import { TwilioDevice, feedbackFor } from "./twilio.js"
import { SimulatorDevice } from "./simulator.js"

// realPostFeedback runs the SDK's postFeedback (its validation included)
// on a stand-in call whose publisher records what would go to Insights.
function realPostFeedback(score, issue) {
  const sent = []
  const stub = { _publisher: { info: (group, name, payload) => sent.push({ group, name, payload }) } }
  Call.prototype.postFeedback.call(stub, score, issue)
  return sent
}

test("every issue the bar offers maps to one of the SDK's FeedbackIssue values", () => {
  const sdkIssues = Object.values(Call.FeedbackIssue)
  for (const ours of ["echo", "choppy", "dropped", "could_not_hear"]) {
    const { issue } = feedbackFor(3, [ours])
    assert.ok(sdkIssues.includes(issue), `${ours} -> ${issue}`)
  }
  assert.equal(feedbackFor(3, ["could_not_hear"]).issue, "one-way-audio")
  assert.equal(feedbackFor(3, ["choppy"]).issue, "choppy-audio")
})

test("several issues send the worst one; none sends no issue", () => {
  assert.equal(feedbackFor(2, ["echo", "dropped"]).issue, "dropped-call")
  assert.equal(feedbackFor(2, ["echo", "choppy"]).issue, "choppy-audio")
  assert.equal(feedbackFor(5, []).issue, undefined)
})

test("the SDK's own postFeedback accepts what the mapping gives", () => {
  for (let score = 1; score <= 5; score++) {
    const sent = realPostFeedback(...Object.values(feedbackFor(score, ["echo"])))
    assert.deepEqual(sent, [{ group: "feedback", name: "received", payload: { issue_name: "echo", quality_score: score } }])
  }
  // The SDK refuses our own names, so the mapping is what makes them pass.
  assert.throws(() => realPostFeedback(4, "could_not_hear"))
  assert.throws(() => feedbackFor(0, []), RangeError)
  assert.throws(() => feedbackFor("6", []), RangeError)
})

test("the Twilio adapter calls postFeedback on the call; the simulator does nothing", async () => {
  const device = new TwilioDevice({})
  const calls = []
  device.call = { postFeedback: async (score, issue) => calls.push([score, issue]) }
  await device.postFeedback(2, ["echo", "could_not_hear"])
  assert.deepEqual(calls, [[2, "one-way-audio"]])

  device.call = { postFeedback: async () => { throw new Error("insights down") } }
  await device.postFeedback(4, []) // logged, not thrown

  await new SimulatorDevice({ fetch: () => assert.fail("no request") }).postFeedback(4, ["echo"])
})
