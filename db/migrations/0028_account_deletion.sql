-- Deleting an account (issue 22): the person asks, with their password; the
-- AccountDeletion workflow refuses while a call or a top-up is open or the
-- balance is negative, then signs out every session and erases the
-- person's data. The ledger keeps every amount and key (and the wallet,
-- with whatever positive balance support may refund); what named the
-- person is replaced or removed.

-- deleting_at: set, with password_changed_at, in the transaction that
-- checked nothing is open; from then on no session is honoured, no call is
-- authorized and no top-up is created. deleted_at: the data is erased.
ALTER TABLE users
    ADD COLUMN deleting_at timestamptz,
    ADD COLUMN deleted_at  timestamptz,
    ADD CONSTRAINT users_deleted_after_deleting CHECK (deleted_at IS NULL OR deleting_at IS NOT NULL);

-- An erased number is 'erased:' and 64 hex digits: a keyed SHA-256 of the
-- number under a key drawn for that one deletion and never stored, so the
-- same number reads the same within the account (calls to one number
-- stay countable) and cannot be recovered. destination_country stays.
ALTER TABLE calls DROP CONSTRAINT calls_phone_number_check;
ALTER TABLE calls ADD CONSTRAINT calls_phone_number_check
    CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$' OR phone_number ~ '^erased:[0-9a-f]{64}$');

-- erased_number needs the key in the transaction's setting
-- mobayilo.erasure_key (hex); without it it fails, so nothing is erased by
-- accident with a known key.
CREATE FUNCTION erased_number(number text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN number LIKE 'erased:%' THEN number
                ELSE 'erased:' || encode(sha256(decode(current_setting('mobayilo.erasure_key'), 'hex')
                                                || convert_to(number, 'UTF8')), 'hex') END
$$;

-- scrub_text replaces each needle (longest first) in t with [erased].
CREATE FUNCTION scrub_text(t text, needles text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n text;
BEGIN
    IF t IS NULL OR needles IS NULL THEN
        RETURN t;
    END IF;
    FOREACH n IN ARRAY needles LOOP
        IF n <> '' THEN
            t := replace(t, n, '[erased]');
        END IF;
    END LOOP;
    RETURN t;
END;
$$;

-- The support console's audit trail stays append-only, but for one
-- change: an account's erasure may rewrite the free texts of the actions
-- about it (a reason or a detail naming the person), inside a transaction
-- that set mobayilo.account_erasure; who did what to which target, and
-- when, stays.
CREATE FUNCTION admin_actions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('mobayilo.account_erasure', true) = 'on'
       AND NEW.id = OLD.id AND NEW.actor_id = OLD.actor_id AND NEW.action = OLD.action
       AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id
       AND NEW.idempotency_key IS NOT DISTINCT FROM OLD.idempotency_key
       AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER admin_actions_no_update_delete ON admin_actions;
CREATE TRIGGER admin_actions_no_update_delete
    BEFORE UPDATE OR DELETE ON admin_actions
    FOR EACH ROW EXECUTE FUNCTION admin_actions_append_only();

CREATE FUNCTION admin_action_outcomes_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('mobayilo.account_erasure', true) = 'on'
       AND NEW.action_id = OLD.action_id AND NEW.ok = OLD.ok AND NEW.recorded_at = OLD.recorded_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER admin_action_outcomes_no_update_delete ON admin_action_outcomes;
CREATE TRIGGER admin_action_outcomes_no_update_delete
    BEFORE UPDATE OR DELETE ON admin_action_outcomes
    FOR EACH ROW EXECUTE FUNCTION admin_action_outcomes_append_only();

-- account_deletions: the audit of each deletion, with no personal data:
-- when it was asked for, the balance left in the wallet then (a positive
-- one support can refund on request), when the data was erased (and how
-- many rows each step changed) and when Temporal's histories were deleted.
CREATE TABLE account_deletions (
    user_id             uuid PRIMARY KEY REFERENCES users (id),
    balance_cents       bigint NOT NULL CHECK (balance_cents >= 0),
    requested_at        timestamptz NOT NULL DEFAULT now(),
    erased_at           timestamptz,
    erased_rows         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(erased_rows) = 'object'),
    workflows_deleted   integer CHECK (workflows_deleted >= 0),
    temporal_cleaned_at timestamptz
);
CREATE TRIGGER account_deletions_no_delete
    BEFORE DELETE ON account_deletions
    FOR EACH ROW EXECUTE FUNCTION append_only();
