package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// stripeEventBody is a Stripe event of the pinned API version about a
// PaymentIntent with the given metadata.
func stripeEventBody(id, typ, apiVersion string, metadata map[string]string) []byte {
	meta := ""
	for k, v := range metadata {
		if meta != "" {
			meta += ","
		}
		meta += fmt.Sprintf("%q:%q", k, v)
	}
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","api_version":%q,"created":%d,"livemode":false,"type":%q,`+
		`"data":{"object":{"id":"pi_test","object":"payment_intent","amount":1000,"currency":"usd","status":"succeeded","metadata":{%s}}}}`,
		id, apiVersion, time.Now().Unix(), typ, meta))
}

func (a *app) postStripe(body []byte, header string) int {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/api/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (a *app) count(query string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

func TestStripeWebhookRefusesWhatItCannotTrust(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("hook@example.com", "correct horse", "Hook")
	var user, account string
	_ = a.pool.QueryRow(context.Background(), `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = 'hook@example.com'`).Scan(&user, &account)
	var topup string
	if err := a.pool.QueryRow(context.Background(), `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		VALUES ($1, $2, 'usd-10', 1000, 'processing', 'pi_test') RETURNING id`, user, account).Scan(&topup); err != nil {
		t.Fatal(err)
	}
	secret := a.cfg.StripeWebhookSecret
	good := stripeEventBody("evt_1", "payment_intent.succeeded", stripe.APIVersion, map[string]string{"topup_id": topup})
	sign := func(body []byte, secret string, at time.Time) string {
		return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
	}
	for name, tc := range map[string]struct {
		body   []byte
		header string
	}{
		"no signature":      {good, ""},
		"garbage signature": {good, "t=1,v1=deadbeef"},
		"another secret":    {good, sign(good, "whsec_someone_else", time.Now())},
		"stale timestamp":   {good, sign(good, secret, time.Now().Add(-10*time.Minute))},
		"body changed":      {append([]byte(nil), good...), sign(stripeEventBody("evt_1", "payment_intent.succeeded", stripe.APIVersion, nil), secret, time.Now())},
		"malformed JSON":    {[]byte(`{"id":"evt_1",`), sign([]byte(`{"id":"evt_1",`), secret, time.Now())},
	} {
		// (An event of another API version is kept and answered 200:
		// TestStripeWebhookKeepsEventsOfAnotherAPIVersion.)
		if got := a.postStripe(tc.body, tc.header); got != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	if n := a.count(`SELECT count(*) FROM webhook_events`); n != 0 {
		t.Fatalf("%d events stored from refused deliveries", n)
	}

	// A well-signed event is stored once, however often it comes; one of a
	// type we do not act on, or about a payment that is not ours, is
	// acknowledged and not stored.
	for range 3 {
		if got := a.postStripe(good, sign(good, secret, time.Now())); got != http.StatusOK {
			t.Fatalf("good event: %d", got)
		}
	}
	other := stripeEventBody("evt_3", "customer.created", stripe.APIVersion, nil)
	notOurs := []byte(strings.Replace(string(stripeEventBody("evt_4", "payment_intent.succeeded", stripe.APIVersion, map[string]string{"order": "42"})), "pi_test", "pi_someone_elses", 1))
	for _, body := range [][]byte{other, notOurs} {
		if got := a.postStripe(body, sign(body, secret, time.Now())); got != http.StatusOK {
			t.Fatalf("ignored event: %d", got)
		}
	}
	if n := a.count(`SELECT count(*) FROM webhook_events WHERE source = 'stripe' AND dedup_key = 'evt_1' AND workflow_id = $1 AND start_workflow = 'TopUp'`, "topup-"+topup); n != 1 {
		t.Fatalf("stored %d copies of evt_1 for its top-up's workflow", n)
	}
	if n := a.count(`SELECT count(*) FROM webhook_events`); n != 1 {
		t.Fatalf("%d events stored, want only evt_1", n)
	}
	if n := a.count(`SELECT count(*) FROM transactions WHERE topup_id = $1`, topup); n != 0 {
		t.Fatal("the webhook itself posted to the ledger")
	}
}

func TestCreditsRefusesUnknownPackagesAndOthersTopUps(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("own@example.com", "correct horse", "Own")
	for _, pkg := range []string{"1", "999", "-500", "abc", ""} {
		if r := b.post("/credits/purchase", url.Values{"package": {pkg}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Choose one of the amounts") {
			t.Fatalf("package %q: %d", pkg, r.status)
		}
	}
	if n := a.count(`SELECT count(*) FROM topups`); n != 0 {
		t.Fatalf("%d top-ups created from refused packages", n)
	}
	var user, account string
	_ = a.pool.QueryRow(context.Background(), `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = 'own@example.com'`).Scan(&user, &account)
	var topup string
	_ = a.pool.QueryRow(context.Background(), `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		VALUES ($1, $2, 'usd-10', 1000, 'processing', 'pi_x') RETURNING id`, user, account).Scan(&topup)
	if r := b.get("/credits/topups/" + topup); r.status != 200 {
		t.Fatalf("own top-up: %d", r.status)
	}
	other := a.browser()
	other.signUp("other@example.com", "correct horse", "Other")
	for _, path := range []string{"/credits/topups/" + topup} {
		if r := other.get(path); r.status != http.StatusNotFound {
			t.Fatalf("another's top-up %s: %d", path, r.status)
		}
	}
	for _, path := range []string{"/dev/payments/" + topup + "/confirm", "/dev/payments/" + topup + "/refund"} {
		if r := other.post(path, url.Values{"card": {"succeeds"}}); r.status != http.StatusNotFound {
			t.Fatalf("another's %s: %d", path, r.status)
		}
	}
	// With Temporal unreachable, a purchase says so and leaves nothing open.
	if r := b.post("/credits/purchase", url.Values{"package": {"500"}}); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "Nothing was charged") {
		t.Fatalf("purchase without Temporal: %d", r.status)
	}
	if n := a.count(`SELECT count(*) FROM topups WHERE amount_cents = 500 AND status = 'canceled'`); n != 1 {
		t.Fatalf("the failed purchase left %d cancelled top-ups", n)
	}
}
