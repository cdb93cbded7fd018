-- name: UpsertCallRating :one
-- The caller's rating of their own call: the first POST inserts it, a
-- second one replaces score and issues (created_at stays). The call must be
-- the user's, final as completed, and at least 5 seconds long; otherwise
-- no row comes back (pgx.ErrNoRows), and the handler tells which.
INSERT INTO call_ratings (call_id, user_id, score, issues)
SELECT c.id, c.user_id, sqlc.arg(score)::smallint, sqlc.arg(issues)::text[]
FROM calls c
WHERE c.id = sqlc.arg(call_id) AND c.user_id = sqlc.arg(user_id)
  AND c.status = 'completed' AND c.duration_seconds >= 5
ON CONFLICT (call_id) DO UPDATE
    SET score = EXCLUDED.score, issues = EXCLUDED.issues, updated_at = now()
RETURNING *;

-- name: GetCallRating :one
SELECT * FROM call_ratings WHERE call_id = $1;

-- name: CallQualityByCountry :many
-- Ratings of the last 7 days per destination country, worst first: the
-- count, the poor ones (score 2 or less), and their share in percent.
SELECT c.destination_country,
       count(*)::bigint AS ratings,
       count(*) FILTER (WHERE r.score <= 2)::bigint AS poor,
       round(100.0 * count(*) FILTER (WHERE r.score <= 2) / count(*))::integer AS poor_percent
FROM call_ratings r
JOIN calls c ON c.id = r.call_id
WHERE r.updated_at >= now() - interval '7 days'
GROUP BY c.destination_country
ORDER BY poor_percent DESC, poor DESC, ratings DESC, c.destination_country;
