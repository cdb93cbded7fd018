package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

func badInput(what string, err error) error {
	return temporal.NewNonRetryableApplicationError("bad "+what, workflows.ErrTypeBadInput, err)
}

// paymentsErr makes a refusal by the processor non-retryable; outages stay
// retryable.
func paymentsErr(err error) error {
	if errors.Is(err, payments.ErrPermanent) {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypePaymentRefused, err)
	}
	return err
}

func (a *Activities) gateway() (payments.Gateway, error) {
	if a.Payments == nil {
		return nil, temporal.NewNonRetryableApplicationError("no payment processor is configured", workflows.ErrTypePaymentRefused, nil)
	}
	return a.Payments, nil
}

// CreatePayment creates the top-up's PaymentIntent (Stripe's idempotency
// key is the top-up id, so a retry names the same one) and records it on
// the top-up. The client secret is not returned: activity results are kept
// in workflow history.
func (a *Activities) CreatePayment(ctx context.Context, in workflows.TopUpInput) (workflows.PaymentCreated, error) {
	id, err := uuid.Parse(in.TopUpID)
	if err != nil {
		return workflows.PaymentCreated{}, badInput("top-up id", err)
	}
	g, err := a.gateway()
	if err != nil {
		return workflows.PaymentCreated{}, err
	}
	// The receipt email is read here, not carried in workflow history.
	t, err := db.New(a.Pool).GetTopUp(ctx, id)
	if err != nil {
		return workflows.PaymentCreated{}, err
	}
	email := ""
	if t.ReceiptEmail != nil {
		email = *t.ReceiptEmail
	}
	ni := payments.NewIntent{TopUpID: in.TopUpID, UserID: in.UserID, AmountCents: t.AmountCents,
		ReceiptEmail: email, Description: "Mobayilo calling credit " + rating.FormatCents(t.AmountCents),
		SaveCard: t.SaveCard, PaymentMethodID: deref(t.PaymentMethodID), OffSession: t.OffSession}
	if ni.SaveCard || ni.PaymentMethodID != "" {
		// A saved card is the Customer's; saving one needs the Customer
		// (made here once, the first time).
		if ni.CustomerID, err = payments.Customer(ctx, db.New(a.Pool), g, t.UserID, email); err != nil {
			return workflows.PaymentCreated{}, paymentsErr(err)
		}
	}
	pi, err := g.CreateIntent(ctx, ni)
	if err != nil {
		return workflows.PaymentCreated{}, paymentsErr(err)
	}
	if pi.AmountCents != in.AmountCents {
		return workflows.PaymentCreated{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("payment intent %s is for %d cents, the top-up for %d", pi.ID, pi.AmountCents, in.AmountCents), workflows.ErrTypeTopUpMismatch, nil)
	}
	row, err := db.New(a.Pool).SetTopUpPaymentIntent(ctx, db.SetTopUpPaymentIntentParams{ID: id, PaymentIntentID: &pi.ID})
	if errors.Is(err, db.ErrNotFound) {
		return workflows.PaymentCreated{}, temporal.NewNonRetryableApplicationError(
			"top-up "+in.TopUpID+" already has another payment intent", workflows.ErrTypeTopUpMismatch, nil)
	}
	if err != nil {
		return workflows.PaymentCreated{}, err
	}
	pc := workflows.PaymentCreated{PaymentIntentID: pi.ID, Status: row.Status}
	if ni.PaymentMethodID != "" {
		pc.Outcome, pc.FailureCode, pc.DeclineCode = pi.Outcome(), pi.FailureCode, pi.DeclineCode
	}
	return pc, nil
}

// FetchPayment reads a PaymentIntent's state from the processor.
func (a *Activities) FetchPayment(ctx context.Context, paymentIntentID string) (workflows.PaymentState, error) {
	g, err := a.gateway()
	if err != nil {
		return workflows.PaymentState{}, err
	}
	pi, err := g.GetIntent(ctx, paymentIntentID)
	if err != nil {
		return workflows.PaymentState{}, paymentsErr(err)
	}
	return paymentState(pi), nil
}

