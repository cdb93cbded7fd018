// Package payments talks to the payment processor. Gateway is what the
// top-up activities need from it; Stripe implements it with stripe-go, and
// the Simulator stands in for Stripe's API in development and tests (it
// serves the same HTTP API to the same stripe-go client, and delivers
// signed webhooks as Stripe does).
package payments

import (
	"context"
	"errors"
	"strings"

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
	// From last_payment_error: FailureCode is Stripe's error code
	// (card_declined, expired_card, ...), DeclineCode the card issuer's
	// reason when Stripe has one (generic_decline, insufficient_funds, ...).
	FailureCode    string
	DeclineCode    string
	FailureMessage string
	Livemode       bool
	// The card that paid, or was tried: the PaymentMethod's id (pm_…)
	// and what a person recognises it by.
	PaymentMethodID      string
	CardBrand, CardLast4 string
	// CustomerID is the Stripe Customer the PaymentIntent is for.
	CustomerID string
}

// Outcomes of a PaymentIntent confirmed by the server (a one-tap or an
// automatic top-up), as Outcome tells them.
const (
	// OutcomeSucceeded: paid (the credit still waits for
	// payment_intent.succeeded, as for any top-up).
	OutcomeSucceeded = "succeeded"
	// OutcomeProcessing: the card network has it; a webhook follows.
	OutcomeProcessing = "processing"
	// OutcomeDeclined: the card was refused (FailureCode card_declined,
	// expired_card, ...; DeclineCode the issuer's reason). Trying the
	// same card again will not help.
	OutcomeDeclined = "declined"
	// OutcomeRequiresAction: the bank wants the cardholder (3-D Secure).
	// On-session the page runs stripe.handleNextAction with the client
	// secret; off-session Stripe refuses with authentication_required and
	// only the person can finish it.
	OutcomeRequiresAction = "requires_action"
	// OutcomeOpen: not confirmed yet (awaiting a payment method).
	OutcomeOpen = "open"
	// OutcomeCanceled: cancelled.
	OutcomeCanceled = "canceled"
)

// ErrorCodeAuthenticationRequired is Stripe's refusal of an off-session
// payment the bank wants authenticated (3-D Secure).
const ErrorCodeAuthenticationRequired = "authentication_required"

// Outcome says what became of a PaymentIntent: a decline and a request for
// authentication are told apart, on-session (requires_action) and
// off-session (authentication_required) alike.
func (in Intent) Outcome() string {
	switch in.Status {
	case StatusSucceeded:
		return OutcomeSucceeded
	case StatusProcessing, StatusRequiresCapture:
		return OutcomeProcessing
	case StatusRequiresAction:
		return OutcomeRequiresAction
	case StatusCanceled:
		return OutcomeCanceled
	}
	switch {
	case in.FailureCode == ErrorCodeAuthenticationRequired || in.DeclineCode == ErrorCodeAuthenticationRequired:
		return OutcomeRequiresAction
	case in.FailureCode != "":
		return OutcomeDeclined
	}
	return OutcomeOpen
}

// Card is a card saved on a user's Stripe Customer (a PaymentMethod of
// type card), as much as the Credits tab shows. Its number never leaves
// Stripe.
type Card struct {
	ID       string // pm_…
	Brand    string // visa, mastercard, amex, ...
	Last4    string
	ExpMonth int64
	ExpYear  int64
}

// Dispute is a chargeback (or an inquiry) on a PaymentIntent's charge.
type Dispute struct {
	ID              string
	Status          string // warning_needs_response, warning_under_review, warning_closed, needs_response, under_review, won, lost
	AmountCents     int64
	Currency        string
	PaymentIntentID string
	ChargeID        string
	Livemode        bool
}

// Dispute statuses: an inquiry (warning_*) withdraws no money; a dispute
// proper withdraws its amount until it is won.
const (
	DisputeWarningNeedsResponse = "warning_needs_response"
	DisputeWarningUnderReview   = "warning_under_review"
	DisputeWarningClosed        = "warning_closed"
	DisputeNeedsResponse        = "needs_response"
	DisputeUnderReview          = "under_review"
	DisputeWon                  = "won"
	DisputeLost                 = "lost"
)

