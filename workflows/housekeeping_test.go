package workflows_test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/workflows"
)

func TestHousekeepingReportsWhatWasPruned(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	calls := 0
	env.RegisterActivityWithOptions(func(context.Context) (workflows.HousekeepingResult, error) {
		calls++
		if calls == 1 {
			return workflows.HousekeepingResult{}, errors.New("connection refused")
		}
		return workflows.HousekeepingResult{SignInFailures: 3, PasswordResets: 2, Sessions: 5, WebhookEvents: 7}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityPruneExpiredData})
	env.ExecuteWorkflow(workflows.Housekeeping)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r workflows.HousekeepingResult
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	want := workflows.HousekeepingResult{SignInFailures: 3, PasswordResets: 2, Sessions: 5, WebhookEvents: 7}
	if r != want || calls != 2 {
		t.Fatalf("result %+v after %d attempts, want %+v after a retry", r, calls, want)
	}
}
