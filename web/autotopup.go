package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// Bounds of the auto top-up form, in cents.
const (
	autoTopUpMaxThreshold = 100_00
	autoTopUpMaxCap       = 1000_00
)

type autoTopUpData struct {
	Packages []int64
	// Settings: the saved settings (the defaults before there are any).
	Settings db.AutoTopUp
	Saved    bool // there is a row
	// HasCard: a saved card auto top-up can pay with.
	HasCard bool
	// SpentCents: automatic top-ups this calendar month (the cap's count).
	SpentCents int64
	Recent     []db.TopUp
}

// autoTopUpForm is the form as read: cents, and the errors per field.
type autoTopUpForm struct {
	Enabled                bool
	Threshold, Amount, Cap int64
	Errors                 map[string]string
}

// newAutoTopUpForm reads the settings form: dollar amounts for the
// threshold and the cap, a package's cents for the amount.
func newAutoTopUpForm(lang string, form url.Values, packages []int64) autoTopUpForm {
	f := autoTopUpForm{Enabled: form.Get("enabled") == "on", Errors: map[string]string{}}
	dollars := func(name, labelKey string, lo, hi int64) int64 {
		micros, err := rating.ParseDollars(form.Get(name))
		if err != nil || micros%10_000 != 0 || micros/10_000 < lo || micros/10_000 > hi {
			f.Errors[name] = i18n.T(lang, "autotopup.err_amount_range", "Field", i18n.T(lang, labelKey), "Low", i18n.Money(lang, lo), "High", i18n.Money(lang, hi))
			return 0
		}
		return micros / 10_000
	}
	f.Threshold = dollars("threshold", "autotopup.threshold_name", 1_00, autoTopUpMaxThreshold)
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	known := false
	for _, p := range packages {
		known = known || (err == nil && p == amount)
	}
	if !known {
		f.Errors["amount"] = i18n.T(lang, "autotopup.err_choose")
	} else {
		f.Amount = amount
	}
	f.Cap = dollars("cap", "autotopup.cap_name", 1_00, autoTopUpMaxCap)
	if f.Errors["cap"] == "" && f.Amount > 0 && f.Cap < f.Amount {
		f.Errors["cap"] = i18n.T(lang, "autotopup.err_cap", "Amount", i18n.Money(lang, f.Amount))
	}
	return f
}

// showAutoTopUp is Credits' automatic top-up page: the signed-in user's
// settings, the card it pays with, what it added this month.
func (s *Server) showAutoTopUp(w http.ResponseWriter, r *http.Request) {
	s.renderAutoTopUp(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderAutoTopUp(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string) {
	u := currentUser(r)
	q := db.New(s.pool)
	d := autoTopUpData{Packages: s.cfg.TopUpPackages}
	st, err := q.GetAutoTopUp(r.Context(), u.ID)
	switch {
	case err == nil:
		d.Settings, d.Saved = st, true
	case errors.Is(err, db.ErrNotFound):
		d.Settings = db.AutoTopUp{ThresholdCents: 5_00, MonthlyCapCents: 50_00}
		if len(d.Packages) > 0 {
			d.Settings.AmountCents = d.Packages[min(1, len(d.Packages)-1)]
		}
	default:
		s.serverError(w, r, err)
		return
	}
	card, err := q.GetPaymentCustomer(r.Context(), u.ID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	d.HasCard = err == nil && card.DefaultPaymentMethodID != nil
	if d.SpentCents, err = q.AutoTopUpSpentThisMonth(r.Context(), u.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Recent, err = q.ListAutoTopUpRuns(r.Context(), db.ListAutoTopUpRunsParams{UserID: u.ID, Limit: 5}); err != nil {
		s.serverError(w, r, err)
		return
	}
	if form == nil {
		form = url.Values{
			"threshold": {Money(d.Settings.ThresholdCents)[1:]}, "amount": {strconv.FormatInt(d.Settings.AmountCents, 10)},
			"cap": {Money(d.Settings.MonthlyCapCents)[1:]},
		}
		if d.Settings.Enabled {
			form.Set("enabled", "on")
		}
	}
	s.render(w, r, status, "autotopup", pageData{Tab: "credits", Form: form, Errors: errs, Data: d})
}

// saveAutoTopUp stores the signed-in user's settings. Turned on, the
// workflow is told at once (signal-with-start), so a balance already
// below the threshold is topped up now; turned off, a running workflow is
// told and ends.
func (s *Server) saveAutoTopUp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	f := newAutoTopUpForm(langOf(r), r.PostForm, s.cfg.TopUpPackages)
	if f.Enabled && len(f.Errors) == 0 {
		card, err := db.New(s.pool).GetPaymentCustomer(r.Context(), u.ID)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			s.serverError(w, r, err)
			return
		}
		if err != nil || card.DefaultPaymentMethodID == nil {
			f.Errors["form"] = "Automatic top-up pays with a saved card, and you have none. Tick “Save this card” on your next top-up, then come back."
		}
	}
	if len(f.Errors) > 0 {
		s.renderAutoTopUp(w, r, http.StatusUnprocessableEntity, r.PostForm, f.Errors)
		return
	}
	if _, err := db.New(s.pool).SaveAutoTopUp(r.Context(), db.SaveAutoTopUpParams{UserID: u.ID, AccountID: u.AccountID, Enabled: f.Enabled,
		ThresholdCents: f.Threshold, AmountCents: f.Amount, MonthlyCapCents: f.Cap}); err != nil {
		s.serverError(w, r, err)
		return
	}
	log := s.log.With().Str("user_id", u.ID.String()).Str("workflow_id", workflows.AutoTopUpWorkflowID(u.ID.String())).Logger()
	// A stuck Temporal must not hang the page: the settings are saved.
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var err error
	if f.Enabled {
		err = activities.SignalAutoTopUp(ctx, s.temporal, s.cfg.TemporalTaskQueue, u.ID.String(), "settings")
	} else {
		err = s.temporal.SignalWorkflow(ctx, workflows.AutoTopUpWorkflowID(u.ID.String()), "", workflows.SignalAutoTopUpCheck,
			workflows.AutoTopUpCheck{Reason: "settings"})
		var gone *serviceerror.NotFound
		if errors.As(err, &gone) {
			err = nil
		}
	}
	if err != nil {
		// Saved all the same: the next charge below the threshold starts
		// it, and a running one reads the settings when it next looks.
		log.Warn().Err(err).Msg("auto top-up saved; its workflow was not told")
	}
	log.Info().Bool("enabled", f.Enabled).Int64("threshold_cents", f.Threshold).Int64("amount_cents", f.Amount).
		Int64("cap_cents", f.Cap).Msg("auto top-up saved")
	if f.Enabled {
		s.setFlash(r, "flash.autotopup_on", "ThresholdCents", f.Threshold, "AmountCents", f.Amount, "CapCents", f.Cap)
	} else {
		s.setFlash(r, "flash.autotopup_off")
	}
	http.Redirect(w, r, "/credits/auto", http.StatusSeeOther)
}

// dismissAutoTopUpNotice hides the signed-in user's banner saying we
// turned auto top-up off.
func (s *Server) dismissAutoTopUpNotice(w http.ResponseWriter, r *http.Request) {
	if err := db.New(s.pool).DismissAutoTopUpNotice(r.Context(), currentUser(r).ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/credits/auto", http.StatusSeeOther)
}
