package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The caller ID workflow (issue 20, item 1): one run per verification
// attempt of a person's own number, ID callerid-<user>-<number>. It asks
// Twilio to verify the number (Twilio calls it; the person types the code
// the Settings page shows), waits for Twilio's signed validation callback
// through the webhook inbox, or for the timeout, and records the outcome on
// the caller_ids row. A retry from Settings is a new run with the next
// attempt number. These names live here, beside the workflow, rather than
// in api.go: the feature's every name in one file.
const (
	CallerIDWorkflowName = "CallerID"

	// SignalCallerIDResult: Twilio's validation callback (CallerIDResult),
	// or the person removing the number meanwhile (CallerIDCanceled).
	SignalCallerIDResult = "callerid-result"

	ActivityRequestCallerIDValidation = "RequestCallerIDValidation"
	ActivityFinishCallerID            = "FinishCallerID"

	// ErrTypeCallerIDRefused: Twilio refused the validation request (an
	// invalid number, one already verified), or the attempt's row is gone;
	// no retry changes it. The message is for the person.
	ErrTypeCallerIDRefused = "CallerIDRefused"

	// DefaultCallerIDTimeout: how long an attempt waits for the code to be
	// typed (CallerIDInput.Timeout overrides it).
	DefaultCallerIDTimeout = 10 * time.Minute
)

// Caller ID statuses (caller_ids.status).
const (
	CallerIDPending  = "pending"
	CallerIDVerified = "verified"
	CallerIDFailed   = "failed"
	CallerIDExpired  = "expired"
	// CallerIDRemoved: the person removed the number before the attempt
	// ended (a workflow outcome; no row keeps it).
	CallerIDRemoved = "removed"
)

// Twilio's VerificationStatus words, and ours for a removal.
const (
	VerificationSuccess = "success"
	VerificationFailed  = "failed"
	CallerIDCanceled    = "canceled"
)

// CallerIDWorkflowID is the workflow ID of a person's number's verification.
func CallerIDWorkflowID(userID, e164 string) string { return "callerid-" + userID + "-" + e164 }

// CallerIDInput starts one attempt.
type CallerIDInput struct {
	UserID, E164 string
	Attempt      int32
	// StatusCallback is where Twilio posts the result: our signed webhook,
	// naming the user, the number and the attempt.
	StatusCallback string
	Timeout        time.Duration // 0: DefaultCallerIDTimeout
}

// CallerIDRequested is what the validation request gave the workflow: the
// verification call. The code is stored for the page, never returned here.
type CallerIDRequested struct {
	CallSid string
}

// CallerIDResult is Twilio's validation callback, or a removal.
type CallerIDResult struct {
	DedupKey            string
	Attempt             int32
	CallSid             string
	VerificationStatus  string // success, failed, or canceled (removed)
	OutgoingCallerIDSid string
}

// FinishCallerIDInput records an attempt's outcome.
type FinishCallerIDInput struct {
	UserID, E164        string
	Attempt             int32
	Status              string // verified, failed or expired
	Reason              string // for the person, when not verified
	OutgoingCallerIDSid string
}

// CallerIDState is the attempt's outcome (and QueryState's answer).
type CallerIDState struct {
	Status string
	Reason string
}

// Reasons shown to the person.
const (
	ReasonCodeNotEntered = "The code was not entered, or not correctly, on the call. Try again."
	ReasonTimedOut       = "No code was entered in time. Try again."
	ReasonCarrierDown    = "We could not reach the phone network. Try again in a minute."
)

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

// Removing a verified number: the web layer deletes the row (the number is
// no longer our callerId from then on) and starts CallerIDRemoval, under
// the number's workflow ID, to delete the OutgoingCallerId at Twilio with
// the worker's retries, as every other carrier request is made.
const (
	CallerIDRemovalWorkflowName = "CallerIDRemoval"
	ActivityDeleteCallerID      = "DeleteCallerID"
)

// CallerIDRemovalInput names the OutgoingCallerId to delete.
type CallerIDRemovalInput struct {
	UserID, E164        string
	OutgoingCallerIDSid string
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
