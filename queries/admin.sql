-- name: InsertAdminAction :one
-- Records a staff action once per idempotency key (a resubmitted form
-- records nothing more: no row).
INSERT INTO admin_actions (actor_id, action, target_type, target_id, reason, details, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6, sqlc.narg(idempotency_key))
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id;

-- name: ListAdminActions :many
-- The audit log, newest first, a page at a time (keyset on id), filtered
-- by actor (email), action, the user the action was about (email) and a
-- range of days, each row with its outcome (if recorded) and its object as
-- a person recognises it.
WITH a AS (
    SELECT a.*,
           CASE a.target_type
               WHEN 'user' THEN (SELECT tu.id FROM users tu WHERE tu.id::text = a.target_id)
               WHEN 'call' THEN (SELECT c.user_id FROM calls c WHERE c.id::text = a.target_id)
               WHEN 'topup' THEN (SELECT t.user_id FROM topups t WHERE t.id::text = a.target_id)
           END AS target_user_id
    FROM admin_actions a
    WHERE (sqlc.narg(before_id)::bigint IS NULL OR a.id < sqlc.narg(before_id)::bigint)
      AND (sqlc.narg(action)::text IS NULL OR a.action = sqlc.narg(action)::text)
      AND (sqlc.narg(since)::timestamptz IS NULL OR a.created_at >= sqlc.narg(since)::timestamptz)
      AND (sqlc.narg(until)::timestamptz IS NULL OR a.created_at < sqlc.narg(until)::timestamptz)
)
SELECT a.id, a.actor_id, a.action, a.target_type, a.target_id, a.reason, a.details, a.created_at,
       actor.email AS actor_email,
       COALESCE(tu.email, '')::text AS target_email,
       (CASE a.target_type
            WHEN 'call' THEN COALESCE((SELECT c.phone_number FROM calls c WHERE c.id::text = a.target_id), a.target_id)
            WHEN 'topup' THEN COALESCE((SELECT '$' || to_char(t.amount_cents / 100.0, 'FM999999990.00') || ' top-up' FROM topups t WHERE t.id::text = a.target_id), a.target_id)
            WHEN 'user' THEN COALESCE(tu.email, a.target_id)
            ELSE a.target_id
        END)::text AS target_label,
       o.ok AS outcome_ok, o.outcome
FROM a
JOIN users actor ON actor.id = a.actor_id
LEFT JOIN users tu ON tu.id = a.target_user_id
LEFT JOIN admin_action_outcomes o ON o.action_id = a.id
WHERE (sqlc.narg(actor_email)::text IS NULL OR actor.email = sqlc.narg(actor_email)::text)
  AND (sqlc.narg(user_email)::text IS NULL OR tu.email = sqlc.narg(user_email)::text)
ORDER BY a.id DESC
LIMIT sqlc.arg(page_size);

-- name: ListAdminActionsForTarget :many
SELECT a.*, u.email AS actor_email, o.ok AS outcome_ok, o.outcome
FROM admin_actions a
JOIN users u ON u.id = a.actor_id
LEFT JOIN admin_action_outcomes o ON o.action_id = a.id
WHERE a.target_type = $1 AND a.target_id = $2
ORDER BY a.id DESC
LIMIT 50;

-- name: InsertAdminActionOutcome :exec
-- What a staff action came to, once (a second outcome for one action is
-- ignored: the first stands).
INSERT INTO admin_action_outcomes (action_id, ok, outcome) VALUES ($1, $2, $3)
ON CONFLICT (action_id) DO NOTHING;

-- name: ListStuckCalls :many
-- The stuck calls Temporal listed, as support reads them: who, which
-- number, the amount, why, since when, and the balance now.
SELECT c.id, c.user_id, c.phone_number, c.destination_country, c.cost_cents, c.duration_seconds,
       c.billing_error, c.ended_at, c.updated_at, u.email, a.cached_balance_cents
