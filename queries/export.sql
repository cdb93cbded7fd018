-- "Download my data" (issue 22, item 2): data_exports, and the one read of
-- everything that is a user's. Every query names the user or the export's
-- own id; a download reads by the token's hash and the signed-in user.

-- name: NextDataExportNumber :one
SELECT (COALESCE(max(n), 0) + 1)::integer AS n FROM data_exports WHERE user_id = $1;

-- name: CreateDataExport :one
-- A new export, preparing. A second while one is preparing violates
-- data_exports_one_preparing_idx (and a racing request the same n,
-- data_exports_user_n_key): the handler says one is being prepared.
INSERT INTO data_exports (user_id, n) VALUES ($1, $2)
RETURNING *;

-- name: LatestDataExport :one
-- The user's newest export, without its blob, for Settings.
SELECT id, user_id, n, status, requested_at, size_bytes, built_at, expires_at, emailed_at, expired_at
FROM data_exports
WHERE user_id = $1
ORDER BY n DESC
LIMIT 1;

-- name: GetDataExportMeta :one
SELECT id, user_id, n, status, requested_at, size_bytes, built_at, expires_at, emailed_at, expired_at
FROM data_exports WHERE id = $1;

-- name: StoreDataExportZip :execrows
-- The build's result; only while preparing (a retried build writes the
-- same thing again).
UPDATE data_exports
SET zip = sqlc.arg(zip)::bytea, size_bytes = octet_length(sqlc.arg(zip)::bytea), built_at = now()
WHERE id = sqlc.arg(id) AND status = 'preparing';

