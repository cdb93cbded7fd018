// Package bench is `mobayilo bench`: it measures the two paths a person
// waits on (POST /calls, and the final status callback to the committed
// charge), the voice webhook, and sustained call throughput, each beside a
// floor measured in the same run on the same machine: a bare Temporal
// update-with-start for POST /calls, a minimal durable webhook handler for
// the voice webhook. It drives the app only from outside (HTTP, Postgres,
// a Temporal client), so it measures whatever the engine inside is.
//
// Speed is reported, never asserted: the figures go to a table and a JSON
// report, and the bench is not part of CI.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/load"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/workflows"
)

// Options are the run's flags.
type Options struct {
	Binary      string // this binary: the web and worker roles are started from it
	Dir         string // logs and the Temporal database
	DatabaseURL string // started stack: a loopback database named mobayilo_load*, dropped and created

	// A running stack instead: its web role's URL (requests go there,
	// signed for its PUBLIC_BASE_URL); its secrets, database and Temporal
	// come from Config (the environment the stack was started with).
	WebURL string
	Config config.Config

	Levels             []int         // concurrencies of (a) and (b)
	Requests           int           // requests per concurrency, each of (a) and (b)
	ChargeRate         float64       // (c): completions per second
	ChargeCalls        int           // (c): completions in all
	Burst              int           // completions billed at once
	MixCalls           int           // POST /calls beside the burst (and unloaded)
	MixConcurrency     int           // their concurrency
	MixPurchases       int           // POST /credits/purchase beside the burst (and unloaded)
	PurchaseConcurency int           // their concurrency
	Sustain            time.Duration // (d): how long
	SustainConcurrency int           // (d): calls driven at once
	VoiceRates         []float64     // requests per second, each of the voice webhook and its floor
	VoiceRequests      int           // per rate, after the burst of authorizations and again settled
	Settle             time.Duration // the pause before the voice webhook's settled blocks
	ObserveRounds      int           // metrics and traces cost: rounds with them off, as many on, alternating
	ObserveRequests    int           // calls per round (POST /calls and the voice webhook each)
	ObserveConcurrency int           // their concurrency
	Only               []string      // run only these phases (StepKeys); all when empty
	// Shape, Webs, Workers: the started stack's (load.StackOptions').
	Shape         string
	Webs, Workers int

	Report   string    // JSON report path ("" for none)
	Progress io.Writer // what it is doing (stderr)
	Out      io.Writer // the table (stdout)
}

// Defaults are the flags' defaults.
func Defaults() Options {
	return Options{
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/mobayilo_load_bench?sslmode=disable",
		Levels:      []int{1, 10, 50}, Requests: 200,
		ChargeRate: 20, ChargeCalls: 300, Burst: 600,
		MixCalls: 150, MixConcurrency: 10, MixPurchases: 40, PurchaseConcurency: 2,
		Sustain: 60 * time.Second, SustainConcurrency: 50,
		VoiceRates: []float64{50, 100}, VoiceRequests: 250, Settle: 15 * time.Second,
		ObserveRounds: 3, ObserveRequests: 60, ObserveConcurrency: 4,
	}
}

// Validate refuses runs that are not bounded.
func (o Options) Validate() error {
	var errs []error
	if len(o.Levels) == 0 {
		errs = append(errs, errors.New("-levels: at least one concurrency"))
	}
	for _, l := range o.Levels {
		if l < 1 || l > 500 {
			errs = append(errs, errors.New("-levels: each 1 to 500"))
		}
	}
	if o.Requests < 1 || o.Requests > 100_000 {
		errs = append(errs, errors.New("-requests must be 1 to 100000"))
	}
	if o.ChargeRate <= 0 || o.ChargeRate > 1000 || o.ChargeCalls < 1 || o.ChargeCalls > 10_000 {
		errs = append(errs, errors.New("-charge-rate must be above 0 and at most 1000, -charge-calls 1 to 10000"))
	}
	if o.Burst < 1 || o.Burst > 10_000 || o.MixCalls < 1 || o.MixPurchases < 1 || o.MixConcurrency < 1 || o.PurchaseConcurency < 1 {
		errs = append(errs, errors.New("-burst must be 1 to 10000; -mix-calls, -mix-purchases and their concurrencies at least 1"))
	}
	if o.Sustain < time.Second || o.Sustain > time.Hour || o.SustainConcurrency < 1 || o.SustainConcurrency > 1000 {
		errs = append(errs, errors.New("-sustain must be 1s to 1h, -sustain-concurrency 1 to 1000"))
	}
	if len(o.VoiceRates) == 0 || o.VoiceRequests < 1 || o.VoiceRequests > 10_000 {
		errs = append(errs, errors.New("-voice-rates: at least one; -voice-requests 1 to 10000"))
	}
	for _, r := range o.VoiceRates {
		if r <= 0 || r > 2000 {
			errs = append(errs, errors.New("-voice-rates: each above 0 and at most 2000"))
		}
	}
	if o.ObserveRounds < 1 || o.ObserveRounds > 20 || o.ObserveRequests < 1 || o.ObserveRequests > 10_000 || o.ObserveConcurrency < 1 || o.ObserveConcurrency > 100 {
		errs = append(errs, errors.New("-observe-rounds must be 1 to 20, -observe-requests 1 to 10000, -observe-concurrency 1 to 100"))
	}
	for _, k := range o.Only {
		if !slices.Contains(StepKeys(), k) {
			errs = append(errs, fmt.Errorf("-only: %q is none of %s", k, strings.Join(StepKeys(), ", ")))
		}
	}
	if o.Settle < 0 || o.Settle > 10*time.Minute {
		errs = append(errs, errors.New("-settle must be 0 to 10m"))
	}
	return errors.Join(errs...)
}

