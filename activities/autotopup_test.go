package activities_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// autoFixture: a user with $2 and auto top-up on (below $5 add $10, at
// most $20 a month), a saved card.
func autoFixture(t *testing.T) (*activities.Activities, string) {
	t.Helper()
	pool := testdb.New(t)
	ctx := context.Background()
	var user, account string
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ('auto@example.com', 'Auto', 'x', 'NG') RETURNING id`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id, cached_balance_cents) VALUES ('wallet', $1, 0) RETURNING id`, user).Scan(&account); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO auto_topups (user_id, account_id, enabled, threshold_cents, amount_cents, monthly_cap_cents) VALUES ($1, $2, true, 500, 1000, 2000)`,
		`INSERT INTO payment_customers (user_id, customer_id, default_payment_method_id) SELECT $1, 'cus_auto', 'pm_auto' WHERE $2::uuid IS NOT NULL`,
	} {
		if _, err := pool.Exec(ctx, q, user, account); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:" + user, AccountID: uuid.MustParse(account), Kind: ledger.Bonus, AmountCents: 200}); err != nil {
		t.Fatal(err)
	}
	return activities.New(pool), user
}

func TestPlanAutoTopUpMakesOneInFlightAndKeepsTheCap(t *testing.T) {
	a, user := autoFixture(t)
	ctx := context.Background()
	plan, err := a.PlanAutoTopUp(ctx, user)
	if err != nil || plan.Action != workflows.AutoTopUpPay || plan.TopUp.TopUpID != workflows.AutoTopUpTopUpID(user, 1) || plan.TopUp.AmountCents != 1000 {
		t.Fatalf("plan %+v %v", plan, err)
	}
	var pm string
	var off bool
	if err := a.Pool.QueryRow(ctx, `SELECT payment_method_id, off_session FROM topups WHERE id = $1`, plan.TopUp.TopUpID).Scan(&pm, &off); err != nil || pm != "pm_auto" || !off {
		t.Fatalf("the top-up pays with %q off-session %v: %v", pm, off, err)
	}
	// Planned again (a retry, or a check while it is under way): the same
	// one, awaited.
	again, err := a.PlanAutoTopUp(ctx, user)
	if err != nil || again.Action != workflows.AutoTopUpPay || again.TopUp.TopUpID != plan.TopUp.TopUpID {
		t.Fatalf("plan again %+v %v", again, err)
	}
	// Declined: it never counts against the cap, and the next is number 2.
	if _, err := a.Pool.Exec(ctx, `UPDATE topups SET status = 'failed' WHERE id = $1`, plan.TopUp.TopUpID); err != nil {
		t.Fatal(err)
	}
	second, err := a.PlanAutoTopUp(ctx, user)
	if err != nil || second.Action != workflows.AutoTopUpPay || second.TopUp.TopUpID != workflows.AutoTopUpTopUpID(user, 2) ||
		!strings.Contains(second.Why, "0 of the 2000 cents cap used") {
		t.Fatalf("second plan %+v %v", second, err)
	}
	// Two paid ones fill the $20 cap: no third this month.
	for _, id := range []string{plan.TopUp.TopUpID, second.TopUp.TopUpID} {
		if _, err := a.Pool.Exec(ctx, `UPDATE topups SET status = 'succeeded' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	capped, err := a.PlanAutoTopUp(ctx, user)
	if err != nil || capped.Action != workflows.AutoTopUpNone || !strings.Contains(capped.Why, "monthly cap: 2000 of 2000") {
		t.Fatalf("past the cap %+v %v", capped, err)
	}
	// Last month's do not count.
	if _, err := a.Pool.Exec(ctx, `UPDATE auto_topup_runs SET created_at = now() - interval '40 days'`); err != nil {
		t.Fatal(err)
	}
	if next, err := a.PlanAutoTopUp(ctx, user); err != nil || next.Action != workflows.AutoTopUpPay || next.TopUp.TopUpID != workflows.AutoTopUpTopUpID(user, 3) {
		t.Fatalf("a new month %+v %v", next, err)
	}
}

func TestPlanAutoTopUpOffOrWithoutACard(t *testing.T) {
	a, user := autoFixture(t)
	ctx := context.Background()
	if _, err := a.Pool.Exec(ctx, `UPDATE payment_customers SET default_payment_method_id = NULL`); err != nil {
		t.Fatal(err)
	}
	if plan, err := a.PlanAutoTopUp(ctx, user); err != nil || plan.Action != workflows.AutoTopUpRefuse || !strings.Contains(plan.Why, "no saved card") {
		t.Fatalf("no card: %+v %v", plan, err)
	}
	if err := a.TurnAutoTopUpOff(ctx, workflows.AutoTopUpTurnOff{UserID: user, Reason: "no card"}); err != nil {
		t.Fatal(err)
	}
	if err := a.TurnAutoTopUpOff(ctx, workflows.AutoTopUpTurnOff{UserID: user, Reason: "no card"}); err != nil {
		t.Fatal(err) // a retry changes nothing
	}
	if plan, err := a.PlanAutoTopUp(ctx, user); err != nil || plan.Action != workflows.AutoTopUpOff {
		t.Fatalf("off: %+v %v", plan, err)
	}
	var n int
	if err := a.Pool.QueryRow(ctx, `SELECT count(*) FROM topups`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d top-ups made", n)
	}
}
