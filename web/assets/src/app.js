// Mobayilo's front end: Turbo Drive for navigation, Stimulus for the few
// behaviours pages need. Bundled by esbuild at build time.
import * as Turbo from "@hotwired/turbo"
import { Application } from "@hotwired/stimulus"
import FlashController from "./controllers/flash_controller.js"
import SearchController from "./controllers/search_controller.js"
import DialerController from "./controllers/dialer_controller.js"
import CallController from "./controllers/call_controller.js"
import PaymentController from "./controllers/payment_controller.js"

window.Turbo = Turbo

const application = Application.start()
application.register("flash", FlashController)
application.register("search", SearchController)
application.register("dialer", DialerController)
application.register("call", CallController)
application.register("payment", PaymentController)

// The service worker serves the offline page when the network is gone. It
// never caches signed-in pages or balances (see /sw.js).
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {})
  })
}