// authBurst is the burst of authorizations before the voice webhook: one
// authorized call per voice request.
func (o Options) authBurst() int { return 2 * len(o.VoiceRates) * o.VoiceRequests }

// burstPurchases bounds the purchases beside the burst (each needs a
// package its person has not bought in the run).
func (o Options) burstPurchases() int { return 5 * o.MixPurchases }

func (o Options) maxLevel() int {
	m := 1
	for _, l := range o.Levels {
		m = max(m, l)
	}
	return m
}

// run is one bench run's state.
type run struct {
	o     Options
	app   *app
	st    *load.Stack // nil on a running stack
	tc    client.Client
	cpu   *cpuMeter
	watch *chargeWatch
	rep   *Report
	start time.Time

	// The people: calls holds most (a call each in the bursts, (c) and (d)),
	// interactive the users of (b), purchasers those who buy credit.
	calls, interactive, purchasers []*user
	pairs                          []purchasePair
}

type purchasePair struct {
	u     *user
	cents int64
}

// Run starts (or joins) the stack, measures everything in turn, prints
// the table and writes the report.
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
	r := &run{o: o, start: time.Now(), rep: newReport(o)}
	a, temporalAddress, stop, err := r.stack(ctx)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		return nil, err
	}
	r.app = a
	r.cpu = newCPUMeter(a.cfg.DatabaseURL)
	r.tc, err = temporalx.Dial(ctx, temporalx.Options{Address: temporalAddress, Namespace: a.cfg.TemporalNamespace,
		Logger: zerolog.Nop(), Codec: codec.New(a.cfg.TemporalCodecKeys)})
	if err != nil {
		return nil, err
	}
	defer r.tc.Close()
	fw, err := startFloorWorker(r.tc, a.cfg.TemporalMaxPollers)
	if err != nil {
		return nil, fmt.Errorf("bench: floor worker: %w", err)
	}
	defer fw.Stop()
	if r.watch, err = watchCharges(ctx, a.pool); err != nil {
		return nil, fmt.Errorf("bench: listen for charges: %w", err)
	}
	defer r.watch.close()

	if err := r.signUpEveryone(ctx); err != nil {
		return nil, err
	}
	for _, s := range r.steps() {
		if len(o.Only) > 0 && !slices.Contains(o.Only, s.key) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.progress("%s", s.name)
		began := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", s.name, err)
		}
		r.rep.Phases = append(r.rep.Phases, Phase{Name: s.name, Seconds: time.Since(began).Seconds()})
	}
	r.rep.WallSeconds = time.Since(r.start).Seconds()
	r.rep.finish()
	r.rep.print(o.Out)
	if o.Report != "" {
		if err := r.rep.write(o.Report); err != nil {
			return r.rep, err
		}
	}
	return r.rep, nil
}

type step struct {
	key, name string
	fn        func(context.Context) error
}

// steps are the run's phases, in order; -only picks some by key.
func (r *run) steps() []step {
	return []step{
		{"levels", "(a)/(b) floor and POST /calls at each concurrency", r.levels},
		{"charges", "(c) final callback -> charge committed", r.charges},
		{"mix", "interactive requests, unloaded", r.mixUnloaded},
		{"burst", "a burst of completions, interactive requests beside it", r.burst},
		{"sustained", "(d) sustained completed call workflows", r.sustained},
		{"voice", "voice webhook beside the minimal durable handler", r.voice},
		{"observe", "metrics and traces: on beside off", r.observability},
	}
}

