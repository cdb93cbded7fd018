package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// Timing of a call. AuthorizationWindow, RingAllowance and ReconcileGrace
// are the one source of their defaults: config's CALL_* settings default
// to them, and a workflow whose input has no Timing (started before it
// existed) runs with them.
const (
	// AuthorizationWindow: an authorized call must reach Twilio within it.
	AuthorizationWindow = 3 * time.Minute
	// updateWait: how long a started workflow waits for its authorize update.
	updateWait = time.Minute
	// RingAllowance: time to answer, added to max_seconds.
	RingAllowance = 90 * time.Second
	// ReconcileGrace: after max_seconds plus ringing, how long to wait for
	// Twilio's final callback before asking its REST API.
	ReconcileGrace = 5 * time.Minute
	// reconcileAttempts: REST answers of "still in progress" before the call
	// is declared stuck for support.
	reconcileAttempts = 6
	// browserRecheck and browserRechecks: after the browser says the call
	// ended, the carrier is asked at once, then again this often, this many
	// times, while it still reports the call going (its own hang-up may
	// trail the browser's by a moment); then the usual deadline applies.
	browserRecheck  = 3 * time.Second
	browserRechecks = 5
	// hangUpRecheck: after hanging up an overdue call at the carrier, how
	// long before asking for its final state.
	hangUpRecheck = 10 * time.Second
	// authorizeTimeout bounds the authorize local activity, retries
	// included, below the web request's own bound (CallInput.AuthorizeBy
	// bounds it further).
	authorizeTimeout = 8 * time.Second
)

// Change IDs of workflow.GetVersion (issue 15). Each is asked where its
// behaviour starts, so a workflow already past that point keeps the
// commands it recorded.
const (
	// versionBrowserEnded: a browser-ended signal cancels an unclaimed call
	// or asks the carrier at once (before, it was ignored).
	versionBrowserEnded = "browser-ended"
	// versionReconcileFromRow: with no CallSid in the workflow, reconcile
	// reads the claim's parent_call_sid from the calls row (before, it
	// declared a free call).
	versionReconcileFromRow = "reconcile-from-row"
	// versionHangUpOverdue: a call the carrier still reports in progress at
	// the reconcile deadline (max_seconds + ring + grace) is hung up through
	// the carrier's REST API, then billed (before, it was asked again until
	// declared stuck).
	versionHangUpOverdue = "hang-up-overdue"
	// versionFastPath (issue 14), asked once as the workflow starts: the
	// authorization runs as a local activity inside the update handler (one
	// workflow task from POST /calls to its answer), the wait for the
	// update sets no timer that outlives it, the call's Postgres activities
	// run as local activities, the final status is recorded in the billing
	// activity's transaction, and status and billing state are upserted
	// together. Before, each was a task-queue round trip of its own.
	//
	// Version 2 (lean): every change before it is on without being asked
	// (browser-ended, reconcile-from-row, hang-up-overdue,
	// reconcile-on-retry, topup-stuck-for-support): each GetVersion asked
	// for the first time records a marker and upserts TemporalChangeVersion,
	// one more history event and visibility write per call; and the terms
	// are not upserted as a memo (the authorize update's result holds them,
	// and the start's memo the number). Workflows that began at version 1
	// or before ask each change as they did.
	versionFastPath = "fast-path"
	// fastPathLean is versionFastPath's version 2.
	fastPathLean workflow.Version = 2
	// versionMoneyLoss (issue 24): a balance-changed signal during the call
	// reads the balance and cuts the call to what it covers (before, the
	// signal was not listened for). Asked when the first such signal is
	// acted on, so a workflow that never gets one records nothing.
	versionMoneyLoss = "money-loss"
	// versionTopUpExtends (issue 21): a call authorized with a carrier
	// ceiling above max_seconds (CallTerms.CeilingSeconds) is ended by the
	// workflow at what the balance pays for, and a credit during it extends
	// it up to the ceiling (before, the carrier's timeLimit was max_seconds
	// and nothing could lengthen it). Asked as the call is followed, only
	// by a call with a ceiling: one authorized before it asks nothing.
	versionTopUpExtends = "top-up-extends"
)

// cutMargin: a call cut by a money loss is hung up this long before the
// balance runs out, so that the carrier's rounding of the last second does
// not start a minute the balance does not cover.
const cutMargin = 3 * time.Second

