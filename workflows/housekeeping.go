package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Housekeeping prunes old rows once (PruneExpiredData). The activity
// deletes in batches and heartbeats, so a retry after a crash resumes where
// the deleted rows left off; deleting twice deletes nothing more.
func Housekeeping(ctx workflow.Context) (HousekeepingResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    10 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    10,
		},
	})
	var r HousekeepingResult
	if err := workflow.ExecuteActivity(ctx, ActivityPruneExpiredData).Get(ctx, &r); err != nil {
		return r, fmt.Errorf("housekeeping: %w", err)
	}
	workflow.GetLogger(ctx).Info("housekeeping done", "sign_in_failures", r.SignInFailures,
		"password_resets", r.PasswordResets, "sessions", r.Sessions, "webhook_events", r.WebhookEvents)
	return r, nil
}
