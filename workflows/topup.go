package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Timing of a top-up.
const (
	// DefaultPaymentTimeout: how long a top-up waits for its payment before
	// asking Stripe (TopUpInput.PaymentTimeout overrides it).
	DefaultPaymentTimeout = time.Hour
	// processingWaits: how many more timeouts a payment Stripe reports as
	// still processing is waited for before support must look.
	processingWaits = 24
	// TopUpLinger: after its outcome, how long a top-up keeps listening for
	// late and duplicate events before it completes. Later ones start it
	// again (signal-with-start).
	TopUpLinger = 10 * time.Minute
)

type topUpWorkflow struct {
	in    TopUpInput
	state TopUpState
	seen  map[string]bool // Stripe event ids already applied
	// confirmedAt: when the payment_intent.succeeded webhook being
	// applied arrived (zero otherwise), for the credit lag metric.
	confirmedAt time.Time
	log         log.Logger
	events      workflow.ReceiveChannel
	// retry: support asks a stuck top-up to ask Stripe again.
	retry workflow.ReceiveChannel
	// updateStarted: the create-payment update was accepted; creating: its
	// activity is running; createErr: it failed.
	updateStarted, creating bool
	createErr               error
	// created: the create-payment activity's result (a confirmed
	// payment's outcome, for a repeated update).
	created PaymentCreated
	// fast: versionFastPath is on for this run (see call.go): the
	// PaymentIntent is created by a local activity inside the update, no
	// update timer outlives the update, and Postgres activities are local.
	fast bool
	lean bool // versionFastPath 2: see fastPathLean
	// current: started on PathCurrent (see call.go).
	current bool
}

// TopUp follows one purchase of a credit package: it creates the
// PaymentIntent (the create-payment update, run with update-with-start by
// POST /credits/purchase), learns of the payment from Stripe's webhook
// events (stripe-event, from the webhook inbox), and posts the credit
// exactly once (key stripe:<payment intent>). When no outcome arrives in
// time it asks Stripe, credits a payment whose webhook was lost, and
// cancels an abandoned one. Refunds and disputes post reversing entries;
// one that arrives after the workflow finished starts it again (Resumed).
func TopUp(ctx workflow.Context, in TopUpInput) (TopUpState, error) {
	w := &topUpWorkflow{
		in:    in,
		state: TopUpState{TopUpID: in.TopUpID, Status: TopUpCreated, AmountCents: in.AmountCents},
		seen:  map[string]bool{},
		log:   log.With(workflow.GetLogger(ctx), "TopUpID", in.TopUpID),
	}
	// Before anything can yield: the update handler reads it.
	w.fast, w.lean, w.current = pathVersion(ctx, in.Path)
	w.events = workflow.GetSignalChannel(ctx, SignalStripeEvent)
	w.retry = workflow.GetSignalChannel(ctx, SignalRetryBilling)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (TopUpState, error) { return w.state, nil }); err != nil {
		return w.state, err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCreatePayment, w.createPayment, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context) error {
			switch w.state.Status {
			case TopUpCreated, TopUpProcessing, TopUpFailed:
				return nil
			}
			return fmt.Errorf("top-up %s is %s, not awaiting payment", in.TopUpID, w.state.Status)
		},
	})
	if err != nil {
		return w.state, err
	}

	if in.Resumed {
		err = w.resume(ctx)
	} else {
		err = w.run(ctx)
	}
	if err == nil {
		err = w.linger(ctx)
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	// Events that arrived while we were finishing are applied, not lost.
	for err == nil {
		var ev StripeSignal
		if !w.events.ReceiveAsync(&ev) {
			break
		}
		err = w.apply(ctx, ev)
	}
	return w.state, err
}

