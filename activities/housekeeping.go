package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// pruneBatch rows are deleted per statement: each is a short transaction.
const pruneBatch = 1000

// PruneExpiredData deletes sign-in failure counts, password-reset tokens,
// email-confirmation links and delivered webhook events older than
// a.Retention, and sessions past
// their expiry. Deleting again deletes nothing more, so a retry is safe.
func (a *Activities) PruneExpiredData(ctx context.Context) (workflows.HousekeepingResult, error) {
	if a.Retention <= 0 {
		return workflows.HousekeepingResult{}, fmt.Errorf("housekeeping: no retention period set")
	}
	now := time.Now()
	cutoff := now.Add(-a.Retention)
	q := db.New(a.Pool)
	var r workflows.HousekeepingResult
	steps := []struct {
		name  string
		count *int64
		prune func() (int64, error)
	}{
		{"sign_in_failures", &r.SignInFailures, func() (int64, error) {
			return q.PruneSignInFailures(ctx, db.PruneSignInFailuresParams{Before: cutoff, Batch: pruneBatch})
		}},
		{"password_resets", &r.PasswordResets, func() (int64, error) {
			return q.PrunePasswordResets(ctx, db.PrunePasswordResetsParams{Before: cutoff, Batch: pruneBatch})
		}},
		{"sessions", &r.Sessions, func() (int64, error) {
			return q.PruneExpiredSessions(ctx, db.PruneExpiredSessionsParams{Before: now, Batch: pruneBatch})
		}},
		{"email_confirmations", &r.EmailConfirmations, func() (int64, error) {
			return q.PruneEmailConfirmations(ctx, db.PruneEmailConfirmationsParams{Before: cutoff, Batch: pruneBatch})
		}},
		{"webhook_events", &r.WebhookEvents, func() (int64, error) {
			return q.PruneDeliveredWebhookEvents(ctx, db.PruneDeliveredWebhookEventsParams{Before: cutoff, Batch: pruneBatch})
		}},
	}
	for _, s := range steps {
		for {
			n, err := s.prune()
			if err != nil {
				return r, fmt.Errorf("housekeeping: prune %s: %w", s.name, err)
			}
			*s.count += n
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, s.name)
			}
			if n < pruneBatch {
				break
			}
		}
	}
	return r, nil
}
