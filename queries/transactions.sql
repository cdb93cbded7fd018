-- name: ListWalletEntries :many
-- One page of a wallet's ledger, newest first, with what each entry is
-- about (the call's number, the top-up's package). Keyset-paginated on the
-- id: pass the last id of the previous page as before_id (NULL for the
-- first page). The (account_id, id) index serves both the filter and the
-- order. The joins repeat the account id, so an entry only ever describes
-- its own wallet's call or top-up (the foreign keys guarantee it too).
SELECT t.id, t.kind, t.amount_cents, t.balance_after_cents, t.call_id, t.topup_id, t.memo, t.created_at,
       c.phone_number AS call_phone_number,
       tp.package_code AS topup_package_code,
       tp.amount_cents AS topup_amount_cents
FROM transactions t
LEFT JOIN calls c ON c.id = t.call_id AND c.account_id = t.account_id
LEFT JOIN topups tp ON tp.id = t.topup_id AND tp.account_id = t.account_id
WHERE t.account_id = sqlc.arg(account_id)
  AND t.id < COALESCE(sqlc.narg(before_id)::bigint, 9223372036854775807)
ORDER BY t.id DESC
LIMIT sqlc.arg(page_size);
