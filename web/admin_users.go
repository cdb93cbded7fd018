package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// The support console's users: find a user, see their account, correct
// their balance with a manual adjustment through the ledger, and disable
// or re-enable them. Each change is one transaction together with its
// audit row, under an idempotency key the page generated, so a form sent
// twice acts once.

const (
	// maxAdjustmentCents bounds one manual adjustment, either way.
	maxAdjustmentCents = 50_000
	adminUserEntries   = 50
)

var (
	// errFormUsed: the form's key was recorded before (a resubmitted
	// form): nothing more is done.
	errFormUsed = errors.New("web: admin form already submitted")
	// errNoChange: the user is already in the state asked for.
	errNoChange = errors.New("web: nothing to change")
)

type adminUsersData struct {
	Query    string
	Searched bool
	Users    []db.SearchUsersRow
}

// showAdminUsers finds users by the start of their email, or by their id.
func (s *Server) showAdminUsers(w http.ResponseWriter, r *http.Request) {
	term := strings.TrimSpace(r.URL.Query().Get("q"))
	d := adminUsersData{Query: term}
	p := pageData{Tab: "admin", Data: &d}
	switch {
	case len(term) > 200:
		p.Errors = map[string]string{"q": "Search with at most 200 characters."}
	case term != "":
		prefix := strings.ToLower(term)
		params := db.SearchUsersParams{EmailPrefix: &prefix}
		if id, err := uuid.Parse(term); err == nil {
			params.ID = &id
		}
		users, err := db.New(s.pool).SearchUsers(r.Context(), params)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		d.Users, d.Searched = users, true
	}
	s.render(w, r, http.StatusOK, "admin_users", p)
}

// adminCallRow is one of the user's calls as their support page lists it.
type adminCallRow struct {
	callRow
	BillingState string
}

type adminUserData struct {
	User         db.User
	BalanceCents int64
	Calls        []adminCallRow
	TopUps       []db.TopUp
	Entries      []db.ListWalletEntriesRow
	Actions      []db.ListAdminActionsForTargetRow
	// Self: the admin is looking at their own account (they cannot
	// adjust its balance or disable it).
	Self bool
	// Key and AccessKey are the idempotency keys of the adjustment form
	// and of the disable/enable form.
	Key, AccessKey string
	MaxAdjustment  int64

	// CallPages and TopUpPages: the lists' Older and Newer links
	// (admin_user_paging.go); WorkflowsLink: the user's workflows in the
	// Temporal UI's list.
	CallPages, TopUpPages pageLinks
	WorkflowsLink         string
}

// showAdminUser is everything support needs about one user.
func (s *Server) showAdminUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminTarget(w, r)
	if !ok {
		return
	}
	s.renderAdminUser(w, r, http.StatusOK, id, pageData{})
}

// adminTarget parses the user id in the URL and checks that the user
// exists; an unknown or malformed id is answered 404.
func (s *Server) adminTarget(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	u, ok := loadByID(s, w, r, (*db.Queries).GetUserByID)
	return u.ID, ok
}

// renderAdminUser renders the user's page with p's form values and
// errors. The forms keep a valid key they were sent with (so a corrected
// form is still the same submission) and get a fresh one otherwise.
func (s *Server) renderAdminUser(w http.ResponseWriter, r *http.Request, status int, id uuid.UUID, p pageData) {
	ctx := r.Context()
	q := db.New(s.pool)
	u, err := q.GetUserWithBalance(ctx, id)
	if !s.found(w, r, err) {
		return
	}
	d := adminUserData{User: u.User, BalanceCents: u.CachedBalanceCents, MaxAdjustment: maxAdjustmentCents,
		Key: formKeyOrNew(p.Form.Get("key")), AccessKey: formKeyOrNew(p.Form.Get("access_key"))}
	if admin := currentUser(r); admin != nil {
		d.Self = admin.ID == id
	}
	d.WorkflowsLink = s.temporalListLink(userWorkflowsQuery(id.String()))
	calls, topups, callPages, topUpPages, ok, err := adminUserLists(ctx, q, id, r.URL.Query())
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Bad page", "That page of this user's calls or top-ups does not exist.")
		return
	}
	d.TopUps, d.CallPages, d.TopUpPages = topups, callPages, topUpPages
	for _, c := range calls {
		d.Calls = append(d.Calls, adminCallRow{callRow: toCallRow(c, time.UTC), BillingState: c.BillingState})
	}
	if err == nil {
		if d.Entries, err = q.ListWalletEntries(ctx, db.ListWalletEntriesParams{AccountID: u.AccountID, PageSize: adminUserEntries}); err == nil {
			d.Actions, err = q.ListAdminActionsForTarget(ctx, db.ListAdminActionsForTargetParams{TargetType: "user", TargetID: id.String()})
		}
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p.Tab, p.Data = "admin", d
	s.render(w, r, status, "admin_user", p)
}

