// Package config reads Mobayilo's settings from the environment into one
// struct, validates them across fields, and prints them with secrets
// redacted. Development and test have defaults for everything, so
// `mobayilo dev` starts with no variables set; production has no defaults
// for secrets and refuses every development-only switch.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/internal/codec"
)

// Env is the environment the process runs in.
type Env string

const (
	Development Env = "development"
	Test        Env = "test"
	Production  Env = "production"
)

// Config is every setting of every role.
type Config struct {
	Env           Env
	HTTPAddr      string
	PublicBaseURL string
	LogLevel      zerolog.Level
	LogFormat     string // "console" or "json"

	DatabaseURL string
	// DatabaseMaxConns (DATABASE_MAX_CONNS): the Postgres pool's size in
	// each web and worker process: its request handlers, the inbox's
	// senders, the LISTEN connections and the worker's activities share it.
	DatabaseMaxConns int
	// TemporalMaxPollers (TEMPORAL_MAX_POLLERS): the most task-queue
	// pollers the worker opens per kind (workflow, activity); they scale
	// between 1 and this on the server's feedback.
	TemporalMaxPollers int

	TemporalAddress   string
	TemporalNamespace string
	TemporalTaskQueue string
	TemporalUIURL     string // base URL of the Temporal UI, for links

	// TemporalCodecKeys (TEMPORAL_CODEC_KEYS, "id:base64,..."): the AES-256
	// keys of the Temporal payload codec; the first encrypts, all decrypt.
	// None in development means plain payloads; production requires one.
	TemporalCodecKeys    codec.Keys
	temporalCodecKeysRaw string
	// Temporal transport security: mTLS (PEM files), an API key as Temporal
	// Cloud issues (a secret, sent over TLS), or, off loopback in
	// production, plaintext only with TemporalInsecure set on purpose.
	TemporalTLSCert       string
	TemporalTLSKey        string
	TemporalTLSCA         string
	TemporalTLSServerName string
	TemporalAPIKey        string
	TemporalInsecure      bool

	SessionSecret string

	// SignupBonusCents is credited to every new wallet through the ledger
	// (key bonus:signup:<user>); 0 turns the bonus off.
	SignupBonusCents int64

	TwilioAccountSID  string
	TwilioAuthToken   string
	TwilioAPIKey      string
	TwilioAPISecret   string
	TwilioTwiMLAppSID string
	TwilioCallerID    string
	// TwilioAPIBase points the worker's Twilio REST client elsewhere than
	// api.twilio.com: a carrier simulator's REST API (the load tool's), in
	// development and tests only.
	TwilioAPIBase string

	StripeSecretKey      string
	StripePublishableKey string
	StripeWebhookSecret  string
	// StripeAPIBase is where stripe-go sends API requests: empty for
	// Stripe's own API; the payment simulator's routes in development.
	StripeAPIBase string
	// StripeTestMode lets production take Stripe test-mode keys, for a
	// staging deploy; the start-up log says so loudly.
	StripeTestMode bool

	// TopUpPackages are the fixed top-up amounts, in cents, the only
	// amounts a user can buy (TOPUP_PACKAGES, whole dollars: "5,10,20,50").
	TopUpPackages []int64
	// TopUpPaymentTimeout: how long a top-up waits for its payment before
	// asking Stripe and cancelling an abandoned one.
	TopUpPaymentTimeout time.Duration

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	// Recognised only to be refused in production: Mobayilo's mailer always
	// verifies the SMTP server's certificate and has no bypass. The seed's
	// Rails app had one (SMTP_DISABLE_CRL_CHECK / VERIFY_NONE).
	SMTPInsecureSkipVerify bool
	SMTPDisableCRLCheck    bool

	// Destination rules and ceilings (the toll-fraud guard).
	AllowedCountries []string // ISO codes; empty allows every country the deck prices
	BlockedPrefixes  []string // E.164 digit prefixes never called
	MaxCallSeconds   int64    // ceiling on one call
	// CallAuthorizationWindow: an authorized call must reach Twilio within
	// it; CallReconcileGrace: how long after max_seconds and ringing a call
	// waits for Twilio's final callback before asking its REST API. Load
	// runs shorten both.
	CallAuthorizationWindow time.Duration
	CallReconcileGrace      time.Duration
	CallRingAllowance       time.Duration // time to answer, added to max_seconds
	DailySpendLimitCents    int64         // per user; 0 = none
	DailyCallLimit          int           // per user; 0 = none

	// Pricing sync: our price is Twilio's plus the larger of the markup and
	// the minimum margin.
	PricingMarkupBasisPoints int64 // 3000 = 30%
	PricingMinMarginMicros   int64 // per minute, micro-dollars

	// Housekeeping and admin sessions (issue 16). DataRetention: how long
	// sign-in failures, reset tokens and delivered webhook events are kept
	// before the daily Housekeeping workflow deletes them. AdminIdleTimeout:
	// an admin's session ends after this long without a request (users'
	// sessions after 14 days).
	DataRetention    time.Duration
	AdminIdleTimeout time.Duration

	// The local simulators stand in for Twilio and Stripe on a laptop.
	// Production refuses to start with either switched on.
	CarrierSimulator bool
	PaymentSimulator bool

	// TrustedProxies are the networks of our own reverse proxies and load
	// balancers (TRUSTED_PROXIES, comma-separated CIDRs or addresses). Only
	// a request whose direct peer is in one has its X-Forwarded-For
	// believed; empty believes no one, and the client is the peer.
	TrustedProxies []netip.Prefix
	// SignInMaxFailuresPerAddress: failed password checks from one client
	// address (an IPv6 /64) in 15 minutes before that address is refused.
	SignInMaxFailuresPerAddress int
	// Abuse limits, each per hour (a fixed window): sign-ups from one
	// address, password-reset requests for one email and from one address,
	// and top-ups one user starts (each is a PaymentIntent a card tester
	// could try cards on).
	SignUpMaxPerAddressPerHour int
	ResetMaxPerEmailPerHour    int
	ResetMaxPerAddressPerHour  int
	TopUpMaxPerHour            int

	// LiveMaxStreamsPerUser: open /live streams one user may have, on all
	// instances together; a new one closes the oldest beyond it.
	// LiveSessionCheckInterval: how often each instance checks that its
	// streams' sessions still stand (sign-out, disable, password change).
	LiveMaxStreamsPerUser    int
	LiveSessionCheckInterval time.Duration
}

