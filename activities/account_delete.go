package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// WorkflowDeleter is the part of the Temporal client a deleted account's
// cleanup uses.
type WorkflowDeleter interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	WorkflowService() workflowservice.WorkflowServiceClient
}

// customerDeleter is a payments gateway that can delete a Customer
// (payments.Stripe, against Stripe, stripe-mock or the simulator).
type customerDeleter interface {
	DeleteCustomer(ctx context.Context, customerID string) error
}

// eraseSteps are the per-table erasures of an account, in the order they
// run in one transaction: the first ones read the email, name and numbers
// that later ones replace, and users is last. Each takes the user's id
// only. A table that comes to hold personal data gets its step here (and
// TestAccountErasureLeavesNoPersonalData finds it if it does not).
var eraseSteps = []struct {
	name string
	run  func(*db.Queries, context.Context, uuid.UUID) (int64, error)
}{
	{"admin_actions", (*db.Queries).EraseAdminActionTexts},
	{"admin_action_outcomes", (*db.Queries).EraseAdminActionOutcomes},
	{"stripe_version_events", (*db.Queries).EraseStripeVersionEvents},
	{"webhook_events", (*db.Queries).EraseWebhookEvents},
	{"call_events", (*db.Queries).EraseCallEvents},
	{"calls", (*db.Queries).EraseCalls},
	{"contacts", (*db.Queries).DeleteUserContacts},
	{"data_exports", (*db.Queries).DeleteUserDataExports},
	{"caller_ids", (*db.Queries).DeleteUserCallerID},
	{"payment_customers", (*db.Queries).DeleteUserPaymentCustomer},
	{"topups", (*db.Queries).EraseTopUps},
	{"email_confirmations", (*db.Queries).DeleteUserEmailConfirmations},
	{"password_resets", (*db.Queries).DeleteUserPasswordResets},
	{"sign_in_failures", (*db.Queries).DeleteUserSignInFailures},
	{"auto_topups", (*db.Queries).TurnOffUserAutoTopUp},
	{"sessions", (*db.Queries).DeleteUserSessions},
	{"users", (*db.Queries).EraseUser},
}

// BeginAccountDeletion checks and marks the account in one transaction:
// refused (AccountDeletionRefused, the reason as details) while a call or
// a top-up is open or the balance is negative; otherwise marked deleting,
// which ends every session and stops new calls and top-ups. Repeated on a
// marked account it answers as the first time.
func (a *Activities) BeginAccountDeletion(ctx context.Context, in workflows.AccountDeletionInput) (workflows.AccountDeletionStarted, error) {
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return workflows.AccountDeletionStarted{}, refuseDeletion(workflows.DeletionRefusedNoAccount)
	}
	var out workflows.AccountDeletionStarted
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		// First, before the user's row: an automatic top-up deciding now
		// holds its row, creates its top-up (which the check then sees)
		// and only then needs the user's.
		if _, err := q.TurnOffUserAutoTopUp(ctx, uid); err != nil {
			return err
		}
		u, err := q.LockUserForDeletion(ctx, uid)
		if errors.Is(err, db.ErrNotFound) {
			return refuseDeletion(workflows.DeletionRefusedNoAccount)
		}
		if err != nil {
			return err
		}
		if u.DeletingAt != nil {
			d, err := q.GetAccountDeletion(ctx, uid)
			out.BalanceCents = d.BalanceCents
			return err
		}
		b, err := q.AccountDeletionBlockers(ctx, &uid)
		if errors.Is(err, db.ErrNotFound) {
			return refuseDeletion(workflows.DeletionRefusedNoAccount)
		}
		if err != nil {
			return err
		}
		switch {
		case b.OpenCall:
			return refuseDeletion(workflows.DeletionRefusedOpenCall)
		case b.OpenTopup:
			return refuseDeletion(workflows.DeletionRefusedOpenTopUp)
		case b.CachedBalanceCents < 0:
			return refuseDeletion(workflows.DeletionRefusedNegativeBalance)
		}
		if _, err := q.MarkUserDeleting(ctx, uid); err != nil {
			return err
		}
		out.BalanceCents = b.CachedBalanceCents
		return q.InsertAccountDeletion(ctx, db.InsertAccountDeletionParams{UserID: uid, BalanceCents: b.CachedBalanceCents})
	})
	if err != nil {
		return workflows.AccountDeletionStarted{}, err
	}
	logInfo(ctx, "account marked deleting", "UserID", in.UserID, "BalanceCents", out.BalanceCents)
	return out, nil
}

func refuseDeletion(reason string) error {
	return temporal.NewNonRetryableApplicationError("account deletion refused: "+reason, workflows.ErrTypeDeletionRefused, nil, reason)
}

// SignOutAccount deletes every session of the account (and its live
// streams); marking it deleting already made them invalid.
func (a *Activities) SignOutAccount(ctx context.Context, in workflows.AccountDeletionInput) (int64, error) {
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeDeletionRefused, err)
	}
	q := db.New(a.Pool)
	if _, err := q.DeleteUserLiveStreams(ctx, uid); err != nil {
		return 0, err
	}
	n, err := q.DeleteUserSessions(ctx, uid)
	if err != nil {
		return 0, err
	}
	logInfo(ctx, "account signed out", "UserID", in.UserID, "Sessions", n)
	return n, nil
}

