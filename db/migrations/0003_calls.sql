-- Calls through Temporal: the events a call goes through (for the live call
-- screen and support), and the inbox's delivery target.

-- Which signal an inbox delivery becomes on its workflow.
ALTER TABLE webhook_events ADD COLUMN signal text;
UPDATE webhook_events SET signal = event_type WHERE signal IS NULL;
ALTER TABLE webhook_events ALTER COLUMN signal SET NOT NULL;
CREATE INDEX webhook_events_workflow_idx ON webhook_events (workflow_id);

-- call_events: every status a call went through, in order; NOTIFY
-- call_events fans them out to the web instances holding live screens.
CREATE TABLE call_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     uuid NOT NULL REFERENCES calls (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    status      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- An activity retried after it wrote its row writes nothing more.
    CONSTRAINT call_events_once UNIQUE (call_id, status)
);
CREATE INDEX call_events_user_idx ON call_events (user_id, id);

-- Twilio's final word on a call, for billing and support.
ALTER TABLE calls ADD COLUMN carrier_status text;

-- A call that ended but is not yet billed (or is stuck) still holds its
-- user's one active slot: the balance it will be charged is spoken for.
DROP INDEX calls_one_active_per_user;
CREATE UNIQUE INDEX calls_one_active_per_user ON calls (user_id)
    WHERE status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
       OR (status = 'completed' AND billing_state IN ('pending', 'stuck'));
