package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is a run's figures and the check's result; the JSON file holds
// the same.
type Report struct {
	Options      map[string]any `json:"options"`
	Seed         uint64         `json:"seed"`
	DriveSeconds float64        `json:"drive_seconds"`
	TimedOut     bool           `json:"timed_out"` // the driving phase hit -duration

	Calls        map[string]int `json:"calls"`  // by outcome
	Topups       map[string]int `json:"topups"` // by outcome
	CallsPerSec  float64        `json:"calls_per_second"`
	TopupsPerSec float64        `json:"topups_per_second"`
	// Latencies in milliseconds.
	Authorize     Percentiles `json:"post_calls_ms"`
	Voice         Percentiles `json:"voice_webhook_ms"`
	Status        Percentiles `json:"status_webhook_ms"`
	FinalToCharge Percentiles `json:"final_callback_to_charge_ms"`
	// ReconciledCharges: answered calls whose final callback was dropped,
	// charged through reconciliation with the carrier's REST API.
	ReconciledCharges int `json:"reconciled_charges"`
	// The browser's hang-up (POST /calls/{id}/hangup, final callbacks
	// lost): how many, and how long until the charge was committed (billed
	// calls) and until the user's call slot was free (all of them).
	BrowserHangUps int `json:"browser_hangups"`
	// HangUpsNearFaults: of those, hung up within 10 s of a worker kill
	// (allowed 30 s instead of 10).
	HangUpsNearFaults int         `json:"browser_hangups_near_faults"`
	HangUpToCharge    Percentiles `json:"browser_hangup_to_charge_ms"`
	HangUpToSlotFree  Percentiles `json:"browser_hangup_to_slot_free_ms"`

	ExpectedChargeCents int64          `json:"expected_charge_cents"`
	Faults              map[string]int `json:"faults"`
	Notes               []string       `json:"notes,omitempty"`
	Problems            []Problem      `json:"problems"`

	mu sync.Mutex
}

// Percentiles of a latency sample.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(xs []time.Duration) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := sortedCopy(xs)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		i = min(max(i, 0), len(s)-1)
		return float64(s[i].Microseconds()) / 1000
	}
	return Percentiles{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: float64(s[len(s)-1].Microseconds()) / 1000}
}

func (r *Report) addFault(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Faults == nil {
		r.Faults = map[string]int{}
	}
	r.Faults[kind]++
}

func reportOptions(o Options) map[string]any {
	return map[string]any{
		"users": o.Users, "calls": o.Calls, "topups": o.Topups, "concurrency": o.Concurrency,
		"max_copies": o.MaxCopies, "loss": o.Loss, "delay": o.Delay.String(), "duration": o.Duration.String(),
		"kill_worker_every": o.KillWorkerEvery.String(), "restart_postgres": o.RestartPostgres,
		"restart_temporal": o.RestartTemporal, "billing_faults": o.BillingFaults, "browser_hangup": o.BrowserHangUp,
		"max_call_seconds": o.MaxCallSeconds, "authorization_window": o.AuthorizationWindow.String(),
		"reconcile_grace": o.ReconcileGrace.String(), "payment_timeout": o.PaymentTimeout.String(),
	}
}