// Development defaults for secrets. They are public (they are in this
// file), so production refuses every one of them.
const (
	devSessionSecret       = "dev-only-session-secret-not-for-production-use"
	devTwilioAccountSID    = "ACdev00000000000000000000000000000"
	devTwilioAuthToken     = "dev-only-twilio-auth-token"
	devTwilioAPIKey        = "SKdev00000000000000000000000000000"
	devTwilioAPISecret     = "devOnlyTwilioApiSecret00000000000" // alphanumeric, as twilio-go requires
	devTwilioTwiMLAppSID   = "APdev00000000000000000000000000000"
	devTwilioCallerID      = "+15005550006"
	devStripeSecretKey     = "sk_test_dev_only"
	devStripePublishable   = "pk_test_dev_only"
	devStripeWebhookSecret = "whsec_dev_only_not_for_production"
	devSMTPPassword        = ""
)

// Load reads the configuration with getenv (os.Getenv in the binary, a map
// in tests) and validates it. The error lists every wrong setting by name.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	env := Env(r.str("APP_ENV", string(Development)))
	dev := env != Production
	// def returns the development default, or "" in production.
	def := func(v string) string {
		if dev {
			return v
		}
		return ""
	}
	dbName := "mobayilo_dev"
	if env == Test {
		dbName = "mobayilo_test"
	}

	c := Config{
		Env:           env,
		HTTPAddr:      r.str("HTTP_ADDR", "127.0.0.1:8080"),
		PublicBaseURL: r.str("PUBLIC_BASE_URL", def("http://127.0.0.1:8080")),
		LogFormat:     r.str("LOG_FORMAT", map[bool]string{true: "console", false: "json"}[dev]),

		DatabaseURL:      r.str("DATABASE_URL", def("postgres://postgres@127.0.0.1:5432/"+dbName+"?sslmode=disable")),
		DatabaseMaxConns: r.integer("DATABASE_MAX_CONNS", 32),

		TemporalAddress:    r.str("TEMPORAL_ADDRESS", def("127.0.0.1:7233")),
		TemporalNamespace:  r.str("TEMPORAL_NAMESPACE", "default"),
		TemporalTaskQueue:  r.str("TEMPORAL_TASK_QUEUE", "mobayilo"),
		TemporalMaxPollers: r.integer("TEMPORAL_MAX_POLLERS", 16),
		TemporalUIURL:      r.str("TEMPORAL_UI_URL", def("http://127.0.0.1:8233")),

		TemporalTLSCert:       r.str("TEMPORAL_TLS_CERT", ""),
		TemporalTLSKey:        r.str("TEMPORAL_TLS_KEY", ""),
		TemporalTLSCA:         r.str("TEMPORAL_TLS_CA", ""),
		TemporalTLSServerName: r.str("TEMPORAL_TLS_SERVER_NAME", ""),
		TemporalAPIKey:        r.str("TEMPORAL_API_KEY", ""),
		TemporalInsecure:      r.boolean("TEMPORAL_INSECURE", false),

		SessionSecret:    r.str("SESSION_SECRET", def(devSessionSecret)),
		SignupBonusCents: int64(r.integer("SIGNUP_BONUS_CENTS", 0)),

		TwilioAccountSID:  r.str("TWILIO_ACCOUNT_SID", def(devTwilioAccountSID)),
		TwilioAuthToken:   r.str("TWILIO_AUTH_TOKEN", def(devTwilioAuthToken)),
		TwilioAPIKey:      r.str("TWILIO_API_KEY", def(devTwilioAPIKey)),
		TwilioAPISecret:   r.str("TWILIO_API_SECRET", def(devTwilioAPISecret)),
		TwilioTwiMLAppSID: r.str("TWILIO_TWIML_APP_SID", def(devTwilioTwiMLAppSID)),
		TwilioCallerID:    r.str("TWILIO_CALLER_ID", def(devTwilioCallerID)),
		TwilioAPIBase:     r.str("TWILIO_API_BASE", ""),

		StripeSecretKey:      r.str("STRIPE_SECRET_KEY", def(devStripeSecretKey)),
		StripePublishableKey: r.str("STRIPE_PUBLISHABLE_KEY", def(devStripePublishable)),
		StripeWebhookSecret:  r.str("STRIPE_WEBHOOK_SECRET", def(devStripeWebhookSecret)),
		StripeAPIBase:        r.str("STRIPE_API_BASE", ""),
		StripeTestMode:       r.boolean("STRIPE_TEST_MODE", false),
		TopUpPaymentTimeout:  r.duration("TOPUP_PAYMENT_TIMEOUT", time.Hour),

		SMTPHost:               r.str("SMTP_HOST", ""),
		SMTPPort:               r.integer("SMTP_PORT", 587),
		SMTPUsername:           r.str("SMTP_USERNAME", ""),
		SMTPPassword:           r.str("SMTP_PASSWORD", def(devSMTPPassword)),
		SMTPFrom:               r.str("SMTP_FROM", def("Mobayilo <no-reply@mobayilo.localhost>")),
		SMTPInsecureSkipVerify: r.boolean("SMTP_INSECURE_SKIP_VERIFY", false),
		SMTPDisableCRLCheck:    r.boolean("SMTP_DISABLE_CRL_CHECK", false),

		AllowedCountries:         r.list("ALLOWED_COUNTRIES", ""),
		BlockedPrefixes:          r.list("BLOCKED_PREFIXES", "1900,1976,449,4487,870,881,882,883,979"),
		MaxCallSeconds:           int64(r.integer("MAX_CALL_SECONDS", 7200)),
		CallAuthorizationWindow:  r.duration("CALL_AUTHORIZATION_WINDOW", 3*time.Minute),
		CallReconcileGrace:       r.duration("CALL_RECONCILE_GRACE", 5*time.Minute),
		CallRingAllowance:        r.duration("CALL_RING_ALLOWANCE", 90*time.Second),
		DailySpendLimitCents:     int64(r.integer("DAILY_SPEND_LIMIT_CENTS", map[bool]int{true: 5000}[dev])),
		DailyCallLimit:           r.integer("DAILY_CALL_LIMIT", map[bool]int{true: 100}[dev]),
		PricingMarkupBasisPoints: int64(r.integer("PRICING_MARKUP_BASIS_POINTS", 3000)),
		PricingMinMarginMicros:   int64(r.integer("PRICING_MIN_MARGIN_MICROS", 5000)),

		CarrierSimulator: r.boolean("CARRIER_SIMULATOR", dev),
		// With no Stripe key of its own, development pays through the
		// simulator; with one, through Stripe's test mode.
		PaymentSimulator: r.boolean("PAYMENT_SIMULATOR", dev && getenv("STRIPE_SECRET_KEY") == ""),
	}
	c.TopUpPackages = r.dollars("TOPUP_PACKAGES", "5,10,20,50")
	// The Temporal payload codec's keys (a secret; checked here, named on error).
	c.temporalCodecKeysRaw = r.str("TEMPORAL_CODEC_KEYS", "")
	if keys, err := codec.ParseKeys(c.temporalCodecKeysRaw); err != nil {
		r.errs = append(r.errs, fmt.Errorf("TEMPORAL_CODEC_KEYS: %w", err))
	} else {
		c.TemporalCodecKeys = keys
	}
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	c.SignInMaxFailuresPerAddress = r.integer("SIGNIN_MAX_FAILURES_PER_ADDRESS", 100)
	c.SignUpMaxPerAddressPerHour = r.integer("SIGNUP_MAX_PER_ADDRESS_PER_HOUR", 10)
	c.ResetMaxPerEmailPerHour = r.integer("RESET_MAX_PER_EMAIL_PER_HOUR", 3)
	c.ResetMaxPerAddressPerHour = r.integer("RESET_MAX_PER_ADDRESS_PER_HOUR", 20)
	c.TopUpMaxPerHour = r.integer("TOPUP_MAX_PER_HOUR", 10)
	c.LiveMaxStreamsPerUser = r.integer("LIVE_MAX_STREAMS_PER_USER", 3)
	c.LiveSessionCheckInterval = r.duration("LIVE_SESSION_CHECK_INTERVAL", 5*time.Second)
	c.DataRetention = r.duration("DATA_RETENTION", 30*24*time.Hour)
	c.AdminIdleTimeout = r.duration("ADMIN_IDLE_TIMEOUT", 30*time.Minute)
	if c.PaymentSimulator && c.StripeAPIBase == "" {
		c.StripeAPIBase = c.PublicBaseURL + "/dev/stripe"
	}
	c.LogLevel = r.level("LOG_LEVEL", map[bool]string{true: "debug", false: "info"}[dev])

	errs := r.errs
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %d setting(s) wrong:\n  %w", len(errs), errors.Join(errs...))
	}
	return c, nil
}

