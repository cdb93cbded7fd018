package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// productionEnv is a complete, valid production configuration.
func productionEnv() map[string]string {
	return map[string]string{
		"APP_ENV":                "production",
		"PUBLIC_BASE_URL":        "https://app.mobayilo.example",
		"DATABASE_URL":           "postgres://mobayilo:pg-password@db.internal:5432/mobayilo?sslmode=verify-full",
		"TEMPORAL_ADDRESS":       "temporal.internal:7233",
		"TEMPORAL_UI_URL":        "https://temporal.mobayilo.example",
		"SESSION_SECRET":         "7d1f6c0b2a9e4f3c8b5a6d7e8f9a0b1c2d3e4f5a",
		"TWILIO_ACCOUNT_SID":     "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":      "real-twilio-auth-token",
		"TWILIO_API_KEY":         "SK0123456789abcdef0123456789abcdef",
		"TWILIO_API_SECRET":      "real-twilio-api-secret",
		"TWILIO_TWIML_APP_SID":   "AP0123456789abcdef0123456789abcdef",
		"TWILIO_CALLER_ID":       "+14155550100",
		"STRIPE_SECRET_KEY":      "sk_live_realkey",
		"STRIPE_PUBLISHABLE_KEY": "pk_live_realkey",
		"STRIPE_WEBHOOK_SECRET":  "whsec_realsecret",
		"SMTP_HOST":              "smtp.mail.example",
		"SMTP_USERNAME":          "mailer",
		"SMTP_PASSWORD":          "smtp-password",
		"SMTP_FROM":              "Mobayilo <no-reply@mobayilo.example>",
		"CARRIER_SIMULATOR":      "false",
		"PAYMENT_SIMULATOR":      "false",
		// The fraud guards production must state (issue 16).
		"ALLOWED_COUNTRIES":       "NG,GH,KE",
		"DAILY_SPEND_LIMIT_CENTS": "5000",
		"DAILY_CALL_LIMIT":        "100",
		// temporal.internal is off loopback: TLS with an API key.
		"TEMPORAL_API_KEY": "temporal-cloud-api-key",
		// The Temporal payload codec: a 32-byte key, base64.
		"TEMPORAL_CODEC_KEYS": "2026-12:" + testCodecKey,
	}
}

const testCodecKey = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="

func TestDevelopmentStartsWithNoVariables(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("development with no variables: %v", err)
	}
	if c.Env != Development || !c.CarrierSimulator || !c.PaymentSimulator {
		t.Fatalf("want development with simulators on, got env=%s carrier=%v payment=%v",
			c.Env, c.CarrierSimulator, c.PaymentSimulator)
	}
	if !strings.HasPrefix(c.HTTPAddr, "127.0.0.1:") || !strings.Contains(c.TemporalAddress, "127.0.0.1") {
		t.Fatalf("development must listen and connect on loopback, got HTTP_ADDR=%s TEMPORAL_ADDRESS=%s",
			c.HTTPAddr, c.TemporalAddress)
	}
	if !strings.Contains(c.DatabaseURL, "/mobayilo_dev") {
		t.Fatalf("development database: %s", c.DatabaseURL)
	}
}

func TestProductionAcceptsCompleteConfig(t *testing.T) {
	if _, err := Load(env(productionEnv())); err != nil {
		t.Fatalf("complete production config refused: %v", err)
	}
}

