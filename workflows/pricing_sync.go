package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// PricingSync reprices every country we sell from Twilio's current voice
// prices. A country whose prices cannot be read is skipped (its old prices
// stay) and reported; refused credentials stop the run, since every country
// would fail the same way.
func PricingSync(ctx workflow.Context) (PricingSyncResult, error) {
	log := workflow.GetLogger(ctx)
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	fetch := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{ErrTypeCarrierUnknownCountry, ErrTypeCarrierUnauthorized},
		},
	})

	var result PricingSyncResult
	var countries []string
	if err := workflow.ExecuteActivity(short, ActivityListPricedCountries).Get(ctx, &countries); err != nil {
		return result, fmt.Errorf("pricing sync: list countries: %w", err)
	}
	for _, country := range countries {
		r := PricingCountryResult{Country: country}
		var costs []rating.Cost
		err := workflow.ExecuteActivity(fetch, ActivityFetchCarrierCosts, country).Get(ctx, &costs)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrTypeCarrierUnauthorized {
			return result, temporal.NewNonRetryableApplicationError("pricing sync: Twilio refused our credentials", ErrTypeCarrierUnauthorized, err)
		}
		if err == nil {
			err = workflow.ExecuteActivity(short, ActivityApplyCarrierCosts, country, costs).Get(ctx, &r)
		}
		if err != nil {
			r.Error = err.Error()
			result.Failed++
			log.Warn("pricing sync: country skipped, its prices unchanged", "country", country, "error", err)
		}
		for _, loss := range r.Losses {
			log.Warn("pricing sync: carrier cost had risen above our price; repriced", "country", country, "loss", loss)
		}
		result.Countries = append(result.Countries, r)
	}
	if len(countries) > 0 && result.Failed == len(countries) {
		return result, temporal.NewApplicationError("pricing sync: no country could be repriced", "PricingSyncFailed")
	}
	return result, nil
}
