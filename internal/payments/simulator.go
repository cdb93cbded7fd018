package payments

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// The payment simulator stands in for Stripe in development and tests
// (never in production: the configuration refuses it). Handler serves the
// part of Stripe's API the top-ups use (create, retrieve and cancel a
// PaymentIntent, list refunds), keeping state as Stripe would, to the same
// stripe-go client the app uses with Stripe; Confirm, Refund and Dispute do
// what a card payment, a support refund and a chargeback do, and deliver
// the webhook events Stripe would send, signed with the endpoint's secret.
type Simulator struct {
	SecretKey     string // the API key requests must carry
	WebhookSecret string // signs the events
	// WebhookURL is where events are delivered (the app's
	// /api/webhooks/stripe).
	WebhookURL string
	HTTP       *http.Client
	// Observe, when set, is told how long each webhook took to answer.
	Observe func(eventType string, took time.Duration)
	// Retries: how many times a delivery answered with an error or not at
	// all is tried again (Stripe retries for days), with RetryWait between.
	Retries   int
	RetryWait time.Duration

	mu      sync.Mutex
	intents map[string]*simIntent
	byKey   map[string]string // idempotency key -> payment intent id
	bg      sync.WaitGroup
}

type simIntent struct {
	id, status, clientSecret, currency, receiptEmail, description string
	amount                                                        int64
	metadata                                                      map[string]string
	chargeID                                                      string
	failureCode, failureMessage                                   string
	refunds                                                       []Refund
	created                                                       int64
}

// Card outcomes the simulated card form offers.
const (
	CardSucceeds          = "succeeds"
	CardDeclined          = "declined"
	CardInsufficientFunds = "insufficient_funds"
	CardDelayed           = "delayed" // processing first, succeeded after Delay
)

// Faults are how a payment's webhooks misbehave.
type Faults struct {
	Copies  int  // each event delivered this many times (at least 1)
	Shuffle bool // events, and their copies, in random order
	Lose    bool // the events are never delivered (the workflow's timeout must find out)
	// Unrelated adds events of types the app ignores (charge.succeeded,
	// payment_intent.created) among the ones it handles.
	Unrelated bool
	// RandomCopies delivers each event 1 to Copies times, at random.
	RandomCopies bool
	// Delay holds each delivery back a random time up to Delay.
	Delay time.Duration
}

// Handler serves Stripe's API paths under /v1/.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payment_intents", s.createIntent)
	mux.HandleFunc("GET /v1/payment_intents/{id}", s.getIntent)
	mux.HandleFunc("POST /v1/payment_intents/{id}/cancel", s.cancelIntent)
	mux.HandleFunc("GET /v1/refunds", s.listRefunds)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.SecretKey || s.SecretKey == "" {
			apiError(w, http.StatusUnauthorized, "invalid_request_error", "", "Invalid API Key provided.")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Simulator) createIntent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "bad form")
		return
	}
	amount, err := strconv.ParseInt(r.PostForm.Get("amount"), 10, 64)
	if err != nil || amount < 50 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "amount_too_small", "Amount must be at least $0.50 usd")
		return
	}
	if r.PostForm.Get("currency") == "" {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "parameter_missing", "Missing required param: currency.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	key := r.Header.Get("Idempotency-Key")
	if id, ok := s.byKey[key]; ok && key != "" {
		writeJSON(w, s.intents[id].json())
		return
	}
	pi := &simIntent{id: "pi_" + randomID(), status: StatusRequiresPaymentMethod, amount: amount,
		currency: r.PostForm.Get("currency"), receiptEmail: r.PostForm.Get("receipt_email"),
		description: r.PostForm.Get("description"), metadata: map[string]string{}, created: time.Now().Unix()}
	pi.clientSecret = pi.id + "_secret_" + randomID()
	for k, v := range r.PostForm {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") {
			pi.metadata[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	s.intents[pi.id] = pi
	if key != "" {
		s.byKey[key] = pi.id
	}
	writeJSON(w, pi.json())
}

func (s *Simulator) getIntent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such payment_intent: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, pi.json())
}

func (s *Simulator) cancelIntent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	pi, ok := s.intents[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such payment_intent: '"+r.PathValue("id")+"'")
		return
	}
	switch pi.status {
	case StatusSucceeded, StatusProcessing:
		status := pi.status
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state",
			"You cannot cancel this PaymentIntent because it has a status of "+status+".")
		return
	case StatusCanceled:
		body := pi.json()
		s.mu.Unlock()
		writeJSON(w, body)
		return
	}
	pi.status = StatusCanceled
	body := pi.json()
	ev := s.event("payment_intent.canceled", body)
	s.mu.Unlock()
	writeJSON(w, body)
	// Stripe sends the event whether or not we asked for the cancel.
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		_ = s.deliver(context.Background(), []simEvent{ev}, Faults{})
	}()
}

