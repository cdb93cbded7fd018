package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Snapshot is one scrape of a /metrics endpoint, for the load tool's report
// and the tests: what Prometheus would have read.
type Snapshot map[string]*dto.MetricFamily

// Scrape reads a /metrics endpoint in Prometheus's text format.
func Scrape(ctx context.Context, c *http.Client, url string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// The text format, not the protobuf one a Prometheus server asks for.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: scrape %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}

// Parse reads the text exposition format.
func Parse(r io.Reader) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: parse: %w", err)
	}
	return Snapshot(families), nil
}

// matches says whether m has every label of want (name, value pairs).
func matches(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Value is the sum over the series of family name whose labels include
// labels (name, value pairs): a counter's or gauge's value, or a
// histogram's count. 0 when there is none.
func (s Snapshot) Value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	var v float64
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v
}

// Bucket is one cumulative histogram bucket: Count observations at most
// UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is family name's buckets (cumulative, summed over the series
// whose labels include labels), observation count and sum.
func (s Snapshot) Histogram(name string, labels ...string) (buckets []Bucket, count, sum float64) {
	f := s[name]
	if f == nil {
		return nil, 0, 0
	}
	byBound := map[float64]float64{}
	for _, m := range f.GetMetric() {
		h := m.GetHistogram()
		if h == nil || !matches(m, labels) {
			continue
		}
		count += float64(h.GetSampleCount())
		sum += h.GetSampleSum()
		for _, b := range h.GetBucket() {
			byBound[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	for ub, c := range byBound {
		buckets = append(buckets, Bucket{UpperBound: ub, Count: c})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].UpperBound < buckets[j].UpperBound })
	if len(buckets) == 0 || !math.IsInf(buckets[len(buckets)-1].UpperBound, 1) {
		buckets = append(buckets, Bucket{UpperBound: math.Inf(1), Count: count})
	}
	return buckets, count, sum
}

// Minus is the histogram of what b holds beyond a (b scraped after a):
// the observations of the time between the two scrapes.
func Minus(b, a []Bucket) []Bucket {
	before := map[float64]float64{}
	for _, x := range a {
		before[x.UpperBound] = x.Count
	}
	out := make([]Bucket, len(b))
	for i, x := range b {
		out[i] = Bucket{UpperBound: x.UpperBound, Count: x.Count - before[x.UpperBound]}
	}
	return out
}

// Add is the histogram of the observations of a and b together: two
// processes' histograms of one family, with the same bounds (a bound only
// one of them has is counted as the other's next bound up, as cumulative
// counts are).
func Add(a, b []Bucket) []Bucket {
	bounds := map[float64]bool{}
	for _, x := range a {
		bounds[x.UpperBound] = true
	}
	for _, x := range b {
		bounds[x.UpperBound] = true
	}
	out := make([]Bucket, 0, len(bounds))
	for ub := range bounds {
		out = append(out, Bucket{UpperBound: ub, Count: cumulativeAt(a, ub) + cumulativeAt(b, ub)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpperBound < out[j].UpperBound })
	return out
}

// cumulativeAt is how many of buckets' observations are at most ub: the
// count of the highest bound not above it.
func cumulativeAt(buckets []Bucket, ub float64) float64 {
	c := 0.0
	for _, x := range buckets {
		if x.UpperBound > ub {
			break
		}
		c = x.Count
	}
	return c
}

// Quantile estimates the q-quantile (0 < q < 1) of cumulative buckets as
// Prometheus's histogram_quantile does: linearly within the bucket it
// falls in (the lowest bucket from 0); the highest finite bound when it
// falls in the +Inf bucket; NaN without observations.
func Quantile(q float64, buckets []Bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return buckets[i-1].UpperBound
			}
			if b.Count == below {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.UpperBound, b.Count
	}
	return buckets[len(buckets)-1].UpperBound
}

// BucketOf is the index of the bucket v falls in (the first whose upper
// bound is at least v).
func BucketOf(v float64, bounds []float64) int {
	return sort.SearchFloat64s(bounds, v)
}
