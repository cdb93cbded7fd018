package activities

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// Signaler sends a signal to a workflow: the Temporal client.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// CallAllowance reads the account's balance and the talk time, in all, it
// pays for at the call's rate (workflows.Allowance): a call in progress is
// charged only when it ends, so nothing of it is in the balance yet.
func (a *Activities) CallAllowance(ctx context.Context, r workflows.AllowanceRequest) (workflows.Allowance, error) {
	accountID, err := uuid.Parse(r.AccountID)
	if err != nil {
		return workflows.Allowance{}, badInput("account id", err)
	}
	balance, err := db.New(a.Pool).GetWalletBalance(ctx, accountID)
	if err != nil {
		return workflows.Allowance{}, err
	}
	rate := rating.Rate{PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros}
	return workflows.Allowance{BalanceCents: balance, Seconds: rating.MaxSeconds(balance, rate, r.MaxSeconds)}, nil
}

// LimitCall stores (or clears) the talk time a money loss cut the call to;
// the live stream tells the caller's in-call bar.
func (a *Activities) LimitCall(ctx context.Context, l workflows.CallLimit) error {
	id, err := uuid.Parse(l.CallID)
	if err != nil {
		return badInput("call id", err)
	}
	p := db.SetCallCutParams{ID: id}
	if !l.Clear {
		seconds := int32(min(l.Seconds, 1<<30))
		reason := l.Reason
		if len(reason) > 64 {
			reason = reason[:64]
		}
		p.CutSeconds, p.CutReason = &seconds, &reason
	}
	_, err = db.New(a.Pool).SetCallCut(ctx, p)
	return err
}

// tellCallInProgress sends balance-changed to the account's call in
// progress, if any, after something other than its own charge moved the
// balance (a refund, a dispute, a credit). Sent after the posting commits:
// an activity that fails here is retried, posts nothing twice, and sends
// again.
func (a *Activities) tellCallInProgress(ctx context.Context, accountID uuid.UUID, reason string) error {
	if a.Signaler == nil {
		return nil
	}
	if err := TellCallInProgress(ctx, db.New(a.Pool), a.Signaler, accountID, reason); err != nil {
		return temporal.NewApplicationErrorWithCause("tell the call in progress that the balance changed", "SignalFailed", err)
	}
	return nil
}

// TellCallInProgress sends balance-changed to the account's call in
// progress, if any: the one place that finds the call and signals it, for
// the worker's top-up activities and the console's adjustment alike. The
// call reads the balance itself, so a signal sent twice is harmless; a
// call whose workflow has just ended needs nothing.
func TellCallInProgress(ctx context.Context, q *db.Queries, s Signaler, accountID uuid.UUID, reason string) error {
	callID, err := q.GetCallInProgressForAccount(ctx, accountID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.SignalWorkflow(ctx, workflows.CallWorkflowID(callID.String()), "", workflows.SignalBalanceChanged,
		workflows.BalanceChangedSignal{Reason: reason})
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return nil
	}
	return err
}
