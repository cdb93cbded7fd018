// Package payments talks to the payment processor. Gateway is what the
// top-up activities need from it; Stripe implements it with stripe-go, and
// the Simulator stands in for Stripe's API in development and tests (it
// serves the same HTTP API to the same stripe-go client, and delivers
// signed webhooks as Stripe does).
package payments

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
)

// APIVersion is the Stripe API version stripe-go pins, and so the version
// the webhook endpoint must be created with: ConstructEvent refuses events
// rendered in any other.
const APIVersion = stripe.APIVersion

// PaymentIntent statuses we act on.
const (
	StatusRequiresPaymentMethod = "requires_payment_method"
	StatusRequiresConfirmation  = "requires_confirmation"
	StatusRequiresAction        = "requires_action"
	StatusProcessing            = "processing"
	StatusRequiresCapture       = "requires_capture"
	StatusSucceeded             = "succeeded"
	StatusCanceled              = "canceled"
)

// Intent is a PaymentIntent, as much of it as we use.
type Intent struct {
	ID             string
	Status         string
	AmountCents    int64
	Currency       string
	ClientSecret   string // a credential for the paying browser: never log or store it
	Metadata       map[string]string
	LatestChargeID string
	FailureCode    string // from last_payment_error
	FailureMessage string
}

// NewIntent asks for a PaymentIntent for one top-up.
type NewIntent struct {
	TopUpID      string // also the idempotency key
	UserID       string
	AmountCents  int64
	ReceiptEmail string
	Description  string
}

// Refund is one refund of a PaymentIntent's charge.
type Refund struct {
	ID          string
	Status      string // pending, succeeded, failed, canceled, requires_action
	AmountCents int64
}

// Gateway is the part of the payment processor's API top-ups use. Every
// method is safe to retry.
type Gateway interface {
	CreateIntent(ctx context.Context, in NewIntent) (Intent, error)
	GetIntent(ctx context.Context, id string) (Intent, error)
	CancelIntent(ctx context.Context, id string) (Intent, error)
	ListRefunds(ctx context.Context, paymentIntentID string) ([]Refund, error)
}

var (
	// ErrUnexpectedState: the PaymentIntent is in a state that forbids the
	// request (cancelling one that has succeeded, say).
	ErrUnexpectedState = errors.New("payments: payment intent in an unexpected state")
	// ErrPermanent: the processor refused the request itself (bad request,
	// bad key, not found); repeating it cannot succeed.
	ErrPermanent = errors.New("payments: request refused")
)