// formKeyOrNew is the form's idempotency key if it is one, or a fresh one.
func formKeyOrNew(s string) string {
	if k, ok := parseFormKey(s); ok {
		return k
	}
	return uuid.NewString()
}

// parseFormKey reads a form's idempotency key: a UUID, written the one way
// uuid writes it.
func parseFormKey(s string) (string, bool) {
	k, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil || k == uuid.Nil {
		return "", false
	}
	return k.String(), true
}

// adjustmentForm is the manual credit or debit form, parsed.
type adjustmentForm struct {
	Cents  int64 // signed: a debit is negative
	Reason string
	// Note is what the customer reads on the entry (Transactions); the
	// reason stays in the audit log, for staff only.
	Note string
	// DuringCall: the admin confirmed a debit while the user is on a call.
	DuringCall bool
	Key        string
	Errors     map[string]string
}

// maxNote bounds the customer's note of an adjustment.
const maxNote = 140

// defaultNote is the customer's note of an adjustment given none.
func defaultNote(cents int64) string {
	if cents < 0 {
		return "Correction by support"
	}
	return "Credit from support"
}

func parseAdjustmentForm(f url.Values) adjustmentForm {
	a := adjustmentForm{Errors: map[string]string{}}
	cents, msg := parseAdjustmentAmount(f.Get("amount"))
	if msg != "" {
		a.Errors["amount"] = msg
	}
	switch f.Get("direction") {
	case "credit":
		a.Cents = cents
	case "debit":
		a.Cents = -cents
	default:
		a.Errors["direction"] = "Choose credit (add to the balance) or debit (take from it)."
	}
	if a.Reason, msg = checkReason(f.Get("reason")); msg != "" {
		a.Errors["reason"] = msg
	}
	a.Note = strings.TrimSpace(f.Get("note"))
	switch {
	case utf8.RuneCountInString(a.Note) > maxNote:
		a.Errors["note"] = fmt.Sprintf("Keep the customer's note to %d characters.", maxNote)
	case strings.ContainsFunc(a.Note, unicode.IsControl):
		a.Errors["note"] = "The note contains characters that cannot be stored."
	case a.Note == "":
		a.Note = defaultNote(a.Cents)
	}
	a.DuringCall = f.Get("during_call") == "yes"
	var ok bool
	if a.Key, ok = parseFormKey(f.Get("key")); !ok {
		a.Errors["form"] = "This form is out of date or damaged. Reload the page and fill it in again."
	}
	return a
}

// parseAdjustmentAmount reads a positive amount in dollars with at most two
// decimals, at most maxAdjustmentCents, into cents, without floats. The
// message says what is wrong ("" when nothing is).
func parseAdjustmentAmount(s string) (int64, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "Enter an amount in dollars, such as 5.00."
	}
	if strings.ContainsAny(s, "+-") {
		return 0, "Enter the amount without a sign, and choose credit or debit."
	}
	if _, frac, _ := strings.Cut(s, "."); len(frac) > 2 {
		return 0, "Use at most two decimals (whole cents)."
	}
	micros, err := rating.ParseDollars(s)
	if err != nil {
		return 0, "Enter an amount in dollars, such as 5.00."
	}
	cents := micros / 10_000
	switch {
	case cents == 0:
		return 0, "The amount must be at least $0.01."
	case cents > maxAdjustmentCents:
		return 0, "At most " + Money(maxAdjustmentCents) + " at a time."
	}
	return cents, ""
}

// checkReason trims a staff reason and checks it: 3 to 500 characters,
// text that Postgres can store.
func checkReason(s string) (string, string) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n < 3:
		return s, "Say why, in at least 3 characters: it is kept in the audit log."
	case n > 500:
		return s, fmt.Sprintf("Keep the reason to 500 characters (this one has %d).", n)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }):
		return s, "The reason contains characters that cannot be stored."
	}
	return s, ""
}

