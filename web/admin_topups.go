package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// The support console's top-ups (issue 24): the top-up page with its
// refunds and failed attempts, a refund through Stripe (in full or in
// part), the cancel of an unpaid one, and the list of declined and failed
// payments. The console only asks Stripe: the refund's ledger reversal
// comes from Stripe's charge.refunded webhook (ReverseTopUp, key
// stripe:refund:<refund id>, once per refund) and a cancel's row change
// from payment_intent.canceled, exactly as for a refund or cancel made
// anywhere else. Each request is audited before Stripe is asked, under the
// form's key, and that key is Stripe's idempotency key, so a form sent
// twice asks for one refund.

// failedPaymentsPage: failed attempts listed per page.
const failedPaymentsPage = 50

type adminTopUpData struct {
	TopUp      db.TopUp
	Email      string
	State      *workflows.TopUpState
	StateJSON  string
	StateError string
	Webhooks   []adminDelivery
	Entries    []db.Transaction
	Audit      []db.ListAdminActionsForTargetRow
	Link       string
	// Refunds are the top-up's refund entries (and the give-backs of
	// refunds that failed), as posted from Stripe's webhooks.
	Refunds []db.Transaction
	// RefundableCents: what support may still refund (paid, less what is
	// refunded or disputed); CanRefund and CanCancel say which form shows.
	RefundableCents      int64
	CanRefund, CanCancel bool
	Failures             []db.PaymentFailure
	// RefundKey and CancelKey are the forms' idempotency keys.
	RefundKey, CancelKey string
}

// refundable is what support may still refund of a top-up: a paid one's
// amount less what was refunded or disputed; nothing for any other.
func refundable(t db.TopUp) int64 {
	if t.Status != workflows.TopUpSucceeded || t.PaymentIntentID == nil {
		return 0
	}
	return max(0, t.AmountCents-t.RefundedCents-t.DisputedCents)
}

// cancellable: a top-up not paid (nor settled), with a PaymentIntent at
// Stripe to cancel.
func cancellable(t db.TopUp) bool {
	switch t.Status {
	case workflows.TopUpCreated, workflows.TopUpProcessing, workflows.TopUpFailed:
		return t.PaymentIntentID != nil
	}
	return false
}

// showAdminTopUp is everything about one top-up: the row, its refunds and
// failed attempts, the actions that fit, and the shared parts
// (adminWorkflow).
func (s *Server) showAdminTopUp(w http.ResponseWriter, r *http.Request) {
	t, ok := loadByID(s, w, r, (*db.Queries).GetTopUp)
	if !ok {
		return
	}
	s.renderAdminTopUp(w, r, http.StatusOK, t, pageData{})
}

