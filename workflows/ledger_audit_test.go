package workflows_test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/workflows"
)

func newEnv(t *testing.T, verify func(context.Context) (workflows.LedgerAuditResult, error)) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(verify, activity.RegisterOptions{Name: workflows.ActivityVerifyLedger})
	return env
}

func TestLedgerAuditPassesABalancedLedger(t *testing.T) {
	env := newEnv(t, func(context.Context) (workflows.LedgerAuditResult, error) {
		return workflows.LedgerAuditResult{OK: true, WalletsCents: 500, HouseBalances: map[string]int64{"stripe": -500}}, nil
	})
	env.ExecuteWorkflow(workflows.LedgerAudit)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r workflows.LedgerAuditResult
	if err := env.GetWorkflowResult(&r); err != nil || !r.OK || r.WalletsCents != 500 {
		t.Fatalf("result %+v, %v", r, err)
	}
}

func TestLedgerAuditFailsAnUnbalancedLedgerWithItsProblems(t *testing.T) {
	env := newEnv(t, func(context.Context) (workflows.LedgerAuditResult, error) {
		return workflows.LedgerAuditResult{OK: false, Problems: []string{"account a: off by 1"}}, nil
	})
	env.ExecuteWorkflow(workflows.LedgerAudit)
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeLedgerUnbalanced {
		t.Fatalf("want %s, got %v", workflows.ErrTypeLedgerUnbalanced, err)
	}
	var problems []string
	if err := appErr.Details(&problems); err != nil || len(problems) != 1 || problems[0] != "account a: off by 1" {
		t.Fatalf("details %v, %v", problems, err)
	}
}

func TestLedgerAuditRetriesAFailingActivity(t *testing.T) {
	calls := 0
	env := newEnv(t, func(context.Context) (workflows.LedgerAuditResult, error) {
		calls++
		if calls < 3 {
			return workflows.LedgerAuditResult{}, errors.New("connection refused")
		}
		return workflows.LedgerAuditResult{OK: true}, nil
	})
	env.ExecuteWorkflow(workflows.LedgerAudit)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Fatalf("activity ran %d times, want 3", calls)
	}
}
