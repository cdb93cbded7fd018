package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// Customer returns the user's Stripe Customer id, creating the Customer at
// Stripe and storing it the first time. Two first calls at once make one
// Customer (EnsureCustomer's idempotency key is the user's) and store it
// once (SavePaymentCustomer keeps the first).
func Customer(ctx context.Context, q *db.Queries, g Gateway, userID uuid.UUID, email string) (string, error) {
	c, err := q.GetPaymentCustomer(ctx, userID)
	if err == nil {
		return c.CustomerID, nil
	}
	if !errors.Is(err, db.ErrNotFound) {
		return "", err
	}
	id, err := g.EnsureCustomer(ctx, userID.String(), email)
	if err != nil {
		return "", err
	}
	row, err := q.SavePaymentCustomer(ctx, db.SavePaymentCustomerParams{UserID: userID, CustomerID: id})
	if err != nil {
		return "", fmt.Errorf("payments: store customer of user %s: %w", userID, err)
	}
	return row.CustomerID, nil
}

// UserCard finds one of the user's saved cards by its id, reading the
// list from Stripe: a card of another Customer (another user's), or none
// at all, is ErrNotYours. A user without a Customer has no cards.
func UserCard(ctx context.Context, q *db.Queries, g Gateway, userID uuid.UUID, paymentMethodID string) (customerID string, card Card, err error) {
	c, err := q.GetPaymentCustomer(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return "", Card{}, ErrNotYours
	}
	if err != nil {
		return "", Card{}, err
	}
	cards, err := g.ListCards(ctx, c.CustomerID)
	if err != nil {
		return "", Card{}, err
	}
	for _, k := range cards {
		if k.ID == paymentMethodID && paymentMethodID != "" {
			return c.CustomerID, k, nil
		}
	}
	return "", Card{}, ErrNotYours
}

// ErrNotYours: the payment method is not one of the user's saved cards.
var ErrNotYours = errors.New("payments: not one of the user's saved cards")
