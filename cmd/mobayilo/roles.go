package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/receipts"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/web"
)

func webCommand() command {
	c := command{
		name:    "web",
		summary: "Serve the HTTP app: pages, JSON endpoints, webhooks and live updates.",
		usage: `Listens on HTTP_ADDR. /healthz says the process is up; /readyz says whether
Postgres and Temporal both answer. The web role starts while Temporal is down
(readiness says so) and is stateless: run as many as you need.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		if err := parse(flags(c, e), args); err != nil {
			return err
		}
		if err := requireAppEnv(e, c.name); err != nil {
			return err
		}
		cfg, log, obs, pool, err := setupRole(ctx, e, "web")
		if err != nil {
			return err
		}
		defer obs.shutdown(log)
		defer pool.Close()
		topts, err := obs.temporal(temporalOptions(cfg, log))
		if err != nil {
			return err
		}
		tc, err := temporalx.Lazy(topts)
		if err != nil {
			return err
		}
		defer tc.Close()
		front, loops, err := webRole(ctx, cfg, pool, tc, log, obs, nil)
		if err != nil {
			return err
		}
		return jobs.Run(ctx, front, append(loops, obs.job(log)...))
	}
	return c
}

func workerCommand() command {
	c := command{
		name:    "worker",
		summary: "Run the Temporal worker: every workflow and activity.",
		usage: `Connects to TEMPORAL_ADDRESS, polls TEMPORAL_TASK_QUEUE, and creates the
schedules it owns (the daily ledger audit) when they are absent. Stateless:
run as many as you need.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		if err := parse(flags(c, e), args); err != nil {
			return err
		}
		if err := requireAppEnv(e, c.name); err != nil {
			return err
		}
		cfg, log, obs, pool, err := setupRole(ctx, e, "worker")
		if err != nil {
			return err
		}
		defer obs.shutdown(log)
		defer pool.Close()
		topts, err := obs.temporal(temporalOptions(cfg, log))
		if err != nil {
			return err
		}
		tc, err := temporalx.Dial(ctx, topts)
		if err != nil {
			return err
		}
		defer tc.Close()
		obs.readiness(pool, tc)
		front, loops, err := workerRole(ctx, cfg, pool, tc, log, obs, nil)
		if err != nil {
			return err
		}
		return jobs.Run(ctx, front, append(loops, obs.job(log)...))
	}
	return c
}

func migrateCommand() command {
	c := command{
		name:    "migrate",
		summary: "Apply the embedded SQL migrations to DATABASE_URL.",
		usage: `Applies, in order, each migration not yet recorded in schema_migrations, each
in its own transaction, under an advisory lock (two migrators never race).`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		if err := parse(flags(c, e), args); err != nil {
			return err
		}
		if err := requireAppEnv(e, c.name); err != nil {
			return err
		}
		_, log, pool, err := setupDB(ctx, e, "migrate")
		if err != nil {
			return err
		}
		defer pool.Close()
		return migrate(ctx, pool, log)
	}
	return c
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log zerolog.Logger) error {
	applied, err := db.Migrate(ctx, pool)
	for _, v := range applied {
		log.Info().Str("version", v).Msg("migration applied")
	}
	if err != nil {
		return err
	}
	log.Info().Int("applied", len(applied)).Msg("database schema is up to date")
	return nil
}

func temporalOptions(cfg config.Config, log zerolog.Logger) temporalx.Options {
	return temporalx.Options{Address: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: log,
		Security: temporalx.Security{CertFile: cfg.TemporalTLSCert, KeyFile: cfg.TemporalTLSKey, CAFile: cfg.TemporalTLSCA,
			ServerName: cfg.TemporalTLSServerName, APIKey: cfg.TemporalAPIKey},
		// TEMPORAL_CODEC_KEYS: payloads encrypted (nil, plain, without keys).
		Codec: codec.New(cfg.TemporalCodecKeys)}
}

