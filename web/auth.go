package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
)

// formErrors returns the per-field errors of err, or nil if err is another
// kind of error.
func formErrors(r *http.Request, err error) map[string]string {
	var fe accounts.FieldErrors
	if errors.As(err, &fe) {
		return translateFieldErrors(langOf(r), fe)
	}
	return nil
}

func (s *Server) showHome(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, "/call", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "home", pageData{})
}

// showSignUp is the sign-up form, its country chosen from the browser's
// languages when they name one (the page's script tries navigator.languages
// too, and sends the browser's time zone).
func (s *Server) showSignUp(w http.ResponseWriter, r *http.Request) {
	form := url.Values{}
	if c := accounts.CountryFromLanguages(r.Header.Get("Accept-Language")); c != "" {
		form.Set("home_country", c)
	}
	s.render(w, r, http.StatusOK, "signup", pageData{Form: form})
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	user, err := s.accounts.SignUp(r.Context(), accounts.SignUpInput{
		Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password"),
		DisplayName: r.PostForm.Get("display_name"), HomeCountry: r.PostForm.Get("home_country"),
		TimeZone: r.PostForm.Get("time_zone"), ClientIP: s.clientIP(r),
	})
	if fe := formErrors(r, err); fe != nil {
		s.render(w, r, http.StatusUnprocessableEntity, "signup", pageData{Form: r.PostForm, Errors: fe})
		return
	}
	var throttled *accounts.ThrottledError
	if errors.As(err, &throttled) {
		setRetryAfter(w, throttled)
		s.render(w, r, http.StatusTooManyRequests, "signup", pageData{Form: r.PostForm, Errors: map[string]string{
			"form": fmt.Sprintf("Too many accounts were made from your network in the last hour. Please try again in %d minutes.", throttled.RetryMinutes()),
		}})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !s.signInAs(w, r, user) {
		return
	}
	if s.sendConfirmation(r, user) {
		s.setFlash(r, "flash.welcome_confirm", "Name", user.DisplayName, "BonusCents", s.cfg.SignupBonusCents)
	} else {
		s.setFlash(r, "flash.welcome", "Name", user.DisplayName)
	}
	http.Redirect(w, r, "/call", http.StatusSeeOther)
}

// sendConfirmation emails user the link that confirms their address and
// credits the sign-up bonus, when there is one. It reports whether a link
// is on its way; a failure is logged, and costs the person only the bonus.
func (s *Server) sendConfirmation(r *http.Request, user db.User) bool {
	token, ok, err := s.accounts.StartEmailConfirmation(r.Context(), user)
	if err != nil {
		s.log.Error().Err(err).Str("user_id", user.ID.String()).Msg("start email confirmation")
		return false
	}
	if !ok {
		return false
	}
	link := s.cfg.PublicBaseURL + "/email/confirm?token=" + url.QueryEscape(token)
	lang := mailLang(r, user)
	s.sendLater(user, mail.Message{
		To:      user.Email,
		Subject: i18n.T(lang, "mail.confirm.subject"),
		Text:    i18n.T(lang, "mail.confirm.text", "Name", user.DisplayName, "Bonus", i18n.Money(lang, s.cfg.SignupBonusCents), "Link", link),
	}, "send email confirmation")
	return true
}

// sendLater sends msg after the answer, so neither its time nor its failure
// shows in it.
func (s *Server) sendLater(user db.User, msg mail.Message, what string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.mailer.Send(ctx, msg); err != nil {
			s.log.Error().Err(err).Str("user_id", user.ID.String()).Msg(what)
		}
	}()
}

// setRetryAfter says, in the header, when a throttled attempt may come back.
func setRetryAfter(w http.ResponseWriter, t *accounts.ThrottledError) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(t.RetryAfter.Seconds()))))
}

func (s *Server) showConfirmEmail(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	valid := token != "" && len(token) < 100 && s.accounts.CheckConfirmToken(r.Context(), token) == nil
	status := http.StatusOK
	if !valid {
		status = http.StatusGone
	}
	s.render(w, r, status, "confirm", pageData{Form: url.Values{"token": {token}}, Data: valid})
}

