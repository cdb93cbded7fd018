import { Controller } from "@hotwired/stimulus"

// The Contact Picker (Android Chrome, navigator.contacts.select): an
// "Import from phone" button that fills the contact form with one contact
// of the phone's own. Shown only where the API exists; elsewhere the form
// is typed. The server reads and normalises the number as ever.
export default class extends Controller {
  static targets = ["button", "name", "number", "status"]

  connect() {
    this.buttonTarget.hidden = !("contacts" in navigator && "ContactsManager" in window)
  }

  async pick() {
    let contacts
    try {
      contacts = await navigator.contacts.select(["name", "tel"], { multiple: false })
    } catch {
      this.say("Could not open your phone's contacts.")
      return
    }
    const c = contacts?.[0]
    if (!c) return // the person closed the picker
    const name = (c.name || []).find((n) => n.trim()) || ""
    const tel = (c.tel || []).find((t) => t.trim()) || ""
    if (name) this.nameTarget.value = name.trim().slice(0, 80)
    this.numberTarget.value = tel.trim()
    this.say(tel ? "Check the name and number, then tap Save." : "That contact has no phone number.")
    ;(tel ? this.nameTarget : this.numberTarget).focus()
  }

  say(text) {
    if (this.hasStatusTarget) this.statusTarget.textContent = text
  }
}
