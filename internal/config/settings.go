package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/workflows"
)

// setting is one environment variable: its key, its default in each
// environment, where it goes in Config and how it is parsed (bind), its
// own bounds (check, given the parsed Config), and whether it is a secret
// (never printed) or required in production (refused unset or equal to
// the development default). Rules across settings are in validate.
// Adding a setting is one row here; the printer and README's table
// (TestREADMEListsEverySetting) follow it.
type setting struct {
	key string
	def func(env Env, getenv func(string) string) string
	// bind returns the Config field the value is parsed into.
	bind     func(c *Config) value
	check    func(c Config) string // "" when fine, else the complaint
	secret   bool
	required bool // in production: set, and not the development default
	anyValue bool // required, but the development default will do too
}

// value is a Config field of one kind: it parses the setting's text and
// logs itself.
type value interface {
	set(text string) error
	log(e *zerolog.Event, key string)
	raw() string // the text, for a secret's redaction
}

// both is a default for every environment; dev one outside production
// only ("" in production); devProd one for each.
func both(v string) func(Env, func(string) string) string {
	return func(Env, func(string) string) string { return v }
}

func dev(v string) func(Env, func(string) string) string { return devProd(v, "") }

func devProd(d, p string) func(Env, func(string) string) string {
	return func(e Env, _ func(string) string) string {
		if e == Production {
			return p
		}
		return d
	}
}

// between checks an integer setting's bounds.
func between[T int | int64](get func(Config) T, lo, hi T, unit string) func(Config) string {
	return func(c Config) string {
		if v := get(c); v < lo || v > hi {
			return fmt.Sprintf("%d is not between %d and %d%s", v, lo, hi, unit)
		}
		return ""
	}
}

// within checks a duration setting's bounds; text names them.
func within(get func(Config) time.Duration, lo, hi time.Duration, text string) func(Config) string {
	return func(c Config) string {
		if v := get(c); v < lo || v > hi {
			return fmt.Sprintf("%s is not between %s", v, text)
		}
		return ""
	}
}

func nonNegative[T int | int64](get func(Config) T) func(Config) string {
	return func(c Config) string {
		if get(c) < 0 {
			return "must not be negative"
		}
		return ""
	}
}

func perHour(get func(Config) int) func(Config) string { return between(get, 1, 1_000_000, "") }

