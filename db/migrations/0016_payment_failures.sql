-- Every declined or failed payment attempt, as Stripe reported it (issue 24):
-- one row per payment_intent.payment_failed event, whatever the top-up
-- became later (a retry that paid clears topups.failure_code, not this).
-- code is Stripe's error code (card_declined, expired_card, ...),
-- decline_code the issuer's reason when there is one (generic_decline,
-- insufficient_funds, ...). Keyed by the event id, so a webhook delivered
-- twice records once; append-only.
CREATE TABLE payment_failures (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stripe_event_id text NOT NULL UNIQUE CHECK (length(stripe_event_id) BETWEEN 1 AND 255),
    topup_id        uuid NOT NULL REFERENCES topups (id),
    user_id         uuid NOT NULL REFERENCES users (id),
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    code            text CHECK (length(code) <= 255),
    decline_code    text CHECK (length(decline_code) <= 255),
    message         text CHECK (length(message) <= 1000),
    failed_at       timestamptz NOT NULL DEFAULT now(),
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_failures_newest_idx ON payment_failures (id DESC);
CREATE INDEX payment_failures_topup_idx ON payment_failures (topup_id, id);
CREATE TRIGGER payment_failures_no_update_delete
    BEFORE UPDATE OR DELETE ON payment_failures
    FOR EACH ROW EXECUTE FUNCTION append_only();
