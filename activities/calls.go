package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// AuthorizeCall reads the balance and today's usage, prices the number,
// checks the destination rules, and locks the rate and max_seconds onto the
// call, in one transaction. A refusal marks the call refused and is a
// non-retryable CallRefused error carrying a CallRefusal. Run twice, it
// returns the terms it locked the first time.
func (a *Activities) AuthorizeCall(ctx context.Context, in workflows.CallInput) (workflows.CallTerms, error) {
	callID, err := uuid.Parse(in.CallID)
	if err != nil {
		return workflows.CallTerms{}, temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	terms, refusal, err := a.authorize(ctx, callID, in)
	if err != nil {
		return workflows.CallTerms{}, fmt.Errorf("authorize call %s: %w", in.CallID, err)
	}
	if refusal != nil {
		return workflows.CallTerms{}, temporal.NewNonRetryableApplicationError(refusal.Message, workflows.ErrTypeCallRefused, nil, *refusal)
	}
	return terms, nil
}

// authorize reads everything it decides on in one statement and writes its
// decision with one conditional update (created -> authorized or refused):
// two round trips, no transaction held open while the deck and the rules
// are consulted. An update that finds the call no longer created lost to an
// earlier attempt of this activity, whose decision the row now holds.
func (a *Activities) authorize(ctx context.Context, callID uuid.UUID, in workflows.CallInput) (workflows.CallTerms, *workflows.CallRefusal, error) {
	q := db.New(a.Pool)
	row, err := q.GetCallToAuthorize(ctx, callID)
	if err != nil {
		return workflows.CallTerms{}, nil, err
	}
	call := row.Call
	if call.Status != workflows.StatusCreated {
		return a.decided(call)
	}
	refuse := func(r *rating.Refusal) (workflows.CallTerms, *workflows.CallRefusal, error) {
		n, err := q.RefuseCall(ctx, db.RefuseCallParams{ID: callID, EndReason: &r.Reason, RefusalMessage: &r.Message, RefusalNeededCents: r.NeededCents})
		if err != nil {
			return workflows.CallTerms{}, nil, err
		}
		if n == 0 {
			return a.reread(ctx, q, callID)
		}
		a.Metrics.Authorized(r.Reason)
		return workflows.CallTerms{}, &workflows.CallRefusal{Reason: r.Reason, Message: r.Message, NeededCents: r.NeededCents}, nil
	}
	// The browser has been told "unavailable" (or is about to be): an
	// authorization now would hold a call nobody can place.
	if !in.AuthorizeBy.IsZero() && !time.Now().Before(in.AuthorizeBy) {
		return refuse(&rating.Refusal{Reason: workflows.RefusalAuthorizationTimeout, Message: "Calling is unavailable for a moment. Nothing was charged. Try again."})
	}
	if row.UserDisabled {
		return refuse(&rating.Refusal{Reason: workflows.RefusalAccountDisabled, Message: "This account is disabled. Contact support."})
	}
	n, err := rating.ParseNumber(call.PhoneNumber, "")
	if err != nil {
		return refuse(&rating.Refusal{Reason: workflows.RefusalInvalidNumber, Message: "That number cannot be called."})
	}
	rate, err := a.Rules.Price(n, a.Rates.Deck(), accounts.CountryName(n.Country))
	var r *rating.Refusal
	if errors.As(err, &r) {
		return refuse(r)
	}
	if err != nil {
		return workflows.CallTerms{}, nil, err
	}
	seconds, err := a.Rules.Authorize(rate, row.BalanceCents, rating.Usage{SpentTodayCents: row.SpentTodayCents, CallsToday: int(row.CallsToday)})
	if errors.As(err, &r) {
		return refuse(r)
	}
	if err != nil {
		return workflows.CallTerms{}, nil, err
	}
	until := time.Now().Add(in.Timing.Window())
	maxSeconds := int32(seconds)
	// No ceiling past Twilio's largest timeLimit (only rules without a
	// per-call ceiling allow one): the carrier's limit is then max_seconds.
	var ceiling *int32
	if c := int32(carrierCeiling(a.Rules, rate, seconds, row.SpentTodayCents)); c <= workflows.CarrierTimeLimitMax {
		ceiling = &c
	}
	call, err = q.AuthorizeCall(ctx, db.AuthorizeCallParams{
		ID: callID, RatePrefix: &rate.Prefix, PerMinuteMicros: &rate.PerMinuteMicros,
		ConnectionFeeMicros: rate.ConnectionFeeMicros, MaxSeconds: &maxSeconds, AuthorizedUntil: &until,
		TimeLimitSeconds: ceiling,
	})
	if errors.Is(err, db.ErrNotFound) {
		return a.reread(ctx, q, callID)
	}
	if err != nil {
		return workflows.CallTerms{}, nil, err
	}
	a.Metrics.Authorized("")
	terms, err := a.termsOf(call)
	return terms, nil, err
}

// reread answers with the decision another attempt wrote.
func (a *Activities) reread(ctx context.Context, q *db.Queries, callID uuid.UUID) (workflows.CallTerms, *workflows.CallRefusal, error) {
	call, err := q.GetCall(ctx, callID)
	if err != nil {
		return workflows.CallTerms{}, nil, err
	}
	return a.decided(call)
}

// decided is the answer for a call that is no longer created: its terms if
// it was authorized, else a refusal (the reason, words and amount written
// when it was refused).
func (a *Activities) decided(call db.Call) (workflows.CallTerms, *workflows.CallRefusal, error) {
	switch {
	case call.Status == workflows.StatusAuthorized:
		terms, err := a.termsOf(call)
		return terms, nil, err
	case call.Status == workflows.StatusRefused && call.EndReason != nil:
		msg := "This call can no longer be placed. Try again."
		if call.RefusalMessage != nil && *call.RefusalMessage != "" {
			msg = *call.RefusalMessage
		}
		return workflows.CallTerms{}, &workflows.CallRefusal{Reason: *call.EndReason, Message: msg, NeededCents: call.RefusalNeededCents}, nil
	default:
		return workflows.CallTerms{}, &workflows.CallRefusal{Reason: workflows.RefusalNotPending, Message: "This call can no longer be placed. Try again."}, nil
	}
}

func (a *Activities) termsOf(c db.Call) (workflows.CallTerms, error) {
	if c.PerMinuteMicros == nil || c.MaxSeconds == nil || c.AuthorizedUntil == nil || c.RatePrefix == nil {
		return workflows.CallTerms{}, fmt.Errorf("call %s is authorized without terms", c.ID)
	}
	desc := *c.RatePrefix
	if r, ok := a.Rates.Deck().Lookup(*c.RatePrefix); ok && r.Prefix == *c.RatePrefix {
		desc = r.Description
	}
	t := workflows.CallTerms{RatePrefix: *c.RatePrefix, Description: desc, PerMinuteMicros: *c.PerMinuteMicros,
		ConnectionFeeMicros: c.ConnectionFeeMicros, MaxSeconds: int64(*c.MaxSeconds), AuthorizedUntil: *c.AuthorizedUntil}
	if c.TimeLimitSeconds != nil {
		t.CeilingSeconds = int64(*c.TimeLimitSeconds)
	}
	return t, nil
}

// carrierCeiling is the carrier's timeLimit for a call authorized for
// seconds at rate (issue 21): Twilio fixes <Dial timeLimit> when the Dial
// starts, so a top-up during the call can only extend it up to what was
// set then. The call workflow ends the call at what the balance pays for;
// the ceiling is that plus a headroom of workflows.ExtensionHeadroom, and
// no more than workflows.ExtensionDebtCents of talk at the rate (at least
// one minute): the most a call can run unpaid when the workflow's own
// hang-up fails and the carrier's limit ends it. Never past the per-call
// ceiling (MAX_CALL_SECONDS, at most Twilio's 14400 s) or what today's
// spending limit leaves: a top-up does not lift those.
func carrierCeiling(rules rating.Rules, rate rating.Rate, seconds, spentTodayCents int64) int64 {
	headroom := int64(workflows.ExtensionHeadroom / time.Second)
	if rate.PerMinuteMicros > 0 {
		minutes := workflows.ExtensionDebtCents * rating.MicrosPerCent / rate.PerMinuteMicros
		headroom = min(headroom, max(minutes, 1)*60)
	}
	ceiling := min(seconds+headroom, workflows.CarrierTimeLimitMax)
	if rules.MaxCallSeconds > 0 {
		ceiling = min(ceiling, rules.MaxCallSeconds-rules.MaxCallSeconds%60)
	}
	if rules.DailySpendCents > 0 {
		ceiling = min(ceiling, rating.MaxSeconds(rules.DailySpendCents-spentTodayCents, rate, 0))
	}
	return max(ceiling, seconds)
}

// CancelUnclaimedCall is the abandonment timer's conditional update
// (authorized -> canceled). It reports whether it won; the voice webhook's
// claim is the other side of the race.
func (a *Activities) CancelUnclaimedCall(ctx context.Context, callID string) (bool, error) {
	id, err := uuid.Parse(callID)
	if err != nil {
		return false, temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	var canceled bool
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		call, err := q.CancelUnclaimedCall(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			// Lost or claimed: an earlier attempt of ours may have won and
			// lost its answer, so read what the row says.
			row, err := q.GetCall(ctx, id)
			if err != nil {
				return err
			}
			canceled = row.Status == workflows.StatusCanceled && row.EndReason != nil && *row.EndReason == cancelReason
			return nil
		}
		if err != nil {
			return err
		}
		canceled = true
		return recordEvent(ctx, q, call.ID, call.UserID, workflows.StatusCanceled)
	})
	return canceled, err
}

