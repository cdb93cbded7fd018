-- name: GetPaymentCustomer :one
-- The user's Stripe Customer and the card a one-tap or automatic top-up
-- pays with by default (NULL: none saved).
SELECT customer_id, default_payment_method_id FROM payment_customers WHERE user_id = $1;

-- name: SavePaymentCustomer :one
-- Stores the user's Customer; the first one stored stays (a racing second
-- gets the first's row back, and Stripe's idempotency key made them one).
INSERT INTO payment_customers (user_id, customer_id)
VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET updated_at = payment_customers.updated_at
RETURNING *;

-- name: SetDefaultPaymentMethod :exec
UPDATE payment_customers SET default_payment_method_id = $2, updated_at = now()
WHERE user_id = $1 AND default_payment_method_id IS DISTINCT FROM $2;

-- name: ClearDefaultPaymentMethod :exec
-- Forgets the default card once it is removed (and only that card).
UPDATE payment_customers SET default_payment_method_id = NULL, updated_at = now()
WHERE user_id = $1 AND default_payment_method_id = $2;