// PathCurrent is the code path the web starts calls and top-ups on
// (CallInput.Path, TopUpInput.Path): the lean fast path with every change
// up to money-loss, top-up-extends and topup-late-failures-listed on,
// none of them asked of workflow.GetVersion. GetVersion records a marker
// and upserts TemporalChangeVersion the first time it is asked, one more
// history event and one more visibility write in the workflow's first
// task; a path the starter chose is in the workflow's input instead, which
// the start writes anyway. A later change asks GetVersion as usual (or
// becomes the next path). Workers must know a path before any web starts
// workflows on it: deploy workers first, roll webs back first.
const PathCurrent = 3

// pathVersion decides the run's path once, as the workflow starts: from
// its input (path >= PathCurrent), else by asking versionFastPath as
// workflows started before the input carried it did.
func pathVersion(ctx workflow.Context, path int) (fast, lean, current bool) {
	if path >= PathCurrent {
		return true, true, true
	}
	v := workflow.GetVersion(ctx, versionFastPath, workflow.DefaultVersion, fastPathLean)
	return v >= 1, v >= fastPathLean, false
}

// since reports whether a change given by its GetVersion change ID is on:
// always in a lean workflow, else as its own GetVersion says (version 1).
func since(ctx workflow.Context, lean bool, changeID string) bool {
	return lean || workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) == 1
}

// fromTwilio maps Twilio's call status words to ours.
func fromTwilio(s string) (string, bool) {
	switch s {
	case "queued", "initiated":
		return StatusDialing, true
	case "ringing":
		return StatusRinging, true
	case "in-progress", "answered":
		return StatusInProgress, true
	case "completed":
		return StatusCompleted, true
	case "busy":
		return StatusBusy, true
	case "no-answer":
		return StatusNoAnswer, true
	case "failed":
		return StatusFailed, true
	case "canceled":
		return StatusCanceled, true
	}
	return "", false
}

type callWorkflow struct {
	in     CallInput
	state  CallState
	seen   map[string]bool // dedup keys of signals already applied
	log    log.Logger
	dialed workflow.ReceiveChannel
	status workflow.ReceiveChannel
	retry  workflow.ReceiveChannel
	ended  workflow.ReceiveChannel // browser-ended
	waive  workflow.ReceiveChannel // waive-billing
	// balance: balance-changed. moneyCheck: one received, not yet acted
	// on; moneyReason: what it said. moneyLoss caches versionMoneyLoss
	// once asked (nil: not asked).
	balance     workflow.ReceiveChannel
	moneyCheck  bool
	moneyReason string
	moneyLoss   *bool
	// extendOn caches versionTopUpExtends for a call with a ceiling (nil:
	// not asked): see extends.
	extendOn *bool
	// answeredAt: when the call went in progress (the cut counts from it).
	answeredAt time.Time
	// cutTimer fires when the cut is due (cutTimerAt); cutFailed: the
	// hang-up at the cut failed, not tried again until the next
	// balance-changed signal.
	cutTimer   workflow.Future
	cutTimerAt time.Time
	cancelCut  workflow.CancelFunc
	cutFailed  bool
	// endRequested: a browser-ended signal not yet acted on.
	endRequested bool
	// updateStarted: the authorize update was accepted (its activity may
	// still be queued behind a slow worker).
	updateStarted bool
	// hungUpNow: reconcile just hung the call up at the carrier.
	hungUpNow bool
	// fast: versionFastPath is on for this run.
	fast bool
	lean bool // versionFastPath 2: see fastPathLean
	// current: started on PathCurrent (its input said so); the changes it
	// includes are on without being asked.
	current bool
	// final: the final status, recorded by the billing activity (fast path).
	final *RecordStatus
	// finalAt: when the callback that made the call final arrived (zero
	// when the carrier's API told it), for the billing lag metric.
	finalAt time.Time
	// finalTrace: that callback's trace context, which the billing
	// activities continue.
	finalTrace map[string]string
}

// Call follows one call attempt from authorization to its charge. It is
// started by POST /calls with the authorize update, learns of the voice
// webhook's claim (dialed) and of Twilio's callbacks (twilio-status) from
// the webhook inbox, and posts the charge exactly once (key
// call:<id>:charge). Duplicate and out-of-order callbacks change nothing.
func Call(ctx workflow.Context, in CallInput) (CallState, error) {
	w := &callWorkflow{
		in:    in,
		state: CallState{CallID: in.CallID, Status: StatusAuthorizing, BillingState: BillingPending},
		seen:  map[string]bool{},
	}
	// Before anything can yield: the update handler reads it.
	w.fast, w.lean, w.current = pathVersion(ctx, in.Path)
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	err := w.run(ctx)
	// Let a running update handler finish before the workflow completes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.state, err
}

