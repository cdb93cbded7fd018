package activities_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/receipts"
	"github.com/mobayilo/mobayilo/workflows"
)

// outbox is a mailer that keeps what it was given.
type outbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) subjects() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var s []string
	for _, m := range o.msgs {
		s = append(s, m.Subject)
	}
	return strings.Join(s, " | ")
}

// deliver runs two deliverers over the receipts that are due, twice each,
// at once: as two web instances would.
func deliver(t *testing.T, f *fixture, o *outbox) {
	t.Helper()
	var wg sync.WaitGroup
	for range 2 {
		d := receipts.NewDeliverer(f.acts.Pool, o, "https://app.example.com", zerolog.Nop())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if _, err := d.DeliverDue(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestACreditedTopUpSendsOneReceiptThoughPostedTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The credit asked for twice (a duplicate webhook, a retried activity).
	for range 2 {
		if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
			t.Fatal(err)
		}
	}
	o := &outbox{}
	deliver(t, f, o)
	deliver(t, f, o) // and the deliverers run again
	if got := o.subjects(); got != "Receipt: $10.00 added to your Mobayilo balance" {
		t.Fatalf("sent %q", got)
	}
	m := o.msgs[0]
	if m.To != "pay@example.com" || !strings.Contains(m.Text, "Balance after:  $10.00") || !strings.Contains(m.Text, f.topup) ||
		strings.Contains(m.Text, "Card:") || // Stripe named no card: none is invented
		!strings.Contains(m.HTML, "$10.00") || !strings.HasPrefix(m.MessageID, "receipt-") {
		t.Fatalf("receipt %+v", m)
	}
	var sent, pending int
	_ = f.acts.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL) FROM receipts`).Scan(&sent, &pending)
	if sent != 1 || pending != 0 {
		t.Fatalf("%d receipts sent, %d pending", sent, pending)
	}
}

func TestARefundAndADisputeEachSendOneReceipt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.g.intent.CardLast4 = "4242" // the card Stripe says paid
	if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
		t.Fatal(err)
	}
	reverse := func(kind string) {
		t.Helper()
		for range 2 { // every event twice
			if _, err := f.acts.ReverseTopUp(ctx, workflows.TopUpReversal{TopUpID: f.topup, AccountID: f.account, PaymentIntentID: "pi_1",
				Kind: kind, DisputeID: f.g.dispute.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	o := &outbox{}
	f.g.refunds = []payments.Refund{{ID: "re_1", Status: "pending", AmountCents: 300}}
	reverse("refund")
	f.g.refunds[0].Status = "succeeded" // Stripe's later update changes nothing in the books
	reverse("refund")
	deliver(t, f, o)
	// An inquiry withdraws nothing, and sends nothing.
	f.g.dispute = payments.Dispute{ID: "dp_1", Status: payments.DisputeWarningNeedsResponse, AmountCents: 700, Currency: "usd", PaymentIntentID: "pi_1"}
	reverse("dispute")
	deliver(t, f, o)
	if got := o.subjects(); strings.Contains(got, "Dispute") {
		t.Fatalf("an inquiry sent %q", got)
	}
	f.g.dispute.Status = payments.DisputeNeedsResponse
	reverse("dispute")
	f.g.dispute.Status = payments.DisputeUnderReview
	reverse("dispute")
	deliver(t, f, o)
	want := "Receipt: $10.00 added to your Mobayilo balance | " +
		"Refund: $3.00 taken from your Mobayilo balance and sent back to your card | " +
		"Dispute: $7.00 taken from your Mobayilo balance"
	if got := o.subjects(); got != want {
		t.Fatalf("sent\n%s\nwant\n%s", got, want)
	}
	// Each says the balance right after its own entry, and the card that
	// paid the top-up.
	for i, after := range []string{"$10.00", "$7.00", "$0.00"} {
		if !strings.Contains(o.msgs[i].Text, "Balance after:  "+after+"\n") || !strings.Contains(o.msgs[i].Text, "Card:           ending 4242\n") {
			t.Errorf("receipt %d (%s) does not say the balance after is %s, card 4242:\n%s", i, o.msgs[i].Subject, after, o.msgs[i].Text)
		}
	}
	// The dispute won gives the money back, and says so once.
	f.g.dispute.Status = payments.DisputeWon
	reverse("dispute")
	deliver(t, f, o)
	if len(o.msgs) != 4 || o.msgs[3].Subject != "Dispute closed: $7.00 back in your Mobayilo balance" ||
		!strings.Contains(o.msgs[3].Text, "Balance after:  $7.00") {
		t.Fatalf("after the win: %s", o.subjects())
	}
}

func TestNoReceiptForAPostingThatDidNotHappen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Declined: nothing posted.
	if err := f.acts.RecordPaymentFailure(ctx, workflows.TopUpFailure{TopUpID: f.topup, EventID: "evt_1", Code: "card_declined",
		DeclineCode: "generic_decline", Message: "Your card was declined."}); err != nil {
		t.Fatal(err)
	}
	// A success Stripe does not confirm: nothing posted.
	f.g.intent.Status = payments.StatusRequiresPaymentMethod
	if err := f.acts.CreditTopUp(ctx, f.credit); !isMismatch(err) {
		t.Fatalf("CreditTopUp of an unpaid intent: %v", err)
	}
	// A refund that failed before it was ever posted gives nothing back.
	f.g.intent.Status = payments.StatusSucceeded
	f.g.refunds = []payments.Refund{{ID: "re_1", Status: "failed", AmountCents: 300}}
	if _, err := f.acts.ReverseTopUp(ctx, workflows.TopUpReversal{TopUpID: f.topup, Kind: "refund"}); err != nil {
		t.Fatal(err)
	}
	// The payment that failed is abandoned.
	if err := f.acts.CancelTopUp(ctx, workflows.TopUpFailure{TopUpID: f.topup, Code: "abandoned", Message: "Not paid in time."}); err != nil {
		t.Fatal(err)
	}
	o := &outbox{}
	deliver(t, f, o)
	var n int
	_ = f.acts.Pool.QueryRow(ctx, `SELECT count(*) FROM receipts`).Scan(&n)
	if len(o.msgs) != 0 || n != 0 || f.entries(t) != "" {
		t.Fatalf("sent %q; %d receipts queued; entries %q", o.subjects(), n, f.entries(t))
	}
}

// A send that went out but reported an error (the connection died before
// the server's reply) is tried again later under the same Message-ID; one
// that keeps failing is given up, its error kept for support.
func TestAReceiptSentAgainKeepsItsMessageIDAndIsGivenUpAfterItsAttempts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
		t.Fatal(err)
	}
	flaky := &failingMailer{}
	d := receipts.NewDeliverer(f.acts.Pool, flaky, "https://app.example.com", zerolog.Nop())
	for range receipts.MaxAttempts + 2 {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		// The backoff, skipped.
		if _, err := f.acts.Pool.Exec(ctx, `UPDATE receipts SET next_attempt_at = now()`); err != nil {
			t.Fatal(err)
		}
	}
	if len(flaky.ids) != receipts.MaxAttempts {
		t.Fatalf("%d attempts, want %d", len(flaky.ids), receipts.MaxAttempts)
	}
	for _, id := range flaky.ids {
		if id != flaky.ids[0] {
			t.Fatalf("Message-IDs %v", flaky.ids)
		}
	}
	var attempts int
	var lastError *string
	var gaveUp bool
	_ = f.acts.Pool.QueryRow(ctx, `SELECT attempts, last_error, gave_up_at IS NOT NULL FROM receipts`).Scan(&attempts, &lastError, &gaveUp)
	if attempts != receipts.MaxAttempts || !gaveUp || lastError == nil || !strings.Contains(*lastError, "connection reset") {
		t.Fatalf("attempts %d, given up %t, last error %v", attempts, gaveUp, lastError)
	}
}

type failingMailer struct{ ids []string }

func (m *failingMailer) Send(_ context.Context, msg mail.Message) error {
	m.ids = append(m.ids, msg.MessageID)
	return errors.New("mail: send: read tcp: connection reset by peer")
}
