import { Controller } from "@hotwired/stimulus"

// Submits its form as the person types, after a short pause, so a Turbo
// Frame (the rate list, the price of a number) follows the input.
export default class extends Controller {
  static values = { delay: { type: Number, default: 250 } }

  submit() {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.element.requestSubmit(), this.delayValue)
  }

  disconnect() {
    clearTimeout(this.timer)
  }
}
