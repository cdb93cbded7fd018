package load

import (
	"math"
	"testing"

	"github.com/mobayilo/mobayilo/internal/metrics"
)

// The app's histogram agrees with the tool's clock when their p50 and p99
// fall in the same bucket or the next; a histogram that holds nothing, or
// lags a bucket and more away, does not.
func TestAppLagAgreesWithinABucket(t *testing.T) {
	// 100 charges: 60 within 0.5 s, 39 more within 1 s, 1 within 2 s.
	b := []metrics.Bucket{{UpperBound: 0.2, Count: 0}, {UpperBound: 0.35, Count: 10}, {UpperBound: 0.5, Count: 60},
		{UpperBound: 0.75, Count: 80}, {UpperBound: 1, Count: 99}, {UpperBound: 1.5, Count: 99}, {UpperBound: 2, Count: 100},
		{UpperBound: 3, Count: 100}, {UpperBound: math.Inf(1), Count: 100}}
	l := appLag("lag", b, 2, Percentiles{N: 100, P50: 450, P99: 980})
	if !l.Agrees || l.N != 100 || l.Processes != 2 {
		t.Errorf("a tool clock in the app's buckets: %+v", l)
	}
	if l.P50 < 350 || l.P50 > 500 {
		t.Errorf("p50 %v ms is not in the (0.35, 0.5] s bucket", l.P50)
	}
	if l := appLag("lag", b, 2, Percentiles{N: 100, P50: 450, P99: 2900}); l.Agrees {
		t.Errorf("a tool p99 two buckets above: %+v", l)
	}
	if l := appLag("lag", b, 2, Percentiles{N: 100, P50: 150, P99: 980}); l.Agrees {
		t.Errorf("a tool p50 two buckets below: %+v", l)
	}
	if l := appLag("lag", nil, 0, Percentiles{N: 100, P50: 450, P99: 980}); l.Agrees || l.N != 0 {
		t.Errorf("an empty histogram: %+v", l)
	}
}
