package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

type fakePricing struct {
	countries []string
	fetch     func(country string) ([]rating.Cost, error)
	applied   map[string][]rating.Cost
}

func (f *fakePricing) env() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f.applied = map[string][]rating.Cost{}
	env.RegisterActivityWithOptions(func(context.Context) ([]string, error) { return f.countries, nil },
		activity.RegisterOptions{Name: workflows.ActivityListPricedCountries})
	env.RegisterActivityWithOptions(func(_ context.Context, c string) ([]rating.Cost, error) { return f.fetch(c) },
		activity.RegisterOptions{Name: workflows.ActivityFetchCarrierCosts})
	env.RegisterActivityWithOptions(func(_ context.Context, c string, costs []rating.Cost) (workflows.PricingCountryResult, error) {
		f.applied[c] = costs
		r := workflows.PricingCountryResult{Country: c, Changed: len(costs)}
		if c == "NG" {
			r.Losses = []string{"+23480 cost $0.16/min, above our $0.15/min; now $0.208/min"}
		}
		return r, nil
	}, activity.RegisterOptions{Name: workflows.ActivityApplyCarrierCosts})
	return env
}

func TestPricingSyncSkipsACountryItCannotPrice(t *testing.T) {
	calls := map[string]int{}
	f := &fakePricing{countries: []string{"GH", "NG", "XX"}, fetch: func(c string) ([]rating.Cost, error) {
		calls[c]++
		switch c {
		case "XX":
			return nil, temporal.NewNonRetryableApplicationError("no prices", workflows.ErrTypeCarrierUnknownCountry, nil)
		case "GH":
			if calls[c] < 3 { // a flaky carrier: retried
				return nil, errors.New("timeout")
			}
		}
		return []rating.Cost{{Prefix: "2", Micros: 1}}, nil
	}}
	env := f.env()
	env.ExecuteWorkflow(workflows.PricingSync)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r workflows.PricingSyncResult
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	if r.Failed != 1 || len(r.Countries) != 3 || r.Countries[2].Error == "" || r.Countries[1].Losses == nil {
		t.Fatalf("result %+v", r)
	}
	if calls["XX"] != 1 || calls["GH"] != 3 {
		t.Fatalf("fetch attempts %v: an unknown country is not retried, a flaky one is", calls)
	}
	if _, ok := f.applied["XX"]; ok || len(f.applied) != 2 {
		t.Fatalf("applied %v", f.applied)
	}
}

func TestPricingSyncStopsOnRefusedCredentials(t *testing.T) {
	f := &fakePricing{countries: []string{"GH", "NG"}, fetch: func(string) ([]rating.Cost, error) {
		return nil, temporal.NewNonRetryableApplicationError("401", workflows.ErrTypeCarrierUnauthorized, nil)
	}}
	env := f.env()
	env.ExecuteWorkflow(workflows.PricingSync)
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("want a credentials failure, got %v", err)
	}
	if len(f.applied) != 0 {
		t.Fatal("prices applied after a refusal")
	}
}
