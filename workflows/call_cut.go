package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A money loss during a call (issue 24, item 7). Authorization locked the
// call's max_seconds to what the balance covered then; a refund, a dispute
// or a staff debit since can take that money away. Whatever posted it
// sends balance-changed; the workflow reads the balance (CallAllowance),
// and when it now covers less talk time than the call may still take, cuts
// the call to it (LimitCall, which the caller's in-call bar shows), then
// hangs the call up at the carrier when that time is up (cutMargin before,
// so the last second's rounding starts no minute the balance lacks), or at
// once when the balance covers nothing. The charge still posts in full for
// the time talked (the debt rule): the cut keeps the debt small, it never
// refuses the bill. A credit while a cut stands raises it again, up to
// what authorization allowed (Twilio's timeLimit ends the call there).

// A top-up during a call extends it (issue 21). Twilio fixes <Dial
// timeLimit> when the Dial starts (at most 14400 s), and a Calls update
// with new TwiML would end the Dial, not lengthen it; so authorization
// gives the carrier a ceiling (CallTerms.CeilingSeconds: what the balance
// covers plus a bounded headroom) and the workflow ends the call itself at
// what the balance pays for, by the cut's path (a timer from the answer,
// then a hang-up at the carrier's REST API). A credit's balance-changed
// raises that limit up to the ceiling, never past it.
const (
	// ExtensionHeadroom: how far above what the balance covers the
	// carrier's limit is set, at most.
	ExtensionHeadroom = 30 * time.Minute
	// ExtensionDebtCents bounds the headroom by money: no more than this of
	// talk at the call's rate (at least one minute), the most a call can
	// run unpaid when the workflow's hang-up fails.
	ExtensionDebtCents = 300
	// CarrierTimeLimitMax is Twilio's largest <Dial timeLimit>.
	CarrierTimeLimitMax = 14400
)

// extends reports whether the workflow enforces the call's limit itself
// (the carrier's is the ceiling above it), asking versionTopUpExtends once
// for such a call: a call authorized before it has no ceiling, and asks
// nothing.
func (w *callWorkflow) extends(ctx workflow.Context) bool {
	if w.extendOn == nil {
		on := w.state.Terms != nil && w.state.Terms.Extendable() &&
			(w.current || workflow.GetVersion(ctx, versionTopUpExtends, workflow.DefaultVersion, 1) == 1)
		w.extendOn = &on
	}
	return *w.extendOn
}

// limitSeconds is the talk time the workflow ends the call at: the cut or
// extension a balance change set, else max_seconds when the workflow
// enforces it (extends); ok is false when the carrier's timeLimit does.
func (w *callWorkflow) limitSeconds(ctx workflow.Context) (seconds int64, ok bool) {
	if c := w.state.CutToSeconds; c != nil {
		return *c, true
	}
	if w.extends(ctx) {
		return w.state.Terms.MaxSeconds, true
	}
	return 0, false
}

// ceilingSeconds is the most the call may be given: the carrier's limit.
func (w *callWorkflow) ceilingSeconds(ctx workflow.Context) int64 {
	if w.extends(ctx) {
		return w.state.Terms.CeilingSeconds
	}
	return w.state.Terms.MaxSeconds
}

// moneyLossOn reports whether versionMoneyLoss is on, asking it once.
func (w *callWorkflow) moneyLossOn(ctx workflow.Context) bool {
	if w.moneyLoss == nil {
		on := w.current || workflow.GetVersion(ctx, versionMoneyLoss, workflow.DefaultVersion, 1) == 1
		w.moneyLoss = &on
	}
	return *w.moneyLoss
}

