// The dialer's price list (GET /rates/prices.json, web/rates_prices.go) and
// what it says about a number while it is typed: which country it is, what
// calls there cost and how many minutes the balance buys. Pure functions,
// so the node tests (prices.test.js) run them as the dialer does. The
// arithmetic is internal/rating's (cost.go): integer micro-dollars, every
// started minute, the connection fee, rounded up to a cent.

import { t, money } from "./i18n.js"

const MICROS_PER_CENT = 10000

// parseList indexes the JSON: countries by ISO code and by calling code.
// names names a country by its ISO code (the browser's English names).
export function parseList(json, names = englishName) {
  const countries = new Map()
  const byCode = new Map()
  for (const [code, dial, lead = "", min = 0, max = 0, from = 0, to = 0, feeFrom = 0, feeTo = 0] of json.countries || []) {
    const c = { code, dial, from, to, feeFrom, feeTo, lead: lead ? new RegExp(`^(?:${lead})`) : null, min, max }
    Object.defineProperty(c, "name", { get: () => names(code), enumerable: true })
    countries.set(code, c)
    if (!byCode.has(dial)) byCode.set(dial, [])
    byCode.get(dial).push(c)
  }
  return { version: json.version, countries, byCode, blocked: json.blocked || [], main: json.main || {} }
}

let regionNames
function englishName(code) {
  try {
    regionNames ||= new Intl.DisplayNames(["en"], { type: "region" })
    return regionNames.of(code) || code
  } catch {
    return code
  }
}

// lookup reads what was typed: an international number (+ or 00), or a
// national one of the home country. It answers
//   { state: "empty" | "invalid" | "partial" | "country", country, digits, national, complete, full, blocked }
// "partial": no country can be told yet (too few digits), which is not an
// error. complete: as many national digits as the country's shortest
// numbers (worth asking the server); full: as many as its longest.
export function lookup(list, input, home) {
  const cleaned = String(input || "").replace(/[\s\-.()/]/g, "")
  if (cleaned === "" || cleaned === "+") return { state: cleaned ? "partial" : "empty" }
  if (!/^\+?[0-9]+$/.test(cleaned)) return { state: "invalid" }
  let international = cleaned.startsWith("+")
  let digits = cleaned.replace(/^\+/, "")
  if (!international && cleaned.startsWith("00")) {
    international = true
    digits = cleaned.slice(2)
    if (digits === "") return { state: "partial" }
  }
  if (!international) {
    const country = list.countries.get(home)
    if (!country) return { state: "partial" }
    // A trunk prefix (0 in most plans) may lead a national number.
    const national = digits.replace(/^0/, "")
    return described(list, country, country.dial + national, national)
  }
  for (let n = 1; n <= 3 && n <= digits.length; n++) {
    const candidates = list.byCode.get(digits.slice(0, n))
    if (!candidates) continue
    const national = digits.slice(n)
    const country = pick(list, candidates, digits.slice(0, n), national)
    if (!country) return { state: "partial", digits }
    return described(list, country, digits, national)
  }
  return { state: digits.length < 3 ? "partial" : "invalid", digits }
}

// pick tells which country of a shared calling code a number is: the one
// whose leading digits it starts with, else the code's main country once
// enough digits rule the others out.
function pick(list, candidates, code, national) {
  if (candidates.length === 1) return candidates[0]
  const led = candidates.find((c) => c.lead && c.lead.test(national))
  if (led) return led
  if (national.length < 3) return null
  return candidates.find((c) => c.code === list.main[code]) || candidates.find((c) => !c.lead) || null
}

function described(list, country, digits, national) {
  return {
    state: "country",
    country,
    digits,
    national,
    complete: national.length >= (country.min || 1),
    full: national.length >= (country.max || 15),
    blocked: list.blocked.some((p) => digits.startsWith(p)),
  }
}

// served: the deck prices calls there.
export const served = (country) => country.to > 0

// formatMicros shows micro-dollars as dollars with 2 to 4 decimals, rounded
// up at the fourth (rating.FormatMicros).
export function formatMicros(micros) {
  const sign = micros < 0 ? "-" : ""
  const tt = Math.floor((Math.abs(micros) + 99) / 100)
  let frac = String(tt % 10000).padStart(4, "0")
  while (frac.length > 2 && frac.endsWith("0")) frac = frac.slice(0, -1)
  return money(sign !== "", Math.floor(tt / 10000), frac)
}

export const perMinute = (micros) => t("money.per_minute", { Price: formatMicros(micros) })

// formatCents shows cents as dollars (rating.FormatCents).
export function formatCents(cents) {
  const c = Math.abs(cents)
  return money(cents < 0, Math.floor(c / 100), String(c % 100).padStart(2, "0"))
}

// balanceMinutes is what a balance buys at a rate: the whole minutes it
// covers after the connection fee (rating.MaxSeconds without the cap).
export function balanceMinutes(balanceCents, rateMicros, feeMicros = 0) {
  if (balanceCents <= 0 || rateMicros <= 0) return 0
  const available = balanceCents * MICROS_PER_CENT - feeMicros
  if (available < rateMicros) return 0
  return Math.floor(available / rateMicros)
}

// minimumCents is the balance one minute needs (rating.MinimumCents).
export function minimumCents(rateMicros, feeMicros = 0) {
  return Math.ceil((rateMicros + feeMicros) / MICROS_PER_CENT)
}

// minutesText says what the balance buys: "your balance buys 250 min".
export const minutesText = (minutes) => t("js.balance_buys", { Minutes: minutes })

// capText is the per-call cap, said apart and only when it is the lower:
// "A call lasts at most 120 min." ("" otherwise).
export function capText(minutes, capSeconds) {
  const capMinutes = Math.floor((capSeconds || 0) / 60)
  return capMinutes > 0 && capMinutes < minutes ? t("js.cap", { Minutes: capMinutes }) : ""
}

// quoteOf is what the price line shows for a lookup before the server has
// confirmed the number: { place, price, callable, note }. callable is false when
// it surely cannot be called, true when the list says it can, null when
// only the server can tell.
export function quoteOf(result, balanceCents, capSeconds) {
  if (result.state !== "country") return { place: "", price: "", callable: null }
  const c = result.country
  if (!served(c)) return { place: t("js.not_served", { Country: c.name }), price: "", callable: false, notServed: true }
  if (result.blocked) return { place: c.name, price: "", callable: false }
  if (c.from !== c.to || c.feeFrom !== c.feeTo) {
    return { place: c.name, price: t("js.from", { Price: perMinute(c.from) }), callable: balanceMinutes(balanceCents, c.from, c.feeFrom) > 0 ? null : false }
  }
  const minutes = balanceMinutes(balanceCents, c.from, c.feeFrom)
  if (minutes === 0) return { place: c.name, price: `${perMinute(c.from)} · ${t("js.add_credit_to_call")}`, callable: false }
  return { place: c.name, price: `${perMinute(c.from)} · ${minutesText(minutes)}`, callable: true, note: capText(minutes, capSeconds) }
}

// lowBalanceText is the dialer's word before dialling a call the balance
// covers for less than 5 min (POST /calls' low_balance, from its
// max_seconds): "Your balance covers 3 min to +234 803 123 4567."
export function lowBalanceText(maxSeconds, number) {
  const minutes = Math.floor((maxSeconds || 0) / 60)
  return t("js.low_balance", { Minutes: minutes, Number: number })
}
