package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// LedgerAudit verifies the ledger once. It fails with an application error
// of type ErrTypeLedgerUnbalanced, carrying the problems, when the books do
// not balance, so a red run in the Temporal UI is the operator's alarm.
func LedgerAudit(ctx workflow.Context) (LedgerAuditResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    10,
		},
	})
	var r LedgerAuditResult
	if err := workflow.ExecuteActivity(ctx, ActivityVerifyLedger).Get(ctx, &r); err != nil {
		return r, fmt.Errorf("ledger audit: %w", err)
	}
	if !r.OK {
		workflow.GetLogger(ctx).Error("ledger does not balance", "problems", len(r.Problems))
		return r, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("ledger does not balance: %d problem(s)", len(r.Problems)),
			ErrTypeLedgerUnbalanced, nil, r.Problems)
	}
	return r, nil
}
