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
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/internal/fault"
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
	// APIVersion renders events in another API version than the pinned
	// one (a webhook endpoint created with another version); empty is the
	// pinned one.
	APIVersion string

	mu      sync.Mutex
	intents map[string]*simIntent
	byKey   map[string]string // idempotency key -> payment intent id
	// refundKeys: idempotency key -> the refund created with it, its
	// payment intent and the request's parameters.
	refundKeys map[string][3]string
	// Saved cards: Customers (and the idempotency keys that made them),
	// PaymentMethods in the order made, and the answers of confirmed
	// creates, which Stripe replays for their key (a 402 included).
	customers    map[string]*simCustomer
	customerKeys map[string]string
	pms          map[string]*simPM
	pmOrder      []string
	confirmed    map[string]simReply
	bg           sync.WaitGroup
}

type simReply struct {
	status int
	body   map[string]any
}

type simIntent struct {
	id, status, clientSecret, currency, receiptEmail, description string
	amount                                                        int64
	metadata                                                      map[string]string
	chargeID                                                      string
	failureCode, declineCode, failureMessage                      string
	refunds                                                       []simRefund
	disputes                                                      []*simDispute
	created, canceledAt                                           int64
	customer, setupFutureUsage                                    string
	pm                                                            *simPM
	offSession                                                    bool
}

// simRefund is a refund with what it was created with.
type simRefund struct {
	Refund
	reason   string
	metadata map[string]string
	created  int64
}

type simDispute struct {
	id, status string
	amount     int64
	created    int64
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
	mux.HandleFunc("POST /v1/refunds", s.createRefund)
	mux.HandleFunc("GET /v1/disputes/{id}", s.getDispute)
	mux.HandleFunc("POST /v1/customers", s.createCustomer)
	mux.HandleFunc("GET /v1/customers/{id}", s.getCustomer)
	mux.HandleFunc("DELETE /v1/customers/{id}", s.deleteCustomer)
	mux.HandleFunc("GET /v1/payment_methods", s.listPaymentMethods)
	mux.HandleFunc("GET /v1/payment_methods/{id}", s.getPaymentMethod)
	mux.HandleFunc("POST /v1/payment_methods/{id}/detach", s.detachPaymentMethod)
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
	f := r.PostForm
	switch f.Get("setup_future_usage") {
	case "", "off_session", "on_session":
	default:
		apiErrorParam(w, http.StatusBadRequest, "parameter_invalid_string", "setup_future_usage",
			"Invalid setup_future_usage: must be one of off_session or on_session")
		return
	}
	confirm, offSession := f.Get("confirm") == "true", f.Get("off_session") == "true"
	if (offSession || f.Get("payment_method") != "") && !confirm {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "The simulator confirms a PaymentIntent with a payment_method only at creation (confirm=true).")
		return
	}
	if confirm && f.Get("payment_method") == "" {
		apiErrorParam(w, http.StatusBadRequest, "parameter_missing", "payment_method",
			"You cannot confirm this PaymentIntent because it's missing a payment method.")
		return
	}
	s.mu.Lock()
	s.init()
	key := r.Header.Get("Idempotency-Key")
	if id, ok := s.byKey[key]; ok && key != "" {
		pi := s.intents[id]
		reply, confirmed := s.confirmed[key]
		body := s.intentJSON(pi, wantsExpanded(r, "payment_method"))
		s.mu.Unlock()
		w.Header().Set("Idempotent-Replayed", "true")
		if confirmed {
			writeJSONStatus(w, reply.status, reply.body)
			return
		}
		writeJSON(w, body)
		return
	}
	if c := f.Get("customer"); c != "" && s.customers[c] == nil {
		s.mu.Unlock()
		apiErrorParam(w, http.StatusBadRequest, "resource_missing", "customer", "No such customer: '"+c+"'")
		return
	}
	pi := &simIntent{id: "pi_" + randomID(), status: StatusRequiresPaymentMethod, amount: amount,
		currency: f.Get("currency"), receiptEmail: f.Get("receipt_email"),
		description: f.Get("description"), metadata: formMetadata(r), created: time.Now().Unix(),
		customer: f.Get("customer"), setupFutureUsage: f.Get("setup_future_usage")}
	pi.clientSecret = pi.id + "_secret_" + randomID()
	status, body, events := http.StatusOK, map[string]any(nil), []simEvent(nil)
	if confirm {
		status, body, events = s.confirmWith(pi, f.Get("payment_method"), offSession)
		if status == http.StatusBadRequest {
			// Refused before any PaymentIntent was made.
			s.mu.Unlock()
			writeJSONStatus(w, status, body)
			return
		}
		if status == http.StatusOK {
			body = s.intentJSON(pi, wantsExpanded(r, "payment_method"))
		}
		if key != "" {
			s.confirmed[key] = simReply{status, body}
		}
	} else {
		body = s.intentJSON(pi, wantsExpanded(r, "payment_method"))
	}
	s.intents[pi.id] = pi
	if key != "" {
		s.byKey[key] = pi.id
	}
	s.mu.Unlock()
	writeJSONStatus(w, status, body)
	// Stripe answers the request, then sends the events.
	for _, ev := range events {
		s.sendLater(ev)
	}
}