// workerRole wires the worker role: the Temporal worker in front (it
// finishes its activities before the loops stop) and the rate deck's
// watcher behind it. sim is the carrier simulator that `dev` runs (it
// answers FetchCall for the calls it placed); nil otherwise.
func workerRole(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, tc client.Client, log zerolog.Logger, obs *observability, sim *carrier.Simulator) (front, loops []jobs.Job, err error) {
	rates, err := ratedeck.NewStore(ctx, pool, log)
	if err != nil {
		return nil, nil, err
	}
	acts := activities.New(pool)
	acts.Rates, acts.Rules = rates, rulesFrom(cfg)
	acts.Retention = cfg.DataRetention
	acts.Metrics = obs.metrics
	acts.Signaler = tc
	acts.Workflows = tc
	// The email saying auto top-up was turned off (a declined card).
	if m, _, err := mailerFrom(cfg, log); err != nil {
		log.Warn().Err(err).Msg("no mailer: auto top-up's emails are not sent (its banner still shows)")
	} else {
		acts.Mailer = m
	}
	acts.PricingPolicy = rating.Pricing{MarkupBasisPoints: cfg.PricingMarkupBasisPoints, MinMarginMicros: cfg.PricingMinMarginMicros}
	// Stripe, or in development the payment simulator served by the web
	// role (STRIPE_API_BASE), through the same stripe-go client.
	acts.Payments = payments.NewStripe(cfg.StripeSecretKey, cfg.StripeAPIBase, nil)
	switch {
	case !cfg.CarrierSimulator:
		acts.Pricing = carrier.NewTwilioPricing(cfg.TwilioAccountSID, cfg.TwilioAPIKey, cfg.TwilioAPISecret, carrier.PricingBaseURL, nil)
		acts.Carrier = carrier.NewTwilioCalls(cfg.TwilioAccountSID, cfg.TwilioAPIKey, cfg.TwilioAPISecret, nil)
	case sim != nil:
		acts.Carrier = sim
		// The simulator's Pricing API, served by the web role at
		// /dev/twilio, through the same client as Twilio's: the pricing
		// sync is scheduled and runs as in production.
		acts.Pricing = carrier.NewTwilioPricing(cfg.TwilioAccountSID, cfg.TwilioAPIKey, cfg.TwilioAPISecret, cfg.PublicBaseURL+"/dev/twilio", nil)
		log.Info().Msg("pricing sync against the carrier simulator's Pricing API")
	case cfg.TwilioAPIBase != "":
		calls, err := carrier.NewTwilioCallsAt(cfg.TwilioAccountSID, cfg.TwilioAPIKey, cfg.TwilioAPISecret, cfg.TwilioAPIBase)
		if err != nil {
			return nil, nil, err
		}
		acts.Carrier = calls
		log.Info().Str("twilio_api_base", cfg.TwilioAPIBase).Msg("calls reconciled against a carrier simulator's REST API; no pricing sync")
	default:
		log.Info().Msg("carrier simulator without `dev`: no pricing sync, and calls cannot be reconciled")
	}
	if err := temporalx.EnsureSchedules(ctx, tc, cfg.TemporalTaskQueue, acts.Pricing != nil); err != nil {
		return nil, nil, err
	}
	w := temporalx.NewWorkerTuned(tc, cfg.TemporalTaskQueue, acts, log, temporalx.Tuning{MaxPollers: cfg.TemporalMaxPollers})
	worker := jobs.Job{Name: "temporal-worker", Run: func(ctx context.Context) error {
		if err := w.Start(); err != nil {
			return fmt.Errorf("temporal: start worker: %w", err)
		}
		log.Info().Str("task_queue", cfg.TemporalTaskQueue).Str("namespace", cfg.TemporalNamespace).Msg("worker polling")
		<-ctx.Done()
		w.Stop()
		log.Info().Msg("worker stopped")
		return nil
	}}
	return []jobs.Job{worker}, []jobs.Job{rateDeckJob(rates)}, nil
}

// rateDeckJob keeps a role's rate deck current.
func rateDeckJob(rates *ratedeck.Store) jobs.Job {
	return jobs.Job{Name: "rate-deck", Run: func(ctx context.Context) error { rates.Watch(ctx, 5*time.Minute); return nil }}
}