func (w *callWorkflow) setup(ctx workflow.Context) error {
	w.log = log.With(workflow.GetLogger(ctx), "CallID", w.in.CallID)
	w.dialed = workflow.GetSignalChannel(ctx, SignalDialed)
	w.status = workflow.GetSignalChannel(ctx, SignalTwilioStatus)
	w.retry = workflow.GetSignalChannel(ctx, SignalRetryBilling)
	w.ended = workflow.GetSignalChannel(ctx, SignalBrowserEnded)
	w.waive = workflow.GetSignalChannel(ctx, SignalWaiveBilling)
	w.balance = workflow.GetSignalChannel(ctx, SignalBalanceChanged)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CallState, error) { return w.state, nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAuthorize, w.authorize, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context) error {
			if w.state.Status != StatusAuthorizing {
				return fmt.Errorf("call %s is %s, not awaiting authorization", w.in.CallID, w.state.Status)
			}
			return nil
		},
	})
}

// authorize runs the authorization activity and returns the terms, or the
// refusal as an error the web layer shows the person.
func (w *callWorkflow) authorize(ctx workflow.Context) (CallTerms, error) {
	w.updateStarted = true
	retry := &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2,
		MaximumInterval: 2 * time.Second, MaximumAttempts: 4, NonRetryableErrorTypes: []string{ErrTypeCallRefused}}
	var terms CallTerms
	var err error
	if w.fast {
		// In this workflow task, on this worker: no task queue between the
		// update and the balance check. Never past the web request's bound.
		timeout := authorizeTimeout
		if !w.in.AuthorizeBy.IsZero() {
			timeout = min(timeout, w.in.AuthorizeBy.Sub(workflow.Now(ctx)))
		}
		if timeout > 0 {
			lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				ScheduleToCloseTimeout: timeout, StartToCloseTimeout: min(timeout, 5*time.Second), RetryPolicy: retry,
			})
			err = workflow.ExecuteLocalActivity(lctx, ActivityAuthorizeCall, w.in).Get(ctx, &terms)
		} else {
			err = temporal.NewNonRetryableApplicationError("the web request stopped waiting before authorization began", "AuthorizationTimeout", nil)
		}
	} else {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
		err = workflow.ExecuteActivity(actx, ActivityAuthorizeCall, w.in).Get(ctx, &terms)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrTypeCallRefused {
		var refusal CallRefusal
		_ = appErr.Details(&refusal)
		w.state.Refusal = &refusal
		w.settle(ctx, StatusRefused, BillingNotBillable)
		return CallTerms{}, temporal.NewApplicationError(refusal.Message, ErrTypeCallRefused, refusal)
	}
	if err != nil {
		// The row may have been authorized by an attempt whose answer was
		// lost: fail it, so no claim can dial a call nobody follows.
		w.state.LastError = err.Error()
		_ = w.activity(ctx, ActivityAbandonCall, w.in.CallID).Get(ctx, nil)
		w.settle(ctx, StatusFailed, BillingNotBillable)
		return CallTerms{}, err
	}
	w.state.Terms = &terms
	w.setStatus(ctx, StatusAuthorized)
	if w.lean {
		return terms, nil
	}
	_ = workflow.UpsertMemo(ctx, map[string]any{
		"number": w.in.PhoneNumber, "country": w.in.Country, "rate": terms.Description,
		"per_minute_micros": terms.PerMinuteMicros, "max_seconds": terms.MaxSeconds,
	})
	return terms, nil
}

func (w *callWorkflow) run(ctx workflow.Context) error {
	// 1. Authorization, by the update that started us. Only a request that
	// never came is given up; an accepted one is waited for.
	ok, err := w.awaitUpdate(ctx)
	if err != nil {
		return err
	}
	if ok {
		if err := workflow.Await(ctx, func() bool { return w.state.Status != StatusAuthorizing }); err != nil {
			return err
		}
	}
	if !ok {
		// The web request that started us never sent the update.
		w.state.LastError = "no authorization request arrived"
		_ = w.activity(ctx, ActivityAbandonCall, w.in.CallID).Get(ctx, nil)
		w.settle(ctx, StatusFailed, BillingNotBillable)
		return nil
	}
	if w.state.Status != StatusAuthorized {
		return nil // refused, or authorization failed
	}

	// 2. Reaching Twilio: the voice webhook's claim, or the abandonment
	// timer's cancel; one conditional update in Postgres decides.
	canceled, err := w.awaitDial(ctx)
	if err != nil || canceled {
		return err
	}

	// 3. The call itself, then its bill.
	if err := w.followCall(ctx); err != nil {
		return err
	}
	return w.bill(ctx)
}

