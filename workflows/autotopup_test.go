package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// fakeAutoTopUp stands in for Postgres and Stripe behind the auto top-up
// activities: a balance below the threshold, and one outcome for every
// top-up.
type fakeAutoTopUp struct {
	mu       sync.Mutex
	enabled  bool
	low      bool   // the balance is below the threshold
	outcome  string // what AwaitAutoTopUp answers
	pending  int    // AwaitAutoTopUp answers pending this many times first
	plans    int
	seq      int
	inFlight string
	started  []string
	offs     []workflows.AutoTopUpTurnOff
	emails   int
	// startFails: StartAutoTopUp is refused this many times first.
	startFails int
}

func (f *fakeAutoTopUp) env() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.AutoTopUp, workflow.RegisterOptions{Name: workflows.AutoTopUpWorkflowName})
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.ActivityPlanAutoTopUp, func(_ context.Context, user string) (workflows.AutoTopUpPlan, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.plans++
		switch {
		case !f.enabled:
			return workflows.AutoTopUpPlan{Action: workflows.AutoTopUpOff}, nil
		case f.inFlight != "":
			return workflows.AutoTopUpPlan{Action: workflows.AutoTopUpPay, TopUp: &workflows.TopUpInput{TopUpID: f.inFlight, UserID: user, AmountCents: 1000}}, nil
		case !f.low:
			return workflows.AutoTopUpPlan{Action: workflows.AutoTopUpNone}, nil
		}
		f.seq++
		f.inFlight = workflows.AutoTopUpTopUpID(user, f.seq)
		return workflows.AutoTopUpPlan{Action: workflows.AutoTopUpPay, TopUp: &workflows.TopUpInput{TopUpID: f.inFlight, UserID: user, AmountCents: 1000}}, nil
	})
	reg(workflows.ActivityStartAutoTopUp, func(_ context.Context, in workflows.TopUpInput) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.started = append(f.started, in.TopUpID)
		if f.startFails > 0 {
			f.startFails--
			return temporal.NewNonRetryableApplicationError("Temporal is down", workflows.ErrTypeBadInput, nil)
		}
		return nil
	})
	reg(workflows.ActivityAwaitAutoTopUp, func(_ context.Context, id string) (workflows.AutoTopUpOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.pending > 0 {
			f.pending--
			return workflows.AutoTopUpOutcome{}, temporal.NewApplicationError("pending", workflows.ErrTypeAutoTopUpPending)
		}
		f.inFlight = ""
		if f.outcome == workflows.AutoTopUpCredited {
			f.low = false
		}
		return workflows.AutoTopUpOutcome{Outcome: f.outcome}, nil
	})
	reg(workflows.ActivityTurnAutoTopUpOff, func(_ context.Context, off workflows.AutoTopUpTurnOff) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.enabled = false
		f.offs = append(f.offs, off)
		return nil
	})
	reg(workflows.ActivityEmailAutoTopUpOff, func(context.Context, workflows.AutoTopUpTurnOff) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.emails++
		return nil
	})
	return env
}

func TestAutoTopUpChecksAtOnceMakeOneTopUp(t *testing.T) {
	f := &fakeAutoTopUp{enabled: true, low: true, outcome: workflows.AutoTopUpCredited, pending: 3}
	env := f.env()
	// Three postings cross the threshold at once; two more while the
	// top-up is under way.
	env.RegisterDelayedCallback(func() {
		for i := 0; i < 3; i++ {
			env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
		}
	}, 0)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
	}, 2*time.Second)
	// Later the person turns it off: the workflow ends.
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.enabled = false
		f.mu.Unlock()
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "settings"})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: "u1"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(f.started) != 1 || f.started[0] != workflows.AutoTopUpTopUpID("u1", 1) {
		t.Fatalf("started %v, want one top-up", f.started)
	}
	if len(f.offs) != 0 || f.emails != 0 {
		t.Fatalf("turned off %v, %d emails", f.offs, f.emails)
	}
	var st workflows.AutoTopUpState
	if err := env.GetWorkflowResult(&st); err != nil || !st.Off || st.LastOutcome != workflows.AutoTopUpCredited {
		t.Fatalf("state %+v, %v", st, err)
	}
}

func TestAutoTopUpDeclineTurnsItOffOnce(t *testing.T) {
	for _, outcome := range []string{workflows.AutoTopUpDeclined, workflows.AutoTopUpRequiresAction} {
		t.Run(outcome, func(t *testing.T) {
			f := &fakeAutoTopUp{enabled: true, low: true, outcome: outcome}
			env := f.env()
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
			}, 0)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
			}, time.Second)
			env.ExecuteWorkflow(workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: "u1"})
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
			}
			// The card is tried once: the workflow ends off, whatever
			// checks came after.
			if len(f.started) != 1 || len(f.offs) != 1 || f.emails != 1 {
				t.Fatalf("started %v, offs %v, emails %d", f.started, f.offs, f.emails)
			}
			if f.offs[0].TopUpID != f.started[0] || f.offs[0].Reason == "" {
				t.Fatalf("off %+v", f.offs[0])
			}
		})
	}
}

func TestAutoTopUpRechecksWithoutASignal(t *testing.T) {
	// The signal that should have come was lost: the recheck finds the
	// low balance.
	f := &fakeAutoTopUp{enabled: true, low: true, outcome: workflows.AutoTopUpDeclined}
	env := f.env()
	env.ExecuteWorkflow(workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: "u1", Recheck: time.Hour})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(f.started) != 1 || f.plans != 1 {
		t.Fatalf("started %v after %d plans", f.started, f.plans)
	}
}

func TestAutoTopUpContinuesAsNewWithItsPendingCheck(t *testing.T) {
	// Balance never low: each check is one look, and after the run's
	// share of looks the history is handed on.
	f := &fakeAutoTopUp{enabled: true}
	env := f.env()
	for i := 0; i < 150; i++ {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
		}, time.Duration(i+1)*time.Minute)
	}
	env.ExecuteWorkflow(workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: "u1"})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("error %v, want continue-as-new", err)
	}
	if f.plans != 100 {
		t.Fatalf("%d looks before continue-as-new", f.plans)
	}
}

func TestAutoTopUpNotStartedIsStartedAtTheNextLookNotDoubled(t *testing.T) {
	f := &fakeAutoTopUp{enabled: true, low: true, outcome: workflows.AutoTopUpCredited, startFails: 1}
	env := f.env()
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
	}, 0)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "call charge"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.enabled = false
		f.mu.Unlock()
		env.SignalWorkflow(workflows.SignalAutoTopUpCheck, workflows.AutoTopUpCheck{Reason: "settings"})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: "u1"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	// The same top-up, started twice: one payment.
	id := workflows.AutoTopUpTopUpID("u1", 1)
	if len(f.started) != 2 || f.started[0] != id || f.started[1] != id || f.seq != 1 {
		t.Fatalf("started %v (%d made)", f.started, f.seq)
	}
}