// StepKeys are -only's choices.
func StepKeys() []string {
	var keys []string
	for _, s := range (&run{}).steps() {
		keys = append(keys, s.key)
	}
	return keys
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "bench %s: %s\n", time.Since(r.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// stack starts the stack as `mobayilo load` does, or joins a running one.
func (r *run) stack(ctx context.Context) (*app, string, func(), error) {
	runID := strconv.FormatInt(time.Now().Unix()%1_000_000_000, 36)
	if r.o.WebURL != "" {
		cfg := r.o.Config
		pool, err := db.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", nil, err
		}
		sim := &carrier.Simulator{BaseURL: cfg.PublicBaseURL, AppURL: strings.TrimSuffix(r.o.WebURL, "/"), AuthToken: cfg.TwilioAuthToken,
			AccountSID: cfg.TwilioAccountSID, APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret,
			HTTP: &http.Client{Timeout: 20 * time.Second, Transport: newTransport()}, Realtime: true}
		r.progress("using the running stack at %s (Temporal %s)", r.o.WebURL, cfg.TemporalAddress)
		return &app{webURL: sim.AppURL, cfg: cfg, pool: pool, carrier: sim, transport: newTransport(), runID: runID},
			cfg.TemporalAddress, pool.Close, nil
	}
	webs, workers := load.Instances(r.o.Shape, r.o.Webs, r.o.Workers)
	r.progress("starting the app (database, Temporal %s, %d web, %d worker) in %s", map[bool]string{true: "cluster on Postgres", false: "dev server"}[r.o.Shape == load.ShapeCluster],
		webs, workers, r.o.Dir)
	st, err := load.StartStack(ctx, load.StackOptions{Binary: r.o.Binary, Dir: r.o.Dir, DatabaseURL: r.o.DatabaseURL,
		// Long enough that nothing the bench holds open expires under it:
		// authorizations wait for their voice request, answered calls talk
		// until hung up, open top-ups stay open.
		MaxCallSeconds: 3600, AuthorizationWindow: 10 * time.Minute, ReconcileGrace: 10 * time.Second, PaymentTimeout: time.Hour,
		CarrierRealtime: true, Traces: true, Shape: r.o.Shape, Webs: r.o.Webs, Workers: r.o.Workers})
	if err != nil {
		return nil, "", st.Stop, err
	}
	r.st = st
	return &app{webURL: st.WebURL(), cfg: st.Config(), pool: st.Pool(), carrier: st.Carrier(), transport: newTransport(), runID: runID},
		st.TemporalAddress(), st.Stop, nil
}

// signUpEveryone creates the run's people through the sign-up form.
func (r *run) signUpEveryone(ctx context.Context) error {
	o := r.o
	// A tenth more than any phase needs at once: a person whose slot the
	// app holds (an authorization it granted after answering 503) sits a
	// phase out.
	nCalls := max(o.ChargeCalls, o.Burst, 4*o.SustainConcurrency, o.authBurst()) * 11 / 10
	nInteractive := 2 * max(o.maxLevel(), o.MixConcurrency)
	pk := max(len(r.app.cfg.TopUpPackages), 1)
	nPurchasers := (o.MixPurchases + o.burstPurchases() + pk - 1) / pk
	total := nCalls + nInteractive + nPurchasers
	r.progress("signing up %d people", total)
	users := make([]*user, total)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	closedLoop(ctx, 8, jobs(total), func(ctx context.Context, _, i int) {
		u, err := r.app.signUp(ctx, i)
		if err != nil {
			failed.Add(1)
			once.Do(func() { firstErr = err })
			return
		}
		users[i] = u
	})
	if failed.Load() > 0 {
		return fmt.Errorf("%d sign-ups failed: %w", failed.Load(), firstErr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.calls, r.interactive, r.purchasers = users[:nCalls], users[nCalls:nCalls+nInteractive], users[nCalls+nInteractive:]
	for _, u := range r.purchasers {
		for {
			c, ok := u.takePackage()
			if !ok {
				break
			}
			r.pairs = append(r.pairs, purchasePair{u: u, cents: c})
		}
	}
	return nil
}

// quiesce waits until no call workflow is at work (the previous phase's
// calls are billed or cancelled), so one phase's tail does not land in the
// next one's figures. An authorized call waiting for its voice request is
// idle (one timer) and not waited for.
func (r *run) quiesce(ctx context.Context) {
	limit := 3 * time.Minute
	deadline := time.Now().Add(limit)
	q := fmt.Sprintf(`WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s != '%s'`,
		workflows.CallWorkflowName, workflows.SearchAttrCallStatus.GetName(), workflows.StatusAuthorized)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := r.countWorkflows(ctx, q)
		if err == nil && n == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.rep.note("call workflows still at work %s after a phase; the next phase began beside them", limit)
}

func (r *run) countWorkflows(ctx context.Context, query string) (int64, error) {
	resp, err := r.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// levels: (a) the floor and (b) POST /calls, closed loop, at each
// concurrency, back to back.
func (r *run) levels(ctx context.Context) error {
	// Warm-up: connections, caches, the workers' first tasks.
	warm := newRecorder()
	people := r.app.people(ctx, r.interactive)
	r.floor(ctx, 1, 10, warm)
	r.postCalls(ctx, 1, 10, people, warm, "warm-up")
	r.rep.setup(warm.row("warmup", "warm-up (10 floor requests, 10 POST /calls), not counted"))
	r.quiesce(ctx)
	// (b) takes a person per request and ends the calls after the row, so
	// the row carries authorizations only, as the floor's carries its
	// requests only; (b') ends each call in the loop, the hang-ups' work
	// beside the authorizations.
	fresh := r.app.people(ctx, r.calls)
	for _, c := range r.o.Levels {
		r.progress("  concurrency %d", c)
		fl := newRecorder()
		before := r.cpu.sample()
		r.floor(ctx, c, r.o.Requests, fl)
		floor := fl.row(fmt.Sprintf("floor_c%d", c), fmt.Sprintf("(a) floor: update-with-start, no-op local activity, c=%d", c))
		floor.CPU = perRequest(before, r.cpu.sample(), floor.N+floor.Errors)
		r.quiesce(ctx)

		pc := newRecorder()
		var calls Row
		if r.o.Requests <= len(r.calls) {
			before = r.cpu.sample()
			held := r.authorizeOnly(ctx, c, r.o.Requests, fresh, pc)
			calls = pc.row(fmt.Sprintf("post_calls_c%d", c), fmt.Sprintf("(b) POST /calls, c=%d", c))
			calls.CPU = perRequest(before, r.cpu.sample(), calls.N+calls.Errors)
			r.endAll(ctx, fresh, held, fmt.Sprintf("c=%d", c))
		} else {
			before = r.cpu.sample()
			r.postCalls(ctx, c, r.o.Requests, people, pc, fmt.Sprintf("c=%d", c))
			calls = pc.row(fmt.Sprintf("post_calls_c%d", c), fmt.Sprintf("(b) POST /calls, c=%d, each call ended in the loop", c))
			calls.CPU = perRequest(before, r.cpu.sample(), calls.N+calls.Errors)
			r.rep.note("(b) at c=%d: %d requests need as many people (%d here): each call was ended in the loop", c, r.o.Requests, len(r.calls))
		}
		r.quiesce(ctx)

		lp := newRecorder()
		before = r.cpu.sample()
		r.postCalls(ctx, c, r.o.Requests, people, lp, fmt.Sprintf("loop c=%d", c))
		looped := lp.row(fmt.Sprintf("post_calls_loop_c%d", c), fmt.Sprintf("(b') POST /calls, c=%d, each call ended in the loop", c))
		looped.CPU = perRequest(before, r.cpu.sample(), looped.N+looped.Errors)
		r.quiesce(ctx)

		r.rep.add(floor, calls, looped)
		r.rep.ratio(ratio(fmt.Sprintf("(b)/(a) at c=%d", c), calls, floor))
		r.rep.ratio(ratio(fmt.Sprintf("(b')/(a) at c=%d", c), looped, floor))
	}
	return nil
}

// authorizeOnly runs n authorizations, c at a time, each for a person of
// its own, and returns the calls it left authorized (ended by endAll).
func (r *run) authorizeOnly(ctx context.Context, c, n int, people *people, rec *recorder) []heldCall {
	var mu sync.Mutex
	var held []heldCall
	closedLoop(ctx, c, jobs(n), func(ctx context.Context, _, _ int) {
		u, err := people.get(ctx, 2*time.Minute)
		if err != nil {
			rec.fail("no person with a free slot for 2m")
			return
		}
		sc, took, err := r.app.startCall(ctx, u, numberAnswers)
		if err != nil {
			rec.fail(errorKind(err))
			people.put(u)
			return
		}
		rec.ok(took)
		mu.Lock()
		held = append(held, heldCall{u: u, callID: sc.CallID})
		mu.Unlock()
	})
	return held
}

// heldCall is an authorized call of authorizeOnly, not ended yet.
type heldCall struct {
	u      *user
	callID string
}

// endAll hangs up the held calls (before dialling, as the person giving
// up would), 10 at a time, and gives their people back.
func (r *run) endAll(ctx context.Context, people *people, held []heldCall, label string) {
	hangups := newRecorder()
	closedLoop(ctx, 10, jobs(len(held)), func(ctx context.Context, _, i int) {
		h := held[i]
		defer people.put(h.u)
		start := time.Now()
		if err := r.app.hangUp(ctx, h.u, h.callID); err != nil {
			hangups.fail(errorKind(err))
			return
		}
		hangups.ok(time.Since(start))
	})
	r.rep.setup(hangups.row("hangup_after_"+strings.ReplaceAll(label, " ", "_"), "POST /calls/{id}/hangup after the row, "+label))
}

// floor runs n floor requests, c at a time.
func (r *run) floor(ctx context.Context, c, n int, rec *recorder) {
	closedLoop(ctx, c, jobs(n), func(ctx context.Context, _, _ int) {
		start := time.Now()
		if err := floorRequest(ctx, r.tc); err != nil {
			rec.fail(errorKind(err))
			return
		}
		rec.ok(time.Since(start))
	})
}

// postCalls runs n authorizations, c at a time, each for a person with a
// free slot; each call is hung up before it is dialled, which frees the
// slot for that person's next turn.
func (r *run) postCalls(ctx context.Context, c, n int, people *people, rec *recorder, label string) {
	r.postCallsWhile(ctx, c, jobs(n), people, rec, nil, label)
}

// postCallsWhile is postCalls for the jobs next hands out; started is told
// of each request as it begins; label names the hang-ups' setup row.
func (r *run) postCallsWhile(ctx context.Context, c int, next func() (int, bool), people *people, rec *recorder, started func(), label string) {
	hangups := newRecorder()
	closedLoop(ctx, c, next, func(ctx context.Context, _, _ int) {
		u, err := people.get(ctx, 2*time.Minute)
		if err != nil {
			hangups.fail("no person with a free slot for 2m")
			return
		}
		defer people.put(u)
		if started != nil {
			started()
		}
		sc, took, err := r.app.startCall(ctx, u, numberAnswers)
		if err != nil {
			rec.fail(errorKind(err))
			return
		}
		rec.ok(took)
		start := time.Now()
		if err := r.app.hangUp(ctx, u, sc.CallID); err != nil {
			hangups.fail(errorKind(err))
			return
		}
		hangups.ok(time.Since(start))
	})
	r.rep.setup(hangups.row("hangup_"+strings.ReplaceAll(label, " ", "_"), "POST /calls/{id}/hangup before dialling, "+label))
}

// charges: (c) answered calls, then their final callbacks at a fixed rate,
// open loop; each from the final callback taken to the charge committed.
func (r *run) charges(ctx context.Context) error {
	setup := newRecorder()
	live := r.app.answerCalls(ctx, r.app.people(ctx, r.calls), r.o.ChargeCalls, 20, setup)
	r.rep.setup(setup.row("charge_setup", "POST /calls for (c)'s answered calls, not measured"))
	for _, c := range live {
		r.watch.add(c)
	}
	time.Sleep(2 * time.Second) // the answered calls' callbacks settle
	out := make([]ended, len(live))
	openLoop(ctx, realClock{}, schedule(time.Now().Add(100*time.Millisecond), r.o.ChargeRate, len(live), 0),
		func(ctx context.Context, i int) error { out[i] = r.app.endCall(ctx, r.watch, live[i]); return nil },
		func(int, time.Duration, error) {})
	rec := newRecorder()
	for range r.o.ChargeCalls - len(live) {
		rec.fail("call not set up") // see the setup rows
	}
	if err := tally(ctx, r.watch, out, rec); err != nil {
		return err
	}
	row := rec.row("final_to_charge", fmt.Sprintf("(c) final callback -> charge committed, %g/s open loop", r.o.ChargeRate))
	row.Note = "from the app's answer to the first final callback (status completed or the Dial action) to the charge's NOTIFY at commit"
	r.rep.add(row)
	r.quiesce(ctx)
	return nil
}

// mix runs POST /calls and POST /credits/purchase side by side, closed
// loop, each at its own concurrency: for their counts (more nil), or while
// more holds; started is told of each request as it begins.
func (r *run) mix(ctx context.Context, calls int, pairs []purchasePair, more func() bool, callsRec, buyRec *recorder, started func(), label string) {
	nextCall, nextBuy := jobs(calls), jobs(len(pairs))
	if more != nil {
		nextCall = jobsWhile(more)
		buys := jobs(len(pairs))
		nextBuy = func() (int, bool) {
			i, ok := buys()
			return i, ok && more()
		}
	}
	people := r.app.people(ctx, r.interactive)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.postCallsWhile(ctx, r.o.MixConcurrency, nextCall, people, callsRec, started, label)
	}()
	go func() {
		defer wg.Done()
		closedLoop(ctx, r.o.PurchaseConcurency, nextBuy, func(ctx context.Context, _, i int) {
			if started != nil {
				started()
			}
			took, err := r.app.purchase(ctx, pairs[i].u, pairs[i].cents)
			if err != nil {
				buyRec.fail(errorKind(err))
				return
			}
			buyRec.ok(took)
		})
	}()
	wg.Wait()
}

func (r *run) mixRows(suffix, label string, calls, buys *recorder) (Row, Row) {
	return calls.row("mix_post_calls_"+suffix, fmt.Sprintf("POST /calls, c=%d, %s", r.o.MixConcurrency, label)),
		buys.row("mix_purchase_"+suffix, fmt.Sprintf("POST /credits/purchase, c=%d, %s", r.o.PurchaseConcurency, label))
}

func (r *run) mixUnloaded(ctx context.Context) error {
	calls, buys := newRecorder(), newRecorder()
	r.mix(ctx, r.o.MixCalls, r.pairs[:min(r.o.MixPurchases, len(r.pairs))], nil, calls, buys, nil, "interactive, unloaded")
	c, b := r.mixRows("unloaded", "side by side, unloaded", calls, buys)
	r.rep.add(c, b)
	r.quiesce(ctx)
	return nil
}

// burst: Burst answered calls end at once; while they are billed (until
// the last charge is committed), the interactive requests run as they did
// unloaded.
func (r *run) burst(ctx context.Context) error {
	setup := newRecorder()
	live := r.app.answerCalls(ctx, r.app.people(ctx, r.calls), r.o.Burst, 20, setup)
	r.rep.setup(setup.row("burst_setup", fmt.Sprintf("POST /calls for the burst's %d answered calls, not measured", r.o.Burst)))
	for _, c := range live {
		r.watch.add(c)
	}
	time.Sleep(2 * time.Second)

	var billed atomic.Bool
	var after, total atomic.Int64
	started := func() {
		total.Add(1)
		if billed.Load() {
			after.Add(1)
		}
	}
	out := make([]ended, len(live))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, c := range live {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = r.app.endCall(ctx, r.watch, c) }()
	}
	var last time.Time
	burstDone := make(chan struct{})
	go func() {
		wg.Wait()
		for _, e := range out {
			if e.chargedAt.After(last) {
				last = e.chargedAt
			}
		}
		billed.Store(true)
		close(burstDone)
	}()
	calls, buys := newRecorder(), newRecorder()
	n := min(r.o.MixPurchases, len(r.pairs))
	pairs := r.pairs[n:]
	r.mix(ctx, 0, pairs, func() bool { return !billed.Load() }, calls, buys, started, "interactive, beside the burst")
	mixEnd := time.Now()
	<-burstDone
	if buys.count() >= len(pairs) {
		r.rep.note("the purchases beside the burst ran out of packages not yet bought (%d) before it was billed", len(pairs))
	}

	rec := newRecorder()
	for range r.o.Burst - len(live) {
		rec.fail("call not set up") // see the setup rows
	}
	if err := tally(ctx, r.watch, out, rec); err != nil {
		return err
	}
	br := rec.row("burst_final_to_charge", fmt.Sprintf("final callback -> charge committed, burst of %d at once", r.o.Burst))
	r.rep.Burst = &Burst{Calls: r.o.Burst, Charged: br.N}
	if !last.IsZero() {
		r.rep.Burst.BilledSeconds = last.Sub(t0).Seconds()
	}
	r.rep.Burst.MixSeconds = mixEnd.Sub(t0).Seconds()
	r.rep.Burst.MixRequests, r.rep.Burst.MixAfterBilled = int(total.Load()), int(after.Load())
	c, b := r.mixRows("burst", fmt.Sprintf("beside a burst of %d completions", r.o.Burst), calls, buys)
	r.rep.add(br, c, b)
	cu, bu := r.rep.row("mix_post_calls_unloaded"), r.rep.row("mix_purchase_unloaded")
	r.rep.ratio(ratio("POST /calls beside the burst / unloaded", c, cu))
	r.rep.ratio(ratio("POST /credits/purchase beside the burst / unloaded", b, bu))
	r.quiesce(ctx)
	return nil
}

// sustained: (d) zero-length calls (busy at once) as fast as the stack
// takes them, for Sustain: each of SustainConcurrency callers places its
// next call when its last call's workflow has completed (closed loop on
// completion, so what is counted is what the stack finishes, not a backlog
// it was handed); counts the call workflows that completed in the window
// (Temporal's visibility).
func (r *run) sustained(ctx context.Context) error {
	c := r.o.SustainConcurrency
	people := r.app.people(ctx, r.calls)
	post, placeRec, whole := newRecorder(), newRecorder(), newRecorder()
	var started atomic.Int64
	t0 := time.Now()
	t1 := t0.Add(r.o.Sustain)
	dctx, cancel := context.WithDeadline(ctx, t1.Add(2*time.Minute))
	defer cancel()
	closedLoop(dctx, c, jobsWhile(func() bool { return time.Now().Before(t1) }), func(ctx context.Context, _, _ int) {
		u, err := people.get(ctx, time.Minute)
		if err != nil {
			placeRec.fail("no person with a free slot for 1m")
			return
		}
		defer people.put(u)
		sc, took, err := r.app.startCall(ctx, u, numberBusyAtOnce)
		if err != nil {
			post.fail(errorKind(err))
			return
		}
		post.ok(took)
		started.Add(1)
		start := time.Now()
		if _, err := r.app.carrier.PlaceCall(ctx, sc.Token, sc.CallID, 0, carrier.Faults{}); err != nil {
			placeRec.fail(errorKind(err))
			return
		}
		placeRec.ok(time.Since(start))
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := r.tc.GetWorkflow(wctx, workflows.CallWorkflowID(sc.CallID), "").Get(wctx, nil); err != nil {
			whole.fail(errorKind(err))
			return
		}
		whole.ok(time.Since(start) + took)
	})
	// Visibility is written just after a workflow closes.
	time.Sleep(2 * time.Second)
	// The first calls complete only a call's latency after the start: the
	// count begins after a ramp, so the rate is the sustained one.
	from := t0.Add(sustainRamp(r.o.Sustain))
	q := fmt.Sprintf(`WorkflowType = '%s' AND ExecutionStatus = 'Completed' AND CloseTime >= '%s' AND CloseTime < '%s'`,
		workflows.CallWorkflowName, from.UTC().Format(time.RFC3339Nano), t1.UTC().Format(time.RFC3339Nano))
	n, err := r.countWorkflows(ctx, q)
	if err != nil {
		return fmt.Errorf("count completed workflows: %w", err)
	}
	window := t1.Sub(from).Seconds()
	r.rep.Sustained = &Sustained{Seconds: r.o.Sustain.Seconds(), CountedSeconds: window, Concurrency: c, Started: int(started.Load()),
		Completed: int(n), PerSecond: float64(n) / window}
	r.rep.add(post.row("sustained_post_calls", fmt.Sprintf("POST /calls during (d), c=%d", c)),
		placeRec.row("sustained_callbacks", "(d) voice webhook + status callbacks of one zero-length call"),
		whole.row("sustained_call", "(d) one zero-length call: POST /calls to its workflow completed"))
	r.quiesce(ctx)
	return nil
}

// voice: a burst of authorizations, then the voice webhook (each request
// claims one of them) and the minimal handler, interleaved at each rate,
// open loop: right after the burst, then again after Settle.
func (r *run) voice(ctx context.Context) error {
	minimalURL, stopMinimal, err := startMinimal(ctx, r.app.pool, r.app.cfg.TwilioAuthToken)
	if err != nil {
		return err
	}
	defer stopMinimal()
	hc := &http.Client{Transport: newTransport(), Timeout: 10 * time.Second}
	if err := warmMinimal(ctx, hc, minimalURL, r.app.cfg.TwilioAuthToken, 40); err != nil {
		return err
	}

	n := r.o.authBurst()
	auth := newRecorder()
	scs := make([]startedCall, n)
	authStart := time.Now()
	owners := make([]*user, n)
	people := r.app.people(ctx, r.calls)
	closedLoop(ctx, 50, jobs(n), func(ctx context.Context, _, i int) {
		u, err := people.get(ctx, 2*time.Minute)
		if err != nil {
			auth.fail("no person with a free slot for 2m")
			return
		}
		sc, took, err := r.app.startCall(ctx, u, numberAnswers)
		if err != nil {
			auth.fail(errorKind(err))
			people.put(u)
			return
		}
		auth.ok(took)
		scs[i], owners[i] = sc, u
	})
	ar := auth.row("auth_burst", fmt.Sprintf("POST /calls, a burst of %d authorizations, c=50", n))
	ar.Note = fmt.Sprintf("%.1f s in all", time.Since(authStart).Seconds())
	r.rep.add(ar)

	var voiceReqs, minimalReqs []voiceRequest
	for _, sc := range scs {
		if sc.CallID == "" {
			continue
		}
		v, err := r.app.voiceFor(sc, r.app.appVoiceURL(), r.app.webURL+"/api/webhooks/twilio/voice")
		if err != nil {
			return fmt.Errorf("voice request of call %s: %w", sc.CallID, err)
		}
		m, err := r.app.minimalFor(sc, minimalURL)
		if err != nil {
			return err
		}
		voiceReqs, minimalReqs = append(voiceReqs, v), append(minimalReqs, m)
	}
	next := 0
	var claimed []voiceRequest
	for _, when := range []string{"after_burst", "settled"} {
		if when == "settled" {
			r.progress("  settling %s", r.o.Settle)
			time.Sleep(r.o.Settle)
		}
		for _, rate := range r.o.VoiceRates {
			k := min(r.o.VoiceRequests, len(voiceReqs)-next)
			vs, ms := voiceReqs[next:next+k], minimalReqs[next:next+k]
			next += k
			claimed = append(claimed, vs...)
			vrec, mrec := newRecorder(), newRecorder()
			start := time.Now().Add(200 * time.Millisecond)
			at := append(schedule(start, rate, k, 0), schedule(start, rate, k, 0.5)...)
			order := interleave(at, k)
			sorted := make([]time.Time, len(order))
			for i, j := range order {
				sorted[i] = at[j]
			}
			openLoop(ctx, realClock{}, sorted, func(ctx context.Context, i int) error {
				if j := order[i]; j < k {
					return sendVoice(ctx, hc, vs[j])
				} else {
					return sendVoice(ctx, hc, ms[j-k])
				}
			}, func(i int, took time.Duration, err error) {
				rec := vrec
				if order[i] >= k {
					rec = mrec
				}
				if err != nil {
					rec.fail(errorKind(err))
					return
				}
				rec.ok(took)
			})
			label := strings.ReplaceAll(when, "_", " ")
			key := fmt.Sprintf("r%g_%s", rate, when)
			vr := vrec.row("voice_"+key, fmt.Sprintf("voice webhook, %g/s open loop, %s", rate, label))
			mr := mrec.row("minimal_"+key, fmt.Sprintf("minimal durable handler, %g/s open loop, %s", rate, label))
			r.rep.add(vr, mr)
			r.rep.ratio(ratio(fmt.Sprintf("voice/minimal at %g/s, %s", rate, label), vr, mr))
		}
	}
	if r.o.WebURL != "" {
		// A running stack is left as found: the claimed calls end unanswered,
		// the others are hung up.
		r.progress("  ending the calls the bench authorized")
		closedLoop(ctx, 10, jobs(len(claimed)), func(ctx context.Context, _, i int) {
			_ = r.app.finishUnanswered(ctx, hc, claimed[i])
		})
		for i, sc := range scs {
			if sc.CallID != "" && !contains(claimed, sc.CallID) {
				_ = r.app.hangUp(ctx, owners[i], sc.CallID)
			}
		}
	}
	return nil
}

// sustainRamp is the start of (d) left out of its count: a sixth, at
// most 10 s.
func sustainRamp(d time.Duration) time.Duration { return min(d/6, 10*time.Second) }

// interleave orders the indexes of at (two schedules of k each, the
// second shifted by half an interval) by time.
func interleave(at []time.Time, k int) []int {
	order := make([]int, 0, len(at))
	i, j := 0, k
	for i < k || j < len(at) {
		if j >= len(at) || (i < k && !at[i].After(at[j])) {
			order = append(order, i)
			i++
		} else {
			order = append(order, j)
			j++
		}
	}
	return order
}

func contains(vs []voiceRequest, callID string) bool {
	for _, v := range vs {
		if v.callID == callID {
			return true
		}
	}
	return false
}
