package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/workflows"
)

// exportActivities stands in for the data export's activities, recording
// what ran and when (in the test environment's clock).
type exportActivities struct {
	env                 *testsuite.TestWorkflowEnvironment
	steps               []string
	buildFails          int
	emailErr            error
	expiresIn           time.Duration
	emailedAt, expireAt time.Time
}

func (a *exportActivities) register() {
	a.env.RegisterActivityWithOptions(func(context.Context, workflows.DataExportInput) (workflows.DataExportBuilt, error) {
		a.steps = append(a.steps, "build")
		if a.buildFails > 0 {
			a.buildFails--
			return workflows.DataExportBuilt{}, errors.New("connection refused")
		}
		return workflows.DataExportBuilt{SizeBytes: 1234}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityBuildDataExport})
	a.env.RegisterActivityWithOptions(func(context.Context, workflows.DataExportInput) (workflows.DataExportEmailed, error) {
		a.steps = append(a.steps, "email")
		if a.emailErr != nil {
			return workflows.DataExportEmailed{}, a.emailErr
		}
		a.emailedAt = a.env.Now()
		return workflows.DataExportEmailed{ExpiresAt: a.emailedAt.Add(a.expiresIn)}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityEmailDataExport})
	a.env.RegisterActivityWithOptions(func(context.Context, workflows.DataExportInput) error {
		a.steps = append(a.steps, "expire")
		a.expireAt = a.env.Now()
		return nil
	}, activity.RegisterOptions{Name: workflows.ActivityExpireDataExport})
}

var exportIn = workflows.DataExportInput{ExportID: "7f1c2d8e-0000-4000-8000-000000000001", UserID: "7f1c2d8e-0000-4000-8000-000000000002",
	TTL: 24 * time.Hour, BaseURL: "http://127.0.0.1:8080"}

// The happy path: built (after a failed attempt), emailed, and the ZIP
// deleted when the link expires, not before.
func TestDataExportBuildsEmailsAndDeletesAtExpiry(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &exportActivities{env: env, buildFails: 1, expiresIn: 24 * time.Hour}
	a.register()
	env.ExecuteWorkflow(workflows.DataExport, exportIn)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := a.steps; len(got) != 4 || got[0] != "build" || got[1] != "build" || got[2] != "email" || got[3] != "expire" {
		t.Fatalf("steps %v", got)
	}
	if waited := a.expireAt.Sub(a.emailedAt); waited < 24*time.Hour {
		t.Fatalf("the ZIP was deleted %s after the email, before its link expired", waited)
	}
}

// An export that cannot be mailed is failed (ExpireDataExport on a
// preparing export), and the workflow fails, red in the UI.
func TestDataExportThatCannotBeMailedIsFailed(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &exportActivities{env: env, emailErr: temporal.NewNonRetryableApplicationError("no mailer", "NoMailer", nil)}
	a.register()
	env.ExecuteWorkflow(workflows.DataExport, exportIn)
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("the workflow succeeded")
	}
	if got := a.steps; len(got) != 3 || got[2] != "expire" {
		t.Fatalf("steps %v", got)
	}
}
