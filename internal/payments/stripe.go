package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Stripe is the Gateway over Stripe's API, through stripe-go.
type Stripe struct {
	api      *client.API
	livemode bool
}

// NewStripe returns a Gateway for secretKey. baseURL is empty for Stripe
// itself, or another server speaking its API (stripe-mock in tests, the
// Simulator in development); hc is nil for a client with a 30 s timeout.
func NewStripe(secretKey, baseURL string, hc *http.Client) *Stripe {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := &stripe.BackendConfig{
		HTTPClient: hc,
		// We log, once, with our own fields; stripe-go's logger would
		// print request details to stderr.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
		// Activities retry with the workflow's policy; stripe-go's own
		// retries (with the same idempotency key) are fine to keep short.
		MaxNetworkRetries: stripe.Int64(1),
	}
	if baseURL != "" {
		cfg.URL = stripe.String(baseURL)
	}
	api := &client.API{}
	api.Init(secretKey, &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	})
	return &Stripe{api: api, livemode: KeyLivemode(secretKey)}
}

// Livemode is the mode of the secret key: live for sk_live_ and rk_live_.
func (s *Stripe) Livemode() bool { return s.livemode }

// GetDispute reads a dispute's current state.
func (s *Stripe) GetDispute(ctx context.Context, id string) (Dispute, error) {
	p := &stripe.DisputeParams{}
	p.Context = ctx
	d, err := s.api.Disputes.Get(id, p)
	if err != nil {
		return Dispute{}, wrap("get dispute "+id, err)
	}
	out := Dispute{ID: d.ID, Status: string(d.Status), AmountCents: d.Amount, Currency: string(d.Currency), Livemode: d.Livemode}
	if d.PaymentIntent != nil {
		out.PaymentIntentID = d.PaymentIntent.ID
	}
	if d.Charge != nil {
		out.ChargeID = d.Charge.ID
	}
	return out, nil
}

// CreateIntent creates the top-up's PaymentIntent once: the idempotency key
// is the top-up id, so a retry returns the same PaymentIntent (and, for a
// confirmed one, the same outcome: Stripe replays a refusal too).
func (s *Stripe) CreateIntent(ctx context.Context, in NewIntent) (Intent, error) {
	p := &stripe.PaymentIntentParams{
		Amount:                  stripe.Int64(in.AmountCents),
		Currency:                stripe.String(string(stripe.CurrencyUSD)),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
		Description:             stripe.String(in.Description),
		Metadata:                map[string]string{"topup_id": in.TopUpID, "user_id": in.UserID},
	}
	if in.ReceiptEmail != "" {
		p.ReceiptEmail = stripe.String(in.ReceiptEmail)
	}
	if (in.SaveCard || in.PaymentMethodID != "" || in.OffSession) && in.CustomerID == "" {
		return Intent{}, fmt.Errorf("payments: payment intent for top-up %s: %w: a saved card needs its customer", in.TopUpID, ErrPermanent)
	}
	if in.CustomerID != "" {
		p.Customer = stripe.String(in.CustomerID)
	}
	if in.SaveCard {
		p.SetupFutureUsage = stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession))
	}
	confirm := in.PaymentMethodID != ""
	if in.OffSession && !confirm {
		return Intent{}, fmt.Errorf("payments: payment intent for top-up %s: %w: off-session needs a saved card", in.TopUpID, ErrPermanent)
	}
	if confirm {
		// Confirmed here with a saved card. A card is no redirect method:
		// with redirects off no return_url is wanted, and 3-D Secure
		// comes back as next_action use_stripe_sdk for handleNextAction.
		p.PaymentMethod, p.Confirm = stripe.String(in.PaymentMethodID), stripe.Bool(true)
		p.AutomaticPaymentMethods.AllowRedirects = stripe.String(string(stripe.PaymentIntentAutomaticPaymentMethodsAllowRedirectsNever))
		if in.OffSession {
			p.OffSession = stripe.Bool(true)
		} else {
			p.UseStripeSDK = stripe.Bool(true)
		}
	}
	p.AddExpand("payment_method")
	p.Context = ctx
	p.SetIdempotencyKey(in.TopUpID)
	pi, err := s.api.PaymentIntents.New(p)
	var se *stripe.Error
	if err != nil && confirm && errors.As(err, &se) && se.Type == stripe.ErrorTypeCard && se.PaymentIntent != nil {
		// A confirmed payment the card refused: Stripe answers 402 with
		// the PaymentIntent it created (requires_payment_method). That is
		// the payment's outcome, not a failed request.
		out := fromStripe(se.PaymentIntent)
		if out.FailureCode == "" {
			out.FailureCode, out.DeclineCode, out.FailureMessage = string(se.Code), string(se.DeclineCode), se.Msg
		}
		if out.PaymentMethodID == "" {
			out.PaymentMethodID = in.PaymentMethodID
		}
		return out, nil
	}
	if err != nil {
		return Intent{}, wrap("create payment intent for top-up "+in.TopUpID, err)
	}
	return fromStripe(pi), nil
}

