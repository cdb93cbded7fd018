package payments_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/internal/payments"
)

// stripeMock starts Stripe's own API mock (bin/stripe-mock, built by `make
// bin/stripe-mock`), bound to loopback, and returns its HTTP base URL.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STRIPE_MOCK")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "stripe-mock")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("stripe-mock not found at %s: run `make bin/stripe-mock` (go install github.com/stripe/stripe-mock@v0.203.0)", bin)
	}
	httpPort, httpsPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-http-addr", "127.0.0.1:"+httpPort, "-https-addr", "127.0.0.1:"+httpsPort)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + httpPort
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("stripe-mock did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// recorder keeps the requests stripe-go sends.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) last() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

func TestStripeGatewayAgainstStripeMock(t *testing.T) {
	rec := &recorder{}
	g := payments.NewStripe("sk_test_123", stripeMock(t), &http.Client{Transport: rec, Timeout: 10 * time.Second})
	ctx := context.Background()

	// stripe-mock checks every parameter against Stripe's OpenAPI spec: a
	// misspelt or misplaced parameter is a 400 here.
	pi, err := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "8d0f5a6e-topup", UserID: "user-1", AmountCents: 1000,
		ReceiptEmail: "a@example.com", Description: "Mobayilo credit $10.00"})
	if err != nil {
		t.Fatal(err)
	}
	req := rec.last()
	if req.Method != http.MethodPost || req.URL.Path != "/v1/payment_intents" {
		t.Fatalf("create sent %s %s", req.Method, req.URL.Path)
	}
	if got := req.Header.Get("Idempotency-Key"); got != "8d0f5a6e-topup" {
		t.Fatalf("idempotency key %q, want the top-up id", got)
	}
	if pi.ID == "" || pi.ClientSecret == "" {
		t.Fatalf("create returned %+v", pi)
	}

	got, err := g.GetIntent(ctx, pi.ID)
	if err != nil || got.ID == "" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if rec.last().Method != http.MethodGet || !strings.HasSuffix(rec.last().URL.Path, "/v1/payment_intents/"+pi.ID) {
		t.Fatalf("get sent %s %s", rec.last().Method, rec.last().URL.Path)
	}

	canceled, err := g.CancelIntent(ctx, pi.ID)
	if err != nil || canceled.ID == "" {
		t.Fatalf("cancel: %+v, %v", canceled, err)
	}
	if !strings.HasSuffix(rec.last().URL.Path, "/cancel") {
		t.Fatalf("cancel sent %s", rec.last().URL.Path)
	}

	refunds, err := g.ListRefunds(ctx, pi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if q := rec.last().URL.Query().Get("payment_intent"); q != pi.ID {
		t.Fatalf("refunds listed for %q", q)
	}
	for _, r := range refunds {
		if r.ID == "" || r.AmountCents <= 0 {
			t.Fatalf("refund %+v", r)
		}
	}

	// A partial refund: stripe-mock checks the parameters' names and
	// values (Stripe's reason enum) against the spec; the key is ours.
	rf, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 200, Key: "admin:refund:k1",
		TopUpID: "8d0f5a6e-topup", Note: "customer asked: wrong number"})
	if err != nil || rf.ID == "" {
		t.Fatalf("refund: %+v, %v", rf, err)
	}
	req = rec.last()
	if req.Method != http.MethodPost || req.URL.Path != "/v1/refunds" || req.Header.Get("Idempotency-Key") != "admin:refund:k1" {
		t.Fatalf("refund sent %s %s key %q", req.Method, req.URL.Path, req.Header.Get("Idempotency-Key"))
	}
	form := sentForm(t, req)
	for k, want := range map[string]string{"payment_intent": pi.ID, "amount": "200", "reason": "requested_by_customer",
		"metadata[topup_id]": "8d0f5a6e-topup", "metadata[support_reason]": "customer asked: wrong number"} {
		if got := form.Get(k); got != want {
			t.Errorf("refund's %s = %q, want %q", k, got, want)
		}
	}
	// A full refund sends no amount: Stripe refunds what is left.
	if _, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, Key: "admin:refund:k2", TopUpID: "t"}); err != nil {
		t.Fatal(err)
	}
	if form := sentForm(t, rec.last()); form.Has("amount") {
		t.Fatalf("a full refund sent amount=%s", form.Get("amount"))
	}
	if _, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, TopUpID: "t"}); !errors.Is(err, payments.ErrPermanent) {
		t.Fatalf("a refund without an idempotency key: %v", err)
	}

	d, err := g.GetDispute(ctx, "dp_123")
	if err != nil || d.ID == "" || d.AmountCents <= 0 || d.Status == "" || d.Currency == "" {
		t.Fatalf("dispute: %+v, %v", d, err)
	}
	if rec.last().Method != http.MethodGet || !strings.HasSuffix(rec.last().URL.Path, "/v1/disputes/dp_123") {
		t.Fatalf("get dispute sent %s %s", rec.last().Method, rec.last().URL.Path)
	}
	if g.Livemode() || !payments.NewStripe("sk_live_x", "", nil).Livemode() || !payments.NewStripe("rk_live_x", "", nil).Livemode() {
		t.Fatal("livemode is not the key's")
	}
}

