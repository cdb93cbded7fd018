package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/workflows"
)

// Each failed attempt is kept once per Stripe event, with Stripe's code and
// the issuer's decline code, and stays when the top-up is paid after.
func TestRecordPaymentFailureKeepsEachAttemptOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	first := workflows.TopUpFailure{TopUpID: f.topup, EventID: "evt_1", Code: "card_declined", DeclineCode: "generic_decline",
		Message: "Your card was declined.", At: at}
	for range 2 { // the same event again (a webhook delivered twice, an activity retried)
		if err := f.acts.RecordPaymentFailure(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	second := workflows.TopUpFailure{TopUpID: f.topup, EventID: "evt_2", Code: "expired_card", Message: "Your card has expired."}
	if err := f.acts.RecordPaymentFailure(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
		t.Fatal(err)
	}
	rows, err := f.acts.Pool.Query(ctx, `SELECT stripe_event_id, code, coalesce(decline_code, ''), message, amount_cents, failed_at, user_id::text
		FROM payment_failures WHERE topup_id = $1 ORDER BY id`, f.topup)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var ev, code, decline, msg, user string
		var amount int64
		var when time.Time
		if err := rows.Scan(&ev, &code, &decline, &msg, &amount, &when, &user); err != nil {
			t.Fatal(err)
		}
		if amount != 1000 || user != f.user {
			t.Errorf("%s: amount %d, user %s", ev, amount, user)
		}
		if ev == "evt_1" && !when.Equal(at) {
			t.Errorf("evt_1 failed at %v, want when it arrived (%v)", when, at)
		}
		got = append(got, ev+" "+code+" "+decline+" "+msg)
	}
	want := []string{"evt_1 card_declined generic_decline Your card was declined.", "evt_2 expired_card  Your card has expired."}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("payment_failures:\n%q\nwant\n%q", got, want)
	}
	// The top-up itself forgets its failure once paid; the list keeps it.
	var code *string
	if err := f.acts.Pool.QueryRow(ctx, `SELECT failure_code FROM topups WHERE id = $1`, f.topup).Scan(&code); err != nil || code != nil {
		t.Fatalf("topups.failure_code after payment: %v, %v", code, err)
	}
	if _, err := f.acts.Pool.Exec(ctx, `DELETE FROM payment_failures`); err == nil {
		t.Fatal("payment_failures is not append-only")
	}
}
