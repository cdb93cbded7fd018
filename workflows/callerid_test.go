package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// fakeCallerIDs stands in for Twilio and Postgres behind the caller ID
// activities, recording what the workflow asked.
type fakeCallerIDs struct {
	mu       sync.Mutex
	requests []workflows.CallerIDInput
	finished []workflows.FinishCallerIDInput
	refuse   string // RequestCallerIDValidation refuses with this message
}

func (f *fakeCallerIDs) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CallerID, workflow.RegisterOptions{Name: workflows.CallerIDWorkflowName})
	env.RegisterActivityWithOptions(func(_ context.Context, in workflows.CallerIDInput) (workflows.CallerIDRequested, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, in)
		if f.refuse != "" {
			return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError(f.refuse, workflows.ErrTypeCallerIDRefused, nil)
		}
		return workflows.CallerIDRequested{CallSid: callSidOf(in.Attempt)}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityRequestCallerIDValidation})
	env.RegisterActivityWithOptions(func(_ context.Context, in workflows.FinishCallerIDInput) (workflows.CallerIDState, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.finished = append(f.finished, in)
		return workflows.CallerIDState{Status: in.Status, Reason: in.Reason}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityFinishCallerID})
	return env
}

func callSidOf(attempt int32) string {
	return "CA000000000000000000000000000000a" + string(rune('0'+attempt))
}

func callerIDInput(attempt int32) workflows.CallerIDInput {
	return workflows.CallerIDInput{UserID: "u1", E164: "+2348031234567", Attempt: attempt,
		StatusCallback: "https://app.example/api/webhooks/twilio/callerid", Timeout: 10 * time.Minute}
}

