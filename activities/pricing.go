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
	if a.Pricing == nil {
		return nil, temporal.NewNonRetryableApplicationError("no carrier pricing API is configured (carrier simulator)", workflows.ErrTypeCarrierUnauthorized, nil)
	}
	costs, err := a.Pricing.VoiceCosts(ctx, country)
	switch {
	case errors.Is(err, carrier.ErrUnknownCountry):
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCarrierUnknownCountry, nil)
	case errors.Is(err, carrier.ErrUnauthorized):
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCarrierUnauthorized, nil)
	}
	return costs, err
}

// ApplyCarrierCosts reprices one country's rates from the carrier's costs
// (ratedeck.Reprice: one transaction, every instance told to reload).
// Applying the same costs twice changes nothing the second time.
func (a *Activities) ApplyCarrierCosts(ctx context.Context, country string, costs []rating.Cost) (workflows.PricingCountryResult, error) {
	rp, err := ratedeck.Reprice(ctx, a.Pool, a.PricingPolicy, country, costs)
	if err != nil {
		return workflows.PricingCountryResult{Country: country}, err
	}
	result := workflows.PricingCountryResult{Country: country, Changed: rp.Changed, Added: rp.Added, Disabled: rp.Disabled, Unchanged: rp.Unchanged}
	log := activity.GetLogger(ctx)
	for _, l := range rp.Losses {
		loss := fmt.Sprintf("+%s cost %s, above our %s; now %s",
			l.Prefix, rating.FormatPerMinute(l.CostMicros), rating.FormatPerMinute(l.OldMicros), rating.FormatPerMinute(l.NewMicros))
		result.Losses = append(result.Losses, loss)
		log.Warn("carrier cost had risen above our price; repriced so it is not sold at a loss", "country", country, "rate", loss)
	}
	return result, nil
}