// intentJSON renders pi, its payment_method expanded when asked; the caller
// holds s.mu.
func (s *Simulator) intentJSON(pi *simIntent, expandPM bool) map[string]any {
	m := pi.json()
	if expandPM && pi.pm != nil {
		m["payment_method"] = pi.pm.json()
	}
	return m
}

func (s *Simulator) getIntent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such payment_intent: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, s.intentJSON(pi, wantsExpanded(r, "payment_method")))
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
	pi.status, pi.canceledAt = StatusCanceled, time.Now().Unix()
	body := pi.json()
	ev := s.event("payment_intent.canceled", body)
	s.mu.Unlock()
	writeJSON(w, body)
	// Stripe sends the event whether or not we asked for the cancel.
	s.sendLater(ev)
}

func (s *Simulator) listRefunds(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	if pi, ok := s.intents[r.URL.Query().Get("payment_intent")]; ok {
		for _, rf := range pi.refunds {
			data = append(data, pi.refund(rf))
		}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/refunds"})
}

// createRefund is POST /v1/refunds: a refund of a succeeded PaymentIntent's
// charge, all that is left unless amount says less. As Stripe: a key seen
// before answers the refund it created (and refunds nothing more), an
// amount above what is left unrefunded is a 400, and charge.refunded
// follows.
func (s *Simulator) createRefund(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "bad form")
		return
	}
	f := r.PostForm
	var amount int64
	if a := f.Get("amount"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n <= 0 {
			apiErrorParam(w, http.StatusBadRequest, "parameter_invalid_integer", "amount", "Invalid positive integer")
			return
		}
		amount = n
	}
	switch f.Get("reason") {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		apiErrorParam(w, http.StatusBadRequest, "parameter_invalid_string", "reason",
			"Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer")
		return
	}
	s.mu.Lock()
	s.init()
	key := r.Header.Get("Idempotency-Key")
	if seen, ok := s.refundKeys[key]; ok && key != "" {
		if seen[2] != f.Encode() {
			s.mu.Unlock()
			apiError(w, http.StatusBadRequest, "idempotency_error", "",
				"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '"+key+"' if you meant to execute a different request.")
			return
		}
		pi := s.intents[seen[1]]
		for _, rf := range pi.refunds {
			if rf.ID == seen[0] {
				body := pi.refund(rf)
				s.mu.Unlock()
				w.Header().Set("Idempotent-Replayed", "true")
				writeJSON(w, body)
				return
			}
		}
	}
	id := f.Get("payment_intent")
	pi, ok := s.intents[id]
	if id == "" {
		// By charge: find its payment.
		for _, p := range s.intents {
			if p.chargeID != "" && p.chargeID == f.Get("charge") {
				pi, ok, id = p, true, p.id
			}
		}
	}
	if !ok {
		s.mu.Unlock()
		if id == "" && f.Get("charge") == "" {
			apiError(w, http.StatusBadRequest, "invalid_request_error", "parameter_missing", "One of the following params should be provided for this request: payment_intent or charge.")
			return
		}
		apiErrorParam(w, http.StatusNotFound, "resource_missing", "payment_intent", "No such payment_intent: '"+id+"'")
		return
	}
	if pi.status != StatusSucceeded {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid_request_error", "charge_not_refundable",
			"This PaymentIntent ("+pi.id+") does not have a successful charge to refund.")
		return
	}
	left := pi.amount - pi.refunded()
	if left <= 0 {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid_request_error", "charge_already_refunded",
			"Charge "+pi.chargeID+" has already been refunded.")
		return
	}
	if amount == 0 {
		amount = left
	}
	if amount > left {
		s.mu.Unlock()
		apiErrorParam(w, http.StatusBadRequest, "", "amount", fmt.Sprintf(
			"Refund amount (%s) is greater than unrefunded amount on charge (%s)", dollars(amount), dollars(left)))
		return
	}
	md := map[string]string{}
	for k, v := range f {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") {
			md[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	rf := s.addRefund(pi, amount, f.Get("reason"), md)
	if key != "" {
		s.refundKeys[key] = [3]string{rf.ID, pi.id, f.Encode()}
	}
	body := pi.refund(rf)
	ev := s.event("charge.refunded", pi.charge())
	s.mu.Unlock()
	writeJSON(w, body)
	// Stripe answers the request, then sends the event.
	s.sendLater(ev)
}

// addRefund records a succeeded card refund of amount; the caller holds
// s.mu and has checked the amount.
func (s *Simulator) addRefund(pi *simIntent, amount int64, reason string, metadata map[string]string) simRefund {
	rf := simRefund{Refund: Refund{ID: "re_" + randomID(), Status: "succeeded", AmountCents: amount},
		reason: reason, metadata: metadata, created: time.Now().Unix()}
	pi.refunds = append(pi.refunds, rf)
	return rf
}

// dollars writes cents as Stripe's messages do: $2.00.
func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

func (s *Simulator) getDispute(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, dp := s.findDispute(r.PathValue("id"))
	if dp == nil {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such dispute: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, pi.dispute(dp))
}

// findDispute finds a dispute and its payment; the caller holds s.mu.
func (s *Simulator) findDispute(id string) (*simIntent, *simDispute) {
	for _, pi := range s.intents {
		for _, dp := range pi.disputes {
			if dp.id == id {
				return pi, dp
			}
		}
	}
	return nil, nil
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
	if _, known := cardNumbers[card]; !known {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: unknown card outcome %q", card)
	}
	var events []simEvent
	if f.Unrelated {
		events = append(events, s.event("payment_intent.created", pi.json()))
	}
	// The card typed into the form becomes a PaymentMethod; the payment
	// attaches it to the Customer if it is to be saved.
	pi.pm = s.newPM(card)
	pi.pm.used = true
	switch card {
	case CardSucceeds:
		events = append(events, s.succeed(pi, f.Unrelated)...)
	case CardAuthenticate, CardAuthenticateSetup:
		// On-session, both ask the cardholder: stripe.js runs the
		// challenge (the simulator's Authenticate).
		pi.status = StatusRequiresAction
		events = append(events, s.event("payment_intent.requires_action", pi.json()))
	case CardDeclined, CardInsufficientFunds:
		s.decline(pi, card)
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
	pi.status, pi.failureCode, pi.declineCode, pi.failureMessage = StatusSucceeded, "", "", ""
	pi.chargeID = "ch_" + randomID()
	if pi.pm == nil {
		pi.pm = s.newPM(CardSucceeds)
		pi.pm.used = true
	}
	if pi.setupFutureUsage != "" && pi.customer != "" && !pi.pm.detached {
		// Saved as it succeeds (docs.stripe.com/payments/save-during-payment).
		pi.pm.customer, pi.pm.setUp = pi.customer, true
	}
	events := []simEvent{s.event("payment_intent.succeeded", pi.json())}
	if unrelated {
		events = append(events, s.event("charge.succeeded", pi.charge()))
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
	rf := s.addRefund(pi, amount, "requested_by_customer", map[string]string{})
	ev := s.event("charge.refunded", pi.charge())
	s.mu.Unlock()
	return rf.Refund, s.deliver(ctx, []simEvent{ev}, f)
}

// FailRefund makes a refund fail after it was made (the card was closed,
// say), as Stripe reports days later, and delivers charge.refund.updated.
func (s *Simulator) FailRefund(ctx context.Context, refundID string, f Faults) error {
	s.mu.Lock()
	s.init()
	for _, pi := range s.intents {
		for i, rf := range pi.refunds {
			if rf.ID != refundID {
				continue
			}
			if rf.Status == "failed" {
				s.mu.Unlock()
				return fmt.Errorf("payments: simulator: refund %s has already failed", refundID)
			}
			prev := rf.Status
			pi.refunds[i].Status = "failed"
			ev := s.updated("charge.refund.updated", pi.refund(pi.refunds[i]), map[string]any{"status": prev})
			s.mu.Unlock()
			return s.deliver(ctx, []simEvent{ev}, f)
		}
	}
	s.mu.Unlock()
	return fmt.Errorf("payments: simulator: no refund %s", refundID)
}

// Dispute opens a chargeback for what is left of a succeeded payment and
// delivers what Stripe sends: charge.dispute.created, then
// charge.dispute.funds_withdrawn as the amount leaves the balance. An
// inquiry (Inquiry) withdraws nothing and sends only the first.
func (s *Simulator) Dispute(ctx context.Context, id string, f Faults) (string, error) {
	return s.openDispute(ctx, id, DisputeNeedsResponse, f)
}

// Inquiry opens a card issuer's inquiry (a warning_needs_response dispute):
// no money moves unless it is escalated.
func (s *Simulator) Inquiry(ctx context.Context, id string, f Faults) (string, error) {
	return s.openDispute(ctx, id, DisputeWarningNeedsResponse, f)
}

func (s *Simulator) openDispute(ctx context.Context, id, status string, f Faults) (string, error) {
	s.mu.Lock()
	s.init()
	pi, ok := s.intents[id]
	if !ok || pi.status != StatusSucceeded {
		s.mu.Unlock()
		return "", fmt.Errorf("payments: simulator: no succeeded payment intent %s", id)
	}
	dp := &simDispute{id: "dp_" + randomID(), status: status, amount: pi.amount - pi.refunded(), created: time.Now().Unix()}
	pi.disputes = append(pi.disputes, dp)
	events := []simEvent{s.event("charge.dispute.created", pi.dispute(dp))}
	if status == DisputeNeedsResponse {
		events = append(events, s.event("charge.dispute.funds_withdrawn", pi.dispute(dp)))
	}
	s.mu.Unlock()
	return dp.id, s.deliver(ctx, events, f)
}

// ReviewDispute moves a dispute to under review (evidence was submitted)
// and delivers charge.dispute.updated.
func (s *Simulator) ReviewDispute(ctx context.Context, disputeID string, f Faults) error {
	s.mu.Lock()
	pi, dp := s.findDispute(disputeID)
	if dp == nil || (dp.status != DisputeNeedsResponse && dp.status != DisputeWarningNeedsResponse) {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: no dispute %s awaiting a response", disputeID)
	}
	prev := dp.status
	dp.status = DisputeUnderReview
	if prev == DisputeWarningNeedsResponse {
		dp.status = DisputeWarningUnderReview
	}
	ev := s.updated("charge.dispute.updated", pi.dispute(dp), map[string]any{"status": prev})
	s.mu.Unlock()
	return s.deliver(ctx, []simEvent{ev}, f)
}

// CloseDispute decides a dispute and delivers charge.dispute.closed; a won
// one also charge.dispute.funds_reinstated, as the money comes back.
func (s *Simulator) CloseDispute(ctx context.Context, disputeID string, won bool, f Faults) error {
	s.mu.Lock()
	pi, dp := s.findDispute(disputeID)
	if dp == nil || dp.status == DisputeWon || dp.status == DisputeLost || dp.status == DisputeWarningClosed {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: no open dispute %s", disputeID)
	}
	inquiry := strings.HasPrefix(dp.status, "warning_")
	switch {
	case inquiry:
		dp.status = DisputeWarningClosed
	case won:
		dp.status = DisputeWon
	default:
		dp.status = DisputeLost
	}
	events := []simEvent{s.event("charge.dispute.closed", pi.dispute(dp))}
	if dp.status == DisputeWon {
		events = append(events, s.event("charge.dispute.funds_reinstated", pi.dispute(dp)))
	}
	s.mu.Unlock()
	return s.deliver(ctx, events, f)
}

// Intent returns the simulated state of a PaymentIntent.
func (s *Simulator) Intent(id string) (Intent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[id]
	if !ok {
		return Intent{}, false
	}
	in := Intent{ID: pi.id, Status: pi.status, AmountCents: pi.amount, Currency: pi.currency, Metadata: pi.metadata,
		LatestChargeID: pi.chargeID, FailureCode: pi.failureCode, DeclineCode: pi.declineCode, FailureMessage: pi.failureMessage,
		CustomerID: pi.customer}
	if pi.pm != nil {
		in.PaymentMethodID, in.CardBrand, in.CardLast4 = pi.pm.id, "visa", pi.pm.last4()
	}
	return in, true
}

// IntentFor finds the PaymentIntent created for a top-up (its metadata's
// topup_id).
func (s *Simulator) IntentFor(topUpID string) (Intent, bool) {
	s.mu.Lock()
	var id string
	for _, pi := range s.intents {
		if pi.metadata["topup_id"] == topUpID {
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
		s.intents, s.byKey, s.refundKeys = map[string]*simIntent{}, map[string]string{}, map[string][3]string{}
		s.customers, s.customerKeys, s.pms, s.confirmed = map[string]*simCustomer{}, map[string]string{}, map[string]*simPM{}, map[string]simReply{}
	}
}

// refunded is what has been refunded: a failed or cancelled refund gave
// its amount back to the charge.
func (pi *simIntent) refunded() int64 {
	var n int64
	for _, r := range pi.refunds {
		if r.Status != "failed" && r.Status != "canceled" {
			n += r.AmountCents
		}
	}
	return n
}

// The objects below carry every field Stripe's API version 2023-10-16
// renders for a card PaymentIntent, Charge, Refund and Dispute (the key
// sets of testdata/stripe/, from Stripe's own fixtures), with the values a
// simple card payment without a customer has.

func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func (pi *simIntent) json() map[string]any {
	m := map[string]any{
		"id": pi.id, "object": "payment_intent", "amount": pi.amount, "amount_capturable": 0,
		"amount_details": map[string]any{"tip": map[string]any{}}, "amount_received": 0,
		"application": nil, "application_fee_amount": nil,
		"automatic_payment_methods": map[string]any{"allow_redirects": "always", "enabled": true},
		"canceled_at":               nil, "cancellation_reason": nil, "capture_method": "automatic",
		"client_secret": pi.clientSecret, "confirmation_method": "automatic", "created": pi.created,
		"currency": pi.currency, "customer": nullable(pi.customer), "description": nullable(pi.description), "invoice": nil,
		"last_payment_error": nil, "latest_charge": nil, "livemode": false, "metadata": pi.metadata,
		"next_action": nil, "on_behalf_of": nil, "payment_method": nil, "payment_method_configuration_details": nil,
		"payment_method_options": map[string]any{"card": map[string]any{"installments": nil, "mandate_options": nil,
			"network": nil, "request_three_d_secure": "automatic"}},
		"payment_method_types": []string{"card"}, "processing": nil, "receipt_email": nullable(pi.receiptEmail),
		"review": nil, "setup_future_usage": nullable(pi.setupFutureUsage), "shipping": nil, "statement_descriptor": nil,
		"statement_descriptor_suffix": nil, "status": pi.status, "transfer_data": nil, "transfer_group": nil,
	}
	if pi.status == StatusSucceeded {
		m["amount_received"] = pi.amount
	}
	if pi.status == StatusProcessing {
		m["processing"] = map[string]any{"card": map[string]any{}, "type": "card"}
	}
	if pi.status == StatusCanceled {
		m["canceled_at"], m["cancellation_reason"] = pi.canceledAt, "abandoned"
	}
	if pi.chargeID != "" {
		m["latest_charge"] = pi.chargeID
	}
	if pi.pm != nil && pi.status != StatusRequiresPaymentMethod {
		// A failed payment leaves payment_method empty (the error names it).
		m["payment_method"] = pi.pm.id
	}
	if pi.status == StatusRequiresAction {
		m["next_action"] = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{
			"type": "three_d_secure_redirect", "stripe_js": "https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=" + pi.id,
			"source": "src_" + pi.id[len("pi_"):]}}
	}
	if pi.failureCode != "" {
		m["last_payment_error"] = map[string]any{"type": "card_error", "code": pi.failureCode, "decline_code": nullable(pi.declineCode),
			"message": pi.failureMessage, "doc_url": "https://stripe.com/docs/error-codes/card-declined", "charge": nil, "payment_method": nil}
	}
	return m
}

func (pi *simIntent) charge() map[string]any {
	refunded := pi.refunded()
	pmID, last4 := "pm_"+pi.id[len("pi_"):], "4242"
	if pi.pm != nil {
		pmID, last4 = pi.pm.id, pi.pm.last4()
	}
	return map[string]any{
		"id": pi.chargeID, "object": "charge", "amount": pi.amount, "amount_captured": pi.amount, "amount_refunded": refunded,
		"application": nil, "application_fee": nil, "application_fee_amount": nil,
		"balance_transaction": "txn_" + pi.chargeID[len("ch_"):],
		"billing_details": map[string]any{"address": map[string]any{"city": nil, "country": nil, "line1": nil, "line2": nil,
			"postal_code": nil, "state": nil}, "email": nil, "name": nil, "phone": nil},
		"calculated_statement_descriptor": "MOBAYILO", "captured": true, "created": pi.created,
		"currency": pi.currency, "customer": nullable(pi.customer), "description": nullable(pi.description), "disputed": len(pi.disputes) > 0,
		"failure_balance_transaction": nil, "failure_code": nil, "failure_message": nil, "fraud_details": map[string]any{},
		"invoice": nil, "livemode": false, "metadata": pi.metadata, "on_behalf_of": nil,
		"outcome": map[string]any{"network_status": "approved_by_network", "reason": nil, "risk_level": "normal",
			"risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"},
		"paid": true, "payment_intent": pi.id, "payment_method": pmID,
		"payment_method_details": map[string]any{"card": map[string]any{"brand": "visa", "country": "US", "exp_month": 8,
			"exp_year": 2030, "funding": "credit", "last4": last4, "network": "visa"}, "type": "card"},
		"receipt_email": nullable(pi.receiptEmail), "receipt_number": nil, "receipt_url": nil,
		"refunded": refunded == pi.amount,
		// Since API version 2022-11-15 a charge's refunds are not expanded
		// (Stripe's changelog; the fixture's list is empty too):
		// amount_refunded is the running total, and the refunds themselves
		// are read from GET /v1/refunds.
		"refunds": map[string]any{"object": "list", "data": []any{}, "has_more": false,
			"url": "/v1/charges/" + pi.chargeID + "/refunds"},
		"review": nil, "shipping": nil, "source_transfer": nil, "statement_descriptor": nil,
		"statement_descriptor_suffix": nil, "status": "succeeded", "transfer_data": nil, "transfer_group": nil,
	}
}

func (pi *simIntent) refund(rf simRefund) map[string]any {
	md := rf.metadata
	if md == nil {
		md = map[string]string{}
	}
	m := map[string]any{
		"id": rf.ID, "object": "refund", "amount": rf.AmountCents, "balance_transaction": "txn_" + rf.ID[len("re_"):],
		"charge": pi.chargeID, "created": rf.created, "currency": pi.currency, "metadata": md,
		"payment_intent": pi.id, "reason": nullable(rf.reason), "receipt_number": nil,
		"source_transfer_reversal": nil, "status": rf.Status, "transfer_reversal": nil,
	}
	if rf.Status == "failed" {
		m["failure_reason"] = "expired_or_canceled_card"
		m["failure_balance_transaction"] = "txn_f" + rf.ID[len("re_"):]
	}
	return m
}

func (pi *simIntent) dispute(dp *simDispute) map[string]any {
	bts := []any{}
	if !strings.HasPrefix(dp.status, "warning_") {
		bts = append(bts, map[string]any{"id": "txn_w" + dp.id[len("dp_"):], "object": "balance_transaction",
			"amount": -dp.amount, "currency": pi.currency, "reporting_category": "dispute", "type": "adjustment"})
	}
	if dp.status == DisputeWon {
		bts = append(bts, map[string]any{"id": "txn_r" + dp.id[len("dp_"):], "object": "balance_transaction",
			"amount": dp.amount, "currency": pi.currency, "reporting_category": "dispute_reversal", "type": "adjustment"})
	}
	return map[string]any{
		"id": dp.id, "object": "dispute", "amount": dp.amount, "balance_transactions": bts, "charge": pi.chargeID,
		"created": dp.created, "currency": pi.currency,
		"evidence": map[string]any{"access_activity_log": nil, "billing_address": nil, "cancellation_policy": nil,
			"cancellation_policy_disclosure": nil, "cancellation_rebuttal": nil, "customer_communication": nil,
			"customer_email_address": nil, "customer_name": nil, "customer_purchase_ip": nil, "customer_signature": nil,
			"duplicate_charge_documentation": nil, "duplicate_charge_explanation": nil, "duplicate_charge_id": nil,
			"product_description": nil, "receipt": nil, "refund_policy": nil, "refund_policy_disclosure": nil,
			"refund_refusal_explanation": nil, "service_date": nil, "service_documentation": nil, "shipping_address": nil,
			"shipping_carrier": nil, "shipping_date": nil, "shipping_documentation": nil, "shipping_tracking_number": nil,
			"uncategorized_file": nil, "uncategorized_text": nil},
		"evidence_details": map[string]any{"due_by": dp.created + 7*24*3600, "has_evidence": false, "past_due": false,
			"submission_count": 0},
		"is_charge_refundable": false, "livemode": false, "metadata": map[string]string{}, "payment_intent": pi.id,
		"payment_method_details": map[string]any{"card": map[string]any{"brand": "visa", "network_reason_code": "10.4"}, "type": "card"},
		"reason":                 "fraudulent", "status": dp.status,
	}
}

type simEvent struct {
	id, typ string
	body    []byte
}

// event renders a Stripe event of the pinned API version; the caller holds
// s.mu.
func (s *Simulator) event(typ string, object map[string]any) simEvent {
	return s.updated(typ, object, nil)
}

// updated renders an event with data.previous_attributes (the fields a
// *.updated event changed, as they were); the caller holds s.mu.
func (s *Simulator) updated(typ string, object, previous map[string]any) simEvent {
	id := "evt_" + randomID()
	raw, _ := json.Marshal(object)
	data := map[string]any{"object": json.RawMessage(raw)}
	if previous != nil {
		data["previous_attributes"] = previous
	}
	version := s.APIVersion
	if version == "" {
		version = APIVersion
	}
	body, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": version, "created": time.Now().Unix(), "livemode": false,
		"pending_webhooks": 1, "type": typ, "data": data,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	})
	return simEvent{id: id, typ: typ, body: body}
}

// Render returns the body of the event of type typ Stripe would send now
// about a PaymentIntent (its latest refund or dispute for the event types
// about those), without delivering it.
func (s *Simulator) Render(typ, paymentIntentID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[paymentIntentID]
	if !ok {
		return nil, fmt.Errorf("payments: simulator: no payment intent %s", paymentIntentID)
	}
	switch {
	case strings.HasPrefix(typ, "payment_intent."):
		return s.event(typ, pi.json()).body, nil
	case typ == "charge.refund.updated" && len(pi.refunds) > 0:
		return s.updated(typ, pi.refund(pi.refunds[len(pi.refunds)-1]), map[string]any{"status": "succeeded"}).body, nil
	case typ == "charge.dispute.updated" && len(pi.disputes) > 0:
		return s.updated(typ, pi.dispute(pi.disputes[len(pi.disputes)-1]), map[string]any{"status": DisputeNeedsResponse}).body, nil
	case strings.HasPrefix(typ, "charge.dispute.") && len(pi.disputes) > 0:
		return s.event(typ, pi.dispute(pi.disputes[len(pi.disputes)-1])).body, nil
	case strings.HasPrefix(typ, "charge.") && pi.chargeID != "" && !strings.HasPrefix(typ, "charge.dispute.") && typ != "charge.refund.updated":
		return s.event(typ, pi.charge()).body, nil
	}
	return nil, fmt.Errorf("payments: simulator: payment intent %s has nothing to render %s from", paymentIntentID, typ)
}

// deliver posts the events as Stripe would: signed, each retried while the
// app does not answer 2xx.
func (s *Simulator) deliver(ctx context.Context, events []simEvent, f Faults) error {
	if f.Lose {
		return nil
	}
	var errs []error
	for _, e := range fault.Repeat(events, f.Copies, f.RandomCopies, f.Shuffle) {
		if err := fault.Pause(ctx, f.Delay); err != nil {
			return err
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

// apiErrorParam is an invalid_request_error naming the parameter at fault,
// as Stripe's are.
func apiErrorParam(w http.ResponseWriter, status int, code, param, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"type": "invalid_request_error", "param": param, "message": msg}
	if code != "" {
		e["code"] = code
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func apiError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": typ, "code": code, "message": msg}})
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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

// sendLater delivers ev after the request that caused it has been
// answered, as Stripe sends an event (Wait waits for it).
func (s *Simulator) sendLater(ev simEvent) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		_ = s.deliver(context.Background(), []simEvent{ev}, Faults{})
	}()
}