// createPayment is the create-payment update: it creates the PaymentIntent
// once and returns it; a repeat returns the same one.
func (w *topUpWorkflow) createPayment(ctx workflow.Context) (PaymentCreated, error) {
	w.updateStarted = true
	if w.creating {
		if err := workflow.Await(ctx, func() bool { return !w.creating }); err != nil {
			return PaymentCreated{}, err
		}
	}
	if w.state.PaymentIntentID != "" {
		return PaymentCreated{PaymentIntentID: w.state.PaymentIntentID, Status: w.state.Status,
			Outcome: w.created.Outcome, FailureCode: w.created.FailureCode, DeclineCode: w.created.DeclineCode}, nil
	}
	w.creating = true
	defer func() { w.creating = false }()
	retry := &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2,
		MaximumInterval: 5 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: []string{ErrTypePaymentRefused, ErrTypeBadInput}}
	var create workflow.Future
	if w.fast {
		// In this workflow task, below POST /credits/purchase's 20 s bound
		// (the PaymentIntent's idempotency key is the top-up's id: an
		// attempt that outlives the request creates nothing twice).
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: createPaymentTimeout, StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
		create = workflow.ExecuteLocalActivity(lctx, ActivityCreatePayment, w.in)
	} else {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry})
		create = workflow.ExecuteActivity(actx, ActivityCreatePayment, w.in)
	}
	var pc PaymentCreated
	if err := create.Get(ctx, &pc); err != nil {
		w.createErr = err
		w.state.LastError = err.Error()
		return PaymentCreated{}, err
	}
	w.state.PaymentIntentID, w.created = pc.PaymentIntentID, pc
	if w.state.Status == TopUpCreated {
		w.setStatus(ctx, TopUpProcessing)
	}
	_ = workflow.UpsertMemo(ctx, map[string]any{"payment_intent": pc.PaymentIntentID, "amount_cents": w.in.AmountCents})
	return PaymentCreated{PaymentIntentID: pc.PaymentIntentID, Status: w.state.Status,
		Outcome: pc.Outcome, FailureCode: pc.FailureCode, DeclineCode: pc.DeclineCode}, nil
}

func (w *topUpWorkflow) run(ctx workflow.Context) error {
	// 1. The PaymentIntent, by the update that started us.
	ok, err := awaitUpdate(ctx, w.fast, func() bool { return w.updateStarted })
	if err != nil {
		return err
	}
	if !ok {
		return w.cancel(ctx, "abandoned", "The payment was never started.")
	}
	if err := workflow.Await(ctx, func() bool { return w.state.PaymentIntentID != "" || w.createErr != nil }); err != nil {
		return err
	}
	if w.state.PaymentIntentID == "" {
		return w.cancel(ctx, "processor_error", "The payment could not be started. Nothing was charged; please try again.")
	}

	// 2. The payment's outcome.
	return w.awaitPayment(ctx)
}

