package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

var savedCardValue = regexp.MustCompile(`name="payment_method" value="(pm_[0-9a-f]+)"`)

// tap starts a one-tap top-up and returns its id.
func (b *browser) tap(cents int64, pm string) string {
	b.t.Helper()
	r := b.post("/credits/one-tap", url.Values{"package": {fmt.Sprint(cents)}, "payment_method": {pm}})
	m := topUpPath.FindStringSubmatch(r.location)
	if r.status != http.StatusSeeOther || m == nil {
		b.t.Fatalf("one tap: %d %q\n%s", r.status, r.location, r.body)
	}
	return m[1]
}

func (e *callEnv) customer(email string) (customer, def string) {
	e.t.Helper()
	var d *string
	if err := e.pool.QueryRow(context.Background(), `SELECT c.customer_id, c.default_payment_method_id FROM payment_customers c
		JOIN users u ON u.id = c.user_id WHERE u.email = $1`, email).Scan(&customer, &d); err != nil {
		e.t.Fatal(err)
	}
	if d != nil {
		def = *d
	}
	return customer, def
}

func TestSavedCardOneTapTopUpThroughTheSimulator(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	ctx := context.Background()
	b := e.caller("saver@example.com", 0)

	// Pay once with "Save this card": the Customer is made, the card saved.
	if page := b.get("/credits"); !strings.Contains(page.body, `name="save_card"`) || !strings.Contains(page.body, `href="/credits/auto"`) ||
		strings.Contains(page.body, "One-tap top-up") {
		t.Fatalf("credits before a saved card:\n%s", page.body)
	}
	r := b.post("/credits/purchase", url.Values{"package": {"1000"}, "save_card": {"1"}})
	first := topUpPath.FindStringSubmatch(r.location)[1]
	if err := sim.Confirm(ctx, e.topup(first).PaymentIntent, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(first, workflows.TopUpSucceeded)
	page := b.get("/credits")
	m := savedCardValue.FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, "Visa •••• 4242") || !strings.Contains(page.body, "expires 08/2030") {
		t.Fatalf("credits after saving a card:\n%s", page.body)
	}
	pm := m[1]
	if _, def := e.customer("saver@example.com"); def != pm {
		t.Fatalf("default card %q, want %q", def, pm)
	}

	// One tap: credited once, for what Stripe confirmed.
	tapped := b.tap(2000, pm)
	e.awaitTopUp(tapped, workflows.TopUpSucceeded)
	if got := e.entries(tapped); len(got) != 1 || got[0] != "purchase:2000" {
		t.Fatalf("one-tap entries %v", got)
	}
	if bal := e.balance("saver@example.com"); bal != 3000 {
		t.Fatalf("balance %d, want 3000", bal)
	}

	// Another user can neither pay with the card nor remove it.
	other := e.caller("other@example.com", 0)
	if r := other.post("/credits/one-tap", url.Values{"package": {"500"}, "payment_method": {pm}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "Choose one of your saved cards.") {
		t.Fatalf("another's card: %d\n%s", r.status, r.body)
	}
	if r := other.post("/credits/cards/"+pm+"/remove", nil); r.status != http.StatusNotFound {
		t.Fatalf("removing another's card: %d", r.status)
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM topups t JOIN users u ON u.id = t.user_id WHERE u.email = 'other@example.com'`).Scan(&n)
	if n != 0 {
		t.Fatalf("another's card made %d top-ups", n)
	}
	if r := b.post("/credits/one-tap", url.Values{"package": {"500"}, "payment_method": {"pm_nonsense"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("an unknown card: %d", r.status)
	}

	// 3-D Secure: the page asks the bank (the simulator's stand-in for
	// handleNextAction), then the credit lands.
	cus, _ := e.customer("saver@example.com")
	threeDS, err := sim.AttachCard(cus, payments.CardAuthenticate)
	if err != nil {
		t.Fatal(err)
	}
	challenged := b.tap(500, threeDS)
	if page := b.get("/credits/topups/" + challenged); !strings.Contains(page.body, "Confirm with your bank") ||
		!strings.Contains(page.body, `action="/dev/payments/`+challenged+`/authenticate"`) {
		t.Fatalf("the page of a payment the bank asks about:\n%s", page.body)
	}
	if again := b.tap(500, threeDS); again != challenged {
		t.Fatalf("a second tap while the bank asks opened %s, not %s", again, challenged)
	}
	if r := b.post("/dev/payments/"+challenged+"/authenticate", url.Values{"approve": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("authenticate: %d", r.status)
	}
	e.awaitTopUp(challenged, workflows.TopUpSucceeded)

	// A decline: nothing credited, and the card form to try another.
	poor, _ := sim.AttachCard(cus, payments.CardInsufficientFunds)
	declined := b.tap(500, poor)
	if row := e.awaitTopUp(declined, workflows.TopUpFailed); row.Failure != "Your card has insufficient funds." {
		t.Fatalf("declined: %+v", row)
	}
	if got := e.entries(declined); len(got) != 0 {
		t.Fatalf("a declined one-tap posted %v", got)
	}

	// Remove: gone from Stripe's list and from the page, no longer the default.
	if r := b.post("/credits/cards/"+pm+"/remove", nil); r.status != http.StatusSeeOther || r.location != "/credits" {
		t.Fatalf("remove: %d %q", r.status, r.location)
	}
	if page := b.get("/credits"); strings.Contains(page.body, pm) || !strings.Contains(page.body, "Your Visa ending 4242 is removed.") {
		t.Fatalf("credits after removing the card:\n%s", page.body)
	}
	if _, def := e.customer("saver@example.com"); def == pm {
		t.Fatal("a removed card is still the default")
	}
	if r := b.post("/credits/one-tap", url.Values{"package": {"500"}, "payment_method": {pm}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a removed card: %d", r.status)
	}
	if bal := e.balance("saver@example.com"); bal != 3500 {
		t.Fatalf("balance %d, want 3500", bal)
	}
	e.mustVerifyLedger()
}
