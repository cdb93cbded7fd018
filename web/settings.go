package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/mobayilo/mobayilo/internal/accounts"
)

// settingsThrottled answers 429 when err says the current-password check
// is throttled (counted with sign-in's, per email and per address), and
// reports whether it did.
func (s *Server) settingsThrottled(w http.ResponseWriter, r *http.Request, err error, field string, form url.Values) bool {
	var throttled *accounts.ThrottledError
	if !errors.As(err, &throttled) {
		return false
	}
	setRetryAfter(w, throttled)
	s.renderSettings(w, r, http.StatusTooManyRequests, pageData{Form: form, Errors: map[string]string{
		field: tr(r, "auth.throttled", "Count", throttled.RetryMinutes()),
	}})
	return true
}

func (s *Server) showSettings(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, http.StatusOK, pageData{})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	user, err := s.accounts.ChangePassword(r.Context(), currentUser(r).ID, r.PostForm.Get("current_password"), r.PostForm.Get("new_password"), s.clientIP(r))
	if s.settingsThrottled(w, r, err, "current_password", url.Values{}) {
		return
	}
	if fe := formErrors(r, err); fe != nil {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: url.Values{}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// This device stays signed in, on a fresh token; every other is signed out.
	if !s.signInAs(w, r, user) {
		return
	}
	s.setFlash(r, "flash.password_changed")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, err := s.accounts.ChangeEmail(r.Context(), currentUser(r).ID, r.PostForm.Get("password"), r.PostForm.Get("email"), s.clientIP(r))
	if s.settingsThrottled(w, r, err, "password", url.Values{"email": {r.PostForm.Get("email")}}) {
		return
	}
	if fe := formErrors(r, err); fe != nil {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: url.Values{"email": {r.PostForm.Get("email")}}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(r, "flash.email_changed")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// changeTimeZone sets the zone the person's times are shown in (History,
// a call's page, Credits, Transactions).
func (s *Server) changeTimeZone(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u, err := s.accounts.SetTimeZone(r.Context(), currentUser(r).ID, r.PostForm.Get("time_zone"))
	if fe := formErrors(r, err); fe != nil {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: url.Values{"time_zone": {r.PostForm.Get("time_zone")}}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(r, "flash.time_zone_saved", "Zone", u.TimeZone)
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}
