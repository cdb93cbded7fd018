package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// callFixture is a user with a funded wallet and one call row.
type callFixture struct {
	acts                *activities.Activities
	user, account, call string
}

func newCallFixture(t *testing.T, status string) *callFixture {
	t.Helper()
	pool := testdb.New(t)
	ctx := context.Background()
	f := &callFixture{acts: activities.New(pool)}
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ('call@example.com', 'Call', 'x', 'NG') RETURNING id`).Scan(&f.user); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, f.user).Scan(&f.account); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
		per_minute_micros, max_seconds, authorized_until, rate_prefix)
		VALUES ($1, $2, '+2348031234567', 'NG', 'id1', $3, 140000, 600, now() + interval '3 minutes', '234803') RETURNING id`,
		f.user, f.account, status).Scan(&f.call); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *callFixture) row(t *testing.T) (status, billing string, events int) {
	t.Helper()
	pool := f.acts.Pool
	if err := pool.QueryRow(context.Background(), `SELECT status, billing_state, (SELECT count(*) FROM call_events e WHERE e.call_id = c.id)
		FROM calls c WHERE id = $1`, f.call).Scan(&status, &billing, &events); err != nil {
		t.Fatal(err)
	}
	return status, billing, events
}

// An authorization that would land after its web request stopped waiting
// is refused, and the row says so: no call is held that nobody can place.
func TestAuthorizeCallAfterItsRequestsBoundIsRefused(t *testing.T) {
	f := newCallFixture(t, "created")
	in := workflows.CallInput{CallID: f.call, UserID: f.user, AccountID: f.account, AuthorizeBy: time.Now().Add(-time.Millisecond)}
	_, err := f.acts.AuthorizeCall(context.Background(), in)
	var appErr *temporal.ApplicationError
	var refusal workflows.CallRefusal
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeCallRefused || appErr.Details(&refusal) != nil ||
		refusal.Reason != workflows.RefusalAuthorizationTimeout {
		t.Fatalf("err %v, refusal %+v", err, refusal)
	}
	if status, _, _ := f.row(t); status != workflows.StatusRefused {
		t.Fatalf("row %s", status)
	}
}

