package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mobayilo/mobayilo/internal/load"
)

func loadCommand() command {
	c := command{
		name:    "load",
		summary: "Run the app under load and faults, then prove every call was charged once and every payment credited once.",
		usage: `Starts the whole app on loopback (a fresh database named mobayilo_load*,
a Temporal dev server with a database file, and the web and worker roles as
their own processes of this binary), then plays every side of it: simulated
users sign up, top up and call a mix of destinations and outcomes (answered,
busy, no answer, failed, abandoned before Twilio connects), while the tool
plays Twilio and Stripe, delivering each webhook, correctly signed, 1 to -dup
times, shuffled and delayed, and dropping -loss of the final status callbacks.
With fault flags it kills the worker, restarts Postgres (as root, with
Debian's pg_ctlcluster) or the Temporal dev server mid-run, or drains wallets
mid-call (the charge must post in full, a debt that refuses the next call).
With -browser-hangup a share of callers hang up from the browser with their
final callbacks lost: each call must be billed and its slot freed; the time
to both is reported against a 10 s target (a warning line when calls are
over it, never a failure: a timing on a shared machine is no gate).

At the end it checks the books against what it did: exactly one call charge,
of the amount it works out from the rate deck and the talk time, for every
answered call, and none for the others; exactly one credit for every paid
top-up and none for declined ones; ledger verify clean; no workflow left
running. It prints a summary table, writes the same figures as JSON
(-report), and exits 1 if any check failed.

Every server it starts listens on 127.0.0.1 and it sends traffic nowhere else.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		o := load.Defaults()
		fs := flags(c, e)
		fs.IntVar(&o.Users, "users", o.Users, "simulated users (each signs up through the real form)")
		fs.IntVar(&o.Calls, "calls", o.Calls, "calls to place in all")
		fs.IntVar(&o.TopUps, "topups", o.TopUps, "top-ups in all (at least -users: each user pays once before calling)")
		fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "users active at once")
		fs.IntVar(&o.MaxCopies, "dup", o.MaxCopies, "each webhook is delivered 1 to this many times")
		fs.Float64Var(&o.Loss, "loss", o.Loss, "share of calls whose final status callback is never delivered")
		fs.DurationVar(&o.Delay, "delay", o.Delay, "each webhook is held back a random time up to this")
		fs.DurationVar(&o.Duration, "duration", o.Duration, "stop driving after this long")
		fs.DurationVar(&o.Drain, "drain", o.Drain, "afterwards, wait at most this long for every workflow to finish")
		fs.DurationVar(&o.KillWorkerEvery, "kill-worker", 0, "SIGKILL a worker this often and restart it (each kill the next worker; 0: never)")
		fs.DurationVar(&o.KillWebEvery, "kill-web", 0, "SIGKILL a web instance this often, mid-traffic, and start it again 3 s later (each kill the next instance; 0: never)")
		fs.Float64Var(&o.AutoTopUp, "auto-topup", o.AutoTopUp, "share of users who save their first top-up's card and turn auto top-up on (below $4.95 add $5, at most $10 a month: their first charge sets it off): the money check covers the top-ups it makes")
		fs.Float64Var(&o.WatchLive, "watch-live", 0, "share of users whose page keeps the live stream (GET /live) open, reopening it when it drops: each must show its wallet's last balance by the end, whichever instance the stream and the webhooks landed on")
		fs.StringVar(&o.Shape, "shape", load.ShapeDev, "Temporal: "+load.ShapeDev+" (the CLI's dev server on SQLite) or "+load.ShapeCluster+" (the Temporal server on Postgres, as production runs a cluster; bin/temporal-server and bin/temporal-sql-tool, `make bin/temporal-server bin/temporal-sql-tool`)")
		fs.IntVar(&o.Webs, "webs", 0, "web instances (0: 2 with -shape cluster, 1 otherwise); with more than one, the tool's load balancer sends each request (browsers' and webhooks') to the next, as production's would")
		fs.IntVar(&o.Workers, "workers", 0, "worker instances, each supervised (0: 2 with -shape cluster, 1 otherwise)")
		fs.BoolVar(&o.RestartPostgres, "restart-postgres", false, "restart PostgreSQL once, a third of the way in (root; Debian's pg_ctlcluster)")
		fs.BoolVar(&o.RestartTemporal, "restart-temporal", false, "restart the Temporal dev server once, half way in")
		fs.IntVar(&o.BillingFaults, "billing-faults", 0, "calls whose wallet is drained mid-call through the support console: each must be charged in full as a debt that refuses the next call, then the money is credited back")
		fs.Float64Var(&o.BrowserHangUp, "browser-hangup", 0, "share of calls whose browser says they ended (POST /calls/{id}/hangup) with their final callbacks lost, or cancels them unconnected: each must be billed and its slot freed (the time to both is reported against a 10 s target)")
		fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "the database to create for the run (loopback, name starting mobayilo_load)")
		fs.StringVar(&o.Dir, "dir", "", "where logs and the Temporal database go (default: a new temporary directory)")
		fs.StringVar(&o.Report, "report", o.Report, "JSON report file (empty: none)")
		fs.StringVar(&o.Prometheus, "prometheus", "", "run a Prometheus (Debian's) on this loopback host:port, scraping every web and worker process as they come and go, with docs/alerts.yml loaded; its graph page's URL is printed")
		fs.BoolVar(&o.Traces, "traces", false, "every web and worker process writes its OpenTelemetry spans to traces-<role>.jsonl in -dir (TRACE_FILE)")
		fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed, to repeat a run's choices")
		fs.IntVar(&o.MaxCallSeconds, "max-call-seconds", o.MaxCallSeconds, "the app's MAX_CALL_SECONDS for the run")
		if err := fs.Parse(args); err != nil {
			return err
		}
		bin, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = bin
		if o.Dir == "" {
			if o.Dir, err = os.MkdirTemp("", "mobayilo-load-"); err != nil {
				return err
			}
		}
		if o.Dir, err = filepath.Abs(o.Dir); err != nil {
			return err
		}
		o.Progress, o.Out = e.stderr, e.stdout
		// Bounded: driving, draining, and a margin to start and check.
		ctx, cancel := context.WithTimeout(ctx, o.Duration+o.Drain+5*time.Minute)
		defer cancel()
		rep, err := load.Run(ctx, o)
		if err != nil {
			fmt.Fprintf(e.stderr, "load: %v\n(logs in %s)\n", err, o.Dir)
			return errFailed
		}
		if len(rep.Problems) > 0 {
			fmt.Fprintf(e.stderr, "load: the check failed (logs in %s)\n", o.Dir)
			return errFailed
		}
		return nil
	}
	return c
}