// settings is every setting, in the order they are printed.
var settings = []setting{
	{key: "APP_ENV", def: both(string(Development)), bind: func(c *Config) value { return (*envValue)(&c.Env) }},
	{key: "HTTP_ADDR", def: both("127.0.0.1:8080"), bind: func(c *Config) value { return (*strValue)(&c.HTTPAddr) }},
	// The metrics listener: empty is each role's own loopback port (web
	// and dev 127.0.0.1:9464, worker 127.0.0.1:9465), "off" none.
	{key: "METRICS_ADDR", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.MetricsAddr) },
		check: func(c Config) string {
			if c.MetricsAddr == "" || c.MetricsAddr == "off" {
				return ""
			}
			if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
				return fmt.Sprintf("%q is not host:port (or off)", c.MetricsAddr)
			}
			return ""
		}},
	// Go's profiler, for a profile of a role under load: off unless set,
	// and only ever on loopback (a profile shows the code's internals).
	{key: "PPROF_ADDR", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.PprofAddr) },
		check: func(c Config) string {
			if c.PprofAddr == "" {
				return ""
			}
			host, _, err := net.SplitHostPort(c.PprofAddr)
			if err != nil {
				return fmt.Sprintf("%q is not host:port", c.PprofAddr)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Sprintf("%q is not a loopback address: the profiler is never served beyond this host", c.PprofAddr)
			}
			return ""
		}},
	// Traces: exported by OTLP over HTTP when an endpoint is set (the
	// exporter also reads the other OTEL_EXPORTER_OTLP_* variables), and
	// written as JSON lines to TRACE_FILE when that is set; off otherwise.
	{key: "OTEL_EXPORTER_OTLP_ENDPOINT", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.OTLPEndpoint) }},
	{key: "TRACE_FILE", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TraceFile) }},
	{key: "PUBLIC_BASE_URL", def: dev("http://127.0.0.1:8080"), bind: func(c *Config) value { return (*strValue)(&c.PublicBaseURL) }},
	{key: "LOG_LEVEL", def: devProd("debug", "info"), bind: func(c *Config) value { return (*levelValue)(&c.LogLevel) }},
	{key: "LOG_FORMAT", def: devProd("console", "json"), bind: func(c *Config) value { return (*strValue)(&c.LogFormat) }},
	{key: "DATABASE_URL", required: true, anyValue: true, bind: func(c *Config) value { return (*urlValue)(&c.DatabaseURL) },
		def: func(e Env, _ func(string) string) string {
			switch e {
			case Production:
				return ""
			case Test:
				return "postgres://postgres@127.0.0.1:5432/mobayilo_test?sslmode=disable"
			}
			return "postgres://postgres@127.0.0.1:5432/mobayilo_dev?sslmode=disable"
		}},
	{key: "DATABASE_MAX_CONNS", def: both("32"), bind: func(c *Config) value { return (*intValue)(&c.DatabaseMaxConns) },
		check: between(func(c Config) int { return c.DatabaseMaxConns }, 4, 1000, "")},
	{key: "INBOX_SENDERS", def: both("4"), bind: func(c *Config) value { return (*intValue)(&c.InboxSenders) },
		check: between(func(c Config) int { return c.InboxSenders }, 1, 64, "")},
	{key: "TEMPORAL_MAX_POLLERS", def: both("16"), bind: func(c *Config) value { return (*intValue)(&c.TemporalMaxPollers) },
		check: between(func(c Config) int { return c.TemporalMaxPollers }, 2, 200, "")},
	{key: "TEMPORAL_ADDRESS", def: dev("127.0.0.1:7233"), required: true, anyValue: true, bind: func(c *Config) value { return (*strValue)(&c.TemporalAddress) }},
	{key: "TEMPORAL_NAMESPACE", def: both("default"), bind: func(c *Config) value { return (*strValue)(&c.TemporalNamespace) }},
	{key: "TEMPORAL_TASK_QUEUE", def: both("mobayilo"), bind: func(c *Config) value { return (*strValue)(&c.TemporalTaskQueue) }},
	{key: "TEMPORAL_UI_URL", def: dev("http://127.0.0.1:8233"), bind: func(c *Config) value { return (*strValue)(&c.TemporalUIURL) }},
	{key: "TEMPORAL_TLS_CERT", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TemporalTLSCert) }},
	{key: "TEMPORAL_TLS_KEY", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TemporalTLSKey) }}, // a path, not the key
	{key: "TEMPORAL_TLS_CA", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TemporalTLSCA) }},
	{key: "TEMPORAL_TLS_SERVER_NAME", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TemporalTLSServerName) }},
	{key: "TEMPORAL_INSECURE", def: both("false"), bind: func(c *Config) value { return (*boolValue)(&c.TemporalInsecure) }},
	{key: "TWILIO_ACCOUNT_SID", def: dev(devTwilioAccountSID), required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioAccountSID) }},
	{key: "TWILIO_API_KEY", def: dev(devTwilioAPIKey), required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioAPIKey) }},
	{key: "TWILIO_TWIML_APP_SID", def: dev(devTwilioTwiMLAppSID), required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioTwiMLAppSID) }},
	{key: "TWILIO_CALLER_ID", def: dev(devTwilioCallerID), required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioCallerID) }},
	{key: "STRIPE_PUBLISHABLE_KEY", def: dev(devStripePublishable), required: true, bind: func(c *Config) value { return (*strValue)(&c.StripePublishableKey) }},
	{key: "STRIPE_API_BASE", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.StripeAPIBase) }},
	{key: "STRIPE_TEST_MODE", def: both("false"), bind: func(c *Config) value { return (*boolValue)(&c.StripeTestMode) }},
	{key: "TWILIO_API_BASE", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.TwilioAPIBase) }},
	{key: "TOPUP_PACKAGES", def: both("5,10,20,50"), bind: func(c *Config) value { return (*dollarsValue)(&c.TopUpPackages) }},
	{key: "TOPUP_PAYMENT_TIMEOUT", def: both("1h"), bind: func(c *Config) value { return (*durationValue)(&c.TopUpPaymentTimeout) },
		check: within(func(c Config) time.Duration { return c.TopUpPaymentTimeout }, time.Minute, 7*24*time.Hour, "1m and 168h")},
	{key: "SIGNUP_BONUS_CENTS", def: both("0"), bind: func(c *Config) value { return (*int64Value)(&c.SignupBonusCents) },
		check: between(func(c Config) int64 { return c.SignupBonusCents }, 0, 10_000, " cents")},
	{key: "ALLOWED_COUNTRIES", def: both(""), bind: func(c *Config) value { return (*listValue)(&c.AllowedCountries) }},
	{key: "BLOCKED_PREFIXES", def: both("1900,1976,449,4487,870,881,882,883,979"), bind: func(c *Config) value { return (*listValue)(&c.BlockedPrefixes) }},
	// Twilio's <Dial timeLimit> allows at most four hours.
	{key: "MAX_CALL_SECONDS", def: both("7200"), bind: func(c *Config) value { return (*int64Value)(&c.MaxCallSeconds) },
		check: between(func(c Config) int64 { return c.MaxCallSeconds }, 60, 14_400, "")},
	// The call timings' defaults are the call workflow's own (the ones a
	// workflow started without them runs with): one source.
	{key: "CALL_AUTHORIZATION_WINDOW", def: both(workflows.AuthorizationWindow.String()), bind: func(c *Config) value { return (*durationValue)(&c.CallAuthorizationWindow) },
		check: within(func(c Config) time.Duration { return c.CallAuthorizationWindow }, 10*time.Second, 10*time.Minute, "10s and 10m")},
	{key: "CALL_RECONCILE_GRACE", def: both(workflows.ReconcileGrace.String()), bind: func(c *Config) value { return (*durationValue)(&c.CallReconcileGrace) },
		check: within(func(c Config) time.Duration { return c.CallReconcileGrace }, 5*time.Second, time.Hour, "5s and 1h")},
	{key: "CALL_RING_ALLOWANCE", def: both(workflows.RingAllowance.String()), bind: func(c *Config) value { return (*durationValue)(&c.CallRingAllowance) },
		check: within(func(c Config) time.Duration { return c.CallRingAllowance }, 10*time.Second, 10*time.Minute, "10s and 10m")},
	// Production has no default for the two daily ceilings
	// (validateProductionGuards refuses them absent or 0).
	{key: "DAILY_SPEND_LIMIT_CENTS", def: devProd("5000", "0"), bind: func(c *Config) value { return (*int64Value)(&c.DailySpendLimitCents) },
		check: nonNegative(func(c Config) int64 { return c.DailySpendLimitCents })},
	{key: "DAILY_CALL_LIMIT", def: devProd("100", "0"), bind: func(c *Config) value { return (*intValue)(&c.DailyCallLimit) },
		check: nonNegative(func(c Config) int { return c.DailyCallLimit })},
	{key: "PRICING_MARKUP_BASIS_POINTS", def: both("3000"), bind: func(c *Config) value { return (*int64Value)(&c.PricingMarkupBasisPoints) },
		check: between(func(c Config) int64 { return c.PricingMarkupBasisPoints }, 0, 50_000, "")},
	{key: "PRICING_MIN_MARGIN_MICROS", def: both("5000"), bind: func(c *Config) value { return (*int64Value)(&c.PricingMinMarginMicros) },
		check: nonNegative(func(c Config) int64 { return c.PricingMinMarginMicros })},
	{key: "SMTP_HOST", def: both(""), required: true, anyValue: true, bind: func(c *Config) value { return (*strValue)(&c.SMTPHost) }},
	{key: "SMTP_PORT", def: both("587"), bind: func(c *Config) value { return (*intValue)(&c.SMTPPort) },
		check: func(c Config) string {
			if c.SMTPPort < 1 || c.SMTPPort > 65535 {
				return fmt.Sprintf("%d is not a port", c.SMTPPort)
			}
			return ""
		}},
	{key: "SMTP_USERNAME", def: both(""), bind: func(c *Config) value { return (*strValue)(&c.SMTPUsername) }},
	{key: "SMTP_FROM", def: dev("Mobayilo <no-reply@mobayilo.localhost>"), bind: func(c *Config) value { return (*strValue)(&c.SMTPFrom) }},
	// Stripe retries a webhook for three days; a shorter retention could
	// forget a delivery that is still being retried.
	{key: "DATA_RETENTION", def: both("720h"), bind: func(c *Config) value { return (*durationValue)(&c.DataRetention) },
		check: within(func(c Config) time.Duration { return c.DataRetention }, 7*24*time.Hour, 3650*24*time.Hour, "168h (7 days) and 87600h (10 years)")},
	{key: "DATA_EXPORT_TTL", def: both("24h"), bind: func(c *Config) value { return (*durationValue)(&c.DataExportTTL) },
		check: within(func(c Config) time.Duration { return c.DataExportTTL }, time.Hour, 7*24*time.Hour, "1h and 168h (7 days)")},
	{key: "ADMIN_IDLE_TIMEOUT", def: both("30m"), bind: func(c *Config) value { return (*durationValue)(&c.AdminIdleTimeout) },
		check: within(func(c Config) time.Duration { return c.AdminIdleTimeout }, time.Minute, 24*time.Hour, "1m and 24h")},
	{key: "CARRIER_SIMULATOR", def: devProd("true", "false"), bind: func(c *Config) value { return (*boolValue)(&c.CarrierSimulator) }},
	// With no Stripe key of its own, development pays through the
	// simulator; with one, through Stripe's test mode.
	{key: "PAYMENT_SIMULATOR", bind: func(c *Config) value { return (*boolValue)(&c.PaymentSimulator) },
		def: func(e Env, getenv func(string) string) string {
			return strconv.FormatBool(e != Production && getenv("STRIPE_SECRET_KEY") == "")
		}},
	{key: "TRUSTED_PROXIES", def: both(""), bind: func(c *Config) value { return (*prefixesValue)(&c.TrustedProxies) }},
	{key: "SIGNIN_MAX_FAILURES_PER_ADDRESS", def: both("100"), bind: func(c *Config) value { return (*intValue)(&c.SignInMaxFailuresPerAddress) },
		check: perHour(func(c Config) int { return c.SignInMaxFailuresPerAddress })},
	{key: "SIGNUP_MAX_PER_ADDRESS_PER_HOUR", def: both("10"), bind: func(c *Config) value { return (*intValue)(&c.SignUpMaxPerAddressPerHour) },
		check: perHour(func(c Config) int { return c.SignUpMaxPerAddressPerHour })},
	{key: "RESET_MAX_PER_EMAIL_PER_HOUR", def: both("3"), bind: func(c *Config) value { return (*intValue)(&c.ResetMaxPerEmailPerHour) },
		check: perHour(func(c Config) int { return c.ResetMaxPerEmailPerHour })},
	{key: "RESET_MAX_PER_ADDRESS_PER_HOUR", def: both("20"), bind: func(c *Config) value { return (*intValue)(&c.ResetMaxPerAddressPerHour) },
		check: perHour(func(c Config) int { return c.ResetMaxPerAddressPerHour })},
	{key: "TOPUP_MAX_PER_HOUR", def: both("10"), bind: func(c *Config) value { return (*intValue)(&c.TopUpMaxPerHour) },
		check: perHour(func(c Config) int { return c.TopUpMaxPerHour })},
	{key: "LIVE_MAX_STREAMS_PER_USER", def: both("3"), bind: func(c *Config) value { return (*intValue)(&c.LiveMaxStreamsPerUser) },
		check: between(func(c Config) int { return c.LiveMaxStreamsPerUser }, 1, 50, "")},
	{key: "LIVE_SESSION_CHECK_INTERVAL", def: both("5s"), bind: func(c *Config) value { return (*durationValue)(&c.LiveSessionCheckInterval) },
		check: within(func(c Config) time.Duration { return c.LiveSessionCheckInterval }, 500*time.Millisecond, time.Minute, "500ms and 1m")},

	// Secrets: never printed (only whether each is set).
	{key: "SESSION_SECRET", def: dev(devSessionSecret), secret: true, required: true, bind: func(c *Config) value { return (*strValue)(&c.SessionSecret) }},
	{key: "TWILIO_AUTH_TOKEN", def: dev(devTwilioAuthToken), secret: true, required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioAuthToken) }},
	{key: "TWILIO_API_SECRET", def: dev(devTwilioAPISecret), secret: true, required: true, bind: func(c *Config) value { return (*strValue)(&c.TwilioAPISecret) }},
	{key: "STRIPE_SECRET_KEY", def: dev(devStripeSecretKey), secret: true, required: true, bind: func(c *Config) value { return (*strValue)(&c.StripeSecretKey) }},
	{key: "STRIPE_WEBHOOK_SECRET", def: dev(devStripeWebhookSecret), secret: true, required: true, bind: func(c *Config) value { return (*strValue)(&c.StripeWebhookSecret) }},
	// Required only with SMTP_USERNAME (validate).
	{key: "SMTP_PASSWORD", def: dev(devSMTPPassword), secret: true, bind: func(c *Config) value { return (*strValue)(&c.SMTPPassword) }},
	// Required in production (no development default): without it the
	// Temporal UI shows every caller's numbers and emails.
	{key: "TEMPORAL_CODEC_KEYS", def: both(""), secret: true, required: true, bind: func(c *Config) value { return (*codecValue)(c) }},
	// Optional: mTLS, or a server on loopback or a private network.
	{key: "TEMPORAL_API_KEY", def: both(""), secret: true, bind: func(c *Config) value { return (*strValue)(&c.TemporalAPIKey) }},
}