// awaitPayment waits for the payment's outcome, from webhooks or, when none
// comes in time, from Stripe itself.
func (w *topUpWorkflow) awaitPayment(ctx workflow.Context) error {
	timeout := w.in.PaymentTimeout
	if timeout <= 0 {
		timeout = DefaultPaymentTimeout
	}
	for waits := 0; !w.settled(); {
		if w.state.Stuck != "" {
			// Stripe contradicted what we were asked to post: asking it
			// again each timeout would say the same. Support looks (and
			// may send retry-billing); Stripe's own events still apply.
			if err := w.awaitEvents(ctx, 24*time.Hour, func() bool { return w.settled() || w.state.Stuck == "" }); err != nil {
				return err
			}
			continue
		}
		if err := w.awaitEvents(ctx, timeout, w.settled); err != nil {
			return err
		}
		if w.settled() {
			return nil
		}
		if w.state.Stuck != "" {
			continue
		}
		still, err := w.reconcile(ctx)
		if err != nil {
			return err
		}
		if still {
			if waits++; waits > processingWaits {
				w.state.LastError = "the payment has been processing at Stripe for too long"
				w.log.Error("payment still processing; waiting for its webhook")
				for !w.settled() {
					if err := w.awaitEvents(ctx, 24*time.Hour, w.settled); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	return nil
}

// resume reads a finished top-up's state from Postgres, for events that
// arrived after its workflow completed.
func (w *topUpWorkflow) resume(ctx workflow.Context) error {
	var rec TopUpRecord
	if err := w.activity(ctx, ActivityLoadTopUp, w.in.TopUpID).Get(ctx, &rec); err != nil {
		return err
	}
	w.in.UserID, w.in.AccountID, w.in.AmountCents = rec.UserID, rec.AccountID, rec.AmountCents
	w.state.AmountCents, w.state.PaymentIntentID = rec.AmountCents, rec.PaymentIntentID
	w.state.RefundedCents, w.state.DisputedCents = rec.RefundedCents, rec.DisputedCents
	w.setStatus(ctx, rec.Status)
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrUserID.ValueSet(rec.UserID)); err != nil {
		w.log.Warn("upsert UserID", "error", err)
	}
	if w.settled() || rec.PaymentIntentID == "" {
		return nil
	}
	// Its earlier run ended before the payment's outcome (it failed, or
	// was terminated): wait for it, and reconcile, as a first run does.
	return w.awaitPayment(ctx)
}

// linger applies late events for a while before the workflow completes.
func (w *topUpWorkflow) linger(ctx workflow.Context) error {
	return w.awaitEvents(ctx, TopUpLinger, func() bool { return false })
}

// settled: the payment has an outcome no webhook can undo by itself.
func (w *topUpWorkflow) settled() bool { return IsSettled(w.state.Status) }

// awaitEvents applies events until stop holds or d passes.
func (w *topUpWorkflow) awaitEvents(ctx workflow.Context, d time.Duration, stop func() bool) error {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(timerCtx, d)
	fired := false
	var err error
	for !fired && !stop() && err == nil {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.events, func(c workflow.ReceiveChannel, _ bool) {
			var ev StripeSignal
			c.Receive(ctx, &ev)
			err = w.apply(ctx, ev)
		})
		sel.AddReceive(w.retry, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			err = w.retryStuck(ctx)
		})
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.Select(ctx)
	}
	return err
}

// retryStuck is support's retry-billing: a stuck top-up asks Stripe again
// and credits what it now confirms (still stuck, with the new reason, if it
// does not). One that is not stuck ignores it.
func (w *topUpWorkflow) retryStuck(ctx workflow.Context) error {
	if w.state.Stuck == "" || w.state.PaymentIntentID == "" {
		return nil
	}
	w.log.Info("support retry of a stuck top-up", "reason", w.state.Stuck)
	w.state.Stuck = ""
	if w.settled() {
		return nil // a reversal was stuck: the next event of its kind posts it
	}
	_, err := w.reconcile(ctx)
	return err
}

// refused handles an error of a credit or a reversal: when Stripe did not
// confirm what was asked (TopUpMismatch), nothing was posted and the
// top-up is marked stuck for support while the workflow goes on listening;
// other errors are returned. Workflows that began before this existed fail
// on such an error, as they did.
func (w *topUpWorkflow) refused(ctx workflow.Context, err error) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeTopUpMismatch {
		return err
	}
	if !since(ctx, w.lean, "topup-stuck-for-support") {
		return err
	}
	reason := appErr.Message()
	w.log.Error("Stripe does not confirm what the top-up was asked to post; nothing posted, marked stuck for support", "reason", reason)
	if err := w.activity(ctx, ActivityMarkTopUpStuck, TopUpStuck{TopUpID: w.in.TopUpID, Reason: reason}).Get(ctx, nil); err != nil {
		return err
	}
	w.state.Stuck, w.state.LastError = reason, reason
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrBillingState.ValueSet(BillingStuck)); err != nil {
		w.log.Warn("upsert BillingState", "error", err)
	}
	return nil
}