// renderAdminTopUp renders the top-up's page with p's form values and
// errors; the forms keep a valid key they were sent with (a corrected form
// is the same request) and get a fresh one otherwise.
func (s *Server) renderAdminTopUp(w http.ResponseWriter, r *http.Request, status int, t db.TopUp, p pageData) {
	id, q := t.ID, db.New(s.pool)
	var st workflows.TopUpState
	parts, err := s.adminWorkflow(r.Context(), q, workflows.TopUpWorkflowID(id.String()), t.UserID, "topup", id.String(), &st,
		func() ([]db.Transaction, error) { return q.ListTopUpEntries(r.Context(), &id) })
	d := adminTopUpData{TopUp: t, Email: parts.Email, StateJSON: parts.StateJSON, StateError: parts.StateError,
		Webhooks: topUpDeliveries(parts.Webhooks), Entries: parts.Entries, Audit: parts.Audit, Link: parts.Link,
		RefundableCents: refundable(t), CanCancel: cancellable(t)}
	d.CanRefund = d.RefundableCents > 0
	if parts.StateOK {
		d.State = &st
	}
	if err == nil {
		d.Failures, err = q.ListPaymentFailuresForTopUp(r.Context(), id)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, e := range d.Entries {
		if e.Kind == string(ledger.Refund) || e.Kind == string(ledger.RefundFailure) {
			d.Refunds = append(d.Refunds, e)
		}
	}
	// Each form keeps its own key: the one sent back when it was the form
	// sent, a fresh one otherwise.
	d.RefundKey, d.CancelKey = formKeyOrNew(""), formKeyOrNew("")
	switch p.Form.Get("form") {
	case "refund":
		d.RefundKey = formKeyOrNew(p.Form.Get("key"))
	case "cancel":
		d.CancelKey = formKeyOrNew(p.Form.Get("key"))
	}
	p.Tab, p.Data = "admin", d
	s.render(w, r, status, "admin_topup", p)
}

// parseRefundAmount reads the refund form's amount: empty is all that is
// left (0), else dollars with at most two decimals, from $0.01 to left.
func parseRefundAmount(s string, left int64) (int64, string) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	if s == "" {
		return 0, ""
	}
	if strings.ContainsAny(s, "+-") {
		return 0, "Enter the amount without a sign, such as 2.00, or leave it empty to refund all that is left."
	}
	if _, frac, _ := strings.Cut(s, "."); len(frac) > 2 {
		return 0, "Use at most two decimals (whole cents)."
	}
	micros, err := rating.ParseDollars(s)
	if err != nil {
		return 0, "Enter an amount in dollars, such as 2.00, or leave it empty to refund all that is left."
	}
	cents := micros / 10_000
	switch {
	case cents <= 0:
		return 0, "The amount must be at least $0.01."
	case cents > left:
		return 0, "At most " + Money(left) + " is left to refund."
	}
	return cents, ""
}

// refundTopUp asks Stripe to refund a paid top-up, in full (amount empty)
// or in part, for a reason (required, audited, and in the refund's
// metadata). The audit row is written first, under the form's key; the
// same key is Stripe's idempotency key, so a resubmitted form names the
// same refund and refunds nothing more. Nothing is posted here: the
// reversal comes from Stripe's webhook, which the page waits a little for.
func (s *Server) refundTopUp(w http.ResponseWriter, r *http.Request) {
	t, ok := loadByID(s, w, r, (*db.Queries).GetTopUp)
	if !ok || !s.parseForm(w, r) {
		return
	}
	rerender := func(status int, errs map[string]string) {
		s.renderAdminTopUp(w, r, status, t, pageData{Form: r.PostForm, Errors: errs})
	}
	if !s.confirmPassword(w, r, r.PostForm, "refund_password", rerender) {
		return
	}
	errs := map[string]string{}
	reason, msg := checkReason(r.PostForm.Get("reason"))
	if msg != "" {
		errs["reason"] = msg
	}
	key, keyOK := parseFormKey(r.PostForm.Get("key"))
	left := refundable(t)
	cents, msg := parseRefundAmount(r.PostForm.Get("amount"), left)
	switch {
	case left <= 0:
		errs["refund"] = "Nothing to refund: this top-up is " + workflows.TopUpLabel(t.Status) + " and has nothing left to refund."
	case !keyOK:
		errs["refund"] = "This form is out of date: reload the page and send it again."
	case msg != "":
		errs["amount"] = msg
	}
	if len(errs) > 0 {
		rerender(http.StatusUnprocessableEntity, errs)
		return
	}
	ctx, admin, topUp := r.Context(), currentUser(r), t.ID.String()
	asked := cents
	if asked == 0 {
		asked = left
	}
	actionID, err := s.auditAction(ctx, db.New(s.pool), admin.ID, auditEntry{Action: "topup_refund", TargetType: "topup", TargetID: topUp,
		Reason: reason, Key: "admin:refund:" + key, Details: map[string]any{"amount_cents": asked, "full": cents == 0,
			"payment_intent": *t.PaymentIntentID, "refundable_cents": left}})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	rf, err := s.payments.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: *t.PaymentIntentID, AmountCents: cents,
		Key: "mobayilo-admin-refund-" + key, TopUpID: topUp, Note: reason})
	switch {
	case errors.Is(err, payments.ErrPermanent) && strings.Contains(err.Error(), "idempotency_error"):
		// This form's key already asked Stripe for a refund with other
		// parameters (sent again, changed, after Stripe was not reached):
		// that first refund may stand.
		s.recordOutcome(ctx, actionID, false, "this form had already asked Stripe for a refund; Stripe refused a changed one")
		s.setFlashError(r, "This form had already asked Stripe for a refund, so Stripe refused a changed one. Check the refunds below before refunding again.")
		http.Redirect(w, r, "/admin/topups/"+topUp, http.StatusSeeOther)
		return
	case errors.Is(err, payments.ErrPermanent):
		why := stripeRefusal(err)
		s.recordOutcome(ctx, actionID, false, "Stripe refused the refund of "+Money(asked)+": "+why)
		s.setFlashError(r, "Stripe refused the refund; nothing was refunded. "+why)
		http.Redirect(w, r, "/admin/topups/"+topUp, http.StatusSeeOther)
		return
	case err != nil:
		// Stripe may have refunded it: the same form (its key kept) asks
		// again for the same refund, never a second one.
		s.log.Warn().Err(err).Str("topup_id", topUp).Str("admin_id", admin.ID.String()).Msg("admin: refund: Stripe not reached")
		s.recordOutcome(ctx, actionID, false, "Stripe could not be reached for the refund of "+Money(asked))
		rerender(http.StatusServiceUnavailable, map[string]string{"refund": "Stripe could not be reached, so the refund may not have been made. " +
			"Send this form again: it asks for the same refund, never a second one."})
		return
	}
	s.log.Info().Str("topup_id", topUp).Str("refund_id", rf.ID).Int64("amount_cents", rf.AmountCents).Str("admin_id", admin.ID.String()).
		Msg("admin: refund asked of Stripe")
	s.recordOutcome(ctx, actionID, true, "refund of "+Money(rf.AmountCents)+" asked of Stripe: "+rf.ID)
	if actionID == 0 {
		s.setFlash(r, "Already asked: this form was sent before. Stripe's refund "+rf.ID+" of "+Money(rf.AmountCents)+" is the same one; nothing more was refunded.")
	} else if s.awaitEntry(ctx, "stripe:refund:"+rf.ID) {
		s.setFlash(r, "Refunded "+Money(rf.AmountCents)+" through Stripe ("+rf.ID+"); the customer's balance is lowered by as much.")
	} else {
		s.setFlash(r, "Refund of "+Money(rf.AmountCents)+" asked of Stripe ("+rf.ID+"). The balance changes when Stripe's webhook confirms it; reload in a moment.")
	}
	http.Redirect(w, r, "/admin/topups/"+topUp, http.StatusSeeOther)
}