// CancelPayment cancels an abandoned PaymentIntent and returns its state;
// one that succeeded (or is processing) meanwhile is returned as it is.
func (a *Activities) CancelPayment(ctx context.Context, paymentIntentID string) (workflows.PaymentState, error) {
	g, err := a.gateway()
	if err != nil {
		return workflows.PaymentState{}, err
	}
	pi, err := g.CancelIntent(ctx, paymentIntentID)
	if errors.Is(err, payments.ErrUnexpectedState) {
		pi, err = g.GetIntent(ctx, paymentIntentID)
	}
	if err != nil {
		return workflows.PaymentState{}, paymentsErr(err)
	}
	return paymentState(pi), nil
}

func paymentState(pi payments.Intent) workflows.PaymentState {
	return workflows.PaymentState{PaymentIntentID: pi.ID, Status: pi.Status, AmountCents: pi.AmountCents,
		Currency: pi.Currency, FailureCode: pi.FailureCode, FailureMessage: pi.FailureMessage}
}

// LoadTopUp reads a top-up as stored, for a workflow started again by a
// late event.
func (a *Activities) LoadTopUp(ctx context.Context, topUpID string) (workflows.TopUpRecord, error) {
	id, err := uuid.Parse(topUpID)
	if err != nil {
		return workflows.TopUpRecord{}, badInput("top-up id", err)
	}
	t, err := db.New(a.Pool).GetTopUp(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return workflows.TopUpRecord{}, badInput("top-up "+topUpID, err)
	}
	if err != nil {
		return workflows.TopUpRecord{}, err
	}
	return record(t), nil
}

func record(t db.TopUp) workflows.TopUpRecord {
	r := workflows.TopUpRecord{UserID: t.UserID.String(), AccountID: t.AccountID.String(), Status: t.Status,
		AmountCents: t.AmountCents, RefundedCents: t.RefundedCents, DisputedCents: t.DisputedCents}
	if t.PaymentIntentID != nil {
		r.PaymentIntentID = *t.PaymentIntentID
	}
	return r
}

// RecordPaymentFailure records a declined attempt, so the user sees why
// (the top-up's failure_code and failure_message, cleared once it is paid),
// and, in the same transaction, keeps it for support in payment_failures,
// once per Stripe event, whatever the top-up becomes later.
func (a *Activities) RecordPaymentFailure(ctx context.Context, f workflows.TopUpFailure) error {
	id, err := uuid.Parse(f.TopUpID)
	if err != nil {
		return badInput("top-up id", err)
	}
	msg := f.Message
	if msg == "" {
		msg = "The payment was declined."
	}
	marked := false
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		marked = false
		if f.EventID != "" { // a run from before the event id was passed keeps no copy
			var at *time.Time
			if !f.At.IsZero() {
				at = &f.At
			}
			if err := q.RecordPaymentFailure(ctx, db.RecordPaymentFailureParams{StripeEventID: f.EventID, TopUpID: id,
				Code: nonEmpty(cut(f.Code, 255)), DeclineCode: nonEmpty(cut(f.DeclineCode, 255)), Message: nonEmpty(cut(msg, 1000)),
				FailedAt: at}); err != nil {
				return err
			}
		}
		_, err := q.MarkTopUpFailed(ctx, db.MarkTopUpFailedParams{ID: id, FailureCode: &f.Code, FailureMessage: &msg})
		if errors.Is(err, db.ErrNotFound) {
			return nil // already settled: a late failure of an earlier attempt
		}
		marked = err == nil
		return err
	})
	if err == nil && marked {
		a.Metrics.TopUp("failed", 0)
	}
	return err
}

// cut shortens s to at most n characters, for a column's CHECK.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CancelTopUp records a top-up that will never be paid.
func (a *Activities) CancelTopUp(ctx context.Context, f workflows.TopUpFailure) error {
	id, err := uuid.Parse(f.TopUpID)
	if err != nil {
		return badInput("top-up id", err)
	}
	_, err = db.New(a.Pool).MarkTopUpCanceled(ctx, db.MarkTopUpCanceledParams{ID: id, FailureCode: &f.Code, FailureMessage: &f.Message})
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err == nil {
		a.Metrics.TopUp("canceled", 0)
	}
	return err
}