// cancelReason is what CancelUnclaimedCall writes (queries/calls.sql).
const cancelReason = "never reached the carrier"

// AbandonCall fails a call its workflow gives up on before Twilio claimed
// it (created or authorized), so no later claim can dial it.
func (a *Activities) AbandonCall(ctx context.Context, callID string) error {
	id, err := uuid.Parse(callID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	reason := "authorization did not complete"
	return db.New(a.Pool).FailUnclaimedCall(ctx, db.FailUnclaimedCallParams{ID: id, EndReason: &reason})
}

// RecordCallStatus stores a transition: the calls row, a call event, and a
// NOTIFY for the live call screen.
func (a *Activities) RecordCallStatus(ctx context.Context, r workflows.RecordStatus) error {
	return db.InTx(ctx, a.Pool, func(q *db.Queries) error { return recordStatus(ctx, q, &r) })
}

// setStatus writes a transition to the calls row and its call event.
func setStatus(ctx context.Context, q *db.Queries, callID, userID uuid.UUID, status, childSid string) error {
	var child *string
	if childSid != "" {
		child = &childSid
	}
	if err := q.SetCallStatus(ctx, db.SetCallStatusParams{ID: callID, Status: status, ChildCallSid: child, FromStatuses: workflows.StatusesBelow(status)}); err != nil {
		return err
	}
	return recordEvent(ctx, q, callID, userID, status)
}

func recordEvent(ctx context.Context, q *db.Queries, callID, userID uuid.UUID, status string) error {
	n, err := q.InsertCallEvent(ctx, db.InsertCallEventParams{CallID: callID, UserID: userID, Status: status, Detail: []byte("{}")})
	if err != nil || n == 0 {
		return err
	}
	payload, _ := json.Marshal(map[string]string{"call_id": callID.String(), "user_id": userID.String(), "status": status})
	return q.NotifyCallEvent(ctx, string(payload))
}

// ChargeCall posts the call's charge (key call:<id>:charge) and marks the
// call charged, in one transaction. Posting twice is a no-op. The charge is
// posted in full even when the balance no longer covers it (a refund, a
// dispute or a staff debit during the call): the wallet goes below zero and
// the debt refuses new calls. A charge the ledger refuses (a key reused
// with another amount, a rule of the schema) is a non-retryable
// BillingFailed error: the call waits, stuck, for support.
func (a *Activities) ChargeCall(ctx context.Context, r workflows.ChargeRequest) error {
	callID, err := uuid.Parse(r.CallID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	accountID, err := uuid.Parse(r.AccountID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad account id", workflows.ErrTypeBadInput, err)
	}
	var posted ledger.Posted
	var billed db.SetCallBillingRow
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		if err := recordStatus(ctx, q, r.Final); err != nil {
			return err
		}
		var err error
		posted, err = ledger.New(q.DB()).Post(ctx, ledger.Entry{
			Key: "call:" + r.CallID + ":charge", AccountID: accountID, Kind: ledger.CallCharge,
			AmountCents: -r.CostCents, CallID: &callID, Memo: fmt.Sprintf("call, %d s", r.DurationSeconds),
		})
		if err != nil {
			return err
		}
		duration := int32(r.DurationSeconds)
		billed, err = q.SetCallBilling(ctx, db.SetCallBillingParams{ID: callID, BillingState: workflows.BillingCharged,
			DurationSeconds: &duration, CostCents: &r.CostCents, CarrierStatus: &r.CarrierStatus})
		return noRow(err)
	})
	if err == nil && !posted.Replayed {
		a.Metrics.LedgerPosted(string(ledger.CallCharge))
		a.callFinished(billed, r.FinalReceivedAt)
	}
	if err == nil {
		// A charge that leaves the balance below the auto top-up's
		// threshold tells it (a repeat too: it looks once for all).
		a.checkAutoTopUp(ctx, accountID, "call charge")
	}
	if errors.Is(err, ledger.ErrInsufficientFunds) || errors.Is(err, ledger.ErrIdempotencyConflict) || errors.Is(err, ledger.ErrAlreadyPosted) ||
		errors.Is(err, ledger.ErrInvalidEntry) {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBillingFailed, err)
	}
	return err
}

