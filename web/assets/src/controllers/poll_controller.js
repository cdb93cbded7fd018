import { Controller } from "@hotwired/stimulus"

// Reloads its element from urlValue every few seconds (the caller ID
// section while Twilio calls): the server's HTML replaces it, and says
// by its own data-controller whether to keep polling.
export default class extends Controller {
  static values = { url: String, every: { type: Number, default: 2000 } }

  connect() {
    this.timer = setTimeout(() => this.reload(), this.everyValue)
  }

  disconnect() {
    clearTimeout(this.timer)
  }

  async reload() {
    try {
      const res = await fetch(this.urlValue, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      if (res.ok && this.element.isConnected) {
        this.element.outerHTML = await res.text()
        return
      }
    } catch {
      // offline for a moment: try again, slower
    }
    if (this.element.isConnected) this.timer = setTimeout(() => this.reload(), this.everyValue * 2)
  }
}