// stripeRefusal is Stripe's own message from a refused request.
func stripeRefusal(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, payments.ErrPermanent.Error()+": "); ok {
		msg = after
	}
	// "400 <code> <message>": the message is what a person reads.
	if f := strings.Fields(msg); len(f) > 1 {
		if _, err := strconv.Atoi(f[0]); err == nil {
			msg = strings.TrimSpace(strings.TrimPrefix(msg, f[0]))
			if f[1] != strings.ToLower(f[1]) || !strings.Contains(f[1], "_") {
				return msg
			}
			msg = strings.TrimSpace(strings.TrimPrefix(msg, f[1]))
		}
	}
	return msg
}

// awaitEntry waits up to 5 s for the ledger entry with key (posted by a
// webhook) and reports whether it is there.
func (s *Server) awaitEntry(ctx context.Context, key string) bool {
	q := db.New(s.pool)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := q.GetEntryAmountByKey(ctx, key); err == nil {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
	}
}

// cancelTopUp cancels an unpaid top-up's PaymentIntent at Stripe, for a
// reason (required, audited); Stripe's payment_intent.canceled then makes
// the workflow cancel the row, as for any cancel. A paid one (or one
// Stripe is processing) cannot be cancelled: Stripe refuses, and so does
// the form.
func (s *Server) cancelTopUp(w http.ResponseWriter, r *http.Request) {
	t, ok := loadByID(s, w, r, (*db.Queries).GetTopUp)
	if !ok || !s.parseForm(w, r) {
		return
	}
	errs := map[string]string{}
	reason, msg := checkReason(r.PostForm.Get("reason"))
	key, keyOK := parseFormKey(r.PostForm.Get("key"))
	switch {
	case !cancellable(t) && t.PaymentIntentID == nil && !workflows.IsSettled(t.Status):
		errs["cancel"] = "Nothing to cancel at Stripe yet: no payment was started. The top-up's workflow cancels it by itself."
	case !cancellable(t):
		errs["cancel"] = "Nothing to cancel: this top-up is " + workflows.TopUpLabel(t.Status) + ". A paid top-up is refunded, not cancelled."
	case !keyOK:
		errs["cancel"] = "This form is out of date: reload the page and send it again."
	case msg != "":
		errs["cancel_reason"] = msg
	}
	if len(errs) > 0 {
		s.renderAdminTopUp(w, r, http.StatusUnprocessableEntity, t, pageData{Form: r.PostForm, Errors: errs})
		return
	}
	ctx, admin, topUp, back := r.Context(), currentUser(r), t.ID.String(), "/admin/topups/"+t.ID.String()
	actionID, err := s.auditAction(ctx, db.New(s.pool), admin.ID, auditEntry{Action: "topup_cancel", TargetType: "topup", TargetID: topUp,
		Reason: reason, Key: "admin:cancel:" + key, Details: map[string]any{"payment_intent": *t.PaymentIntentID, "status": t.Status}})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pi, err := s.payments.CancelIntent(ctx, *t.PaymentIntentID)
	switch {
	case errors.Is(err, payments.ErrUnexpectedState):
		s.recordOutcome(ctx, actionID, false, "Stripe refused the cancel: the payment is being made or was made")
		s.setFlashError(r, "Stripe refused to cancel it: the payment is being made or was made meanwhile. Nothing was cancelled; reload to see where it is.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	case err != nil:
		s.log.Warn().Err(err).Str("topup_id", topUp).Str("admin_id", admin.ID.String()).Msg("admin: cancel a top-up at Stripe")
		s.recordOutcome(ctx, actionID, false, "the cancel did not reach Stripe: "+stripeRefusal(err))
		s.setFlashError(r, "The cancel did not reach Stripe, so nothing was cancelled. Try again.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	s.log.Info().Str("topup_id", topUp).Str("payment_intent", pi.ID).Str("admin_id", admin.ID.String()).Msg("admin: top-up cancelled at Stripe")
	s.recordOutcome(ctx, actionID, true, "cancelled at Stripe: "+pi.ID+" (nothing charged)")
	if s.awaitTopUpStatus(ctx, t, workflows.TopUpCanceled) {
		s.setFlash(r, "Cancelled at Stripe: nothing was charged.")
	} else {
		s.setFlash(r, "Cancelled at Stripe: nothing was charged. The top-up shows it when Stripe's webhook arrives; reload in a moment.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// awaitTopUpStatus waits up to 5 s for the top-up's row to have status.
func (s *Server) awaitTopUpStatus(ctx context.Context, t db.TopUp, status string) bool {
	q := db.New(s.pool)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if row, err := q.GetTopUp(ctx, t.ID); err == nil && row.Status == status {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
	}
}

type failedPaymentsData struct {
	Failures []db.ListPaymentFailuresRow
	Older    string
}

// showFailedPayments lists every declined or failed payment attempt,
// newest first, as Stripe reported it, whatever its top-up became after.
func (s *Server) showFailedPayments(w http.ResponseWriter, r *http.Request) {
	p := db.ListPaymentFailuresParams{PageSize: failedPaymentsPage + 1}
	if b := r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			s.errorPage(w, r, http.StatusBadRequest, "Bad page", "That page of failed payments does not exist.")
			return
		}
		p.BeforeID = &n
	}
	rows, err := db.New(s.pool).ListPaymentFailures(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := failedPaymentsData{Failures: rows}
	if len(rows) > failedPaymentsPage {
		d.Failures = rows[:failedPaymentsPage]
		d.Older = fmt.Sprintf("/admin/payments/failed?before=%d", rows[failedPaymentsPage-1].ID)
	}
	s.render(w, r, http.StatusOK, "admin_payments_failed", pageData{Tab: "admin", Data: d})
}
