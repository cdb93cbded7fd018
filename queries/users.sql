-- name: CreateUser :one
-- time_zone is the IANA name the browser reported, checked by the caller;
-- none is UTC.
INSERT INTO users (email, display_name, password_hash, home_country, time_zone)
VALUES (lower(sqlc.arg(email)::text), sqlc.arg(display_name), sqlc.arg(password_hash), sqlc.arg(home_country),
        COALESCE(sqlc.narg(time_zone)::text, 'UTC'))
RETURNING *;

-- name: CreateWallet :one
INSERT INTO accounts (kind, user_id)
VALUES ('wallet', $1)
RETURNING *;

-- name: GetWalletByUserID :one
SELECT *
FROM accounts
WHERE user_id = $1 AND kind = 'wallet';

-- name: GetUserByID :one
SELECT *
FROM users
WHERE id = $1;

-- name: GetUserByEmail :one
SELECT *
FROM users
WHERE email = lower(sqlc.arg(email)::text);

-- name: UpdatePassword :exec
UPDATE users
SET password_hash = $2, password_changed_at = now(), updated_at = now()
WHERE id = $1;

-- name: UpdateEmail :one
UPDATE users
SET email = lower(sqlc.arg(email)::text), updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: SetUserRole :one
UPDATE users
SET role = sqlc.arg(role), updated_at = now()
WHERE email = lower(sqlc.arg(email)::text)
RETURNING *;

-- name: GetUserWithBalance :one
-- With the automatic top-up banner's text ('' none): why we turned it off,
-- until the person dismisses it or turns it on again.
SELECT sqlc.embed(users), a.id AS account_id, a.cached_balance_cents,
       COALESCE((SELECT t.off_reason FROM auto_topups t
                 WHERE t.user_id = users.id AND t.notice_pending AND t.off_reason IS NOT NULL), '')::text AS auto_topup_notice
FROM users
JOIN accounts a ON a.user_id = users.id AND a.kind = 'wallet'
WHERE users.id = sqlc.arg(id)::uuid;

-- name: SetUserTimeZone :one
UPDATE users
SET time_zone = sqlc.arg(time_zone), updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: GetLiveBalance :one
-- A wallet's balance with its live version, read together: a page shows
-- the one and renders the other, so a live update can tell whether it is
-- newer than what the page shows.
SELECT cached_balance_cents, live_version
FROM accounts
WHERE id = $1 AND kind = 'wallet';

-- name: SetUserLocale :one
-- The language the person chose in Settings (issue 22).
UPDATE users
SET locale = sqlc.arg(locale)::text, updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;
