import { Controller } from "@hotwired/stimulus"
import { askMicrophone } from "../devices/microphone.js"
import { loadDevices, loadVoiceSDK, prefetch } from "../devices/bundles.js"
import { reportHangUp } from "../devices/hangup.js"
import { oneTapOffer, payOneTap } from "../one_tap.js"
import { t } from "../i18n.js"
import { parseList, lookup, quoteOf, served, perMinute, balanceMinutes, minutesText, capText, lowBalanceText } from "../prices.js"

// How long an authorized call waits on the low-balance question before it
// is given up: inside the authorization window (CALL_AUTHORIZATION_WINDOW,
// 3 min by default), so that Call anyway never connects a lapsed call.
const LOW_BALANCE_WAIT = 2 * 60 * 1000

// One price list per deck version for the whole visit (the URL names it).
const lists = new Map()
function priceList(url) {
  if (!lists.has(url)) {
    lists.set(url, fetch(url, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`price list: ${r.status}`))))
      .then(parseList)
      .catch((error) => {
        lists.delete(url) // asked again on the next change
        throw error
      }))
  }
  return lists.get(url)
}

// The dialer: a keypad (hold 0 for +), backspace and redial fill the
// number. The price line follows the digits from the deck's price list
// (fetched once, cached), with no request per digit and none when the
// network is gone; the server is asked to confirm (/rates/calculate) only
// when the number is long enough to be whole, or when Call is tapped, and
// its word on an unfinished number ("too short") waits until the person
// stops or taps Call. The Call button follows: disabled, with the reason,
// for a number that cannot be called, and it never posts /calls then.
export default class extends Controller {
  static targets = ["number", "place", "price", "call", "reason", "retry", "low"]
  static values = { longPress: { type: Number, default: 500 }, prices: String, home: String, cap: Number }

  connect() {
    this.confirmed = null // the server's quote of the number shown, or null
    this.onLive = (event) => {
      if (event.detail.targets === "[data-balance]") this.render()
    }
    this.onRedial = (event) => this.redialAndCall(event.detail.number)
    this.onOnline = () => {
      if (this.retryCall) this.reasonTarget.textContent = t("js.back_online")
      else this.changed()
    }
    document.addEventListener("mobayilo:live", this.onLive)
    window.addEventListener("mobayilo:redial", this.onRedial)
    window.addEventListener("online", this.onOnline)
    priceList(this.pricesValue).then((list) => {
      this.list = list
      this.changed()
    }, () => this.changed())
    this.changed()
  }

  disconnect() {
    this.lowAnswer?.(false) // left the dialer with the low-balance question open
    document.removeEventListener("mobayilo:live", this.onLive)
    window.removeEventListener("mobayilo:redial", this.onRedial)
    window.removeEventListener("online", this.onOnline)
    clearTimeout(this.holdTimer)
    clearTimeout(this.confirmTimer)
    this.inFlightQuote?.abort()
  }

  // Keypad: a click types the key (so screen readers, switches and
  // keyboards work); holding a key with a long form (0) types that instead.
  press(event) {
    const key = event.currentTarget
    clearTimeout(this.holdTimer)
    this.longTyped = null
    if (key.dataset.long) {
      this.holdTimer = setTimeout(() => {
        this.longTyped = key
        this.insert(key.dataset.long, key.dataset.key)
      }, this.longPressValue)
    }
  }

  cancel() {
    clearTimeout(this.holdTimer)
  }

  type(event) {
    clearTimeout(this.holdTimer)
    if (this.longTyped === event.currentTarget) {
      this.longTyped = null // the click that ends a long press types nothing more
      return
    }
    this.insert(event.currentTarget.dataset.key)
  }

  backspace() {
    this.numberTarget.value = this.numberTarget.value.slice(0, -1)
    this.changed()
  }

  redial(event) {
    this.numberTarget.value = event.currentTarget.dataset.number
    this.changed()
  }

  // redialAndCall is the in-call bar's Call again.
  redialAndCall(number) {
    this.numberTarget.value = number
    this.changed()
    this.call()
  }

  // insert types text; a + can only start a number, so elsewhere the key's
  // own digit is typed instead.
  insert(text, fallback = "") {
    if (text === "+" && this.numberTarget.value !== "") text = fallback
    if (!text) return
    this.numberTarget.value += text
    this.changed()
  }

