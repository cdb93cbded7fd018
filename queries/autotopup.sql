-- name: GetAutoTopUp :one
SELECT * FROM auto_topups WHERE user_id = $1;

-- name: LockAutoTopUp :one
-- Serialises the decisions of one user's auto top-up (until commit).
SELECT * FROM auto_topups WHERE user_id = $1 FOR UPDATE;

-- name: SaveAutoTopUp :one
-- The person's settings. Turning it on clears what we said when we last
-- turned it off (the banner, the reason).
INSERT INTO auto_topups (user_id, account_id, enabled, threshold_cents, amount_cents, monthly_cap_cents)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id) DO UPDATE
SET enabled = EXCLUDED.enabled, threshold_cents = EXCLUDED.threshold_cents, amount_cents = EXCLUDED.amount_cents,
    monthly_cap_cents = EXCLUDED.monthly_cap_cents,
    off_reason = CASE WHEN EXCLUDED.enabled THEN NULL ELSE auto_topups.off_reason END,
    off_at = CASE WHEN EXCLUDED.enabled THEN NULL ELSE auto_topups.off_at END,
    off_topup_id = CASE WHEN EXCLUDED.enabled THEN NULL ELSE auto_topups.off_topup_id END,
    notice_pending = CASE WHEN EXCLUDED.enabled THEN false ELSE auto_topups.notice_pending END,
    updated_at = now()
RETURNING *;

-- name: AutoTopUpDue :one
-- The user whose auto top-up is on and whose balance is below its
-- threshold, for the hook after a posting (no row: nothing to do).
SELECT a.user_id FROM auto_topups a JOIN accounts w ON w.id = a.account_id
WHERE a.account_id = $1 AND a.enabled AND w.cached_balance_cents < a.threshold_cents;

-- name: AutoTopUpSpentThisMonth :one
-- What automatic top-ups took or may still take from the card in the
-- person's calendar month (their time zone): every one but those that
-- will never be paid.
SELECT COALESCE(SUM(t.amount_cents), 0)::bigint
FROM auto_topup_runs r
JOIN topups t ON t.id = r.topup_id
JOIN users u ON u.id = r.user_id
WHERE r.user_id = $1 AND t.status NOT IN ('canceled', 'failed')
  AND date_trunc('month', r.created_at AT TIME ZONE u.time_zone) = date_trunc('month', now() AT TIME ZONE u.time_zone);

-- name: AutoTopUpInFlight :one
-- The user's automatic top-up still awaiting its payment, if any.
SELECT t.* FROM auto_topup_runs r JOIN topups t ON t.id = r.topup_id
WHERE r.user_id = $1 AND t.status IN ('created', 'processing')
ORDER BY r.seq DESC
LIMIT 1;

-- name: GetAutoTopUpRun :one
SELECT r.seq, t.* FROM auto_topup_runs r JOIN topups t ON t.id = r.topup_id
WHERE r.topup_id = $1;

-- name: CreateAutoTopUpTopUp :one
-- An automatic top-up's row, under its derived id: paid off-session with
-- the saved card.
-- None for an account being deleted (as CreateTopUp).
INSERT INTO topups (id, user_id, account_id, package_code, amount_cents, receipt_email, payment_method_id, off_session)
SELECT sqlc.arg(id)::uuid, u.id, sqlc.arg(account_id)::uuid, sqlc.arg(package_code)::text, sqlc.arg(amount_cents)::bigint,
       sqlc.narg(receipt_email)::text, sqlc.arg(payment_method_id)::text, true
FROM users u WHERE u.id = sqlc.arg(user_id)::uuid AND u.deleting_at IS NULL FOR KEY SHARE
RETURNING *;

-- name: CreateAutoTopUpRun :exec
INSERT INTO auto_topup_runs (topup_id, user_id, seq) VALUES ($1, $2, $3);

-- name: SetAutoTopUpAttempts :exec
UPDATE auto_topups SET attempts = $2, updated_at = now() WHERE user_id = $1;

-- name: TurnAutoTopUpOff :one
-- We turn it off (a decline, a bank asking for the cardholder, no card):
-- the banner shows the reason. Repeating it for the same top-up changes
-- nothing; a person who turned it on again since is not turned off by a
-- late repeat.
UPDATE auto_topups
SET enabled = false, off_reason = sqlc.arg(reason)::text, off_at = now(), off_topup_id = sqlc.narg(topup_id),
    notice_pending = true, emailed_at = NULL, updated_at = now()
WHERE user_id = sqlc.arg(user_id) AND enabled
RETURNING *;

-- name: ClaimAutoTopUpOffEmail :one
-- The one email about being turned off: claimed before it is sent.
UPDATE auto_topups SET emailed_at = now()
WHERE user_id = $1 AND off_at = $2 AND emailed_at IS NULL
RETURNING *;

-- name: ReleaseAutoTopUpOffEmail :exec
-- The send failed: the next attempt may claim it again.
UPDATE auto_topups SET emailed_at = NULL WHERE user_id = $1 AND off_at = $2;

-- name: DismissAutoTopUpNotice :exec
UPDATE auto_topups SET notice_pending = false, updated_at = now() WHERE user_id = $1;

-- name: ListAutoTopUpRuns :many
-- The person's latest automatic top-ups, for their page.
SELECT t.* FROM auto_topup_runs r JOIN topups t ON t.id = r.topup_id
WHERE r.user_id = $1
ORDER BY r.seq DESC
LIMIT $2;
