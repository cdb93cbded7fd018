-- Verified caller IDs (0022). Every query a person's request runs names
-- the user: another user's number is no row. The workflow's writes name
-- the attempt too: a run never changes a later attempt's row.

-- name: GetCallerID :one
SELECT * FROM caller_ids WHERE user_id = $1;

-- name: CallerIDVerifiedElsewhere :one
-- Whether another account holds e164 verified (the form's early refusal;
-- caller_ids_verified_number is the guarantee).
SELECT EXISTS (SELECT 1 FROM caller_ids WHERE e164 = $1 AND status = 'verified' AND user_id <> $2)::bool;

-- name: CreateCallerID :one
-- A new number, pending its first attempt. The user's earlier number must
-- have been removed (UNIQUE user_id).
INSERT INTO caller_ids (user_id, e164) VALUES ($1, $2)
RETURNING *;

-- name: RetryCallerID :one
-- A new attempt at a number that failed or expired; none while one is
-- pending or once it is verified.
UPDATE caller_ids
SET status = 'pending', attempt = attempt + 1, validation_code = NULL, validation_call_sid = NULL,
    failure_reason = NULL, updated_at = now()
WHERE user_id = $1 AND status IN ('failed', 'expired')
RETURNING *;

-- name: DeleteCallerID :one
DELETE FROM caller_ids WHERE user_id = $1
RETURNING *;

-- name: SetCallerIDValidation :one
-- The code Twilio gave for this attempt, for the page to show.
UPDATE caller_ids
SET validation_code = sqlc.arg(validation_code), validation_call_sid = sqlc.arg(validation_call_sid), updated_at = now()
WHERE user_id = sqlc.arg(user_id) AND e164 = sqlc.arg(e164) AND attempt = sqlc.arg(attempt) AND status = 'pending'
RETURNING *;

-- name: VerifyCallerID :one
-- The attempt succeeded. No row: the number was removed (or retried)
-- meanwhile. A unique violation: another account verified it first.
UPDATE caller_ids
SET status = 'verified', outgoing_caller_id_sid = sqlc.arg(outgoing_caller_id_sid), validation_code = NULL,
    verified_at = now(), updated_at = now()
WHERE user_id = sqlc.arg(user_id) AND e164 = sqlc.arg(e164) AND attempt = sqlc.arg(attempt) AND status = 'pending'
RETURNING *;

-- name: EndCallerIDAttempt :one
-- The attempt failed or expired, with the reason shown to the person.
UPDATE caller_ids
SET status = sqlc.arg(status), failure_reason = sqlc.arg(failure_reason), validation_code = NULL, updated_at = now()
WHERE user_id = sqlc.arg(user_id) AND e164 = sqlc.arg(e164) AND attempt = sqlc.arg(attempt) AND status = 'pending'
  AND sqlc.arg(status)::text IN ('failed', 'expired')
RETURNING *;
