package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mobayilo/mobayilo/db"
)

// Problem is one way in which the books do not add up.
type Problem struct {
	AccountID uuid.UUID // uuid.Nil for a problem of the whole ledger
	Email     string    // the wallet owner's, when known
	What      string
}

func (p Problem) String() string {
	switch {
	case p.AccountID == uuid.Nil:
		return "ledger: " + p.What
	case p.Email != "":
		return fmt.Sprintf("account %s (%s): %s", p.AccountID, p.Email, p.What)
	default:
		return fmt.Sprintf("account %s: %s", p.AccountID, p.What)
	}
}

// Report is the outcome of Verify.
type Report struct {
	Problems      []Problem
	WalletsCents  int64           // sum of the wallets' cached balances
	HouseBalances map[House]int64 // derived by SUM, never cached
}

// OK reports whether the books balance.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks, for every wallet, that the sum of its entries equals its
// cached balance and that its balance_after chain is unbroken; and that the
// wallets (cached) and the house accounts (derived) together sum to zero.
//
// On a pool it reads one consistent snapshot (a read-only Repeatable Read
// transaction), so postings committed meanwhile never make healthy books
// look unbalanced; inside a caller's transaction it uses that one.
func (l *Ledger) Verify(ctx context.Context) (Report, error) {
	b, ok := l.conn.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return verify(ctx, l.q)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Report{}, fmt.Errorf("ledger: verify: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	return verify(ctx, db.New(tx))
}

func verify(ctx context.Context, q *db.Queries) (Report, error) {
	var r Report

	wallets, err := q.VerifyWalletBalances(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger: verify balances: %w", err)
	}
	for _, w := range wallets {
		r.Problems = append(r.Problems, Problem{
			AccountID: w.AccountID,
			Email:     w.Email,
			What: fmt.Sprintf("cached balance %d cents, but entries sum to %d and the last balance_after is %d",
				w.CachedBalanceCents, w.LedgerSumCents, w.LastBalanceAfterCents),
		})
	}

	chains, err := q.VerifyBalanceChains(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger: verify chains: %w", err)
	}
	for _, c := range chains {
		r.Problems = append(r.Problems, Problem{
			AccountID: c.AccountID,
			What: fmt.Sprintf("entry %d: previous balance_after %d + amount %d != balance_after %d",
				c.ID, c.PreviousBalanceAfterCents, c.AmountCents, c.BalanceAfterCents),
		})
	}

	houses, err := q.HouseBalances(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger: verify house balances: %w", err)
	}
	r.HouseBalances = make(map[House]int64, len(houses))
	var total int64
	for _, h := range houses {
		r.HouseBalances[House(h.HouseName)] = h.BalanceCents
		total += h.BalanceCents
	}
	r.WalletsCents, err = q.WalletCachedTotal(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger: verify wallet total: %w", err)
	}
	if sum := r.WalletsCents + total; sum != 0 {
		r.Problems = append(r.Problems, Problem{
			What: fmt.Sprintf("wallets (%d cents) and house accounts (%d cents) sum to %d, not zero",
				r.WalletsCents, total, sum),
		})
	}
	return r, nil
}
