package bench

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Row is one measured thing: its latencies and its errors.
type Row struct {
	Key  string `json:"key"`  // stable, for scripts: "floor_c10", "post_calls_c10", ...
	Name string `json:"name"` // what the table says
	N    int    `json:"n"`    // answered requests measured
	// Errors are requests that did not do what was asked (a non-2xx, a
	// 503, a refusal, no answer), by kind; never left out of the table.
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// Latencies in milliseconds, of the answered requests.
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// Note says how the row was measured, when the name cannot.
	Note string `json:"note,omitempty"`
	// CPU is what each part of the stack spent on the row, in CPU
	// milliseconds per request (cpu.go), when measured.
	CPU map[string]float64 `json:"cpu_ms_per_request,omitempty"`
}

// recorder collects one row's samples from many goroutines.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors map[string]int
}

func newRecorder() *recorder { return &recorder{errors: map[string]int{}} }

func (r *recorder) ok(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, d)
}

func (r *recorder) fail(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[kind]++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.lat)
	for _, e := range r.errors {
		n += e
	}
	return n
}

func (r *recorder) row(key, name string) Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	row := summarize(r.lat)
	row.Key, row.Name = key, name
	for k, n := range r.errors {
		if row.ErrorKinds == nil {
			row.ErrorKinds = map[string]int{}
		}
		row.ErrorKinds[k] = n
		row.Errors += n
	}
	return row
}

// summarize gives the percentiles of xs by nearest rank: the p-th
// percentile is the smallest sample with at least p% of the samples at or
// below it (so with 100 samples p99 is the 99th smallest, and with fewer
// than 100 it is the largest).
func summarize(xs []time.Duration) Row {
	if len(xs) == 0 {
		return Row{}
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return Row{N: len(s), P50: ms(percentile(s, 50)), P95: ms(percentile(s, 95)), P99: ms(percentile(s, 99)), Max: ms(s[len(s)-1])}
}

// percentile is the nearest-rank p-th percentile of sorted (not empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Ratio sets one row beside its floor: each figure of Row over Floor's.
type Ratio struct {
	Name  string  `json:"name"`
	Row   string  `json:"row"`   // the Key of the measured row
	Floor string  `json:"floor"` // the Key of the floor's row
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	// The errors of each side: a ratio of the answered requests says
	// little when many were not.
	RowErrors   int `json:"row_errors"`
	FloorErrors int `json:"floor_errors"`
}

// ratio divides row's percentiles by floor's; a figure without both
// samples is 0 (the table prints "-").
func ratio(name string, row, floor Row) Ratio {
	div := func(a, b float64) float64 {
		if row.N == 0 || floor.N == 0 || b <= 0 {
			return 0
		}
		return a / b
	}
	return Ratio{Name: name, Row: row.Key, Floor: floor.Key,
		P50: div(row.P50, floor.P50), P95: div(row.P95, floor.P95), P99: div(row.P99, floor.P99),
		RowErrors: row.Errors, FloorErrors: floor.Errors}
}
