package payments

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Saved cards in the simulator, as Stripe documents them
// (docs.stripe.com/payments/save-during-payment, /save-and-reuse,
// /testing): a Customer per user; a PaymentIntent with setup_future_usage
// and a customer attaches the card that pays to the Customer when it
// succeeds; a PaymentIntent created with payment_method and confirm=true is
// paid at once with that card, and a card refused answers 402 card_error
// carrying the PaymentIntent; a detached card pays no more.
//
// The test cards' behaviours: CardAuthenticate is 4000 0027 6000 3184
// (3-D Secure on every payment: requires_action on-session,
// authentication_required off-session); CardAuthenticateSetup is 4000 0025
// 0000 3155 (3-D Secure unless saved for off-session use: off-session
// payments with the saved card succeed).
const (
	CardAuthenticate      = "authenticate"
	CardAuthenticateSetup = "authenticate_setup"
)

// cardNumbers: the test card each simulated outcome stands for (its last 4
// is what the saved card shows).
var cardNumbers = map[string]string{
	CardSucceeds:          "4242424242424242",
	CardDelayed:           "4242424242424242",
	CardDeclined:          "4000000000000002",
	CardInsufficientFunds: "4000000000009995",
	CardAuthenticate:      "4000002760003184",
	CardAuthenticateSetup: "4000002500003155",
}

type simCustomer struct {
	id, email string
	metadata  map[string]string
	created   int64
}

type simPM struct {
	id, card, customer, fingerprint string
	created                         int64
	// setUp: saved for off-session use (after a payment with
	// setup_future_usage, authenticated if the card asked).
	setUp bool
	// used: it has paid or been tried once; without a customer Stripe
	// refuses it again (and a detached one for good).
	used, detached bool
}

func (pm *simPM) last4() string { n := cardNumbers[pm.card]; return n[len(n)-4:] }

func (pm *simPM) json() map[string]any {
	return map[string]any{
		"id": pm.id, "object": "payment_method", "allow_redisplay": "unspecified",
		"billing_details": map[string]any{"address": map[string]any{"city": nil, "country": nil, "line1": nil, "line2": nil,
			"postal_code": nil, "state": nil}, "email": nil, "name": nil, "phone": nil, "tax_id": nil},
		"card": map[string]any{"brand": "visa", "checks": map[string]any{"address_line1_check": nil, "address_postal_code_check": nil,
			"cvc_check": "pass"}, "country": "US", "display_brand": "visa", "exp_month": 8, "exp_year": 2030,
			"fingerprint": pm.fingerprint, "funding": "credit", "generated_from": nil, "last4": pm.last4(),
			"networks": map[string]any{"available": []string{"visa"}, "preferred": nil}, "regulated_status": "unregulated",
			"three_d_secure_usage": map[string]any{"supported": true}, "wallet": nil},
		"created": pm.created, "customer": nullable(pm.customer), "customer_account": nil, "livemode": false,
		"metadata": map[string]string{}, "type": "card",
	}
}

func (c *simCustomer) json() map[string]any {
	return map[string]any{
		"id": c.id, "object": "customer", "address": nil, "balance": 0, "created": c.created, "currency": nil,
		"default_source": nil, "delinquent": false, "description": nil, "discount": nil, "email": nullable(c.email),
		"invoice_prefix": strings.ToUpper(c.id[len(c.id)-7:]),
		"invoice_settings": map[string]any{"custom_fields": nil, "default_payment_method": nil, "footer": nil,
			"rendering_options": nil},
		"livemode": false, "metadata": c.metadata, "name": nil, "next_invoice_sequence": 1,
		"phone": nil, "preferred_locales": []string{}, "shipping": nil, "tax_exempt": "none", "test_clock": nil,
	}
}

// newPM makes the PaymentMethod a simulated card is entered as; the caller
// holds s.mu.
func (s *Simulator) newPM(card string) *simPM {
	pm := &simPM{id: "pm_" + randomID(), card: card, fingerprint: randomID()[:16], created: time.Now().Unix()}
	s.pms[pm.id] = pm
	s.pmOrder = append(s.pmOrder, pm.id)
	return pm
}

