-- Deleting an account (issue 22): the AccountDeletion workflow's queries.

-- name: LockUserForDeletion :one
-- FOR UPDATE conflicts with the FOR KEY SHARE a call's or a top-up's
-- insert takes on its user (their foreign key, and CreateTopUp's own
-- lock): one in flight commits first and the check below sees it; one
-- after waits for this transaction and then finds the user deleting.
SELECT id, deleting_at, deleted_at FROM users WHERE id = $1 FOR UPDATE;

-- name: AccountDeletionBlockers :one
-- Read after the lock, in a new snapshot: what refuses a deletion.
-- An open call is one holding the user's active slot (as the
-- calls_one_active_per_user index has it: not yet billed counts).
SELECT w.id AS account_id, w.cached_balance_cents,
    EXISTS (SELECT 1 FROM calls c WHERE c.user_id = w.user_id
            AND (c.status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
                 OR (c.status = 'completed' AND c.billing_state IN ('pending', 'stuck'))))::bool AS open_call,
    EXISTS (SELECT 1 FROM topups t WHERE t.user_id = w.user_id
            AND t.status IN ('created', 'processing'))::bool AS open_topup
FROM accounts w
WHERE w.user_id = $1 AND w.kind = 'wallet';

-- name: MarkUserDeleting :execrows
-- Bumping password_changed_at ends every session on its next request
-- (accounts.SessionValid), in the same transaction as the check.
UPDATE users SET deleting_at = now(), password_changed_at = clock_timestamp(), updated_at = now()
WHERE id = $1 AND deleting_at IS NULL;

-- name: InsertAccountDeletion :exec
INSERT INTO account_deletions (user_id, balance_cents) VALUES ($1, $2)
ON CONFLICT (user_id) DO NOTHING;

-- name: GetAccountDeletion :one
SELECT * FROM account_deletions WHERE user_id = $1;

-- name: DeleteUserSessions :execrows
-- scs keeps a session's values gob-encoded: the user's id is in data as
-- text. live_streams go with their sessions (ON DELETE CASCADE).
DELETE FROM sessions WHERE position(convert_to($1::uuid::text, 'UTF8') IN data) > 0;

-- name: DeleteUserLiveStreams :execrows
DELETE FROM live_streams WHERE user_id = $1;

-- name: GetUserPaymentCustomer :one
SELECT customer_id FROM payment_customers WHERE user_id = $1;

-- name: GetUserVerifiedCallerID :one
SELECT outgoing_caller_id_sid::text FROM caller_ids
WHERE user_id = $1 AND outgoing_caller_id_sid IS NOT NULL;

-- name: SetAccountErasureSettings :exec
-- For the erasure's transaction only: the number key (hex) and the
-- permission to rewrite the audit trail's texts.
SELECT set_config('mobayilo.erasure_key', sqlc.arg(key_hex)::text, true),
       set_config('mobayilo.account_erasure', 'on', true);

-- The erase steps, in the order activities/account_delete.go runs them:
-- the first ones read the person's email, name and numbers that the later
-- ones replace. Each takes only the user's id.

-- name: EraseAdminActionTexts :execrows
-- The texts of the console's actions about the person, their calls and
-- their top-ups: every email, name and number of theirs becomes [erased].
WITH needles AS (
    SELECT array_agg(n ORDER BY length(n) DESC) AS a FROM (
        SELECT email AS n FROM users WHERE id = $1
        UNION SELECT display_name FROM users WHERE id = $1
        UNION SELECT phone_number FROM calls WHERE user_id = $1
        UNION SELECT phone_number FROM contacts WHERE user_id = $1
        UNION SELECT e164 FROM caller_ids WHERE user_id = $1
        UNION SELECT receipt_email FROM topups WHERE user_id = $1
        UNION SELECT email FROM email_confirmations WHERE user_id = $1
    ) s WHERE n IS NOT NULL AND n NOT LIKE 'erased:%'
)
UPDATE admin_actions a
SET reason = scrub_text(a.reason, needles.a), details = scrub_text(a.details::text, needles.a)::jsonb
FROM needles
WHERE ((a.target_type = 'user' AND a.target_id = $1::uuid::text)
       OR (a.target_type = 'call' AND a.target_id IN (SELECT c.id::text FROM calls c WHERE c.user_id = $1))
       OR (a.target_type = 'topup' AND a.target_id IN (SELECT t.id::text FROM topups t WHERE t.user_id = $1)))
  AND (scrub_text(a.reason, needles.a) <> a.reason OR scrub_text(a.details::text, needles.a) <> a.details::text);

-- name: EraseAdminActionOutcomes :execrows
WITH needles AS (
    SELECT array_agg(n ORDER BY length(n) DESC) AS a FROM (
        SELECT email AS n FROM users WHERE id = $1
        UNION SELECT display_name FROM users WHERE id = $1
        UNION SELECT phone_number FROM calls WHERE user_id = $1
        UNION SELECT e164 FROM caller_ids WHERE user_id = $1
    ) s WHERE n IS NOT NULL AND n NOT LIKE 'erased:%'
)
UPDATE admin_action_outcomes o
SET outcome = scrub_text(o.outcome, needles.a)
FROM needles, admin_actions a
WHERE a.id = o.action_id
  AND ((a.target_type = 'user' AND a.target_id = $1::uuid::text)
       OR (a.target_type = 'call' AND a.target_id IN (SELECT c.id::text FROM calls c WHERE c.user_id = $1))
       OR (a.target_type = 'topup' AND a.target_id IN (SELECT t.id::text FROM topups t WHERE t.user_id = $1)))
  AND scrub_text(o.outcome, needles.a) <> o.outcome;