-- name: IssueDataExportToken :one
-- Issues the link's token (its hash) for a built export, before the email
-- is sent: a retried send issues a new one, and only the newest link
-- works. expires_at is set by the first issue and kept.
UPDATE data_exports e
SET token_hash = sqlc.arg(token_hash),
    expires_at = COALESCE(e.expires_at, now() + sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')
FROM users u
WHERE e.id = sqlc.arg(id) AND e.status = 'preparing' AND e.zip IS NOT NULL AND u.id = e.user_id
RETURNING e.expires_at, u.email, u.display_name, u.time_zone, u.locale;

-- name: MarkDataExportEmailed :execrows
-- The email with the link went out: the export is ready.
UPDATE data_exports
SET status = 'ready', emailed_at = now()
WHERE id = $1 AND token_hash = $2 AND status = 'preparing';

-- name: ExpireDataExport :execrows
-- Deletes the blob at expiry; the row (and the token's hash) stays, so an
-- old link is told it expired. A preparing export that never got out
-- (the workflow gave up) is failed instead.
UPDATE data_exports
SET zip = NULL,
    status = CASE WHEN status = 'ready' THEN 'expired' ELSE 'failed' END,
    expired_at = now()
WHERE id = $1 AND status IN ('preparing', 'ready');

-- name: GetDataExportDownload :one
-- The export a link names, only if it is the signed-in user's (another
-- user's token is no row: a 404). The handler tells ready from expired.
SELECT id, n, status, zip, size_bytes, expires_at, (status = 'ready' AND expires_at > now())::boolean AS live
FROM data_exports
WHERE token_hash = sqlc.arg(token_hash) AND user_id = sqlc.arg(user_id);

-- name: ReadUserData :one
-- Everything that is the user's, as JSON, in one statement (one snapshot):
-- each column is one file of the export. Only the user's own rows, and
-- never a password hash, a session, a token, a card number or a payment
-- method's id. Ledger entries are the wallet's side only.
SELECT
    (SELECT row_to_json(p) FROM (
        SELECT u.id, u.email, u.display_name, u.home_country, u.time_zone, u.role, u.created_at, u.updated_at,
               u.password_changed_at, u.disabled_at,
               a.id AS wallet_id, a.currency AS wallet_currency, a.cached_balance_cents AS balance_cents
        FROM users u LEFT JOIN accounts a ON a.user_id = u.id AND a.kind = 'wallet'
        WHERE u.id = sqlc.arg(user_id)) p)::json AS profile,
    (SELECT COALESCE(json_agg(c ORDER BY c.created_at, c.id), '[]') FROM (
        SELECT id, phone_number, destination_country, status, created_at, answered_at, ended_at, duration_seconds,
               cost_cents, billing_state, rate_prefix, per_minute_micros, connection_fee_micros, max_seconds,
               end_reason, refusal_message, carrier_status, dial_call_status, parent_call_sid, child_call_sid,
               cut_seconds, cut_reason, waived_reason
        FROM calls WHERE user_id = sqlc.arg(user_id)) c)::json AS calls,
    (SELECT COALESCE(json_agg(e ORDER BY e.occurred_at, e.id), '[]') FROM (
        SELECT id, call_id, status, occurred_at
        FROM call_events WHERE user_id = sqlc.arg(user_id)) e)::json AS call_events,
    (SELECT COALESCE(json_agg(t ORDER BY t.id), '[]') FROM (
        SELECT t.id, t.kind, t.amount_cents, t.balance_after_cents, t.counterparty, t.call_id, t.topup_id, t.memo, t.created_at
        FROM transactions t JOIN accounts a ON a.id = t.account_id
        WHERE a.user_id = sqlc.arg(user_id) AND a.kind = 'wallet') t)::json AS transactions,
    (SELECT COALESCE(json_agg(t ORDER BY t.created_at, t.id), '[]') FROM (
        SELECT id, package_code, amount_cents, currency, status, created_at, credited_at, refunded_cents, disputed_cents,
               failure_code, failure_message, receipt_email, payment_intent_id, save_card, off_session
        FROM topups WHERE user_id = sqlc.arg(user_id)) t)::json AS topups,
    (SELECT COALESCE(json_agg(f ORDER BY f.failed_at, f.id), '[]') FROM (
        SELECT id, topup_id, amount_cents, code, decline_code, message, failed_at
        FROM payment_failures WHERE user_id = sqlc.arg(user_id)) f)::json AS payment_failures,
    (SELECT COALESCE(json_agg(c ORDER BY c.created_at, c.id), '[]') FROM (
        SELECT id, name, phone_number, favourite, created_at, updated_at
        FROM contacts WHERE user_id = sqlc.arg(user_id)) c)::json AS contacts,
    (SELECT COALESCE(json_agg(r ORDER BY r.created_at, r.call_id), '[]') FROM (
        SELECT call_id, score, issues, created_at, updated_at
        FROM call_ratings WHERE user_id = sqlc.arg(user_id)) r)::json AS call_ratings,
    (SELECT COALESCE(json_agg(c ORDER BY c.created_at, c.id), '[]') FROM (
        SELECT id, e164, status, attempt, failure_reason, created_at, updated_at, verified_at
        FROM caller_ids WHERE user_id = sqlc.arg(user_id)) c)::json AS caller_ids,
    (SELECT row_to_json(s) FROM (
        SELECT enabled, threshold_cents, amount_cents, monthly_cap_cents, attempts, off_reason, off_topup_id, off_at,
               emailed_at, created_at, updated_at
        FROM auto_topups WHERE user_id = sqlc.arg(user_id)) s)::json AS auto_topup,
    (SELECT COALESCE(json_agg(r ORDER BY r.seq), '[]') FROM (
        SELECT seq, topup_id, created_at
        FROM auto_topup_runs WHERE user_id = sqlc.arg(user_id)) r)::json AS auto_topup_runs,
    (SELECT COALESCE(json_agg(r ORDER BY r.id), '[]') FROM (
        SELECT r.id, t.id AS entry_id, t.kind, t.amount_cents, r.card_last4, r.queued_at, r.sent_at
        FROM receipts r
        JOIN transactions t ON t.idempotency_key = r.idempotency_key
        JOIN accounts a ON a.id = t.account_id
        WHERE a.user_id = sqlc.arg(user_id) AND a.kind = 'wallet' AND r.sent_at IS NOT NULL) r)::json AS receipts,
    COALESCE((SELECT customer_id FROM payment_customers WHERE user_id = sqlc.arg(user_id)), '')::text AS payment_customer_id;
