package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// Timing of the auto top-up workflow.
const (
	// AutoTopUpRecheck: with no signal, the workflow looks at the balance
	// this often anyway, so a lost signal delays a top-up, never loses it.
	AutoTopUpRecheck = 6 * time.Hour
	// autoTopUpLooksPerRun: looks before the history is handed on
	// (continue-as-new), if the server has not suggested it sooner.
	autoTopUpLooksPerRun = 100
	// autoTopUpAwaitLimit bounds one wait for an outcome; a top-up still
	// open after it is awaited again at the next look (it stays the one
	// in flight, so no other starts).
	autoTopUpAwaitLimit = 2 * time.Hour
)

type autoTopUpWorkflow struct {
	in     AutoTopUpInput
	state  AutoTopUpState
	checks workflow.ReceiveChannel
	log    log.Logger
}

// AutoTopUp is a user's auto top-up: it waits for a check (or the recheck
// timer), looks (PlanAutoTopUp), and pays at most one top-up at a time,
// through the TopUp workflow and its exactly-once credit. A decline or a
// bank asking for the cardholder turns auto top-up off and tells the
// person once; the card is never tried again until they turn it on.
func AutoTopUp(ctx workflow.Context, in AutoTopUpInput) (AutoTopUpState, error) {
	w := &autoTopUpWorkflow{in: in, state: AutoTopUpState{UserID: in.UserID},
		log: log.With(workflow.GetLogger(ctx), "UserID", in.UserID)}
	w.checks = workflow.GetSignalChannel(ctx, SignalAutoTopUpCheck)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (AutoTopUpState, error) { return w.state, nil }); err != nil {
		return w.state, err
	}
	recheck := in.Recheck
	if recheck <= 0 {
		recheck = AutoTopUpRecheck
	}
	check := in.Check
	for {
		if !check {
			if _, err := workflow.AwaitWithTimeout(ctx, recheck, func() bool { return w.checks.Len() > 0 }); err != nil {
				return w.state, err
			}
		}
		w.drain() // this look answers every check so far
		check = false
		off, err := w.look(ctx)
		if err != nil {
			return w.state, err
		}
		// Checks that arrived while it looked (and paid) were about the
		// balance it just answered; a posting after the credit sends its
		// own, and the recheck catches the rest.
		pending := w.drain()
		if off {
			if pending {
				check = true // turned on again meanwhile, perhaps: look once more
				continue
			}
			w.state.Off = true
			return w.state, nil
		}
		if w.state.Looks >= autoTopUpLooksPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Checks arriving during the hand-over are carried in it.
			next := in
			next.Check = w.drain()
			return w.state, workflow.NewContinueAsNewError(ctx, AutoTopUpWorkflowName, next)
		}
	}
}

// drain takes every check waiting and reports whether there was one.
func (w *autoTopUpWorkflow) drain() bool {
	got := false
	for w.checks.ReceiveAsync(nil) {
		got = true
	}
	return got
}

// look plans, and pays what the plan says; off reports auto top-up off.
func (w *autoTopUpWorkflow) look(ctx workflow.Context) (off bool, err error) {
	var plan AutoTopUpPlan
	if err := w.db(ctx, ActivityPlanAutoTopUp, w.in.UserID).Get(ctx, &plan); err != nil {
		return false, err
	}
	// The look is counted with what it decided, in one step: a state query
	// while the plan is being made shows the last look whole, never a new
	// count beside the last look's action (which a caller waiting for the
	// next look would take for it).
	w.state.Looks++
	w.state.LastAction, w.state.LastWhy = plan.Action, plan.Why
	if plan.Action == AutoTopUpPay {
		w.state.LastOutcome = ""
	}
	switch plan.Action {
	case AutoTopUpOff:
		return true, nil
	case AutoTopUpNone:
		w.log.Debug("no auto top-up", "why", plan.Why)
		return false, nil
	case AutoTopUpRefuse:
		return true, w.turnOff(ctx, "", plan.Why)
	case AutoTopUpPay:
	default:
		return false, temporal.NewNonRetryableApplicationError("unknown auto top-up plan "+plan.Action, ErrTypeBadInput, nil)
	}
	t := *plan.TopUp
	w.state.LastTopUpID, w.state.LastOutcome = t.TopUpID, ""
	w.log.Info("auto top-up", "TopUpID", t.TopUpID, "amount_cents", t.AmountCents, "why", plan.Why)
	start := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 40 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{ErrTypeBadInput}},
	})
	if err := workflow.ExecuteActivity(start, ActivityStartAutoTopUp, t).Get(ctx, nil); err != nil {
		// It stays the one in flight (its row is unpaid): the next look
		// starts it again, and no other is made meanwhile.
		w.log.Error("auto top-up not started; the next look tries again", "TopUpID", t.TopUpID, "error", err)
		return false, nil
	}
	await := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: autoTopUpAwaitLimit,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1.5, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: []string{ErrTypeBadInput}},
	})
	var out AutoTopUpOutcome
	if err := workflow.ExecuteActivity(await, ActivityAwaitAutoTopUp, t.TopUpID).Get(ctx, &out); err != nil {
		var timeout *temporal.TimeoutError
		if errors.As(err, &timeout) {
			// Still open (Stripe processing, say): it stays the one in
			// flight, awaited again at the next look.
			w.log.Warn("auto top-up has no outcome yet", "TopUpID", t.TopUpID)
			return false, nil
		}
		return false, err
	}
	w.state.LastOutcome = out.Outcome
	switch out.Outcome {
	case AutoTopUpCredited:
		w.log.Info("auto top-up credited", "TopUpID", t.TopUpID)
		return false, nil
	case AutoTopUpRequiresAction:
		return true, w.turnOff(ctx, t.TopUpID, "Your bank asked to confirm the automatic top-up of "+rating.FormatCents(t.AmountCents)+
			" with you, which we cannot do while you are away. Nothing was charged.")
	default: // declined, or cancelled without being paid
		why := "Your card was declined when we tried to add " + rating.FormatCents(t.AmountCents) + "."
		if out.Outcome == AutoTopUpCanceled {
			why = "We could not take the automatic top-up of " + rating.FormatCents(t.AmountCents) + " from your card."
		}
		return true, w.turnOff(ctx, t.TopUpID, why+" Nothing was charged.")
	}
}

// turnOff turns auto top-up off and tells the person, once.
func (w *autoTopUpWorkflow) turnOff(ctx workflow.Context, topUpID, reason string) error {
	w.log.Warn("auto top-up turned off", "TopUpID", topUpID, "reason", reason)
	off := AutoTopUpTurnOff{UserID: w.in.UserID, TopUpID: topUpID, Reason: reason}
	if err := w.db(ctx, ActivityTurnAutoTopUpOff, off).Get(ctx, nil); err != nil {
		return err
	}
	mail := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 20},
	})
	if err := workflow.ExecuteActivity(mail, ActivityEmailAutoTopUpOff, off).Get(ctx, nil); err != nil {
		// The banner still says it; the workflow is not failed for mail.
		w.log.Error("auto top-up off: the email was not sent", "error", err)
	}
	return nil
}

// db runs an idempotent Postgres activity.
func (w *autoTopUpWorkflow) db(ctx workflow.Context, name string, args ...any) workflow.Future {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeBadInput}},
	})
	return workflow.ExecuteActivity(actx, name, args...)
}