  // changed: the number is not the one priced any more. The old price goes
  // at once; the list prices the new one; the server confirms a whole one
  // after a pause.
  changed() {
    this.confirmed = null
    this.inFlightQuote?.abort()
    clearTimeout(this.confirmTimer)
    this.showRetry(false)
    const result = this.lookup()
    this.render()
    // A place we do not call needs no asking: the list says so.
    const notServed = result.state === "country" && !served(result.country)
    if ((result.complete || result.state === "invalid") && !notServed) {
      this.confirmTimer = setTimeout(() => this.confirm({ typing: !result.full }), 400)
    }
  }

  lookup() {
    if (!this.list) return { state: this.numberTarget.value ? "partial" : "empty" }
    return lookup(this.list, this.numberTarget.value, this.homeValue)
  }

  balance() {
    const cents = document.querySelector("[data-balance] [data-cents]")?.dataset.cents
    return cents === undefined ? 0 : Number(cents)
  }

  // render shows the price line and the Call button from the server's
  // quote of this number when there is one, else from the price list.
  render() {
    const number = this.numberTarget.value
    const view = this.view(number)
    this.placeTarget.textContent = view.place
    this.priceTarget.textContent = view.price
    if (this.busy()) return
    this.callTarget.disabled = view.callable === false || !number
    if (this.retryTarget.hidden) this.reasonTarget.textContent = view.reason
    if (view.callable !== false && number) this.prefetchSDK()
  }

  view(number) {
    const q = this.confirmed
    const listed = () => {
      const quote = quoteOf(this.lookup(), this.balance(), this.capValue)
      return { ...quote, reason: quote.notServed ? quote.place : number ? quote.note || "" : t("dial.type_number") }
    }
    if (!q || q.number !== number) return listed()
    const b = q.body
    const error = b.error
    // The person may still be typing: the list's word stands.
    if (error && q.typing && unfinished(error.code)) return listed()
    const view = { place: b.e164 ? `${b.description || b.country_name} · ${b.e164}` : "", price: "", callable: false, reason: error?.message || "" }
    if (b.rate_per_minute_micros) {
      // The balance may have changed since the server answered: its
      // arithmetic, on the balance shown now.
      const minutes = balanceMinutes(this.balance(), b.rate_per_minute_micros, b.connection_fee_micros || 0)
      view.price = `${perMinute(b.rate_per_minute_micros)} · ${minutesText(minutes)}`
      if (!error || error.code === "insufficient_balance") {
        view.callable = minutes > 0
        view.reason = view.callable ? capText(minutes, this.capValue) : error?.message || t("js.no_minute")
      }
    }
    return view
  }

  // confirm asks the server about the whole number. typing: the person may
  // still be typing, so "too short" and "invalid" wait.
  async confirm({ typing = false } = {}) {
    const number = this.numberTarget.value
    if (!number) return null
    this.inFlightQuote?.abort()
    const controller = new AbortController()
    this.inFlightQuote = controller
    try {
      const response = await fetch(`/rates/calculate?phone_number=${encodeURIComponent(number)}`, {
        headers: { Accept: "application/json" },
        signal: controller.signal,
      })
      const body = await response.json()
      if (this.numberTarget.value !== number) return null
      this.confirmed = { number, body, typing }
      this.showRetry(false)
      this.render()
      return this.confirmed
    } catch (error) {
      if (error.name === "AbortError") return null
      this.offline(typing ? "No connection: the price is from our price list. Checked again when you are back online." :
        "No connection. Check your data or Wi-Fi; the number is checked again when you are back online.")
      return null
    }
  }

  // confirmNow is the form's submit (the keyboard's Go key).
  confirmNow(event) {
    event.preventDefault()
    this.call()
  }

  retry() {
    this.showRetry(false)
    this.reasonTarget.textContent = t("js.checking")
    if (this.retryCall) this.call()
    else this.confirm()
  }

  offline(message) {
    this.reasonTarget.textContent = message
    this.showRetry(true)
  }

  showRetry(on) {
    this.retryTarget.hidden = !on
    if (!on) this.retryCall = false
  }

  // busy: a call is being placed, or one is in progress.
  busy() {
    return this.placing || document.getElementById("in-call")?.dataset.callActive === "true"
  }

  async call() {
    if (this.busy() || !this.numberTarget.value) return
    this.placing = true
    this.callTarget.disabled = true
    this.callTarget.textContent = t("js.calling")
    this.reasonTarget.textContent = t("js.checking_number")
    try {
      const number = this.numberTarget.value
      let q = this.confirmed?.number === number && !this.confirmed.typing ? this.confirmed : null
      if (!q) q = await this.confirm()
      if (!q) {
        this.retryCall = true
        return
      }
      if (this.view(number).callable !== true) return
      await this.place(number)
    } finally {
      this.placing = false
      this.callTarget.textContent = t("dial.call")
      this.render()
    }
  }

