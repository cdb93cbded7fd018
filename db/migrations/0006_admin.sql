-- The support console's audit trail: every staff action, with who, when,
-- what and why. Append-only, like the ledger. A form resubmitted with the
-- same key (a double click, a reload) records one action.
CREATE TABLE admin_actions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id        uuid NOT NULL REFERENCES users (id),
    action          text NOT NULL CHECK (action IN (
        'retry_billing', 'adjustment', 'disable_user', 'enable_user',
        'rate_enable', 'rate_disable', 'rates_import')),
    target_type     text NOT NULL CHECK (target_type IN ('call', 'topup', 'user', 'rate', 'deck')),
    target_id       text NOT NULL CHECK (length(target_id) BETWEEN 1 AND 200),
    reason          text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    details         jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT admin_actions_idempotency_key_key UNIQUE (idempotency_key),
    -- Money and access changes say why.
    CONSTRAINT admin_actions_reason_required CHECK (
        action NOT IN ('adjustment', 'disable_user', 'enable_user') OR length(btrim(reason)) >= 3)
);
CREATE INDEX admin_actions_created_idx ON admin_actions (created_at DESC, id DESC);
CREATE INDEX admin_actions_target_idx ON admin_actions (target_type, target_id);

CREATE FUNCTION append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER admin_actions_no_update_delete
    BEFORE UPDATE OR DELETE ON admin_actions
    FOR EACH ROW EXECUTE FUNCTION append_only();

-- Why a call's billing is stuck (the ledger's refusal, the carrier's
-- silence), for support only: end_reason is shown to the caller.
ALTER TABLE calls ADD COLUMN billing_error text;

-- The dashboard's queries: open calls and undelivered webhooks.
CREATE INDEX calls_open_idx ON calls (created_at) WHERE status IN ('authorized', 'dialing', 'ringing', 'in_progress');
