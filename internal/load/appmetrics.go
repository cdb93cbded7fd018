package load

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/mobayilo/mobayilo/internal/metrics"
)

// appMetrics keeps the last scrape of every process the stack started, so
// the report can read the app's own histograms beside the tool's clock. A
// process's counters die with it: a worker killed takes its histogram
// along, so the stack scrapes the worker right before it kills it, and
// every process each second, and a dead process's last scrape stands for
// it. Each process starts from zero, so the run's histogram is the sum of
// every process's last scrape.
type appMetrics struct {
	http *http.Client

	mu      sync.Mutex
	urls    []string                    // every process's /metrics, in start order
	last    map[string]metrics.Snapshot // the last scrape of each
	role    map[string]string           // url -> role
	current map[string]string           // instance name -> its running process's url
}

func newAppMetrics() *appMetrics {
	return &appMetrics{http: &http.Client{Timeout: 2 * time.Second}, last: map[string]metrics.Snapshot{}, role: map[string]string{},
		current: map[string]string{}}
}

// add records the metrics endpoint of instance's new process: the one to
// scrape from now on (its earlier processes are gone; their last scrapes
// stay).
func (m *appMetrics) add(role, instance, url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.urls = append(m.urls, url)
	m.role[url] = role
	m.current[instance] = url
}

// scrape reads one process's metrics and keeps them; a failure (the
// process is gone) keeps what was read before.
func (m *appMetrics) scrape(ctx context.Context, url string) error {
	s, err := metrics.Scrape(ctx, m.http, url)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.last[url] = s
	m.mu.Unlock()
	return nil
}

// scrapeAll scrapes each instance's running process.
func (m *appMetrics) scrapeAll(ctx context.Context) {
	m.mu.Lock()
	var urls []string
	for _, u := range m.current {
		urls = append(urls, u)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.scrape(ctx, u) }()
	}
	wg.Wait()
}

// watch scrapes every process each interval until ctx ends.
func (m *appMetrics) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.scrapeAll(ctx)
		}
	}
}

// histogram is family name's buckets summed over the last scrape of every
// process of role, and how many processes had been scraped.
func (m *appMetrics) histogram(role, name string) ([]metrics.Bucket, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum []metrics.Bucket
	n := 0
	for _, u := range m.urls {
		s, ok := m.last[u]
		if !ok || m.role[u] != role {
			continue
		}
		b, _, _ := s.Histogram(name)
		sum = metrics.Add(sum, b)
		n++
	}
	return sum, n
}

// AppLag is a lag as the app's own histogram holds it: quantiles estimated
// as Prometheus's histogram_quantile does, in milliseconds.
type AppLag struct {
	Metric    string  `json:"metric"`
	N         int     `json:"n"`
	P50       float64 `json:"p50"`
	P95       float64 `json:"p95"`
	P99       float64 `json:"p99"`
	Processes int     `json:"processes"` // worker processes whose scrapes were summed
	// Agrees: the tool's p50 and p99 each fall in the same bucket as the
	// app's, or the next one (a quantile estimated within a bucket cannot
	// be closer than that).
	Agrees bool `json:"agrees"`
}

// appLag reads a lag histogram and compares it with the tool's own
// percentiles of the same thing.
func appLag(name string, buckets []metrics.Bucket, processes int, tool Percentiles) AppLag {
	ms := func(q float64) float64 {
		v := metrics.Quantile(q, buckets)
		if math.IsNaN(v) {
			return 0
		}
		return math.Round(v*1000*10) / 10
	}
	l := AppLag{Metric: name, Processes: processes, P50: ms(0.50), P95: ms(0.95), P99: ms(0.99)}
	if len(buckets) > 0 {
		l.N = int(buckets[len(buckets)-1].Count)
	}
	var bounds []float64
	for _, b := range buckets {
		if !math.IsInf(b.UpperBound, 1) {
			bounds = append(bounds, b.UpperBound)
		}
	}
	near := func(toolMs, appMs float64) bool {
		d := metrics.BucketOf(toolMs/1000, bounds) - metrics.BucketOf(appMs/1000, bounds)
		return d >= -1 && d <= 1
	}
	l.Agrees = l.N > 0 && tool.N > 0 && near(tool.P50, l.P50) && near(tool.P99, l.P99)
	return l
}

// String is the lag for the summary table.
func (l AppLag) String() string {
	return fmt.Sprintf("n=%d p50=%.0f p95=%.0f p99=%.0f ms (%d worker processes)", l.N, l.P50, l.P95, l.P99, l.Processes)
}