// awaitUpdate waits for the authorize update to be accepted, for at most
// updateWait; ok is false when it never came. Update-with-start delivers
// it in the first workflow task, whose handler has started by the time the
// workflow's main line asks: on the fast path no timer is set then (the
// safety timer is only for an update lost on the way).
func (w *callWorkflow) awaitUpdate(ctx workflow.Context) (ok bool, err error) {
	return awaitUpdate(ctx, w.fast, func() bool { return w.state.Status != StatusAuthorizing || w.updateStarted })
}

// awaitUpdate waits until arrived holds, for at most updateWait (see
// callWorkflow.awaitUpdate); fast: versionFastPath is on.
func awaitUpdate(ctx workflow.Context, fast bool, arrived func() bool) (ok bool, err error) {
	if !fast {
		return workflow.AwaitWithTimeout(ctx, updateWait, arrived)
	}
	if arrived() {
		return true, nil
	}
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(timerCtx, updateWait)
	if err := workflow.Await(ctx, func() bool { return arrived() || timer.IsReady() }); err != nil {
		return false, err
	}
	return arrived(), nil
}

// awaitDial waits until the call leaves authorized; canceled reports that
// the abandonment timer's cancel won.
func (w *callWorkflow) awaitDial(ctx workflow.Context) (canceled bool, err error) {
	wait := w.state.Terms.AuthorizedUntil.Sub(workflow.Now(ctx)) + 10*time.Second
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(timerCtx, max(wait, time.Second))
	timedOut := false
	for w.state.Status == StatusAuthorized {
		sel := workflow.NewSelector(ctx)
		w.addSignals(ctx, sel)
		if !timedOut {
			sel.AddFuture(timer, func(workflow.Future) { timedOut = true })
		}
		sel.Select(ctx)
		if w.state.Status != StatusAuthorized {
			break
		}
		// The user gave up (the browser's connect failed, or they hung up
		// before Twilio asked us): the same conditional update as the
		// timer's, now, so the slot is free at once.
		userEnded := w.endRequested && w.browserEnded(ctx)
		if !timedOut && !userEnded {
			continue
		}
		if err := w.activity(ctx, ActivityCancelUnclaimedCall, w.in.CallID).Get(ctx, &canceled); err != nil {
			return false, err
		}
		if canceled {
			if userEnded {
				w.endRequested, w.state.BrowserEnded = false, true
			}
			w.settle(ctx, StatusCanceled, BillingNotBillable)
			return true, nil
		}
		// The voice webhook claimed it first: its dialed signal is on the
		// way. A browser-ended request stays pending: followCall asks the
		// carrier at once.
		w.log.Info("abandonment timer lost to the voice webhook's claim")
		w.setStatus(ctx, StatusDialing)
	}
	return false, nil
}

// browserEnded reports whether versionBrowserEnded is on; asked only once
// a browser-ended signal has arrived.
func (w *callWorkflow) browserEnded(ctx workflow.Context) bool {
	return since(ctx, w.lean, versionBrowserEnded)
}

