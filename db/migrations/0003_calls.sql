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
