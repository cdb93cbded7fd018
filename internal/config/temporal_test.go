package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// Production refuses a plaintext connection to a Temporal server off
// loopback, unless TEMPORAL_INSECURE=true says a private network is meant.
func TestProductionRefusesPlaintextTemporal(t *testing.T) {
	plain := productionEnv()
	delete(plain, "TEMPORAL_API_KEY")
	_, err := Load(env(plain))
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_ADDRESS:") || !strings.Contains(err.Error(), "TEMPORAL_INSECURE") {
		t.Fatalf("plaintext to temporal.internal: want a refusal naming TEMPORAL_ADDRESS, got %v", err)
	}
	for name, change := range map[string]map[string]string{
		"insecure on purpose": {"TEMPORAL_INSECURE": "true"},
		"loopback":            {"TEMPORAL_ADDRESS": "127.0.0.1:7233"},
		"loopback by name":    {"TEMPORAL_ADDRESS": "localhost:7233"},
		"mTLS":                {"TEMPORAL_TLS_CERT": "/etc/temporal/client.pem", "TEMPORAL_TLS_KEY": "/etc/temporal/client.key"},
		"TLS to a known CA":   {"TEMPORAL_TLS_CA": "/etc/temporal/ca.pem"},
		"API key":             {"TEMPORAL_API_KEY": "cloud-api-key"},
	} {
		m := productionEnv()
		delete(m, "TEMPORAL_API_KEY")
		for k, v := range change {
			m[k] = v
		}
		if _, err := Load(env(m)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTemporalCertificateNeedsItsKey(t *testing.T) {
	for key, m := range map[string]map[string]string{
		"TEMPORAL_TLS_KEY":  {"TEMPORAL_TLS_CERT": "/etc/temporal/client.pem"},
		"TEMPORAL_TLS_CERT": {"TEMPORAL_TLS_KEY": "/etc/temporal/client.key"},
	} {
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("want an error naming %s, got %v", key, err)
		}
	}
}

func TestTemporalAPIKeyIsRedacted(t *testing.T) {
	c, err := Load(env(map[string]string{"TEMPORAL_API_KEY": "cloud-api-key-do-not-print", "TEMPORAL_TLS_SERVER_NAME": "ns.tmprl.cloud"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAPIKey != "cloud-api-key-do-not-print" || c.TemporalTLSServerName != "ns.tmprl.cloud" {
		t.Fatalf("%+v", c)
	}
	var buf bytes.Buffer
	logger := zerolog.New(&buf)
	logger.Info().EmbedObject(c).Msg("config")
	if strings.Contains(buf.String(), "do-not-print") || !strings.Contains(buf.String(), `"TEMPORAL_API_KEY":"(set, redacted)"`) {
		t.Fatalf("printed: %s", buf.String())
	}
}
