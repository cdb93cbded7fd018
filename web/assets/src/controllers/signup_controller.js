import { Controller } from "@hotwired/stimulus"

// The sign-up form: the browser's time zone goes with it (times are then
// shown in it), and the country is chosen from the browser's languages
// when the server did not choose it (an "en-NG" phone lives in Nigeria);
// the person can change both.
export default class extends Controller {
  static targets = ["zone", "country"]

  connect() {
    if (!this.zoneTarget.value) {
      try {
        this.zoneTarget.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""
      } catch {
        // No Intl: the account starts in UTC, changeable in Settings.
      }
    }
    const select = this.countryTarget
    if (select.value) return
    for (const language of navigator.languages || [navigator.language]) {
      const region = regionOf(language)
      if (region && select.querySelector(`option[value="${region}"]`)) {
        select.value = region
        return
      }
    }
  }
}

function regionOf(language) {
  try {
    return new Intl.Locale(language).region || ""
  } catch {
    return ""
  }
}
