-- name: PostEntry :one
-- Posts one ledger entry and moves the wallet's cached balance, in one
-- statement: the wallet row is locked first, so entries of one wallet are
-- serialised and balance_after chains in id order. It returns no row when
-- the idempotency key already exists, the wallet does not exist, or a debit
-- would take the balance below zero and the kind does not allow that.
WITH wallet AS (
    SELECT a.id, a.cached_balance_cents
    FROM accounts a
    WHERE a.id = sqlc.arg(account_id)::uuid AND a.kind = 'wallet'
    FOR UPDATE
), inserted AS (
    INSERT INTO transactions (
        account_id, counterparty, kind, amount_cents, balance_after_cents,
        idempotency_key, request_hash, call_id, topup_id, memo
    )
    SELECT wallet.id, sqlc.arg(counterparty)::text, sqlc.arg(kind)::text, sqlc.arg(amount_cents)::bigint,
           wallet.cached_balance_cents + sqlc.arg(amount_cents)::bigint,
           sqlc.arg(idempotency_key)::text, sqlc.arg(request_hash)::bytea,
           sqlc.narg(call_id)::uuid, sqlc.narg(topup_id)::uuid, sqlc.arg(memo)::text
    FROM wallet
    WHERE sqlc.arg(amount_cents)::bigint > 0
       OR wallet.cached_balance_cents + sqlc.arg(amount_cents)::bigint >= 0
       OR sqlc.arg(allow_negative)::boolean
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
), moved AS (
    UPDATE accounts
    SET cached_balance_cents = inserted.balance_after_cents, updated_at = now()
    FROM inserted
    WHERE accounts.id = inserted.account_id
    RETURNING accounts.id
)
SELECT * FROM inserted;

-- name: GetEntryByKey :one
SELECT *
FROM transactions
WHERE idempotency_key = $1;

-- name: GetWalletBalance :one
SELECT cached_balance_cents
FROM accounts
WHERE id = $1 AND kind = 'wallet';

-- name: ListEntriesByAccount :many
SELECT *
FROM transactions
WHERE account_id = $1
ORDER BY id DESC
LIMIT $2;

-- name: VerifyWalletBalances :many
-- Wallets whose cached balance differs from the sum of their entries or from
-- their newest entry's balance_after.
SELECT a.id AS account_id,
       COALESCE(u.email, '')::text AS email,
       a.cached_balance_cents,
       COALESCE(s.total, 0)::bigint AS ledger_sum_cents,
       COALESCE(l.balance_after_cents, 0)::bigint AS last_balance_after_cents
FROM accounts a
LEFT JOIN users u ON u.id = a.user_id
LEFT JOIN (
    SELECT t.account_id, SUM(t.amount_cents) AS total
    FROM transactions t
    GROUP BY t.account_id
) s ON s.account_id = a.id
LEFT JOIN LATERAL (
    SELECT t.balance_after_cents
    FROM transactions t
    WHERE t.account_id = a.id
    ORDER BY t.id DESC
    LIMIT 1
) l ON true
WHERE a.kind = 'wallet'
  AND (a.cached_balance_cents <> COALESCE(s.total, 0)
       OR a.cached_balance_cents <> COALESCE(l.balance_after_cents, 0))
ORDER BY a.id;

-- name: VerifyBalanceChains :many
-- Entries whose balance_after is not the previous entry's balance_after
-- (zero for a wallet's first entry) plus their own amount.
SELECT c.account_id, c.id, c.amount_cents, c.balance_after_cents, c.previous_balance_after_cents
FROM (
    SELECT t.account_id, t.id, t.amount_cents, t.balance_after_cents,
           lag(t.balance_after_cents, 1, 0::bigint) OVER (PARTITION BY t.account_id ORDER BY t.id)::bigint
               AS previous_balance_after_cents
    FROM transactions t
) c
WHERE c.previous_balance_after_cents + c.amount_cents <> c.balance_after_cents
ORDER BY c.account_id, c.id;

-- name: HouseBalances :many
-- House balances are derived, never cached: each is minus the sum of the
-- entries that name it as counter-party.
SELECT a.house_name::text AS house_name,
       (-COALESCE(SUM(t.amount_cents), 0))::bigint AS balance_cents
FROM accounts a
LEFT JOIN transactions t ON t.counterparty = a.house_name
WHERE a.kind = 'house'
GROUP BY a.house_name
ORDER BY a.house_name;

-- name: WalletCachedTotal :one
SELECT COALESCE(SUM(cached_balance_cents), 0)::bigint AS total_cents
FROM accounts
WHERE kind = 'wallet';

-- name: ListMoneyLostDuringCall :many
-- What took money from the call's wallet while the call went on (from its
-- creation to its end, or now): refunds, disputes and debits, newest
-- first. Support reads them beside a call that was cut short or is stuck.
SELECT t.*
FROM transactions t
JOIN calls c ON c.account_id = t.account_id
WHERE c.id = sqlc.arg(call_id)
  AND t.created_at >= c.created_at
  AND t.created_at <= COALESCE(c.ended_at, now())
  AND t.amount_cents < 0
  AND t.kind IN ('refund', 'dispute', 'adjustment')
ORDER BY t.id DESC
LIMIT 10;
