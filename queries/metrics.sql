-- name: InboxBacklog :one
-- Read at each scrape of the metrics endpoint (as CallsAwaitingBilling):
-- Stored webhooks not yet delivered to their workflow, and the age of the
-- oldest (0 when none), from the partial index on undelivered rows.
SELECT count(*)::bigint AS waiting,
       COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0)::float8 AS oldest_age_seconds
FROM webhook_events
WHERE delivered_at IS NULL;

-- name: CallsAwaitingBilling :one
-- Calls over but not billed (pending, or marked stuck for support): all of
-- them, those that ended more than sqlc.arg(stuck_after) seconds ago or are
-- marked stuck, and the age of the oldest. The rows are those of the partial
-- index calls_one_active_per_user.
SELECT count(*)::bigint AS awaiting,
       count(*) FILTER (WHERE billing_state = 'stuck'
                           OR ended_at < now() - make_interval(secs => sqlc.arg(stuck_after)::float8))::bigint AS stuck,
       COALESCE(EXTRACT(EPOCH FROM now() - min(COALESCE(ended_at, updated_at))), 0)::float8 AS oldest_age_seconds
FROM calls
WHERE status = 'completed' AND billing_state IN ('pending', 'stuck');
