-- A connected call is always charged in full: its charge may take a wallet
-- below zero, as refunds and disputes may (a debt, which refuses new calls).
-- Before, a dispute, refund or staff debit during a call left the charge
-- refused and the call stuck forever. The same rule as ledger.Post.
ALTER TABLE transactions DROP CONSTRAINT transactions_no_overdraft;
ALTER TABLE transactions ADD CONSTRAINT transactions_no_overdraft CHECK (
    amount_cents > 0 OR balance_after_cents >= 0 OR kind IN ('refund', 'dispute', 'call_charge')
);

-- A call whose workflow is no longer running (its 30-day execution timeout,
-- an operator's terminate, a failure) can never free its user's one call
-- slot itself. When POST /calls finds the slot held, it asks Temporal about
-- the holder's workflow; if that workflow has ended, the row is released
-- (slot_released_at, and why in end_reason) and no longer counts. The row
-- is otherwise left as it was, for support (billing_state says whether it
-- was ever billed).
ALTER TABLE calls ADD COLUMN slot_released_at timestamptz;
DROP INDEX calls_one_active_per_user;
CREATE UNIQUE INDEX calls_one_active_per_user ON calls (user_id)
    WHERE slot_released_at IS NULL
      AND (status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
           OR (status = 'completed' AND billing_state IN ('pending', 'stuck')));
