-- Accounts and sign-in: server-side sessions, single-use password resets,
-- and sign-in throttling shared by every web instance.

-- Bumped whenever the password changes; sessions signed in before it are
-- no longer honoured (a reset signs out every other device).
ALTER TABLE users ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();

-- sessions: alexedwards/scs's pgxstore table.
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- password_resets: only a SHA-256 of the emailed token is stored; a reset
-- is used by one conditional update, so it works once.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- sign_in_failures: consecutive failed sign-ins per email and per client IP
-- within a window; a success clears the email's count.
CREATE TABLE sign_in_failures (
    scope           text NOT NULL CHECK (scope IN ('email', 'ip')),
    key             text NOT NULL,
    failures        integer NOT NULL CHECK (failures > 0),
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