// followCall applies callbacks until the call is final; with none by
// max_seconds plus ringing and grace, it asks the carrier's REST API.
func (w *callWorkflow) followCall(ctx workflow.Context) error {
	// The carrier ends the call by its ceiling at the latest (max_seconds
	// for a call without one).
	deadline := time.Duration(w.ceilingSeconds(ctx))*time.Second + w.in.Timing.Ring() + w.in.Timing.Grace()
	for attempt := 0; !IsFinal(w.state.Status); {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, deadline)
		fired := false
		// After the browser said the call ended: quick checks of the
		// carrier, beside the deadline's timer.
		var recheck workflow.Future
		rechecksLeft, recheckDue := 0, false
		for !fired && !IsFinal(w.state.Status) {
			// A browser-ended request (pending from awaitDial, or just
			// received) asks the carrier now.
			if w.endRequested && w.browserEnded(ctx) {
				w.endRequested, w.state.BrowserEnded = false, true
				w.log.Info("the browser says the call ended: asking the carrier now")
				rechecksLeft, recheckDue = browserRechecks, true
			}
			// The balance moved (a refund, a dispute, a staff debit): cut
			// the call to what it covers, and end it when that is up.
			if w.moneyCheck && w.moneyLossOn(ctx) {
				w.moneyCheck = false
				w.applyAllowance(ctx)
			}
			if w.cutNow(ctx, timerCtx) {
				// Ended at the cut: its final state, soon, from the
				// callbacks or else the carrier's API.
				recheck, rechecksLeft = workflow.NewTimer(timerCtx, hangUpRecheck), browserRechecks
			}
			if recheckDue {
				recheckDue = false
				if done, _ := w.reconcile(ctx, true); done {
					break
				}
				if rechecksLeft > 0 {
					rechecksLeft--
					recheck = workflow.NewTimer(timerCtx, browserRecheck)
				}
			}
			sel := workflow.NewSelector(ctx)
			w.addSignals(ctx, sel)
			sel.AddFuture(timer, func(workflow.Future) { fired = true })
			if w.cutTimer != nil {
				sel.AddFuture(w.cutTimer, func(workflow.Future) { w.cutTimer, w.cutTimerAt = nil, time.Time{} })
			}
			if recheck != nil {
				sel.AddFuture(recheck, func(workflow.Future) { recheck, recheckDue = nil, true })
			}
			sel.Select(ctx)
		}
		cancelTimer()
		if IsFinal(w.state.Status) {
			return nil
		}
		if done, err := w.reconcile(ctx, false); err != nil || done {
			return err
		}
		attempt++
		if attempt >= reconcileAttempts {
			w.state.LastError = "no final status from the carrier"
			w.setBilling(ctx, BillingStuck)
			w.markBilling(ctx, BillingStuck, w.state.LastError)
			// Support can retry (the carrier may answer later); a late final
			// callback ends the wait too.
			w.awaitRetry(ctx, func() bool { return IsFinal(w.state.Status) })
			if IsFinal(w.state.Status) || w.state.Waived != nil {
				return nil // billed, or settled by the waiver
			}
			attempt = 0
			// Support's retry asks the carrier at once, not after another
			// grace period (v1; earlier runs waited).
			if since(ctx, w.lean, "reconcile-on-retry") {
				w.drainRetries()
				if done, err := w.reconcile(ctx, false); err != nil || done {
					return err
				}
				attempt++
			}
		}
		deadline = w.in.Timing.Grace()
		if w.hungUpNow {
			// Ask for the final state soon after the hang-up, not a grace
			// period later.
			w.hungUpNow = false
			deadline = hangUpRecheck
		}
	}
	return nil
}

// reconcile asks the carrier about the dialled leg and applies its final
// status. The browser's (parent) leg is never billed: it is "completed"
// whatever the dialled leg did, and its duration includes the ringing.
// early: the browser has just said the call ended, so a leg not found yet
// or still going means "ask again", never "nothing to bill" or "hang up".
func (w *callWorkflow) reconcile(ctx workflow.Context, early bool) (bool, error) {
	if w.state.ChildCallSid == "" && w.state.ParentCallSid == "" &&
		since(ctx, w.lean, versionReconcileFromRow) {
		// No CallSid reached the workflow (the dialed signal lost, the
		// timer having lost to the claim): the claim stored it in the row.
		var sids CallSids
		if err := w.activity(ctx, ActivityLoadCallSids, w.in.CallID).Get(ctx, &sids); err != nil {
			w.state.LastError = err.Error()
			return false, nil
		}
		w.state.ParentCallSid, w.state.ChildCallSid = sids.ParentCallSid, sids.ChildCallSid
	}
	var cc CarrierCall
	switch {
	case w.state.ChildCallSid != "":
		if err := w.ask(ctx, early, ActivityFetchCarrierCall, w.state.ChildCallSid).Get(ctx, &cc); err != nil {
			w.state.LastError = err.Error()
			return false, nil
		}
	case w.state.ParentCallSid != "":
		if err := w.ask(ctx, early, ActivityFindDialledLeg, w.state.ParentCallSid).Get(ctx, &cc); err != nil {
			w.state.LastError = err.Error()
			return false, nil
		}
		if !cc.Found && early {
			// Twilio dials only while the browser's leg is up: once that
			// leg is over with no dialled leg, none will come.
			var parent CarrierCall
			if err := w.ask(ctx, early, ActivityFetchCarrierCall, w.state.ParentCallSid).Get(ctx, &parent); err != nil {
				w.state.LastError = err.Error()
				return false, nil
			}
			if s, known := fromTwilio(parent.Status); !known || !IsFinal(s) {
				return false, nil
			}
		}
		if !cc.Found {
			// Twilio never placed the dialled leg: nothing to bill.
			cc = CarrierCall{Status: "failed"}
		}
		w.state.ChildCallSid = cc.Sid
	case early:
		return false, nil
	default:
		// Claimed, but no SID ever reached us: nothing can be billed.
		cc = CarrierCall{Status: "failed"}
	}
	status, known := fromTwilio(cc.Status)
	if known && !IsFinal(status) && !early && !w.state.HungUp &&
		since(ctx, w.lean, versionHangUpOverdue) {
		// Still going long past max_seconds (Twilio's timeLimit should have
		// ended it): end it at the carrier, then bill it from there.
		w.log.Warn("call still in progress past max_seconds: hanging up at the carrier", "status", cc.Status)
		req := HangUpRequest{CallID: w.in.CallID, ParentCallSid: w.state.ParentCallSid, ChildCallSid: w.state.ChildCallSid}
		if err := w.lookup(ctx, ActivityHangUpCarrierCall, req).Get(ctx, nil); err != nil {
			w.state.LastError = err.Error()
			return false, nil
		}
		w.state.HungUp, w.hungUpNow = true, true
		return false, nil
	}
	if !known || !IsFinal(status) {
		return false, nil
	}
	w.state.Reconciled = true
	w.state.DurationSeconds = cc.DurationSeconds
	w.setStatus(ctx, status)
	w.record(ctx, status, w.state.ChildCallSid)
	return true, nil
}