func (s *Simulator) listRefunds(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	if pi, ok := s.intents[r.URL.Query().Get("payment_intent")]; ok {
		for _, rf := range pi.refunds {
			data = append(data, map[string]any{"id": rf.ID, "object": "refund", "amount": rf.AmountCents, "currency": pi.currency,
				"status": rf.Status, "payment_intent": pi.id, "charge": pi.chargeID})
		}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/refunds"})
}

// Confirm pays a PaymentIntent with a simulated card and delivers the
// events Stripe would. With CardDelayed the payment is processing at once
// and succeeds after delay, delivered in the background.
func (s *Simulator) Confirm(ctx context.Context, id, card string, delay time.Duration, f Faults) error {
	s.mu.Lock()
	s.init()
	pi, ok := s.intents[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: no payment intent %s", id)
	}
	if pi.status != StatusRequiresPaymentMethod && pi.status != StatusRequiresConfirmation {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: payment intent %s is %s and cannot be confirmed", id, pi.status)
	}
	var events []simEvent
	if f.Unrelated {
		events = append(events, s.event("payment_intent.created", pi.json()))
	}
	switch card {
	case CardSucceeds:
		events = append(events, s.succeed(pi, f.Unrelated)...)
	case CardDeclined, CardInsufficientFunds:
		pi.status, pi.failureCode = StatusRequiresPaymentMethod, "card_declined"
		pi.failureMessage = "Your card was declined."
		if card == CardInsufficientFunds {
			pi.failureCode, pi.failureMessage = "insufficient_funds", "Your card has insufficient funds."
		}
		events = append(events, s.event("payment_intent.payment_failed", pi.json()))
	case CardDelayed:
		pi.status = StatusProcessing
		events = append(events, s.event("payment_intent.processing", pi.json()))
		s.bg.Add(1)
		// The payment goes on after the request that confirmed it ends.
		bg := context.WithoutCancel(ctx)
		go func() {
			defer s.bg.Done()
			time.Sleep(delay)
			s.mu.Lock()
			later := s.succeed(pi, f.Unrelated)
			s.mu.Unlock()
			_ = s.deliver(bg, later, f)
		}()
	default:
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: unknown card outcome %q", card)
	}
	s.mu.Unlock()
	return s.deliver(ctx, events, f)
}

// succeed charges pi; the caller holds s.mu.
func (s *Simulator) succeed(pi *simIntent, unrelated bool) []simEvent {
	pi.status, pi.failureCode, pi.failureMessage = StatusSucceeded, "", ""
	pi.chargeID = "ch_" + randomID()
	events := []simEvent{s.event("payment_intent.succeeded", pi.json())}
	if unrelated {
		events = append(events, s.event("charge.succeeded", pi.charge(0)))
	}
	return events
}

// Refund refunds amount (0: all that is left) of a succeeded payment, as
// support would from Stripe's dashboard, and delivers charge.refunded.
func (s *Simulator) Refund(ctx context.Context, id string, amount int64, f Faults) (Refund, error) {
	s.mu.Lock()
	s.init()
	pi, ok := s.intents[id]
	if !ok || pi.status != StatusSucceeded {
		s.mu.Unlock()
		return Refund{}, fmt.Errorf("payments: simulator: no succeeded payment intent %s", id)
	}
	left := pi.amount - pi.refunded()
	if amount == 0 {
		amount = left
	}
	if amount <= 0 || amount > left {
		s.mu.Unlock()
		return Refund{}, fmt.Errorf("payments: simulator: cannot refund %d of %d left", amount, left)
	}
	rf := Refund{ID: "re_" + randomID(), Status: "succeeded", AmountCents: amount}
	pi.refunds = append(pi.refunds, rf)
	ev := s.event("charge.refunded", pi.charge(pi.refunded()))
	s.mu.Unlock()
	return rf, s.deliver(ctx, []simEvent{ev}, f)
}

// Dispute opens a chargeback for the whole of a succeeded payment and
// delivers charge.dispute.created.
func (s *Simulator) Dispute(ctx context.Context, id string, f Faults) (string, error) {
	s.mu.Lock()
	s.init()
	pi, ok := s.intents[id]
	if !ok || pi.status != StatusSucceeded {
		s.mu.Unlock()
		return "", fmt.Errorf("payments: simulator: no succeeded payment intent %s", id)
	}
	dp := "dp_" + randomID()
	ev := s.event("charge.dispute.created", map[string]any{
		"id": dp, "object": "dispute", "amount": pi.amount - pi.refunded(), "currency": pi.currency,
		"charge": pi.chargeID, "payment_intent": pi.id, "reason": "fraudulent", "status": "needs_response",
		"created": time.Now().Unix(), "livemode": false, "metadata": map[string]string{},
	})
	s.mu.Unlock()
	return dp, s.deliver(ctx, []simEvent{ev}, f)
}

// Intent returns the simulated state of a PaymentIntent.
func (s *Simulator) Intent(id string) (Intent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[id]
	if !ok {
		return Intent{}, false
	}
	return Intent{ID: pi.id, Status: pi.status, AmountCents: pi.amount, Currency: pi.currency, Metadata: pi.metadata,
		LatestChargeID: pi.chargeID, FailureCode: pi.failureCode, FailureMessage: pi.failureMessage}, true
}

// IntentFor finds the PaymentIntent created for a top-up (its metadata's
// topup_id).
func (s *Simulator) IntentFor(topupID string) (Intent, bool) {
	s.mu.Lock()
	var id string
	for _, pi := range s.intents {
		if pi.metadata["topup_id"] == topupID {
			id = pi.id
			break
		}
	}
	s.mu.Unlock()
	if id == "" {
		return Intent{}, false
	}
	return s.Intent(id)
}

// Wait waits for deliveries running in the background.
func (s *Simulator) Wait() { s.bg.Wait() }

func (s *Simulator) init() {
	if s.intents == nil {
		s.intents, s.byKey = map[string]*simIntent{}, map[string]string{}
	}
}

func (pi *simIntent) refunded() int64 {
	var n int64
	for _, r := range pi.refunds {
		n += r.AmountCents
	}
	return n
}

func (pi *simIntent) json() map[string]any {
	m := map[string]any{
		"id": pi.id, "object": "payment_intent", "amount": pi.amount, "amount_received": 0, "currency": pi.currency,
		"status": pi.status, "client_secret": pi.clientSecret, "metadata": pi.metadata, "created": pi.created,
		"livemode": false, "description": pi.description, "receipt_email": pi.receiptEmail,
		"automatic_payment_methods": map[string]any{"enabled": true}, "latest_charge": nil, "last_payment_error": nil,
	}
	if pi.status == StatusSucceeded {
		m["amount_received"] = pi.amount
	}
	if pi.chargeID != "" {
		m["latest_charge"] = pi.chargeID
	}
	if pi.failureCode != "" {
		m["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": pi.failureCode, "message": pi.failureMessage}
	}
	return m
}

func (pi *simIntent) charge(refunded int64) map[string]any {
	return map[string]any{
		"id": pi.chargeID, "object": "charge", "amount": pi.amount, "amount_captured": pi.amount, "amount_refunded": refunded,
		"currency": pi.currency, "payment_intent": pi.id, "paid": true, "captured": true, "refunded": refunded == pi.amount,
		"status": "succeeded", "metadata": pi.metadata, "created": time.Now().Unix(), "livemode": false,
	}
}

type simEvent struct {
	id, typ string
	body    []byte
}

// event renders a Stripe event of the pinned API version; the caller holds
// s.mu.
func (s *Simulator) event(typ string, object map[string]any) simEvent {
	id := "evt_" + randomID()
	raw, _ := json.Marshal(object)
	body, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": APIVersion, "created": time.Now().Unix(), "livemode": false,
		"pending_webhooks": 1, "type": typ, "data": map[string]any{"object": json.RawMessage(raw)},
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	})
	return simEvent{id: id, typ: typ, body: body}
}

