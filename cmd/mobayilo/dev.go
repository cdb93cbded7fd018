package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mobayilo/mobayilo/docs"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/promlocal"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/temporalx"
)

func devCommand() command {
	c := command{
		name:    "dev",
		summary: "Run Mobayilo on a laptop in one process: database, migrations, Temporal dev server, web and worker.",
		usage: `Creates the database in DATABASE_URL if it is missing, migrates it, and loads
the sample rate deck into an empty deck; reuses
the Temporal server at TEMPORAL_ADDRESS if one answers there, otherwise starts
the Temporal CLI's dev server on it (with the Web UI at TEMPORAL_UI_URL and the
project's search attributes); then runs the web and worker roles together and
logs the URLs of the app and of the Temporal UI. Refuses APP_ENV=production.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		fs := flags(c, e)
		temporalDB := fs.String("temporal-db", ".dev/temporal.db", "SQLite file where the dev server keeps workflows across restarts (empty: in memory)")
		temporalCLI := fs.String("temporal-cli", "", "path to the Temporal CLI (default: $TEMPORAL_CLI, bin/temporal, or PATH)")
		withPrometheus := fs.Bool("metrics", false, "also start a local Prometheus (Debian's prometheus package) scraping the app's METRICS_ADDR every 5 s, with docs/alerts.yml loaded, and log its graph page's URL")
		promAddr := fs.String("prometheus-addr", "127.0.0.1:9090", "with -metrics: where Prometheus serves its UI (loopback)")
		promDir := fs.String("prometheus-dir", ".dev/prometheus", "with -metrics: Prometheus's configuration and time series")
		if err := parse(fs, args); err != nil {
			return err
		}
		cfg, log, err := setup(e, "dev")
		if err != nil {
			return err
		}
		if cfg.Env == config.Production {
			return errors.New("refusing to run the dev setup with APP_ENV=production")
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()

		if err := ensureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
		obs, err := observe(ctx, cfg, "dev")
		if err != nil {
			return err
		}
		defer obs.shutdown(log)
		pool, err := obs.openDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := migrate(ctx, pool, log); err != nil {
			return err
		}
		if loaded, err := ratedeck.LoadSampleIfEmpty(ctx, pool); err != nil {
			return err
		} else if loaded {
			log.Info().Msg("loaded the sample rate deck (sample prices; replace with `mobayilo rates import`)")
		}

		uiURL := cfg.TemporalUIURL
		var front, loops []jobs.Job
		if devserver.Reachable(cfg.TemporalAddress) {
			log.Info().Str("address", cfg.TemporalAddress).Msg("reusing the Temporal server already running")
		} else {
			opts, err := devServerOptions(cfg, *temporalDB, *temporalCLI)
			if err != nil {
				return err
			}
			opts.Output = e.stderr
			log.Info().Str("address", cfg.TemporalAddress).Msg("starting the Temporal dev server")
			srv, err := devserver.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer func() {
				if err := srv.Stop(); err != nil {
					log.Warn().Err(err).Msg("temporal dev server stop")
				}
			}()
			uiURL = srv.UIURL
			// Without its Temporal server the app is half alive: stop it all.
			loops = append(loops, jobs.Job{Name: "temporal-dev-server", Run: func(ctx context.Context) error {
				select {
				case <-srv.Exited():
					if ctx.Err() == nil {
						log.Error().Msg("the Temporal dev server exited; stopping")
					}
				case <-ctx.Done():
				}
				return nil
			}})
		}
		topts, err := obs.temporal(temporalOptions(cfg, log))
		if err != nil {
			return err
		}
		tc, err := temporalx.Dial(ctx, topts)
		if err != nil {
			return err
		}
		defer tc.Close()
		if err := temporalx.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
			return err
		}

		var sim *carrier.Simulator
		if cfg.CarrierSimulator {
			sim = &carrier.Simulator{BaseURL: cfg.PublicBaseURL, AuthToken: cfg.TwilioAuthToken, AccountSID: cfg.TwilioAccountSID,
				APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret, Ring: 3 * time.Second, Realtime: true}
			// The simulator's carrier costs: 70% of the sample deck's prices.
			sample, err := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
			if err != nil {
				return err
			}
			sim.VoicePrices = carrier.CostsFromDeck(sample, 7000)
		}

		wf, wl, err := workerRole(ctx, cfg, pool, tc, log.With().Str("role", "worker").Logger(), obs, sim)
		if err != nil {
			return err
		}
		hf, hl, err := webRole(ctx, cfg, pool, tc, log.With().Str("role", "web").Logger(), obs, sim)
		if err != nil {
			return err
		}
		front, loops = append(append(front, wf...), hf...), append(append(append(loops, wl...), hl...), obs.job(log)...)
		if *withPrometheus {
			prom, err := startPrometheus(ctx, obs, *promAddr, *promDir, e)
			if err != nil {
				return err
			}
			defer prom.Stop()
			log.Info().Str("prometheus", prom.GraphURL("15m", promlocal.Graphs...)).Msg("Prometheus is scraping the app: open its graph page to watch calls, billing lag and the inbox")
			loops = append(loops, jobs.Job{Name: "prometheus", Run: func(ctx context.Context) error {
				select {
				case <-prom.Exited():
					if ctx.Err() == nil {
						log.Warn().Msg("Prometheus exited; the app goes on without it")
					}
				case <-ctx.Done():
				}
				return nil
			}})
		}
		log.Info().Str("app", cfg.PublicBaseURL).Str("temporal_ui", uiURL).
			Msg("Mobayilo is running: open the app, and the Temporal UI to watch its workflows (Ctrl-C stops)")
		return jobs.Run(ctx, front, loops)
	}
	return c
}

// startPrometheus starts Debian's Prometheus on addr, scraping the role's
// metrics listener, with the alerting rules loaded.
func startPrometheus(ctx context.Context, obs *observability, addr, dir string, e env) (*promlocal.Server, error) {
	if obs.addr == "" {
		return nil, errors.New("-metrics needs the metrics listener: METRICS_ADDR is off")
	}
	return promlocal.Start(ctx, promlocal.Options{Listen: addr, Dir: dir, Targets: []string{obs.addr}, Rules: docs.Alerts, Output: e.stderr})
}

// devServerOptions places the dev server on TEMPORAL_ADDRESS and its UI on
// TEMPORAL_UI_URL's port, both on loopback.
func devServerOptions(cfg config.Config, dbFile, cli string) (devserver.Options, error) {
	host, portText, err := net.SplitHostPort(cfg.TemporalAddress)
	if err != nil {
		return devserver.Options{}, fmt.Errorf("TEMPORAL_ADDRESS: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return devserver.Options{}, fmt.Errorf("nothing answers at TEMPORAL_ADDRESS=%s, and the dev server only starts on loopback", cfg.TemporalAddress)
	}
	port, _ := strconv.Atoi(portText)
	uiPort := port + 1000
	if u, err := url.Parse(cfg.TemporalUIURL); err == nil && u.Port() != "" {
		uiPort, _ = strconv.Atoi(u.Port())
	}
	return devserver.Options{Binary: cli, Port: port, UIPort: uiPort, DBFile: dbFile, Namespace: cfg.TemporalNamespace}, nil
}

// ensureDatabase creates the database named in rawURL when the server does
// not have it yet.
func ensureDatabase(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("db: connect to the server in DATABASE_URL (%s): %w; is Postgres running? `make dev` starts it", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("db: look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
			return nil // duplicate_database: created meanwhile by another process
		}
		return fmt.Errorf("db: create database %s: %w", name, err)
	}
	return nil
}
