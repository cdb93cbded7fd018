-- name: RecordPaymentFailure :exec
-- One failed attempt of a top-up, once per Stripe event (a webhook
-- delivered again records nothing more).
INSERT INTO payment_failures (stripe_event_id, topup_id, user_id, amount_cents, code, decline_code, message, failed_at)
SELECT sqlc.arg(stripe_event_id), t.id, t.user_id, t.amount_cents, sqlc.narg(code), sqlc.narg(decline_code), sqlc.narg(message),
       COALESCE(sqlc.narg(failed_at)::timestamptz, now())
FROM topups t WHERE t.id = sqlc.arg(topup_id)
ON CONFLICT (stripe_event_id) DO NOTHING;

-- name: ListPaymentFailures :many
-- The console's declined and failed payments, newest first (keyset on id).
SELECT f.*, u.email, t.status AS top_up_status
FROM payment_failures f
JOIN users u ON u.id = f.user_id
JOIN topups t ON t.id = f.topup_id
WHERE sqlc.narg(before_id)::bigint IS NULL OR f.id < sqlc.narg(before_id)::bigint
ORDER BY f.id DESC
LIMIT sqlc.arg(page_size);

-- name: ListPaymentFailuresForTopUp :many
SELECT * FROM payment_failures WHERE topup_id = $1 ORDER BY id;
