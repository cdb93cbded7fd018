-- name: CreateTopUp :one
-- Nothing is created for an account being deleted (the FOR KEY SHARE
-- waits for a deletion's check to commit, then sees its mark).
INSERT INTO topups (user_id, account_id, package_code, amount_cents, receipt_email,
                    save_card, payment_method_id, off_session)
SELECT u.id, sqlc.arg(account_id)::uuid, sqlc.arg(package_code)::text, sqlc.arg(amount_cents)::bigint,
       sqlc.narg(receipt_email)::text, sqlc.arg(save_card)::bool, sqlc.narg(payment_method_id)::text, sqlc.arg(off_session)::bool
FROM users u WHERE u.id = sqlc.arg(user_id)::uuid AND u.deleting_at IS NULL FOR KEY SHARE
RETURNING *;

-- name: GetTopUp :one
SELECT * FROM topups WHERE id = $1;

-- name: GetTopUpForUser :one
-- A user sees only their own top-ups: another's is no row.
SELECT * FROM topups WHERE id = $1 AND user_id = $2;

-- name: GetTopUpByPaymentIntent :one
SELECT * FROM topups WHERE payment_intent_id = $1;

-- name: SetTopUpPaymentIntent :one
-- The PaymentIntent is created once per top-up (Stripe's idempotency key is
-- the top-up id), so a repeat names the same one; another is refused.
UPDATE topups
SET payment_intent_id = sqlc.arg(payment_intent_id), status = CASE WHEN status = 'created' THEN 'processing' ELSE status END,
    updated_at = now()
WHERE id = sqlc.arg(id) AND (payment_intent_id IS NULL OR payment_intent_id = sqlc.arg(payment_intent_id))
RETURNING *;

-- name: MarkTopUpFailed :one
-- A declined attempt: the user may try again on the same payment.
UPDATE topups
SET status = 'failed', failure_code = $2, failure_message = $3, updated_at = now()
WHERE id = $1 AND status IN ('created', 'processing', 'failed')
RETURNING *;

-- name: MarkTopUpSucceeded :one
-- Money received is shown as such, even on a top-up given up for lost; a
-- payment Stripe confirmed clears a mark for support.
UPDATE topups
SET status = 'succeeded', credited_at = COALESCE(credited_at, now()), failure_code = NULL, failure_message = NULL,
    stuck_reason = NULL, stuck_at = NULL, updated_at = now()
WHERE id = $1 AND status IN ('created', 'processing', 'failed', 'canceled')
RETURNING *;

-- name: MarkTopUpCanceled :one
UPDATE topups
SET status = 'canceled', failure_code = sqlc.narg(failure_code), failure_message = COALESCE(sqlc.narg(failure_message), failure_message),
    updated_at = now()
WHERE id = sqlc.arg(id) AND status IN ('created', 'processing', 'failed')
RETURNING *;

-- name: SyncTopUpReversals :one
-- Refunded and disputed amounts are derived from the ledger, never counted
-- separately (net of failed refunds and won disputes); a top-up wholly
-- refunded is refunded, one disputed disputed, and one whose dispute was
-- won or whose refund failed is succeeded again.
UPDATE topups t
SET refunded_cents = r.refunded, disputed_cents = r.disputed,
    status = CASE WHEN r.disputed > 0 THEN 'disputed'
                  WHEN r.refunded >= t.amount_cents THEN 'refunded'
                  WHEN t.status IN ('disputed', 'refunded') THEN 'succeeded'
                  ELSE t.status END,
    updated_at = now()
FROM (
    SELECT COALESCE(-SUM(amount_cents) FILTER (WHERE kind IN ('refund', 'refund_failure')), 0)::bigint AS refunded,
           COALESCE(-SUM(amount_cents) FILTER (WHERE kind IN ('dispute', 'dispute_reversal')), 0)::bigint AS disputed
    FROM transactions WHERE topup_id = sqlc.arg(id)
) r
WHERE t.id = sqlc.arg(id)
RETURNING t.*;

-- name: ListTopUpsForUser :many
SELECT * FROM topups WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2;

-- name: FindOpenTopUp :one
-- A top-up of this amount the user started recently and has not paid: a
-- second tap on the same package goes back to it rather than opening another.
SELECT * FROM topups
WHERE user_id = $1 AND amount_cents = $2 AND status IN ('created', 'processing', 'failed')
  AND created_at > now() - sqlc.arg(within_ms)::bigint * interval '1 millisecond'
ORDER BY created_at DESC
LIMIT 1;

-- name: MarkTopUpStuck :one
-- Stripe did not confirm what the workflow was asked to post: nothing was
-- posted, and support must look. The first reason stays until cleared.
UPDATE topups
SET stuck_reason = COALESCE(stuck_reason, sqlc.arg(reason)::text), stuck_at = COALESCE(stuck_at, now()), updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: GetEntryAmountByKey :one
-- The amount a ledger entry posted, for the entry that reverses it.
SELECT amount_cents FROM transactions WHERE idempotency_key = $1;