// figures fills the report from the records and the books.
func (d *driver) figures(ctx context.Context, r *Report) error {
	calls, topups := d.calls(), d.topups()
	r.Calls, r.Topups = map[string]int{}, map[string]int{}
	placed := 0
	for _, c := range calls {
		r.Calls[c.Outcome]++
		r.ExpectedChargeCents += c.ExpectedCents
		switch c.Outcome {
		case OutcomeAnswered, OutcomeBusy, OutcomeNoAnswer, OutcomeFailed:
			placed++
		}
	}
	settled := 0
	for _, t := range topups {
		r.Topups[t.Outcome]++
		if t.Outcome != TopupStartFailed {
			settled++
		}
	}
	if r.DriveSeconds > 0 {
		r.CallsPerSec = float64(placed) / r.DriveSeconds
		r.TopupsPerSec = float64(settled) / r.DriveSeconds
	}
	d.mu.Lock()
	r.Authorize, r.Voice, r.Status = percentiles(d.authorize), percentiles(d.voice), percentiles(d.status)
	r.Notes = append(r.Notes, d.notes...)
	d.mu.Unlock()

	// Final callback taken -> charge committed, from the ledger's own
	// timestamps (one machine, one clock).
	var ids []string
	final := map[string]time.Time{}
	for _, c := range calls {
		if c.ExpectedCents > 0 && !c.DebtOnPurpose {
			ids = append(ids, c.CallID)
			if !c.FinalAt.IsZero() {
				final[c.CallID] = c.FinalAt
			} else if c.FinalDropped && !c.BrowserHangUp {
				r.ReconciledCharges++
			}
		}
	}
	rows, err := d.st.pool.Query(ctx, `SELECT call_id::text, created_at FROM transactions WHERE kind = 'call_charge' AND call_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	var lat []time.Duration
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		if f, ok := final[id]; ok {
			lat = append(lat, max(at.Sub(f), 0))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.FinalToCharge = percentiles(lat)
	return d.hangUpFigures(ctx, r, calls)
}

// hangUpFigures measures the browser's hang-ups: to the charge committed
// (the ledger's timestamp) and to the slot seen free (the tool's poll).
func (d *driver) hangUpFigures(ctx context.Context, r *Report, calls []CallRecord) error {
	var ids []string
	hung := map[string]time.Time{}
	var free []time.Duration
	for _, c := range calls {
		if !c.BrowserHangUp {
			continue
		}
		r.BrowserHangUps++
		if nearFault(c.HungUpAt, d.faultTimes()) {
			r.HangUpsNearFaults++
		}
		if !c.SlotFreedAt.IsZero() {
			free = append(free, max(c.SlotFreedAt.Sub(c.HungUpAt), 0))
		}
		if c.ExpectedCents > 0 {
			ids = append(ids, c.CallID)
			hung[c.CallID] = c.HungUpAt
		}
	}
	r.HangUpToSlotFree = percentiles(free)
	charged, err := chargeTimes(ctx, d.st.pool, ids)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for id, at := range charged {
		lat = append(lat, max(at.Sub(hung[id]), 0))
	}
	r.HangUpToCharge = percentiles(lat)
	return nil
}

// print writes the summary table.
func (r *Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nMobayilo load run (seed %d)\n", r.Seed)
	fmt.Fprintf(tw, "driving\t%.1f s\t%s\n", r.DriveSeconds, map[bool]string{true: "(stopped at -duration)", false: ""}[r.TimedOut])
	fmt.Fprintf(tw, "calls\t%s\t%.1f placed/s\n", counts(r.Calls), r.CallsPerSec)
	fmt.Fprintf(tw, "top-ups\t%s\t%.1f/s\n", counts(r.Topups), r.TopupsPerSec)
	fmt.Fprintf(tw, "faults\t%s\t\n", counts(r.Faults))
	fmt.Fprintf(tw, "\nlatency (ms)\tn\tp50\tp95\tp99\tmax\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"POST /calls (authorize)", r.Authorize}, {"voice webhook", r.Voice}, {"status webhook", r.Status}, {"final callback -> charge committed", r.FinalToCharge},
		{"browser hang-up -> charge committed", r.HangUpToCharge}, {"browser hang-up -> call slot free", r.HangUpToSlotFree}} {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\n", row.name, row.p.N, row.p.P50, row.p.P95, row.p.P99, row.p.Max)
	}
	fmt.Fprintf(tw, "\ncharges expected\t$%d.%02d\t(%d answered calls reconciled after a lost final callback)\n",
		r.ExpectedChargeCents/100, r.ExpectedChargeCents%100, r.ReconciledCharges)
	fmt.Fprintf(tw, "browser hang-ups\t%d\t(final callbacks lost; each billed and its slot free within %s, or %s for the %d within %s of a worker kill)\n",
		r.BrowserHangUps, hangUpLimit, 3*hangUpLimit, r.HangUpsNearFaults, hangUpLimit)
	if len(r.Problems) == 0 {
		fmt.Fprintf(tw, "check\tPASSED\tevery answered call charged once at the right price, nothing for the others, every paid top-up credited once, ledger verify clean, no workflow left running\n")
	} else {
		fmt.Fprintf(tw, "check\tFAILED\t%d problem(s):\n", len(r.Problems))
		for i, p := range r.Problems {
			if i == 50 {
				fmt.Fprintf(tw, "\t\t... and %d more (see the JSON report)\n", len(r.Problems)-50)
				break
			}
			fmt.Fprintf(tw, "\t%s\t%s\n", p.Kind, p.Message)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\t\n", n)
	}
	_ = tw.Flush()
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}

func (r *Report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