// sentForm is the form body of a recorded request.
func sentForm(t *testing.T, req *http.Request) url.Values {
	t.Helper()
	body, err := req.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(body)
	v, err := url.ParseQuery(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStripeGatewayClassifiesRefusals(t *testing.T) {
	// A wrong key is refused for good; retrying cannot help.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/cancel"):
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of succeeded."}}`)
		case r.Method == http.MethodGet:
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"try later"}}`)
		default:
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***"}}`)
		}
	}))
	defer bad.Close()
	g := payments.NewStripe("sk_test_wrong", bad.URL, nil)
	_, err := g.CreateIntent(context.Background(), payments.NewIntent{TopUpID: "t", AmountCents: 500})
	if !errors.Is(err, payments.ErrPermanent) {
		t.Fatalf("401: %v, want ErrPermanent", err)
	}
	_, err = g.CancelIntent(context.Background(), "pi_1")
	if !errors.Is(err, payments.ErrUnexpectedState) {
		t.Fatalf("cancel of a succeeded intent: %v, want ErrUnexpectedState", err)
	}
	_, err = g.GetIntent(context.Background(), "pi_1")
	if err == nil || errors.Is(err, payments.ErrPermanent) {
		t.Fatalf("503: %v, want a retryable error", err)
	}
}

// webhookSink verifies and records the events a simulator delivers.
type webhookSink struct {
	mu     sync.Mutex
	events []string          // type:id
	bodies map[string][]byte // the latest body of each type
	status int
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := webhook.ConstructEvent(body, r.Header.Get("Stripe-Signature"), "whsec_test")
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
		s.status = 0
		return
	}
	s.events = append(s.events, string(ev.Type)+":"+ev.ID)
	if s.bodies == nil {
		s.bodies = map[string][]byte{}
	}
	s.bodies[string(ev.Type)] = body
}

func (s *webhookSink) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e[:strings.Index(e, ":")])
	}
	return out
}

func newSim(t *testing.T) (*payments.Simulator, *payments.Stripe, *webhookSink) {
	sink := &webhookSink{}
	hooks := httptest.NewServer(sink)
	t.Cleanup(hooks.Close)
	sim := &payments.Simulator{SecretKey: "sk_test_sim", WebhookSecret: "whsec_test", WebhookURL: hooks.URL, Retries: 2, RetryWait: time.Millisecond}
	api := httptest.NewServer(sim.Handler())
	t.Cleanup(api.Close)
	return sim, payments.NewStripe("sk_test_sim", api.URL, nil), sink
}

func TestSimulatorSpeaksStripesAPIToStripeGo(t *testing.T) {
	sim, g, sink := newSim(t)
	ctx := context.Background()
	in := payments.NewIntent{TopUpID: "topup-1", UserID: "u", AmountCents: 500}
	a, err := g.CreateIntent(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.CreateIntent(ctx, in)
	if err != nil || b.ID != a.ID || a.Metadata["topup_id"] != "topup-1" || a.Status != payments.StatusRequiresPaymentMethod {
		t.Fatalf("idempotent create: %+v then %+v (%v)", a, b, err)
	}

	if err := sim.Confirm(ctx, a.ID, payments.CardDeclined, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	got, _ := g.GetIntent(ctx, a.ID)
	if got.Status != payments.StatusRequiresPaymentMethod || got.FailureCode != "card_declined" || got.FailureMessage == "" {
		t.Fatalf("after a decline: %+v", got)
	}
	if err := sim.Confirm(ctx, a.ID, payments.CardSucceeds, 0, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	got, _ = g.GetIntent(ctx, a.ID)
	if got.Status != payments.StatusSucceeded || got.LatestChargeID == "" {
		t.Fatalf("after success: %+v", got)
	}
	if _, err := g.CancelIntent(ctx, a.ID); !errors.Is(err, payments.ErrUnexpectedState) {
		t.Fatalf("cancel after success: %v", err)
	}
	if _, err := sim.Refund(ctx, a.ID, 200, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	refunds, err := g.ListRefunds(ctx, a.ID)
	if err != nil || len(refunds) != 1 || refunds[0].AmountCents != 200 {
		t.Fatalf("refunds %+v, %v", refunds, err)
	}
	want := "payment_intent.payment_failed payment_intent.succeeded payment_intent.succeeded charge.refunded"
	if got := strings.Join(sink.types(), " "); got != want {
		t.Fatalf("events delivered: %s\nwant %s", got, want)
	}

	c, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "topup-2", AmountCents: 500})
	if got, err := g.CancelIntent(ctx, c.ID); err != nil || got.Status != payments.StatusCanceled {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	sim.Wait()
	if types := sink.types(); types[len(types)-1] != "payment_intent.canceled" {
		t.Fatalf("no canceled event: %v", types)
	}
}

func TestSimulatorRefusesAWrongKeyAndRetriesDeliveries(t *testing.T) {
	sim, g, sink := newSim(t)
	ctx := context.Background()
	pi, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t", AmountCents: 500})
	if _, err := payments.NewStripe("sk_test_wrong", apiURL(t, sim), nil).GetIntent(ctx, pi.ID); !errors.Is(err, payments.ErrPermanent) {
		t.Fatalf("wrong key: %v", err)
	}
	sink.mu.Lock()
	sink.status = 500 // the first delivery fails; Stripe would retry
	sink.mu.Unlock()
	if err := sim.Confirm(ctx, pi.ID, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	if got := sink.types(); len(got) != 1 || got[0] != "payment_intent.succeeded" {
		t.Fatalf("after a failed first attempt: %v", got)
	}
}

func apiURL(t *testing.T, sim *payments.Simulator) string {
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