// lookup runs a carrier REST activity with a few attempts: reconcile loops
// on its own.
func (w *callWorkflow) lookup(ctx workflow.Context, name string, args ...any) workflow.Future {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	return workflow.ExecuteActivity(actx, name, args...)
}

// ask runs a carrier REST lookup: as a local activity when the browser has
// just said the call ended (the user waits for the slot, and a local
// activity saves a round trip through the task queue; the call is short
// and idempotent), else as lookup does.
func (w *callWorkflow) ask(ctx workflow.Context, early bool, name string, args ...any) workflow.Future {
	if !early {
		return w.lookup(ctx, name, args...)
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	return workflow.ExecuteLocalActivity(lctx, name, args...)
}

// awaitRetry waits for support's retry-billing signal, applying callbacks
// that arrive meanwhile, or until stop holds.
//
// Support's waive-billing ends the wait too, when it is for the attempt
// the call is stuck at (WaiveSignal.Attempts): w.state.Waived is then set,
// and the caller settles the call as not billable (bill).
func (w *callWorkflow) awaitRetry(ctx workflow.Context, stop func() bool) {
	for retried := false; !retried && w.state.Waived == nil && !stop(); {
		sel := workflow.NewSelector(ctx)
		w.addSignals(ctx, sel)
		sel.AddReceive(w.retry, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			retried = true
		})
		sel.AddReceive(w.waive, func(c workflow.ReceiveChannel, _ bool) {
			var s WaiveSignal
			c.Receive(ctx, &s)
			if s.Attempts != w.state.BillingAttempts || strings.TrimSpace(s.Reason) == "" {
				w.log.Warn("waive-billing ignored: sent for another attempt, or without a reason",
					"attempts", s.Attempts, "billing_attempts", w.state.BillingAttempts)
				return
			}
			w.state.Waived = &s
		})
		sel.Select(ctx)
	}
}

// settleWaived settles a call whose charge support waived: not billable,
// the reason on the row, nothing posted.
func (w *callWorkflow) settleWaived(ctx workflow.Context) {
	w.log.Info("billing waived by support", "by", w.state.Waived.By)
	w.state.LastError = ""
	err := w.activity(ctx, ActivityMarkCallBilling, BillingMark{CallID: w.in.CallID, State: BillingNotBillable,
		DurationSeconds: w.state.DurationSeconds, CarrierStatus: w.state.Status, Waived: w.state.Waived.Reason,
		Final: w.final, FinalReceivedAt: w.finalAt}).Get(ctx, nil)
	if err != nil {
		w.log.Warn("mark billing waived failed", "error", err)
	}
	w.setBilling(ctx, BillingNotBillable)
}

// drainRetries drops retry-billing signals already queued (a double click,
// two staff at once): one retry answers them all.
func (w *callWorkflow) drainRetries() {
	for w.retry.ReceiveAsync(nil) {
	}
}

