package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/promlocal"
	"github.com/mobayilo/mobayilo/internal/temporalx"
)

// Options are the run's flags.
type Options struct {
	Binary      string // this binary: the web and worker roles are started from it
	Dir         string // logs and the Temporal database
	DatabaseURL string // a loopback database named mobayilo_load*, dropped and created

	Users       int
	Calls       int
	TopUps      int
	Concurrency int
	// MaxCopies: every webhook is delivered 1 to MaxCopies times.
	MaxCopies int
	// Loss is the share of calls whose final status callback (and Dial
	// action) never arrives.
	Loss float64
	// Delay: each webhook is held back a random time up to Delay.
	Delay time.Duration
	// Duration bounds the driving phase; Drain bounds the wait for the
	// workflows to finish afterwards.
	Duration, Drain time.Duration

	// Faults.
	KillWorkerEvery time.Duration // SIGKILL a worker this often (0: never)
	KillWebEvery    time.Duration // SIGKILL a web instance this often, and start it again 3 s later (0: never)
	RestartPostgres bool          // once, a third of the way in
	RestartTemporal bool          // once, half way in
	BillingFaults   int           // calls whose wallet is drained mid-call: charged in full as a debt, then credited back through the support console
	// BrowserHangUp is the share of calls whose browser says they ended
	// (POST /calls/{id}/hangup) with their final callbacks lost, or, for an
	// authorized call never connected, cancels it.
	BrowserHangUp float64
	// WatchLive is the share of users whose page keeps the live stream
	// open all along: each must show the wallet's last version by the end.
	WatchLive float64
	// AutoTopUp is the share of users who turn auto top-up on after their
	// first top-up (autotopup.go).
	AutoTopUp float64

	// The app's timings, shortened so a run's reconciliations finish in it.
	MaxCallSeconds      int
	AuthorizationWindow time.Duration
	ReconcileGrace      time.Duration
	PaymentTimeout      time.Duration

	// Traces: every process writes its spans to traces-<role>.jsonl in Dir.
	Traces bool
	// Prometheus: run one on this loopback host:port, scraping the stack.
	Prometheus string
	// Shape, Webs, Workers: as StackOptions'.
	Shape         string
	Webs, Workers int

	Seed     uint64
	Report   string    // JSON report path ("" for none)
	Progress io.Writer // progress bar (stderr)
	Out      io.Writer // summary table (stdout)
}

// Defaults are the flags' defaults: a short run.
func Defaults() Options {
	return Options{
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/mobayilo_load?sslmode=disable",
		Users:       50, Calls: 300, TopUps: 60, Concurrency: 25, MaxCopies: 3, Loss: 0.05, Delay: 50 * time.Millisecond,
		Duration: 10 * time.Minute, Drain: 5 * time.Minute,
		AutoTopUp:      0.2,
		MaxCallSeconds: 60, AuthorizationWindow: 15 * time.Second, ReconcileGrace: 10 * time.Second, PaymentTimeout: time.Minute,
		Seed: uint64(time.Now().UnixNano()), Report: "load-report.json",
	}
}

// Validate refuses runs that are not bounded.
func (o Options) Validate() error {
	var errs []error
	if o.Users < 1 || o.Users > 10_000 {
		errs = append(errs, errors.New("-users must be 1 to 10000"))
	}
	if o.Calls < 0 || o.Calls > 100_000 || o.TopUps < 0 || o.TopUps > 100_000 {
		errs = append(errs, errors.New("-calls and -topups must be 0 to 100000"))
	}
	if o.TopUps < o.Users && o.Calls > 0 {
		errs = append(errs, errors.New("-topups must be at least -users: every user buys credit before calling"))
	}
	if o.Concurrency < 1 || o.Concurrency > o.Users {
		errs = append(errs, errors.New("-concurrency must be 1 to -users (a user places one call at a time)"))
	}
	if o.MaxCopies < 1 || o.MaxCopies > 10 {
		errs = append(errs, errors.New("-dup must be 1 to 10"))
	}
	if o.Loss < 0 || o.Loss > 1 {
		errs = append(errs, errors.New("-loss must be between 0 and 1"))
	}
	if o.AutoTopUp < 0 || o.AutoTopUp > 1 {
		errs = append(errs, errors.New("-auto-topup must be between 0 and 1"))
	}
	if o.WatchLive < 0 || o.WatchLive > 1 {
		errs = append(errs, errors.New("-watch-live must be between 0 and 1"))
	}
	if o.BrowserHangUp < 0 || o.BrowserHangUp > 1 {
		errs = append(errs, errors.New("-browser-hangup must be between 0 and 1"))
	}
	if o.Duration <= 0 || o.Duration > 2*time.Hour || o.Drain <= 0 || o.Drain > time.Hour {
		errs = append(errs, errors.New("-duration must be up to 2h and -drain up to 1h"))
	}
	if err := (StackOptions{Shape: o.Shape, Webs: o.Webs, Workers: o.Workers}).validateShape(); err != nil {
		errs = append(errs, err)
	}
	if o.BillingFaults < 0 || o.BillingFaults > o.Calls {
		errs = append(errs, errors.New("-billing-faults must be 0 to -calls"))
	}
	return errors.Join(errs...)
}