// secret is a setting whose value is never printed.
type secret struct {
	key, value, devDefault string
}

func (c Config) secrets() []secret {
	return []secret{
		{"SESSION_SECRET", c.SessionSecret, devSessionSecret},
		{"TWILIO_AUTH_TOKEN", c.TwilioAuthToken, devTwilioAuthToken},
		{"TWILIO_API_SECRET", c.TwilioAPISecret, devTwilioAPISecret},
		{"STRIPE_SECRET_KEY", c.StripeSecretKey, devStripeSecretKey},
		{"STRIPE_WEBHOOK_SECRET", c.StripeWebhookSecret, devStripeWebhookSecret},
		{"SMTP_PASSWORD", c.SMTPPassword, devSMTPPassword},
		// Required in production (no development default): without it the
		// Temporal UI shows every caller's numbers and emails.
		{"TEMPORAL_CODEC_KEYS", c.temporalCodecKeysRaw, ""},
		{"TEMPORAL_API_KEY", c.TemporalAPIKey, ""},
	}
}

func (c Config) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}

	switch c.Env {
	case Development, Test, Production:
	default:
		bad("APP_ENV", "%q is not one of development, test, production", c.Env)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	}
	if c.LogFormat != "console" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "%q is not console or json", c.LogFormat)
	}
	checkURL := func(key, v string, schemes ...string) {
		u, err := url.Parse(v)
		if v == "" || err != nil || u.Host == "" {
			bad(key, "must be an absolute URL")
			return
		}
		for _, s := range schemes {
			if u.Scheme == s {
				return
			}
		}
		bad(key, "scheme must be %s", strings.Join(schemes, " or "))
	}
	checkURL("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
	if c.Env == Production {
		checkURL("PUBLIC_BASE_URL", c.PublicBaseURL, "https")
	} else {
		checkURL("PUBLIC_BASE_URL", c.PublicBaseURL, "http", "https")
	}
	if c.PublicBaseURL != "" && strings.HasSuffix(c.PublicBaseURL, "/") {
		bad("PUBLIC_BASE_URL", "must not end with a slash (webhook signatures are checked against it plus the path)")
	}
	if c.TemporalUIURL != "" {
		checkURL("TEMPORAL_UI_URL", c.TemporalUIURL, "http", "https")
	}
	if _, _, err := net.SplitHostPort(c.TemporalAddress); err != nil {
		bad("TEMPORAL_ADDRESS", "%q is not host:port", c.TemporalAddress)
	}
	if c.TemporalTLSCert != "" && c.TemporalTLSKey == "" {
		bad("TEMPORAL_TLS_KEY", "must be set with TEMPORAL_TLS_CERT (the client certificate's private key)")
	}
	if c.TemporalTLSKey != "" && c.TemporalTLSCert == "" {
		bad("TEMPORAL_TLS_CERT", "must be set with TEMPORAL_TLS_KEY (the client certificate)")
	}
	if c.TemporalNamespace == "" {
		bad("TEMPORAL_NAMESPACE", "must be set")
	}
	if c.TemporalTaskQueue == "" {
		bad("TEMPORAL_TASK_QUEUE", "must be set")
	}
	if c.DatabaseMaxConns < 4 || c.DatabaseMaxConns > 1000 {
		bad("DATABASE_MAX_CONNS", "%d is not between 4 and 1000", c.DatabaseMaxConns)
	}
	if c.TemporalMaxPollers < 2 || c.TemporalMaxPollers > 200 {
		bad("TEMPORAL_MAX_POLLERS", "%d is not between 2 and 200", c.TemporalMaxPollers)
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		bad("SMTP_PORT", "%d is not a port", c.SMTPPort)
	}
	if c.TwilioCallerID != "" && !isE164(c.TwilioCallerID) {
		bad("TWILIO_CALLER_ID", "%q is not an E.164 number (+ and 8 to 15 digits)", c.TwilioCallerID)
	}
	for _, cc := range c.AllowedCountries {
		if len(cc) != 2 || strings.ToUpper(cc) != cc || strings.Trim(cc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			bad("ALLOWED_COUNTRIES", "%q is not an ISO country code like NG", cc)
		}
	}
	for _, p := range c.BlockedPrefixes {
		if p == "" || len(p) > 15 || strings.Trim(p, "0123456789") != "" {
			bad("BLOCKED_PREFIXES", "%q is not a digit prefix like 1900", p)
		}
	}
	// Twilio's <Dial timeLimit> allows at most four hours.
	if c.MaxCallSeconds < 60 || c.MaxCallSeconds > 14_400 {
		bad("MAX_CALL_SECONDS", "%d is not between 60 and 14400", c.MaxCallSeconds)
	}
	if c.CallAuthorizationWindow < 10*time.Second || c.CallAuthorizationWindow > 10*time.Minute {
		bad("CALL_AUTHORIZATION_WINDOW", "%s is not between 10s and 10m", c.CallAuthorizationWindow)
	}
	if c.CallRingAllowance < 10*time.Second || c.CallRingAllowance > 10*time.Minute {
		bad("CALL_RING_ALLOWANCE", "%s is not between 10s and 10m", c.CallRingAllowance)
	}
	if c.CallReconcileGrace < 5*time.Second || c.CallReconcileGrace > time.Hour {
		bad("CALL_RECONCILE_GRACE", "%s is not between 5s and 1h", c.CallReconcileGrace)
	}
	if c.DailySpendLimitCents < 0 {
		bad("DAILY_SPEND_LIMIT_CENTS", "must not be negative")
	}
	if c.DailyCallLimit < 0 {
		bad("DAILY_CALL_LIMIT", "must not be negative")
	}
	if c.PricingMarkupBasisPoints < 0 || c.PricingMarkupBasisPoints > 50_000 {
		bad("PRICING_MARKUP_BASIS_POINTS", "%d is not between 0 and 50000", c.PricingMarkupBasisPoints)
	}
	if c.PricingMinMarginMicros < 0 {
		bad("PRICING_MIN_MARGIN_MICROS", "must not be negative")
	}
	if c.SignupBonusCents < 0 || c.SignupBonusCents > 10_000 {
		bad("SIGNUP_BONUS_CENTS", "%d is not between 0 and 10000 cents", c.SignupBonusCents)
	}
	if len(c.TopUpPackages) == 0 || len(c.TopUpPackages) > 8 {
		bad("TOPUP_PACKAGES", "must list 1 to 8 amounts in whole dollars, like 5,10,20,50")
	}
	for _, p := range c.TopUpPackages {
		// Stripe's least card charge is $0.50; the most we sell at once is $500.
		if p < 100 || p > 50_000 {
			bad("TOPUP_PACKAGES", "$%d is not between $1 and $500", p/100)
		}
	}
	if c.TopUpPaymentTimeout < time.Minute || c.TopUpPaymentTimeout > 7*24*time.Hour {
		bad("TOPUP_PAYMENT_TIMEOUT", "%s is not between 1m and 168h", c.TopUpPaymentTimeout)
	}
	if c.StripeAPIBase != "" {
		checkURL("STRIPE_API_BASE", c.StripeAPIBase, "http", "https")
	}
	if c.TwilioAPIBase != "" {
		checkURL("TWILIO_API_BASE", c.TwilioAPIBase, "http", "https")
	}
	for _, l := range []struct {
		key string
		v   int
	}{
		{"SIGNIN_MAX_FAILURES_PER_ADDRESS", c.SignInMaxFailuresPerAddress},
		{"SIGNUP_MAX_PER_ADDRESS_PER_HOUR", c.SignUpMaxPerAddressPerHour},
		{"RESET_MAX_PER_EMAIL_PER_HOUR", c.ResetMaxPerEmailPerHour},
		{"RESET_MAX_PER_ADDRESS_PER_HOUR", c.ResetMaxPerAddressPerHour},
		{"TOPUP_MAX_PER_HOUR", c.TopUpMaxPerHour},
	} {
		if l.v < 1 || l.v > 1_000_000 {
			bad(l.key, "%d is not between 1 and 1000000", l.v)
		}
	}
	if c.LiveMaxStreamsPerUser < 1 || c.LiveMaxStreamsPerUser > 50 {
		bad("LIVE_MAX_STREAMS_PER_USER", "%d is not between 1 and 50", c.LiveMaxStreamsPerUser)
	}
	if c.LiveSessionCheckInterval < 500*time.Millisecond || c.LiveSessionCheckInterval > time.Minute {
		bad("LIVE_SESSION_CHECK_INTERVAL", "%s is not between 500ms and 1m", c.LiveSessionCheckInterval)
	}
	// Stripe retries a webhook for three days; a shorter retention could
	// forget a delivery that is still being retried.
	if c.DataRetention < 7*24*time.Hour || c.DataRetention > 3650*24*time.Hour {
		bad("DATA_RETENTION", "%s is not between 168h (7 days) and 87600h (10 years)", c.DataRetention)
	}
	if c.AdminIdleTimeout < time.Minute || c.AdminIdleTimeout > 24*time.Hour {
		bad("ADMIN_IDLE_TIMEOUT", "%s is not between 1m and 24h", c.AdminIdleTimeout)
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		bad("SMTP_FROM", "must be set when SMTP_HOST is")
	}

	if c.Env != Production {
		return errs
	}

	// Production: no missing secret, no public default, no simulator and no
	// TLS-verification bypass.
	for _, s := range c.secrets() {
		switch {
		case s.key == "SMTP_PASSWORD" && c.SMTPUsername == "":
			// an SMTP relay without authentication needs no password
		case s.key == "TEMPORAL_API_KEY" && s.value == "":
			// optional: mTLS, or a server on loopback or a private network
		case s.value == "":
			bad(s.key, "must be set in production")
		case s.value == s.devDefault:
			bad(s.key, "is the public development default; set a real secret")
		}
	}
	if len(c.SessionSecret) > 0 && len(c.SessionSecret) < 32 {
		bad("SESSION_SECRET", "must be at least 32 bytes in production")
	}
	for _, s := range []struct{ key, value, devDefault string }{
		{"TWILIO_ACCOUNT_SID", c.TwilioAccountSID, devTwilioAccountSID},
		{"TWILIO_API_KEY", c.TwilioAPIKey, devTwilioAPIKey},
		{"TWILIO_TWIML_APP_SID", c.TwilioTwiMLAppSID, devTwilioTwiMLAppSID},
		{"TWILIO_CALLER_ID", c.TwilioCallerID, devTwilioCallerID},
		{"STRIPE_PUBLISHABLE_KEY", c.StripePublishableKey, devStripePublishable},
		{"DATABASE_URL", c.DatabaseURL, ""},
		{"TEMPORAL_ADDRESS", c.TemporalAddress, ""},
		{"SMTP_HOST", c.SMTPHost, ""},
	} {
		switch {
		case s.value == "":
			bad(s.key, "must be set in production")
		case s.value == s.devDefault:
			bad(s.key, "is the development default")
		}
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && c.DatabaseURL != "" {
		// libpq's allow, prefer (the default) and require accept any
		// certificate: TLS without verification. Say verify-full (or
		// verify-ca), or disable for a socket or a private network.
		switch mode := u.Query().Get("sslmode"); mode {
		case "verify-full", "verify-ca", "disable":
		default:
			if mode == "" {
				mode = "unset (prefer)"
			}
			bad("DATABASE_URL", "sslmode %s does not verify the server's certificate; use sslmode=verify-full (or disable on a private network)", mode)
		}
	}
	if c.CarrierSimulator {
		bad("CARRIER_SIMULATOR", "the carrier simulator must be off in production")
	}
	if c.PaymentSimulator {
		bad("PAYMENT_SIMULATOR", "the payment simulator must be off in production")
	}
	if c.TwilioAPIBase != "" {
		bad("TWILIO_API_BASE", "must be unset in production (Twilio's own API)")
	}
	if c.StripeAPIBase != "" && c.StripeAPIBase != "https://api.stripe.com" {
		bad("STRIPE_API_BASE", "must be Stripe's own API in production (unset it)")
	}
	if c.SMTPInsecureSkipVerify {
		bad("SMTP_INSECURE_SKIP_VERIFY", "TLS verification must not be bypassed in production")
	}
	if c.SMTPDisableCRLCheck {
		bad("SMTP_DISABLE_CRL_CHECK", "TLS verification must not be bypassed in production")
	}
	errs = append(errs, c.validateProductionGuards()...)
	if !c.TemporalTLS() && !c.TemporalInsecure && c.TemporalAddress != "" && !isLoopback(c.TemporalAddress) {
		bad("TEMPORAL_ADDRESS", "%s is not on loopback and the connection would be plaintext: configure TLS "+
			"(TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, or TEMPORAL_API_KEY), or set TEMPORAL_INSECURE=true "+
			"on purpose for a private network", c.TemporalAddress)
	}
	return errs
}

// validateProductionGuards refuses test money and open fraud guards in
// production, naming each setting. The daily ceilings have no production
// default (Load), so an absent one is refused here as a zero one.
func (c Config) validateProductionGuards() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	// Stripe test-mode keys move no money: refused unless a staging deploy
	// says STRIPE_TEST_MODE=true, in which case both keys must be test keys.
	secretTest := isStripeTestKey(c.StripeSecretKey)
	publishableTest := strings.HasPrefix(c.StripePublishableKey, "pk_test_")
	switch {
	case c.StripeTestMode && !secretTest:
		bad("STRIPE_TEST_MODE", "is true but STRIPE_SECRET_KEY is not a test-mode key (sk_test_ or rk_test_)")
	case c.StripeTestMode && !publishableTest:
		bad("STRIPE_TEST_MODE", "is true but STRIPE_PUBLISHABLE_KEY is not a test-mode key (pk_test_)")
	case !c.StripeTestMode && secretTest:
		bad("STRIPE_SECRET_KEY", "is a test-mode key; production takes live keys (or set STRIPE_TEST_MODE=true for a staging deploy)")
	case !c.StripeTestMode && publishableTest:
		bad("STRIPE_PUBLISHABLE_KEY", "is a test-mode key; production takes live keys (or set STRIPE_TEST_MODE=true for a staging deploy)")
	}
	if len(c.AllowedCountries) == 0 {
		bad("ALLOWED_COUNTRIES", "must list the countries you sell calls to in production (ISO codes like NG,GH)")
	}
	if len(c.BlockedPrefixes) == 0 {
		bad("BLOCKED_PREFIXES", "must not be none in production: premium-rate and satellite prefixes are where toll fraud goes")
	}
	if c.DailySpendLimitCents <= 0 {
		bad("DAILY_SPEND_LIMIT_CENTS", "must be set to a positive per-user daily ceiling in production")
	}
	if c.DailyCallLimit <= 0 {
		bad("DAILY_CALL_LIMIT", "must be set to a positive per-user daily ceiling in production")
	}
	return errs
}

