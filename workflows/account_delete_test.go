package workflows_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// fakeDeletion stands in for Postgres, Stripe, Twilio and Temporal behind
// the account deletion's activities, recording the steps asked for.
type fakeDeletion struct {
	mu     sync.Mutex
	steps  []string
	refuse string // BeginAccountDeletion refuses with this reason
	flaky  int    // EraseAccountData fails this many times first
}

func (f *fakeDeletion) record(step string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steps = append(f.steps, step)
}

func (f *fakeDeletion) env() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.AccountDeletion, workflow.RegisterOptions{Name: workflows.AccountDeletionWorkflowName})
	env.RegisterActivityWithOptions(func(_ context.Context, in workflows.AccountDeletionInput) (workflows.AccountDeletionStarted, error) {
		f.record("begin")
		if f.refuse != "" {
			return workflows.AccountDeletionStarted{}, temporal.NewNonRetryableApplicationError("refused", workflows.ErrTypeDeletionRefused, nil, f.refuse)
		}
		return workflows.AccountDeletionStarted{BalanceCents: 990}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityBeginAccountDeletion})
	env.RegisterActivityWithOptions(func(context.Context, workflows.AccountDeletionInput) (int64, error) {
		f.record("sign-out")
		return 2, nil
	}, activity.RegisterOptions{Name: workflows.ActivitySignOutAccount})
	env.RegisterActivityWithOptions(func(context.Context, workflows.AccountDeletionInput) error {
		f.record("providers")
		return nil
	}, activity.RegisterOptions{Name: workflows.ActivityDeleteAccountProviders})
	env.RegisterActivityWithOptions(func(context.Context, workflows.AccountDeletionInput) (workflows.AccountErased, error) {
		f.record("erase")
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.flaky > 0 {
			f.flaky--
			return workflows.AccountErased{}, errors.New("postgres went away")
		}
		return workflows.AccountErased{Rows: map[string]int64{"users": 1}}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityEraseAccountData})
	env.RegisterActivityWithOptions(func(context.Context, workflows.AccountDeletionInput) (int, error) {
		f.record("workflows")
		return 3, nil
	}, activity.RegisterOptions{Name: workflows.ActivityDeleteAccountWorkflows})
	return env
}

// runDeletion runs a deletion whose request-deletion update arrives at
// once (update-with-start); it returns the outcome and the update's error.
func runDeletion(t *testing.T, f *fakeDeletion) (workflows.AccountDeletionState, error) {
	t.Helper()
	env := f.env()
	var updateErr error
	var answered bool
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRequestDeletion, "request-deletion", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("update rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(_ any, err error) {
				updateErr, answered = err, true
			},
		})
	}, 0)
	env.ExecuteWorkflow(workflows.AccountDeletionWorkflowName, workflows.AccountDeletionInput{UserID: "9b2f0000-0000-4000-8000-000000000001"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if !answered {
		t.Fatal("the update was never answered")
	}
	var st workflows.AccountDeletionState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st, updateErr
}

func TestAccountDeletionRunsEveryStepInOrder(t *testing.T) {
	f := &fakeDeletion{flaky: 2}
	st, err := runDeletion(t, f)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	want := "begin sign-out providers erase erase erase workflows"
	if got := strings.Join(f.steps, " "); got != want {
		t.Errorf("steps %q, want %q (a failed erasure retried)", got, want)
	}
	if st.Status != workflows.DeletionDone || st.BalanceCents != 990 || st.SessionsEnded != 2 || st.WorkflowsDeleted != 3 {
		t.Errorf("state %+v", st)
	}
}

func TestAccountDeletionRefusedChangesNothing(t *testing.T) {
	f := &fakeDeletion{refuse: workflows.DeletionRefusedOpenCall}
	st, err := runDeletion(t, f)
	var appErr *temporal.ApplicationError
	var reason string
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeDeletionRefused || appErr.Details(&reason) != nil || reason != workflows.DeletionRefusedOpenCall {
		t.Fatalf("update error %v (reason %q), want the open-call refusal", err, reason)
	}
	if got := strings.Join(f.steps, " "); got != "begin" {
		t.Errorf("steps after a refusal: %q", got)
	}
	if st.Status != workflows.DeletionRefused || st.Refusal != workflows.DeletionRefusedOpenCall {
		t.Errorf("state %+v", st)
	}
}

// A run started without its update (a web request that died) ends on its
// own, having changed nothing.
func TestAccountDeletionWithoutItsRequestEnds(t *testing.T) {
	f := &fakeDeletion{}
	env := f.env()
	env.ExecuteWorkflow(workflows.AccountDeletionWorkflowName, workflows.AccountDeletionInput{UserID: "u"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil || len(f.steps) != 0 {
		t.Fatalf("completed %v, %v, steps %v", env.IsWorkflowCompleted(), env.GetWorkflowError(), f.steps)
	}
}
