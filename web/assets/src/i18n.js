// The page's language (issue 22): the catalogue's "js." messages and the
// language's money format, which the layout writes into
// <script type="application/json" id="i18n"> (web/i18n.go jsCatalogue).
// t is the one translate function of the front end, with the catalogue's
// {{.Name}} placeholders; without the page's block (node tests) it speaks
// English, from the English catalogue itself.
import en from "../../../internal/i18n/locales/active.en.json" with { type: "json" }

const english = { lang: "en", dir: "ltr", strings: en, money: { decimal: ".", sep: ",", minGroup: 4, prefix: "$", suffix: "", rlm: false } }
let page

function current() {
  if (page) return page
  page = english
  try {
    const el = globalThis.document?.getElementById("i18n")
    if (el) page = { ...english, ...JSON.parse(el.textContent) }
  } catch {
    page = english
  }
  return page
}

// t translates key with args ({ Name: value } for {{.Name}}).
export function t(key, args = {}) {
  const s = current().strings[key] ?? en[key] ?? key
  return String(s).replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, name) => (args[name] ?? "").toString())
}

export const lang = () => current().lang

// groupDigits writes a whole number with the language's group separator.
function groupDigits(n, f) {
  const s = String(n)
  if (s.length < f.minGroup) return s
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, f.sep)
}

// money writes a whole number of units and its decimals (a string) as an
// amount of US dollars in the page's language (internal/i18n Money).
export function money(negative, whole, frac) {
  const f = current().money
  const s = `${negative ? "-" : ""}${f.prefix}${groupDigits(whole, f)}${f.decimal}${frac}${f.suffix}`
  return f.rlm ? `\u200f${s}` : s
}