// CreditTopUp posts a paid top-up's credit once (key
// stripe:<payment intent>) and marks it succeeded, in one transaction.
// Whatever the signal that asked for it says, it first reads the
// PaymentIntent from Stripe and credits only a payment Stripe reports as
// succeeded, for the top-up's own amount and currency, in the key's mode
// (livemode), with our metadata (top-up and user id): anyone who can signal
// a workflow can ask, only Stripe can confirm. Anything else is a
// non-retryable TopUpMismatch and credits nothing. The amount credited is
// the top-up's own.
func (a *Activities) CreditTopUp(ctx context.Context, c workflows.TopUpCredit) error {
	id, err := uuid.Parse(c.TopUpID)
	if err != nil {
		return badInput("top-up id", err)
	}
	g, err := a.gateway()
	if err != nil {
		return err
	}
	t, err := db.New(a.Pool).GetTopUp(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return badInput("top-up "+c.TopUpID, err)
	}
	if err != nil {
		return err
	}
	if t.PaymentIntentID == nil || *t.PaymentIntentID != c.PaymentIntentID {
		return mismatch("top-up %s is paid by %v, not %s", c.TopUpID, deref(t.PaymentIntentID), c.PaymentIntentID)
	}
	pi, err := g.GetIntent(ctx, c.PaymentIntentID)
	if err != nil {
		return paymentsErr(err)
	}
	if why := unconfirmed(pi, t, g.Livemode()); why != "" {
		return mismatch("Stripe does not confirm payment %s of top-up %s: %s; nothing credited", c.PaymentIntentID, c.TopUpID, why)
	}
	var posted ledger.Posted
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		t, err := q.GetTopUp(ctx, id)
		if err != nil {
			return err
		}
		if t.PaymentIntentID == nil || *t.PaymentIntentID != c.PaymentIntentID {
			return mismatch("top-up %s is paid by %v, not %s", c.TopUpID, deref(t.PaymentIntentID), c.PaymentIntentID)
		}
		posted, err = ledger.New(q.DB()).Post(ctx, ledger.Entry{
			Key: "stripe:" + c.PaymentIntentID, AccountID: t.AccountID, Kind: ledger.Purchase,
			AmountCents: t.AmountCents, TopUpID: &t.ID, Memo: "top-up " + rating.FormatCents(t.AmountCents),
		})
		if err != nil {
			return err
		}
		if (t.SaveCard || t.PaymentMethodID != nil) && pi.PaymentMethodID != "" && pi.CustomerID != "" {
			// The card saved by this payment (Stripe attached it as it
			// succeeded), or the one tapped, is the one to use next.
			if err := q.SetDefaultPaymentMethod(ctx, db.SetDefaultPaymentMethodParams{UserID: t.UserID, DefaultPaymentMethodID: &pi.PaymentMethodID}); err != nil {
				return err
			}
		}
		_, err = q.MarkTopUpSucceeded(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil // refunded or disputed since: the credit stands, the status too
		}
		return err
	})
	if err == nil && !posted.Replayed {
		a.Metrics.LedgerPosted(string(ledger.Purchase))
		var lag time.Duration
		if !c.ConfirmedAt.IsZero() {
			lag = time.Since(c.ConfirmedAt)
		}
		a.Metrics.TopUp("credited", lag)
	}
	if errors.Is(err, ledger.ErrIdempotencyConflict) || errors.Is(err, ledger.ErrAlreadyPosted) || errors.Is(err, db.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeTopUpMismatch, err)
	}
	if err != nil {
		return err
	}
	// A credit may lift a cut a money loss put on the call in progress.
	return a.tellCallInProgress(ctx, t.AccountID, "top-up")
}