// EnsureCustomer creates the user's Customer. The idempotency key is the
// user's: two first top-ups at once make one Customer (Stripe keeps keys
// for 24 hours; after that the stored id is what prevents a second).
func (s *Stripe) EnsureCustomer(ctx context.Context, userID, email string) (string, error) {
	if userID == "" {
		return "", fmt.Errorf("payments: customer: %w: no user", ErrPermanent)
	}
	p := &stripe.CustomerParams{Metadata: map[string]string{"user_id": userID}}
	if email != "" {
		p.Email = stripe.String(email)
	}
	p.Context = ctx
	p.SetIdempotencyKey("customer-" + userID)
	c, err := s.api.Customers.New(p)
	if err != nil {
		return "", wrap("create customer for user "+userID, err)
	}
	return c.ID, nil
}

// ListCards lists the Customer's card PaymentMethods.
func (s *Stripe) ListCards(ctx context.Context, customerID string) ([]Card, error) {
	p := &stripe.PaymentMethodListParams{Customer: stripe.String(customerID), Type: stripe.String(string(stripe.PaymentMethodTypeCard))}
	p.Context = ctx
	p.Limit = stripe.Int64(100)
	out := []Card{}
	it := s.api.PaymentMethods.List(p)
	for it.Next() {
		pm := it.PaymentMethod()
		if pm.Card == nil {
			continue
		}
		out = append(out, Card{ID: pm.ID, Brand: string(pm.Card.Brand), Last4: pm.Card.Last4, ExpMonth: pm.Card.ExpMonth, ExpYear: pm.Card.ExpYear})
	}
	if err := it.Err(); err != nil {
		return nil, wrap("list cards of "+customerID, err)
	}
	return out, nil
}

// DetachCard detaches a PaymentMethod from its Customer. Stripe refuses to
// detach one that is attached to none; that is a card already removed,
// and done.
func (s *Stripe) DetachCard(ctx context.Context, paymentMethodID string) error {
	p := &stripe.PaymentMethodDetachParams{}
	p.Context = ctx
	_, err := s.api.PaymentMethods.Detach(paymentMethodID, p)
	if err == nil {
		return nil
	}
	if werr := wrap("detach "+paymentMethodID, err); !errors.Is(werr, ErrPermanent) {
		return werr
	}
	gp := &stripe.PaymentMethodParams{}
	gp.Context = ctx
	pm, gerr := s.api.PaymentMethods.Get(paymentMethodID, gp)
	if gerr == nil && pm.Customer == nil {
		return nil
	}
	return wrap("detach "+paymentMethodID, err)
}

// GetIntent reads a PaymentIntent's current state.
func (s *Stripe) GetIntent(ctx context.Context, id string) (Intent, error) {
	p := &stripe.PaymentIntentParams{}
	p.AddExpand("payment_method")
	p.Context = ctx
	pi, err := s.api.PaymentIntents.Get(id, p)
	if err != nil {
		return Intent{}, wrap("get payment intent "+id, err)
	}
	return fromStripe(pi), nil
}

// CancelIntent cancels an abandoned PaymentIntent. One that has succeeded
// (or is processing) cannot be: ErrUnexpectedState.
func (s *Stripe) CancelIntent(ctx context.Context, id string) (Intent, error) {
	p := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned))}
	// No idempotency key: Stripe would replay a first refusal (the payment
	// was being confirmed) for a day; a cancel is idempotent by state.
	p.Context = ctx
	pi, err := s.api.PaymentIntents.Cancel(id, p)
	if err != nil {
		return Intent{}, wrap("cancel payment intent "+id, err)
	}
	return fromStripe(pi), nil
}