// recordStatus stores a transition inside q's transaction: for
// RecordCallStatus, and for a final status the workflow sent with a
// billing activity (none: nothing to record).
func recordStatus(ctx context.Context, q *db.Queries, r *workflows.RecordStatus) error {
	if r == nil {
		return nil
	}
	callID, err := uuid.Parse(r.CallID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	userID, err := uuid.Parse(r.UserID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeBadInput, err)
	}
	return setStatus(ctx, q, callID, userID, r.Status, r.ChildCallSid)
}

// MarkCallBilling records a billing state that is not a charge.
func (a *Activities) MarkCallBilling(ctx context.Context, m workflows.BillingMark) error {
	callID, err := uuid.Parse(m.CallID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	duration := int32(m.DurationSeconds)
	p := db.SetCallBillingParams{ID: callID, BillingState: m.State, DurationSeconds: &duration, CarrierStatus: &m.CarrierStatus}
	if m.Reason != "" {
		p.BillingError = &m.Reason
	}
	if m.Waived != "" {
		p.WaivedReason = &m.Waived
	}
	if m.CostCents > 0 {
		p.CostCents = &m.CostCents
	}
	var billed db.SetCallBillingRow
	if m.Final == nil {
		billed, err = db.New(a.Pool).SetCallBilling(ctx, p)
		err = noRow(err)
	} else {
		err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
			if err := recordStatus(ctx, q, m.Final); err != nil {
				return err
			}
			var err error
			billed, err = q.SetCallBilling(ctx, p)
			return noRow(err)
		})
	}
	if err == nil && m.State == workflows.BillingNotBillable && billed.PreviousBillingState != m.State {
		a.callFinished(billed, time.Time{})
	}
	return err
}

