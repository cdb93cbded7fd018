-- name: InsertWebhookEvent :one
-- Stores a delivery once per (source, dedup key); a repeat returns nothing.
-- It is leased at birth to the instance that stored it, which sends it at
-- once (inbox.Deliverer.Send); the sweep takes it only after the lease.
INSERT INTO webhook_events (source, dedup_key, event_type, signal, workflow_id, payload, start_workflow, start_input, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + sqlc.arg(lease_ms)::int * interval '1 millisecond')
ON CONFLICT (source, dedup_key) DO NOTHING
RETURNING *;

-- name: LeaseDueWebhookEvents :many
-- Takes up to a batch of deliveries that are due, leasing each for a while
-- (its next attempt moves into the future) so that two deliverers do not
-- send one at the same moment. A repeat later is harmless: workflows dedup.
UPDATE webhook_events
SET next_attempt_at = now() + sqlc.arg(lease_ms)::int * interval '1 millisecond'
WHERE id IN (
    SELECT e.id FROM webhook_events e
    WHERE e.delivered_at IS NULL AND e.next_attempt_at <= now()
    ORDER BY e.next_attempt_at, e.id
    LIMIT sqlc.arg(batch)
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

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

-- name: InsertStripeVersionEvent :one
-- Keeps a Stripe event of another API version once per event id; a repeat
-- returns nothing.
INSERT INTO stripe_version_events (event_id, event_type, api_version, livemode, raw_body, handled, problem)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (event_id) DO NOTHING
RETURNING id;