// DeleteAccountProviders deletes what Stripe and Twilio keep of the
// person: the Stripe Customer (with its saved cards and email) and the
// verified number's OutgoingCallerId. Both are done once gone; the rows
// naming them go with the erasure, after this.
func (a *Activities) DeleteAccountProviders(ctx context.Context, in workflows.AccountDeletionInput) error {
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeDeletionRefused, err)
	}
	q := db.New(a.Pool)
	customerID, err := q.GetUserPaymentCustomer(ctx, uid)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return err
	default:
		d, ok := a.Payments.(customerDeleter)
		if !ok {
			return temporal.NewNonRetryableApplicationError("the payments gateway cannot delete customers", workflows.ErrTypeNoCarrier, nil)
		}
		if err := d.DeleteCustomer(ctx, customerID); err != nil {
			return err
		}
		logInfo(ctx, "stripe customer deleted", "UserID", in.UserID, "CustomerID", customerID)
	}
	sid, err := q.GetUserVerifiedCallerID(ctx, uid)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return err
	default:
		ids, ok := a.Carrier.(carrier.CallerIDs)
		if !ok {
			// Our side forgets the number all the same; Twilio keeps the
			// OutgoingCallerId until an operator deletes it (OPERATIONS.md).
			activityWarn(ctx, "no carrier API that deletes caller IDs: the OutgoingCallerId is left at Twilio", "UserID", in.UserID, "OutgoingCallerIdSid", sid)
			return nil
		}
		if err := ids.DeleteCallerID(ctx, sid); err != nil {
			return err
		}
		logInfo(ctx, "caller id deleted at the carrier", "UserID", in.UserID, "OutgoingCallerIdSid", sid)
	}
	return nil
}

// EraseAccountData runs eraseSteps in one transaction, with a number key
// drawn for this erasure and never kept, and records the counts on the
// account's deletion row. An account already erased is done.
func (a *Activities) EraseAccountData(ctx context.Context, in workflows.AccountDeletionInput) (workflows.AccountErased, error) {
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return workflows.AccountErased{}, temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeDeletionRefused, err)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return workflows.AccountErased{}, err
	}
	out := workflows.AccountErased{Rows: map[string]int64{}}
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		u, err := q.LockUserForDeletion(ctx, uid)
		if err != nil {
			return err
		}
		if u.DeletingAt == nil {
			return temporal.NewNonRetryableApplicationError("account is not being deleted", workflows.ErrTypeDeletionRefused, nil)
		}
		if u.DeletedAt != nil {
			d, err := q.GetAccountDeletion(ctx, uid)
			if err == nil {
				err = json.Unmarshal(d.ErasedRows, &out.Rows)
			}
			return err
		}
		if err := q.SetAccountErasureSettings(ctx, hex.EncodeToString(key[:])); err != nil {
			return err
		}
		for _, s := range eraseSteps {
			n, err := s.run(q, ctx, uid)
			if err != nil {
				return fmt.Errorf("activities: erase %s: %w", s.name, err)
			}
			out.Rows[s.name] = n
		}
		rows, err := json.Marshal(out.Rows)
		if err != nil {
			return err
		}
		return q.CompleteAccountErasure(ctx, db.CompleteAccountErasureParams{UserID: uid, ErasedRows: rows})
	})
	if err != nil {
		return workflows.AccountErased{}, err
	}
	logInfo(ctx, "account data erased", "UserID", in.UserID)
	return out, nil
}

// DeleteAccountWorkflows deletes the account's workflow executions from
// Temporal (history, memo, search attributes, and the caller-ID IDs that
// named a number): every execution whose UserID is the account's, and
// every caller-ID run under callerid-<user>, found by a visibility query.
// A running one (the auto top-up between looks) is terminated by the
// deletion itself. Not this run: AccountDeletion carries no personal data.
func (a *Activities) DeleteAccountWorkflows(ctx context.Context, in workflows.AccountDeletionInput) (int, error) {
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeDeletionRefused, err)
	}
	deleted := 0
	if a.Workflows != nil {
		deleted, err = deleteWorkflowsOf(ctx, a.Workflows, activityNamespace(ctx), uid.String())
		if err != nil {
			return 0, err
		}
	}
	if err := db.New(a.Pool).CompleteAccountTemporalCleanup(ctx, db.CompleteAccountTemporalCleanupParams{UserID: uid, WorkflowsDeleted: int32(deleted)}); err != nil {
		return 0, err
	}
	logInfo(ctx, "account workflows deleted", "UserID", in.UserID, "Deleted", deleted)
	return deleted, nil
}

// AccountWorkflowsQuery is the visibility query for an account's
// workflows (user ids are UUIDs: nothing to escape).
func AccountWorkflowsQuery(userID string) string {
	return fmt.Sprintf("(%s = '%s' OR WorkflowId STARTS_WITH '%s' OR WorkflowId STARTS_WITH '%s') AND WorkflowType != '%s'",
		workflows.SearchAttrUserID.GetName(), userID, workflows.CallerIDWorkflowIDPrefix(userID), workflows.DataExportWorkflowIDPrefix(userID),
		workflows.AccountDeletionWorkflowName)
}

func deleteWorkflowsOf(ctx context.Context, c WorkflowDeleter, namespace, userID string) (int, error) {
	deleted := 0
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, PageSize: 100, NextPageToken: token, Query: AccountWorkflowsQuery(userID)})
		if err != nil {
			return deleted, fmt.Errorf("activities: list workflows of %s: %w", userID, err)
		}
		for _, e := range resp.GetExecutions() {
			_, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace: namespace, WorkflowExecution: &commonpb.WorkflowExecution{
					WorkflowId: e.GetExecution().GetWorkflowId(), RunId: e.GetExecution().GetRunId()}})
			var notFound *serviceerror.NotFound
			if err != nil && !errors.As(err, &notFound) {
				return deleted, fmt.Errorf("activities: delete a workflow of %s: %w", userID, err)
			}
			deleted++
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return deleted, nil
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, deleted)
		}
	}
}

func activityNamespace(ctx context.Context) string {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).Namespace
	}
	return "default"
}

func activityWarn(ctx context.Context, msg string, kv ...any) {
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Warn(msg, kv...)
	}
}
