package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DataExport: its name, activities and payloads are in api.go ("Download
// my data").

// DataExport builds one export, emails its link, sleeps until the link
// expires and then deletes the ZIP. The blob is deleted by this workflow,
// not by a housekeeping sweep: the timer is durable, so a worker down at
// expiry deletes it when it comes back, and the download handler refuses
// an expired link by its expires_at whatever the workflow has done. An
// export that cannot be built or mailed (after the retries) is marked
// failed, so that the person can ask again.
func DataExport(ctx workflow.Context, in DataExportInput) error {
	logger := log.With(workflow.GetLogger(ctx), "UserID", in.UserID, "ExportID", in.ExportID)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A large history of calls and ledger entries is read, zipped
		// and written in one activity.
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{ErrTypeBadInput}},
	})
	var built DataExportBuilt
	err := workflow.ExecuteActivity(actx, ActivityBuildDataExport, in).Get(ctx, &built)
	var emailed DataExportEmailed
	if err == nil {
		logger.Info("data export built", "SizeBytes", built.SizeBytes)
		err = workflow.ExecuteActivity(actx, ActivityEmailDataExport, in).Get(ctx, &emailed)
	}
	// Expiring (or failing) is done whatever this workflow's context.
	dctx, cancel := workflow.NewDisconnectedContext(actx)
	defer cancel()
	if err != nil {
		logger.Error("data export failed", "Error", err)
		if ferr := workflow.ExecuteActivity(dctx, ActivityExpireDataExport, in).Get(dctx, nil); ferr != nil {
			return ferr
		}
		return err
	}
	logger.Info("data export emailed", "ExpiresAt", emailed.ExpiresAt)
	if d := emailed.ExpiresAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil && !temporal.IsCanceledError(err) {
			return err
		}
	}
	if err := workflow.ExecuteActivity(dctx, ActivityExpireDataExport, in).Get(dctx, nil); err != nil {
		return err
	}
	logger.Info("data export expired: its ZIP is deleted")
	return nil
}
