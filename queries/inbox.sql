-- name: InsertWebhookEvent :one
-- Stores a delivery once per (source, dedup key); a repeat returns nothing.
INSERT INTO webhook_events (source, dedup_key, event_type, signal, workflow_id, payload)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (source, dedup_key) DO NOTHING
RETURNING id;

-- name: ClaimDueWebhookEvents :many
-- Deliveries due now, locked so that two deliverers never send one twice at
-- the same moment (a repeat later is harmless: workflows dedup).
SELECT *
FROM webhook_events
WHERE delivered_at IS NULL AND next_attempt_at <= now()
ORDER BY next_attempt_at, id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: MarkWebhookEventDelivered :exec
UPDATE webhook_events
SET delivered_at = now(), attempts = attempts + 1, last_error = sqlc.narg(note)
WHERE id = $1;

-- name: MarkWebhookEventFailed :exec
UPDATE webhook_events
SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + sqlc.arg(retry_in_ms)::int * interval '1 millisecond'
WHERE id = $1;

-- name: CountUndeliveredWebhookEvents :one
SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL;
