-- Email receipts (issue 21, item 4): the outbox of the receipts we owe.
-- One row per ledger entry that moved money between a wallet and Stripe (a
-- credited top-up, a refund, a dispute, and a refund's failure or a
-- dispute's win that gives money back), written in the posting's own
-- transaction and keyed by the entry's idempotency key: a posting replayed
-- writes no second row, and a posting rolled back leaves none. The web
-- role's receipts deliverer (internal/receipts) leases the pending ones,
-- sends them and marks them sent; everything a receipt says is read from
-- the entry itself at send time, except the card's last four digits, which
-- only the payment knew when it was posted.
CREATE TABLE receipts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL REFERENCES transactions (idempotency_key),
    card_last4      text CHECK (card_last4 ~ '^[0-9]{4}$'),
    queued_at       timestamptz NOT NULL DEFAULT now(),
    -- Leased: a deliverer moves it into the future while it sends, so two
    -- deliverers do not send one receipt at once; a failure moves it by a
    -- backoff.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text CHECK (length(last_error) <= 1000),
    sent_at         timestamptz,
    -- Given up after too many failures: support reads last_error.
    gave_up_at      timestamptz,
    CONSTRAINT receipts_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT receipts_sent_or_given_up CHECK (sent_at IS NULL OR gave_up_at IS NULL)
);
CREATE INDEX receipts_pending_idx ON receipts (next_attempt_at, id)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;