func (s *Simulator) createCustomer(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "bad form")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	key := r.Header.Get("Idempotency-Key")
	if id, ok := s.customerKeys[key]; ok && key != "" {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, s.customers[id].json())
		return
	}
	c := &simCustomer{id: "cus_" + randomID()[:14], email: r.PostForm.Get("email"), metadata: formMetadata(r), created: time.Now().Unix()}
	s.customers[c.id] = c
	if key != "" {
		s.customerKeys[key] = c.id
	}
	writeJSON(w, c.json())
}

func (s *Simulator) getCustomer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such customer: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, c.json())
}

// listPaymentMethods is GET /v1/payment_methods?customer=&type=card: the
// Customer's attached cards, newest first.
func (s *Simulator) listPaymentMethods(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	cus := q.Get("customer")
	if _, ok := s.customers[cus]; !ok && cus != "" {
		apiErrorParam(w, http.StatusBadRequest, "resource_missing", "customer", "No such customer: '"+cus+"'")
		return
	}
	data := []map[string]any{}
	for i := len(s.pmOrder) - 1; i >= 0; i-- {
		pm := s.pms[s.pmOrder[i]]
		if cus != "" && pm.customer == cus && (q.Get("type") == "" || q.Get("type") == "card") {
			data = append(data, pm.json())
		}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/payment_methods"})
}

func (s *Simulator) getPaymentMethod(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	pm, ok := s.pms[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such PaymentMethod: '"+r.PathValue("id")+"'")
		return
	}
	writeJSON(w, pm.json())
}

// detachPaymentMethod is POST /v1/payment_methods/{id}/detach. As Stripe:
// one attached to no customer cannot be detached (a 400), and a detached
// card can never be used again.
func (s *Simulator) detachPaymentMethod(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	pm, ok := s.pms[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such PaymentMethod: '"+r.PathValue("id")+"'")
		return
	}
	if pm.customer == "" {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "",
			"The payment method you provided is not attached to a customer so detachment is impossible.")
		return
	}
	pm.customer, pm.detached, pm.setUp = "", true, false
	writeJSON(w, pm.json())
}

