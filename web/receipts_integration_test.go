package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// receiptSubjects are the receipts /dev/mail holds for to, oldest first,
// once it holds want of them (or after 30 s).
func (e *callEnv) receiptSubjects(b *browser, to string, want int) []string {
	e.t.Helper()
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		page := b.get("/dev/mail")
		if page.status != http.StatusOK {
			e.t.Fatalf("/dev/mail: %d", page.status)
		}
		got = got[:0]
		for _, article := range strings.Split(page.body, `<article class="card mb-4">`)[1:] {
			if !strings.Contains(article, "To "+to+" ·") {
				continue
			}
			_, subject, _ := strings.Cut(article, `<h2 class="mt-1 font-semibold">`)
			subject, _, _ = strings.Cut(subject, "</h2>")
			if strings.HasPrefix(subject, "Receipt:") || strings.HasPrefix(subject, "Refund:") || strings.HasPrefix(subject, "Dispute:") {
				got = append([]string{subject}, got...) // the page is newest first
			}
		}
		if len(got) >= want {
			break
		}
	}
	return got
}

// Through the web app, the worker and the payment simulator: a declined
// payment sends nothing, the success delivered three times sends one
// receipt, and a refund and a dispute, each delivered twice, one each.
func TestReceiptsOnceEachThroughDuplicateWebhooks(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	b := e.caller("receipts@example.com", 0)
	id := b.buy(2000)
	pi := e.topup(id).PaymentIntent
	if r := b.post("/dev/payments/"+id+"/confirm", url.Values{"card": {payments.CardDeclined}}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	e.awaitTopUp(id, workflows.TopUpFailed)
	if err := sim.Confirm(context.Background(), pi, payments.CardSucceeds, 0, payments.Faults{Copies: 3, Shuffle: true}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	if got := e.receiptSubjects(b, "receipts@example.com", 1); len(got) != 1 || got[0] != "Receipt: $20.00 added to your Mobayilo balance" {
		t.Fatalf("after a decline and a success sent three times: %q", got)
	}

	if _, err := sim.Refund(context.Background(), pi, 500, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); e.topup(id).Refunded != 500 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := sim.Dispute(context.Background(), pi, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpDisputed)
	want := []string{"Receipt: $20.00 added to your Mobayilo balance",
		"Refund: $5.00 taken from your Mobayilo balance and sent back to your card",
		"Dispute: $15.00 taken from your Mobayilo balance"}
	if got := e.receiptSubjects(b, "receipts@example.com", 3); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("receipts %q, want %q", got, want)
	}
	// Each names the card that paid, as Stripe reported it, and no more of it.
	if page := b.get("/dev/mail"); strings.Count(page.body, "Card:           ending 4242\n") != 3 {
		t.Fatalf("receipts do not each name card 4242:\n%s", page.body)
	}
	// Every one marked sent: none is owed still, so none goes again.
	var owed, sent int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FILTER (WHERE sent_at IS NOT NULL)
		FROM receipts r JOIN transactions t ON t.idempotency_key = r.idempotency_key WHERE t.topup_id = $1`, id).Scan(&owed, &sent)
	if owed != 0 || sent != 3 {
		t.Fatalf("%d receipts owed, %d sent", owed, sent)
	}
	e.mustVerifyLedger()
}
