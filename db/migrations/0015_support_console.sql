-- The support console explains itself (issue 24).

-- Support can waive a stuck call's charge: settled as not billable by the
-- call's workflow, nothing posted, the reason kept with the call.
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_action_check;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_action_check CHECK (action IN (
    'retry_billing', 'adjustment', 'disable_user', 'enable_user',
    'rate_enable', 'rate_disable', 'rates_import', 'waive_billing',
    'topup_refund', 'topup_cancel'));
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_reason_required;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_reason_required CHECK (
    action NOT IN ('adjustment', 'disable_user', 'enable_user', 'waive_billing', 'rate_disable', 'topup_refund', 'topup_cancel')
    OR length(btrim(reason)) >= 3);

ALTER TABLE calls ADD COLUMN waived_reason text CHECK (length(waived_reason) <= 500);

-- What a staff action came to, recorded once it completed ("charged
-- $0.28", "still stuck: ..."): its own append-only row, so the audit log
-- itself is never updated.
CREATE TABLE admin_action_outcomes (
    action_id   bigint PRIMARY KEY REFERENCES admin_actions (id),
    ok          boolean NOT NULL,
    outcome     text NOT NULL CHECK (length(outcome) BETWEEN 1 AND 1000),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER admin_action_outcomes_no_update_delete
    BEFORE UPDATE OR DELETE ON admin_action_outcomes
    FOR EACH ROW EXECUTE FUNCTION append_only();

CREATE INDEX admin_actions_actor_idx ON admin_actions (actor_id, id DESC);
CREATE INDEX admin_actions_action_idx ON admin_actions (action, id DESC);
