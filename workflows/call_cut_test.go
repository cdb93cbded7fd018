package workflows_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/workflows"
)

// cutFake adds the money-loss activities to fakeCarrierDB: CallAllowance
// answers allowances in turn (the last one again once they run out).
type cutFake struct {
	*fakeCarrierDB
	allowances []int64 // talk seconds the balance covers, per question
	asked      int
	limits     []workflows.CallLimit
	start      time.Time
}

// hungUpAt is when each hang-up was asked, since the workflow started.
func (c *cutFake) hungUpAt() []time.Duration {
	var out []time.Duration
	for _, at := range c.hangUpTimes {
		out = append(out, at.Sub(c.start).Round(time.Second))
	}
	return out
}

func (c *cutFake) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := c.fakeCarrierDB.env(t)
	start := env.Now()
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.ActivityCallAllowance, func(_ context.Context, r workflows.AllowanceRequest) (workflows.Allowance, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.MaxSeconds != max(600, c.ceiling) || r.PerMinuteMicros != 140_000 {
			t.Errorf("allowance asked with the wrong terms: %+v", r)
		}
		s := c.allowances[min(c.asked, len(c.allowances)-1)]
		c.asked++
		return workflows.Allowance{BalanceCents: s / 60 * 14, Seconds: s}, nil
	})
	reg(workflows.ActivityLimitCall, func(_ context.Context, l workflows.CallLimit) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.limits = append(c.limits, l)
		return nil
	})
	c.start = start
	return env
}

// A refund 30 s into a call leaves one minute's money: the call is cut to
// 60 s, hung up at the carrier 3 s before (cutMargin), and charged in full
// for what was talked.
func TestAMoneyLossCutsTheCallToWhatTheBalanceCovers(t *testing.T) {
	f := &cutFake{fakeCarrierDB: &fakeCarrierDB{afterHangUp: &workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 57}},
		allowances: []int64{60}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(0)[:3] { // answered at 4 s; the carrier will not end it
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	sendAt(env, 30*time.Second, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "refund"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)

	if len(f.limits) != 1 || f.limits[0].Seconds != 60 || f.limits[0].Reason != "refund" || f.limits[0].Clear {
		t.Fatalf("limits %+v, want one cut to 60 s for the refund", f.limits)
	}
	if len(f.hangUps) != 1 || f.hangUps[0].ParentCallSid != "CApar" {
		t.Fatalf("hang-ups %+v, want one of the browser's leg", f.hangUps)
	}
	// Answered at 4 s, cut to 60 s, hung up 3 s before the balance runs out.
	if got, want := f.hungUpAt(), []time.Duration{61 * time.Second}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("hung up at %v, want %v", got, want)
	}
	if len(f.charges) != 1 || f.charges[0].DurationSeconds != 57 || f.charges[0].CostCents != 14 {
		t.Fatalf("charges %+v, want one of 57 s at $0.14", f.charges)
	}
	if st.CutToSeconds == nil || *st.CutToSeconds != 60 || !st.CutEnded || st.BillingState != workflows.BillingCharged {
		t.Fatalf("state %+v", st)
	}
}

// A debit that leaves nothing, while the call rings, ends it at once:
// nothing talked, nothing charged.
func TestAMoneyLossToNothingEndsARingingCallAtOnce(t *testing.T) {
	f := &cutFake{fakeCarrierDB: &fakeCarrierDB{afterHangUp: &workflows.CarrierCall{Sid: "CAchild", Status: "canceled"}},
		allowances: []int64{0}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	sendAt(env, 2*time.Second, workflows.SignalTwilioStatus, status("CAchild", "ringing", 1, 0))
	sendAt(env, 5*time.Second, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "adjustment"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if got := f.hungUpAt(); len(got) != 1 || got[0] != 5*time.Second {
		t.Fatalf("hung up at %v, want once at 5 s", got)
	}
	if len(f.charges) != 0 || st.BillingState != workflows.BillingNotBillable || st.Status != workflows.StatusCanceled {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// A top-up during a cut call lifts the cut: the call goes on to its end,
// and nothing hangs it up.
func TestACreditLiftsTheCut(t *testing.T) {
	f := &cutFake{fakeCarrierDB: &fakeCarrierDB{}, allowances: []int64{60, 600}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	calls := answeredCall(200)
	for i, s := range calls[:3] {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	sendAt(env, 20*time.Second, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "refund"})
	sendAt(env, 40*time.Second, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "top-up"})
	sendAt(env, 204*time.Second, workflows.SignalTwilioStatus, calls[3])
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.limits) != 2 || f.limits[0].Seconds != 60 || !f.limits[1].Clear {
		t.Fatalf("limits %+v, want a cut to 60 s, then cleared", f.limits)
	}
	if len(f.hangUps) != 0 {
		t.Fatalf("hang-ups %+v after the credit lifted the cut", f.hangUps)
	}
	if len(f.charges) != 1 || f.charges[0].DurationSeconds != 200 || st.CutToSeconds != nil {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// A balance-changed signal after the call is over changes nothing; one
// that leaves the limit as it was stores nothing.
func TestABalanceChangeThatLeavesTheLimitChangesNothing(t *testing.T) {
	f := &cutFake{fakeCarrierDB: &fakeCarrierDB{}, allowances: []int64{600}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(61) {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	sendAt(env, 3500*time.Millisecond, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "top-up"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if f.asked != 1 || len(f.limits) != 0 || len(f.hangUps) != 0 || len(f.charges) != 1 || st.CutToSeconds != nil {
		t.Fatalf("asked %d, limits %+v, hang-ups %+v, charges %+v", f.asked, f.limits, f.hangUps, f.charges)
	}
}