// unconfirmed says why Stripe's PaymentIntent does not confirm the
// top-up's payment ("" when it does).
func unconfirmed(pi payments.Intent, t db.TopUp, livemode bool) string {
	var why []string
	if pi.Status != payments.StatusSucceeded {
		why = append(why, "its status is "+pi.Status)
	}
	if pi.AmountCents != t.AmountCents {
		why = append(why, fmt.Sprintf("it is for %d cents, the top-up for %d", pi.AmountCents, t.AmountCents))
	}
	if !strings.EqualFold(pi.Currency, t.Currency) {
		why = append(why, fmt.Sprintf("its currency is %q, the top-up's %q", pi.Currency, t.Currency))
	}
	if pi.Livemode != livemode {
		why = append(why, fmt.Sprintf("its livemode is %t, the key's %t", pi.Livemode, livemode))
	}
	if pi.Metadata["topup_id"] != t.ID.String() {
		why = append(why, fmt.Sprintf("its metadata names top-up %q", pi.Metadata["topup_id"]))
	}
	if pi.Metadata["user_id"] != t.UserID.String() {
		why = append(why, fmt.Sprintf("its metadata names user %q", pi.Metadata["user_id"]))
	}
	return strings.Join(why, "; ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MarkTopUpStuck records that Stripe did not confirm what a top-up's
// workflow was asked to post: support sees it on the dashboard.
func (a *Activities) MarkTopUpStuck(ctx context.Context, st workflows.TopUpStuck) error {
	id, err := uuid.Parse(st.TopUpID)
	if err != nil {
		return badInput("top-up id", err)
	}
	reason := st.Reason
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	_, err = db.New(a.Pool).MarkTopUpStuck(ctx, db.MarkTopUpStuckParams{ID: id, Reason: reason})
	if errors.Is(err, db.ErrNotFound) {
		return badInput("top-up "+st.TopUpID, err)
	}
	if err == nil {
		a.Metrics.TopUp("stuck", 0)
	}
	return err
}

func mismatch(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), workflows.ErrTypeTopUpMismatch, nil)
}

