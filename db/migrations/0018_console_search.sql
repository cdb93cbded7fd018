-- The support console's search finds a call by any part of its number and
-- a user by part of their name or of their email before the @ (issue 24).
-- Those are LIKE '%…%' matches: trigram indexes keep them off a scan of
-- every call. pg_trgm ships with Postgres (Debian's postgresql-15, the
-- postgres image) and is a trusted extension: the database's owner may
-- create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX calls_phone_number_trgm_idx ON calls USING gin (phone_number gin_trgm_ops);
CREATE INDEX users_display_name_trgm_idx ON users USING gin (lower(display_name) gin_trgm_ops);
CREATE INDEX users_email_local_trgm_idx ON users USING gin (split_part(email, '@', 1) gin_trgm_ops);
