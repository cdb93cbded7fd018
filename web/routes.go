package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/mobayilo/mobayilo/internal/config"
)

// Handler is the whole URL map, grouped by middleware.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID)
	r.Use(s.logRequests)
	r.Use(s.observe)
	r.Use(s.recoverPanics)
	r.Use(s.secureHeaders)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	// Probes and static files: no session.
	r.Get("/healthz", s.showHealth)
	r.Get("/readyz", s.showReadiness)
	r.Get("/assets/*", s.assets.serveAsset)
	r.Get("/manifest.webmanifest", s.showManifest)
	r.Get("/sw.js", s.showServiceWorker)
	r.Get("/offline", s.showOffline)
	r.Get("/rates/prices.json", s.showPriceList) // the dialer's price list: public, no session

	// Twilio's webhooks: authenticated by signature, no session, no
	// cross-origin check (Twilio is another origin by nature).
	r.Group(func(r chi.Router) {
		r.Use(s.countWebhooks(twilioSource))
		r.Use(s.verifyTwilio)
		r.Post("/api/webhooks/twilio/voice", s.twilioVoice)
		r.Post("/api/webhooks/twilio/status", s.twilioStatus)
		r.Post("/api/webhooks/twilio/callerid", s.twilioCallerID)
	})
	// Stripe's webhook: authenticated by the Stripe-Signature over the raw
	// body, checked in the handler before anything else.
	r.With(s.countWebhooks(stripeSource)).Post("/api/webhooks/stripe", s.stripeWebhook)
	if s.paySim != nil && s.cfg.Env != config.Production {
		// The payment simulator's Stripe API, for stripe-go in the worker
		// (STRIPE_API_BASE); it checks the secret key as Stripe does.
		r.Mount("/dev/stripe", http.StripPrefix("/dev/stripe", s.paySim.Handler()))
	}
	if s.sim != nil && s.cfg.Env != config.Production {
		// The carrier simulator's Twilio REST and Pricing APIs, for
		// twilio-go in the worker (`mobayilo dev`: the pricing sync); it
		// checks the API key and secret as Twilio does.
		r.Mount("/dev/twilio", http.StripPrefix("/dev/twilio", s.sim.RESTHandler()))
	}

	// The Temporal UI's codec endpoint (temporal_codec.go): admins only, as
	// the console, but called from the UI's origin, so CORS and a
	// cross-origin check trusting that one origin, in a group of its own.
	if s.codec != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.temporalCodecCORS)
			r.Use(s.temporalCodecOriginCheck)
			r.Use(s.withSession)
			r.Use(s.requireAdmin)
			r.Handle("/admin/temporal-codec/*", s.temporalCodec())
		})
	}

	// Pages: a session, and no unsafe request from another site.
	r.Group(func(r chi.Router) {
		r.Use(middleware.Compress(5, "text/html"))
		r.Use(s.crossOriginProtection)
		r.Use(s.withSession)

		// Public.
		r.Get("/", s.showHome)
		r.Get("/signup", s.showSignUp)
		r.Post("/signup", s.signUp)
		r.Get("/signin", s.showSignIn)
		r.Post("/signin", s.signIn)
		r.Post("/signout", s.signOut)
		r.Get("/language", s.chooseLanguage) // the signed-out switcher (i18n.go)
		r.Get("/password/forgot", s.showForgotPassword)
		r.Post("/password/forgot", s.forgotPassword)
		r.Get("/password/reset", s.showResetPassword)
		r.Get("/rates", s.showRates)
		r.Get("/rates/calculate", s.calculate)
		r.Post("/password/reset", s.resetPassword)
		// The sign-up bonus's confirmation link (issue 16).
		r.Get("/email/confirm", s.showConfirmEmail)
		r.Post("/email/confirm", s.confirmEmail)
		r.Get("/account/deleted", s.showAccountDeleted) // after "Delete my account" (account_delete.go)
		if s.mailbox != nil && s.cfg.Env != config.Production {
			r.Get("/dev/mail", s.showDevMail)
		}

		// Signed in.
		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			r.Get("/call", s.showCall)
			r.Post("/calls", s.startCall)
			r.Post("/calls/{id}/hangup", s.hangUpCall) // the browser says the call ended
			r.Post("/calls/{id}/rating", s.rateCall)   // how the call sounded (ratings.go)
			r.Get("/calls/{id}", s.showCallDetail)
			r.Get("/live", s.streamLive)
			if s.sim != nil && s.cfg.Env != config.Production {
				r.Post("/dev/carrier/connect", s.simulateConnect)
				r.Post("/dev/carrier/hangup", s.simulateHangUp)
			}
			r.Get("/history", s.showHistory)
			r.Get("/contacts", s.showContacts)
			r.Post("/contacts", s.createContact)
			r.Post("/contacts/{id}", s.updateContact)
			r.Post("/contacts/{id}/delete", s.deleteContact)
			r.Post("/contacts/{id}/favourite", s.toggleFavourite)
			r.Get("/credits", s.showCredits)
			r.Post("/credits/purchase", s.purchaseCredits)
			r.Get("/credits/topups/{id}", s.showTopUp)
			r.Post("/credits/one-tap", s.oneTapTopUp)          // a saved card, confirmed by the server (credits.go)
			r.Get("/credits/one-tap", s.showOneTapOffer)       // what the dialer and in-call bar offer in one tap (one_tap_offer.go)
			r.Post("/credits/cards/{pm}/remove", s.removeCard) // detach a saved card
			if s.paySim != nil && s.cfg.Env != config.Production {
				r.Post("/dev/payments/{id}/confirm", s.simulatePayment)
				r.Post("/dev/payments/{id}/authenticate", s.simulateAuthentication)
				r.Post("/dev/payments/{id}/refund", s.simulateRefund)
				r.Post("/dev/payments/{id}/dispute", s.simulateDispute)
			}
			r.Get("/transactions", s.showTransactions)
			r.Get("/transactions.csv", s.exportTransactions)
			r.Get("/credits/auto", s.showAutoTopUp)
			r.Post("/credits/auto", s.saveAutoTopUp)
			r.Post("/credits/auto/dismiss", s.dismissAutoTopUpNotice)
			r.Get("/settings", s.showSettings)
			r.Post("/settings/password", s.changePassword)
			r.Post("/settings/email", s.changeEmail)
			r.Post("/settings/time-zone", s.changeTimeZone)
			r.Post("/settings/delete", s.deleteAccount)    // delete my account (account_delete.go)
			r.Post("/settings/language", s.changeLanguage) // i18n.go
			r.Get("/settings/caller-id", s.showCallerID)   // verified caller ID (callerid.go)
			r.Post("/settings/caller-id", s.addCallerID)
			r.Post("/settings/caller-id/retry", s.retryCallerID)
			r.Post("/settings/caller-id/delete", s.removeCallerID)
			r.Post("/settings/export", s.requestDataExport) // download my data (export.go)
			r.Get("/settings/export", s.showDataExport)
			r.Get("/settings/export/download", s.downloadDataExport)
			if s.sim != nil && s.cfg.Env != config.Production {
				r.Post("/dev/carrier/caller-id", s.simulateCallerIDCode)
			}
		})

		// The support console: admins only; to anyone else it does not
		// exist (404).
		r.Route("/admin", func(r chi.Router) {
			r.Use(s.requireAdmin)
			r.Get("/", s.showAdminDashboard)
			r.Get("/search", s.showAdminSearch)
			r.Get("/calls/{id}", s.showAdminCall)
			r.Post("/calls/{id}/retry", s.retryBilling)
			r.Post("/calls/{id}/waive", s.waiveBilling)
			r.Post("/calls/{id}/credit-retry", s.creditAndRetry)
			r.Get("/topups/{id}", s.showAdminTopUp)
			r.Post("/topups/{id}/refund", s.refundTopUp)
			r.Post("/topups/{id}/cancel", s.cancelTopUp)
			r.Get("/payments/failed", s.showFailedPayments)
			r.Get("/audit", s.showAdminAudit)
			r.Get("/users", s.showAdminUsers)
			r.Get("/users/{id}", s.showAdminUser)
			r.Post("/users/{id}/adjust", s.adjustBalance)
			r.Post("/users/{id}/disable", s.disableUser)
			r.Post("/users/{id}/enable", s.enableUser)
			r.Get("/rates", s.showAdminRates)
			r.Post("/rates/{prefix}/enable", s.enableRate)
			r.Post("/rates/{prefix}/disable", s.disableRate)
			r.Post("/rates/import", s.importRates)
			r.NotFound(s.notFound)
			r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) })
		})
	})

	return r
}
