-- name: QueueReceipt :exec
-- Records, in the posting's transaction, that the entry's receipt is owed;
-- a repeat of the key changes nothing. A refund or dispute names the card
-- its top-up was paid with, as that top-up's own receipt recorded it.
INSERT INTO receipts (idempotency_key, card_last4)
VALUES (
    sqlc.arg(idempotency_key),
    COALESCE(sqlc.narg(card_last4)::text, (
        SELECT r.card_last4
        FROM transactions p
        JOIN receipts r ON r.idempotency_key = p.idempotency_key
        WHERE p.topup_id = sqlc.narg(topup_id)::uuid AND p.kind = 'purchase'
    ))
)
ON CONFLICT (idempotency_key) DO NOTHING;

-- name: LeaseDueReceipts :many
-- Takes up to a batch of receipts that are due, leasing each (its next
-- attempt moves past the lease) so that two deliverers do not send one at
-- once, with what the receipt says: the entry, its top-up and its owner.
WITH leased AS (
    UPDATE receipts
    SET next_attempt_at = now() + sqlc.arg(lease_ms)::int * interval '1 millisecond'
    WHERE receipts.id IN (
        SELECT r.id FROM receipts r
        WHERE r.sent_at IS NULL AND r.gave_up_at IS NULL AND r.next_attempt_at <= now()
        ORDER BY r.next_attempt_at, r.id
        LIMIT sqlc.arg(batch)
        FOR UPDATE SKIP LOCKED
    )
    RETURNING receipts.id, receipts.idempotency_key, receipts.card_last4, receipts.attempts
)
SELECT leased.id, leased.idempotency_key, leased.card_last4, leased.attempts,
       t.id AS entry_id, t.kind, t.amount_cents, t.balance_after_cents, t.topup_id,
       t.created_at AS posted_at,
       u.id AS user_id, u.email, u.display_name, u.time_zone
FROM leased
JOIN transactions t ON t.idempotency_key = leased.idempotency_key
JOIN accounts a ON a.id = t.account_id
JOIN users u ON u.id = a.user_id
ORDER BY leased.id;

-- name: MarkReceiptSent :exec
UPDATE receipts
SET sent_at = now(), attempts = attempts + 1, last_error = NULL
WHERE id = $1 AND sent_at IS NULL;

-- name: MarkReceiptFailed :exec
-- A failed send: tried again after retry_in, or given up once it has
-- failed max_attempts times.
UPDATE receipts
SET attempts = attempts + 1,
    last_error = sqlc.arg(last_error),
    next_attempt_at = now() + sqlc.arg(retry_in_ms)::int * interval '1 millisecond',
    gave_up_at = CASE WHEN attempts + 1 >= sqlc.arg(max_attempts)::int THEN now() END
WHERE id = $1 AND sent_at IS NULL;
