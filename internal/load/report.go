package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mobayilo/mobayilo/internal/tracing"
)

// Report is a run's figures and the check's result; the JSON file holds
// the same.
type Report struct {
	Options      map[string]any `json:"options"`
	Seed         uint64         `json:"seed"`
	DriveSeconds float64        `json:"drive_seconds"`
	TimedOut     bool           `json:"timed_out"` // the driving phase hit -duration

	Calls        map[string]int `json:"calls"`  // by outcome
	TopUps       map[string]int `json:"topups"` // by outcome
	CallsPerSec  float64        `json:"calls_per_second"`
	TopUpsPerSec float64        `json:"topups_per_second"`
	// Latencies in milliseconds.
	Authorize     Percentiles `json:"post_calls_ms"`
	Voice         Percentiles `json:"voice_webhook_ms"`
	Status        Percentiles `json:"status_webhook_ms"`
	FinalToCharge Percentiles `json:"final_callback_to_charge_ms"`
	// Live: what the open pages showed (-watch-live).
	Live *LiveFigures `json:"live,omitempty"`
	// Traces: what the run's spans hold (-traces).
	Traces *tracing.Summary `json:"traces,omitempty"`
	// AppBillingLag is the same lag from the app's own histogram
	// (mobayilo_call_billing_lag_seconds, summed over every worker
	// process), to check the metric against the tool's clock.
	AppBillingLag AppLag `json:"app_billing_lag_ms"`
	// ReconciledCharges: answered calls whose final callback was dropped,
	// charged through reconciliation with the carrier's REST API.
	ReconciledCharges int `json:"reconciled_charges"`
	// The browser's hang-up (POST /calls/{id}/hangup, final callbacks
	// lost): how many, and how long until the charge was committed (billed
	// calls) and until the user's call slot was free (all of them).
	BrowserHangUps int `json:"browser_hangups"`
	// HangUpsNearFaults: of those, hung up within 10 s of a worker kill
	// (a target of 30 s instead of 10).
	HangUpsNearFaults int         `json:"browser_hangups_near_faults"`
	HangUpToCharge    Percentiles `json:"browser_hangup_to_charge_ms"`
	HangUpToSlotFree  Percentiles `json:"browser_hangup_to_slot_free_ms"`
	// The target both are set against (hangUpTarget), and how many calls
	// were over it: a warning in the summary, never a failure (a timing on
	// a shared machine is not a gate). A slot not seen free while the tool
	// watched (hangUpWatch) counts over; that it was freed by the drain's
	// end is checked.
	HangUpTargetSeconds     float64 `json:"browser_hangup_target_seconds"`
	HangUpChargesOverTarget int     `json:"browser_hangup_charges_over_target"`
	HangUpSlotsOverTarget   int     `json:"browser_hangup_slots_over_target"`
	HangUpSlotsNotSeenFree  int     `json:"browser_hangup_slots_not_seen_free"`
	// Warnings: figures outside their targets. They do not fail the run.
	Warnings []string `json:"warnings,omitempty"`

	// BillingFaults: the wallets drained mid-call, as settleDebts found them.
	BillingFaults []BillingFault `json:"billing_faults,omitempty"`

	ExpectedChargeCents int64          `json:"expected_charge_cents"`
	Faults              map[string]int `json:"faults"`
	Notes               []string       `json:"notes,omitempty"`
	Problems            []Problem      `json:"problems"`

	mu sync.Mutex
}