// confirmEmail uses a confirmation link (a POST from its page, so a mail
// scanner opening the link confirms nothing) and credits the bonus, once.
func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" || len(token) >= 100 {
		s.render(w, r, http.StatusGone, "confirm", pageData{Form: url.Values{}, Data: false})
		return
	}
	user, bonus, err := s.accounts.ConfirmEmail(r.Context(), token)
	if errors.Is(err, accounts.ErrConfirmInvalid) {
		s.render(w, r, http.StatusGone, "confirm", pageData{Form: url.Values{}, Data: false})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("user_id", user.ID.String()).Int64("bonus_cents", bonus).Msg("email confirmed")
	if bonus > 0 {
		s.metrics.LedgerPosted(string(ledger.Bonus))
	}
	s.setFlash(r, "flash.email_confirmed", "BonusCents", bonus)
	target := "/signin"
	if u := currentUser(r); u != nil && u.ID == user.ID {
		target = "/call"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, "/call", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "signin", pageData{Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	user, err := s.accounts.SignIn(r.Context(), r.PostForm.Get("email"), r.PostForm.Get("password"), s.clientIP(r))
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		setRetryAfter(w, throttled)
		s.render(w, r, http.StatusTooManyRequests, "signin", pageData{Form: r.PostForm, Errors: map[string]string{
			"form": fmt.Sprintf("Too many failed attempts. For your safety, wait %d minutes and try again, or reset your password.", int(throttled.RetryAfter.Minutes())),
		}})
		return
	case errors.Is(err, accounts.ErrBadCredentials):
		s.render(w, r, http.StatusUnprocessableEntity, "signin", pageData{Form: r.PostForm, Errors: map[string]string{
			"form": "That email and password do not match an account.",
		}})
		return
	case errors.Is(err, accounts.ErrDisabled):
		s.render(w, r, http.StatusForbidden, "signin", pageData{Form: r.PostForm, Errors: map[string]string{
			"form": "This account is disabled. Contact support if you think this is a mistake.",
		}})
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if !s.signInAs(w, r, user) {
		return
	}
	http.Redirect(w, r, localPath(r.PostForm.Get("next"), "/call"), http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(r, "flash.signed_out")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) showForgotPassword(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", pageData{Form: url.Values{}})
}

// forgotPassword sends a reset link if the email has an account, and says
// the same thing either way.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	token, user, ok, err := s.accounts.StartPasswordReset(r.Context(), r.PostForm.Get("email"), s.clientIP(r))
	var throttled *accounts.ThrottledError
	if errors.As(err, &throttled) {
		// Counted whether or not the email has an account, so this says
		// nothing about it either.
		setRetryAfter(w, throttled)
		s.render(w, r, http.StatusTooManyRequests, "forgot", pageData{Form: r.PostForm, Errors: map[string]string{
			"form": fmt.Sprintf("Too many reset links were asked for in the last hour. Please check your inbox (and spam folder), or try again in %d minutes.", throttled.RetryMinutes()),
		}})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if ok {
		link := s.cfg.PublicBaseURL + "/password/reset?token=" + url.QueryEscape(token)
		lang := mailLang(r, user)
		msg := mail.Message{
			To:      user.Email,
			Subject: i18n.T(lang, "mail.reset.subject"),
			Text:    i18n.T(lang, "mail.reset.text", "Name", user.DisplayName, "Link", link),
		}
		// Sent after the answer, so neither its time nor its failure tells
		// the person whether the email has an account.
		s.sendLater(user, msg, "send password reset email")
	}
	s.setFlash(r, "flash.reset_sent")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) showResetPassword(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	valid := token != "" && s.accounts.CheckResetToken(r.Context(), token) == nil
	status := http.StatusOK
	if !valid {
		status = http.StatusGone
	}
	s.render(w, r, status, "reset", pageData{Form: url.Values{"token": {token}}, Data: valid})
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	user, err := s.accounts.ResetPassword(r.Context(), r.PostForm.Get("token"), r.PostForm.Get("password"))
	if fe := formErrors(r, err); fe != nil {
		s.render(w, r, http.StatusUnprocessableEntity, "reset", pageData{Form: r.PostForm, Errors: fe, Data: true})
		return
	}
	if errors.Is(err, accounts.ErrResetInvalid) {
		s.render(w, r, http.StatusGone, "reset", pageData{Form: r.PostForm, Data: false})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !s.signInAs(w, r, user) {
		return
	}
	s.setFlash(r, "flash.password_reset")
	http.Redirect(w, r, "/call", http.StatusSeeOther)
}
