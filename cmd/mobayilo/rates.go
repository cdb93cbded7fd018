package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

func ratesImportCommand() command {
	c := command{
		name:    "rates import",
		summary: "Replace the rate deck with a CSV file, after validating all of it.",
		usage: `Usage: mobayilo rates import [-dry-run] FILE.csv

The file's header is: prefix,country,description,per_minute_usd,connection_fee_usd,enabled
(prefix: E.164 digits without +; prices in dollars with up to 6 decimals).
Every line is checked first; any bad line is reported with its number and
nothing is applied. A good file replaces the whole deck in one transaction,
and what changed is printed. Running web instances pick the new deck up at
once. See internal/ratedeck/sample-deck.csv.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		fs := flags(c, e)
		dryRun := fs.Bool("dry-run", false, "validate and show what would change, apply nothing")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		rates, err := ratedeck.Parse(f)
		var invalid *ratedeck.InvalidError
		if errors.As(err, &invalid) {
			fmt.Fprintf(e.stderr, "%s: %d bad line(s); nothing was applied:\n", fs.Arg(0), len(invalid.Lines))
			for _, l := range invalid.Lines {
				fmt.Fprintf(e.stderr, "  %s\n", l)
			}
			return errFailed
		}
		if err != nil {
			return err
		}
		_, _, pool, err := setupDB(ctx, e, "rates")
		if err != nil {
			return err
		}
		defer pool.Close()
		if *dryRun {
			current, err := ratedeck.Load(ctx, db.New(pool))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "dry run, nothing applied: %s", ratedeck.DiffOf(current, rates))
			return nil
		}
		diff, err := ratedeck.Replace(ctx, pool, rates)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rate deck replaced: %s", diff)
		return nil
	}
	return c
}

// rulesFrom builds the destination rules from the configuration.
func rulesFrom(cfg config.Config) rating.Rules {
	return rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)
}
