package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// gateway is Stripe as a test wants it: one PaymentIntent, its refunds and
// one dispute.
type gateway struct {
	payments.Gateway
	intent   payments.Intent
	refunds  []payments.Refund
	dispute  payments.Dispute
	livemode bool
}

func (g *gateway) GetIntent(context.Context, string) (payments.Intent, error) { return g.intent, nil }
func (g *gateway) ListRefunds(context.Context, string) ([]payments.Refund, error) {
	return g.refunds, nil
}
func (g *gateway) GetDispute(context.Context, string) (payments.Dispute, error) {
	return g.dispute, nil
}
func (g *gateway) Livemode() bool { return g.livemode }

type fixture struct {
	acts                 *activities.Activities
	g                    *gateway
	topup, user, account string
	credit               workflows.TopUpCredit
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.New(t)
	ctx := context.Background()
	f := &fixture{acts: activities.New(pool)}
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ('pay@example.com', 'Pay', 'x', 'NG') RETURNING id`).Scan(&f.user); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, f.user).Scan(&f.account); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		VALUES ($1, $2, 'usd-10', 1000, 'processing', 'pi_1') RETURNING id`, f.user, f.account).Scan(&f.topup); err != nil {
		t.Fatal(err)
	}
	f.g = &gateway{intent: payments.Intent{ID: "pi_1", Status: payments.StatusSucceeded, AmountCents: 1000, Currency: "usd",
		Metadata: map[string]string{"topup_id": f.topup, "user_id": f.user}}}
	f.acts.Payments = f.g
	f.credit = workflows.TopUpCredit{TopUpID: f.topup, AccountID: f.account, PaymentIntentID: "pi_1", AmountCents: 1000, Currency: "usd"}
	return f
}

func (f *fixture) entries(t *testing.T) string {
	t.Helper()
	rows, err := f.acts.Pool.Query(context.Background(), `SELECT kind || ':' || amount_cents FROM transactions WHERE topup_id = $1 ORDER BY id`, f.topup)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func isMismatch(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeTopUpMismatch && appErr.NonRetryable()
}

func TestCreditTopUpCreditsOnlyWhatStripeConfirms(t *testing.T) {
	for name, spoil := range map[string]func(*payments.Intent, *gateway){
		"not paid":           func(pi *payments.Intent, _ *gateway) { pi.Status = payments.StatusRequiresPaymentMethod },
		"processing":         func(pi *payments.Intent, _ *gateway) { pi.Status = payments.StatusProcessing },
		"another amount":     func(pi *payments.Intent, _ *gateway) { pi.AmountCents = 100 },
		"another currency":   func(pi *payments.Intent, _ *gateway) { pi.Currency = "eur" },
		"live on a test key": func(pi *payments.Intent, _ *gateway) { pi.Livemode = true },
		"test on a live key": func(_ *payments.Intent, g *gateway) { g.livemode = true },
		"another top-up": func(pi *payments.Intent, _ *gateway) {
			pi.Metadata = map[string]string{"topup_id": uuid.NewString(), "user_id": pi.Metadata["user_id"]}
		},
		"another user": func(pi *payments.Intent, _ *gateway) {
			pi.Metadata = map[string]string{"topup_id": pi.Metadata["topup_id"], "user_id": uuid.NewString()}
		},
		"no metadata": func(pi *payments.Intent, _ *gateway) { pi.Metadata = nil },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			spoil(&f.g.intent, f.g)
			err := f.acts.CreditTopUp(context.Background(), f.credit)
			if !isMismatch(err) {
				t.Fatalf("CreditTopUp: %v, want a non-retryable TopUpMismatch", err)
			}
			if got := f.entries(t); got != "" {
				t.Fatalf("posted %s", got)
			}
		})
	}
	f := newFixture(t)
	// The signal's own amount does not matter: Stripe's does.
	f.credit.AmountCents = 1
	if err := f.acts.CreditTopUp(context.Background(), f.credit); err != nil {
		t.Fatal(err)
	}
	if err := f.acts.CreditTopUp(context.Background(), f.credit); err != nil {
		t.Fatal(err)
	}
	if got := f.entries(t); got != "purchase:1000" {
		t.Fatalf("entries %s", got)
	}
}

