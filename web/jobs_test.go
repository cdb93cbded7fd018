package web

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// TestUnstartedCallsAreReapedByTheirOwnJob: the web role's jobs name the
// reaper apart from the session sweep, and a pass fails a call left
// 'created' past two minutes, freeing its caller's slot, while a call
// just created (its start in flight) is left alone.
func TestUnstartedCallsAreReapedByTheirOwnJob(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t)
	acc, err := accounts.New(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{pool: pool, log: zerolog.Nop(), hub: newHub(pool, zerolog.Nop())}
	names := map[string]bool{}
	for _, j := range s.Jobs() {
		names[j.Name] = true
	}
	if !names["unstarted-calls"] || !names["expired-sessions"] {
		t.Fatalf("jobs %v: want unstarted-calls and expired-sessions apart", names)
	}
	calls := []db.Call{createdCall(t, pool, acc, "stale@example.com"), createdCall(t, pool, acc, "fresh@example.com")}
	if _, err := pool.Exec(ctx, `UPDATE calls SET created_at = now() - interval '3 minutes' WHERE id = $1`, calls[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.reapUnstartedCalls(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"failed", "created"} {
		c, err := db.New(pool).GetCall(ctx, calls[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != want {
			t.Errorf("call %d: status %s, want %s", i, c.Status, want)
		}
	}
}

// A call whose workflow could not be started is failed with nothing to
// bill: no workflow will ever settle its billing state, so the row must say
// not billable itself (else History and the call page show "pending"
// forever).
func TestAnAbandonedUnstartedCallIsNotBillable(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t)
	acc, err := accounts.New(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := createdCall(t, pool, acc, "abandoned@example.com")
	reason := "calling is unavailable"
	if n, err := db.New(pool).AbandonUnstartedCall(ctx, db.AbandonUnstartedCallParams{ID: c.ID, EndReason: &reason}); err != nil || n != 1 {
		t.Fatalf("abandon: %d rows, %v", n, err)
	}
	got, err := db.New(pool).GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || got.BillingState != "not_billable" || got.EndedAt == nil {
		t.Fatalf("abandoned call: %s, billing %s, ended %v", got.Status, got.BillingState, got.EndedAt)
	}
}

// createdCall signs up a caller and creates a call of theirs, still
// 'created' (its workflow not started).
func createdCall(t *testing.T, pool *pgxpool.Pool, acc *accounts.Service, email string) db.Call {
	t.Helper()
	ctx := context.Background()
	u, err := acc.SignUp(ctx, accounts.SignUpInput{Email: email, Password: "correct horse", DisplayName: "A", HomeCountry: "NG"})
	if err != nil {
		t.Fatal(err)
	}
	row, err := db.New(pool).GetUserWithBalance(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.New(pool).CreateCall(ctx, db.CreateCallParams{UserID: u.ID, AccountID: row.AccountID,
		PhoneNumber: "+2348031234567", DestinationCountry: "NG", ClientIdentity: "u" + email})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
