import { Controller } from "@hotwired/stimulus"

// The time zone setting: the zone names this browser knows as suggestions,
// and a button for the zone this phone is in when it is not the one saved.
export default class extends Controller {
  static targets = ["input", "list", "here"]

  connect() {
    let here = ""
    try {
      here = Intl.DateTimeFormat().resolvedOptions().timeZone || ""
    } catch {
      return
    }
    this.here = here
    if (here && here !== this.inputTarget.value) {
      this.hereTarget.textContent = `Use this phone's time zone (${here})`
      this.hereTarget.hidden = false
    }
    this.inputTarget.addEventListener("focus", () => this.suggest(), { once: true })
  }

  suggest() {
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : []
    this.listTarget.replaceChildren(...zones.map((z) => new Option(z)))
  }

  useHere() {
    this.inputTarget.value = this.here
    this.element.requestSubmit()
  }
}