// noRow is nil for a billing update that found no call row, as an update
// of no rows always was: nothing to bill, and nothing to retry.
func noRow(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
}

// callFinished counts a call whose billing settled, by its final status and
// destination country; receivedAt (the final callback's arrival, zero when
// not known) starts its billing lag.
func (a *Activities) callFinished(c db.SetCallBillingRow, receivedAt time.Time) {
	if a.Metrics == nil {
		return
	}
	country := ""
	if n, err := rating.ParseNumber(c.PhoneNumber, ""); err == nil {
		country = n.Country
	}
	var lag time.Duration
	if !receivedAt.IsZero() {
		lag = time.Since(receivedAt)
	}
	a.Metrics.CallFinished(c.Status, country, lag)
}

// FindDialledLeg asks the carrier's REST API for the leg our Dial placed.
func (a *Activities) FindDialledLeg(ctx context.Context, parentSid string) (workflows.CarrierCall, error) {
	if a.Carrier == nil {
		return workflows.CarrierCall{}, temporal.NewNonRetryableApplicationError("no carrier calls API is configured", workflows.ErrTypeNoCarrier, nil)
	}
	info, found, err := a.Carrier.DialledLeg(ctx, parentSid)
	if err != nil {
		return workflows.CarrierCall{}, err
	}
	return workflows.CarrierCall{Sid: info.Sid, Status: info.Status, DurationSeconds: info.DurationSeconds, Found: found}, nil
}