func TestProductionRefusesDevOnlySettings(t *testing.T) {
	cases := []struct {
		name    string
		change  map[string]string
		wantKey string
	}{
		{"missing session secret", map[string]string{"SESSION_SECRET": ""}, "SESSION_SECRET"},
		{"default session secret", map[string]string{"SESSION_SECRET": devSessionSecret}, "SESSION_SECRET"},
		{"short session secret", map[string]string{"SESSION_SECRET": "short"}, "SESSION_SECRET"},
		{"missing twilio auth token", map[string]string{"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"},
		{"default twilio auth token", map[string]string{"TWILIO_AUTH_TOKEN": devTwilioAuthToken}, "TWILIO_AUTH_TOKEN"},
		{"missing twilio api secret", map[string]string{"TWILIO_API_SECRET": ""}, "TWILIO_API_SECRET"},
		{"default twilio account", map[string]string{"TWILIO_ACCOUNT_SID": devTwilioAccountSID}, "TWILIO_ACCOUNT_SID"},
		{"missing twiml app", map[string]string{"TWILIO_TWIML_APP_SID": ""}, "TWILIO_TWIML_APP_SID"},
		{"missing stripe key", map[string]string{"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY"},
		{"default stripe key", map[string]string{"STRIPE_SECRET_KEY": devStripeSecretKey}, "STRIPE_SECRET_KEY"},
		{"default webhook secret", map[string]string{"STRIPE_WEBHOOK_SECRET": devStripeWebhookSecret}, "STRIPE_WEBHOOK_SECRET"},
		{"missing smtp password with username", map[string]string{"SMTP_PASSWORD": ""}, "SMTP_PASSWORD"},
		{"carrier simulator on", map[string]string{"CARRIER_SIMULATOR": "true"}, "CARRIER_SIMULATOR"},
		{"payment simulator on", map[string]string{"PAYMENT_SIMULATOR": "true"}, "PAYMENT_SIMULATOR"},
		{"smtp tls bypass", map[string]string{"SMTP_INSECURE_SKIP_VERIFY": "true"}, "SMTP_INSECURE_SKIP_VERIFY"},
		{"smtp crl bypass", map[string]string{"SMTP_DISABLE_CRL_CHECK": "1"}, "SMTP_DISABLE_CRL_CHECK"},
		{"plain http base url", map[string]string{"PUBLIC_BASE_URL": "http://app.mobayilo.example"}, "PUBLIC_BASE_URL"},
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		{"no smtp host", map[string]string{"SMTP_HOST": ""}, "SMTP_HOST"},
		{"database tls without verification", map[string]string{"DATABASE_URL": "postgres://u:p@db:5432/m?sslmode=require"}, "DATABASE_URL"},
		{"database sslmode unset", map[string]string{"DATABASE_URL": "postgres://u:p@db:5432/m"}, "DATABASE_URL"},
		{"negative bonus", map[string]string{"SIGNUP_BONUS_CENTS": "-5"}, "SIGNUP_BONUS_CENTS"},
		{"no temporal codec key", map[string]string{"TEMPORAL_CODEC_KEYS": ""}, "TEMPORAL_CODEC_KEYS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := productionEnv()
			for k, v := range tc.change {
				m[k] = v
			}
			_, err := Load(env(m))
			if err == nil {
				t.Fatalf("production started with %v", tc.change)
			}
			if tc.wantKey != "" && !strings.Contains(err.Error(), tc.wantKey+":") {
				t.Fatalf("error does not name %s: %v", tc.wantKey, err)
			}
		})
	}
}

func TestProductionSimulatorsDefaultOff(t *testing.T) {
	m := productionEnv()
	delete(m, "CARRIER_SIMULATOR")
	delete(m, "PAYMENT_SIMULATOR")
	c, err := Load(env(m))
	if err != nil {
		t.Fatalf("production without simulator flags: %v", err)
	}
	if c.CarrierSimulator || c.PaymentSimulator {
		t.Fatalf("simulators on by default in production: carrier=%v payment=%v", c.CarrierSimulator, c.PaymentSimulator)
	}
}

func TestInvalidValuesAreNamed(t *testing.T) {
	cases := map[string]string{
		"APP_ENV":           "staging",
		"HTTP_ADDR":         "8080",
		"LOG_LEVEL":         "loud",
		"SMTP_PORT":         "smtp",
		"CARRIER_SIMULATOR": "maybe",
		"TWILIO_CALLER_ID":  "555-0100",
		"PUBLIC_BASE_URL":   "http://127.0.0.1:8080/",
		"DATABASE_URL":      "mysql://root@localhost/x",
		"ALLOWED_COUNTRIES": "NG,nigeria",
		"BLOCKED_PREFIXES":  "1900,+44",
		"MAX_CALL_SECONDS":  "20000",
		"PPROF_ADDR":        "0.0.0.0:6060", // the profiler never beyond loopback
		// a 16-byte key
		"TEMPORAL_CODEC_KEYS": "k1:c2l4dGVlbiBieXRlcyEhIQ==",
	}
	for key, value := range cases {
		t.Run(key, func(t *testing.T) {
			_, err := Load(env(map[string]string{key: value}))
			if err == nil || !strings.Contains(err.Error(), key+":") {
				t.Fatalf("%s=%q: want an error naming it, got %v", key, value, err)
			}
		})
	}
}

func TestPprofOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "localhost:6060", "[::1]:6060", ""} {
		c, err := Load(env(map[string]string{"PPROF_ADDR": addr}))
		if err != nil || c.PprofAddr != addr {
			t.Errorf("PPROF_ADDR=%q: got %q, %v", addr, c.PprofAddr, err)
		}
	}
	for _, addr := range []string{":6060", "10.0.0.5:6060", "pprof.example.com:6060", "6060"} {
		if _, err := Load(env(map[string]string{"PPROF_ADDR": addr})); err == nil {
			t.Errorf("PPROF_ADDR=%q accepted", addr)
		}
	}
}

