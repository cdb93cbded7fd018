package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// userID is the id of the user with email.
func (a *app) userID(email string) uuid.UUID {
	a.t.Helper()
	var id uuid.UUID
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id); err != nil {
		a.t.Fatal(err)
	}
	return id
}

// saveCard gives the user a Stripe Customer with a default card, as a
// top-up that saved one leaves them.
func (a *app) saveCard(email, customer, pm string) {
	a.t.Helper()
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO payment_customers (user_id, customer_id, default_payment_method_id) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, default_payment_method_id = EXCLUDED.default_payment_method_id`,
		a.userID(email), customer, pm); err != nil {
		a.t.Fatal(err)
	}
}

type autoTopUpRow struct {
	Enabled                bool
	Threshold, Amount, Cap int64
	NoticePending          bool
	OffReason              *string
}

func (a *app) autoTopUp(email string) (autoTopUpRow, bool) {
	a.t.Helper()
	var r autoTopUpRow
	err := a.pool.QueryRow(context.Background(), `SELECT enabled, threshold_cents, amount_cents, monthly_cap_cents, notice_pending, off_reason
		FROM auto_topups WHERE user_id = $1`, a.userID(email)).Scan(&r.Enabled, &r.Threshold, &r.Amount, &r.Cap, &r.NoticePending, &r.OffReason)
	if err != nil {
		return r, false
	}
	return r, true
}

var autoOn = url.Values{"enabled": {"on"}, "threshold": {"4.00"}, "amount": {"1000"}, "cap": {"30"}}

func TestAutoTopUpFormChecksEveryField(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("form@example.com", "correct horse", "Form")

	// No saved card: it cannot be turned on.
	if r := b.post("/credits/auto", autoOn); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no saved card") &&
		!strings.Contains(r.body, "you have none") {
		t.Fatalf("on without a card: %d\n%s", r.status, r.body)
	}
	if _, ok := a.autoTopUp("form@example.com"); ok {
		t.Fatal("a refused form saved settings")
	}
	a.saveCard("form@example.com", "cus_form", "pm_form")
	for _, bad := range []url.Values{
		{"enabled": {"on"}, "threshold": {"0"}, "amount": {"1000"}, "cap": {"30"}},
		{"enabled": {"on"}, "threshold": {"4.001"}, "amount": {"1000"}, "cap": {"30"}},
		{"enabled": {"on"}, "threshold": {"4"}, "amount": {"1234"}, "cap": {"30"}}, // not a package
		{"enabled": {"on"}, "threshold": {"4"}, "amount": {"2000"}, "cap": {"10"}}, // the cap holds no top-up
		{"enabled": {"on"}, "threshold": {"4"}, "amount": {"1000"}, "cap": {"5000"}},
	} {
		if r := b.post("/credits/auto", bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "field-error") {
			t.Fatalf("%v: %d\n%s", bad, r.status, r.body)
		}
	}
	if _, ok := a.autoTopUp("form@example.com"); ok {
		t.Fatal("a refused form saved settings")
	}
	// Saved, though Temporal is down here: the next charge starts it.
	if r := b.post("/credits/auto", autoOn); r.status != http.StatusSeeOther || r.location != "/credits/auto" {
		t.Fatalf("save: %d %s\n%s", r.status, r.location, r.body)
	}
	if got, _ := a.autoTopUp("form@example.com"); !got.Enabled || got.Threshold != 400 || got.Amount != 1000 || got.Cap != 3000 {
		t.Fatalf("saved %+v", got)
	}
	page := b.get("/credits/auto")
	if page.status != 200 || !strings.Contains(page.body, "Below $4.00 we add $10.00, at most $30.00 a month") {
		t.Fatalf("page: %d\n%s", page.status, page.body)
	}
}

func TestAutoTopUpSettingsAndBannerAreTheOwnersOnly(t *testing.T) {
	a := newApp(t, nil)
	owner, other := a.browser(), a.browser()
	owner.signUp("owner@example.com", "correct horse", "Owner")
	other.signUp("other@example.com", "correct horse", "Other")
	a.saveCard("owner@example.com", "cus_owner", "pm_owner")
	if r := owner.post("/credits/auto", autoOn); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.status, r.body)
	}

	// The other user's page shows their own (none), not the owner's.
	if p := other.get("/credits/auto"); p.status != 200 || strings.Contains(p.body, "$30.00 a month") || !strings.Contains(p.body, "<strong>Off.</strong>") {
		t.Fatalf("other's page: %d\n%s", p.status, p.body)
	}
	// A form naming the owner changes only the sender's settings.
	ownerID := a.userID("owner@example.com").String()
	off := url.Values{"user_id": {ownerID}, "threshold": {"9"}, "amount": {"500"}, "cap": {"5"}}
	if r := other.post("/credits/auto", off); r.status != http.StatusSeeOther {
		t.Fatalf("other's save: %d\n%s", r.status, r.body)
	}
	if got, _ := a.autoTopUp("owner@example.com"); !got.Enabled || got.Threshold != 400 || got.Cap != 3000 {
		t.Fatalf("the owner's settings changed: %+v", got)
	}
	if got, _ := a.autoTopUp("other@example.com"); got.Enabled || got.Threshold != 900 {
		t.Fatalf("the sender's settings: %+v", got)
	}

	// We turn the owner's off (a decline): the banner is theirs alone.
	if _, err := a.pool.Exec(context.Background(), `UPDATE auto_topups SET enabled = false, off_reason = 'Your card was declined.', off_at = now(),
		notice_pending = true WHERE user_id = $1`, ownerID); err != nil {
		t.Fatal(err)
	}
	if p := other.get("/credits"); strings.Contains(p.body, "data-autotopup-notice") {
		t.Fatal("another user sees the owner's banner")
	}
	if r := other.post("/credits/auto/dismiss", url.Values{"user_id": {ownerID}}); r.status != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", r.status)
	}
	if p := owner.get("/call"); !strings.Contains(p.body, "data-autotopup-notice") || !strings.Contains(p.body, "Your card was declined.") {
		t.Fatalf("the owner's banner is gone after another's dismiss:\n%s", p.body)
	}
	if r := owner.post("/credits/auto/dismiss", nil); r.status != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", r.status)
	}
	if p := owner.get("/call"); strings.Contains(p.body, "data-autotopup-notice") {
		t.Fatal("the banner stays after its dismissal")
	}
}