// An attempt that runs again after an earlier one refused (its answer lost,
// or its timeout passed while it ran) answers with the refusal the row
// holds, reason, words and amount to add, not a generic one, and writes
// nothing more.
func TestAuthorizeCallAgainAfterARefusalGivesTheSameRefusal(t *testing.T) {
	refusalOf := func(t *testing.T, err error) workflows.CallRefusal {
		t.Helper()
		var appErr *temporal.ApplicationError
		var refusal workflows.CallRefusal
		if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeCallRefused || appErr.Details(&refusal) != nil {
			t.Fatalf("not a refusal: %v", err)
		}
		return refusal
	}
	t.Run("too late", func(t *testing.T) {
		f := newCallFixture(t, "created")
		in := workflows.CallInput{CallID: f.call, UserID: f.user, AccountID: f.account, AuthorizeBy: time.Now().Add(-time.Millisecond)}
		_, err := f.acts.AuthorizeCall(context.Background(), in)
		first := refusalOf(t, err)
		if first.Reason != workflows.RefusalAuthorizationTimeout {
			t.Fatalf("first attempt: %+v", first)
		}
		// The second attempt would be in time: the row's decision stands.
		in.AuthorizeBy = time.Now().Add(time.Minute)
		_, err = f.acts.AuthorizeCall(context.Background(), in)
		if again := refusalOf(t, err); again != first {
			t.Fatalf("again: %+v, first %+v", again, first)
		}
		if status, billing, _ := f.row(t); status != workflows.StatusRefused || billing != workflows.BillingNotBillable {
			t.Fatalf("row %s %s", status, billing)
		}
	})
	t.Run("short of credit", func(t *testing.T) {
		// An earlier attempt refused for the balance; its answer was lost.
		f := newCallFixture(t, "created")
		n, err := db.New(f.acts.Pool).RefuseCall(context.Background(), db.RefuseCallParams{ID: uuid.MustParse(f.call),
			EndReason: ptr(workflows.RefusalInsufficientBalance), RefusalMessage: ptr("Add $0.14 to call."), RefusalNeededCents: 14})
		if err != nil || n != 1 {
			t.Fatalf("refuse: %d, %v", n, err)
		}
		_, err = f.acts.AuthorizeCall(context.Background(), workflows.CallInput{CallID: f.call, UserID: f.user, AccountID: f.account})
		want := workflows.CallRefusal{Reason: workflows.RefusalInsufficientBalance, Message: "Add $0.14 to call.", NeededCents: 14}
		if got := refusalOf(t, err); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// The fast path's charge records the final status in its transaction: the
// row, its call event and the charge together; a charge refused by the
// ledger leaves the status unrecorded too (the stuck mark records it).
func TestChargeCallRecordsTheFinalStatusWithTheCharge(t *testing.T) {
	f := newCallFixture(t, "in_progress")
	ctx := context.Background()
	final := &workflows.RecordStatus{CallID: f.call, UserID: f.user, Status: workflows.StatusCompleted, ChildCallSid: "CAchild"}
	req := workflows.ChargeRequest{CallID: f.call, AccountID: f.account, DurationSeconds: 61, CostCents: 28, CarrierStatus: "completed", Final: final}
	if err := f.acts.ChargeCall(ctx, req); err != nil {
		t.Fatal(err)
	}
	if status, billing, events := f.row(t); status != workflows.StatusCompleted || billing != workflows.BillingCharged || events != 1 {
		t.Fatalf("after the charge: %s %s, %d events", status, billing, events)
	}
	// Run again (a retried attempt): the same, once.
	if err := f.acts.ChargeCall(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, _, events := f.row(t); events != 1 {
		t.Fatalf("%d call events after a retry", events)
	}
	var n int
	_ = f.acts.Pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE call_id = $1`, f.call).Scan(&n)
	if n != 1 {
		t.Fatalf("%d ledger rows", n)
	}
}

func TestARefusedChargeRecordsNoFinalStatusAndTheStuckMarkDoes(t *testing.T) {
	f := newCallFixture(t, "in_progress")
	ctx := context.Background()
	final := &workflows.RecordStatus{CallID: f.call, UserID: f.user, Status: workflows.StatusCompleted}
	// The same key posted before with another amount: the ledger refuses.
	if err := f.acts.ChargeCall(ctx, workflows.ChargeRequest{CallID: f.call, AccountID: f.account, DurationSeconds: 30, CostCents: 14, CarrierStatus: "completed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acts.Pool.Exec(ctx, `UPDATE calls SET status = 'in_progress' WHERE id = $1`, f.call); err != nil {
		t.Fatal(err)
	}
	err := f.acts.ChargeCall(ctx, workflows.ChargeRequest{CallID: f.call, AccountID: f.account, DurationSeconds: 61, CostCents: 28, CarrierStatus: "completed", Final: final})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeBillingFailed {
		t.Fatalf("a conflicting charge: %v", err)
	}
	if status, _, events := f.row(t); status != "in_progress" || events != 0 {
		t.Fatalf("after a refused charge: %s, %d events", status, events)
	}
	if err := f.acts.MarkCallBilling(ctx, workflows.BillingMark{CallID: f.call, State: workflows.BillingStuck, CarrierStatus: "completed", Reason: "refused", Final: final}); err != nil {
		t.Fatal(err)
	}
	if status, billing, events := f.row(t); status != workflows.StatusCompleted || billing != workflows.BillingStuck || events != 1 {
		t.Fatalf("after the stuck mark: %s %s, %d events", status, billing, events)
	}
}

// A status record run again after a later one (a local activity re-run
// when its workflow task's completion failed) never moves the row back:
// a call that ended stays ended, and its slot stays free for the next call.
func TestAStatusRecordNeverMovesTheCallBack(t *testing.T) {
	f := newCallFixture(t, "busy")
	ctx := context.Background()
	if err := f.acts.RecordCallStatus(ctx, workflows.RecordStatus{CallID: f.call, UserID: f.user, Status: workflows.StatusDialing}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := f.row(t); status != workflows.StatusBusy {
		t.Fatalf("a late dialing record moved a busy call to %s", status)
	}
	f2 := newCallFixture(t, "ringing")
	if err := f2.acts.RecordCallStatus(ctx, workflows.RecordStatus{CallID: f2.call, UserID: f2.user, Status: workflows.StatusInProgress, ChildCallSid: "CAchild"}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := f2.row(t); status != workflows.StatusInProgress {
		t.Fatalf("ringing -> in_progress gave %s", status)
	}
}
