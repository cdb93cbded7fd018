-- name: CreatePasswordReset :exec
INSERT INTO password_resets (token_hash, user_id, expires_at)
VALUES ($1, $2, $3);

-- name: UsePasswordReset :one
-- Claims a reset: works once, and only before it expires.
UPDATE password_resets
SET used_at = now()
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING user_id;

-- name: PeekPasswordReset :one
-- Whether a reset can still be used, without using it (to show the form).
SELECT user_id
FROM password_resets
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now();

-- name: RecordSignInFailure :one
-- Counts a failure; a count older than the window starts again at one.
INSERT INTO sign_in_failures AS f (scope, key, failures)
VALUES ($1, $2, 1)
ON CONFLICT (scope, key) DO UPDATE
SET failures = CASE WHEN f.last_failed_at < now() - sqlc.arg(window_seconds)::int * interval '1 second'
                    THEN 1 ELSE f.failures + 1 END,
    first_failed_at = CASE WHEN f.last_failed_at < now() - sqlc.arg(window_seconds)::int * interval '1 second'
                    THEN now() ELSE f.first_failed_at END,
    last_failed_at = now()
RETURNING failures;

-- name: SignInFailures :one
-- The current count within the window, zero when none.
SELECT COALESCE((
    SELECT failures FROM sign_in_failures
    WHERE scope = $1 AND key = $2
      AND last_failed_at >= now() - sqlc.arg(window_seconds)::int * interval '1 second'
), 0)::int AS failures;

-- name: ClearSignInFailures :exec
DELETE FROM sign_in_failures
WHERE scope = $1 AND key = $2;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions
WHERE expiry < now();

-- name: ReleaseSignInAttempt :exec
-- Takes back the attempt a successful sign-in counted up front.
UPDATE sign_in_failures SET failures = failures - 1
WHERE scope = $1 AND key = $2 AND failures > 1;

-- name: InvalidatePasswordResets :exec
-- A password or email change voids every reset link still outstanding.
UPDATE password_resets SET used_at = now()
WHERE user_id = $1 AND used_at IS NULL;

-- name: RecordAttempt :one
-- Counts an attempt in a fixed window: a count whose window began longer
-- ago than the window starts again at one. first_failed_at is when the
-- current window began (the attempt may well have succeeded: the column
-- names are sign-in's, the first user of this table).
INSERT INTO sign_in_failures AS f (scope, key, failures)
VALUES ($1, $2, 1)
ON CONFLICT (scope, key) DO UPDATE
SET failures = CASE WHEN f.first_failed_at < now() - sqlc.arg(window_seconds)::int * interval '1 second'
                    THEN 1 ELSE f.failures + 1 END,
    first_failed_at = CASE WHEN f.first_failed_at < now() - sqlc.arg(window_seconds)::int * interval '1 second'
                    THEN now() ELSE f.first_failed_at END,
    last_failed_at = now()
RETURNING failures, (EXTRACT(EPOCH FROM (f.first_failed_at + sqlc.arg(window_seconds)::int * interval '1 second' - now())))::int AS retry_after_seconds;

-- name: CreateEmailConfirmation :exec
INSERT INTO email_confirmations (token_hash, user_id, email, bonus_cents, expires_at)
VALUES ($1, $2, $3, $4, $5);

-- name: UseEmailConfirmation :one
-- Claims a confirmation: works once, and only before it expires.
UPDATE email_confirmations
SET used_at = now()
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING user_id, email, bonus_cents;

-- name: PeekEmailConfirmation :one
SELECT user_id
FROM email_confirmations
WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now();
