package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Quantile reads a histogram as Prometheus's histogram_quantile does.
func TestQuantileInterpolatesWithinTheBucket(t *testing.T) {
	b := []Bucket{{0.1, 10}, {0.5, 30}, {1, 40}, {math.Inf(1), 40}}
	for _, c := range []struct{ q, want float64 }{{0.25, 0.1}, {0.5, 0.3}, {0.75, 0.5}, {0.875, 0.75}, {0.1, 0.04}} {
		if got := Quantile(c.q, b); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%.3f = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Quantile(0.99, []Bucket{{1, 1}, {math.Inf(1), 5}}); got != 1 {
		t.Errorf("a quantile in +Inf is the highest finite bound: %v", got)
	}
	if !math.IsNaN(Quantile(0.5, []Bucket{{1, 0}, {math.Inf(1), 0}})) {
		t.Error("no observations: NaN")
	}
	if d := Minus([]Bucket{{1, 5}, {math.Inf(1), 9}}, []Bucket{{1, 2}, {math.Inf(1), 3}}); d[0].Count != 3 || d[1].Count != 6 {
		t.Errorf("Minus: %+v", d)
	}
}

// Add sums two processes' histograms of one family, bucket by bucket,
// also where one lacks a bound the other has.
func TestAddSumsHistogramsBucketByBucket(t *testing.T) {
	a := []Bucket{{0.1, 1}, {0.5, 3}, {math.Inf(1), 4}}
	b := []Bucket{{0.1, 2}, {0.5, 2}, {math.Inf(1), 7}}
	got := Add(a, b)
	want := []Bucket{{0.1, 3}, {0.5, 5}, {math.Inf(1), 11}}
	if len(got) != len(want) {
		t.Fatalf("Add = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Add = %+v, want %+v", got, want)
		}
	}
	// An empty side (a process never scraped) adds nothing.
	if got := Add(nil, b); got[2].Count != 7 || got[0].Count != 2 {
		t.Errorf("Add(nil, b) = %+v", got)
	}
	// A bound only a has: b's count there is its highest bound below it.
	got = Add([]Bucket{{0.1, 1}, {0.2, 2}, {math.Inf(1), 2}}, []Bucket{{0.1, 5}, {math.Inf(1), 6}})
	if got[1].UpperBound != 0.2 || got[1].Count != 7 || got[2].Count != 8 {
		t.Errorf("Add with a bound one side lacks = %+v", got)
	}
}

// A scrape of the handler reads back what was recorded, labels bounded.
func TestHandlerServesWhatWasRecorded(t *testing.T) {
	m := New()
	m.HTTPRequest("", "PROPFIND", 404, 30*time.Millisecond)
	m.HTTPRequest("/calls", "POST", 201, 200*time.Millisecond)
	m.CallFinished("completed", "", 400*time.Millisecond)
	m.CallFinished("busy", "NG", 0)
	var nilMetrics *Metrics
	nilMetrics.CallFinished("completed", "NG", time.Second) // counts nothing, and does not panic

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	m.Handler().ServeHTTP(rec, req)
	s, err := Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Value("mobayilo_http_request_duration_seconds", "route", "unmatched", "method", "other", "code", "404"); v != 1 {
		t.Errorf("unmatched route, other method: %v", v)
	}
	if v := s.Value("mobayilo_calls_finished_total", "country", "unknown"); v != 1 {
		t.Errorf("a call of no known country: %v", v)
	}
	if v := s.Value("mobayilo_calls_finished_total"); v != 2 {
		t.Errorf("calls finished: %v", v)
	}
	buckets, count, sum := s.Histogram("mobayilo_call_billing_lag_seconds")
	if count != 1 || math.Abs(sum-0.4) > 1e-9 {
		t.Errorf("billing lag: %v observations, sum %v (a lag of zero is not observed)", count, sum)
	}
	if got := Quantile(0.5, buckets); got <= 0.35 || got > 0.5 {
		t.Errorf("the median billing lag %v is not in the bucket of 0.4 s", got)
	}
}
