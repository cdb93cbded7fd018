package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mobayilo/mobayilo/internal/bench"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/load"
)

func benchCommand() command {
	c := command{
		name:    "bench",
		summary: "Measure POST /calls, billing and the voice webhook beside Temporal's floor, in one run.",
		usage: `Starts the whole app on loopback as ` + "`mobayilo load`" + ` does (a fresh database named
mobayilo_load*, a Temporal dev server with a database file, the web and worker
roles as their own processes of this binary, the carrier and payment
simulators), or uses a running one (-web-url), signs up people with credit, and
measures in turn:

 (a) the floor: a bare update-with-start whose update runs one no-op local
     activity, on the same Temporal server with the app worker's settings (a
     worker in this process, task queue bench-floor), closed loop at each
     -levels concurrency;
 (b) POST /calls through the real web role at the same concurrencies (each call
     hung up before it is dialled, so the person's one slot frees);
 (c) final status callback -> charge committed: answered calls end at
     -charge-rate per second, open loop; from the app's answer to the first
     final callback to the charge's NOTIFY at commit;
     then POST /calls and POST /credits/purchase side by side, unloaded, and
     again while a -burst of completions is billed;
 (d) zero-length call workflows completed per second over -sustain, each of
     -sustain-concurrency callers placing its next call when its last one's
     workflow completed (Temporal's visibility counts them);
 and the voice webhook beside a minimal durable handler served here (checks
 X-Twilio-Signature, inserts one row, answers <Dial>), interleaved at each
 -voice-rates rate, open loop (latency from each request's scheduled time):
 right after a burst of authorizations (one per voice request), and again
 after -settle.

It prints a table with n, errors (by kind: every non-2xx, 503 and refusal is
counted) and p50/p95/p99/max of each, and the ratios to the floors; -report
writes the same as JSON. The figures are measurements, not pass or fail; the
bench is not part of CI. A default run takes about 20 minutes on two
cores.

With -web-url, the running stack's settings come from this environment (as
the stack was started with them: DATABASE_URL, TEMPORAL_ADDRESS,
PUBLIC_BASE_URL, the Twilio secrets, TEMPORAL_CODEC_KEYS); it must allow the
sign-ups (SIGNUP_MAX_PER_ADDRESS_PER_HOUR), run the carrier simulator's
protocol (CARRIER_SIMULATOR) and take MAX_CALL_SECONDS and
CALL_AUTHORIZATION_WINDOW long enough for the run. Its people stay; their
calls are ended.

Every server it starts listens on 127.0.0.1 and it sends traffic nowhere else.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		o := bench.Defaults()
		fs := flags(c, e)
		levels := fs.String("levels", joinInts(o.Levels), "concurrencies of (a) and (b), comma-separated")
		fs.IntVar(&o.Requests, "requests", o.Requests, "requests at each concurrency, each of (a) and (b)")
		fs.Float64Var(&o.ChargeRate, "charge-rate", o.ChargeRate, "(c): completions per second")
		fs.IntVar(&o.ChargeCalls, "charge-calls", o.ChargeCalls, "(c): completions in all")
		fs.IntVar(&o.Burst, "burst", o.Burst, "completions billed at once, with interactive requests beside them")
		fs.IntVar(&o.MixCalls, "mix-calls", o.MixCalls, "POST /calls beside the burst, and unloaded")
		fs.IntVar(&o.MixConcurrency, "mix-concurrency", o.MixConcurrency, "their concurrency")
		fs.IntVar(&o.MixPurchases, "mix-purchases", o.MixPurchases, "POST /credits/purchase beside the burst, and unloaded")
		fs.IntVar(&o.PurchaseConcurency, "purchase-concurrency", o.PurchaseConcurency, "their concurrency")
		fs.DurationVar(&o.Sustain, "sustain", o.Sustain, "(d): how long to drive zero-length calls")
		fs.IntVar(&o.SustainConcurrency, "sustain-concurrency", o.SustainConcurrency, "(d): calls driven at once")
		rates := fs.String("voice-rates", "50,100", "voice webhook rates, requests per second, comma-separated")
		fs.IntVar(&o.VoiceRequests, "voice-requests", o.VoiceRequests, "voice requests at each rate, after the burst of authorizations and again settled (the burst authorizes one call for each)")
		fs.DurationVar(&o.Settle, "settle", o.Settle, "pause before the voice webhook's settled measurements")
		fs.IntVar(&o.ObserveRounds, "observe-rounds", o.ObserveRounds, "metrics and traces cost: this many rounds with them off and as many on, alternating (the roles restarted each round)")
		fs.IntVar(&o.ObserveRequests, "observe-requests", o.ObserveRequests, "calls per round (POST /calls, then the voice webhook)")
		fs.IntVar(&o.ObserveConcurrency, "observe-concurrency", o.ObserveConcurrency, "calls driven at once in each round")
		fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "the database to create for the run (loopback, name starting mobayilo_load)")
		fs.StringVar(&o.Dir, "dir", "", "where logs and the Temporal database go (default: a new temporary directory)")
		fs.StringVar(&o.WebURL, "web-url", "", "measure a running stack at this URL instead of starting one (its settings from the environment)")
		fs.StringVar(&o.Report, "report", "", "JSON report file (empty: none)")
		fs.StringVar(&o.Shape, "shape", load.ShapeDev, "the started stack's Temporal: "+load.ShapeDev+" or "+load.ShapeCluster+" (as mobayilo load -shape)")
		fs.IntVar(&o.Webs, "webs", 0, "the started stack's web instances (behind the tool's load balancer when more than one; 0: 2 with -shape cluster, 1 otherwise)")
		fs.IntVar(&o.Workers, "workers", 0, "the started stack's worker instances (0: as -webs)")
		only := fs.String("only", "", "run only these phases, comma-separated: "+strings.Join(bench.StepKeys(), ", ")+" (default: all)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *only != "" {
			o.Only = strings.Split(*only, ",")
		}
		var err error
		if o.Levels, err = parseInts(*levels); err != nil {
			fmt.Fprintf(e.stderr, "mobayilo bench: -levels: %v\n", err)
			return errUsage
		}
		if o.VoiceRates, err = parseFloats(*rates); err != nil {
			fmt.Fprintf(e.stderr, "mobayilo bench: -voice-rates: %v\n", err)
			return errUsage
		}
		if err := o.Validate(); err != nil {
			fmt.Fprintf(e.stderr, "mobayilo bench: %v\n", err)
			return errUsage
		}
		if o.WebURL != "" {
			if o.Config, err = config.Load(e.getenv); err != nil {
				fmt.Fprintf(e.stderr, "mobayilo bench: the running stack's settings: %v\n", err)
				return errFailed
			}
		}
		if o.Binary, err = os.Executable(); err != nil {
			return err
		}
		if o.Dir == "" {
			if o.Dir, err = os.MkdirTemp("", "mobayilo-bench-"); err != nil {
				return err
			}
		}
		if o.Dir, err = filepath.Abs(o.Dir); err != nil {
			return err
		}
		o.Progress, o.Out = e.stderr, e.stdout
		ctx, cancel := context.WithTimeout(ctx, 2*time.Hour)
		defer cancel()
		if _, err := bench.Run(ctx, o); err != nil {
			fmt.Fprintf(e.stderr, "bench: %v\n(logs in %s)\n", err, o.Dir)
			return errFailed
		}
		return nil
	}
	return c
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
