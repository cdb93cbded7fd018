-- What a refused call was told, kept with its reason: an authorization
-- attempt that runs again after an earlier one refused (its answer lost)
-- answers with the same words and the same amount to add, not a generic
-- "try again".
ALTER TABLE calls
    ADD COLUMN refusal_message text,
    ADD COLUMN refusal_needed_cents bigint NOT NULL DEFAULT 0 CHECK (refusal_needed_cents >= 0);
