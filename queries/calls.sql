-- name: CreateCall :one
INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status)
VALUES ($1, $2, $3, $4, $5, 'created')
RETURNING *;

-- name: GetCall :one
SELECT * FROM calls WHERE id = $1;

-- name: GetCallToAuthorize :one
-- Everything AuthorizeCall decides on, in one round trip and one snapshot:
-- the call, whether support disabled its user (or the account is being
-- deleted), the wallet's balance, and what
-- the user spent on calls and how many calls they placed since midnight UTC.
SELECT sqlc.embed(c),
    (u.disabled_at IS NOT NULL OR u.deleting_at IS NOT NULL)::bool AS user_disabled,
    w.cached_balance_cents AS balance_cents,
    COALESCE((SELECT -SUM(t.amount_cents) FROM transactions t
              WHERE t.account_id = c.account_id AND t.kind = 'call_charge'
                AND t.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS spent_today_cents,
    (SELECT count(*) FROM calls c2
     WHERE c2.user_id = c.user_id AND c2.status NOT IN ('created', 'refused')
       AND c2.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::int AS calls_today
FROM calls c
JOIN users u ON u.id = c.user_id
JOIN accounts w ON w.id = c.account_id AND w.kind = 'wallet'
WHERE c.id = $1;

-- name: AbandonUnstartedCall :execrows
-- A call whose workflow could not be started frees its user's active slot.
UPDATE calls SET status = 'failed', end_reason = $2, billing_state = 'not_billable', ended_at = now(), updated_at = now()
WHERE id = $1 AND status = 'created';

-- name: AuthorizeCall :one
UPDATE calls
SET status = 'authorized', rate_prefix = $2, per_minute_micros = $3, connection_fee_micros = $4,
    max_seconds = $5, authorized_until = $6, time_limit_seconds = $7, updated_at = now()
WHERE id = $1 AND status = 'created'
RETURNING *;

-- name: RefuseCall :execrows
UPDATE calls SET status = 'refused', end_reason = $2, refusal_message = $3, refusal_needed_cents = $4,
    billing_state = 'not_billable', ended_at = now(), updated_at = now()
WHERE id = $1 AND status = 'created';

-- name: ClaimCallAndStoreDial :one
-- The voice webhook's claim: authorized -> dialing, once, for the identity
-- the call was authorized for, before the authorization expires, and never
-- for a user support has disabled; with the inbox row of its dialed signal
-- (as InsertWebhookEvent stores it, leased at birth), in one statement: the
-- webhook's one round trip. No row: nothing claimed, nothing stored.
-- caller_id is the caller's verified number (caller_ids, 0022), '' without
-- one: the Dial's callerId, read in the same statement.
WITH claimed AS (
    UPDATE calls
    SET status = 'dialing', parent_call_sid = sqlc.arg(parent_call_sid), updated_at = now()
    WHERE calls.id = sqlc.arg(id) AND status = 'authorized' AND client_identity = sqlc.arg(client_identity)
      AND authorized_until > now()
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = calls.user_id AND u.disabled_at IS NOT NULL)
    RETURNING calls.id, calls.user_id, calls.phone_number, calls.max_seconds,
        COALESCE(calls.time_limit_seconds, calls.max_seconds)::int AS time_limit_seconds
), stored AS (
    INSERT INTO webhook_events (source, dedup_key, event_type, signal, workflow_id, payload, form, next_attempt_at)
    SELECT 'twilio', sqlc.arg(dedup_key), 'voice', sqlc.arg(signal), sqlc.arg(workflow_id), sqlc.arg(payload), sqlc.narg(form),
           now() + sqlc.arg(lease_ms)::int * interval '1 millisecond'
    FROM claimed
    ON CONFLICT (source, dedup_key) DO NOTHING
    RETURNING webhook_events.id
)
SELECT claimed.id, claimed.phone_number, claimed.max_seconds, claimed.time_limit_seconds,
       COALESCE((SELECT stored.id FROM stored), 0)::bigint AS event_id,
       COALESCE((SELECT ci.e164 FROM caller_ids ci WHERE ci.user_id = claimed.user_id AND ci.status = 'verified'), '')::text AS caller_id
FROM claimed;

-- name: StoreStatusCallback :one
-- The status webhook's one statement: the delivery's inbox row (as
-- InsertWebhookEvent stores it, leased at birth, with its form) and, when
-- the callback gives the carrier's reason for the call's end (a final
-- status callback's ErrorCode and SipResponseCode, the Dial action's
-- DialCallStatus), that reason on the call's row. The reason is written
-- here, not by the workflow: the dialled leg's final callback and the Dial
-- action race, and the workflow ends on the first, so the second would
-- never reach the row through it. A repeat stores no row (none returned)
-- and changes nothing.
WITH reason AS (
    UPDATE calls
    SET carrier_error_code = COALESCE(sqlc.narg(carrier_error_code)::int, carrier_error_code),
        carrier_sip_code = COALESCE(sqlc.narg(carrier_sip_code)::int, carrier_sip_code),
        dial_call_status = COALESCE(sqlc.narg(dial_call_status)::text, dial_call_status)
    WHERE calls.id = sqlc.arg(call_id)
      AND (COALESCE(sqlc.narg(carrier_error_code)::int, carrier_error_code), COALESCE(sqlc.narg(carrier_sip_code)::int, carrier_sip_code),
           COALESCE(sqlc.narg(dial_call_status)::text, dial_call_status))
          IS DISTINCT FROM (carrier_error_code, carrier_sip_code, dial_call_status)
    RETURNING calls.id
)
INSERT INTO webhook_events (source, dedup_key, event_type, signal, workflow_id, payload, form, next_attempt_at)
VALUES ('twilio', sqlc.arg(dedup_key), sqlc.arg(event_type), sqlc.arg(signal), sqlc.arg(workflow_id), sqlc.arg(payload), sqlc.narg(form),
        now() + sqlc.arg(lease_ms)::int * interval '1 millisecond')
ON CONFLICT (source, dedup_key) DO NOTHING
RETURNING *;

-- name: CancelUnclaimedCall :one
-- The abandonment timer's cancel: authorized -> canceled. Races ClaimCall;
-- exactly one of the two updates the row.
UPDATE calls
SET status = 'canceled', end_reason = 'never reached the carrier', billing_state = 'not_billable',
    ended_at = now(), updated_at = now()
WHERE id = $1 AND status = 'authorized'
RETURNING *;

-- name: SetCallStatus :exec
-- Moves a call forward only, from_statuses being the statuses of lower
-- rank (workflows.StatusesBelow: the rank's one owner): a record run
-- again after a later one (a local activity re-run after its workflow
-- task's completion failed) never moves the row back, nor off a final
-- status, so an ended call's slot stays free.
UPDATE calls
SET status = sqlc.arg(status),
    child_call_sid = COALESCE(sqlc.narg(child_call_sid), child_call_sid),
    answered_at = CASE WHEN sqlc.arg(status) = 'in_progress' AND answered_at IS NULL THEN now() ELSE answered_at END,
    ended_at = CASE WHEN sqlc.arg(status) IN ('completed', 'busy', 'no_answer', 'failed', 'canceled') AND ended_at IS NULL THEN now() ELSE ended_at END,
    updated_at = now()
WHERE id = sqlc.arg(id)
  AND status = ANY(sqlc.arg(from_statuses)::text[]);

-- name: SetCallBilling :one
-- Returns the call's status and number, and its billing state before this
-- update (a retried activity sees its own earlier write: not counted twice).
UPDATE calls c
SET billing_state = sqlc.arg(billing_state),
    duration_seconds = COALESCE(sqlc.narg(duration_seconds), c.duration_seconds),
    cost_cents = COALESCE(sqlc.narg(cost_cents), c.cost_cents),
    carrier_status = COALESCE(sqlc.narg(carrier_status), c.carrier_status),
    -- Why billing is stuck, for support; cleared once it is not.
    billing_error = CASE WHEN sqlc.arg(billing_state) = 'stuck' THEN sqlc.narg(billing_error) ELSE NULL END,
    -- Support waived the charge of a stuck call: why.
    waived_reason = COALESCE(sqlc.narg(waived_reason), c.waived_reason),
    updated_at = now()
FROM (SELECT b.id, b.billing_state FROM calls b WHERE b.id = sqlc.arg(id) FOR UPDATE) AS before
WHERE c.id = before.id
RETURNING c.status, c.phone_number, before.billing_state AS previous_billing_state;

-- name: InsertCallEvent :execrows
INSERT INTO call_events (call_id, user_id, status, detail)
VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT call_events_once DO NOTHING;

-- name: NotifyCallEvent :exec
SELECT pg_notify('call_events', sqlc.arg(payload)::text);

-- name: FailUnclaimedCall :exec
-- A call whose workflow gave up before Twilio claimed it: never dialled.
UPDATE calls SET status = 'failed', end_reason = $2, billing_state = 'not_billable', ended_at = now(), updated_at = now()
WHERE id = $1 AND status IN ('created', 'authorized');

-- name: FailStaleCreatedCalls :execrows
-- Rows whose workflow never started (the web process died between the
-- insert and update-with-start) free their user's slot after two minutes.
UPDATE calls SET status = 'failed', end_reason = 'never started', billing_state = 'not_billable', ended_at = now(), updated_at = now()
WHERE status = 'created' AND created_at < now() - interval '2 minutes';

-- name: FailUnstartedCall :execrows
-- One call whose workflow was not found, failed as never started once its
-- row is older than any start could still be in flight (min_age_seconds).
UPDATE calls SET status = 'failed', end_reason = 'never started', billing_state = 'not_billable', ended_at = now(), updated_at = now()
WHERE id = sqlc.arg(id) AND status = 'created'
  AND created_at < now() - sqlc.arg(min_age_seconds)::int * interval '1 second';

-- name: ListCallsPage :many
-- A user's calls, newest first, after a keyset cursor (created_at, id).
SELECT *
FROM calls
WHERE user_id = sqlc.arg(user_id)
  AND status <> 'created'
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(page_size);

-- name: GetUserCall :one
-- A call, only for its own user.
SELECT * FROM calls WHERE id = $1 AND user_id = $2;

-- name: ListCallEvents :many
SELECT * FROM call_events WHERE call_id = $1 ORDER BY id;

-- name: ListCallEntries :many
SELECT * FROM transactions WHERE call_id = $1 ORDER BY id;

-- name: RecentNumbers :many
-- The numbers a user called most recently, each once, with the contact's
-- name when the number is saved.
SELECT c.phone_number, max(c.created_at)::timestamptz AS last_called, ct.name AS contact_name
FROM calls c
LEFT JOIN contacts ct ON ct.user_id = c.user_id AND ct.phone_number = c.phone_number
WHERE c.user_id = $1 AND c.status NOT IN ('created', 'refused')
GROUP BY c.phone_number, ct.name
ORDER BY last_called DESC
LIMIT 5;

-- name: GetCallSlotHolder :one
-- The call holding a user's one active slot (calls_one_active_per_user).
SELECT * FROM calls
WHERE user_id = $1 AND slot_released_at IS NULL
  AND (status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
       OR (status = 'completed' AND billing_state IN ('pending', 'stuck')))
LIMIT 1;

-- name: ReleaseCallSlot :execrows
-- Frees the slot of a call whose workflow has ended without freeing it (the
-- 30-day execution timeout, a terminate): the row stops counting as active.
-- A call that may have been connected and was never billed is marked stuck
-- with the reason, for support; an authorized one only once no claim can
-- dial it any more.
UPDATE calls
SET slot_released_at = now(),
    end_reason = COALESCE(end_reason, sqlc.arg(reason)::text),
    billing_state = CASE WHEN billing_state = 'pending' AND status NOT IN ('created', 'authorized') THEN 'stuck' ELSE billing_state END,
    billing_error = CASE WHEN billing_state = 'pending' AND status NOT IN ('created', 'authorized') THEN sqlc.arg(reason)::text ELSE billing_error END,
    updated_at = now()
WHERE id = sqlc.arg(id) AND slot_released_at IS NULL
  AND (status <> 'authorized' OR authorized_until < now());

-- name: SetCallCut :execrows
-- Stores the talk time a money loss cut a call to, or clears it (both
-- NULL); a final call is left alone.
UPDATE calls
SET cut_seconds = sqlc.narg(cut_seconds), cut_reason = sqlc.narg(cut_reason), updated_at = now()
WHERE id = $1 AND status IN ('authorized', 'dialing', 'ringing', 'in_progress');

-- name: GetCallInProgressForAccount :one
-- The call of an account that a balance change may cut: not over, its
-- slot held (a row left in progress by a workflow that ended without it
-- has its slot released), the newest if more. A call still 'created' is
-- not told: a signal landing in the workflow task that answers its
-- authorize update (a refusal completes the workflow there) fails that
-- task, and POST /calls then answers 503.
SELECT id FROM calls
WHERE account_id = $1 AND slot_released_at IS NULL
  AND status IN ('authorized', 'dialing', 'ringing', 'in_progress')
ORDER BY created_at DESC
LIMIT 1;
