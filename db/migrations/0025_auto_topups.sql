-- Automatic top-up (issue 21): "when my balance falls below threshold, add
-- amount", with a monthly cap, paid off-session with the saved card by the
-- user's auto top-up workflow (autotopup-<user id>).

-- One row per user who has ever set it up. The amount is one of the
-- top-up packages (checked by the web layer: the packages are
-- configuration); the cap holds at least one top-up.
CREATE TABLE auto_topups (
    user_id           uuid PRIMARY KEY REFERENCES users (id),
    account_id        uuid NOT NULL REFERENCES accounts (id),
    enabled           boolean NOT NULL,
    threshold_cents   bigint NOT NULL CHECK (threshold_cents > 0),
    amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
    monthly_cap_cents bigint NOT NULL CHECK (monthly_cap_cents >= amount_cents),
    -- attempts: the sequence number of the last automatic top-up started;
    -- the next one's id is derived from it, so a retried start names the
    -- same top-up and pays once.
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Why we turned it off (a declined card, a bank asking for the
    -- cardholder, no saved card), and the top-up that failed. The banner
    -- shows off_reason while notice_pending; emailed_at is set once the
    -- one email about it went out.
    off_reason        text CHECK (length(off_reason) <= 500),
    off_topup_id      uuid REFERENCES topups (id),
    off_at            timestamptz,
    notice_pending    boolean NOT NULL DEFAULT false,
    emailed_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auto_topups_account_key UNIQUE (account_id),
    CONSTRAINT auto_topups_off_complete CHECK ((off_reason IS NULL) = (off_at IS NULL))
);

-- Every automatic top-up, by its sequence number: the monthly cap and "one
-- in flight" are read from these and the top-ups' own status.
CREATE TABLE auto_topup_runs (
    topup_id   uuid PRIMARY KEY REFERENCES topups (id),
    user_id    uuid NOT NULL REFERENCES users (id),
    seq        integer NOT NULL CHECK (seq > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auto_topup_runs_user_seq_key UNIQUE (user_id, seq)
);
CREATE INDEX auto_topup_runs_user_created_idx ON auto_topup_runs (user_id, created_at DESC);
