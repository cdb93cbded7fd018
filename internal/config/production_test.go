package config

import (
	"strings"
	"testing"
)

// Production refuses test money and open fraud guards, naming the setting.
func TestProductionRefusesTestMoneyAndOpenGuards(t *testing.T) {
	cases := []struct {
		name    string
		change  map[string]string
		wantKey string
	}{
		{"test secret key", map[string]string{"STRIPE_SECRET_KEY": "sk_test_abc"}, "STRIPE_SECRET_KEY"},
		{"test restricted key", map[string]string{"STRIPE_SECRET_KEY": "rk_test_abc"}, "STRIPE_SECRET_KEY"},
		{"test publishable key", map[string]string{"STRIPE_PUBLISHABLE_KEY": "pk_test_abc"}, "STRIPE_PUBLISHABLE_KEY"},
		{"test mode with live keys", map[string]string{"STRIPE_TEST_MODE": "true"}, "STRIPE_TEST_MODE"},
		{"test mode with a live secret key", map[string]string{"STRIPE_TEST_MODE": "true", "STRIPE_PUBLISHABLE_KEY": "pk_test_abc"}, "STRIPE_TEST_MODE"},
		{"no allowed countries", map[string]string{"ALLOWED_COUNTRIES": ""}, "ALLOWED_COUNTRIES"},
		{"allowed countries none", map[string]string{"ALLOWED_COUNTRIES": "none"}, "ALLOWED_COUNTRIES"},
		{"blocked prefixes none", map[string]string{"BLOCKED_PREFIXES": "none"}, "BLOCKED_PREFIXES"},
		{"absent daily spend limit", map[string]string{"DAILY_SPEND_LIMIT_CENTS": ""}, "DAILY_SPEND_LIMIT_CENTS"},
		{"zero daily spend limit", map[string]string{"DAILY_SPEND_LIMIT_CENTS": "0"}, "DAILY_SPEND_LIMIT_CENTS"},
		{"absent daily call limit", map[string]string{"DAILY_CALL_LIMIT": ""}, "DAILY_CALL_LIMIT"},
		{"zero daily call limit", map[string]string{"DAILY_CALL_LIMIT": "0"}, "DAILY_CALL_LIMIT"},
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
			if !strings.Contains(err.Error(), tc.wantKey+":") {
				t.Fatalf("error does not name %s: %v", tc.wantKey, err)
			}
		})
	}
}

// A staging deploy may take Stripe test money only when it says so.
func TestProductionTestModeNeedsTheSwitch(t *testing.T) {
	m := productionEnv()
	m["STRIPE_SECRET_KEY"], m["STRIPE_PUBLISHABLE_KEY"] = "sk_test_staging", "pk_test_staging"
	if _, err := Load(env(m)); err == nil {
		t.Fatal("production took test keys without STRIPE_TEST_MODE")
	}
	m["STRIPE_TEST_MODE"] = "true"
	c, err := Load(env(m))
	if err != nil {
		t.Fatalf("staging with STRIPE_TEST_MODE=true: %v", err)
	}
	if !c.StripeTestMode || c.StripeLivemode() {
		t.Fatalf("test mode %v, livemode %v", c.StripeTestMode, c.StripeLivemode())
	}
}

func TestStripeLivemodeFollowsTheKey(t *testing.T) {
	c, err := Load(env(productionEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if !c.StripeLivemode() {
		t.Fatal("sk_live_ key: want livemode")
	}
	dev, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if dev.StripeLivemode() {
		t.Fatal("development's sk_test_ key: want test mode")
	}
}

// Development keeps its defaults: every guard may be open on a laptop.
func TestDevelopmentKeepsOpenGuards(t *testing.T) {
	c, err := Load(env(map[string]string{"BLOCKED_PREFIXES": "none", "DAILY_CALL_LIMIT": "0", "DAILY_SPEND_LIMIT_CENTS": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.BlockedPrefixes) != 0 || c.DailyCallLimit != 0 || c.DailySpendLimitCents != 0 {
		t.Fatalf("%+v", c)
	}
	if c, err := Load(env(nil)); err != nil || c.DailySpendLimitCents != 5000 || c.DailyCallLimit != 100 {
		t.Fatalf("development defaults: %d %d %v", c.DailySpendLimitCents, c.DailyCallLimit, err)
	}
}