// refusedInProduction are TLS-verification bypasses an older deployment
// set (the seed's Rails app had them): read only to be refused in
// production, since Mobayilo's mailer always verifies the certificate.
var refusedInProduction = []string{"SMTP_INSECURE_SKIP_VERIFY", "SMTP_DISABLE_CRL_CHECK"}

type (
	strValue      string
	urlValue      string
	envValue      Env
	intValue      int
	int64Value    int64
	boolValue     bool
	durationValue time.Duration
	listValue     []string
	dollarsValue  []int64
	prefixesValue []netip.Prefix
	levelValue    zerolog.Level
	codecValue    Config
)

func (v *strValue) set(s string) error                  { *v = strValue(s); return nil }
func (v *strValue) log(e *zerolog.Event, k string)      { e.Str(k, string(*v)) }
func (v *strValue) raw() string                         { return string(*v) }
func (v *urlValue) set(s string) error                  { *v = urlValue(s); return nil }
func (v *urlValue) log(e *zerolog.Event, k string)      { e.Str(k, RedactURL(string(*v))) }
func (v *urlValue) raw() string                         { return string(*v) }
func (v *envValue) set(s string) error                  { *v = envValue(s); return nil }
func (v *envValue) log(e *zerolog.Event, k string)      { e.Str(k, string(*v)) }
func (v *envValue) raw() string                         { return string(*v) }
func (v *boolValue) log(e *zerolog.Event, k string)     { e.Bool(k, bool(*v)) }
func (v *boolValue) raw() string                        { return strconv.FormatBool(bool(*v)) }
func (v *intValue) log(e *zerolog.Event, k string)      { e.Int(k, int(*v)) }
func (v *intValue) raw() string                         { return strconv.Itoa(int(*v)) }
func (v *int64Value) log(e *zerolog.Event, k string)    { e.Int64(k, int64(*v)) }
func (v *int64Value) raw() string                       { return strconv.FormatInt(int64(*v), 10) }
func (v *durationValue) log(e *zerolog.Event, k string) { e.Dur(k, time.Duration(*v)) }
func (v *durationValue) raw() string                    { return time.Duration(*v).String() }
func (v *listValue) log(e *zerolog.Event, k string)     { e.Strs(k, *v) }
func (v *listValue) raw() string                        { return strings.Join(*v, ",") }
func (v *dollarsValue) log(e *zerolog.Event, k string)  { e.Interface(k, []int64(*v)) }
func (v *dollarsValue) raw() string                     { return fmt.Sprint([]int64(*v)) }
func (v *levelValue) log(e *zerolog.Event, k string)    { e.Str(k, zerolog.Level(*v).String()) }
func (v *levelValue) raw() string                       { return zerolog.Level(*v).String() }
func (v *codecValue) log(e *zerolog.Event, k string)    { e.Str(k, v.temporalCodecKeysRaw) }
func (v *codecValue) raw() string                       { return v.temporalCodecKeysRaw }