// BillingFault is one call whose wallet the run drained mid-call.
type BillingFault struct {
	CallID       string `json:"call_id"`
	UserEmail    string `json:"user_email"`
	DrainedCents int64  `json:"drained_cents"` // debited through the console during the call, credited back after
	BillingState string `json:"billing_state"`
	ChargeCents  int64  `json:"charge_cents"` // the call_charge (negative; 0: none)
	// BalanceAfterCents: the wallet right after the charge (the ledger
	// row's balance_after): below zero, a debt.
	BalanceAfterCents int64  `json:"balance_after_cents"`
	NextCall          string `json:"next_call"` // what POST /calls answered on the debt: negative_balance, or "" if not tried
	CreditedBack      bool   `json:"credited_back"`
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

func shapeName(s string) string {
	if s == "" {
		return ShapeDev
	}
	return s
}

func reportOptions(o Options) map[string]any {
	webs, workers := Instances(o.Shape, o.Webs, o.Workers)
	return map[string]any{
		"users": o.Users, "calls": o.Calls, "topups": o.TopUps, "concurrency": o.Concurrency,
		"max_copies": o.MaxCopies, "loss": o.Loss, "delay": o.Delay.String(), "duration": o.Duration.String(),
		"kill_worker_every": o.KillWorkerEvery.String(), "restart_postgres": o.RestartPostgres,
		"restart_temporal": o.RestartTemporal, "billing_faults": o.BillingFaults, "browser_hangup": o.BrowserHangUp,
		"max_call_seconds": o.MaxCallSeconds, "authorization_window": o.AuthorizationWindow.String(),
		"reconcile_grace": o.ReconcileGrace.String(), "payment_timeout": o.PaymentTimeout.String(), "traces": o.Traces,
		"shape": shapeName(o.Shape), "webs": webs, "workers": workers, "kill_web_every": o.KillWebEvery.String(), "watch_live": o.WatchLive,
	}
}

// figures fills the report from the records and the books.
func (d *driver) figures(ctx context.Context, r *Report) error {
	calls, topups := d.calls(), d.topups()
	r.Calls, r.TopUps = map[string]int{}, map[string]int{}
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
		r.TopUps[t.Outcome]++
		if t.Outcome != TopUpStartFailed {
			settled++
		}
	}
	if r.DriveSeconds > 0 {
		r.CallsPerSec = float64(placed) / r.DriveSeconds
		r.TopUpsPerSec = float64(settled) / r.DriveSeconds
	}
	d.mu.Lock()
	r.Authorize, r.Voice, r.Status = percentiles(d.authorize), percentiles(d.voice), percentiles(d.status)
	r.Notes = append(r.Notes, d.notes...)
	r.BillingFaults = append(r.BillingFaults, d.billingFaults...)
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
	b, n := d.st.metrics.histogram("worker", "mobayilo_call_billing_lag_seconds")
	r.AppBillingLag = appLag("mobayilo_call_billing_lag_seconds", b, n, r.FinalToCharge)
	switch {
	case r.AppBillingLag.N == 0 && r.FinalToCharge.N > 0:
		// Charges the tool saw and the metric did not: the metric is broken.
		r.Problems = append(r.Problems, Problem{Kind: "metrics", ID: "mobayilo_call_billing_lag_seconds",
			Message: fmt.Sprintf("the tool timed %d charges after a final callback; the app's billing lag histogram holds none", r.FinalToCharge.N)})
	case !r.AppBillingLag.Agrees:
		r.Warnings = append(r.Warnings, fmt.Sprintf("the app's billing lag histogram (%s) does not agree within a bucket with the tool's clock (p50 %.0f ms, p99 %.0f ms)",
			r.AppBillingLag, r.FinalToCharge.P50, r.FinalToCharge.P99))
	}
	if d.o.Traces {
		spans, err := tracing.ReadFiles(filepath.Join(d.o.Dir, "traces-web.jsonl"), filepath.Join(d.o.Dir, "traces-worker.jsonl"))
		if err != nil {
			return err
		}
		r.Traces = spans.Summary()
	}
	return d.hangUpFigures(ctx, r, calls)
}

