// One-tap top-up's requests. Run with `make test-js`.
import { test } from "node:test"
import assert from "node:assert/strict"

import { oneTapOffer, payOneTap } from "./one_tap.js"

test("the offer is the server's, or null without a saved card or a server", async () => {
  const offer = { package: 500, payment_method: "pm_1", label: "Add $5 with Visa •4242" }
  assert.deepEqual(await oneTapOffer(async () => ({ ok: true, json: async () => offer })), offer)
  assert.equal(await oneTapOffer(async () => ({ ok: true, json: async () => ({}) })), null)
  assert.equal(await oneTapOffer(async () => ({ ok: false, status: 503 })), null)
  assert.equal(await oneTapOffer(async () => { throw new TypeError("offline") }), null)
})

test("paying posts the package and card as the Credits form does, and answers the top-up's page", async () => {
  let sent
  const url = await payOneTap({ package: 500, payment_method: "pm_1" }, async (path, init) => {
    sent = { path, init }
    return { ok: true, status: 200, url: "http://127.0.0.1:8080/credits/topups/abc" }
  })
  assert.equal(url, "http://127.0.0.1:8080/credits/topups/abc")
  assert.equal(sent.path, "/credits/one-tap")
  assert.equal(sent.init.method, "POST")
  assert.equal(sent.init.body.toString(), "package=500&payment_method=pm_1")
  // Refused (422 re-renders Credits): no top-up started.
  await assert.rejects(payOneTap({ package: 500, payment_method: "pm_x" }, async () => ({ ok: false, status: 422, url: "http://x/credits/one-tap" })))
})