// FetchCarrierCall asks the carrier's REST API about a call.
func (a *Activities) FetchCarrierCall(ctx context.Context, sid string) (workflows.CarrierCall, error) {
	if a.Carrier == nil {
		return workflows.CarrierCall{}, temporal.NewNonRetryableApplicationError("no carrier calls API is configured", workflows.ErrTypeNoCarrier, nil)
	}
	info, err := a.Carrier.FetchCall(ctx, sid)
	if errors.Is(err, carrier.ErrCallNotFound) {
		return workflows.CarrierCall{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCarrierCallNotFound, err)
	}
	if err != nil {
		return workflows.CarrierCall{}, err
	}
	return workflows.CarrierCall{Sid: info.Sid, Status: info.Status, DurationSeconds: info.DurationSeconds}, nil
}

// LoadCallSids reads the CallSids stored on the calls row: the parent the
// voice webhook's claim recorded, and the dialled leg once a callback named
// it. Reconciliation uses them when no signal brought them to the workflow.
func (a *Activities) LoadCallSids(ctx context.Context, callID string) (workflows.CallSids, error) {
	id, err := uuid.Parse(callID)
	if err != nil {
		return workflows.CallSids{}, temporal.NewNonRetryableApplicationError("bad call id", workflows.ErrTypeBadInput, err)
	}
	call, err := db.New(a.Pool).GetCall(ctx, id)
	if err != nil {
		return workflows.CallSids{}, fmt.Errorf("load call %s: %w", callID, err)
	}
	var sids workflows.CallSids
	if call.ParentCallSid != nil {
		sids.ParentCallSid = *call.ParentCallSid
	}
	if call.ChildCallSid != nil {
		sids.ChildCallSid = *call.ChildCallSid
	}
	return sids, nil
}

// callEnder is a carrier that can hang a call up: Twilio's REST API
// (Calls.Update Status=completed on the given leg), or the simulator (by
// our call id).
type callEnder interface {
	EndCall(ctx context.Context, callID, callSid string) error
}

// HangUpCarrierCall ends a call at the carrier: the browser's leg when
// known (which ends the dialled leg too), else the dialled leg. A call
// already over is not an error.
func (a *Activities) HangUpCarrierCall(ctx context.Context, r workflows.HangUpRequest) error {
	ender, ok := a.Carrier.(callEnder)
	if !ok {
		return temporal.NewNonRetryableApplicationError("no carrier calls API that can hang up is configured", workflows.ErrTypeNoCarrier, nil)
	}
	sid := r.ParentCallSid
	if sid == "" {
		sid = r.ChildCallSid
	}
	if sid == "" {
		return temporal.NewNonRetryableApplicationError("no CallSid to hang up", workflows.ErrTypeBadInput, nil)
	}
	return ender.EndCall(ctx, r.CallID, sid)
}
