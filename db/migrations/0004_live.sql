-- Live updates: every change of a wallet's balance is announced (NOTIFY
-- balance_changed, delivered at commit), whoever made it, so every web
-- instance can push it to that user's open pages.
CREATE FUNCTION notify_balance_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('balance_changed', json_build_object(
        'user_id', NEW.user_id, 'balance_cents', NEW.cached_balance_cents)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER accounts_balance_changed
    AFTER UPDATE OF cached_balance_cents ON accounts
    FOR EACH ROW
    WHEN (NEW.kind = 'wallet' AND NEW.cached_balance_cents IS DISTINCT FROM OLD.cached_balance_cents)
    EXECUTE FUNCTION notify_balance_changed();