// FundsWithdrawn reports whether Stripe has taken a dispute's amount from
// us: every dispute proper, whatever its state, but not an inquiry.
func (d Dispute) FundsWithdrawn() bool {
	return !strings.HasPrefix(d.Status, "warning_") && d.Status != ""
}

// KeyLivemode reports whether a Stripe secret (or restricted) key is a live
// one: events and objects seen with it must say livemode=true, and with a
// test key false.
func KeyLivemode(secretKey string) bool {
	return strings.HasPrefix(secretKey, "sk_live_") || strings.HasPrefix(secretKey, "rk_live_")
}

// NewIntent asks for a PaymentIntent for one top-up.
type NewIntent struct {
	TopUpID      string // also the idempotency key
	UserID       string
	AmountCents  int64
	ReceiptEmail string
	Description  string
	// CustomerID makes the PaymentIntent the Customer's (required with
	// SaveCard or PaymentMethodID).
	CustomerID string
	// SaveCard asks Stripe to attach the card that pays to the Customer
	// for later payments without the person: setup_future_usage=off_session.
	SaveCard bool
	// PaymentMethodID pays with a saved card, confirmed by the server at
	// once (confirm=true): one tap. The caller has checked that the card
	// is the Customer's; Stripe refuses another Customer's card too.
	PaymentMethodID string
	// OffSession: the person is not there (automatic top-up):
	// off_session=true, confirm=true. A card the bank wants authenticated
	// fails (Outcome requires_action) instead of asking.
	OffSession bool
}

// Refund is one refund of a PaymentIntent's charge.
type Refund struct {
	ID          string
	Status      string // pending, succeeded, failed, canceled, requires_action
	AmountCents int64
}

// NewRefund asks Stripe to refund a PaymentIntent's charge, in full or in
// part. Nothing is posted to the ledger here: Stripe's charge.refunded
// webhook does that, as for any refund.
type NewRefund struct {
	PaymentIntentID string
	AmountCents     int64 // 0: all that is left unrefunded
	// Key is the idempotency key: the same key is the same refund, however
	// often it is asked for.
	Key string
	// TopUpID and Note go to the refund's metadata (Note is support's
	// reason, cut to Stripe's 500 characters); Stripe's own reason is
	// always requested_by_customer.
	TopUpID, Note string
}

// Gateway is the part of the payment processor's API top-ups use. Every
// method is safe to retry.
type Gateway interface {
	// CreateIntent creates a top-up's PaymentIntent. With PaymentMethodID
	// it is confirmed at once, and a card Stripe refuses (its 402
	// card_error) is no error: the Intent says so (Outcome declined or
	// requires_action, FailureCode and DeclineCode set).
	CreateIntent(ctx context.Context, in NewIntent) (Intent, error)
	GetIntent(ctx context.Context, id string) (Intent, error)
	CancelIntent(ctx context.Context, id string) (Intent, error)
	ListRefunds(ctx context.Context, paymentIntentID string) ([]Refund, error)
	CreateRefund(ctx context.Context, in NewRefund) (Refund, error)
	GetDispute(ctx context.Context, id string) (Dispute, error)
	// EnsureCustomer creates the user's Stripe Customer, once per user
	// (the idempotency key is the user id, so racing first top-ups make
	// one), and returns its id. The caller stores the id (SaveCustomer)
	// and asks again only when it has none.
	EnsureCustomer(ctx context.Context, userID, email string) (string, error)
	// ListCards lists the cards saved on a Customer, newest first.
	ListCards(ctx context.Context, customerID string) ([]Card, error)
	// DetachCard removes a saved card from its Customer; it can pay no
	// more. The caller has checked whose it is.
	DetachCard(ctx context.Context, paymentMethodID string) error
	// Livemode is the mode of the key the gateway uses.
	Livemode() bool
}

var (
	// ErrUnexpectedState: the PaymentIntent is in a state that forbids the
	// request (cancelling one that has succeeded, say).
	ErrUnexpectedState = errors.New("payments: payment intent in an unexpected state")
	// ErrPermanent: the processor refused the request itself (bad request,
	// bad key, not found); repeating it cannot succeed.
	ErrPermanent = errors.New("payments: request refused")
)
