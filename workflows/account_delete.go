package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// How long a run started without its update waits for it.
const accountDeletionRequestWait = time.Minute

type accountDeletion struct {
	in      AccountDeletionInput
	state   AccountDeletionState
	begun   bool // the update's activity was scheduled
	started AccountDeletionStarted
	log     log.Logger
}

// AccountDeletion runs one account's deletion.
func AccountDeletion(ctx workflow.Context, in AccountDeletionInput) (AccountDeletionState, error) {
	w := &accountDeletion{in: in, log: log.With(workflow.GetLogger(ctx), "UserID", in.UserID)}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (AccountDeletionState, error) { return w.state, nil }); err != nil {
		return w.state, err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateRequestDeletion, w.request); err != nil {
		return w.state, err
	}
	ok, err := workflow.AwaitWithTimeout(ctx, accountDeletionRequestWait, func() bool {
		return w.state.Status != DeletionRequested
	})
	if err != nil {
		return w.state, err
	}
	if !ok || w.state.Status != DeletionDeleting {
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return w.state, nil
	}
	err = w.run(ctx)
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.state, err
}

// request checks and marks the account (once: a repeated update, say a
// resubmitted form, waits for the first and answers as it did).
func (w *accountDeletion) request(ctx workflow.Context) (AccountDeletionStarted, error) {
	if w.begun {
		if err := workflow.Await(ctx, func() bool { return w.state.Status != DeletionRequested }); err != nil {
			return AccountDeletionStarted{}, err
		}
		if w.state.Status == DeletionRefused {
			return AccountDeletionStarted{}, temporal.NewNonRetryableApplicationError("account deletion refused", ErrTypeDeletionRefused, nil, w.state.Refusal)
		}
		return w.started, nil
	}
	w.begun = true
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		// The person is waiting: a few quick tries, then "try again".
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{ErrTypeDeletionRefused}},
	})
	var out AccountDeletionStarted
	err := workflow.ExecuteActivity(actx, ActivityBeginAccountDeletion, w.in).Get(ctx, &out)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		w.started, w.state.BalanceCents, w.state.Status = out, out.BalanceCents, DeletionDeleting
		w.log.Info("account marked deleting")
		return out, nil
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeDeletionRefused:
		var reason string
		_ = appErr.Details(&reason)
		w.state.Status, w.state.Refusal = DeletionRefused, reason
		w.log.Info("account deletion refused", "Reason", reason)
		return AccountDeletionStarted{}, temporal.NewNonRetryableApplicationError("account deletion refused", ErrTypeDeletionRefused, nil, reason)
	default:
		// Nothing was marked (the check and the mark are one
		// transaction): the run ends and the person may try again.
		w.state.Status = DeletionRefused
		return AccountDeletionStarted{}, err
	}
}

// run does the rest; each step is idempotent and retried until it
// succeeds: the account is already closed to the person.
func (w *accountDeletion) run(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
	if err := workflow.ExecuteActivity(ctx, ActivitySignOutAccount, w.in).Get(ctx, &w.state.SessionsEnded); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(ctx, ActivityDeleteAccountProviders, w.in).Get(ctx, nil); err != nil {
		return err
	}
	var erased AccountErased
	if err := workflow.ExecuteActivity(ctx, ActivityEraseAccountData, w.in).Get(ctx, &erased); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(ctx, ActivityDeleteAccountWorkflows, w.in).Get(ctx, &w.state.WorkflowsDeleted); err != nil {
		return err
	}
	w.state.Status = DeletionDone
	w.log.Info("account deleted", "WorkflowsDeleted", w.state.WorkflowsDeleted)
	return nil
}