// confirmWith pays a PaymentIntent being created with payment_method and
// confirm=true; the caller holds s.mu and answers with the returned status
// and body (a 402 card_error for a refused card, as Stripe), then sends
// the events.
func (s *Simulator) confirmWith(pi *simIntent, pmID string, offSession bool) (int, map[string]any, []simEvent) {
	pm, ok := s.pms[pmID]
	if !ok {
		return http.StatusBadRequest, errBody("invalid_request_error", "resource_missing", "payment_method",
			"No such PaymentMethod: '"+pmID+"'"), nil
	}
	switch {
	case pm.customer != "" && pm.customer != pi.customer:
		return http.StatusBadRequest, errBody("invalid_request_error", "", "payment_method",
			"The provided PaymentMethod belongs to a different Customer. Attach it to the PaymentIntent's Customer, or use another PaymentMethod."), nil
	case pm.customer == "" && (pm.used || pm.detached):
		return http.StatusBadRequest, errBody("invalid_request_error", "", "payment_method",
			"The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first."), nil
	}
	pi.pm, pi.offSession, pm.used = pm, offSession, true
	needsAuth := pm.card == CardAuthenticate || (pm.card == CardAuthenticateSetup && !(offSession && pm.setUp))
	switch {
	case pm.card == CardDeclined || pm.card == CardInsufficientFunds:
		s.decline(pi, pm.card)
	case needsAuth && offSession:
		pi.status, pi.failureCode, pi.declineCode = StatusRequiresPaymentMethod, ErrorCodeAuthenticationRequired, ErrorCodeAuthenticationRequired
		pi.failureMessage = "Your card was declined. This transaction requires authentication."
	case needsAuth:
		pi.status = StatusRequiresAction
		return http.StatusOK, pi.json(), []simEvent{s.event("payment_intent.requires_action", pi.json())}
	default:
		return http.StatusOK, pi.json(), s.succeed(pi, false)
	}
	ev := s.event("payment_intent.payment_failed", pi.json())
	e := errBody("card_error", pi.failureCode, "", pi.failureMessage)
	inner := e["error"].(map[string]any)
	if pi.declineCode != "" {
		inner["decline_code"] = pi.declineCode
	}
	inner["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(pi.failureCode, "_", "-")
	inner["payment_intent"], inner["payment_method"] = pi.json(), pm.json()
	return http.StatusPaymentRequired, e, []simEvent{ev}
}

// decline refuses pi's card as Stripe's test cards 4000 0000 0000 0002 and
// ...9995 do: the error code card_declined, the issuer's reason the
// decline_code. The caller holds s.mu.
func (s *Simulator) decline(pi *simIntent, card string) {
	pi.status, pi.failureCode = StatusRequiresPaymentMethod, "card_declined"
	pi.declineCode, pi.failureMessage = "generic_decline", "Your card was declined."
	if card == CardInsufficientFunds {
		pi.declineCode, pi.failureMessage = "insufficient_funds", "Your card has insufficient funds."
	}
}

// Authenticate finishes a PaymentIntent that requires_action as the
// cardholder's bank would after stripe.handleNextAction's 3-D Secure
// challenge: approved, the payment succeeds (and a card being saved is
// saved for off-session use); refused, it fails with
// payment_intent_authentication_failure.
func (s *Simulator) Authenticate(ctx context.Context, id string, approve bool, f Faults) error {
	s.mu.Lock()
	s.init()
	pi, ok := s.intents[id]
	if !ok || pi.status != StatusRequiresAction {
		s.mu.Unlock()
		return fmt.Errorf("payments: simulator: no payment intent %s awaiting authentication", id)
	}
	var events []simEvent
	if approve {
		events = s.succeed(pi, false)
	} else {
		pi.status, pi.failureCode, pi.declineCode = StatusRequiresPaymentMethod, "payment_intent_authentication_failure", ""
		pi.failureMessage = "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
		events = []simEvent{s.event("payment_intent.payment_failed", pi.json())}
	}
	s.mu.Unlock()
	return s.deliver(ctx, events, f)
}

// PaymentMethodOf is the PaymentMethod a simulated PaymentIntent was paid
// (or tried) with, and the Customer it is attached to.
func (s *Simulator) PaymentMethodOf(id string) (pmID, customerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pi, ok := s.intents[id]; ok && pi.pm != nil {
		return pi.pm.id, pi.pm.customer
	}
	return "", ""
}

func errBody(typ, code, param, msg string) map[string]any {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	return map[string]any{"error": e}
}

func formMetadata(r *http.Request) map[string]string {
	md := map[string]string{}
	for k, v := range r.PostForm {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") {
			md[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	return md
}

// wantsExpanded reports whether the request asks for field expanded
// (expand[]=field, stripe-go's expand[0]=field).
func wantsExpanded(r *http.Request, field string) bool {
	vals := r.URL.Query()
	if r.PostForm != nil {
		vals = r.PostForm
	}
	for k, v := range vals {
		if strings.HasPrefix(k, "expand[") && len(v) > 0 && v[0] == field {
			return true
		}
	}
	return false
}

// AttachCard saves a simulated card on a Customer as a completed SetupIntent
// does (no payment: a card that declines every charge, 4000 0000 0000 9995,
// is saved this way and declines later), set up for off-session use.
func (s *Simulator) AttachCard(customerID, card string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if _, ok := cardNumbers[card]; !ok {
		return "", fmt.Errorf("payments: simulator: unknown card outcome %q", card)
	}
	if s.customers[customerID] == nil {
		return "", fmt.Errorf("payments: simulator: no customer %s", customerID)
	}
	pm := s.newPM(card)
	pm.customer, pm.setUp, pm.used = customerID, true, true
	return pm.id, nil
}