// ListRefunds lists every refund of a PaymentIntent.
func (s *Stripe) ListRefunds(ctx context.Context, paymentIntentID string) ([]Refund, error) {
	p := &stripe.RefundListParams{PaymentIntent: stripe.String(paymentIntentID)}
	p.Context = ctx
	p.Limit = stripe.Int64(100)
	var out []Refund
	it := s.api.Refunds.List(p)
	for it.Next() {
		r := it.Refund()
		out = append(out, Refund{ID: r.ID, Status: string(r.Status), AmountCents: r.Amount})
	}
	if err := it.Err(); err != nil {
		return nil, wrap("list refunds of "+paymentIntentID, err)
	}
	return out, nil
}

// CreateRefund refunds a PaymentIntent's charge once per key: a retry with
// the same key returns the same refund. Stripe refuses an amount above
// what is left unrefunded (ErrPermanent).
func (s *Stripe) CreateRefund(ctx context.Context, in NewRefund) (Refund, error) {
	if in.Key == "" || in.PaymentIntentID == "" {
		return Refund{}, fmt.Errorf("payments: refund of %q: %w: no idempotency key or payment", in.PaymentIntentID, ErrPermanent)
	}
	p := &stripe.RefundParams{
		PaymentIntent: stripe.String(in.PaymentIntentID),
		Reason:        stripe.String(string(stripe.RefundReasonRequestedByCustomer)),
		Metadata:      map[string]string{"topup_id": in.TopUpID},
	}
	if in.AmountCents > 0 {
		p.Amount = stripe.Int64(in.AmountCents)
	}
	if in.Note != "" {
		p.Metadata["support_reason"] = truncate(in.Note, 500)
	}
	p.Context = ctx
	p.SetIdempotencyKey(in.Key)
	r, err := s.api.Refunds.New(p)
	if err != nil {
		return Refund{}, wrap("refund payment intent "+in.PaymentIntentID, err)
	}
	return Refund{ID: r.ID, Status: string(r.Status), AmountCents: r.Amount}, nil
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func fromStripe(pi *stripe.PaymentIntent) Intent {
	in := Intent{ID: pi.ID, Status: string(pi.Status), AmountCents: pi.Amount, Currency: string(pi.Currency),
		ClientSecret: pi.ClientSecret, Metadata: pi.Metadata, Livemode: pi.Livemode}
	if pi.LatestCharge != nil {
		in.LatestChargeID = pi.LatestCharge.ID
	}
	if e := pi.LastPaymentError; e != nil {
		in.FailureCode, in.DeclineCode, in.FailureMessage = string(e.Code), string(e.DeclineCode), e.Msg
	}
	if pi.Customer != nil {
		in.CustomerID = pi.Customer.ID
	}
	if pm := pi.PaymentMethod; pm != nil {
		in.PaymentMethodID = pm.ID
		if pm.Card != nil {
			in.CardBrand, in.CardLast4 = string(pm.Card.Brand), pm.Card.Last4
		}
	}
	if c := pi.LatestCharge; c != nil && in.CardLast4 == "" && c.PaymentMethodDetails != nil && c.PaymentMethodDetails.Card != nil {
		in.CardBrand, in.CardLast4 = string(c.PaymentMethodDetails.Card.Brand), c.PaymentMethodDetails.Card.Last4
	}
	return in
}

// wrap names what failed and classifies Stripe's refusals: a request
// Stripe refused on its merits is ErrPermanent (or ErrUnexpectedState);
// a network failure, a rate limit or a 5xx is left retryable.
func wrap(what string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch {
		case se.Code == stripe.ErrorCodePaymentIntentUnexpectedState:
			return fmt.Errorf("payments: %s: %w: %s", what, ErrUnexpectedState, se.Msg)
		case se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusConflict &&
			se.HTTPStatusCode != http.StatusTooManyRequests:
			return fmt.Errorf("payments: %s: %w: %d %s %s", what, ErrPermanent, se.HTTPStatusCode, se.Code, se.Msg)
		}
		return fmt.Errorf("payments: %s: %d %s %s", what, se.HTTPStatusCode, se.Code, se.Msg)
	}
	return fmt.Errorf("payments: %s: %w", what, err)
}
