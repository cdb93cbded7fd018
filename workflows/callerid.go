package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CallerID and CallerIDRemoval: their names, messages and payloads are in
// api.go (the caller ID workflow).

// CallerID verifies one number, once (one attempt).
func CallerID(ctx workflow.Context, in CallerIDInput) (CallerIDState, error) {
	w := &callerIDWorkflow{in: in, state: CallerIDState{Status: CallerIDPending},
		log: log.With(workflow.GetLogger(ctx), "UserID", in.UserID, "Attempt", in.Attempt)}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CallerIDState, error) { return w.state, nil }); err != nil {
		return w.state, err
	}
	w.results = workflow.GetSignalChannel(ctx, SignalCallerIDResult)
	return w.run(ctx)
}

type callerIDWorkflow struct {
	in      CallerIDInput
	state   CallerIDState
	log     log.Logger
	results workflow.ReceiveChannel
}

func (w *callerIDWorkflow) run(ctx workflow.Context) (CallerIDState, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{ErrTypeCallerIDRefused, ErrTypeBadInput, ErrTypeNoCarrier}},
	})
	finish := FinishCallerIDInput{UserID: w.in.UserID, E164: w.in.E164, Attempt: w.in.Attempt}
	var req CallerIDRequested
	err := workflow.ExecuteActivity(actx, ActivityRequestCallerIDValidation, w.in).Get(ctx, &req)
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeCallerIDRefused:
		finish.Status, finish.Reason = CallerIDFailed, appErr.Message()
	case err != nil:
		w.log.Warn("validation request failed", "Error", err)
		finish.Status, finish.Reason = CallerIDFailed, ReasonCarrierDown
	default:
		w.await(ctx, req, &finish)
	}
	if finish.Status == CallerIDRemoved {
		// The row is gone with the number: nothing to record.
		w.state = CallerIDState{Status: CallerIDRemoved}
		return w.state, nil
	}
	// Recorded whatever this workflow's context: a finished attempt never
	// stays pending.
	dctx, cancel := workflow.NewDisconnectedContext(actx)
	defer cancel()
	var out CallerIDState
	if err := workflow.ExecuteActivity(dctx, ActivityFinishCallerID, finish).Get(dctx, &out); err != nil {
		return w.state, err
	}
	w.state = out
	w.log.Info("caller id attempt ended", "Status", out.Status)
	return w.state, nil
}

// await waits for this attempt's callback or the timeout, and says the
// outcome in finish. A callback of another attempt, or of another call,
// is ignored.
func (w *callerIDWorkflow) await(ctx workflow.Context, req CallerIDRequested, finish *FinishCallerIDInput) {
	timeout := w.in.Timeout
	if timeout <= 0 {
		timeout = DefaultCallerIDTimeout
	}
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(tctx, timeout)
	for {
		var res CallerIDResult
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.results, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &res) })
		sel.AddFuture(timer, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		switch {
		case timedOut:
			finish.Status, finish.Reason = CallerIDExpired, ReasonTimedOut
			return
		case res.Attempt != w.in.Attempt || (res.CallSid != "" && req.CallSid != "" && res.CallSid != req.CallSid):
			w.log.Info("callback of another attempt ignored", "CallSid", res.CallSid, "OfAttempt", res.Attempt)
			continue
		case res.VerificationStatus == CallerIDCanceled:
			finish.Status = CallerIDRemoved
			return
		case res.VerificationStatus == VerificationSuccess && res.OutgoingCallerIDSid != "":
			finish.Status, finish.OutgoingCallerIDSid = CallerIDVerified, res.OutgoingCallerIDSid
			return
		default:
			finish.Status, finish.Reason = CallerIDFailed, ReasonCodeNotEntered
			return
		}
	}
}

// CallerIDRemoval deletes a removed number's OutgoingCallerId at Twilio.
func CallerIDRemoval(ctx workflow.Context, in CallerIDRemovalInput) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 20, NonRetryableErrorTypes: []string{ErrTypeNoCarrier}},
	})
	return workflow.ExecuteActivity(actx, ActivityDeleteCallerID, in).Get(ctx, nil)
}
