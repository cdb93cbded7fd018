package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionAndAdminIdleTimeout(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataRetention != 30*24*time.Hour || c.AdminIdleTimeout != 30*time.Minute {
		t.Fatalf("defaults: retention %s, admin idle %s", c.DataRetention, c.AdminIdleTimeout)
	}
	c, err = Load(env(map[string]string{"DATA_RETENTION": "2160h", "ADMIN_IDLE_TIMEOUT": "10m"}))
	if err != nil || c.DataRetention != 90*24*time.Hour || c.AdminIdleTimeout != 10*time.Minute {
		t.Fatalf("set: %s %s %v", c.DataRetention, c.AdminIdleTimeout, err)
	}
	for key, value := range map[string]string{"DATA_RETENTION": "24h", "ADMIN_IDLE_TIMEOUT": "0s"} {
		if _, err := Load(env(map[string]string{key: value})); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%s=%s: want an error naming it, got %v", key, value, err)
		}
	}
}
