package web

import (
	"net/http"
	"net/url"

	"go.temporal.io/sdk/converter"
)

// The Temporal UI's codec server. With TEMPORAL_CODEC_KEYS set, every
// payload in Temporal is sealed, and the UI shows ciphertext unless it is
// pointed at /admin/temporal-codec (its codec endpoint, with "include
// cross-origin credentials" on): the UI, running in a staff member's
// browser at TEMPORAL_UI_URL, posts the payloads to /decode with the
// member's session cookie, and only an admin's session gets them opened.
// The routes live in their own group (routes.go): the UI is another
// origin, so they answer CORS for that one origin and trust it in their
// own cross-origin check, while every other route keeps refusing it.

// maxCodecBody bounds one /encode or /decode request: Temporal's own
// payload limit is 2 MB, and the UI sends a page of events at a time.
const maxCodecBody = 16 << 20

// temporalUIOrigin is the origin (scheme://host[:port]) of TEMPORAL_UI_URL,
// or "" when it is unset or unusable.
func (s *Server) temporalUIOrigin() string {
	u, err := url.Parse(s.cfg.TemporalUIURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// temporalCodecCORS answers the browser's CORS checks for the Temporal UI's
// origin only: the preflight (before any session, since a preflight
// carries no cookie) and the headers that let the UI read the answer with
// credentials. A preflight from any other origin finds nothing.
func (s *Server) temporalCodecCORS(next http.Handler) http.Handler {
	origin := s.temporalUIOrigin()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := origin != "" && r.Header.Get("Origin") == origin
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				s.notFound(w, r)
				return
			}
			h.Set("Access-Control-Allow-Methods", "POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// temporalCodecOriginCheck is the pages' cross-origin protection with the
// Temporal UI's origin trusted: a POST from the UI is let through (to the
// session and admin checks), one from anywhere else is refused.
func (s *Server) temporalCodecOriginCheck(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if origin := s.temporalUIOrigin(); origin != "" {
		if err := cop.AddTrustedOrigin(origin); err != nil {
			s.log.Warn().Err(err).Msg("TEMPORAL_UI_URL is not an origin the codec endpoint can trust")
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "error.cross_site.title", "error.cross_site.message")
	}))
	return cop.Handler(next)
}

// temporalCodec serves the codec protocol (POST .../encode and
// .../decode, Payloads as protobuf JSON) with the configured codec.
func (s *Server) temporalCodec() http.Handler {
	h := converter.NewPayloadCodecHTTPHandler(s.codec)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxCodecBody)
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