-- name: EraseStripeVersionEvents :execrows
-- Stripe events kept for an API version we did not expect: the raw body
-- of one about the person (their email, customer or payment intents).
UPDATE stripe_version_events e SET raw_body = '\x'::bytea
WHERE length(e.raw_body) > 0 AND EXISTS (
    SELECT 1 FROM (
        SELECT u.email AS n FROM users u WHERE u.id = $1
        UNION SELECT pc.customer_id FROM payment_customers pc WHERE pc.user_id = $1
        UNION SELECT t.payment_intent_id FROM topups t WHERE t.user_id = $1 AND t.payment_intent_id IS NOT NULL
    ) s WHERE position(convert_to(s.n, 'UTF8') IN e.raw_body) > 0);

-- name: EraseWebhookEvents :execrows
-- Twilio's and Stripe's deliveries to the person's workflows (To, From,
-- emails): the bodies go, the rows stay, so a late redelivery is still
-- a duplicate. A caller-ID workflow's ID names the number: it goes too.
UPDATE webhook_events e
SET payload = '{"erased": true}'::jsonb, form = NULL,
    start_input = CASE WHEN e.start_input IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END,
    workflow_id = CASE WHEN e.workflow_id LIKE 'callerid-%' THEN NULL ELSE e.workflow_id END
WHERE e.payload <> '{"erased": true}'::jsonb
  AND (e.workflow_id IN (SELECT 'call-' || c.id::text FROM calls c WHERE c.user_id = $1)
       OR e.workflow_id IN (SELECT 'topup-' || t.id::text FROM topups t WHERE t.user_id = $1)
       OR e.workflow_id = 'autotopup-' || $1::uuid::text
       OR e.workflow_id LIKE 'callerid-' || $1::uuid::text || '%'
       OR e.payload::text LIKE '%' || (SELECT u.email FROM users u WHERE u.id = $1) || '%'
       OR e.payload::text LIKE ANY (SELECT '%' || pc.customer_id || '%' FROM payment_customers pc WHERE pc.user_id = $1));

-- name: EraseCallEvents :execrows
UPDATE call_events SET detail = '{}'::jsonb WHERE user_id = $1 AND detail <> '{}'::jsonb;

-- name: EraseCalls :execrows
UPDATE calls SET phone_number = erased_number(phone_number)
WHERE user_id = $1 AND phone_number NOT LIKE 'erased:%';

-- name: DeleteUserDataExports :execrows
-- Their downloads of their data (each ZIP holds all of it), links and all.
DELETE FROM data_exports WHERE user_id = $1;

-- name: DeleteUserContacts :execrows
DELETE FROM contacts WHERE user_id = $1;

-- name: DeleteUserCallerID :execrows
-- Its OutgoingCallerId at Twilio was deleted before (DeleteAccountProviders).
DELETE FROM caller_ids WHERE user_id = $1;

-- name: DeleteUserPaymentCustomer :execrows
-- The Stripe Customer was deleted before (DeleteAccountProviders).
DELETE FROM payment_customers WHERE user_id = $1;

-- name: EraseTopUps :execrows
UPDATE topups SET receipt_email = NULL WHERE user_id = $1 AND receipt_email IS NOT NULL;

-- name: DeleteUserEmailConfirmations :execrows
DELETE FROM email_confirmations WHERE user_id = $1;

-- name: DeleteUserPasswordResets :execrows
DELETE FROM password_resets WHERE user_id = $1;

-- name: DeleteUserSignInFailures :execrows
DELETE FROM sign_in_failures
WHERE (scope IN ('email', 'reset_email') AND key = (SELECT u.email FROM users u WHERE u.id = $1))
   OR (scope = 'topup_user' AND key = $1::uuid::text);

-- name: TurnOffUserAutoTopUp :execrows
UPDATE auto_topups SET enabled = false, notice_pending = false, updated_at = now()
WHERE user_id = $1 AND (enabled OR notice_pending);

-- name: EraseUser :execrows
-- Last: the earlier steps read the email. The address cannot sign in (no
-- mail reaches .invalid) and the password hash, an argon2id hash in the
-- form sign-in reads with a key of random bytes, matches no password.
UPDATE users
SET email = 'deleted-' || id::text || '@deleted.invalid', display_name = 'Deleted user',
    password_hash = '$argon2id$v=19$m=19456,t=2,p=1$'
        || rtrim(encode(substring(sha256(convert_to(gen_random_uuid()::text, 'UTF8')) FROM 1 FOR 16), 'base64'), '=')
        || '$' || rtrim(encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'base64'), '='),
    deleted_at = now(), updated_at = now()
WHERE id = $1 AND deleting_at IS NOT NULL AND deleted_at IS NULL;

-- name: CompleteAccountErasure :exec
UPDATE account_deletions SET erased_at = COALESCE(erased_at, now()), erased_rows = sqlc.arg(erased_rows)::jsonb
WHERE user_id = sqlc.arg(user_id);

-- name: CompleteAccountTemporalCleanup :exec
UPDATE account_deletions SET temporal_cleaned_at = now(), workflows_deleted = sqlc.arg(workflows_deleted)::int
WHERE user_id = sqlc.arg(user_id);
