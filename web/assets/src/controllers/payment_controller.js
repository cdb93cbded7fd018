// The card form: Stripe's Payment Element, mounted with the PaymentIntent's
// client secret. With next-action (a one-tap payment the server confirmed
// with a saved card, which the bank wants confirmed by 3-D Secure) there
// is no form: stripe.handleNextAction runs the bank's challenge, and the
// page reloads to show the payment's state. Stripe.js is loaded from js.stripe.com (Stripe requires
// it; the CSP allows it) only on this page, when the form is shown.
import { Controller } from "@hotwired/stimulus"

let stripeJS

function loadStripe() {
  if (window.Stripe) return Promise.resolve(window.Stripe)
  stripeJS ||= new Promise((resolve, reject) => {
    const s = document.createElement("script")
    s.src = "https://js.stripe.com/v3/"
    s.onload = () => resolve(window.Stripe)
    s.onerror = () => { stripeJS = null; reject(new Error("Stripe.js did not load")) }
    document.head.appendChild(s)
  })
  return stripeJS
}

export default class extends Controller {
  static values = { key: String, secret: String, return: String, nextAction: Boolean }
  static targets = ["element", "error", "submit"]

  async connect() {
    if (this.nextActionValue) return this.nextAction()
    try {
      const Stripe = await loadStripe()
      this.stripe = Stripe(this.keyValue)
      this.elements = this.stripe.elements({ clientSecret: this.secretValue })
      this.elementTarget.replaceChildren()
      this.elements.create("payment", { layout: "tabs" }).mount(this.elementTarget)
      this.submitTarget.disabled = false
    } catch (e) {
      this.show("The card form could not load. Check your connection and reload the page; nothing has been charged.")
    }
  }

  async pay(event) {
    event.preventDefault()
    if (!this.stripe) return
    const label = this.submitTarget.textContent
    this.submitTarget.disabled = true
    this.submitTarget.textContent = "Paying…"
    this.errorTarget.hidden = true
    let error
    try {
      ;({ error } = await this.stripe.confirmPayment({
        elements: this.elements,
        confirmParams: { return_url: this.returnValue },
      }))
    } catch {
      error = { message: "No connection: the payment was not sent. Check your data or Wi-Fi and tap Pay again; nothing has been charged." }
    }
    // Only an immediate error comes back here; success redirects.
    this.show(error?.message || "The payment did not go through.")
    this.submitTarget.textContent = label
    this.submitTarget.disabled = false
  }

  async nextAction() {
    let result
    try {
      const Stripe = await loadStripe()
      result = await Stripe(this.keyValue).handleNextAction({ clientSecret: this.secretValue })
    } catch {
      result = { error: { message: "Your bank's check could not load. Check your connection and reload the page; nothing has been charged yet." } }
    }
    if (result.error) {
      this.show(result.error.message || "Your bank did not confirm the payment.")
      return
    }
    // Authenticated: the webhook credits it; the page shows it arrive.
    window.Turbo ? window.Turbo.visit(window.location.href, { action: "replace" }) : window.location.reload()
  }

  show(message) {
    this.errorTarget.textContent = message
    this.errorTarget.hidden = false
  }
}
