package activities

import (
	"testing"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// The carrier's ceiling (issue 21): 30 min above what the balance covers,
// no more than $3 of talk at the rate (at least a minute), within the
// per-call ceiling and what today's spending limit leaves.
func TestCarrierCeiling(t *testing.T) {
	cheap := rating.Rate{PerMinuteMicros: 14_000}      // $0.014/min: $3 is 214 min
	dear := rating.Rate{PerMinuteMicros: 150_000}      // $0.15/min: $3 is 20 min
	ruinous := rating.Rate{PerMinuteMicros: 5_000_000} // $5/min: less than a minute for $3
	for _, c := range []struct {
		name    string
		rules   rating.Rules
		rate    rating.Rate
		seconds int64
		spent   int64
		want    int64
	}{
		{"headroom of 30 min", rating.Rules{MaxCallSeconds: 7200}, cheap, 180, 0, 180 + 1800},
		{"bounded by $3 of talk", rating.Rules{MaxCallSeconds: 7200}, dear, 180, 0, 180 + 20*60},
		{"at least a minute", rating.Rules{MaxCallSeconds: 7200}, ruinous, 60, 0, 120},
		{"within MAX_CALL_SECONDS", rating.Rules{MaxCallSeconds: 7230}, cheap, 7000, 0, 7200},
		{"within Twilio's 4 hours", rating.Rules{}, cheap, 14_000, 0, 14_400},
		{"within today's spending left", rating.Rules{MaxCallSeconds: 7200, DailySpendCents: 1000}, dear, 180, 700, 20 * 60}, // $3 left: 20 min
		{"never below what is covered", rating.Rules{MaxCallSeconds: 7200, DailySpendCents: 1000}, dear, 180, 1000, 180},
	} {
		if got := carrierCeiling(c.rules, c.rate, c.seconds, c.spent); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
