// Package web is Mobayilo's HTTP layer: the router, handlers one file per
// area, middleware, templates and assets.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// Deps are what the web layer is built from, every one built by the
// caller (cmd/mobayilo wires them from the configuration; tests build
// their own). New builds nothing that talks to the outside and starts
// nothing: the caller runs Jobs.
type Deps struct {
	Config   config.Config
	Pool     *pgxpool.Pool
	Temporal client.Client
	Log      zerolog.Logger
	// Rates is the rate deck's index; the caller keeps it current (its
	// Watch).
	Rates *ratedeck.Store
	// Rules are the destination rules and ceilings.
	Rules rating.Rules
	// Deliverer delivers the webhook inbox to workflows; the caller runs
	// it. Nil: webhooks are stored, and delivered by another instance's
	// sweep.
	Deliverer *inbox.Deliverer
	// Calls hangs up a call in progress (support disabling its caller):
	// Twilio's REST API, or the carrier simulator.
	Calls interface {
		EndCall(ctx context.Context, callID, parentSid string) error
	}
	// Simulator is the carrier simulator `dev` runs; with it (and never in
	// production) /dev/carrier/connect plays Twilio for a browser.
	Simulator *carrier.Simulator
	// Payments is the payment processor: Stripe's API (or the payment
	// simulator's, STRIPE_API_BASE).
	Payments payments.Gateway
	// PaymentSimulator stands in for Stripe (never in production): its API
	// is served at /dev/stripe/v1/ and its card form on the payment page.
	PaymentSimulator *payments.Simulator
	// Mailer sends email.
	Mailer mail.Sender
	// Mailbox is the development mailbox shown at /dev/mail (never in
	// production); nil: no /dev/mail.
	Mailbox *mail.Mailbox
	// Now is the clock of admin idle timeouts and password re-entry; nil
	// is time.Now (tests move it forward).
	Now func() time.Time
	// Metrics counts requests, webhooks and the inbox (nil: nothing is
	// counted); Tracer traces requests (nil: not traced).
	Metrics *metrics.Metrics
	Tracer  trace.Tracer
}

// Server holds the dependencies of every handler.
type Server struct {
	cfg       config.Config
	pool      *pgxpool.Pool
	temporal  client.Client
	log       zerolog.Logger
	accounts  *accounts.Service
	sessions  *scs.SessionManager
	mailer    mail.Sender
	mailbox   *mail.Mailbox // development only; nil otherwise
	assets    *Assets
	templates map[string]*template.Template
	rates     *ratedeck.Store
	rules     rating.Rules
	deliverer *inbox.Deliverer
	sim       *carrier.Simulator
	payments  payments.Gateway
	paySim    *payments.Simulator
	ender     callEnder
	hub       *hub
	// codec opens Temporal payloads for the UI's codec endpoint; nil
	// without TEMPORAL_CODEC_KEYS (the endpoint is then absent).
	codec   *codec.Codec
	now     func() time.Time
	metrics *metrics.Metrics
	tracer  trace.Tracer
}

