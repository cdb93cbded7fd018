package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/workflows"
)

// Stuck calls, as support reads them: the reason in a sentence with the
// amount involved, the actions that fit (Retry, Waive), and what each
// action came to, recorded after it completed (admin_action_outcomes).

// stuckReason is why a call's billing is stuck, for a first-day agent:
// Sentence says it plainly; Detail is the error as the system wrote it,
// behind a "show" toggle; Next says what to do.
type stuckReason struct {
	Sentence, Next, Detail string
}

var (
	// activityErrorPrefix is the SDK's wrapping of an activity's failure:
	// "activity error (type: ChargeCall, scheduledEventID: 9, ...): ".
	activityErrorPrefix = regexp.MustCompile(`activity error \([^)]*\):\s*`)
	// errorTypeSuffix is an application error's " (type: X, retryable: y)".
	errorTypeSuffix = regexp.MustCompile(`\s*\(type: [A-Za-z]+, retryable: (true|false)\)`)
	// refusedRule is the ledger's "the database refused it (constraint)".
	refusedRule = regexp.MustCompile(`the database refused it \(([^)]+)\)`)
)

// plainError strips the SDK's wrapping from an error chain and drops the
// repeats it leaves: an application error repeats its cause's message
// ("a: b: a: b" becomes "a: b"), so a part said before is not said again.
// The whole error stays in the workflow's state on the page.
func plainError(s string) string {
	s = activityErrorPrefix.ReplaceAllString(s, "")
	s = errorTypeSuffix.ReplaceAllString(s, "")
	seen := map[string]bool{}
	var out []string
	for _, p := range strings.Split(s, ": ") {
		p = strings.TrimSpace(p)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// explainStuck turns a stuck call's error (billing_error, or the
// workflow's LastError) into a sentence with the charge's amount and the
// balance now, and the next step.
func explainStuck(errText string, costCents, balanceCents int64) stuckReason {
	r := stuckReason{Detail: plainError(errText)}
	charge := "The charge of " + Money(costCents)
	if costCents <= 0 {
		charge = "The charge"
	}
	retryOrWaive := "Fix the cause, then Retry; or Waive the charge (the call is then settled as not billable)."
	switch {
	case strings.Contains(errText, "no final status from the carrier"):
		r.Sentence = "The carrier never told us how this call ended, so we do not know what to bill."
		r.Next = "Retry asks the carrier again now. If the carrier has no record of the call, Waive it."
	case strings.Contains(errText, ledger.ErrAlreadyPosted.Error()):
		r.Sentence = charge + " was refused: this call already has a charge in the ledger under another key."
		r.Next = "Look at the call's ledger entries below. If the call is charged, Waive this second charge."
	case strings.Contains(errText, ledger.ErrIdempotencyConflict.Error()):
		r.Sentence = charge + " was refused: the ledger already holds a different charge for this call."
		r.Next = "Look at the call's ledger entries below; Waive if the charge there is right."
	case strings.Contains(errText, ledger.ErrInsufficientFunds.Error()):
		r.Sentence = fmt.Sprintf("%s was refused: the balance was too low (it is %s now).", charge, Money(balanceCents))
		r.Next = retryOrWaive
	case refusedRule.MatchString(errText):
		rule := refusedRule.FindStringSubmatch(errText)[1]
		r.Sentence = fmt.Sprintf("%s was refused by a rule of the database (%s).", charge, rule)
		r.Next = retryOrWaive
	case strings.Contains(errText, ledger.ErrInvalidEntry.Error()):
		r.Sentence = charge + " was refused by the ledger's rules."
		r.Next = retryOrWaive
	case strings.Contains(errText, "workflow ended"):
		r.Sentence = "The call's workflow ended before it billed the call (an operator's terminate, or its 30-day limit), so nothing will bill it."
		r.Next = "Nothing here can retry it: charge it by hand with a debit on the user's page if it should be billed."
	default:
		r.Sentence = charge + " could not be posted."
		r.Next = retryOrWaive
	}
	return r
}

// stuckRow is one stuck call on the dashboard: who, which number, the
// amount, why, and since when.
type stuckRow struct {
	stuckCall
	Email, Number string
	CostCents     int64
	Reason        string
	Since         time.Time
	Known         bool // the row was found in Postgres
}

// Age is how long the call has been stuck, rounded for a person.
func (r stuckRow) Age() string { return roughAge(time.Since(r.Since)) }

// roughAge says a duration the way a person would: "3 min", "2 h", "4 days".
func roughAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// stuckRows joins the stuck calls Temporal listed with their rows.
func (s *Server) stuckRows(ctx context.Context, q *db.Queries, calls []stuckCall) ([]stuckRow, error) {
	ids := make([]uuid.UUID, 0, len(calls))
	for _, c := range calls {
		if id, err := uuid.Parse(c.CallID); err == nil {
			ids = append(ids, id)
		}
	}
	rows, err := q.ListStuckCalls(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]db.ListStuckCallsRow, len(rows))
	for _, row := range rows {
		byID[row.ID.String()] = row
	}
	out := make([]stuckRow, 0, len(calls))
	for _, c := range calls {
		r := stuckRow{stuckCall: c, Since: c.Started}
		if row, ok := byID[c.CallID]; ok {
			r.Known, r.Email, r.Number, r.Since = true, row.Email, row.PhoneNumber, row.UpdatedAt
			if row.CostCents != nil {
				r.CostCents = *row.CostCents
			}
			errText := ""
			if row.BillingError != nil {
				errText = *row.BillingError
			}
			r.Reason = explainStuck(errText, r.CostCents, row.CachedBalanceCents).Sentence
		}
		out = append(out, r)
	}
	return out, nil
}

// waiveBilling settles a stuck call as not billable: support gives a
// reason (required), the call's workflow is signalled (waive-billing, for
// the attempt support saw), the action is audited, and its outcome is
// recorded once the workflow has settled the call. Nothing is posted.
func (s *Server) waiveBilling(w http.ResponseWriter, r *http.Request) {
	call, ok := loadByID(s, w, r, (*db.Queries).GetCall)
	if !ok || !s.parseForm(w, r) {
		return
	}
	id, q := call.ID, db.New(s.pool)
	back := "/admin/calls/" + id.String()
	wid := workflows.CallWorkflowID(id.String())
	reason, msg := checkReason(r.PostForm.Get("reason"))
	if msg != "" && call.BillingState == workflows.BillingStuck {
		s.setFlashError(r, "Nothing was waived: "+msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	admin := currentUser(r)
	before, ok := s.signalStuckCall(w, r, call, "waive", "waived", workflows.SignalWaiveBilling, func(before workflows.CallState) any {
		return workflows.WaiveSignal{Reason: reason, By: admin.ID.String(), Attempts: before.BillingAttempts}
	}, "")
	if !ok {
		return
	}
	actionID, err := s.auditAction(r.Context(), q, admin.ID, auditEntry{Action: "waive_billing", TargetType: "call", TargetID: id.String(),
		Reason: reason, Details: map[string]any{"cost_cents": before.CostCents, "last_error": plainError(before.LastError),
			"billing_attempts": before.BillingAttempts}})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("call_id", id.String()).Str("workflow_id", wid).Str("admin_id", admin.ID.String()).Msg("admin: waive-billing sent")
	row := s.awaitBilling(r.Context(), id, func(c db.Call) bool { return c.BillingState != workflows.BillingStuck })
	if row.BillingState == workflows.BillingNotBillable {
		s.recordOutcome(r.Context(), actionID, true, "waived "+Money(before.CostCents)+": settled as not billable, nothing charged")
		s.setFlash(r, "Waived: the call is settled as not billable; nothing was charged.")
	} else {
		s.recordOutcome(r.Context(), actionID, false, "not settled yet: billing is "+row.BillingState)
		s.setFlashError(r, "The waiver was sent, but the call is not settled yet (billing is "+row.BillingState+"). Reload in a moment.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// signalStuckCall is the part Retry and Waive share: only a call whose row
// says stuck (else "Nothing to <verb>"), its state read first (before),
// then signal sent with arg(before). Each failure is said in red and
// answered with a redirect to the call's page; ok is false then.
func (s *Server) signalStuckCall(w http.ResponseWriter, r *http.Request, call db.Call, verb, done, signal string,
	arg func(before workflows.CallState) any, prefix string) (before workflows.CallState, ok bool) {
	back := "/admin/calls/" + call.ID.String()
	fail := func(flash func(*http.Request, string, ...any), msg string) (workflows.CallState, bool) {
		flash(r, prefix+msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return before, false
	}
	if call.BillingState != workflows.BillingStuck {
		return fail(s.setFlash, "Nothing to "+verb+": this call's billing is "+call.BillingState+".")
	}
	wid := workflows.CallWorkflowID(call.ID.String())
	if _, err := s.queryState(r.Context(), wid, &before); err != nil {
		return fail(s.setFlashError, "Nothing was "+done+": the call's workflow cannot be reached ("+plainError(err.Error())+").")
	}
	sctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	err := s.temporal.SignalWorkflow(sctx, wid, "", signal, arg(before))
	cancel()
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", call.ID.String()).Str("workflow_id", wid).Str("signal", signal).Msg("admin: signal a stuck call")
		return fail(s.setFlashError, "Nothing was "+done+": the request could not reach the call's workflow. Try again.")
	}
	return before, true
}

// awaitBilling reads the call's row until done holds, for up to 10 s, and
// returns the last row read.
func (s *Server) awaitBilling(ctx context.Context, id uuid.UUID, done func(db.Call) bool) db.Call {
	q := db.New(s.pool)
	var row db.Call
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c, err := q.GetCall(ctx, id)
		if err == nil {
			row = c
			if done(c) {
				return row
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return row
		}
	}
}

// recordOutcome records what a staff action came to, once; a failure to
// record it is logged (the action itself happened and is in the log).
func (s *Server) recordOutcome(ctx context.Context, actionID int64, ok bool, outcome string) {
	if actionID == 0 {
		return
	}
	if len(outcome) > 1000 {
		outcome = outcome[:1000]
	}
	err := db.New(s.pool).InsertAdminActionOutcome(context.WithoutCancel(ctx), db.InsertAdminActionOutcomeParams{ActionID: actionID, Ok: ok, Outcome: outcome})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn().Err(err).Int64("action_id", actionID).Msg("admin: record an action's outcome")
	}
}

// creditAndRetry is a stuck call's Credit and retry: a credit to the
// caller (an adjustment, reason required, password re-entered when stale,
// audited, once per call), then the retry. No charge is ever stuck for
// want of money (the debt rule): the credit is support's goodwill towards
// a caller whose call went wrong (a refund that cut it short, a charge our
// side could not post), given in the same step as the retry so the
// caller's balance and the charge land together.
func (s *Server) creditAndRetry(w http.ResponseWriter, r *http.Request) {
	call, ok := loadByID(s, w, r, (*db.Queries).GetCall)
	if !ok || !s.parseForm(w, r) {
		return
	}
	back := "/admin/calls/" + call.ID.String()
	fail := func(msg string) {
		s.setFlashError(r, "Nothing was credited or retried: "+msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
	if call.BillingState != workflows.BillingStuck {
		s.setFlash(r, "Nothing to retry: this call's billing is "+call.BillingState+".")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if !s.confirmPassword(w, r, r.PostForm, "credit", func(_ int, errs map[string]string) { fail(errs["credit"]) }) {
		return
	}
	cents, msg := parseAdjustmentAmount(r.PostForm.Get("amount"))
	if msg != "" {
		fail(msg)
		return
	}
	reason, msg := checkReason(r.PostForm.Get("reason"))
	if msg != "" {
		fail(msg)
		return
	}
	// The workflow must be there to retry before anything is credited.
	var before workflows.CallState
	if _, err := s.queryState(r.Context(), workflows.CallWorkflowID(call.ID.String()), &before); err != nil {
		fail("the call's workflow cannot be reached (" + plainError(err.Error()) + ").")
		return
	}
	// One Credit and retry credit per call, whatever the form: pressing
	// it again (after a retry that did not charge, or from another tab)
	// retries without crediting twice. Another credit is the user page's.
	key := "credit-retry:" + call.ID.String()
	admin := currentUser(r)
	if call.UserID == admin.ID {
		fail("you cannot credit your own balance. Ask another admin.")
		return
	}
	note := "Credit for your call to " + call.PhoneNumber
	var posted ledger.Posted
	var creditAction int64
	err := db.InTx(r.Context(), s.pool, func(q *db.Queries) error {
		var err error
		posted, err = ledger.New(q.DB()).Post(r.Context(), ledger.Entry{Key: "admin:" + key, AccountID: call.AccountID,
			Kind: ledger.Adjustment, AmountCents: cents, Memo: note})
		if err != nil || posted.Replayed {
			return err
		}
		creditAction, err = s.auditAction(r.Context(), q, admin.ID, auditEntry{Action: "adjustment", TargetType: "user", TargetID: call.UserID.String(),
			Reason: reason, Key: "admin:" + key, Details: map[string]any{"amount_cents": cents, "entry_id": posted.ID,
				"balance_after_cents": posted.BalanceAfterCents, "customer_note": note, "call_id": call.ID.String(), "credit_and_retry": true}})
		if err == nil && creditAction == 0 {
			err = errFormUsed
		}
		return err
	})
	switch {
	case errors.Is(err, ledger.ErrIdempotencyConflict), errors.Is(err, errFormUsed):
		fail("this call already had a Credit and retry of another amount. Retry billing retries it; another credit is the customer's page's adjustment.")
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	credited := "Credited " + Money(cents) + " (entry " + fmt.Sprint(posted.ID) + "). "
	if posted.Replayed {
		credited = "This call's credit of " + Money(cents) + " was posted before (entry " + fmt.Sprint(posted.ID) + "), not again. "
	} else {
		s.recordOutcome(r.Context(), creditAction, true, fmt.Sprintf("credited %s for the call to %s (entry %d), then retried",
			Money(cents), call.PhoneNumber, posted.ID))
		s.metrics.LedgerPosted(string(ledger.Adjustment))
		s.log.Info().Str("admin_id", admin.ID.String()).Str("call_id", call.ID.String()).Int64("amount_cents", cents).
			Int64("entry_id", posted.ID).Msg("admin: credit before a retry")
	}
	s.retryStuck(w, r, call, credited)
}
