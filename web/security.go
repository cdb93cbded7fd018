package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

// contentSecurityPolicy allows our own assets, plus Stripe's and Twilio's
// origins where their SDKs need them (Stripe.js and its frames for card
// payments; Twilio's signalling and media endpoints for calls). The one
// inline style allowed is Turbo's progress bar, by a per-request nonce
// (Turbo reads it from <meta name="csp-nonce">).
func contentSecurityPolicy(nonce string) string {
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' https://js.stripe.com",
		"style-src 'self' 'nonce-" + nonce + "'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src 'self' https://api.stripe.com wss://*.twilio.com https://eventgw.twilio.com",
		"media-src 'self' https://sdk.twilio.com",
		"frame-src https://js.stripe.com https://hooks.stripe.com",
		"worker-src 'self'",
		"manifest-src 'self'",
		"object-src 'none'",
		"base-uri 'self'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

type nonceKey struct{}

// cspNonce is the request's style nonce ("" outside secureHeaders).
func cspNonce(r *http.Request) string {
	n, _ := r.Context().Value(nonceKey{}).(string)
	return n
}

// secureHeaders sets the headers every response carries.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	hsts := s.cfg.SecureCookies()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := make([]byte, 16)
		_, _ = rand.Read(raw)
		nonce := base64.RawURLEncoding.EncodeToString(raw) // no + or =, which HTML would escape
		r = r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce))
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy(nonce))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), payment=(self \"https://js.stripe.com\")")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection refuses unsafe requests (POST and friends) sent by
// another site, with Go's http.CrossOriginProtection (Sec-Fetch-Site, or
// Origin against Host).
func (s *Server) crossOriginProtection(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "error.cross_site.title", "error.cross_form.message")
	}))
	return cop.Handler(next)
}
