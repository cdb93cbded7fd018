-- Live updates that are never stale, and times in the person's own zone.
--
-- Every row a page shows live (a wallet's balance, a call, a top-up) carries
-- live_version, bumped by each change of that row. Changes of one row are
-- serialised by its row lock, so its versions grow in commit order. Pages
-- render the version of what they show and every NOTIFY carries the version
-- of the row it announces; the browser ignores anything not newer than what
-- it shows, however late, repeated or reordered it arrives (a stream that
-- reopens and sends the current state, a render that raced a NOTIFY).

ALTER TABLE accounts ADD COLUMN live_version bigint NOT NULL DEFAULT 0;
ALTER TABLE calls    ADD COLUMN live_version bigint NOT NULL DEFAULT 0;
ALTER TABLE topups   ADD COLUMN live_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_live_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.live_version := OLD.live_version + 1;
    RETURN NEW;
END;
$$;

-- A wallet's version counts the changes of its balance only.
CREATE TRIGGER accounts_live_version
    BEFORE UPDATE OF cached_balance_cents ON accounts
    FOR EACH ROW
    WHEN (NEW.cached_balance_cents IS DISTINCT FROM OLD.cached_balance_cents)
    EXECUTE FUNCTION bump_live_version();
CREATE TRIGGER calls_live_version
    BEFORE UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION bump_live_version();
CREATE TRIGGER topups_live_version
    BEFORE UPDATE ON topups
    FOR EACH ROW EXECUTE FUNCTION bump_live_version();

CREATE OR REPLACE FUNCTION notify_balance_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('balance_changed', json_build_object(
        'user_id', NEW.user_id, 'balance_cents', NEW.cached_balance_cents,
        'version', NEW.live_version)::text);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION notify_topup_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('topup_changed', json_build_object(
        'user_id', NEW.user_id, 'topup_id', NEW.id, 'topup_status', NEW.status,
        'amount_cents', NEW.amount_cents, 'failure_message', NEW.failure_message,
        'version', NEW.live_version)::text);
    RETURN NULL;
END;
$$;

-- call_changed: whatever changed a call row a person sees (its status, its
-- billing, its cost), whoever changed it, with what a History row shows.
-- It replaces call_events as the live stream's source: the events table
-- records statuses only, not the charge that follows the final one.
CREATE FUNCTION notify_call_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('call_changed', json_build_object(
        'user_id', NEW.user_id, 'call_id', NEW.id, 'version', NEW.live_version,
        'status', NEW.status, 'billing_state', NEW.billing_state,
        'cost_cents', NEW.cost_cents, 'duration_seconds', NEW.duration_seconds,
        'number', NEW.phone_number, 'country', NEW.destination_country,
        'created_at', NEW.created_at)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER calls_changed
    AFTER UPDATE ON calls
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          OR NEW.billing_state IS DISTINCT FROM OLD.billing_state
          OR NEW.cost_cents IS DISTINCT FROM OLD.cost_cents
          OR NEW.duration_seconds IS DISTINCT FROM OLD.duration_seconds)
    EXECUTE FUNCTION notify_call_changed();

-- The person's time zone (IANA name, from the browser at sign-up, changed in
-- Settings); Go checks the name. Accounts made before keep UTC until then.
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) BETWEEN 1 AND 64);
