package workflows_test

import (
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/workflows"
)

// A top-up during a call extends it (issue 21). The carrier's limit is the
// ceiling (30 min here) above what the balance covers (max_seconds, 10
// min); the workflow ends the call at what the balance pays for.

// extendedCall runs a call answered at 4 s that the carrier would let run
// to its ceiling, with balance-changed signals at the given times.
func extendedCall(t *testing.T, allowances []int64, credits ...time.Duration) (*cutFake, workflows.CallState) {
	t.Helper()
	f := &cutFake{fakeCarrierDB: &fakeCarrierDB{ceiling: 1800,
		afterHangUp: &workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 0}}, allowances: allowances}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(0)[:3] { // answered at 4 s; the carrier will not end it before its ceiling
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	for _, at := range credits {
		sendAt(env, at, workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "top-up"})
	}
	// The carrier reports what was talked: from the answer at 4 s to the hang-up.
	f.hungUpTalk = func(at time.Time) int64 {
		return int64(at.Sub(f.start.Add(4*time.Second)).Round(time.Second) / time.Second)
	}
	env.ExecuteWorkflow(workflows.Call, callInput)
	return f, result(t, env)
}

// Without a credit the workflow hangs the call up at what the balance
// covers (600 s after the answer, cutMargin early), though the carrier
// would have let it run to its ceiling; it is charged what was talked.
func TestWithoutACreditTheCallIsHungUpAtTheCoveredSeconds(t *testing.T) {
	f, st := extendedCall(t, []int64{600})
	if got := f.hungUpAt(); len(got) != 1 || got[0] != 601*time.Second {
		t.Fatalf("hung up at %v, want once at 601 s (answered at 4 s, 600 s covered, 3 s margin)", got)
	}
	if len(f.limits) != 0 || f.asked != 0 {
		t.Fatalf("limits %+v, allowance asked %d times, with no balance change", f.limits, f.asked)
	}
	if len(f.charges) != 1 || f.charges[0].DurationSeconds != 597 || st.BillingState != workflows.BillingCharged || !st.CutEnded {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// A top-up 100 s into the call raises its limit to what the balance now
// pays for (20 min): hung up then, not at 10 min, and the live row says so.
func TestACreditDuringACallRaisesItsLimit(t *testing.T) {
	f, st := extendedCall(t, []int64{1200}, 100*time.Second)
	if len(f.limits) != 1 || f.limits[0].Seconds != 1200 || f.limits[0].Reason != "top-up" || f.limits[0].Clear {
		t.Fatalf("limits %+v, want one raise to 1200 s for the top-up", f.limits)
	}
	if got := f.hungUpAt(); len(got) != 1 || got[0] != 1201*time.Second {
		t.Fatalf("hung up at %v, want once at 1201 s", got)
	}
	if len(f.charges) != 1 || f.charges[0].DurationSeconds != 1197 || f.charges[0].CostCents != 20*14 {
		t.Fatalf("charges %+v, want 1197 s (20 min at $0.14)", f.charges)
	}
	if st.CutToSeconds == nil || *st.CutToSeconds != 1200 {
		t.Fatalf("state %+v", st)
	}
}

// A credit worth more than the ceiling raises the limit to the ceiling and
// no further: the carrier would end the call there anyway. A second credit
// changes nothing more.
func TestACreditRaisesTheLimitUpToTheCeilingNotPastIt(t *testing.T) {
	f, st := extendedCall(t, []int64{5000}, 100*time.Second, 200*time.Second)
	if len(f.limits) != 1 || f.limits[0].Seconds != 1800 {
		t.Fatalf("limits %+v, want one raise to the 1800 s ceiling", f.limits)
	}
	if got := f.hungUpAt(); len(got) != 1 || got[0] != 1801*time.Second {
		t.Fatalf("hung up at %v, want once at 1801 s", got)
	}
	if len(f.charges) != 1 || f.charges[0].DurationSeconds != 1797 || *st.CutToSeconds != 1800 {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// A money loss on an extendable call still cuts it below what was covered.
func TestAMoneyLossCutsAnExtendableCall(t *testing.T) {
	f, _ := extendedCall(t, []int64{120}, 30*time.Second)
	if len(f.limits) != 1 || f.limits[0].Seconds != 120 {
		t.Fatalf("limits %+v, want a cut to 120 s", f.limits)
	}
	if got := f.hungUpAt(); len(got) != 1 || got[0] != 121*time.Second {
		t.Fatalf("hung up at %v, want once at 121 s", got)
	}
}
