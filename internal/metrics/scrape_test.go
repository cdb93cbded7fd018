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