func TestMarkTopUpStuckKeepsTheFirstReasonUntilCredited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, r := range []string{"first", "second"} {
		if err := f.acts.MarkTopUpStuck(ctx, workflows.TopUpStuck{TopUpID: f.topup, Reason: r}); err != nil {
			t.Fatal(err)
		}
	}
	var reason *string
	_ = f.acts.Pool.QueryRow(ctx, `SELECT stuck_reason FROM topups WHERE id = $1`, f.topup).Scan(&reason)
	if reason == nil || *reason != "first" {
		t.Fatalf("reason %v", reason)
	}
	if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
		t.Fatal(err)
	}
	_ = f.acts.Pool.QueryRow(ctx, `SELECT stuck_reason FROM topups WHERE id = $1`, f.topup).Scan(&reason)
	if reason != nil {
		t.Fatalf("still stuck after a confirmed credit: %s", *reason)
	}
}

func TestReverseTopUpFollowsRefundsAndDisputesThroughTheirLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.acts.CreditTopUp(ctx, f.credit); err != nil {
		t.Fatal(err)
	}
	reverse := func(kind string) workflows.TopUpRecord {
		t.Helper()
		rec, err := f.acts.ReverseTopUp(ctx, workflows.TopUpReversal{TopUpID: f.topup, AccountID: f.account, PaymentIntentID: "pi_1",
			Kind: kind, DisputeID: f.g.dispute.ID})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	// A refund is posted once, and its failure gives it back once.
	f.g.refunds = []payments.Refund{{ID: "re_1", Status: "pending", AmountCents: 300}}
	reverse("refund")
	reverse("refund")
	f.g.refunds[0].Status = "failed"
	for range 2 {
		if rec := reverse("refund"); rec.RefundedCents != 0 || rec.Status != workflows.TopUpSucceeded {
			t.Fatalf("after the refund failed: %+v", rec)
		}
	}
	// A refund that failed before we ever saw it posts nothing.
	f.g.refunds = append(f.g.refunds, payments.Refund{ID: "re_2", Status: "failed", AmountCents: 200})
	reverse("refund")
	if got := f.entries(t); got != "purchase:1000 refund:-300 refund_failure:300" {
		t.Fatalf("entries %s", got)
	}

	// An inquiry withdraws nothing; the dispute proper withdraws once; a
	// win gives it back once.
	f.g.dispute = payments.Dispute{ID: "dp_1", Status: payments.DisputeWarningNeedsResponse, AmountCents: 1000, Currency: "usd", PaymentIntentID: "pi_1"}
	reverse("dispute")
	f.g.dispute.Status = payments.DisputeNeedsResponse
	reverse("dispute")
	f.g.dispute.Status = payments.DisputeUnderReview
	if rec := reverse("dispute"); rec.Status != workflows.TopUpDisputed || rec.DisputedCents != 1000 {
		t.Fatalf("while disputed: %+v", rec)
	}
	f.g.dispute.Status = payments.DisputeWon
	for range 2 {
		if rec := reverse("dispute"); rec.Status != workflows.TopUpSucceeded || rec.DisputedCents != 0 {
			t.Fatalf("after the dispute was won: %+v", rec)
		}
	}
	if got := f.entries(t); got != "purchase:1000 refund:-300 refund_failure:300 dispute:-1000 dispute_reversal:1000" {
		t.Fatalf("entries %s", got)
	}

	// A dispute Stripe says is of another payment posts nothing.
	f.g.dispute = payments.Dispute{ID: "dp_2", Status: payments.DisputeNeedsResponse, AmountCents: 1000, Currency: "usd", PaymentIntentID: "pi_other"}
	if _, err := f.acts.ReverseTopUp(ctx, workflows.TopUpReversal{TopUpID: f.topup, Kind: "dispute", DisputeID: "dp_2"}); !isMismatch(err) {
		t.Fatalf("a dispute of another payment: %v", err)
	}
	// A won dispute whose withdrawal we never saw is posted and given back.
	f.g.dispute = payments.Dispute{ID: "dp_3", Status: payments.DisputeWon, AmountCents: 400, Currency: "usd", PaymentIntentID: "pi_1"}
	reverse("dispute")
	if got := f.entries(t); !strings.HasSuffix(got, "dispute:-400 dispute_reversal:400") {
		t.Fatalf("entries %s", got)
	}
}