// hangUpFigures measures the browser's hang-ups: to the charge committed
// (the ledger's timestamp) and to the slot seen free (the tool's poll),
// and counts those over hangUpTarget (three times that near a worker
// kill), with a warning naming the slowest.
func (d *driver) hangUpFigures(ctx context.Context, r *Report, calls []CallRecord) error {
	r.HangUpTargetSeconds = hangUpTarget.Seconds()
	faults := d.faultTimes()
	var ids []string
	hung := map[string]CallRecord{}
	var free []time.Duration
	type slow struct {
		id   string
		took time.Duration // 0: slot not seen free
	}
	var slowest []slow
	over := map[string]bool{}
	target := func(c CallRecord) time.Duration {
		if nearFault(c.HungUpAt, faults) {
			return 3 * hangUpTarget
		}
		return hangUpTarget
	}
	for _, c := range calls {
		if !c.BrowserHangUp {
			continue
		}
		r.BrowserHangUps++
		if nearFault(c.HungUpAt, faults) {
			r.HangUpsNearFaults++
		}
		if c.SlotFreedAt.IsZero() {
			r.HangUpSlotsOverTarget++
			r.HangUpSlotsNotSeenFree++
			slowest, over[c.CallID] = append(slowest, slow{c.CallID, 0}), true
		} else {
			took := max(c.SlotFreedAt.Sub(c.HungUpAt), 0)
			free = append(free, took)
			if took > target(c) {
				r.HangUpSlotsOverTarget++
				slowest, over[c.CallID] = append(slowest, slow{c.CallID, took}), true
			}
		}
		if c.ExpectedCents > 0 {
			ids = append(ids, c.CallID)
			hung[c.CallID] = c
		}
	}
	r.HangUpToSlotFree = percentiles(free)
	charged, err := chargeTimes(ctx, d.st.pool, ids)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for id, at := range charged {
		c := hung[id]
		took := max(at.Sub(c.HungUpAt), 0)
		lat = append(lat, took)
		if took > target(c) {
			r.HangUpChargesOverTarget++
			if !over[id] {
				slowest, over[id] = append(slowest, slow{id, took}), true
			}
		}
	}
	r.HangUpToCharge = percentiles(lat)
	if len(over) == 0 {
		return nil
	}
	sort.Slice(slowest, func(i, j int) bool {
		a, b := slowest[i].took, slowest[j].took
		if (a == 0) != (b == 0) {
			return a == 0 // never seen free: the slowest
		}
		return a > b || (a == b && slowest[i].id < slowest[j].id)
	})
	var names []string
	for _, s := range slowest[:min(len(slowest), 3)] {
		took := msText(float64(s.took.Milliseconds()))
		if s.took == 0 {
			took = "slot not seen free in " + secText(hangUpWatch)
		}
		names = append(names, fmt.Sprintf("call %s (%s)", s.id, took))
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf(
		"%d of %d browser hang-ups over the %s target (%s within %s of a worker kill): charge committed %d over (p95 %s, max %s), slot free %d over (p95 %s, max %s; %d not seen free in %s); slowest %s. A timing on a shared machine: reported, not a failure.",
		len(over), r.BrowserHangUps, secText(hangUpTarget), secText(3*hangUpTarget), secText(hangUpTarget),
		r.HangUpChargesOverTarget, msText(r.HangUpToCharge.P95), msText(r.HangUpToCharge.Max),
		r.HangUpSlotsOverTarget, msText(r.HangUpToSlotFree.P95), msText(r.HangUpToSlotFree.Max), r.HangUpSlotsNotSeenFree, secText(hangUpWatch),
		strings.Join(names, ", ")))
	return nil
}

// msText writes a figure in milliseconds as seconds, "1.2 s".
func msText(ms float64) string { return fmt.Sprintf("%.1f s", ms/1000) }

// secText writes a target in seconds, "10 s".
func secText(d time.Duration) string { return fmt.Sprintf("%g s", d.Seconds()) }