  async place(number) {
    // Microphone, device and SDK first: no call is authorized that could
    // not be connected.
    try {
      if (document.getElementById("in-call")?.dataset.callDeviceValue === "twilio") {
        this.reasonTarget.textContent = t("js.allow_mic")
        await askMicrophone()
        await loadVoiceSDK()
      }
      await loadDevices()
    } catch (error) {
      if (error instanceof TypeError) {
        this.offline("No connection: the call did not start and nothing was charged. Try again when you are back online.")
        this.retryCall = true
      } else {
        this.reasonTarget.textContent = error.message || t("js.could_not_start")
      }
      return
    }
    this.reasonTarget.textContent = t("js.connecting")
    let response
    try {
      response = await fetch("/calls", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ phone_number: number }),
      })
    } catch {
      this.offline("No connection: the call did not start and nothing was charged. Try again when you are back online.")
      this.retryCall = true
      return
    }
    const body = await response.json().catch(() => ({}))
    if (!response.ok) {
      this.reasonTarget.textContent = body.error?.message || t("js.could_not_place")
      return
    }
    this.reasonTarget.textContent = ""
    // Low balance (issue 21): said before dialling, from what POST /calls
    // answered (no request of its own); the call waits, authorized.
    const e164 = this.confirmed?.number === number ? this.confirmed.body?.e164 : ""
    this.topping = null
    if (body.low_balance && !(await this.askLowBalance(body, e164 || number))) return
    // The in-call bar takes it from here (with the one-tap top-up, if the
    // question started one).
    window.dispatchEvent(new CustomEvent("mobayilo:call", { detail: { ...body, number, topping: this.topping } }))
  }

  // askLowBalance shows "Your balance covers 3 min to …" with Top up and
  // Call anyway; true for Call anyway. Top up (or no answer in time) gives
  // the authorized call up, so its slot frees at once, and Top up goes on
  // to Credits.
  askLowBalance(body, number) {
    this.lowTarget.querySelector("[data-low-text]").textContent = lowBalanceText(body.max_seconds, number)
    const oneTap = this.lowTarget.querySelector("[data-low-one-tap]")
    oneTap.hidden = true
    this.offer = null
    // With a saved card, one tap (asked now, beside the question: not on
    // POST /calls' path).
    oneTapOffer().then((offer) => {
      if (!offer || !this.lowAnswer) return
      this.offer = offer
      oneTap.textContent = offer.label
      oneTap.disabled = false
      oneTap.hidden = false
    })
    this.lowTarget.hidden = false
    this.lowTarget.querySelector("[data-low-call]").focus()
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.lowAnswer?.(false, t("js.not_placed")), LOW_BALANCE_WAIT)
      this.lowAnswer = (go, reason = "") => {
        clearTimeout(timer)
        this.lowAnswer = null
        this.lowTarget.hidden = true
        if (!go) reportHangUp(body.call_id)
        this.reasonTarget.textContent = reason
        resolve(go)
      }
    })
  }

  callAnyway() {
    this.lowAnswer?.(true)
  }

  // oneTapFirst pays the offer with the saved card, then calls: the call
  // is extended when the credit lands. A refusal keeps the question open.
  async oneTapFirst(event) {
    const offer = this.offer
    if (!offer || !this.lowAnswer) return
    event.currentTarget.disabled = true
    try {
      this.topping = { label: offer.label, page: await payOneTap(offer) }
      this.lowAnswer?.(true)
    } catch {
      event.currentTarget.disabled = false
      this.lowTarget.querySelector("[data-low-text]").textContent = t("js.card_failed_call_anyway")
    }
  }

  // topUpFirst: the link goes on to Credits (a Turbo visit); the call
  // waiting is given up.
  topUpFirst() {
    this.lowAnswer?.(false)
  }

  // prefetchSDK fetches what a call needs (the device adapters, Twilio's
  // Voice SDK) as soon as a number could be called, so the first tap on
  // Call does not wait for it.
  prefetchSDK() {
    prefetch(document.getElementById("in-call")?.dataset.callDeviceValue)
  }
}

// unfinished: what the server says of a number still being typed.
function unfinished(code) {
  return code === "too_short" || code === "invalid"
}
