-- "Download my data" (issue 22, item 2): one row per export a user asked
-- for. The DataExport workflow (export-<user id>-<n>) builds the ZIP of
-- everything that is the user's and writes it here itself, so the ZIP
-- never passes through Temporal; any web instance serves it from here.
-- The download link's token is stored only as its SHA-256 (like password
-- resets); the blob is deleted at expires_at by the same workflow, which
-- keeps the row (status expired) so that an old link answers 410.
CREATE TABLE data_exports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- n numbers the user's exports (1, 2, ...): the workflow ID's suffix.
    n           integer NOT NULL CHECK (n > 0),
    status      text NOT NULL DEFAULT 'preparing'
                CHECK (status IN ('preparing', 'ready', 'expired', 'failed')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    -- Written by the build: the ZIP and its size.
    zip         bytea,
    size_bytes  bigint CHECK (size_bytes >= 0),
    built_at    timestamptz,
    -- Written when the link is issued (before it is emailed).
    token_hash  bytea CHECK (length(token_hash) = 32),
    expires_at  timestamptz,
    emailed_at  timestamptz,
    expired_at  timestamptz,
    CONSTRAINT data_exports_user_n_key UNIQUE (user_id, n),
    CONSTRAINT data_exports_token_hash_key UNIQUE (token_hash),
    CONSTRAINT data_exports_ready_is_complete CHECK (
        status <> 'ready' OR (zip IS NOT NULL AND token_hash IS NOT NULL AND expires_at IS NOT NULL AND emailed_at IS NOT NULL)),
    CONSTRAINT data_exports_blob_only_while_live CHECK (status IN ('preparing', 'ready') OR zip IS NULL)
);
-- One export at a time per user: a second request while one is being
-- prepared is refused by this index.
CREATE UNIQUE INDEX data_exports_one_preparing_idx ON data_exports (user_id) WHERE status = 'preparing';
