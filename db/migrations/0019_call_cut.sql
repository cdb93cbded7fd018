-- A money loss during a call (issue 24): a refund, a dispute or a staff
-- debit that leaves the balance short of what the call may still cost cuts
-- it. cut_seconds is the talk time the call workflow ends it at (0: at
-- once), cut_reason what lowered the balance; both NULL when no cut
-- stands. The live stream carries the cut to the caller's in-call bar.
ALTER TABLE calls ADD COLUMN cut_seconds integer CHECK (cut_seconds >= 0);
ALTER TABLE calls ADD COLUMN cut_reason text CHECK (length(cut_reason) <= 64);

CREATE OR REPLACE FUNCTION notify_call_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('call_changed', json_build_object(
        'user_id', NEW.user_id, 'call_id', NEW.id, 'version', NEW.live_version,
        'status', NEW.status, 'billing_state', NEW.billing_state,
        'cost_cents', NEW.cost_cents, 'duration_seconds', NEW.duration_seconds,
        'number', NEW.phone_number, 'country', NEW.destination_country,
        'created_at', NEW.created_at, 'cut_seconds', NEW.cut_seconds,
        'cut_reason', NEW.cut_reason)::text);
    RETURN NULL;
END;
$$;

DROP TRIGGER calls_changed ON calls;
CREATE TRIGGER calls_changed
    AFTER UPDATE ON calls
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          OR NEW.billing_state IS DISTINCT FROM OLD.billing_state
          OR NEW.cost_cents IS DISTINCT FROM OLD.cost_cents
          OR NEW.duration_seconds IS DISTINCT FROM OLD.duration_seconds
          OR NEW.cut_seconds IS DISTINCT FROM OLD.cut_seconds)
    EXECUTE FUNCTION notify_call_changed();
