package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers every workflow under its name in this file's package
// (the worker, and the replay tests, which must replay what the worker runs).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(LedgerAudit, workflow.RegisterOptions{Name: LedgerAuditWorkflowName})
	r.RegisterWorkflowWithOptions(PricingSync, workflow.RegisterOptions{Name: PricingSyncWorkflowName})
	r.RegisterWorkflowWithOptions(Call, workflow.RegisterOptions{Name: CallWorkflowName})
	r.RegisterWorkflowWithOptions(TopUp, workflow.RegisterOptions{Name: TopUpWorkflowName})
	r.RegisterWorkflowWithOptions(Housekeeping, workflow.RegisterOptions{Name: HousekeepingWorkflowName})
	r.RegisterWorkflowWithOptions(AutoTopUp, workflow.RegisterOptions{Name: AutoTopUpWorkflowName})
	r.RegisterWorkflowWithOptions(CallerID, workflow.RegisterOptions{Name: CallerIDWorkflowName})
	r.RegisterWorkflowWithOptions(CallerIDRemoval, workflow.RegisterOptions{Name: CallerIDRemovalWorkflowName})
	r.RegisterWorkflowWithOptions(DataExport, workflow.RegisterOptions{Name: DataExportWorkflowName})
	r.RegisterWorkflowWithOptions(AccountDeletion, workflow.RegisterOptions{Name: AccountDeletionWorkflowName})
}