func (v *prefixesValue) log(e *zerolog.Event, k string) {
	out := make([]string, len(*v))
	for i, p := range *v {
		out[i] = p.String()
	}
	e.Strs(k, out)
}
func (v *prefixesValue) raw() string { return fmt.Sprint([]netip.Prefix(*v)) }

func (v *boolValue) set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

func (v *intValue) set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intValue(n)
	return nil
}

func (v *int64Value) set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = int64Value(n)
	return nil
}

func (v *durationValue) set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 1h or 30m", s)
	}
	*v = durationValue(d)
	return nil
}

// splitList reads a comma-separated list; "none" is the empty list.
func splitList(s string) []string {
	if s == "" || strings.EqualFold(s, "none") {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (v *listValue) set(s string) error { *v = splitList(s); return nil }

// dollars are whole-dollar amounts, kept as cents.
func (v *dollarsValue) set(s string) error {
	var out []int64
	var bad []string
	for _, part := range splitList(s) {
		n, err := strconv.ParseInt(strings.TrimPrefix(part, "$"), 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, fmt.Sprintf("%q is not a whole number of dollars", part))
			continue
		}
		out = append(out, n*100)
	}
	*v = out
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// prefixes are CIDRs; a bare address is its own network (/32 or /128).
func (v *prefixesValue) set(s string) error {
	var out []netip.Prefix
	var bad []string
	for _, part := range splitList(s) {
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				bad = append(bad, fmt.Sprintf("%q is not a CIDR like 10.0.0.0/8 or an address", part))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	*v = out
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

func (v *levelValue) set(s string) error {
	l, err := zerolog.ParseLevel(strings.ToLower(s))
	if err != nil || s == "" {
		*v = levelValue(zerolog.InfoLevel)
		return fmt.Errorf("%q is not one of trace, debug, info, warn, error", s)
	}
	*v = levelValue(l)
	return nil
}

// codecValue: the Temporal payload codec's keys (a secret; checked here,
// named on error without being quoted).
func (v *codecValue) set(s string) error {
	v.temporalCodecKeysRaw = s
	keys, err := codec.ParseKeys(s)
	if err != nil {
		return err
	}
	v.TemporalCodecKeys = keys
	return nil
}
