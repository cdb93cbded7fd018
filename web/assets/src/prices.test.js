// The dialer's pricing as it types, against a price list of the shape
// web/rates_prices.go serves. Run with `make test-js`.
import { test } from "node:test"
import assert from "node:assert/strict"

import { parseList, lookup, quoteOf, formatMicros, formatCents, balanceMinutes, minimumCents, minutesText, capText, lowBalanceText } from "./prices.js"

const list = parseList({
  version: "v1",
  blocked: ["1900", "449"],
  main: { 1: "US", 44: "GB" },
  countries: [
    ["AF", "93"],
    ["CA", "1", "416|204", 10, 10, 10000, 10000, 0, 0],
    ["GB", "44", "", 7, 10, 20000, 45000, 0, 0],
    ["IM", "44", "74576|(?:16|7[56])24"],
    ["IN", "91", "", 8, 10, 20000, 20000, 0, 0],
    ["JM", "1", "658|876", 10, 10, 90000, 90000, 0, 0],
    ["NG", "234", "", 8, 10, 140000, 140000, 0, 0],
    ["US", "1", "", 10, 10, 10000, 10000, 0, 0],
    ["ZW", "263", "", 5, 10, 150000, 150000, 5000, 5000],
  ],
})

test("the country of a number, as its digits arrive", () => {
  const at = (input, home = "NG") => {
    const r = lookup(list, input, home)
    return r.state === "country" ? r.country.code : r.state
  }
  assert.equal(at(""), "empty")
  assert.equal(at("+"), "partial")
  assert.equal(at("+2"), "partial")
  assert.equal(at("+23"), "partial")
  assert.equal(at("+234"), "NG")
  assert.equal(at("+234 803"), "NG")
  assert.equal(at("00234803"), "NG")
  assert.equal(at("0803 123"), "NG") // national, home Nigeria
  assert.equal(at("12345"), "NG") // national too: a number not finished, not an emergency
  assert.equal(at("+1"), "partial") // +1 is two dozen countries
  assert.equal(at("+1 87"), "partial")
  assert.equal(at("+1 876"), "JM")
  assert.equal(at("+1 416 555"), "CA")
  assert.equal(at("+1 212"), "US")
  assert.equal(at("+44 20"), "partial")
  assert.equal(at("+44 207"), "GB")
  assert.equal(at("+44 7624 123"), "IM")
  assert.equal(at("+93 70"), "AF")
  assert.equal(at("+999 123"), "invalid")
  assert.equal(at("+234x"), "invalid")
})

test("complete and full numbers, and blocked ranges", () => {
  assert.equal(lookup(list, "+234 803 123 45", "NG").complete, true) // 8 national digits: worth asking
  assert.equal(lookup(list, "+234 803 12", "NG").complete, false)
  assert.equal(lookup(list, "+234 803 123 4567", "NG").full, true)
  assert.equal(lookup(list, "12345", "NG").complete, false)
  assert.equal(lookup(list, "+1 900 555 0199", "NG").blocked, true)
  assert.equal(lookup(list, "+1 212 555 0199", "NG").blocked, false)
})

test("the price line before the server confirms", () => {
  const q = (input, balance = 500) => quoteOf(lookup(list, input, "NG"), balance, 7200)
  // $5 at $0.02/min buys 250 minutes; the 120-minute cap is said apart.
  assert.deepEqual(q("+91 98"), { place: "India", price: "$0.02/min · your balance buys 250 min", callable: true, note: "A call lasts at most 120 min." })
  assert.deepEqual(q("+234 803"), { place: "Nigeria", price: "$0.14/min · your balance buys 35 min", callable: true, note: "" })
  assert.deepEqual(q("+234 803", 10), { place: "Nigeria", price: "$0.14/min · add credit to call", callable: false })
  assert.equal(q("+44 207").price, "from $0.02/min")
  assert.equal(q("+44 207").callable, null) // which rate: only the server knows
  assert.equal(q("+93 70").place, "We don't call Afghanistan yet.")
  assert.equal(q("+93 70").callable, false)
  assert.equal(q("+1 900 5").callable, false)
  assert.deepEqual(q("+2"), { place: "", price: "", callable: null })
})

test("money as internal/rating writes it", () => {
  assert.equal(formatMicros(20000), "$0.02")
  assert.equal(formatMicros(135000), "$0.135")
  assert.equal(formatMicros(1234567), "$1.2346")
  assert.equal(formatMicros(1), "$0.0001")
  assert.equal(formatCents(500), "$5.00")
  assert.equal(formatCents(-5), "-$0.05")
  assert.equal(balanceMinutes(500, 20000), 250)
  assert.equal(balanceMinutes(500, 140000), 35)
  assert.equal(balanceMinutes(500, 150000, 5000), 33) // the fee comes first
  assert.equal(balanceMinutes(13, 140000), 0)
  assert.equal(balanceMinutes(-100, 20000), 0)
  assert.equal(minimumCents(140000), 14)
  assert.equal(minimumCents(135001), 14)
  assert.equal(minutesText(250), "your balance buys 250 min")
  assert.equal(capText(35, 7200), "")
  assert.equal(capText(250, 7200), "A call lasts at most 120 min.")
  assert.equal(capText(250, 0), "")
})

test("the low-balance word before dialling says the whole minutes covered and the number", () => {
  assert.equal(lowBalanceText(180, "+234 803 123 4567"), "Your balance covers 3 min to +234 803 123 4567.")
  assert.equal(lowBalanceText(60, "+44 20 7946 0000"), "Your balance covers 1 min to +44 20 7946 0000.")
  assert.equal(lowBalanceText(299, "+1 415 555 0100"), "Your balance covers 4 min to +1 415 555 0100.")
})
