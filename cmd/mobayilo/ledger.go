package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

func ledgerVerifyCommand() command {
	c := command{
		name:    "ledger verify",
		summary: "Check that the books balance; exit 1 naming the accounts where they do not.",
		usage: `For every wallet: the sum of its entries equals its cached balance, and each
entry's balance_after is the previous one plus its amount. For the whole
ledger: wallets and house accounts sum to zero.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		if err := parse(flags(c, e), args); err != nil {
			return err
		}
		_, _, pool, err := setupDB(ctx, e, "ledger")
		if err != nil {
			return err
		}
		defer pool.Close()
		r, err := ledger.New(pool).Verify(ctx)
		if err != nil {
			return err
		}
		houses := make([]string, 0, len(r.HouseBalances))
		for h := range r.HouseBalances {
			houses = append(houses, string(h))
		}
		sort.Strings(houses)
		fmt.Fprintf(e.stdout, "wallets: %s\n", cents(r.WalletsCents))
		for _, h := range houses {
			fmt.Fprintf(e.stdout, "house %-13s %s\n", h+":", cents(r.HouseBalances[ledger.House(h)]))
		}
		if r.OK() {
			fmt.Fprintln(e.stdout, "ledger OK: every cached balance equals the sum of its entries, and the books sum to zero")
			return nil
		}
		for _, p := range r.Problems {
			fmt.Fprintln(e.stdout, "PROBLEM "+p.String())
		}
		fmt.Fprintf(e.stderr, "mobayilo ledger verify: %d problem(s)\n", len(r.Problems))
		return errFailed
	}
	return c
}

// cents prints an amount of cents as dollars, without floats.
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s$%d.%02d", sign, c/100, c%100)
}