// webRole wires the web role: the server from dependencies built here
// (the rate deck, the webhook inbox's deliverer, the Stripe gateway or the
// payment simulator, Twilio's REST client or the carrier simulator, the
// mailer), the HTTP listener in front (it drains its requests before the
// loops stop), and behind it the server's own loops, the inbox's and the
// rate deck's watcher. sim is the carrier simulator under `dev`.
func webRole(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, tc client.Client, log zerolog.Logger, obs *observability, sim *carrier.Simulator) (front, loops []jobs.Job, err error) {
	rates, err := ratedeck.NewStore(ctx, pool, log)
	if err != nil {
		return nil, nil, err
	}
	deliverer := inbox.NewDeliverer(pool, tc, log)
	deliverer.TaskQueue = cfg.TemporalTaskQueue
	deliverer.Senders = cfg.InboxSenders
	deliverer.Metrics = obs.metrics
	// The database's gauges (inbox backlog, calls awaiting billing) are
	// read by the web role's scrapes.
	obs.metrics.WatchDatabase(pool)
	d := web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: log, Rates: rates, Rules: rulesFrom(cfg), Deliverer: deliverer,
		Payments: payments.NewStripe(cfg.StripeSecretKey, cfg.StripeAPIBase, nil),
		Metrics:  obs.metrics, Tracer: obs.tracing.Tracer()}
	if cfg.Env != config.Production {
		d.Simulator = sim
		if cfg.PaymentSimulator {
			d.PaymentSimulator = web.NewPaymentSimulator(cfg)
		}
	}
	if d.Simulator != nil {
		d.Calls = d.Simulator
	} else if d.Calls, err = carrier.NewTwilioCallsAt(cfg.TwilioAccountSID, cfg.TwilioAPIKey, cfg.TwilioAPISecret, cfg.TwilioAPIBase); err != nil {
		return nil, nil, err
	}
	if d.Mailer, d.Mailbox, err = mailerFrom(cfg, log); err != nil {
		return nil, nil, err
	}
	srv, err := web.New(d)
	if err != nil {
		return nil, nil, err
	}
	serve := jobs.Job{Name: "http", Run: func(ctx context.Context) error { return serveHTTP(ctx, cfg, srv.Handler(), log) }}
	loops = append(srv.Jobs(), rateDeckJob(rates),
		jobs.Job{Name: "webhook-inbox", Run: func(ctx context.Context) error { deliverer.Run(ctx, 2*time.Second); return nil }},
		// Receipts go out from the role that holds the mailer.
		receipts.NewDeliverer(pool, d.Mailer, cfg.PublicBaseURL, log).Job())
	return []jobs.Job{serve}, loops, nil
}

var devMailbox struct {
	once sync.Once
	box  *mail.Mailbox
}

// mailerFrom is SMTP from the configuration, or, outside production with
// no SMTP_HOST, a development mailbox (also returned, for /dev/mail).
func mailerFrom(cfg config.Config, log zerolog.Logger) (mail.Sender, *mail.Mailbox, error) {
	switch {
	case cfg.SMTPHost != "":
		return mail.SMTP{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.SMTPFrom}, nil, nil
	case cfg.Env != config.Production:
		// One per process: under `dev` the worker's mail (auto top-up's)
		// is listed at /dev/mail with the web role's.
		devMailbox.once.Do(func() { devMailbox.box = mail.NewMailbox(log) })
		return devMailbox.box, devMailbox.box, nil
	default:
		return nil, nil, errors.New("web: SMTP_HOST is required in production")
	}
}

// serveHTTP serves h on cfg.HTTPAddr until ctx ends, then drains requests
// for up to 20 seconds.
func serveHTTP(ctx context.Context, cfg config.Config, h http.Handler, log zerolog.Logger) error {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := web.HTTPServer(cfg.HTTPAddr, h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info().Str("addr", l.Addr().String()).Str("url", cfg.PublicBaseURL).Msg("web listening")

	select {
	case err := <-errc:
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: %w", err)
	}
	log.Info().Msg("web stopped")
	return nil
}