// deliver posts the events as Stripe would: signed, each retried while the
// app does not answer 2xx.
func (s *Simulator) deliver(ctx context.Context, events []simEvent, f Faults) error {
	if f.Lose {
		return nil
	}
	var all []simEvent
	for _, e := range events {
		copies := max(f.Copies, 1)
		if f.RandomCopies {
			copies = 1 + mathrand.IntN(copies)
		}
		for range copies {
			all = append(all, e)
		}
	}
	if f.Shuffle {
		mathrand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	var errs []error
	for _, e := range all {
		if f.Delay > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(mathrand.N(f.Delay)):
			}
		}
		errs = append(errs, s.post(ctx, e))
	}
	return errors.Join(errs...)
}

func (s *Simulator) post(ctx context.Context, e simEvent) error {
	hc := s.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	var last error
	for attempt := 0; attempt <= s.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.RetryWait):
			}
		}
		// Each attempt is signed afresh, with its own timestamp, as Stripe does.
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: e.body, Secret: s.WebhookSecret})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.WebhookURL, bytes.NewReader(e.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Stripe-Signature", signed.Header)
		req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks) mobayilo-simulator")
		start := time.Now()
		resp, err := hc.Do(req)
		if s.Observe != nil {
			s.Observe(e.typ, time.Since(start))
		}
		if err != nil {
			last = err
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("payments: simulator: %s %s answered %d", e.typ, e.id, resp.StatusCode)
	}
	return last
}

func apiError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": typ, "code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