func TestPrintedConfigHidesSecrets(t *testing.T) {
	m := productionEnv()
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logger := zerolog.New(&buf)
	logger.Info().EmbedObject(c).Msg("config")
	out := buf.String()
	for _, key := range []string{"SESSION_SECRET", "TWILIO_AUTH_TOKEN", "TWILIO_API_SECRET",
		"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_PASSWORD", "TEMPORAL_API_KEY", "TEMPORAL_CODEC_KEYS"} {
		if strings.Contains(out, m[key]) {
			t.Errorf("printed config contains the value of %s: %s", key, out)
		}
		if !strings.Contains(out, `"`+key+`":"(set, redacted)"`) {
			t.Errorf("printed config does not say %s is set: %s", key, out)
		}
	}
	if !strings.Contains(out, `"TEMPORAL_CODEC_KEY_IDS":["2026-12"]`) {
		t.Errorf("printed config does not list the codec key ids: %s", out)
	}
	if strings.Contains(out, "pg-password") {
		t.Errorf("printed config contains the database password: %s", out)
	}
}

// Development runs without a codec key; keys given are parsed in order,
// the first one encrypting.
func TestTemporalCodecKeys(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.TemporalCodecKeys.Len() != 0 {
		t.Fatalf("development without a key: %v, %v", c.TemporalCodecKeys.IDs(), err)
	}
	c, err = Load(env(map[string]string{"TEMPORAL_CODEC_KEYS": "new:" + testCodecKey + ",old:" + testCodecKey}))
	if err != nil || strings.Join(c.TemporalCodecKeys.IDs(), ",") != "new,old" {
		t.Fatalf("two keys: %v, %v", c.TemporalCodecKeys.IDs(), err)
	}
	_, err = Load(env(map[string]string{"TEMPORAL_CODEC_KEYS": "k1:" + testCodecKey[:20]}))
	if err == nil || strings.Contains(err.Error(), testCodecKey[:20]) {
		t.Fatalf("a bad key must be refused without being quoted: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,fd00::/8"}))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.7/32 fd00::/8" {
		t.Fatalf("TRUSTED_PROXIES read as %v", got)
	}
	if c, _ := Load(env(nil)); len(c.TrustedProxies) != 0 {
		t.Fatalf("default trusts %v; want no one", c.TrustedProxies)
	}
	if _, err := Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"})); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Fatalf("a bad CIDR: %v", err)
	}
}

func TestAbuseLimitsHaveDefaultsAndBounds(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SignInMaxFailuresPerAddress != 100 || c.SignUpMaxPerAddressPerHour != 10 || c.ResetMaxPerEmailPerHour != 3 ||
		c.ResetMaxPerAddressPerHour != 20 || c.TopUpMaxPerHour != 10 || c.LiveMaxStreamsPerUser != 3 || c.LiveSessionCheckInterval.Seconds() != 5 {
		t.Fatalf("defaults: %+v", c)
	}
	for key, v := range map[string]string{
		"SIGNIN_MAX_FAILURES_PER_ADDRESS": "0", "SIGNUP_MAX_PER_ADDRESS_PER_HOUR": "-1", "RESET_MAX_PER_EMAIL_PER_HOUR": "0",
		"RESET_MAX_PER_ADDRESS_PER_HOUR": "0", "TOPUP_MAX_PER_HOUR": "0", "LIVE_MAX_STREAMS_PER_USER": "0", "LIVE_SESSION_CHECK_INTERVAL": "10m",
	} {
		if _, err := Load(env(map[string]string{key: v})); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: %v", key, v, err)
		}
	}
}
