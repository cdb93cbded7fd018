package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/workflows"
)

func signStripe(body []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()}).Header
}

// stripeTopUp makes a processing top-up paid by paymentIntent and returns
// its id.
func (a *app) stripeTopUp(email, paymentIntent string) string {
	a.t.Helper()
	b := a.browser()
	b.signUp(email, "correct horse", "Hook")
	var topup string
	if err := a.pool.QueryRow(context.Background(), `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		SELECT u.id, ac.id, 'usd-10', 1099, 'processing', $2 FROM users u JOIN accounts ac ON ac.user_id = u.id WHERE u.email = $1
		RETURNING id`, email, paymentIntent).Scan(&topup); err != nil {
		a.t.Fatal(err)
	}
	return topup
}

func TestStripeWebhookRefusesAnEventOfTheOtherMode(t *testing.T) {
	a := newApp(t, nil) // a test key (sk_test_…): events must say livemode=false
	topup := a.stripeTopUp("mode@example.com", "pi_test")
	live := []byte(strings.Replace(string(stripeEventBody("evt_live", "payment_intent.succeeded", stripe.APIVersion,
		map[string]string{"topup_id": topup})), `"livemode":false`, `"livemode":true`, 1))
	if got := a.postStripe(live, signStripe(live, a.cfg.StripeWebhookSecret)); got != http.StatusBadRequest {
		t.Fatalf("a live event on a test key: %d, want 400", got)
	}
	noMode := []byte(strings.Replace(string(live), `"livemode":true,`, ``, 1))
	if got := a.postStripe(noMode, signStripe(noMode, a.cfg.StripeWebhookSecret)); got != http.StatusBadRequest {
		t.Fatalf("an event without livemode: %d, want 400", got)
	}
	if n := a.count(`SELECT count(*) FROM webhook_events`) + a.count(`SELECT count(*) FROM stripe_version_events`); n != 0 {
		t.Fatalf("%d events stored from refused deliveries", n)
	}
	test := stripeEventBody("evt_test", "payment_intent.succeeded", stripe.APIVersion, map[string]string{"topup_id": topup})
	if got := a.postStripe(test, signStripe(test, a.cfg.StripeWebhookSecret)); got != http.StatusOK {
		t.Fatalf("a test event on a test key: %d", got)
	}

	// And the reverse: a deployment with a live key refuses test events.
	l := newApp(t, map[string]string{"STRIPE_SECRET_KEY": "sk_live_not_a_real_key"})
	topup = l.stripeTopUp("live@example.com", "pi_test")
	test = stripeEventBody("evt_test", "payment_intent.succeeded", stripe.APIVersion, map[string]string{"topup_id": topup})
	if got := l.postStripe(test, signStripe(test, l.cfg.StripeWebhookSecret)); got != http.StatusBadRequest {
		t.Fatalf("a test event on a live key: %d, want 400", got)
	}
	if n := l.count(`SELECT count(*) FROM webhook_events`); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func TestStripeWebhookKeepsEventsOfAnotherAPIVersion(t *testing.T) {
	a := newApp(t, nil)
	topup := a.stripeTopUp("version@example.com", "pi_test")
	secret := a.cfg.StripeWebhookSecret

	// Readable with the pinned version: kept, answered 200, and on its way
	// to the top-up as any event.
	readable := stripeEventBody("evt_old", "payment_intent.succeeded", "2020-08-27", map[string]string{"topup_id": topup})
	for range 2 {
		if got := a.postStripe(readable, signStripe(readable, secret)); got != http.StatusOK {
			t.Fatalf("readable event of another version: %d, want 200", got)
		}
	}
	if n := a.count(`SELECT count(*) FROM stripe_version_events WHERE event_id = 'evt_old' AND api_version = '2020-08-27' AND handled AND raw_body = $1`, readable); n != 1 {
		t.Fatalf("kept %d copies of the readable event with its raw body", n)
	}
	if n := a.count(`SELECT count(*) FROM webhook_events WHERE dedup_key = 'evt_old' AND workflow_id = $1`, "topup-"+topup); n != 1 {
		t.Fatalf("the readable event reached the inbox %d times", n)
	}

	// Not readable (a field the top-up needs is gone): kept for support,
	// answered 200, not acted on.
	unreadable := []byte(strings.Replace(string(stripeEventBody("evt_new", "payment_intent.succeeded", "2099-01-01",
		map[string]string{"topup_id": topup})), `"amount":1000,`, `"amount_v2":{"value":1000},`, 1))
	if got := a.postStripe(unreadable, signStripe(unreadable, secret)); got != http.StatusOK {
		t.Fatalf("unreadable event of another version: %d, want 200", got)
	}
	if n := a.count(`SELECT count(*) FROM stripe_version_events WHERE event_id = 'evt_new' AND NOT handled AND problem LIKE '%amount%' AND raw_body = $1`, unreadable); n != 1 {
		t.Fatal("the unreadable event was not kept for support")
	}
	if n := a.count(`SELECT count(*) FROM webhook_events WHERE dedup_key = 'evt_new'`); n != 0 {
		t.Fatal("the unreadable event went to its top-up")
	}
	// An envelope the pinned version cannot parse at all: kept too.
	broken := []byte(`{"id":"evt_broken","object":"event","api_version":"2099-01-01","livemode":false,"type":"payment_intent.succeeded","created":"yesterday","data":{"object":{}}}`)
	if got := a.postStripe(broken, signStripe(broken, secret)); got != http.StatusOK {
		t.Fatalf("unparsable event of another version: %d, want 200", got)
	}
	// The same with the pinned version is malformed: 400.
	pinnedBroken := []byte(strings.Replace(string(unreadable), "2099-01-01", stripe.APIVersion, 1))
	if got := a.postStripe(pinnedBroken, signStripe(pinnedBroken, secret)); got != http.StatusBadRequest {
		t.Fatalf("malformed event of the pinned version: %d, want 400", got)
	}

	// Support sees both unreadable ones on the dashboard, with the version.
	staff := a.admin("support@example.com")
	dash := staff.get("/admin")
	for _, want := range []string{`data-stripe-version-event="evt_new"`, `data-stripe-version-event="evt_broken"`, "2099-01-01", "data.object.amount"} {
		if !strings.Contains(dash.body, want) {
			t.Fatalf("dashboard lacks %s:\n%s", want, dash.body)
		}
	}
	if strings.Contains(dash.body, `data-stripe-version-event="evt_old"`) {
		t.Fatal("the handled event is listed for support")
	}
}

// TestStripeWebhookReadsStripesFixtures posts every captured event of
// testdata/stripe/ (Stripe's own fixtures, API version 2023-10-16), signed,
// and checks what reaches the top-up's workflow.
func TestStripeWebhookReadsStripesFixtures(t *testing.T) {
	a := newApp(t, nil)
	const pi = "pi_1O8RSWF2YyVaukgl8256gQPv" // the fixtures' PaymentIntent
	topup := a.stripeTopUp("fixtures@example.com", pi)
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "stripe", "*.json"))
	handled := map[string]bool{}
	for _, typ := range workflows.StripeEventTypes() {
		handled[typ] = true
	}
	seen := map[string]bool{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		seen[typ] = true
		// Each fixture is one event id: give each its own.
		body = []byte(strings.Replace(string(body), `"evt_1O8RShF2YyVaukgleyFXDTrB"`, `"evt_`+strings.NewReplacer(".", "_").Replace(typ)+`"`, 1))
		if got := a.postStripe(body, signStripe(body, a.cfg.StripeWebhookSecret)); got != http.StatusOK {
			t.Errorf("%s: %d", typ, got)
			continue
		}
		var sig workflows.StripeSignal
		var payload []byte
		err = a.pool.QueryRow(context.Background(), `SELECT payload FROM webhook_events WHERE event_type = $1 AND workflow_id = $2`, typ, "topup-"+topup).Scan(&payload)
		if !handled[typ] {
			if err == nil {
				t.Errorf("%s is not one we act on, yet it was stored", typ)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s did not reach top-up %s: %v", typ, topup, err)
			continue
		}
		_ = json.Unmarshal(payload, &sig)
		if sig.PaymentIntentID != pi || sig.AmountCents != 1099 || sig.Type != typ {
			t.Errorf("%s became %+v", typ, sig)
		}
		if strings.HasPrefix(typ, "charge.dispute.") && sig.DisputeID != "dp_1O8RSZF2YyVaukglrDNGWTcN" {
			t.Errorf("%s: dispute %q", typ, sig.DisputeID)
		}
	}
	for _, typ := range workflows.StripeEventTypes() {
		if !seen[typ] {
			t.Errorf("no fixture of %s in testdata/stripe", typ)
		}
	}
	if n := a.count(`SELECT count(*) FROM stripe_version_events`); n != 0 {
		t.Fatalf("%d fixtures taken for another API version", n)
	}
}
