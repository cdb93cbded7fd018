-- name: CreateUser :one
INSERT INTO users (email, display_name, password_hash, home_country)
VALUES (lower(sqlc.arg(email)::text), sqlc.arg(display_name), sqlc.arg(password_hash), sqlc.arg(home_country))
RETURNING *;

-- name: CreateWallet :one
INSERT INTO accounts (kind, user_id)
VALUES ('wallet', $1)
RETURNING *;

-- name: GetWalletByUserID :one
SELECT *
FROM accounts
WHERE user_id = $1 AND kind = 'wallet';
