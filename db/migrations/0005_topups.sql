-- Top-ups: what Stripe said about a payment, refunds and disputes, and
-- live updates of a top-up's state; webhook deliveries that may start the
-- workflow they signal.

ALTER TABLE topups
    ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    ADD COLUMN disputed_cents bigint NOT NULL DEFAULT 0 CHECK (disputed_cents >= 0),
    ADD COLUMN failure_code   text,
    ADD COLUMN receipt_email  text;
-- No CHECK ties refunds plus disputes to the amount: a charge refunded in
-- part can still be disputed in full, and the ledger records what Stripe
-- moved.

-- The page a user returns to after paying, and every open page of theirs,
-- learn of a top-up's new state at once (NOTIFY topup_changed at commit).
CREATE FUNCTION notify_topup_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('topup_changed', json_build_object(
        'user_id', NEW.user_id, 'topup_id', NEW.id, 'topup_status', NEW.status,
        'amount_cents', NEW.amount_cents, 'failure_message', NEW.failure_message)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER topups_status_changed
    AFTER UPDATE OF status, failure_message ON topups
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.failure_message IS DISTINCT FROM OLD.failure_message)
    EXECUTE FUNCTION notify_topup_changed();

-- A delivery may name the workflow to start when its target has finished
-- (signal-with-start): a refund weeks after a top-up's workflow completed
-- starts it again to post the reversal.
ALTER TABLE webhook_events
    ADD COLUMN start_workflow text,
    ADD COLUMN start_input    jsonb,
    ADD CONSTRAINT webhook_events_start_complete CHECK ((start_workflow IS NULL) = (start_input IS NULL));

CREATE INDEX topups_processing_idx ON topups (created_at) WHERE status IN ('created', 'processing', 'failed');