// Run starts the stack, drives it, checks the books and reports. It
// returns the report, and an error when the run could not be made; the
// report's Problems say whether the promise held.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	deck, err := loadDeck()
	if err != nil {
		return nil, err
	}
	dests, err := usableDestinations(deck)
	if err != nil {
		return nil, err
	}
	webs, workers := Instances(o.Shape, o.Webs, o.Workers)
	fmt.Fprintf(o.Progress, "load: starting the app (database, Temporal %s, %d web, %d worker) in %s\n",
		map[bool]string{true: "cluster on Postgres", false: "dev server"}[o.Shape == ShapeCluster], webs, workers, o.Dir)
	st, err := startStack(ctx, o)
	if st != nil {
		defer st.stop()
	}
	if err != nil {
		return nil, err
	}
	if st.prom != nil {
		fmt.Fprintf(o.Progress, "load: Prometheus is scraping the stack: %s\n", st.prom.GraphURL("15m", promlocal.Graphs...))
	}
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: st.temporal.address(), Namespace: "default",
		Codec: codec.New(st.cfg.TemporalCodecKeys)})
	if err != nil {
		return nil, err
	}
	defer tc.Close()

	d := newDriver(o, st, deck, dests, rng)
	d.liveCtx, d.stopLive = context.WithCancel(context.WithoutCancel(ctx))
	defer d.stopLive()
	rep := &Report{Options: reportOptions(o), Seed: o.Seed}
	driveCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	// Faults run beside the driver.
	var faults sync.WaitGroup
	faultCtx, stopFaults := context.WithCancel(driveCtx)
	faults.Add(1)
	go func() { defer faults.Done(); d.runFaults(faultCtx, rep) }()

	stopProgress := d.progress(o.Progress)
	start := time.Now()
	err = d.drive(driveCtx)
	rep.DriveSeconds = time.Since(start).Seconds()
	stopFaults()
	faults.Wait()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		stopProgress()
		return nil, err
	}
	rep.TimedOut = errors.Is(err, context.DeadlineExceeded)

	// Support's part, then the wait for every workflow to finish.
	if err := d.settleDebts(ctx, o.Drain); err != nil {
		d.fail("billing faults: %v", err)
	}
	running := func(ctx context.Context) ([]string, error) { return runningWorkflows(ctx, tc) }
	d.settleAutoTopUps(ctx, o.Drain/2, running)
	d.drain(ctx, o.Drain, running)
	stopProgress()
	// The app's own figures, as they stand at the end (a killed worker's
	// stand as last read before the kill).
	st.metrics.scrapeAll(ctx)

	problems, err := Check(ctx, st.pool, d.calls(), d.topups(), CheckOptions{Running: running, Adjustments: int(d.adjustments.Load())})
	if err != nil {
		return nil, err
	}
	problems = append(problems, CheckHangUps(ctx, st.pool, d.calls())...)
	if d.o.WatchLive > 0 {
		d.mu.Lock()
		pages := append([]*liveWatch(nil), d.live...)
		d.mu.Unlock()
		lf, lp := checkLive(ctx, st.pool, pages, d.calls(), st.lb, 15*time.Second)
		rep.Live = &lf
		problems = append(problems, lp...)
	}
	d.stopLive()
	rep.Problems = append(problems, d.runProblems(rep)...)
	if rep.Problems == nil {
		rep.Problems = []Problem{} // "problems": [] in the JSON, not null
	}
	if err := d.figures(ctx, rep); err != nil {
		return nil, err
	}
	rep.print(o.Out)
	if o.Report != "" {
		if err := rep.write(o.Report); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runningWorkflows lists the IDs of running workflows.
func runningWorkflows(ctx context.Context, tc client.Client) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: `ExecutionStatus = "Running"`, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Executions {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return ids, nil
		}
	}
}

