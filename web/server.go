// Package web is Mobayilo's HTTP layer: the router, handlers one file per
// area, middleware, templates and assets.
package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// Deps are what the web layer is built from.
type Deps struct {
	Config   config.Config
	Pool     *pgxpool.Pool
	Temporal client.Client
	Log      zerolog.Logger
	// Rates is the rate deck's index; when nil, New loads one from Pool and
	// keeps it current until Close.
	Rates *ratedeck.Store
	// Rules are the destination rules and ceilings.
	Rules rating.Rules
	// Deliverer delivers the webhook inbox to workflows; when nil, New
	// makes one and runs it until Close.
	Deliverer *inbox.Deliverer
	// Simulator is the carrier simulator `dev` runs; with it (and never in
	// production) /dev/carrier/connect plays Twilio for a browser.
	Simulator *carrier.Simulator
	// Payments is the payment processor; when nil, Stripe's API (or the
	// payment simulator's, STRIPE_API_BASE) with STRIPE_SECRET_KEY.
	Payments payments.Gateway
	// PaymentSimulator stands in for Stripe (never in production): its API
	// is served at /dev/stripe/v1/ and its card form on the payment page.
	// When nil and PAYMENT_SIMULATOR is on, New makes one.
	PaymentSimulator *payments.Simulator
	// Mailer sends email. When nil, it is SMTP from the configuration, or,
	// outside production with no SMTP_HOST, a development mailbox shown at
	// /dev/mail.
	Mailer mail.Sender
	// Now is the clock of admin idle timeouts and password re-entry; nil
	// is time.Now (tests move it forward).
	Now func() time.Time
}

// Server holds the dependencies of every handler.
type Server struct {
	cfg       config.Config
	pool      *pgxpool.Pool
	temporal  client.Client
	log       zerolog.Logger
	accounts  *accounts.Service
	sessions  *scs.SessionManager
	stopSweep chan struct{}
	sweepDone chan struct{}
	mailer    mail.Sender
	mailbox   *mail.Mailbox // development only; nil otherwise
	assets    *Assets
	templates map[string]*template.Template
	rates     *ratedeck.Store
	rules     rating.Rules
	stopRates context.CancelFunc
	deliverer *inbox.Deliverer
	stopInbox context.CancelFunc
	sim       *carrier.Simulator
	payments  payments.Gateway
	paySim    *payments.Simulator
	ender     callEnder
	hub       *hub
	stopHub   context.CancelFunc
	// codec opens Temporal payloads for the UI's codec endpoint; nil
	// without TEMPORAL_CODEC_KEYS (the endpoint is then absent).
	codec *codec.Codec
	now   func() time.Time
}

// New builds the server: assets and templates are loaded and parsed here,
// so a missing bundle or a broken template fails start-up.
func New(d Deps) (*Server, error) {
	if d.Pool == nil || d.Temporal == nil {
		return nil, errors.New("web: a Postgres pool and a Temporal client are required")
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
		rates: d.Rates, rules: d.Rules, stopRates: func() {}, deliverer: d.Deliverer, stopInbox: func() {},
	}
	s.codec = codec.New(d.Config.TemporalCodecKeys)
	if s.now = d.Now; s.now == nil {
		s.now = time.Now
	}
	if d.Config.Env != config.Production {
		s.sim = d.Simulator
		s.paySim = d.PaymentSimulator
		if s.paySim == nil && d.Config.PaymentSimulator {
			s.paySim = NewPaymentSimulator(d.Config)
		}
	}
	if s.sim != nil {
		s.ender = s.sim
	} else {
		calls, err := carrier.NewTwilioCallsAt(d.Config.TwilioAccountSID, d.Config.TwilioAPIKey, d.Config.TwilioAPISecret, d.Config.TwilioAPIBase)
		if err != nil {
			return nil, err
		}
		s.ender = calls
	}
	s.payments = d.Payments
	if s.payments == nil {
		s.payments = payments.NewStripe(d.Config.StripeSecretKey, d.Config.StripeAPIBase, nil)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	s.hub, s.stopHub = newHub(d.Pool, d.Log), stopHub
	go s.hub.run(hubCtx)
	go s.hub.watch(hubCtx, d.Config.LiveSessionCheckInterval)
	if s.deliverer == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.deliverer = inbox.NewDeliverer(d.Pool, d.Temporal, d.Log)
		s.deliverer.TaskQueue = d.Config.TemporalTaskQueue
		go s.deliverer.Run(ctx, 2*time.Second)
		s.stopInbox = cancel
	}
	if s.rates == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.rates, err = ratedeck.NewStore(ctx, d.Pool, d.Log)
		if err != nil {
			cancel()
			return nil, err
		}
		go s.rates.Watch(ctx, 5*time.Minute)
		s.stopRates = cancel
	}
	if s.mailer == nil {
		if d.Config.SMTPHost != "" {
			s.mailer = mail.SMTP{Host: d.Config.SMTPHost, Port: d.Config.SMTPPort, Username: d.Config.SMTPUsername,
				Password: d.Config.SMTPPassword, From: d.Config.SMTPFrom}
		} else if d.Config.Env != config.Production {
			s.mailbox = mail.NewMailbox(d.Log)
			s.mailer = s.mailbox
		} else {
			return nil, errors.New("web: SMTP_HOST is required in production")
		}
	}

	// pgxstore's own cleanup goroutine races with its StopCleanup, so the
	// store runs without one and we sweep expired sessions ourselves.
	s.sessions = scs.New()
	s.sessions.Store = pgxstore.NewWithCleanupInterval(d.Pool, 0)
	s.stopSweep = make(chan struct{})
	s.sweepDone = make(chan struct{})
	go s.sweep(time.Minute)
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

// Close stops the expired-session sweeper and the rate deck's watcher.
func (s *Server) Close() {
	s.stopHub()
	s.stopRates()
	s.stopInbox()
	close(s.stopSweep)
	<-s.sweepDone
}

// sweep deletes expired sessions and frees calls whose workflow never
// started, every interval.
func (s *Server) sweep(every time.Duration) {
	defer close(s.sweepDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			q := db.New(s.pool)
			if n, err := q.DeleteExpiredSessions(ctx); err != nil {
				s.log.Warn().Err(err).Msg("sweep expired sessions")
			} else if n > 0 {
				s.log.Debug().Int64("deleted", n).Msg("swept expired sessions")
			}
			if n, err := q.FailStaleCreatedCalls(ctx); err != nil {
				s.log.Warn().Err(err).Msg("sweep unstarted calls")
			} else if n > 0 {
				s.log.Warn().Int64("calls", n).Msg("failed calls whose workflow never started")
			}
			cancel()
		}
	}
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
