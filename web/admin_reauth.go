package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mobayilo/mobayilo/internal/accounts"
)

// Admin sessions are shorter-lived than users': they end after
// ADMIN_IDLE_TIMEOUT without a request, and an admin's sensitive actions
// (balance adjustments, disabling a user, importing a rate deck) ask for the
// password again when it was last entered more than adminReauthAfter ago,
// so a console left open, or a stolen admin cookie, cannot move money or
// lock people out on its own.

// adminReauthAfter: how long an entered password vouches for an admin.
const adminReauthAfter = 15 * time.Minute

// adminActive records an admin's request (at most every adminTouchEvery)
// and reports whether the session was idle for no longer than
// ADMIN_IDLE_TIMEOUT.
func (s *Server) adminActive(ctx context.Context) bool {
	return s.touchSession(ctx, s.cfg.AdminIdleTimeout, min(adminTouchEvery, s.cfg.AdminIdleTimeout/10))
}

// adminTouchEvery bounds how often an admin's use is written to the session.
const adminTouchEvery = 30 * time.Second

// endIdleAdminSession signs out an admin whose session sat idle and sends
// them to sign in again (and back, for a page).
func (s *Server) endIdleAdminSession(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(r, "You were signed out after "+s.cfg.AdminIdleTimeout.String()+" without activity. Sign in again.")
	target := "/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// passwordFresh reports whether the session's password was entered within
// adminReauthAfter.
func (s *Server) passwordFresh(r *http.Request) bool {
	if r.Context().Value(ctxSession) == nil {
		return false
	}
	at := s.sessions.GetInt64(r.Context(), sessPasswordAt)
	return at != 0 && s.now().Sub(time.Unix(0, at)) <= adminReauthAfter
}

// confirmPassword lets an admin's sensitive action through when the
// password is fresh, or entered now in the form's confirm_password field
// (checked, and counted on failure, exactly as a sign-in). Otherwise it
// answers through rerender with the error under errKey (422, or 429 when
// throttled) and returns false; nothing has changed.
func (s *Server) confirmPassword(w http.ResponseWriter, r *http.Request, form url.Values, errKey string, rerender func(status int, errs map[string]string)) bool {
	if s.passwordFresh(r) {
		return true
	}
	admin := currentUser(r)
	password := form.Get("confirm_password")
	if password == "" {
		rerender(http.StatusUnprocessableEntity, map[string]string{errKey: "Enter your password to confirm: it was last entered more than " +
			strconv.Itoa(int(adminReauthAfter/time.Minute)) + " minutes ago."})
		return false
	}
	_, err := s.accounts.SignIn(r.Context(), admin.Email, password, s.clientIP(r))
	var throttled *accounts.ThrottledError
	switch {
	case err == nil:
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", strconv.Itoa(int(throttled.RetryAfter.Seconds())))
		rerender(http.StatusTooManyRequests, map[string]string{errKey: "Too many wrong passwords. Wait " +
			strconv.Itoa(int(throttled.RetryAfter.Minutes())) + " minutes and try again."})
		return false
	case errors.Is(err, accounts.ErrBadCredentials):
		s.log.Warn().Str("admin_id", admin.ID.String()).Str("path", r.URL.Path).Msg("admin: wrong password on re-entry")
		rerender(http.StatusUnprocessableEntity, map[string]string{errKey: "That is not your password. Nothing was done."})
		return false
	case errors.Is(err, accounts.ErrDisabled):
		s.notFound(w, r)
		return false
	default:
		s.serverError(w, r, err)
		return false
	}
	s.sessions.Put(r.Context(), sessPasswordAt, s.now().UnixNano())
	return true
}

// reauthData is the password field a sensitive form shows when Reauth is
// set (partials/reauth.html).
type reauthData struct {
	Show      bool
	ID, Error string
}

func reauthField(p pageData, id string) reauthData {
	return reauthData{Show: p.Reauth, ID: id + "-password", Error: p.Errors[id+"_password"]}
}
