package activities_test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

const callerNumber = "+2348031234567"

// callerIDFixture: two users, the simulator as the carrier, and a pending
// caller ID (attempt 1) for the first.
func callerIDFixture(t *testing.T) (*activities.Activities, *carrier.Simulator, string, string) {
	t.Helper()
	pool := testdb.New(t)
	ctx := context.Background()
	var users [2]string
	for i, email := range []string{"one@example.com", "two@example.com"} {
		if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ($1, 'U', 'x', 'NG') RETURNING id`, email).Scan(&users[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO caller_ids (user_id, e164) VALUES ($1, $2)`, users[0], callerNumber); err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{AccountSID: "ACsim", AuthToken: "tok"}
	acts := activities.New(pool)
	acts.Carrier = sim
	return acts, sim, users[0], users[1]
}

func in(user string, attempt int32) workflows.CallerIDInput {
	return workflows.CallerIDInput{UserID: user, E164: callerNumber, Attempt: attempt}
}

// The code is stored for the page; a retried activity does not ask Twilio
// twice; another attempt's input is refused, not retried.
func TestRequestCallerIDValidationStoresTheCodeOnce(t *testing.T) {
	acts, _, user, _ := callerIDFixture(t)
	ctx := context.Background()
	first, err := acts.RequestCallerIDValidation(ctx, in(user, 1))
	if err != nil || first.CallSid == "" {
		t.Fatalf("%+v %v", first, err)
	}
	var code *string
	if err := acts.Pool.QueryRow(ctx, `SELECT validation_code FROM caller_ids WHERE user_id = $1`, user).Scan(&code); err != nil || code == nil || len(*code) != 6 {
		t.Fatalf("stored code %v %v", code, err)
	}
	again, err := acts.RequestCallerIDValidation(ctx, in(user, 1))
	if err != nil || again.CallSid != first.CallSid {
		t.Fatalf("retried activity: %+v %v, want the first call %s", again, err, first.CallSid)
	}
	_, err = acts.RequestCallerIDValidation(ctx, in(user, 2))
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeCallerIDRefused || !appErr.NonRetryable() {
		t.Fatalf("another attempt: %v", err)
	}
}

// A number verified by another account meanwhile fails (the schema's
// partial unique index), and stays unverified.
func TestFinishCallerIDRefusesANumberVerifiedElsewhere(t *testing.T) {
	acts, _, user, other := callerIDFixture(t)
	ctx := context.Background()
	if _, err := acts.Pool.Exec(ctx, `INSERT INTO caller_ids (user_id, e164, status, outgoing_caller_id_sid, verified_at) VALUES ($1, $2, 'verified', 'PNother', now())`,
		other, callerNumber); err != nil {
		t.Fatal(err)
	}
	st, err := acts.FinishCallerID(ctx, workflows.FinishCallerIDInput{UserID: user, E164: callerNumber, Attempt: 1,
		Status: workflows.CallerIDVerified, OutgoingCallerIDSid: "PNmine"})
	if err != nil || st.Status != workflows.CallerIDFailed {
		t.Fatalf("%+v %v", st, err)
	}
	var status string
	_ = acts.Pool.QueryRow(ctx, `SELECT status FROM caller_ids WHERE user_id = $1`, user).Scan(&status)
	if status != workflows.CallerIDFailed {
		t.Fatalf("row %s", status)
	}
	// Recording it again (a retried activity) says the same.
	st, err = acts.FinishCallerID(ctx, workflows.FinishCallerIDInput{UserID: user, E164: callerNumber, Attempt: 1,
		Status: workflows.CallerIDVerified, OutgoingCallerIDSid: "PNmine"})
	if err != nil || st.Status != workflows.CallerIDFailed {
		t.Fatalf("again: %+v %v", st, err)
	}
}

// Removed while Twilio verified it: nothing is recorded and the
// OutgoingCallerId is deleted at the carrier.
func TestFinishCallerIDOfARemovedNumberDeletesItAtTheCarrier(t *testing.T) {
	acts, sim, user, _ := callerIDFixture(t)
	ctx := context.Background()
	if _, err := acts.RequestCallerIDValidation(ctx, in(user, 1)); err != nil {
		t.Fatal(err)
	}
	var code string
	_ = acts.Pool.QueryRow(ctx, `SELECT validation_code FROM caller_ids WHERE user_id = $1`, user).Scan(&code)
	if ok, err := sim.EnterValidationCode(ctx, callerNumber, code); err != nil || !ok {
		t.Fatalf("verify at the simulator: %v %v", ok, err)
	}
	sid := sim.VerifiedCallerID(callerNumber)
	if _, err := acts.Pool.Exec(ctx, `DELETE FROM caller_ids WHERE user_id = $1`, user); err != nil {
		t.Fatal(err)
	}
	st, err := acts.FinishCallerID(ctx, workflows.FinishCallerIDInput{UserID: user, E164: callerNumber, Attempt: 1,
		Status: workflows.CallerIDVerified, OutgoingCallerIDSid: sid})
	if err != nil || st.Status != workflows.CallerIDRemoved {
		t.Fatalf("%+v %v", st, err)
	}
	if sim.VerifiedCallerID(callerNumber) != "" {
		t.Fatal("the OutgoingCallerId is still verified at the carrier")
	}
}
