-- Abuse limits (issue 16). sign_in_failures becomes the one counter of
-- every throttled attempt: failed password checks (scopes email and ip,
-- as before) and, in fixed one-hour windows, sign-ups per address, reset
-- requests per email and per address, and top-ups per user. Keys are
-- short by construction (emails are capped at 254 characters before they
-- are counted; addresses are an IPv4 address or an IPv6 /64).
ALTER TABLE sign_in_failures DROP CONSTRAINT sign_in_failures_scope_check;
ALTER TABLE sign_in_failures ADD CONSTRAINT sign_in_failures_scope_check
    CHECK (scope IN ('email', 'ip', 'signup_ip', 'reset_email', 'reset_ip', 'topup_user'));

-- email_confirmations: with a sign-up bonus, the bonus is credited only
-- when the person opens the link emailed at sign-up. As with resets, only
-- a SHA-256 of the token is stored and one conditional update uses it, so
-- it works once; the ledger key bonus:signup:<user> makes the credit one
-- whatever happens. The bonus promised at sign-up is kept with the token.
CREATE TABLE email_confirmations (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    bonus_cents bigint NOT NULL CHECK (bonus_cents > 0),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_confirmations_user_idx ON email_confirmations (user_id);

-- live_streams: every open /live stream, whichever web instance holds it.
-- A stream ends when its row goes: its session is deleted (sign-out; the
-- cascade), a newer stream of the user's pushed it out (LIVE_MAX_STREAMS_
-- PER_USER), or its user was disabled or changed password (checked against
-- password_changed_at as it was at sign-in). Each instance checks its own
-- streams every few seconds, so this works across instances. A row left by
-- an instance that died is the user's oldest and goes first.
CREATE TABLE live_streams (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_token       text NOT NULL REFERENCES sessions (token) ON DELETE CASCADE,
    password_changed_at timestamptz NOT NULL,
    opened_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX live_streams_user_idx ON live_streams (user_id, opened_at);
CREATE INDEX live_streams_session_idx ON live_streams (session_token);
