-- name: ListRates :many
SELECT *
FROM call_rates
ORDER BY prefix;

-- name: DeleteRatesNotIn :execrows
DELETE FROM call_rates
WHERE NOT (prefix = ANY(sqlc.arg(prefixes)::text[]));

-- name: UpsertRate :exec
INSERT INTO call_rates (prefix, country, description, per_minute_micros, connection_fee_micros, enabled)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (prefix) DO UPDATE
SET country = EXCLUDED.country,
    description = EXCLUDED.description,
    per_minute_micros = EXCLUDED.per_minute_micros,
    connection_fee_micros = EXCLUDED.connection_fee_micros,
    enabled = EXCLUDED.enabled,
    updated_at = now()
WHERE (call_rates.country, call_rates.description, call_rates.per_minute_micros,
       call_rates.connection_fee_micros, call_rates.enabled)
   IS DISTINCT FROM (EXCLUDED.country, EXCLUDED.description, EXCLUDED.per_minute_micros,
       EXCLUDED.connection_fee_micros, EXCLUDED.enabled);

-- name: CountRates :one
SELECT count(*) FROM call_rates;

-- name: NotifyRatesChanged :exec
SELECT pg_notify('rates_changed', '');

-- name: ListRatesByCountry :many
SELECT *
FROM call_rates
WHERE country = $1
ORDER BY prefix;

-- name: ListPricedCountries :many
SELECT DISTINCT country
FROM call_rates
WHERE enabled
ORDER BY country;

-- name: InsertRateIfAbsent :execrows
-- Adds a rate unless the prefix exists already, in any country.
INSERT INTO call_rates (prefix, country, description, per_minute_micros, connection_fee_micros, enabled)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (prefix) DO NOTHING;
