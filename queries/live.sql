-- name: LockUserLiveStreams :exec
-- Serialises the openings of one user's streams (until commit).
SELECT pg_advisory_xact_lock(hashtextextended(sqlc.arg(user_id)::uuid::text, 0));

-- name: OpenLiveStream :exec
INSERT INTO live_streams (id, user_id, session_token, password_changed_at)
VALUES ($1, $2, $3, $4);

-- name: EvictLiveStreams :many
-- Removes all but the newest keep streams of a user; returns the removed.
DELETE FROM live_streams
WHERE id IN (
    SELECT l.id FROM live_streams l
    WHERE l.user_id = sqlc.arg(user_id)
    ORDER BY l.opened_at DESC, l.id DESC
    OFFSET sqlc.arg(keep)::int
)
RETURNING id;

-- name: CloseLiveStream :exec
DELETE FROM live_streams
WHERE id = $1;

-- name: LiveStreamsStillValid :many
-- Of the given streams, those that may go on: their row is there (not
-- pushed out), their session is alive, and their user is enabled with the
-- password they signed in with.
SELECT l.id
FROM live_streams l
JOIN sessions s ON s.token = l.session_token
JOIN users u ON u.id = l.user_id
WHERE l.id = ANY(sqlc.arg(ids)::uuid[])
  AND s.expiry > now()
  AND u.disabled_at IS NULL
  AND u.password_changed_at = l.password_changed_at;
