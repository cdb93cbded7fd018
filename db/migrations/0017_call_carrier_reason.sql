-- Why a call failed (issue 24): the carrier's reason, as Twilio's final
-- callbacks give it, and each Twilio delivery's form, for the console.

-- From the dialled leg's final status callback (ErrorCode, SipResponseCode)
-- and the Dial action (DialCallStatus). Set by the status webhook in the
-- statement that stores the delivery (StoreStatusCallback); null: not given.
ALTER TABLE calls
    ADD COLUMN carrier_error_code integer CHECK (carrier_error_code > 0),
    ADD COLUMN carrier_sip_code   integer CHECK (carrier_sip_code BETWEEN 100 AND 699),
    ADD COLUMN dial_call_status   text CHECK (dial_call_status IN ('completed', 'answered', 'busy', 'no-answer', 'failed', 'canceled'));

-- The signature-checked form of a Twilio delivery, field -> value, with no
-- field that could hold a secret (web: storedForm); null for Stripe's
-- deliveries and for those stored before.
ALTER TABLE webhook_events ADD COLUMN form jsonb CHECK (form IS NULL OR jsonb_typeof(form) = 'object');
