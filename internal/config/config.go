// Package config reads Mobayilo's settings from the environment into one
// struct, each as one row of the settings table (settings.go), validates
// them across fields, and prints them with secrets redacted. Development and test have defaults for everything, so
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
	// MetricsAddr (METRICS_ADDR): the Prometheus listener, never the
	// public port; "" is the role's default, "off" none.
	MetricsAddr string
	// InboxSenders (INBOX_SENDERS): signals in flight at once from each web
	// process's webhook inbox.
	InboxSenders int
	// PprofAddr (PPROF_ADDR): Go's profiler (/debug/pprof/) on a loopback
	// host:port of its own; "" none (the default).
	PprofAddr string
	// OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT) and TraceFile
	// (TRACE_FILE): where traces go; neither set, tracing is off.
	OTLPEndpoint, TraceFile string

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
	// DataExportTTL: how long a "Download my data" link works (and its ZIP
	// is kept) after it is emailed.
	DataExportTTL time.Duration

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
	get := func(key string) string { return strings.TrimSpace(getenv(key)) }
	env := Env(get("APP_ENV"))
	if env == "" {
		env = Development
	}
	var c Config
	var errs []error
	failed := map[string]bool{}
	for _, s := range settings {
		text := get(s.key)
		if text == "" {
			text = s.def(env, getenv)
		}
		if err := s.bind(&c).set(text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.key, err))
			failed[s.key] = true
		}
	}
	for _, s := range settings {
		if s.check == nil || failed[s.key] {
			continue
		}
		if msg := s.check(c); msg != "" {
			errs = append(errs, fmt.Errorf("%s: %s", s.key, msg))
		}
	}
	for _, key := range refusedInProduction {
		if v := get(key); v != "" {
			if on, err := strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
			} else if on && env == Production {
				errs = append(errs, fmt.Errorf("%s: TLS verification must not be bypassed in production", key))
			}
		}
	}
	if c.PaymentSimulator && c.StripeAPIBase == "" {
		c.StripeAPIBase = c.PublicBaseURL + "/dev/stripe"
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %d setting(s) wrong:\n  %w", len(errs), errors.Join(errs...))
	}
	return c, nil
}

// noEnv is an empty environment, for a setting's development default.
func noEnv(string) string { return "" }

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
	if len(c.TopUpPackages) == 0 || len(c.TopUpPackages) > 8 {
		bad("TOPUP_PACKAGES", "must list 1 to 8 amounts in whole dollars, like 5,10,20,50")
	}
	for _, p := range c.TopUpPackages {
		// Stripe's least card charge is $0.50; the most we sell at once is $500.
		if p < 100 || p > 50_000 {
			bad("TOPUP_PACKAGES", "$%d is not between $1 and $500", p/100)
		}
	}
	if c.StripeAPIBase != "" {
		checkURL("STRIPE_API_BASE", c.StripeAPIBase, "http", "https")
	}
	if c.TwilioAPIBase != "" {
		checkURL("TWILIO_API_BASE", c.TwilioAPIBase, "http", "https")
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		bad("SMTP_FROM", "must be set when SMTP_HOST is")
	}

	if c.Env != Production {
		return errs
	}

	// Production: no missing secret, no public default, no simulator and no
	// TLS-verification bypass.
	for _, st := range settings {
		if !st.required {
			continue
		}
		cc := c
		value, devDefault := st.bind(&cc).raw(), st.def(Development, noEnv)
		switch {
		case value == "":
			bad(st.key, "must be set in production")
		case st.anyValue:
		case value == devDefault && st.secret:
			bad(st.key, "is the public development default; set a real secret")
		case value == devDefault:
			bad(st.key, "is the development default")
		}
	}
	// An SMTP relay without authentication needs no password.
	if c.SMTPUsername != "" && c.SMTPPassword == "" {
		bad("SMTP_PASSWORD", "must be set in production")
	}
	if len(c.SessionSecret) > 0 && len(c.SessionSecret) < 32 {
		bad("SESSION_SECRET", "must be at least 32 bytes in production")
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

// MarshalZerologObject prints the configuration, every setting in the
// table's order, with every secret redacted: a secret shows only whether
// it is set.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	for _, st := range settings {
		v := st.bind(&c)
		if !st.secret {
			v.log(e, st.key)
			continue
		}
		switch raw := v.raw(); {
		case raw == "":
			e.Str(st.key, "(unset)")
		case raw == st.def(Development, noEnv):
			e.Str(st.key, "(development default)")
		default:
			e.Str(st.key, "(set, redacted)")
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
