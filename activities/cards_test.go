package activities_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// cardGateway records what CreatePayment asks of Stripe.
type cardGateway struct {
	gateway
	mu        sync.Mutex
	customers int
	asked     []payments.NewIntent
	outcome   payments.Intent
}

func (g *cardGateway) EnsureCustomer(_ context.Context, userID, _ string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.customers++
	return "cus_" + userID[:8], nil
}

func (g *cardGateway) CreateIntent(_ context.Context, in payments.NewIntent) (payments.Intent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, in)
	out := g.outcome
	out.ID, out.AmountCents = "pi_"+in.TopUpID[:8], in.AmountCents
	return out, nil
}

func TestCreatePaymentPaysAsTheTopUpSays(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := &cardGateway{}
	f.acts.Payments = g
	q := db.New(f.acts.Pool)
	user, account := uuid.MustParse(f.user), uuid.MustParse(f.account)
	newTopUp := func(p db.CreateTopUpParams) string {
		p.UserID, p.AccountID, p.PackageCode, p.AmountCents = user, account, "usd-10", 1000
		t0, err := q.CreateTopUp(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return t0.ID.String()
	}
	create := func(id string) workflows.PaymentCreated {
		t.Helper()
		pc, err := f.acts.CreatePayment(ctx, workflows.TopUpInput{TopUpID: id, UserID: f.user, AccountID: f.account, AmountCents: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}

	// A plain purchase makes no Customer.
	create(newTopUp(db.CreateTopUpParams{}))
	if g.customers != 0 || g.asked[0].CustomerID != "" || g.asked[0].SaveCard {
		t.Fatalf("a plain purchase asked %+v (customers %d)", g.asked[0], g.customers)
	}
	// Saving a card makes the Customer once; two at once store one.
	var wg sync.WaitGroup
	for range 2 {
		id := newTopUp(db.CreateTopUpParams{SaveCard: true})
		wg.Add(1)
		go func() { defer wg.Done(); create(id) }()
	}
	wg.Wait()
	c, err := q.GetPaymentCustomer(ctx, user)
	if err != nil || c.CustomerID != "cus_"+f.user[:8] {
		t.Fatalf("stored customer %+v %v", c, err)
	}
	for _, in := range g.asked[1:] {
		if !in.SaveCard || in.CustomerID != c.CustomerID || in.PaymentMethodID != "" {
			t.Fatalf("a save-card top-up asked %+v", in)
		}
	}
	// One tap: the stored Customer, the card, and the outcome returned.
	g.outcome = payments.Intent{Status: payments.StatusRequiresPaymentMethod, FailureCode: "card_declined", DeclineCode: "insufficient_funds"}
	pm := "pm_saved"
	pc := create(newTopUp(db.CreateTopUpParams{PaymentMethodID: &pm}))
	last := g.asked[len(g.asked)-1]
	if last.PaymentMethodID != pm || last.CustomerID != c.CustomerID || last.OffSession {
		t.Fatalf("one tap asked %+v", last)
	}
	if pc.Outcome != payments.OutcomeDeclined || pc.DeclineCode != "insufficient_funds" || pc.PaymentIntentID == "" {
		t.Fatalf("one tap's result %+v", pc)
	}
	g.outcome = payments.Intent{Status: payments.StatusRequiresPaymentMethod, FailureCode: payments.ErrorCodeAuthenticationRequired}
	pc = create(newTopUp(db.CreateTopUpParams{PaymentMethodID: &pm, OffSession: true}))
	if last := g.asked[len(g.asked)-1]; !last.OffSession || pc.Outcome != payments.OutcomeRequiresAction {
		t.Fatalf("off-session asked %+v, result %+v", last, pc)
	}
	if g.customers > 2 {
		t.Fatalf("%d customers created for one user", g.customers)
	}
}
