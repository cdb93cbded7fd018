-- Verified caller ID (issue 20, item 1): the person's own mobile number,
-- verified with Twilio's OutgoingCallerIds (Twilio calls it and the person
-- types the code we show), then used as the callerId of their calls. One
-- number per user; each verification attempt is one run of the workflow
-- callerid-<user>-<number>, numbered by attempt, so that a late callback
-- of an earlier attempt changes nothing. The validation code is kept here
-- for the Settings page to show, never in workflow history.
CREATE TABLE caller_ids (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    e164                   text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{1,14}$'),
    status                 text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    attempt                int NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    validation_code        text,
    validation_call_sid    text,
    outgoing_caller_id_sid text,
    failure_reason         text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    verified_at            timestamptz,
    CHECK ((status = 'verified') = (outgoing_caller_id_sid IS NOT NULL AND verified_at IS NOT NULL))
);

-- A number verified by one account cannot be verified by another: the
-- schema refuses the second verified row whatever the Go code checks.
CREATE UNIQUE INDEX caller_ids_verified_number ON caller_ids (e164) WHERE status = 'verified';
