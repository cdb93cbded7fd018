-- Housekeeping: rows kept only for a while, pruned daily by the
-- Housekeeping workflow in batches (short transactions, no long lock).

-- name: PruneSignInFailures :execrows
-- Failure counts last touched before the cutoff (long past any window).
DELETE FROM sign_in_failures
WHERE (scope, key) IN (
    SELECT f.scope, f.key FROM sign_in_failures f
    WHERE f.last_failed_at < sqlc.arg(before)
    LIMIT sqlc.arg(batch)
);

-- name: PrunePasswordResets :execrows
-- Reset tokens, used or not, that expired before the cutoff.
DELETE FROM password_resets
WHERE token_hash IN (
    SELECT r.token_hash FROM password_resets r
    WHERE r.expires_at < sqlc.arg(before)
    LIMIT sqlc.arg(batch)
);

-- name: PruneExpiredSessions :execrows
-- Sessions past their expiry: scs refuses them already.
DELETE FROM sessions
WHERE token IN (
    SELECT s.token FROM sessions s
    WHERE s.expiry < sqlc.arg(before)
    LIMIT sqlc.arg(batch)
);

-- name: PruneDeliveredWebhookEvents :execrows
-- Webhook deliveries handed to their workflow before the cutoff. An
-- undelivered one is kept whatever its age: it is still owed.
DELETE FROM webhook_events
WHERE id IN (
    SELECT e.id FROM webhook_events e
    WHERE e.delivered_at IS NOT NULL AND e.delivered_at < sqlc.arg(before)::timestamptz
    ORDER BY e.id
    LIMIT sqlc.arg(batch)
);

-- name: PruneEmailConfirmations :execrows
-- Confirmation links, used or not, that expired before the cutoff.
DELETE FROM email_confirmations
WHERE token_hash IN (
    SELECT c.token_hash FROM email_confirmations c
    WHERE c.expires_at < sqlc.arg(before)
    LIMIT sqlc.arg(batch)
);