FROM calls c
JOIN users u ON u.id = c.user_id
JOIN accounts a ON a.id = c.account_id
WHERE c.id = ANY(sqlc.arg(ids)::uuid[])
ORDER BY COALESCE(c.ended_at, c.updated_at);

-- name: DashboardCounts :one
-- What needs attention, counted in Postgres: calls still open past their
-- max_seconds (or the cut_seconds above it a top-up extended it to) plus
-- ringing and a grace period, top-ups unpaid for more than an hour, and
-- webhook deliveries waiting for a retry.
SELECT
    (SELECT count(*) FROM calls
     WHERE status IN ('authorized', 'dialing', 'ringing', 'in_progress')
       AND created_at + make_interval(secs => COALESCE(GREATEST(max_seconds, cut_seconds), 0)) + sqlc.arg(call_grace_ms)::bigint * interval '1 millisecond' < now()
    ) AS overdue_calls,
    (SELECT count(*) FROM calls WHERE billing_state = 'stuck') AS stuck_calls,
    (SELECT count(*) FROM topups
     WHERE status IN ('created', 'processing', 'failed') AND created_at < now() - interval '1 hour'
    ) AS stale_topups,
    (SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL AND attempts > 0) AS retrying_webhooks,
    (SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL) AS undelivered_webhooks;

-- name: ListOverdueCalls :many
SELECT c.*, u.email
FROM calls c JOIN users u ON u.id = c.user_id
WHERE c.status IN ('authorized', 'dialing', 'ringing', 'in_progress')
  AND c.created_at + make_interval(secs => COALESCE(GREATEST(c.max_seconds, c.cut_seconds), 0)) + sqlc.arg(call_grace_ms)::bigint * interval '1 millisecond' < now()
ORDER BY c.created_at
LIMIT 50;

-- name: ListStaleTopUps :many
SELECT t.*, u.email
FROM topups t JOIN users u ON u.id = t.user_id
WHERE t.status IN ('created', 'processing', 'failed') AND t.created_at < now() - interval '1 hour'
ORDER BY t.created_at
LIMIT 50;

-- name: ListRetryingWebhooks :many
SELECT * FROM webhook_events
WHERE delivered_at IS NULL AND attempts > 0
ORDER BY next_attempt_at
LIMIT 50;

-- name: ListCallsByIDs :many
SELECT c.*, u.email
FROM calls c JOIN users u ON u.id = c.user_id
WHERE c.id = ANY(sqlc.arg(ids)::uuid[])
ORDER BY c.created_at DESC;

-- name: SearchCalls :many
-- Support's search for calls, newest first (web/admin_search.go reads the
-- term): by id (the range of ids a typed start of one covers), a Twilio
-- CallSid of either leg (sid: whole, on the unique indexes; sid_prefix:
-- its start, which scans), the number as digits (its start when
-- typed internationally, its end when typed in national format without
-- the trunk 0, or any part of it), or the exact email of its user.
SELECT c.*, u.email
FROM calls c JOIN users u ON u.id = c.user_id
WHERE c.id BETWEEN sqlc.narg(id_from)::uuid AND sqlc.narg(id_to)::uuid
   OR c.parent_call_sid = sqlc.narg(sid)::text OR c.child_call_sid = sqlc.narg(sid)::text
   OR starts_with(c.parent_call_sid, sqlc.narg(sid_prefix)::text) OR starts_with(c.child_call_sid, sqlc.narg(sid_prefix)::text)
   OR c.phone_number LIKE '+' || sqlc.narg(number_prefix)::text || '%'
   OR c.phone_number LIKE '%' || sqlc.narg(national_number)::text
   OR c.phone_number LIKE '%' || sqlc.narg(number_part)::text || '%'
   OR c.user_id = (SELECT e.id FROM users e WHERE e.email = sqlc.narg(email)::text)
ORDER BY c.created_at DESC, c.id DESC
LIMIT 50;