func isStripeTestKey(k string) bool {
	return strings.HasPrefix(k, "sk_test_") || strings.HasPrefix(k, "rk_test_")
}

// StripeLivemode reports whether the Stripe secret key is a live-mode key:
// every Stripe event's livemode must match it.
func (c Config) StripeLivemode() bool {
	return strings.HasPrefix(c.StripeSecretKey, "sk_live_") || strings.HasPrefix(c.StripeSecretKey, "rk_live_")
}

// TemporalTLS reports whether the Temporal client connects over TLS: any
// TLS setting or an API key turns it on.
func (c Config) TemporalTLS() bool {
	return c.TemporalTLSCert != "" || c.TemporalTLSKey != "" || c.TemporalTLSCA != "" ||
		c.TemporalTLSServerName != "" || c.TemporalAPIKey != ""
}

// isLoopback reports whether hostport's host is a loopback name or address.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecureCookies reports whether cookies must carry the Secure flag: in
// production, and wherever the public URL is https.
func (c Config) SecureCookies() bool {
	return c.Env == Production || strings.HasPrefix(c.PublicBaseURL, "https://")
}

// MarshalZerologObject prints the configuration with every secret
// redacted: a secret shows only whether it is set.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Str("APP_ENV", string(c.Env)).
		Str("HTTP_ADDR", c.HTTPAddr).
		Str("PUBLIC_BASE_URL", c.PublicBaseURL).
		Str("LOG_LEVEL", c.LogLevel.String()).
		Str("LOG_FORMAT", c.LogFormat).
		Str("DATABASE_URL", RedactURL(c.DatabaseURL)).
		Int("DATABASE_MAX_CONNS", c.DatabaseMaxConns).
		Int("TEMPORAL_MAX_POLLERS", c.TemporalMaxPollers).
		Str("TEMPORAL_ADDRESS", c.TemporalAddress).
		Str("TEMPORAL_NAMESPACE", c.TemporalNamespace).
		Str("TEMPORAL_TASK_QUEUE", c.TemporalTaskQueue).
		Str("TEMPORAL_UI_URL", c.TemporalUIURL).
		Str("TEMPORAL_TLS_CERT", c.TemporalTLSCert).
		Str("TEMPORAL_TLS_KEY", c.TemporalTLSKey). // a path, not the key
		Str("TEMPORAL_TLS_CA", c.TemporalTLSCA).
		Str("TEMPORAL_TLS_SERVER_NAME", c.TemporalTLSServerName).
		Bool("TEMPORAL_INSECURE", c.TemporalInsecure).
		Str("TWILIO_ACCOUNT_SID", c.TwilioAccountSID).
		Str("TWILIO_API_KEY", c.TwilioAPIKey).
		Str("TWILIO_TWIML_APP_SID", c.TwilioTwiMLAppSID).
		Str("TWILIO_CALLER_ID", c.TwilioCallerID).
		Str("STRIPE_PUBLISHABLE_KEY", c.StripePublishableKey).
		Str("STRIPE_API_BASE", c.StripeAPIBase).
		Bool("STRIPE_TEST_MODE", c.StripeTestMode).
		Str("TWILIO_API_BASE", c.TwilioAPIBase).
		Interface("TOPUP_PACKAGES", c.TopUpPackages).
		Dur("TOPUP_PAYMENT_TIMEOUT", c.TopUpPaymentTimeout).
		Int64("SIGNUP_BONUS_CENTS", c.SignupBonusCents).
		Strs("ALLOWED_COUNTRIES", c.AllowedCountries).
		Strs("BLOCKED_PREFIXES", c.BlockedPrefixes).
		Int64("MAX_CALL_SECONDS", c.MaxCallSeconds).
		Dur("CALL_AUTHORIZATION_WINDOW", c.CallAuthorizationWindow).
		Dur("CALL_RECONCILE_GRACE", c.CallReconcileGrace).
		Dur("CALL_RING_ALLOWANCE", c.CallRingAllowance).
		Int64("DAILY_SPEND_LIMIT_CENTS", c.DailySpendLimitCents).
		Int("DAILY_CALL_LIMIT", c.DailyCallLimit).
		Int64("PRICING_MARKUP_BASIS_POINTS", c.PricingMarkupBasisPoints).
		Int64("PRICING_MIN_MARGIN_MICROS", c.PricingMinMarginMicros).
		Str("SMTP_HOST", c.SMTPHost).
		Int("SMTP_PORT", c.SMTPPort).
		Str("SMTP_USERNAME", c.SMTPUsername).
		Str("SMTP_FROM", c.SMTPFrom).
		Bool("SMTP_INSECURE_SKIP_VERIFY", c.SMTPInsecureSkipVerify).
		Bool("SMTP_DISABLE_CRL_CHECK", c.SMTPDisableCRLCheck).
		Dur("DATA_RETENTION", c.DataRetention).
		Dur("ADMIN_IDLE_TIMEOUT", c.AdminIdleTimeout).
		Bool("CARRIER_SIMULATOR", c.CarrierSimulator).
		Bool("PAYMENT_SIMULATOR", c.PaymentSimulator)
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	e.Strs("TRUSTED_PROXIES", proxies).
		Int("SIGNIN_MAX_FAILURES_PER_ADDRESS", c.SignInMaxFailuresPerAddress).
		Int("SIGNUP_MAX_PER_ADDRESS_PER_HOUR", c.SignUpMaxPerAddressPerHour).
		Int("RESET_MAX_PER_EMAIL_PER_HOUR", c.ResetMaxPerEmailPerHour).
		Int("RESET_MAX_PER_ADDRESS_PER_HOUR", c.ResetMaxPerAddressPerHour).
		Int("TOPUP_MAX_PER_HOUR", c.TopUpMaxPerHour).
		Int("LIVE_MAX_STREAMS_PER_USER", c.LiveMaxStreamsPerUser).
		Dur("LIVE_SESSION_CHECK_INTERVAL", c.LiveSessionCheckInterval)
	for _, s := range c.secrets() {
		switch {
		case s.value == "":
			e.Str(s.key, "(unset)")
		case s.value == s.devDefault:
			e.Str(s.key, "(development default)")
		default:
			e.Str(s.key, "(set, redacted)")
		}
	}
	// The codec keys' ids are not secret: they show which key encrypts
	// (the first) during a rotation.
	e.Strs("TEMPORAL_CODEC_KEY_IDS", c.TemporalCodecKeys.IDs())
}