// addSignals adds the dialed and status channels to sel.
func (w *callWorkflow) addSignals(ctx workflow.Context, sel workflow.Selector) {
	sel.AddReceive(w.dialed, func(c workflow.ReceiveChannel, _ bool) {
		var s DialedSignal
		c.Receive(ctx, &s)
		w.onDialed(ctx, s)
	})
	sel.AddReceive(w.status, func(c workflow.ReceiveChannel, _ bool) {
		var s StatusSignal
		c.Receive(ctx, &s)
		w.onStatus(ctx, s)
	})
	sel.AddReceive(w.balance, func(c workflow.ReceiveChannel, _ bool) {
		var s BalanceChangedSignal
		c.Receive(ctx, &s)
		w.state.SignalsSeen++
		// Acted on while the call goes on (followCall); a call not yet
		// dialled keeps it until then, a final one ignores it.
		if !IsFinal(w.state.Status) {
			w.moneyCheck, w.moneyReason = true, s.Reason
		}
	})
	sel.AddReceive(w.ended, func(c workflow.ReceiveChannel, _ bool) {
		var s BrowserEndedSignal
		c.Receive(ctx, &s)
		w.state.SignalsSeen++
		// Acted on by the loop that is waiting (awaitDial, followCall);
		// once the call is final it changes nothing.
		w.endRequested = !IsFinal(w.state.Status)
	})
}

func (w *callWorkflow) onDialed(ctx workflow.Context, s DialedSignal) {
	w.state.SignalsSeen++
	if w.seen[s.DedupKey] {
		return
	}
	w.seen[s.DedupKey] = true
	w.state.ParentCallSid = s.ParentCallSid
	if statusRank[w.state.Status] < statusRank[StatusDialing] {
		w.setStatus(ctx, StatusDialing)
		w.record(ctx, StatusDialing, "")
	}
}

func (w *callWorkflow) onStatus(ctx workflow.Context, s StatusSignal) {
	w.state.SignalsSeen++
	if w.seen[s.DedupKey] {
		return
	}
	w.seen[s.DedupKey] = true
	status, known := fromTwilio(s.Status)
	if !known {
		w.log.Warn("unknown Twilio status ignored", "status", s.Status)
		return
	}
	if s.ParentCallSid != "" && w.state.ParentCallSid == "" {
		w.state.ParentCallSid = s.ParentCallSid
	}
	if !s.FromDialAction && s.CallSid != "" {
		w.state.ChildCallSid = s.CallSid
	}
	if s.FromDialAction && s.DialCallSid != "" && w.state.ChildCallSid == "" {
		w.state.ChildCallSid = s.DialCallSid
	}
	// The dialled leg's duration is what we bill; keep the longest reported.
	if IsFinal(status) && s.DurationSeconds > w.state.DurationSeconds {
		w.state.DurationSeconds = s.DurationSeconds
	}
	if statusRank[status] <= statusRank[w.state.Status] || IsFinal(w.state.Status) {
		return // a duplicate in other words, or an out-of-order regression
	}
	if IsFinal(status) {
		w.finalAt, w.finalTrace = s.ReceivedAt, s.Trace
	}
	if status == StatusInProgress && w.answeredAt.IsZero() && !s.ReceivedAt.IsZero() {
		// The answer, as the web role received it: a signal redelivered
		// late must not start a money loss's cut late.
		w.answeredAt = s.ReceivedAt
		if now := workflow.Now(ctx); now.Before(w.answeredAt) {
			w.answeredAt = now
		}
	}
	w.setStatus(ctx, status)
	w.record(ctx, status, w.state.ChildCallSid)
}

// bill charges an answered call once, or marks an unanswered one not
// billable. A charge that cannot be posted leaves the call stuck until a
// retry-billing signal.
func (w *callWorkflow) bill(ctx workflow.Context) error {
	ctx = withTrace(ctx, w.finalTrace)
	if w.state.Waived != nil {
		// Stuck waiting for a final status, and waived by support.
		w.settleWaived(ctx)
		return nil
	}
	t := w.state.Terms
	rate := rating.Rate{PerMinuteMicros: t.PerMinuteMicros, ConnectionFeeMicros: t.ConnectionFeeMicros}
	duration := w.state.DurationSeconds
	if w.state.Status != StatusCompleted {
		duration = 0
	}
	if limit := w.ceilingSeconds(ctx); duration > limit {
		// Twilio's timeLimit ends the call at max_seconds (or the ceiling
		// a top-up could extend it to); a longer report (rounding on
		// Twilio's side) is billed at most that.
		duration = limit
	}
	cost := rating.CostCents(duration, rate)
	w.state.CostCents = cost
	if cost == 0 {
		w.markBilling(ctx, BillingNotBillable, "")
		w.setBilling(ctx, BillingNotBillable)
		return nil
	}
	// Retryable failures (Postgres away) are retried until they pass;
	// only a charge the ledger refuses makes the call stuck.
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		NonRetryableErrorTypes: []string{ErrTypeBillingFailed}}
	req := ChargeRequest{CallID: w.in.CallID, AccountID: w.in.AccountID, DurationSeconds: duration, CostCents: cost,
		CarrierStatus: w.state.Status, Final: w.final, FinalReceivedAt: w.finalAt}
	for {
		err := execute(ctx, w.fast, 15*time.Second, retry, ActivityChargeCall, req).Get(ctx, nil)
		w.state.BillingAttempts++ // after the outcome, which LastError then tells
		if err == nil {
			w.state.LastError = ""
			w.setBilling(ctx, BillingCharged)
			return nil
		}
		w.state.LastError = err.Error()
		w.log.Error("billing failed; the call is stuck until support retries", "error", err)
		w.setBilling(ctx, BillingStuck)
		w.markBilling(ctx, BillingStuck, err.Error())
		// Wait for support; keep draining late callbacks meanwhile.
		w.awaitRetry(ctx, func() bool { return false })
		if w.state.Waived != nil {
			w.settleWaived(ctx)
			return nil
		}
		w.log.Info("retrying billing at support's request")
	}
}

