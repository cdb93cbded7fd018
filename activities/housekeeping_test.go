package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// PruneExpiredData deletes exactly the rows past the retention period (and
// expired sessions) and keeps everything else, including an undelivered
// webhook event however old.
func TestPruneExpiredDataDeletesOnlyOldRows(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	u, err := db.New(pool).CreateUser(ctx, db.CreateUserParams{Email: "prune@example.com", DisplayName: "P", PasswordHash: "x", HomeCountry: "NG"})
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	old, recent := "now() - interval '40 days'", "now() - interval '1 day'"
	exec(`INSERT INTO sign_in_failures (scope, key, failures, first_failed_at, last_failed_at) VALUES
		('email', 'old@example.com', 3, ` + old + `, ` + old + `),
		('ip', '192.0.2.1', 2, ` + old + `, ` + recent + `),
		('email', 'recent@example.com', 1, ` + recent + `, ` + recent + `)`)
	exec(`INSERT INTO password_resets (token_hash, user_id, expires_at, created_at, used_at) VALUES
		(sha256('old'), $1, `+old+`, `+old+`, NULL),
		(sha256('old-used'), $1, `+old+`, `+old+`, `+old+`),
		(sha256('expired-yesterday'), $1, `+recent+`, `+recent+`, NULL),
		(sha256('live'), $1, now() + interval '1 hour', now(), NULL)`, u.ID)
	exec(`INSERT INTO sessions (token, data, expiry) VALUES
		('expired', '\x00', now() - interval '1 minute'),
		('live', '\x00', now() + interval '1 hour')`)
	// 1,500 old delivered events: more than one batch.
	exec(`INSERT INTO webhook_events (source, dedup_key, event_type, signal, payload, received_at, delivered_at)
		SELECT 'twilio', 'old-' || g, 'status', 'twilio-status', '{}', ` + old + `, ` + old + ` FROM generate_series(1, 1500) g`)
	exec(`INSERT INTO webhook_events (source, dedup_key, event_type, signal, payload, received_at, delivered_at) VALUES
		('stripe', 'evt_recent', 'payment_intent.succeeded', 'stripe-event', '{}', ` + recent + `, ` + recent + `),
		('stripe', 'evt_owed', 'payment_intent.succeeded', 'stripe-event', '{}', ` + old + `, NULL)`)

	a := activities.New(pool)
	a.Retention = 30 * 24 * time.Hour
	r, err := a.PruneExpiredData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.HousekeepingResult{SignInFailures: 1, PasswordResets: 2, Sessions: 1, WebhookEvents: 1500}
	if r != want {
		t.Fatalf("pruned %+v, want %+v", r, want)
	}
	left := func(sql string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	for sql, want := range map[string]string{
		`SELECT key FROM sign_in_failures ORDER BY key`:                                                                       "192.0.2.1 recent@example.com",
		`SELECT CASE token_hash WHEN sha256('live') THEN 'live' ELSE 'expired-yesterday' END FROM password_resets ORDER BY 1`: "expired-yesterday live",
		`SELECT token FROM sessions`:                              "live",
		`SELECT dedup_key FROM webhook_events ORDER BY dedup_key`: "evt_owed evt_recent",
	} {
		if got := left(sql); joinSpace(got) != want {
			t.Errorf("%s: %v, want %s", sql, got, want)
		}
	}

	// Again: nothing more to delete.
	if r, err := a.PruneExpiredData(ctx); err != nil || r != (workflows.HousekeepingResult{}) {
		t.Fatalf("second run pruned %+v, %v", r, err)
	}
}

func joinSpace(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// Confirmation links expired longer ago than the retention go, used or not;
// a live one and one expired yesterday stay.
func TestPruneExpiredDataDeletesOldEmailConfirmations(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	u, err := db.New(pool).CreateUser(ctx, db.CreateUserParams{Email: "confirm@example.com", DisplayName: "C", PasswordHash: "x", HomeCountry: "NG"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO email_confirmations (token_hash, user_id, email, bonus_cents, expires_at, used_at, created_at) VALUES
		(sha256('old'), $1, 'confirm@example.com', 100, now() - interval '40 days', NULL, now() - interval '41 days'),
		(sha256('old-used'), $1, 'confirm@example.com', 100, now() - interval '40 days', now() - interval '40 days', now() - interval '41 days'),
		(sha256('expired-yesterday'), $1, 'confirm@example.com', 100, now() - interval '1 day', NULL, now() - interval '2 days'),
		(sha256('live'), $1, 'confirm@example.com', 100, now() + interval '1 day', NULL, now())`, u.ID); err != nil {
		t.Fatal(err)
	}
	a := activities.New(pool)
	a.Retention = 30 * 24 * time.Hour
	r, err := a.PruneExpiredData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.EmailConfirmations != 2 {
		t.Fatalf("pruned %d confirmations, want 2", r.EmailConfirmations)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM email_confirmations`).Scan(&left); err != nil || left != 2 {
		t.Fatalf("%d confirmations left (%v), want 2", left, err)
	}
}
