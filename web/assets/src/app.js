// Mobayilo's front end: Turbo Drive for navigation, Stimulus for the few
// behaviours pages need. Bundled by esbuild at build time.
import "@hotwired/turbo"
import { Application } from "@hotwired/stimulus"
import { startLive } from "./live.js"
import "./net.js"
import FlashController from "./controllers/flash_controller.js"
import SearchController from "./controllers/search_controller.js"
import DialerController from "./controllers/dialer_controller.js"
import CallController from "./controllers/call_controller.js"
import PaymentController from "./controllers/payment_controller.js"
import SignupController from "./controllers/signup_controller.js"
import ZoneController from "./controllers/zone_controller.js"
import ContactPickerController from "./controllers/contact_picker_controller.js"
import PollController from "./controllers/poll_controller.js"

startLive()

const application = Application.start()
application.register("flash", FlashController)
application.register("search", SearchController)
application.register("dialer", DialerController)
application.register("call", CallController)
application.register("payment", PaymentController)
application.register("signup", SignupController)
application.register("zone", ZoneController)
application.register("contact-picker", ContactPickerController)
application.register("poll", PollController)

// The service worker serves the offline page when the network is gone, and
// keeps the Voice SDK once the dialer asked for it. It never caches pages
// or balances (see /sw.js).
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {})
  })
}
