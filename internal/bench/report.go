package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mobayilo/mobayilo/internal/tracing"
)

// Report is a run's figures; the JSON file holds the same as the table.
type Report struct {
	Started     time.Time      `json:"started"`
	WallSeconds float64        `json:"wall_seconds"`
	CPUs        int            `json:"cpus"`
	Options     map[string]any `json:"options"`
	Phases      []Phase        `json:"phases"`
	Rows        []Row          `json:"rows"`
	Ratios      []Ratio        `json:"ratios"`
	Burst       *Burst         `json:"burst,omitempty"`
	Sustained   *Sustained     `json:"sustained,omitempty"`
	// Traces: what the spans the observed rounds wrote hold.
	Traces *tracing.Summary `json:"traces,omitempty"`
	// Setup are the requests that prepare a measurement (their errors are
	// shown, their latencies are not the figures).
	Setup []Row    `json:"setup"`
	Notes []string `json:"notes,omitempty"`

	mu sync.Mutex
}

// Phase is how long one part of the run took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Burst is the burst of completions billed at once, and the interactive
// requests measured beside it.
type Burst struct {
	Calls   int `json:"calls"`
	Charged int `json:"charged"`
	// BilledSeconds: from the hang-ups to the last charge committed.
	BilledSeconds float64 `json:"billed_seconds"`
	MixSeconds    float64 `json:"interactive_seconds"`
	// MixAfterBilled of MixRequests interactive requests began after the
	// burst was all billed: those ran unloaded.
	MixRequests    int `json:"interactive_requests"`
	MixAfterBilled int `json:"interactive_after_billed"`
}

// Sustained is (d): zero-length call workflows completed in a window.
type Sustained struct {
	Seconds float64 `json:"seconds"`
	// CountedSeconds: the window counted, after a ramp at the start.
	CountedSeconds float64 `json:"counted_seconds"`
	Concurrency    int     `json:"concurrency"`
	Started        int     `json:"calls_authorized"`
	Completed      int     `json:"workflows_completed"`
	PerSecond      float64 `json:"completed_per_second"`
}

func newReport(o Options) *Report {
	return &Report{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Rows: []Row{}, Ratios: []Ratio{}, Setup: []Row{},
		Options: map[string]any{
			"levels": o.Levels, "requests": o.Requests, "charge_rate": o.ChargeRate, "charge_calls": o.ChargeCalls,
			"burst": o.Burst, "mix_calls": o.MixCalls, "mix_concurrency": o.MixConcurrency, "mix_purchases": o.MixPurchases,
			"purchase_concurrency": o.PurchaseConcurency, "sustain": o.Sustain.String(), "sustain_concurrency": o.SustainConcurrency,
			"voice_rates": o.VoiceRates, "voice_requests": o.VoiceRequests, "auth_burst": o.authBurst(), "settle": o.Settle.String(),
			"observe_rounds": o.ObserveRounds, "observe_requests": o.ObserveRequests, "observe_concurrency": o.ObserveConcurrency,
			"running_stack": o.WebURL != "", "shape": o.Shape, "webs": o.Webs, "workers": o.Workers,
		}}
}

func (r *Report) add(rows ...Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Rows = append(r.Rows, rows...)
}

func (r *Report) setup(row Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Setup = append(r.Setup, row)
}

func (r *Report) ratio(x Ratio) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Ratios = append(r.Ratios, x)
}

func (r *Report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// row is the measured row of key (zero if none).
func (r *Report) row(key string) Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.Rows {
		if x.Key == key {
			return x
		}
	}
	return Row{Key: key}
}

// finish adds the notes a reader needs to trust the figures.
func (r *Report) finish() {
	for _, x := range r.Ratios {
		if strings.HasPrefix(x.Name, "(b)/(a)") && x.P50 > 0 && x.P50 < 1 {
			r.note("%s: POST /calls answered faster than its floor at p50 (%.2f): check the instrument before trusting it", x.Name, x.P50)
		}
		if strings.HasPrefix(x.Name, "voice/minimal") && x.P50 > 0 && x.P50 < 1 {
			r.note("%s: the voice webhook answered faster than the minimal handler at p50 (%.2f)", x.Name, x.P50)
		}
	}
	if b := r.Burst; b != nil && b.MixRequests > 0 && b.MixAfterBilled > 0 {
		r.note("%d of %d interactive requests beside the burst began after it was all billed (%.1f s): they ran unloaded",
			b.MixAfterBilled, b.MixRequests, b.BilledSeconds)
	}
}

// print writes the table.
func (r *Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nMobayilo bench, %s, %d CPUs, wall time %s\n\n", r.Started.Format(time.RFC3339), r.CPUs,
		(time.Duration(r.WallSeconds) * time.Second).String())
	printRows(tw, "latency (ms)", r.Rows)
	_ = tw.Flush()
	printCPU(w, r.Rows)

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ratio\tp50\tp95\tp99\terrors (row / floor)\t\n")
	for _, x := range r.Ratios {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d / %d\t\n", x.Name, times(x.P50), times(x.P95), times(x.P99), x.RowErrors, x.FloorErrors)
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	if b := r.Burst; b != nil {
		fmt.Fprintf(w, "burst: %d of %d completions charged in %.1f s (hang-ups to the last charge committed); interactive requests beside it ran %.1f s\n",
			b.Charged, b.Calls, b.BilledSeconds, b.MixSeconds)
	}
	if s := r.Sustained; s != nil {
		fmt.Fprintf(w, "(d) sustained: %d zero-length call workflows completed in the last %.0f s of %.0f s = %.1f/s (%d authorized, %d driven at once)\n",
			s.Completed, s.CountedSeconds, s.Seconds, s.PerSecond, s.Started, s.Concurrency)
	}
	if r.Traces != nil {
		fmt.Fprintf(w, "traces: %d spans in %d traces (the whole run, the unobserved rounds apart)\n", r.Traces.Spans, r.Traces.Traces)
		for _, l := range r.Traces.Lines() {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	printRows(tw, "setup (not the figures)", r.Setup)
	_ = tw.Flush()
	for _, p := range r.Phases {
		fmt.Fprintf(w, "phase %-60s %6.1f s\n", p.Name, p.Seconds)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func printRows(tw io.Writer, title string, rows []Row) {
	fmt.Fprintf(tw, "%s\tn\terrors\tp50\tp95\tp99\tmax\t\n", title)
	for _, x := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", x.Name, x.N, errorsCell(x), num(x.P50, x.N), num(x.P95, x.N), num(x.P99, x.N), num(x.Max, x.N))
	}
}

// printCPU writes the rows' CPU per request, where measured (cpu.go).
func printCPU(w io.Writer, rows []Row) {
	var header bool
	for _, x := range rows {
		if x.CPU != nil {
			if !header {
				fmt.Fprintf(w, "\nCPU ms per request while the row ran (all of the stack's processes)\n")
				header = true
			}
			fmt.Fprintf(w, "  %-55s %s\n", x.Name, cpuCell(x.CPU))
		}
	}
}

func errorsCell(x Row) string {
	if x.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(x.ErrorKinds))
	for k, n := range x.ErrorKinds {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d (%s)", x.Errors, strings.Join(kinds, ", "))
}

func num(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func times(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func (r *Report) write(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "->" and "<Dial>" as written
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
