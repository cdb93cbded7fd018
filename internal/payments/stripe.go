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
// is the top-up id, so a retry returns the same PaymentIntent.
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
	p.Context = ctx
	p.SetIdempotencyKey(in.TopUpID)
	pi, err := s.api.PaymentIntents.New(p)
	if err != nil {
		return Intent{}, wrap("create payment intent for top-up "+in.TopUpID, err)
	}
	return fromStripe(pi), nil
}

// GetIntent reads a PaymentIntent's current state.
func (s *Stripe) GetIntent(ctx context.Context, id string) (Intent, error) {
	p := &stripe.PaymentIntentParams{}
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