// applyAllowance reads what the balance covers and moves the cut: down to
// it when it is less than the call may take now, up (or away) when a
// credit raised it. The read is retried until Postgres answers; one that
// fails for good (bad input) leaves the cut as it was.
func (w *callWorkflow) applyAllowance(ctx workflow.Context) {
	t := w.state.Terms
	ceiling := w.ceilingSeconds(ctx)
	// Retried until Postgres answers (a blip must not let the call run on
	// money that is gone); callbacks that arrive meanwhile wait their turn.
	retry := &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second,
		NonRetryableErrorTypes: []string{ErrTypeBadInput}}
	req := AllowanceRequest{CallID: w.in.CallID, AccountID: w.in.AccountID, PerMinuteMicros: t.PerMinuteMicros,
		ConnectionFeeMicros: t.ConnectionFeeMicros, MaxSeconds: ceiling}
	var a Allowance
	if err := execute(ctx, w.fast, 10*time.Second, retry, ActivityCallAllowance, req).Get(ctx, &a); err != nil {
		w.log.Warn("read the balance after a money loss failed: the call keeps its limit", "error", err)
		return
	}
	w.cutFailed = false
	current := t.MaxSeconds
	if w.state.CutToSeconds != nil {
		current = *w.state.CutToSeconds
	}
	limit := CallLimit{CallID: w.in.CallID, Seconds: min(a.Seconds, ceiling), Reason: w.moneyReason}
	switch {
	case w.state.CutEnded || limit.Seconds == current:
		return
	case limit.Seconds < current:
		w.log.Info("the balance no longer covers the call: cutting it", "balance_cents", a.BalanceCents,
			"seconds", limit.Seconds, "was", current, "reason", w.moneyReason)
		w.state.CutToSeconds, w.state.CutReason = &limit.Seconds, w.moneyReason
	case w.state.CutToSeconds == nil && !w.extends(ctx):
		return // the carrier ends the call at max_seconds: nothing to raise
	case limit.Seconds == t.MaxSeconds:
		w.log.Info("a credit covers the call again: the cut is lifted", "balance_cents", a.BalanceCents)
		w.state.CutToSeconds, w.state.CutReason = nil, ""
		limit = CallLimit{CallID: w.in.CallID, Clear: true}
	case limit.Seconds > t.MaxSeconds:
		// A top-up during the call (issue 21): up to the carrier's ceiling.
		w.log.Info("a credit extended the call", "balance_cents", a.BalanceCents, "seconds", limit.Seconds,
			"was", current, "ceiling", ceiling, "reason", w.moneyReason)
		w.state.CutToSeconds, w.state.CutReason = &limit.Seconds, w.moneyReason
	default:
		w.log.Info("a credit raised the cut", "balance_cents", a.BalanceCents, "seconds", limit.Seconds, "was", current)
		w.state.CutToSeconds = &limit.Seconds
	}
	if err := w.activity(ctx, ActivityLimitCall, limit).Get(ctx, nil); err != nil {
		w.log.Warn("store the call's cut failed", "error", err)
	}
}

// cutNow hangs the call up when its cut is due, and keeps a timer for when
// it will be (under timerCtx, cancelled with the wait it belongs to);
// ended reports that it hung up just now.
func (w *callWorkflow) cutNow(ctx, timerCtx workflow.Context) (ended bool) {
	due, ok := w.cutDue(ctx)
	if !ok || w.cutFailed {
		w.stopCutTimer()
		return false
	}
	now := workflow.Now(ctx)
	if due.After(now) {
		if w.cutTimer == nil || !due.Equal(w.cutTimerAt) {
			w.stopCutTimer()
			tctx, cancel := workflow.WithCancel(timerCtx)
			w.cutTimer, w.cutTimerAt, w.cancelCut = workflow.NewTimer(tctx, due.Sub(now)), due, cancel
		}
		return false
	}
	w.stopCutTimer()
	limit, _ := w.limitSeconds(ctx)
	w.log.Info("the balance is used up: ending the call at the carrier", "limit_seconds", limit)
	req := HangUpRequest{CallID: w.in.CallID, ParentCallSid: w.state.ParentCallSid, ChildCallSid: w.state.ChildCallSid}
	if err := w.lookup(ctx, ActivityHangUpCarrierCall, req).Get(ctx, nil); err != nil {
		// Twilio's timeLimit (max_seconds) still ends it; the charge posts
		// in full whatever the call lasted.
		w.state.LastError = err.Error()
		w.cutFailed = true
		w.log.Warn("ending the call at its cut failed", "error", err)
		return false
	}
	w.state.CutEnded, w.state.HungUp = true, true
	return true
}

// cutDue is when the workflow ends the call (limitSeconds: a cut, an
// extension, or max_seconds when the carrier's limit is the ceiling above
// it): its seconds after the answer (less cutMargin); at once for a cut to
// nothing, answered or not. ok is false when the carrier's limit is the
// call's, once the workflow has ended the call, or while an unanswered
// call has talk time left (the clock starts at the answer).
func (w *callWorkflow) cutDue(ctx workflow.Context) (due time.Time, ok bool) {
	if w.state.CutEnded || IsFinal(w.state.Status) {
		return time.Time{}, false
	}
	c, ok := w.limitSeconds(ctx)
	switch {
	case !ok:
		return time.Time{}, false
	case c == 0:
		return workflow.Now(ctx), true
	case w.answeredAt.IsZero():
		return time.Time{}, false
	}
	return w.answeredAt.Add(max(time.Duration(c)*time.Second-cutMargin, 0)), true
}

func (w *callWorkflow) stopCutTimer() {
	if w.cancelCut != nil {
		w.cancelCut()
	}
	w.cutTimer, w.cutTimerAt, w.cancelCut = nil, time.Time{}, nil
}