// apply acts on one Stripe event. Duplicates change nothing, and so do
// events in an order Stripe does not promise: a refund or a dispute that
// overtakes the success credits the payment first.
func (w *topUpWorkflow) apply(ctx workflow.Context, ev StripeSignal) error {
	w.state.EventsSeen++
	if w.seen[ev.EventID] {
		return nil
	}
	w.seen[ev.EventID] = true
	if ev.PaymentIntentID != "" && w.state.PaymentIntentID != "" && ev.PaymentIntentID != w.state.PaymentIntentID {
		w.log.Warn("event for another payment intent ignored", "event", ev.EventID, "payment_intent", ev.PaymentIntentID)
		return nil
	}
	switch ev.Type {
	case EventPaymentSucceeded:
		// The signal asks; CreditTopUp asks Stripe before posting anything.
		w.confirmedAt = ev.ReceivedAt
		ctx := withTrace(ctx, ev.Trace)
		return w.refused(ctx, w.credit(ctx, PaymentState{PaymentIntentID: ev.PaymentIntentID, Status: "succeeded", AmountCents: ev.AmountCents, Currency: ev.Currency}))
	case EventPaymentFailed:
		f := TopUpFailure{TopUpID: w.in.TopUpID, Code: ev.FailureCode, Message: ev.FailureMessage, EventID: ev.EventID,
			DeclineCode: ev.DeclineCode, At: ev.ReceivedAt}
		if w.state.Status != TopUpProcessing && w.state.Status != TopUpFailed && w.state.Status != TopUpCreated {
			// A late failure of an attempt before the one that paid (or
			// before the cancel): the top-up stays as it is, but support's
			// list of failed payments has every attempt. Runs from before
			// this ignored it.
			if w.current || workflow.GetVersion(ctx, versionLateFailuresListed, workflow.DefaultVersion, 1) == 1 {
				return w.activity(ctx, ActivityRecordPaymentFailure, f).Get(ctx, nil)
			}
			return nil
		}
		w.state.FailureCode, w.state.FailureMessage = ev.FailureCode, ev.FailureMessage
		if err := w.activity(ctx, ActivityRecordPaymentFailure, f).Get(ctx, nil); err != nil {
			return err
		}
		w.setStatus(ctx, TopUpFailed)
	case EventPaymentCanceled:
		if w.settled() {
			return nil
		}
		return w.cancel(ctx, "canceled", "The payment was cancelled.")
	case EventChargeRefunded, EventRefundUpdated, EventDisputeCreated, EventDisputeFundsWithdrawn, EventDisputeUpdated,
		EventDisputeClosed, EventDisputeFundsReinstated:
		// Each makes the activity read the refunds or the dispute from
		// Stripe and post what changed, once: a refund that failed, or a
		// dispute won, gives the money back (a new entry, never an edit).
		if err := w.ensureCredited(ctx); err != nil {
			return w.refused(ctx, err)
		}
		rev := TopUpReversal{TopUpID: w.in.TopUpID, AccountID: w.in.AccountID, PaymentIntentID: w.state.PaymentIntentID, Kind: "refund"}
		if ev.Type != EventChargeRefunded && ev.Type != EventRefundUpdated {
			rev.Kind, rev.DisputeID, rev.AmountCents = "dispute", ev.DisputeID, ev.AmountCents
		}
		var rec TopUpRecord
		if err := w.activity(ctx, ActivityReverseTopUp, rev).Get(ctx, &rec); err != nil {
			return w.refused(ctx, err)
		}
		w.state.RefundedCents, w.state.DisputedCents = rec.RefundedCents, rec.DisputedCents
		w.setStatus(ctx, rec.Status)
	default:
		w.log.Info("stripe event ignored", "type", ev.Type)
	}
	return nil
}

// ensureCredited credits a payment a refund or dispute proves succeeded,
// when its own success event has not arrived yet; Stripe is asked for the
// amount.
func (w *topUpWorkflow) ensureCredited(ctx workflow.Context) error {
	switch w.state.Status {
	case TopUpSucceeded, TopUpRefunded, TopUpDisputed:
		return nil
	}
	var ps PaymentState
	if err := w.stripe(ctx, ActivityFetchPayment, w.state.PaymentIntentID).Get(ctx, &ps); err != nil {
		return err
	}
	if ps.Status != "succeeded" {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("payment %s is %s, yet refunded or disputed", ps.PaymentIntentID, ps.Status), ErrTypeTopUpMismatch, nil)
	}
	return w.credit(ctx, ps)
}