// adjustBalance posts a manual credit or debit to the user's wallet and
// records it in the audit log, in one transaction, once per form (key
// admin:<key>). A resubmitted form is a success that changes nothing; the
// same key with another amount is refused.
func (s *Server) adjustBalance(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminTarget(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	if !s.confirmPassword(w, r, r.PostForm, "adjust_password", func(status int, errs map[string]string) {
		s.renderAdminUser(w, r, status, id, pageData{Form: r.PostForm, Errors: errs})
	}) {
		return
	}
	f := parseAdjustmentForm(r.PostForm)
	admin := currentUser(r)
	if id == admin.ID {
		// Staff do not move money into or out of their own wallet.
		f.Errors["form"] = "You cannot adjust your own balance. Ask another admin."
	}
	ctx := r.Context()
	if len(f.Errors) == 0 && f.Cents < 0 && !f.DuringCall {
		// A debit while a call is going on can cut it short: say so, and
		// post only once the admin confirms.
		if c, err := db.New(s.pool).GetActiveCallForUser(ctx, id); err == nil {
			f.Errors["during_call"] = "This customer has a call in progress (to " + c.PhoneNumber + ", " + workflows.StatusLabel(c.Status) +
				"). A debit now can leave the call short of money. Nothing was posted: tick “Debit during the call” and send again to go ahead."
		} else if !errors.Is(err, db.ErrNotFound) {
			s.serverError(w, r, err)
			return
		}
	}
	if len(f.Errors) > 0 {
		s.renderAdminUser(w, r, http.StatusUnprocessableEntity, id, pageData{Form: r.PostForm, Errors: f.Errors})
		return
	}
	key := "admin:" + f.Key
	var posted ledger.Posted
	var user db.User
	var accountID uuid.UUID
	err := db.InTx(ctx, s.pool, func(q *db.Queries) error {
		u, err := q.GetUserWithBalance(ctx, id)
		if err != nil {
			return err
		}
		user, accountID = u.User, u.AccountID
		posted, err = ledger.New(q.DB()).Post(ctx, ledger.Entry{Key: key, AccountID: u.AccountID, Kind: ledger.Adjustment,
			AmountCents: f.Cents, Memo: f.Note})
		if err != nil || posted.Replayed {
			// A replay was audited with its first post.
			return err
		}
		recorded, err := s.audit(ctx, q, admin.ID, auditEntry{Action: "adjustment", TargetType: "user", TargetID: id.String(),
			Reason: f.Reason, Key: key, Details: map[string]any{
				"amount_cents": f.Cents, "entry_id": posted.ID, "balance_after_cents": posted.BalanceAfterCents,
				"customer_note": f.Note, "during_call": f.DuringCall}})
		if err == nil && !recorded {
			// The key was recorded for another action: post nothing.
			err = errFormUsed
		}
		return err
	})
	var short *ledger.InsufficientFundsError
	switch {
	case errors.As(err, &short):
		s.renderAdminUser(w, r, http.StatusUnprocessableEntity, id, pageData{Form: r.PostForm, Errors: map[string]string{
			"amount": fmt.Sprintf("A debit of %s would take the balance below zero: it is %s. Nothing was posted.",
				Money(-f.Cents), Money(short.BalanceCents)),
		}})
		return
	case errors.Is(err, ledger.ErrIdempotencyConflict), errors.Is(err, errFormUsed):
		form := cloneValues(r.PostForm)
		form.Del("key") // the corrected form is a new submission
		s.renderAdminUser(w, r, http.StatusConflict, id, pageData{Form: form, Errors: map[string]string{
			"form": "This form was already sent with a different amount, so nothing was posted. Check the ledger below; the form can now be sent again.",
		}})
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	what := "Credited " + Money(f.Cents) + " to " + user.Email
	if f.Cents < 0 {
		what = "Debited " + Money(-f.Cents) + " from " + user.Email
	}
	if posted.Replayed {
		s.setFlash(r, "Already recorded: this form was sent before. "+what+" once (entry "+fmt.Sprint(posted.ID)+"); nothing more was done.")
	} else {
		s.metrics.LedgerPosted(string(ledger.Adjustment))
		s.log.Info().Str("admin_id", admin.ID.String()).Str("user_id", id.String()).Int64("amount_cents", f.Cents).
			Int64("entry_id", posted.ID).Msg("admin: balance adjusted")
		s.setFlash(r, what+": the balance is now "+Money(posted.BalanceAfterCents)+".")
	}
	// A call in progress reads the new balance: a debit can cut it short,
	// a credit lift a cut. Told on a replay too (the first send may have
	// been lost); the call reads the balance itself, so twice is harmless.
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = activities.TellCallInProgress(tctx, db.New(s.pool), s.temporal, accountID, "adjustment")
	cancel()
	if err != nil {
		s.log.Warn().Err(err).Str("user_id", id.String()).Msg("admin: tell the call in progress of the adjustment")
		s.setFlashError(r, what+", but the call in progress could not be told: it keeps its limit until it ends.")
	}
	http.Redirect(w, r, "/admin/users/"+id.String(), http.StatusSeeOther)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// disableUser stops a user: they cannot sign in, their sessions end on
// their next request, they cannot place a call, and their call in
// progress, if any, is hung up.
func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) { s.setUserAccess(w, r, true) }

// enableUser lets a disabled user back in.
func (s *Server) enableUser(w http.ResponseWriter, r *http.Request) { s.setUserAccess(w, r, false) }

func (s *Server) setUserAccess(w http.ResponseWriter, r *http.Request, disable bool) {
	id, ok := s.adminTarget(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	if disable && !s.confirmPassword(w, r, r.PostForm, "access_password", func(status int, errs map[string]string) {
		s.renderAdminUser(w, r, status, id, pageData{Form: r.PostForm, Errors: errs})
	}) {
		return
	}
	ctx := r.Context()
	admin := currentUser(r)
	errs := map[string]string{}
	reason, msg := checkReason(r.PostForm.Get("access_reason"))
	if msg != "" {
		errs["access_reason"] = msg
	}
	key, ok := parseFormKey(r.PostForm.Get("access_key"))
	if !ok {
		errs["access"] = "This form is out of date or damaged. Reload the page and fill it in again."
	}
	if disable && id == admin.ID {
		errs["access"] = "You cannot disable your own account. Ask another admin."
	}
	if len(errs) > 0 {
		s.renderAdminUser(w, r, http.StatusUnprocessableEntity, id, pageData{Form: r.PostForm, Errors: errs})
		return
	}
	action := "enable_user"
	if disable {
		action = "disable_user"
	}
	var user db.User
	err := db.InTx(ctx, s.pool, func(q *db.Queries) error {
		u, err := q.GetUserByID(ctx, id)
		if err != nil {
			return err
		}
		user = u
		details := map[string]any{}
		if u.DisabledAt != nil {
			details["disabled_at"] = u.DisabledAt.UTC().Format(time.RFC3339)
		}
		recorded, err := s.audit(ctx, q, admin.ID, auditEntry{Action: action, TargetType: "user", TargetID: id.String(),
			Reason: reason, Key: "admin:" + key, Details: details})
		switch {
		case err != nil:
			return err
		case !recorded:
			return errFormUsed
		case (u.DisabledAt != nil) == disable:
			return errNoChange // and the audit row is rolled back
		}
		user, err = q.SetUserDisabled(ctx, db.SetUserDisabledParams{Disabled: disable, ID: id})
		return err
	})
	back := "/admin/users/" + id.String()
	var flash string
	switch {
	case errors.Is(err, errFormUsed):
		s.setFlash(r, "Already recorded: this form was sent before, so nothing more was done.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	case errors.Is(err, errNoChange) && disable:
		flash = user.Email + " was already disabled; nothing was recorded."
	case errors.Is(err, errNoChange):
		flash = user.Email + " is not disabled; nothing was recorded."
	case err != nil:
		s.serverError(w, r, err)
		return
	case disable:
		flash = "Disabled " + user.Email + ": they are signed out and cannot sign in or call."
	default:
		flash = "Re-enabled " + user.Email + ": they can sign in and call again."
	}
	if err == nil {
		s.log.Info().Str("admin_id", admin.ID.String()).Str("user_id", id.String()).Str("action", action).Msg("admin: user access changed")
	}
	if disable {
		// After the commit, and not inside it: a network call. Not tied
		// to the admin's browser staying on the page.
		ended, err := s.endActiveCall(context.WithoutCancel(ctx), id)
		switch {
		case err != nil:
			s.log.Warn().Err(err).Str("user_id", id.String()).Msg("admin: end the call of a disabled user")
			flash += " Their call in progress could not be ended (" + err.Error() + "); it is billed as usual when it ends. Disable again to retry."
		case ended:
			flash += " Their call in progress was ended."
		default:
			flash += " No call was in progress."
		}
	}
	s.setFlash(r, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// callEnder hangs up a call in progress: Twilio's REST API, or the carrier
// simulator.
type callEnder interface {
	EndCall(ctx context.Context, callID, parentSid string) error
}

// endActiveCall ends the user's call in progress, if any (support disabled
// them). A call not yet connected cannot be claimed by a disabled user and
// is cancelled by its workflow's timer; one connected is hung up at the
// carrier, and its workflow bills it as usual from the final callback.
func (s *Server) endActiveCall(ctx context.Context, userID uuid.UUID) (ended bool, err error) {
	call, err := db.New(s.pool).GetActiveCallForUser(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if call.ParentCallSid == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.ender.EndCall(ctx, call.ID.String(), *call.ParentCallSid); err != nil {
		return false, err
	}
	return true, nil
}
