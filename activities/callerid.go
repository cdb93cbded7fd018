package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// Verified caller IDs: the validation request to the carrier and the
// attempt's outcome on the caller_ids row (workflows/callerid.go). The
// carrier is a.Carrier when it can verify numbers (Twilio's REST API, or
// the carrier simulator).

// Reasons shown to the person when an attempt cannot go ahead.
const (
	reasonNumberGone     = "This number was removed."
	reasonVerifiedByPeer = "This number is verified by another account."
	// reasonVerifiedAtCarrier: Twilio's 21450.
	reasonVerifiedAtCarrier = "This number is already verified with our phone network. Contact support to verify it again."
)

// RequestCallerIDValidation asks the carrier to call the attempt's number
// and stores the code Twilio gave, for the Settings page. A retry of an
// activity that stored its code returns that call: Twilio is not asked
// twice.
func (a *Activities) RequestCallerIDValidation(ctx context.Context, in workflows.CallerIDInput) (workflows.CallerIDRequested, error) {
	ids, ok := a.Carrier.(carrier.CallerIDs)
	if !ok {
		return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError("no carrier API that verifies caller IDs is configured", workflows.ErrTypeNoCarrier, nil)
	}
	userID, err := uuid.Parse(in.UserID)
	if err != nil {
		return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeBadInput, err)
	}
	q := db.New(a.Pool)
	row, err := q.GetCallerID(ctx, userID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (row.E164 != in.E164 || row.Attempt != in.Attempt || row.Status != workflows.CallerIDPending)) {
		return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError(reasonNumberGone, workflows.ErrTypeCallerIDRefused, nil)
	}
	if err != nil {
		return workflows.CallerIDRequested{}, fmt.Errorf("caller id: load: %w", err)
	}
	if row.ValidationCode != nil && row.ValidationCallSid != nil {
		return workflows.CallerIDRequested{CallSid: *row.ValidationCallSid}, nil
	}
	v, err := ids.RequestValidation(ctx, carrier.ValidationRequest{PhoneNumber: in.E164, FriendlyName: "Mobayilo " + in.E164, StatusCallback: in.StatusCallback})
	var refused *carrier.ValidationRefusedError
	if errors.As(err, &refused) {
		msg := "The phone network refused this number (" + refused.Message + ")."
		if refused.Code == carrier.ErrorAlreadyVerified {
			// Verified at Twilio but not as this attempt: another account's,
			// or a code typed after an attempt timed out (OPERATIONS.md).
			msg = reasonVerifiedAtCarrier
		}
		return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError(msg, workflows.ErrTypeCallerIDRefused, err)
	}
	if err != nil {
		return workflows.CallerIDRequested{}, err
	}
	_, err = q.SetCallerIDValidation(ctx, db.SetCallerIDValidationParams{UserID: userID, E164: in.E164, Attempt: in.Attempt,
		ValidationCode: &v.ValidationCode, ValidationCallSid: &v.CallSid})
	if errors.Is(err, db.ErrNotFound) {
		return workflows.CallerIDRequested{}, temporal.NewNonRetryableApplicationError(reasonNumberGone, workflows.ErrTypeCallerIDRefused, nil)
	}
	if err != nil {
		return workflows.CallerIDRequested{}, fmt.Errorf("caller id: store code: %w", err)
	}
	logInfo(ctx, "caller id validation call placed", "UserID", in.UserID, "Attempt", in.Attempt, "CallSid", v.CallSid)
	return workflows.CallerIDRequested{CallSid: v.CallSid}, nil
}