// RedactURL hides the password of a URL such as a DATABASE_URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable, redacted)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// reader reads typed values and collects parse errors.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) str(key, def string) string {
	if v := strings.TrimSpace(r.getenv(key)); v != "" {
		return v
	}
	return def
}

// list reads a comma-separated list; "none" is the empty list.
func (r *reader) list(key, def string) []string {
	v := r.str(key, def)
	if v == "" || strings.EqualFold(v, "none") {
		return nil
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (r *reader) boolean(key string, def bool) bool {
	v := strings.TrimSpace(r.getenv(key))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not true or false", key, v))
		return def
	}
	return b
}

func (r *reader) integer(key string, def int) int {
	v := strings.TrimSpace(r.getenv(key))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a whole number", key, v))
		return def
	}
	return n
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a duration like 1h or 30m", key, v))
		return def
	}
	return d
}

// prefixes reads a list of CIDRs; a bare address is its own network (/32
// or /128).
func (r *reader) prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range r.list(key, "") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				r.errs = append(r.errs, fmt.Errorf("%s: %q is not a CIDR like 10.0.0.0/8 or an address", key, v))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// dollars reads a list of whole-dollar amounts as cents.
func (r *reader) dollars(key, def string) []int64 {
	var out []int64
	for _, v := range r.list(key, def) {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "$"), 10, 64)
		if err != nil || n <= 0 {
			r.errs = append(r.errs, fmt.Errorf("%s: %q is not a whole number of dollars", key, v))
			continue
		}
		out = append(out, n*100)
	}
	return out
}

func (r *reader) level(key, def string) zerolog.Level {
	v := r.str(key, def)
	l, err := zerolog.ParseLevel(strings.ToLower(v))
	if err != nil || v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not one of trace, debug, info, warn, error", key, v))
		return zerolog.InfoLevel
	}
	return l
}