// credit posts the top-up's credit once (key stripe:<payment intent>).
func (w *topUpWorkflow) credit(ctx workflow.Context, ps PaymentState) error {
	switch w.state.Status {
	case TopUpSucceeded, TopUpRefunded, TopUpDisputed:
		return nil
	}
	pi := ps.PaymentIntentID
	if pi == "" {
		pi = w.state.PaymentIntentID
	}
	req := TopUpCredit{TopUpID: w.in.TopUpID, AccountID: w.in.AccountID, PaymentIntentID: pi, AmountCents: ps.AmountCents, Currency: ps.Currency,
		ConfirmedAt: w.confirmedAt}
	if err := w.activity(ctx, ActivityCreditTopUp, req).Get(ctx, nil); err != nil {
		w.state.LastError = err.Error()
		w.log.Error("credit refused; the top-up needs an operator", "error", err)
		return err
	}
	w.state.FailureCode, w.state.FailureMessage, w.state.LastError = "", "", ""
	if w.state.Stuck != "" {
		// Stripe confirmed it after all (CreditTopUp cleared the row's mark).
		w.state.Stuck = ""
		if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrBillingState.ValueUnset()); err != nil {
			w.log.Warn("upsert BillingState", "error", err)
		}
	}
	w.setStatus(ctx, TopUpSucceeded)
	return nil
}

// reconcile asks Stripe for the payment's state after the timeout: a
// success whose webhook was lost is credited, an abandoned payment is
// cancelled. still reports a payment Stripe is still processing.
func (w *topUpWorkflow) reconcile(ctx workflow.Context) (still bool, err error) {
	var ps PaymentState
	if err := w.stripe(ctx, ActivityFetchPayment, w.state.PaymentIntentID).Get(ctx, &ps); err != nil {
		return false, err
	}
	if ps.Status != "succeeded" && ps.Status != "canceled" && ps.Status != "processing" && ps.Status != "requires_capture" {
		// Abandoned (or declined and not tried again): cancel it at Stripe,
		// which answers with its state, succeeded if it was paid meanwhile.
		if err := w.stripe(ctx, ActivityCancelPayment, w.state.PaymentIntentID).Get(ctx, &ps); err != nil {
			return false, err
		}
	}
	w.state.Reconciled = true
	switch ps.Status {
	case "succeeded":
		w.log.Info("payment succeeded without a webhook; crediting", "payment_intent", ps.PaymentIntentID)
		return false, w.refused(ctx, w.credit(ctx, ps))
	case "canceled":
		msg := "The payment was not completed in time, so it was cancelled. Nothing was charged."
		if w.state.FailureMessage != "" {
			msg = w.state.FailureMessage + " The payment was cancelled; nothing was charged."
		}
		return false, w.cancel(ctx, "expired", msg)
	}
	return true, nil
}

// cancel records a top-up that will never be paid.
func (w *topUpWorkflow) cancel(ctx workflow.Context, code, message string) error {
	if err := w.activity(ctx, ActivityCancelTopUp, TopUpFailure{TopUpID: w.in.TopUpID, Code: code, Message: message}).Get(ctx, nil); err != nil {
		return err
	}
	w.state.FailureCode, w.state.FailureMessage = code, message
	w.setStatus(ctx, TopUpCanceled)
	return nil
}

// versionLateFailuresListed: a payment failure that arrives after the
// top-up settled is recorded in payment_failures (the row is unchanged).
const versionLateFailuresListed = "topup-late-failures-listed"

// createPaymentTimeout bounds the create-payment local activity, retries
// included, below the web request's 20 s.
const createPaymentTimeout = 15 * time.Second

// activity runs an idempotent Postgres activity, retried until it passes
// unless it is refused for good: on the fast path as a local activity.
func (w *topUpWorkflow) activity(ctx workflow.Context, name string, args ...any) workflow.Future {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
		MaximumInterval: time.Minute, NonRetryableErrorTypes: []string{ErrTypeBadInput, ErrTypeTopUpMismatch}}
	return execute(ctx, w.fast, 15*time.Second, retry, name, args...)
}

// stripe runs a Stripe API activity, retried through Stripe's outages.
func (w *topUpWorkflow) stripe(ctx workflow.Context, name string, args ...any) workflow.Future {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 45 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, NonRetryableErrorTypes: []string{ErrTypePaymentRefused, ErrTypeBadInput}},
	})
	return workflow.ExecuteActivity(actx, name, args...)
}

func (w *topUpWorkflow) setStatus(ctx workflow.Context, status string) {
	w.state.Status = status
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrTopUpStatus.ValueSet(status)); err != nil {
		w.log.Warn("upsert TopUpStatus", "error", err)
	}
}