// FinishCallerID records the attempt's outcome and returns it as recorded:
// a number verified meanwhile by another account fails (the schema's
// caller_ids_verified_number refuses it), and one the person removed
// meanwhile is deleted at the carrier again, since Twilio verified it.
func (a *Activities) FinishCallerID(ctx context.Context, in workflows.FinishCallerIDInput) (workflows.CallerIDState, error) {
	userID, err := uuid.Parse(in.UserID)
	if err != nil {
		return workflows.CallerIDState{}, temporal.NewNonRetryableApplicationError("bad user id", workflows.ErrTypeBadInput, err)
	}
	q := db.New(a.Pool)
	end := func(status, reason string) (workflows.CallerIDState, error) {
		_, err := q.EndCallerIDAttempt(ctx, db.EndCallerIDAttemptParams{UserID: userID, E164: in.E164, Attempt: in.Attempt, Status: status, FailureReason: &reason})
		if errors.Is(err, db.ErrNotFound) {
			return a.recordedCallerID(ctx, q, userID, in)
		}
		if err != nil {
			return workflows.CallerIDState{}, fmt.Errorf("caller id: end attempt: %w", err)
		}
		return workflows.CallerIDState{Status: status, Reason: reason}, nil
	}
	if in.Status != workflows.CallerIDVerified {
		return end(in.Status, in.Reason)
	}
	sid := in.OutgoingCallerIDSid
	_, err = q.VerifyCallerID(ctx, db.VerifyCallerIDParams{UserID: userID, E164: in.E164, Attempt: in.Attempt, OutgoingCallerIDSid: &sid})
	if _, dup := db.UniqueViolation(err); dup {
		return end(workflows.CallerIDFailed, reasonVerifiedByPeer)
	}
	if errors.Is(err, db.ErrNotFound) {
		st, err := a.recordedCallerID(ctx, q, userID, in)
		if err == nil && st.Status == workflows.CallerIDRemoved {
			// Removed while Twilio verified it: take it back at Twilio.
			if ids, ok := a.Carrier.(carrier.CallerIDs); ok {
				if err := ids.DeleteCallerID(ctx, sid); err != nil {
					return workflows.CallerIDState{}, err
				}
			}
		}
		return st, err
	}
	if err != nil {
		return workflows.CallerIDState{}, fmt.Errorf("caller id: verify: %w", err)
	}
	return workflows.CallerIDState{Status: workflows.CallerIDVerified}, nil
}

// recordedCallerID is what the row says of the attempt when it was not
// pending any more (a retried activity that recorded it, or a removal).
func (a *Activities) recordedCallerID(ctx context.Context, q *db.Queries, userID uuid.UUID, in workflows.FinishCallerIDInput) (workflows.CallerIDState, error) {
	row, err := q.GetCallerID(ctx, userID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (row.E164 != in.E164 || row.Attempt != in.Attempt)) {
		return workflows.CallerIDState{Status: workflows.CallerIDRemoved}, nil
	}
	if err != nil {
		return workflows.CallerIDState{}, fmt.Errorf("caller id: load: %w", err)
	}
	st := workflows.CallerIDState{Status: row.Status}
	if row.FailureReason != nil {
		st.Reason = *row.FailureReason
	}
	return st, nil
}

// DeleteCallerID deletes a removed number's OutgoingCallerId at the
// carrier; one already gone is done.
func (a *Activities) DeleteCallerID(ctx context.Context, in workflows.CallerIDRemovalInput) error {
	ids, ok := a.Carrier.(carrier.CallerIDs)
	if !ok {
		return temporal.NewNonRetryableApplicationError("no carrier API that verifies caller IDs is configured", workflows.ErrTypeNoCarrier, nil)
	}
	if err := ids.DeleteCallerID(ctx, in.OutgoingCallerIDSid); err != nil {
		return err
	}
	logInfo(ctx, "caller id deleted at the carrier", "UserID", in.UserID, "OutgoingCallerIdSid", in.OutgoingCallerIDSid)
	return nil
}

// logInfo logs through the activity's logger (with the workflow's IDs);
// a call outside an activity (a test) logs nothing.
func logInfo(ctx context.Context, msg string, kv ...any) {
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Info(msg, kv...)
	}
}
