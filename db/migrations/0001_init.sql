-- Mobayilo's first schema: users and their wallets, the append-only ledger,
-- calls, the rate deck, top-ups and the webhook inbox.
--
-- Money is integer: balances and ledger amounts in US cents, per-minute
-- prices in micro-dollars (1/1,000,000 USD). Rules that protect money live
-- here as constraints, not only in Go.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    home_country  text NOT NULL CHECK (home_country ~ '^[A-Z]{2}$'),
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- accounts: one wallet per user, plus the house accounts every ledger entry
-- names as its counter-party. Only wallets cache a balance; a house balance
-- is derived by SUM over the ledger, so no house row is ever hot.
CREATE TABLE accounts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                 text NOT NULL CHECK (kind IN ('wallet', 'house')),
    user_id              uuid REFERENCES users (id),
    house_name           text CHECK (house_name IN ('stripe', 'call_revenue', 'promotions', 'adjustments')),
    currency             text NOT NULL DEFAULT 'USD' CHECK (currency = 'USD'),
    cached_balance_cents bigint NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_user_id_key UNIQUE (user_id),
    CONSTRAINT accounts_house_name_key UNIQUE (house_name),
    CONSTRAINT accounts_id_kind_key UNIQUE (id, kind),
    CONSTRAINT accounts_owner_matches_kind CHECK (
        (kind = 'wallet' AND user_id IS NOT NULL AND house_name IS NULL)
        OR (kind = 'house' AND user_id IS NULL AND house_name IS NOT NULL)
    ),
    CONSTRAINT accounts_house_balance_not_cached CHECK (kind = 'wallet' OR cached_balance_cents = 0)
);

INSERT INTO accounts (kind, house_name)
VALUES ('house', 'stripe'), ('house', 'call_revenue'), ('house', 'promotions'), ('house', 'adjustments');

-- call_rates: the rate deck, matched by longest digit prefix of the E.164
-- number (without the +).
CREATE TABLE call_rates (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix                text NOT NULL CHECK (prefix ~ '^[1-9][0-9]{0,14}$'),
    country               text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    description           text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    per_minute_micros     bigint NOT NULL CHECK (per_minute_micros > 0),
    connection_fee_micros bigint NOT NULL DEFAULT 0 CHECK (connection_fee_micros >= 0),
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_rates_prefix_key UNIQUE (prefix)
);

-- calls: one row per call attempt. The rate is locked onto the row at
-- authorization; the status moves forward only (the call workflow and the
-- voice webhook race with conditional updates on it).
CREATE TABLE calls (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               uuid NOT NULL REFERENCES users (id),
    account_id            uuid NOT NULL,
    account_kind          text NOT NULL DEFAULT 'wallet' CHECK (account_kind = 'wallet'),
    phone_number          text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    destination_country   text NOT NULL CHECK (destination_country ~ '^[A-Z]{2}$'),
    rate_prefix           text,
    per_minute_micros     bigint CHECK (per_minute_micros > 0),
    connection_fee_micros bigint NOT NULL DEFAULT 0 CHECK (connection_fee_micros >= 0),
    max_seconds           integer CHECK (max_seconds >= 0),
    client_identity       text NOT NULL,
    authorized_until      timestamptz,
    status                text NOT NULL DEFAULT 'created' CHECK (status IN (
        'created', 'authorized', 'dialing', 'ringing', 'in_progress',
        'completed', 'busy', 'no_answer', 'failed', 'canceled', 'refused')),
    parent_call_sid       text,
    child_call_sid        text,
    duration_seconds      integer CHECK (duration_seconds >= 0),
    cost_cents            bigint CHECK (cost_cents >= 0),
    billing_state         text NOT NULL DEFAULT 'pending' CHECK (billing_state IN (
        'pending', 'charged', 'not_billable', 'stuck')),
    end_reason            text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    answered_at           timestamptz,
    ended_at              timestamptz,
    CONSTRAINT calls_parent_call_sid_key UNIQUE (parent_call_sid),
    CONSTRAINT calls_child_call_sid_key UNIQUE (child_call_sid),
    CONSTRAINT calls_id_account_key UNIQUE (id, account_id),
    CONSTRAINT calls_account_is_wallet FOREIGN KEY (account_id, account_kind) REFERENCES accounts (id, kind),
    CONSTRAINT calls_authorized_has_terms CHECK (
        status IN ('created', 'refused')
        OR (per_minute_micros IS NOT NULL AND max_seconds IS NOT NULL AND authorized_until IS NOT NULL)
    )
);

-- One active call per user: a balance cannot be spent on two calls at once.
CREATE UNIQUE INDEX calls_one_active_per_user ON calls (user_id)
    WHERE status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress');
CREATE INDEX calls_user_created_idx ON calls (user_id, created_at DESC);