// ReverseTopUp brings a credited top-up's refunds or dispute in line with
// what Stripe reports, whatever the event that asked said. Refunds are
// listed from the processor: each that succeeded or is pending is posted
// once (key stripe:refund:<refund id>), and each posted one that has failed
// since (or was cancelled) is given back once (refund_failure, key
// stripe:refund:<refund id>:failed). A dispute is read from the processor:
// its amount is withdrawn once as soon as Stripe withdraws it (dispute, key
// stripe:dispute:<dispute id>; an inquiry withdraws nothing) and given back
// once when it is won (dispute_reversal, key
// stripe:dispute:<dispute id>:won). Reversals may take the balance below
// zero; calls are refused until it is positive again. Every entry is new:
// nothing is ever edited.
func (a *Activities) ReverseTopUp(ctx context.Context, r workflows.TopUpReversal) (workflows.TopUpRecord, error) {
	id, err := uuid.Parse(r.TopUpID)
	if err != nil {
		return workflows.TopUpRecord{}, badInput("top-up id", err)
	}
	var entries []ledger.Entry
	// reversals give back what an earlier entry took, if it was posted.
	type reversal struct {
		of    string // the key of the entry reversed
		entry ledger.Entry
	}
	var reversals []reversal
	t, err := db.New(a.Pool).GetTopUp(ctx, id)
	if err != nil {
		return workflows.TopUpRecord{}, err
	}
	if t.PaymentIntentID == nil || *t.PaymentIntentID == "" {
		return workflows.TopUpRecord{}, mismatch("top-up %s has no payment to reverse", r.TopUpID)
	}
	pi := *t.PaymentIntentID
	switch r.Kind {
	case "refund":
		g, err := a.gateway()
		if err != nil {
			return workflows.TopUpRecord{}, err
		}
		refunds, err := g.ListRefunds(ctx, pi)
		if err != nil {
			return workflows.TopUpRecord{}, paymentsErr(err)
		}
		for _, rf := range refunds {
			key := "stripe:refund:" + rf.ID
			switch rf.Status {
			case "succeeded", "pending":
				// A pending refund is on its way back to the card: the
				// credit goes now.
				entries = append(entries, ledger.Entry{Key: key, AccountID: t.AccountID, Kind: ledger.Refund,
					AmountCents: -rf.AmountCents, TopUpID: &t.ID, Memo: "refund " + rf.ID})
			case "failed", "canceled":
				// It never reached the card: if it was posted, the money
				// comes back, once.
				reversals = append(reversals, reversal{of: key, entry: ledger.Entry{Key: key + ":failed", AccountID: t.AccountID,
					Kind: ledger.RefundFailure, TopUpID: &t.ID, Memo: "refund " + rf.ID + " " + rf.Status}})
			}
		}
	case "dispute":
		if r.DisputeID == "" {
			return workflows.TopUpRecord{}, badInput("dispute", nil)
		}
		g, err := a.gateway()
		if err != nil {
			return workflows.TopUpRecord{}, err
		}
		d, err := g.GetDispute(ctx, r.DisputeID)
		if err != nil {
			return workflows.TopUpRecord{}, paymentsErr(err)
		}
		switch {
		case d.PaymentIntentID != pi:
			return workflows.TopUpRecord{}, mismatch("dispute %s is of payment %q, top-up %s of %s", d.ID, d.PaymentIntentID, r.TopUpID, pi)
		case d.Livemode != g.Livemode():
			return workflows.TopUpRecord{}, mismatch("dispute %s has livemode %t, the key %t", d.ID, d.Livemode, g.Livemode())
		case !strings.EqualFold(d.Currency, t.Currency) || d.AmountCents <= 0:
			return workflows.TopUpRecord{}, mismatch("dispute %s is for %d %s, top-up %s in %s", d.ID, d.AmountCents, d.Currency, r.TopUpID, t.Currency)
		}
		key := "stripe:dispute:" + d.ID
		if d.FundsWithdrawn() {
			entries = append(entries, ledger.Entry{Key: key, AccountID: t.AccountID, Kind: ledger.Dispute,
				AmountCents: -d.AmountCents, TopUpID: &t.ID, Memo: "dispute " + d.ID})
		}
		if d.Status == payments.DisputeWon {
			reversals = append(reversals, reversal{of: key, entry: ledger.Entry{Key: key + ":won", AccountID: t.AccountID,
				Kind: ledger.DisputeReversal, TopUpID: &t.ID, Memo: "dispute " + d.ID + " won"}})
		}
	default:
		return workflows.TopUpRecord{}, badInput("reversal kind "+r.Kind, nil)
	}
	var out db.TopUp
	var newKinds []ledger.Kind
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		l := ledger.New(q.DB())
		newKinds = newKinds[:0] // a transaction run again starts over
		for _, e := range entries {
			p, err := l.Post(ctx, e)
			if err != nil {
				return err
			}
			if !p.Replayed {
				newKinds = append(newKinds, e.Kind)
			}
		}
		for _, rv := range reversals {
			amount, err := q.GetEntryAmountByKey(ctx, rv.of)
			if errors.Is(err, db.ErrNotFound) {
				continue // never posted: nothing to give back
			}
			if err != nil {
				return err
			}
			rv.entry.AmountCents = -amount
			p, err := l.Post(ctx, rv.entry)
			if err != nil {
				return err
			}
			if !p.Replayed {
				newKinds = append(newKinds, rv.entry.Kind)
			}
		}
		var err error
		out, err = q.SyncTopUpReversals(ctx, id)
		return err
	})
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		return workflows.TopUpRecord{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeTopUpMismatch, err)
	}
	if err != nil {
		return workflows.TopUpRecord{}, err
	}
	for _, k := range newKinds {
		a.Metrics.LedgerPosted(string(k))
	}
	if len(newKinds) > 0 {
		a.Metrics.TopUp("reversed", 0)
	}
	// Money taken back during a call cuts the call to what is left.
	if err := a.tellCallInProgress(ctx, t.AccountID, r.Kind); err != nil {
		return workflows.TopUpRecord{}, err
	}
	return record(out), nil
}