// print writes the summary table.
func (r *Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nMobayilo load run (seed %d)\n", r.Seed)
	fmt.Fprintf(tw, "driving\t%.1f s\t%s\n", r.DriveSeconds, map[bool]string{true: "(stopped at -duration)", false: ""}[r.TimedOut])
	fmt.Fprintf(tw, "calls\t%s\t%.1f placed/s\n", counts(r.Calls), r.CallsPerSec)
	fmt.Fprintf(tw, "top-ups\t%s\t%.1f/s\n", counts(r.TopUps), r.TopUpsPerSec)
	fmt.Fprintf(tw, "faults\t%s\t\n", counts(r.Faults))
	fmt.Fprintf(tw, "\nlatency (ms)\tn\tp50\tp95\tp99\tmax\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"POST /calls (authorize)", r.Authorize}, {"voice webhook", r.Voice}, {"status webhook", r.Status}, {"final callback -> charge committed", r.FinalToCharge},
		{"browser hang-up -> charge committed", r.HangUpToCharge}, {"browser hang-up -> call slot free", r.HangUpToSlotFree}} {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\n", row.name, row.p.N, row.p.P50, row.p.P95, row.p.P99, row.p.Max)
	}
	agree := map[bool]string{true: "agrees with the tool's clock within a bucket", false: "DOES NOT agree with the tool's clock within a bucket"}[r.AppBillingLag.Agrees]
	fmt.Fprintf(tw, "  the same, app's histogram\t%d\t%.1f\t%.1f\t%.1f\t-\t%s (%d worker processes)\n",
		r.AppBillingLag.N, r.AppBillingLag.P50, r.AppBillingLag.P95, r.AppBillingLag.P99, agree, r.AppBillingLag.Processes)
	fmt.Fprintf(tw, "\ncharges expected\t$%d.%02d\t(%d answered calls reconciled after a lost final callback)\n",
		r.ExpectedChargeCents/100, r.ExpectedChargeCents%100, r.ReconciledCharges)
	if r.BrowserHangUps > 0 {
		fmt.Fprintf(tw, "browser hang-ups\t%d\t(final callbacks lost; each billed and its slot freed by the drain's end: checked)\n", r.BrowserHangUps)
		fmt.Fprintf(tw, "hang-up target\t%s\tcharge committed: %d of %d within it (p50 %s, p95 %s, max %s); slot free: %d of %d within it (p50 %s, p95 %s, max %s); %s for the %d within %s of a worker kill; a figure, not a gate\n",
			secText(hangUpTarget),
			r.HangUpToCharge.N-r.HangUpChargesOverTarget, r.HangUpToCharge.N, msText(r.HangUpToCharge.P50), msText(r.HangUpToCharge.P95), msText(r.HangUpToCharge.Max),
			r.BrowserHangUps-r.HangUpSlotsOverTarget, r.BrowserHangUps, msText(r.HangUpToSlotFree.P50), msText(r.HangUpToSlotFree.P95), msText(r.HangUpToSlotFree.Max),
			secText(3*hangUpTarget), r.HangUpsNearFaults, secText(hangUpTarget))
	}
	for _, f := range r.BillingFaults {
		next := f.NextCall
		if next == "" {
			next = "not tried"
		}
		fmt.Fprintf(tw, "billing fault\tcall %s (%s): %d cents drained mid-call; billing_state %s, call_charge %s, the wallet at %d cents after it; the next call: %s; credited back: %v\n",
			f.CallID, f.UserEmail, f.DrainedCents, f.BillingState, signedCents(f.ChargeCents), f.BalanceAfterCents, next, f.CreditedBack)
	}
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
	if l := r.Live; l != nil {
		fmt.Fprintf(tw, "live pages\t%d of %d\tshowed their wallet's last version by the end (%d streams reopened after one dropped); %d of %d calls whose final callback another instance took than the stream's showed it live\n",
			l.Current, l.Pages, l.Reconnects, l.CrossShown, l.CrossInstance)
	}
	if r.Traces != nil {
		fmt.Fprintf(tw, "traces\t%d spans in %d traces\n", r.Traces.Spans, r.Traces.Traces)
		for _, l := range r.Traces.Lines() {
			fmt.Fprintf(tw, "\t%s\n", l)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(tw, "warning\t%s\n", w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
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