-- name: SearchTopUps :many
-- A top-up by id (or the range a typed start of one covers), its
-- PaymentIntent id (whole, or its start: a scan), or the exact email of
-- its user; newest first.
SELECT t.*, u.email
FROM topups t JOIN users u ON u.id = t.user_id
WHERE t.id BETWEEN sqlc.narg(id_from)::uuid AND sqlc.narg(id_to)::uuid
   OR t.payment_intent_id = sqlc.narg(payment_intent)::text
   OR starts_with(t.payment_intent_id, sqlc.narg(payment_intent_prefix)::text)
   OR t.user_id = (SELECT e.id FROM users e WHERE e.email = sqlc.narg(email)::text)
ORDER BY t.created_at DESC, t.id DESC
LIMIT 50;

-- name: SearchUsers :many
-- Users, newest first, with their balance: by the start of their email,
-- part of it (email_part), their id or the range a typed start of one
-- covers, or part of their name or of their email before the @ (name_like:
-- a LIKE pattern's middle, its % and _ escaped; both sides lower case).
SELECT u.*, a.id AS account_id, a.cached_balance_cents
FROM users u JOIN accounts a ON a.user_id = u.id AND a.kind = 'wallet'
WHERE starts_with(u.email, sqlc.narg(email_prefix)::text) OR u.id = sqlc.narg(id)::uuid
   OR strpos(u.email, sqlc.narg(email_part)::text) > 0
   OR u.id BETWEEN sqlc.narg(id_from)::uuid AND sqlc.narg(id_to)::uuid
   OR lower(u.display_name) LIKE '%' || sqlc.narg(name_like)::text || '%'
   OR split_part(u.email, '@', 1) LIKE '%' || sqlc.narg(name_like)::text || '%'
ORDER BY u.created_at DESC, u.id DESC
LIMIT 50;

-- name: ListUserCallsNewer :many
-- A user's calls just newer than a keyset cursor (created_at, id), oldest
-- first: the console's "Newer" page, which the caller turns round.
-- ListCallsPage is the "Older" one.
SELECT *
FROM calls
WHERE user_id = sqlc.arg(user_id)
  AND status <> 'created'
  AND (created_at, id) > (sqlc.arg(after_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT sqlc.arg(page_size);

-- name: ListUserTopUpsPage :many
-- A user's top-ups, newest first, after a keyset cursor (created_at, id).
SELECT *
FROM topups
WHERE user_id = sqlc.arg(user_id)
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(page_size);

-- name: ListUserTopUpsNewer :many
-- A user's top-ups just newer than a keyset cursor, oldest first.
SELECT *
FROM topups
WHERE user_id = sqlc.arg(user_id)
  AND (created_at, id) > (sqlc.arg(after_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT sqlc.arg(page_size);

-- name: ListWebhookEventsForWorkflow :many
SELECT * FROM webhook_events WHERE workflow_id = $1 ORDER BY id;

-- name: ListTopUpEntries :many
SELECT * FROM transactions WHERE topup_id = $1 ORDER BY id;

-- name: SetUserDisabled :one
-- Disables (or re-enables) a user: a disabled user cannot sign in, their
-- sessions end on their next request, and they cannot place a call.
UPDATE users
SET disabled_at = CASE WHEN sqlc.arg(disabled)::boolean THEN COALESCE(disabled_at, now()) ELSE NULL END,
    updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: GetActiveCallForUser :one
SELECT * FROM calls
WHERE user_id = $1 AND status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress');

-- name: SetRateEnabled :one
UPDATE call_rates SET enabled = $2, updated_at = now() WHERE prefix = $1 RETURNING *;

-- name: ListStuckTopUps :many
-- Top-ups Stripe did not confirm a credit or reversal for: support looks.
SELECT t.*, u.email
FROM topups t JOIN users u ON u.id = t.user_id
WHERE t.stuck_reason IS NOT NULL
ORDER BY t.stuck_at DESC
LIMIT 50;

-- name: ListStripeVersionProblems :many
-- Stripe events of another API version this build could not read.
SELECT id, event_id, event_type, api_version, livemode, problem, received_at
FROM stripe_version_events
WHERE NOT handled
ORDER BY received_at DESC
LIMIT 50;
