package load

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Billing faults go to users whose money has all arrived before the drain:
// every top-up paid with its webhooks delivered, the fewest first. A user
// with a top-up paid but its webhooks lost is credited at the payment
// timeout, maybe after the wallet was drained, and is picked only when no
// one else is left.
func TestBillingFaultsAvoidLateCredits(t *testing.T) {
	for seed := range uint64(20) {
		o := Options{Users: 100, Calls: 300, TopUps: 110, BillingFaults: 2}
		d := &driver{o: o, rng: rand.New(rand.NewPCG(seed, seed))}
		plans := d.plans()
		var stuck []int
		for i, p := range plans {
			if n := count(p.calls, "stuck"); n > 0 {
				if n != 1 || p.calls[len(p.calls)-1] != "stuck" {
					t.Fatalf("seed %d: user %d's billing fault is not their one last call: %v", seed, i, p.calls)
				}
				stuck = append(stuck, i)
			}
		}
		if len(stuck) != 2 {
			t.Fatalf("seed %d: %d billing faults planned, want 2", seed, len(stuck))
		}
		for _, i := range stuck {
			if !slices.Equal(plans[i].topups, []string{TopUpPaid}) {
				t.Errorf("seed %d: the billing fault of user %d follows top-ups %v, want one paid", seed, i, plans[i].topups)
			}
		}
	}

	// Only users with a late credit left: they are used after all, the
	// cleaner first.
	plans := []plan{
		{topups: []string{TopUpPaid, TopUpPaidLost}, calls: []string{OutcomeAnswered}},
		{topups: []string{TopUpPaid, TopUpDeclined}, calls: []string{OutcomeAnswered}},
		{topups: []string{TopUpPaid, TopUpPaid}, calls: []string{OutcomeAnswered}},
		{topups: []string{TopUpPaid}, calls: []string{OutcomeAnswered}},
	}
	if got := billingFaultOrder(plans); !slices.Equal(got, []int{3, 2, 0, 1}) {
		t.Fatalf("order %v, want [3 2 0 1]", got)
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}
