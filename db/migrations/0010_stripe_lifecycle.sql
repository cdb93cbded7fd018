-- Stripe as it really behaves: the whole dispute and refund lifecycle in
-- the ledger, top-ups held for support when Stripe does not confirm what a
-- signal claims, and events of another API version kept rather than
-- refused.

-- A won dispute gives the disputed money back (dispute_reversal, Stripe's
-- reporting category of the same name) and a refund that fails after it
-- was posted gives the refund back (refund_failure): each is a new entry
-- against the stripe house account, never an edit of the first. Only the
-- constraints that name kinds change; the overdraft rule is left as it is.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_kind_check,
    DROP CONSTRAINT transactions_sign_matches_kind,
    DROP CONSTRAINT transactions_counterparty_matches_kind,
    DROP CONSTRAINT transactions_references_match_kind;
ALTER TABLE transactions
    ADD CONSTRAINT transactions_kind_check CHECK (kind IN (
        'purchase', 'call_charge', 'refund', 'dispute', 'bonus', 'adjustment',
        'dispute_reversal', 'refund_failure')),
    ADD CONSTRAINT transactions_sign_matches_kind CHECK (
        (kind IN ('purchase', 'bonus', 'dispute_reversal', 'refund_failure') AND amount_cents > 0)
        OR (kind IN ('call_charge', 'refund', 'dispute') AND amount_cents < 0)
        OR (kind = 'adjustment' AND amount_cents <> 0)
    ),
    ADD CONSTRAINT transactions_counterparty_matches_kind CHECK (
        (kind IN ('purchase', 'refund', 'dispute', 'dispute_reversal', 'refund_failure') AND counterparty = 'stripe')
        OR (kind = 'call_charge' AND counterparty = 'call_revenue')
        OR (kind = 'bonus' AND counterparty = 'promotions')
        OR (kind = 'adjustment' AND counterparty = 'adjustments')
    ),
    ADD CONSTRAINT transactions_references_match_kind CHECK (
        (kind <> 'call_charge' OR call_id IS NOT NULL)
        AND (kind NOT IN ('purchase', 'refund', 'dispute', 'dispute_reversal', 'refund_failure') OR topup_id IS NOT NULL)
    );

-- A top-up whose credit (or reversal) Stripe did not confirm: nothing was
-- posted, and support must look. The workflow keeps listening; a payment
-- Stripe later confirms clears the mark.
ALTER TABLE topups
    ADD COLUMN stuck_reason text,
    ADD COLUMN stuck_at     timestamptz,
    ADD CONSTRAINT topups_stuck_complete CHECK ((stuck_reason IS NULL) = (stuck_at IS NULL));
CREATE INDEX topups_stuck_idx ON topups (stuck_at) WHERE stuck_reason IS NOT NULL;

-- Stripe events rendered in another API version than the one this build
-- pins: kept with their raw, signature-checked body and answered 2xx, so
-- Stripe never gives up on the endpoint. One the pinned version could read
-- went on to its top-up as usual (handled); one it could not waits here for
-- support (problem says why).
CREATE TABLE stripe_version_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
    event_type   text NOT NULL,
    api_version  text NOT NULL,
    livemode     boolean NOT NULL,
    raw_body     bytea NOT NULL,
    handled      boolean NOT NULL,
    problem      text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stripe_version_events_event_id_key UNIQUE (event_id),
    CONSTRAINT stripe_version_events_problem_unless_handled CHECK (handled OR problem IS NOT NULL)
);
CREATE INDEX stripe_version_events_problem_idx ON stripe_version_events (received_at DESC) WHERE NOT handled;
