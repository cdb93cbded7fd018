package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// ListPricedCountries lists the countries with an enabled rate.
func (a *Activities) ListPricedCountries(ctx context.Context) ([]string, error) {
	return db.New(a.Pool).ListPricedCountries(ctx)
}

// FetchCarrierCosts reads Twilio's voice prices for one country.
func (a *Activities) FetchCarrierCosts(ctx context.Context, country string) ([]rating.Cost, error) {
	if a.Carrier == nil {
		return nil, temporal.NewNonRetryableApplicationError("no carrier pricing API is configured (carrier simulator)", workflows.ErrTypeCarrierUnauthorized, nil)
	}
	costs, err := a.Carrier.VoiceCosts(ctx, country)
	switch {
	case errors.Is(err, carrier.ErrUnknownCountry):
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCarrierUnknownCountry, nil)
	case errors.Is(err, carrier.ErrUnauthorized):
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCarrierUnauthorized, nil)
	}
	return costs, err
}

// ApplyCarrierCosts reprices one country's rates from the carrier's costs,
// in one transaction (see rating.Pricing.Reprice), and tells every web
// instance to reload the deck. Applying the same costs twice changes
// nothing the second time.
func (a *Activities) ApplyCarrierCosts(ctx context.Context, country string, costs []rating.Cost) (workflows.PricingCountryResult, error) {
	result := workflows.PricingCountryResult{Country: country}
	err := db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		if _, err := q.DB().Exec(ctx, `LOCK TABLE call_rates IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		rows, err := q.ListRatesByCountry(ctx, country)
		if err != nil {
			return err
		}
		ours := make([]rating.Rate, len(rows))
		for i, r := range rows {
			ours[i] = rating.Rate{Prefix: r.Prefix, Country: r.Country, Description: r.Description,
				PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros, Enabled: r.Enabled}
		}
		rp := a.PricingPolicy.Reprice(ours, costs)
		for _, list := range [][]rating.Rate{rp.Changed, rp.Disabled} {
			for _, r := range list {
				if err := ratedeck.Upsert(ctx, q, r); err != nil {
					return err
				}
			}
		}
		// A carrier range is added only where no rate has its prefix, in any
		// country: the sync never relabels or re-enables an operator's row.
		added := 0
		for _, r := range rp.Added {
			n, err := q.InsertRateIfAbsent(ctx, db.InsertRateIfAbsentParams{Prefix: r.Prefix, Country: r.Country, Description: r.Description,
				PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros, Enabled: r.Enabled})
			if err != nil {
				return err
			}
			added += int(n)
		}
		result.Changed, result.Added, result.Disabled, result.Unchanged = len(rp.Changed), added, len(rp.Disabled), rp.Unchanged
		for _, l := range rp.Losses {
			result.Losses = append(result.Losses, fmt.Sprintf("+%s cost %s, above our %s; now %s",
				l.Prefix, rating.FormatPerMinute(l.CostMicros), rating.FormatPerMinute(l.OldMicros), rating.FormatPerMinute(l.NewMicros)))
		}
		if len(rp.Changed)+added+len(rp.Disabled) == 0 {
			return nil
		}
		return q.NotifyRatesChanged(ctx)
	})
	if err != nil {
		return result, fmt.Errorf("apply carrier costs for %s: %w", country, err)
	}
	log := activity.GetLogger(ctx)
	for _, l := range result.Losses {
		log.Warn("carrier cost had risen above our price; repriced so it is not sold at a loss", "country", country, "rate", l)
	}
	return result, nil
}