// runFaults crashes and restarts parts of the stack as asked.
func (d *driver) runFaults(ctx context.Context, rep *Report) {
	start := time.Now()
	var kill, killWeb <-chan time.Time
	if d.o.KillWorkerEvery > 0 {
		t := time.NewTicker(d.o.KillWorkerEvery)
		defer t.Stop()
		kill = t.C
	}
	if d.o.KillWebEvery > 0 {
		t := time.NewTicker(d.o.KillWebEvery)
		defer t.Stop()
		killWeb = t.C
	}
	pgAt, temporalAt := d.o.Duration/3, d.o.Duration/2
	// Restarts happen part-way through the expected driving time: a third
	// and a half of the way through the calls.
	check := time.NewTicker(200 * time.Millisecond)
	defer check.Stop()
	pgDone, temporalDone := !d.o.RestartPostgres, !d.o.RestartTemporal
	for {
		select {
		case <-ctx.Done():
			return
		case <-kill:
			d.faultAt(time.Now())
			if err := d.st.killWorker(ctx); err != nil {
				if ctx.Err() == nil {
					d.note("kill worker: %v", err)
				}
				continue
			}
			rep.addFault("worker_killed")
		case <-killWeb:
			d.faultAt(time.Now())
			if err := d.st.killWeb(context.WithoutCancel(ctx), 3*time.Second); err != nil {
				d.note("kill web: %v", err)
				continue
			}
			rep.addFault("web_killed")
		case <-check.C:
			done := d.progressShare()
			if !pgDone && (done >= 1.0/3 || time.Since(start) > pgAt) {
				pgDone = true
				if err := d.st.restartPostgres(ctx); err != nil {
					d.note("restart Postgres: %v", err)
				} else {
					rep.addFault("postgres_restarted")
				}
			}
			if !temporalDone && (done >= 0.5 || time.Since(start) > temporalAt) {
				temporalDone = true
				if err := d.st.restartTemporal(ctx, 3*time.Second); err != nil {
					d.note("restart Temporal: %v", err)
				} else {
					rep.addFault("temporal_restarted")
				}
			}
		}
	}
}

// progress draws a bar on w until the returned func is called.
func (d *driver) progress(w io.Writer) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	draw := func(final bool) {
		c, t := d.callsDone.Load(), d.topUpsDone.Load()
		total := int64(d.o.Calls + d.o.TopUps)
		width := 30
		filled := 0
		if total > 0 {
			filled = int(int64(width) * (c + t) / total)
		}
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		line := fmt.Sprintf("[%s] %d/%d calls  %d/%d top-ups  %s", bar, c, d.o.Calls, t, d.o.TopUps, time.Since(start).Round(time.Second))
		if d.phase.Load() != nil {
			line += "  " + *d.phase.Load()
		}
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if final {
				fmt.Fprintln(w)
			}
		} else {
			fmt.Fprintln(w, line)
		}
	}
	go func() {
		defer wg.Done()
		every := 5 * time.Second
		if tty {
			every = 250 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// note records something the run could not do.
func (d *driver) note(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

func (d *driver) setPhase(p string) { d.phase.Store(&p) }

// sortedCopy returns a sorted copy of xs.
func sortedCopy(xs []time.Duration) []time.Duration {
	out := append([]time.Duration(nil), xs...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// runProblems are the ways the run itself fell short of what was asked: a
// run that tested nothing, or not the faults asked for, is not a pass.
func (d *driver) runProblems(rep *Report) []Problem {
	var out []Problem
	d.mu.Lock()
	for _, f := range d.failures {
		out = append(out, Problem{Kind: "run", ID: "run", Message: f})
	}
	answered, stuck := 0, 0
	for _, c := range d.callRecs {
		if c.Outcome == OutcomeAnswered {
			answered++
		}
		if c.DebtOnPurpose {
			stuck++
		}
	}
	d.mu.Unlock()
	if d.o.Calls > 0 && answered == 0 {
		out = append(out, Problem{Kind: "run", ID: "run", Message: "no call was answered: the run tested no charge"})
	}
	if stuck != d.o.BillingFaults {
		out = append(out, Problem{Kind: "run", ID: "run", Message: fmt.Sprintf("%d billing faults were asked for, %d were made", d.o.BillingFaults, stuck)})
	}
	want := map[string]bool{"postgres_restarted": d.o.RestartPostgres, "temporal_restarted": d.o.RestartTemporal, "worker_killed": d.o.KillWorkerEvery > 0,
		"web_killed": d.o.KillWebEvery > 0}
	for kind, asked := range want {
		if asked && rep.Faults[kind] == 0 {
			out = append(out, Problem{Kind: "run", ID: kind, Message: "the fault " + kind + " was asked for and did not happen"})
		}
	}
	return out
}