-- topups: one row per purchase attempt of a fixed package.
CREATE TABLE topups (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES users (id),
    account_id        uuid NOT NULL,
    account_kind      text NOT NULL DEFAULT 'wallet' CHECK (account_kind = 'wallet'),
    package_code      text NOT NULL,
    amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
    currency          text NOT NULL DEFAULT 'USD' CHECK (currency = 'USD'),
    status            text NOT NULL DEFAULT 'created' CHECK (status IN (
        'created', 'processing', 'succeeded', 'failed', 'canceled', 'refunded', 'disputed')),
    payment_intent_id text,
    failure_message   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    credited_at       timestamptz,
    CONSTRAINT topups_payment_intent_id_key UNIQUE (payment_intent_id),
    CONSTRAINT topups_id_account_key UNIQUE (id, account_id),
    CONSTRAINT topups_account_is_wallet FOREIGN KEY (account_id, account_kind) REFERENCES accounts (id, kind)
);
CREATE INDEX topups_user_created_idx ON topups (user_id, created_at DESC);

-- transactions: the append-only ledger and the source of truth for every
-- balance. Each entry moves money between one wallet (account_id) and one
-- house account (counterparty), signed from the wallet's side. The wallet's
-- cached balance is updated in the same database transaction; balance_after
-- chains the wallet's entries in id order.
CREATE TABLE transactions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          uuid NOT NULL,
    account_kind        text NOT NULL DEFAULT 'wallet' CHECK (account_kind = 'wallet'),
    counterparty        text NOT NULL REFERENCES accounts (house_name),
    kind                text NOT NULL CHECK (kind IN (
        'purchase', 'call_charge', 'refund', 'dispute', 'bonus', 'adjustment')),
    amount_cents        bigint NOT NULL,
    balance_after_cents bigint NOT NULL,
    idempotency_key     text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash        bytea NOT NULL CHECK (length(request_hash) = 32),
    call_id             uuid,
    topup_id            uuid,
    memo                text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transactions_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT transactions_account_is_wallet FOREIGN KEY (account_id, account_kind)
        REFERENCES accounts (id, kind),
    -- A call or top-up an entry names belongs to the entry's own wallet.
    CONSTRAINT transactions_call_of_wallet FOREIGN KEY (call_id, account_id)
        REFERENCES calls (id, account_id),
    CONSTRAINT transactions_topup_of_wallet FOREIGN KEY (topup_id, account_id)
        REFERENCES topups (id, account_id),
    -- Only a credit, a refund or a dispute may leave a balance below zero
    -- (the same rule PostEntry applies while it holds the wallet's lock).
    CONSTRAINT transactions_no_overdraft CHECK (
        amount_cents > 0 OR balance_after_cents >= 0 OR kind IN ('refund', 'dispute')
    ),
    CONSTRAINT transactions_sign_matches_kind CHECK (
        (kind IN ('purchase', 'bonus') AND amount_cents > 0)
        OR (kind IN ('call_charge', 'refund', 'dispute') AND amount_cents < 0)
        OR (kind = 'adjustment' AND amount_cents <> 0)
    ),
    CONSTRAINT transactions_counterparty_matches_kind CHECK (
        (kind IN ('purchase', 'refund', 'dispute') AND counterparty = 'stripe')
        OR (kind = 'call_charge' AND counterparty = 'call_revenue')
        OR (kind = 'bonus' AND counterparty = 'promotions')
        OR (kind = 'adjustment' AND counterparty = 'adjustments')
    ),
    CONSTRAINT transactions_references_match_kind CHECK (
        (kind <> 'call_charge' OR call_id IS NOT NULL)
        AND (kind NOT IN ('purchase', 'refund', 'dispute') OR topup_id IS NOT NULL)
    )
);
CREATE INDEX transactions_account_id_idx ON transactions (account_id, id);
CREATE INDEX transactions_call_id_idx ON transactions (call_id) WHERE call_id IS NOT NULL;
CREATE INDEX transactions_topup_id_idx ON transactions (topup_id) WHERE topup_id IS NOT NULL;
-- Belt and braces beside the idempotency keys: one charge per call, one
-- credit per top-up, whatever key a caller builds.
CREATE UNIQUE INDEX transactions_one_charge_per_call ON transactions (call_id) WHERE kind = 'call_charge';
CREATE UNIQUE INDEX transactions_one_purchase_per_topup ON transactions (topup_id) WHERE kind = 'purchase';

-- The ledger is append-only: corrections are new entries, never edits.
CREATE FUNCTION transactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transactions is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER transactions_no_update_delete
    BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_append_only();
CREATE TRIGGER transactions_no_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_append_only();

-- webhook_events: the inbox of authenticated webhook deliveries (Twilio and
-- Stripe). A delivery is stored once per dedup key before it is answered,
-- then delivered to its workflow; a sweeper redelivers what Temporal has not
-- taken yet.
CREATE TABLE webhook_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text NOT NULL CHECK (source IN ('twilio', 'stripe')),
    dedup_key       text NOT NULL CHECK (length(dedup_key) BETWEEN 1 AND 300),
    event_type      text NOT NULL,
    workflow_id     text,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    CONSTRAINT webhook_events_source_dedup_key_key UNIQUE (source, dedup_key)
);
CREATE INDEX webhook_events_undelivered_idx ON webhook_events (next_attempt_at)
    WHERE delivered_at IS NULL;