// runCallerID runs one attempt, sending each signal after its delay, and
// returns the outcome.
func runCallerID(t *testing.T, f *fakeCallerIDs, in workflows.CallerIDInput, signals map[time.Duration]workflows.CallerIDResult) workflows.CallerIDState {
	t.Helper()
	env := f.env(t)
	for after, sig := range signals {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalCallerIDResult, sig) }, after)
	}
	env.ExecuteWorkflow(workflows.CallerIDWorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st workflows.CallerIDState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCallerIDVerified(t *testing.T) {
	f := &fakeCallerIDs{}
	st := runCallerID(t, f, callerIDInput(1), map[time.Duration]workflows.CallerIDResult{
		time.Minute: {DedupKey: "callerid:a", Attempt: 1, CallSid: callSidOf(1), VerificationStatus: workflows.VerificationSuccess, OutgoingCallerIDSid: "PN1"},
	})
	if st.Status != workflows.CallerIDVerified {
		t.Fatalf("status %q, want verified", st.Status)
	}
	if len(f.requests) != 1 || f.requests[0].StatusCallback == "" {
		t.Fatalf("validation requests %+v", f.requests)
	}
	if len(f.finished) != 1 || f.finished[0].OutgoingCallerIDSid != "PN1" || f.finished[0].Attempt != 1 {
		t.Fatalf("finished %+v", f.finished)
	}
}

func TestCallerIDWrongCodeFails(t *testing.T) {
	f := &fakeCallerIDs{}
	st := runCallerID(t, f, callerIDInput(1), map[time.Duration]workflows.CallerIDResult{
		time.Minute: {DedupKey: "callerid:a", Attempt: 1, CallSid: callSidOf(1), VerificationStatus: workflows.VerificationFailed},
	})
	if st.Status != workflows.CallerIDFailed || st.Reason != workflows.ReasonCodeNotEntered {
		t.Fatalf("state %+v, want failed", st)
	}
	if len(f.finished) != 1 || f.finished[0].OutgoingCallerIDSid != "" {
		t.Fatalf("finished %+v", f.finished)
	}
}

// A success callback without its OutgoingCallerIdSid is not a verification.
func TestCallerIDSuccessWithoutSidFails(t *testing.T) {
	f := &fakeCallerIDs{}
	st := runCallerID(t, f, callerIDInput(1), map[time.Duration]workflows.CallerIDResult{
		time.Minute: {DedupKey: "callerid:a", Attempt: 1, CallSid: callSidOf(1), VerificationStatus: workflows.VerificationSuccess},
	})
	if st.Status != workflows.CallerIDFailed {
		t.Fatalf("state %+v, want failed", st)
	}
}

func TestCallerIDTimesOut(t *testing.T) {
	f := &fakeCallerIDs{}
	in := callerIDInput(1)
	in.Timeout = 3 * time.Minute
	// The callback comes after the timeout: too late.
	st := runCallerID(t, f, in, map[time.Duration]workflows.CallerIDResult{
		4 * time.Minute: {DedupKey: "callerid:a", Attempt: 1, CallSid: callSidOf(1), VerificationStatus: workflows.VerificationSuccess, OutgoingCallerIDSid: "PN1"},
	})
	if st.Status != workflows.CallerIDExpired || st.Reason != workflows.ReasonTimedOut {
		t.Fatalf("state %+v, want expired", st)
	}
	if len(f.finished) != 1 || f.finished[0].Status != workflows.CallerIDExpired {
		t.Fatalf("finished %+v", f.finished)
	}
}

// A retry is a new run, attempt 2: a late callback of attempt 1 (its own
// call) changes nothing, and attempt 2's own callback verifies.
func TestCallerIDRetryIgnoresTheEarlierAttempt(t *testing.T) {
	f := &fakeCallerIDs{}
	in := callerIDInput(1)
	in.Timeout = time.Minute
	if st := runCallerID(t, f, in, nil); st.Status != workflows.CallerIDExpired {
		t.Fatalf("attempt 1: %+v, want expired", st)
	}
	st := runCallerID(t, f, callerIDInput(2), map[time.Duration]workflows.CallerIDResult{
		time.Second:     {DedupKey: "callerid:old", Attempt: 1, CallSid: callSidOf(1), VerificationStatus: workflows.VerificationFailed},
		2 * time.Second: {DedupKey: "callerid:other-call", Attempt: 2, CallSid: "CAsomeothercall", VerificationStatus: workflows.VerificationFailed},
		time.Minute:     {DedupKey: "callerid:new", Attempt: 2, CallSid: callSidOf(2), VerificationStatus: workflows.VerificationSuccess, OutgoingCallerIDSid: "PN2"},
	})
	if st.Status != workflows.CallerIDVerified {
		t.Fatalf("attempt 2: %+v, want verified", st)
	}
	if len(f.requests) != 2 || f.requests[1].Attempt != 2 {
		t.Fatalf("requests %+v", f.requests)
	}
	last := f.finished[len(f.finished)-1]
	if last.Attempt != 2 || last.OutgoingCallerIDSid != "PN2" {
		t.Fatalf("finished %+v", f.finished)
	}
}

// Twilio refuses the request (the number is verified already): failed at
// once with Twilio's reason, no wait.
func TestCallerIDRefusedFailsAtOnce(t *testing.T) {
	f := &fakeCallerIDs{refuse: "This number is verified by another account."}
	st := runCallerID(t, f, callerIDInput(1), nil)
	if st.Status != workflows.CallerIDFailed || st.Reason != f.refuse {
		t.Fatalf("state %+v", st)
	}
	if len(f.requests) != 1 {
		t.Fatalf("requests %+v: a refusal is not retried", f.requests)
	}
}

// The person removes the number while Twilio calls: the attempt ends and
// records nothing (the row is gone).
func TestCallerIDRemovedEndsTheAttempt(t *testing.T) {
	f := &fakeCallerIDs{}
	st := runCallerID(t, f, callerIDInput(1), map[time.Duration]workflows.CallerIDResult{
		time.Second: {DedupKey: "removed", Attempt: 1, VerificationStatus: workflows.CallerIDCanceled},
	})
	if st.Status != workflows.CallerIDRemoved || len(f.finished) != 0 {
		t.Fatalf("state %+v, finished %+v", st, f.finished)
	}
}