// New builds the server: assets and templates are loaded and parsed here,
// so a missing bundle or a broken template fails start-up.
func New(d Deps) (*Server, error) {
	if d.Pool == nil || d.Temporal == nil || d.Rates == nil || d.Payments == nil || d.Mailer == nil || d.Calls == nil {
		return nil, errors.New("web: a Postgres pool, a Temporal client, the rate deck, a payment gateway, a mailer and a carrier client are required")
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		return nil, err
	}
	acc, err := accounts.New(d.Pool, d.Config.SignupBonusCents)
	if err != nil {
		return nil, err
	}
	acc.WithLimits(accounts.Limits{
		SignInFailuresPerAddress: d.Config.SignInMaxFailuresPerAddress,
		SignUpsPerAddress:        d.Config.SignUpMaxPerAddressPerHour,
		ResetsPerEmail:           d.Config.ResetMaxPerEmailPerHour,
		ResetsPerAddress:         d.Config.ResetMaxPerAddressPerHour,
		TopUpsPerUser:            d.Config.TopUpMaxPerHour,
	})
	s := &Server{
		cfg: d.Config, pool: d.Pool, temporal: d.Temporal, log: d.Log,
		accounts: acc, assets: assets, templates: templates, mailer: d.Mailer,
		rates: d.Rates, rules: d.Rules, deliverer: d.Deliverer, payments: d.Payments, ender: d.Calls,
		hub: newHub(d.Pool, d.Log), metrics: d.Metrics, tracer: d.Tracer,
	}
	if s.tracer == nil {
		s.tracer = noop.NewTracerProvider().Tracer("web")
	}
	s.codec = codec.New(d.Config.TemporalCodecKeys)
	if s.now = d.Now; s.now == nil {
		s.now = time.Now
	}
	if d.Config.Env != config.Production {
		s.sim, s.paySim, s.mailbox = d.Simulator, d.PaymentSimulator, d.Mailbox
	}

	// pgxstore's own cleanup goroutine races with its StopCleanup, so the
	// store runs without one and Jobs sweeps expired sessions.
	s.sessions = scs.New()
	s.sessions.Store = pgxstore.NewWithCleanupInterval(d.Pool, 0)
	s.sessions.Lifetime = 30 * 24 * time.Hour
	// No scs IdleTimeout: it rewrites the session row on every request.
	// The idle limit is ours (sessionActive), with a write at most hourly.
	s.sessions.Cookie.Name = "mobayilo_session"
	s.sessions.Cookie.HttpOnly = true
	s.sessions.Cookie.SameSite = http.SameSiteLaxMode
	s.sessions.Cookie.Secure = d.Config.SecureCookies()
	s.sessions.Cookie.Persist = true
	s.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.serverError(w, r, err)
	}
	return s, nil
}

// NewPaymentSimulator is the payment simulator for cfg: it takes the
// configured Stripe key and signs events with the webhook secret, delivered
// to PUBLIC_BASE_URL/api/webhooks/stripe, retried as Stripe would.
func NewPaymentSimulator(cfg config.Config) *payments.Simulator {
	return &payments.Simulator{SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret,
		WebhookURL: cfg.PublicBaseURL + "/api/webhooks/stripe", Retries: 5, RetryWait: 2 * time.Second}
}

// PaymentSimulator is the payment simulator the server runs, or nil.
func (s *Server) PaymentSimulator() *payments.Simulator { return s.paySim }

// Jobs are the web layer's own background loops, for the caller to run
// (cmd/mobayilo runs them in one group with the rest of the role's): live
// updates from Postgres, the check of live streams' sessions, the sweep of
// expired sessions, and the reaper of calls whose workflow never started.
func (s *Server) Jobs() []jobs.Job {
	return []jobs.Job{
		{Name: "live-events", Run: func(ctx context.Context) error { s.hub.run(ctx); return nil }},
		{Name: "live-sessions", Run: func(ctx context.Context) error { s.hub.watch(ctx, s.cfg.LiveSessionCheckInterval); return nil }},
		jobs.Every("expired-sessions", time.Minute, s.log, s.sweepSessions),
		jobs.Every("unstarted-calls", time.Minute, s.log, s.reapUnstartedCalls),
	}
}

// sweepSessions deletes expired sessions.
func (s *Server) sweepSessions(ctx context.Context) error {
	n, err := db.New(s.pool).DeleteExpiredSessions(ctx)
	if err != nil {
		return fmt.Errorf("web: sweep expired sessions: %w", err)
	}
	if n > 0 {
		s.log.Debug().Int64("deleted", n).Msg("swept expired sessions")
	}
	return nil
}

// reapUnstartedCalls fails calls whose workflow never started (the web
// process died between the row and the update-with-start, so no
// compensating update ran), freeing their caller's slot.
func (s *Server) reapUnstartedCalls(ctx context.Context) error {
	n, err := db.New(s.pool).FailStaleCreatedCalls(ctx)
	if err != nil {
		return fmt.Errorf("web: fail unstarted calls: %w", err)
	}
	if n > 0 {
		s.log.Warn().Int64("calls", n).Msg("failed calls whose workflow never started")
	}
	return nil
}

// HTTPServer wraps h with the timeouts every listener of ours uses. Handlers
// that stream (SSE) clear the write deadline for their own request.
func HTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