// activity runs one of the call's idempotent Postgres activities, retried
// until it passes (a call must not be left half-recorded by an outage): on
// the fast path as a local activity, in the workflow task that needs it.
func (w *callWorkflow) activity(ctx workflow.Context, name string, args ...any) workflow.Future {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
		MaximumInterval: time.Minute, NonRetryableErrorTypes: []string{ErrTypeBadInput}}
	return execute(ctx, w.fast, 15*time.Second, retry, name, args...)
}

// execute runs an activity with one start-to-close timeout and retry
// policy: as a local activity when local (the fast path), else through the
// activity task queue.
func execute(ctx workflow.Context, local bool, startToClose time.Duration, retry *temporal.RetryPolicy, name string, args ...any) workflow.Future {
	if local {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: startToClose, RetryPolicy: retry})
		return workflow.ExecuteLocalActivity(lctx, name, args...)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: startToClose, RetryPolicy: retry})
	return workflow.ExecuteActivity(actx, name, args...)
}

// record stores a transition (the calls row, a call event for the live
// screen). A failure is logged, not fatal: billing follows the workflow's
// state, not the row. On the fast path a final status is recorded by the
// billing activity that follows it, in its transaction.
func (w *callWorkflow) record(ctx workflow.Context, status, childSid string) {
	r := RecordStatus{CallID: w.in.CallID, UserID: w.in.UserID, Status: status, ChildCallSid: childSid}
	if w.fast && IsFinal(status) {
		w.final = &r
		return
	}
	if err := w.activity(ctx, ActivityRecordCallStatus, r).Get(ctx, nil); err != nil {
		w.log.Warn("record call status failed", "status", status, "error", err)
	}
}

func (w *callWorkflow) markBilling(ctx workflow.Context, state, reason string) {
	m := BillingMark{CallID: w.in.CallID, State: state,
		DurationSeconds: w.state.DurationSeconds, CarrierStatus: w.state.Status, Reason: reason, Final: w.final, FinalReceivedAt: w.finalAt}
	if state == BillingStuck {
		m.CostCents = w.state.CostCents
	}
	err := w.activity(ctx, ActivityMarkCallBilling, m).Get(ctx, nil)
	if err != nil {
		w.log.Warn("mark billing failed", "state", state, "error", err)
	}
}

// setStatus moves the call to status. On the fast path a final status is
// made visible with the billing state that follows it (one upsert).
func (w *callWorkflow) setStatus(ctx workflow.Context, status string) {
	w.state.Status = status
	if status == StatusInProgress && w.answeredAt.IsZero() {
		w.answeredAt = workflow.Now(ctx)
	}
	if w.fast {
		if !IsFinal(status) {
			w.upsert(ctx)
		}
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrCallStatus.ValueSet(status)); err != nil {
		w.log.Warn("upsert CallStatus", "error", err)
	}
}

func (w *callWorkflow) setBilling(ctx workflow.Context, state string) {
	w.state.BillingState = state
	if w.fast {
		w.upsert(ctx)
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrBillingState.ValueSet(state)); err != nil {
		w.log.Warn("upsert BillingState", "error", err)
	}
}

// settle moves the call to a final status and billing state at once.
func (w *callWorkflow) settle(ctx workflow.Context, status, billing string) {
	w.setStatus(ctx, status)
	w.setBilling(ctx, billing)
}

// upsert makes status and billing state visible together (fast path).
func (w *callWorkflow) upsert(ctx workflow.Context) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrCallStatus.ValueSet(w.state.Status),
		SearchAttrBillingState.ValueSet(w.state.BillingState)); err != nil {
		w.log.Warn("upsert CallStatus and BillingState", "error", err)
	}
}
