package promlocal

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/docs"
	"github.com/mobayilo/mobayilo/internal/metrics"
)

// Prometheus scrapes a role's metrics listener, and holds the project's
// alerting rules, as `mobayilo dev -metrics` starts it.
func TestPrometheusScrapesTheRoleAndLoadsTheAlerts(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus is not installed: `make test` installs it (scripts/prometheus.sh)")
		}
		t.Skip("prometheus is not installed (scripts/prometheus.sh installs Debian's)")
	}
	m := metrics.New()
	m.Authorized("negative_balance")
	m.Authorized("negative_balance")
	m.Authorized("")
	target := httptest.NewServer(m.Handler())
	defer target.Close()

	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{Listen: "127.0.0.1:" + strconv.Itoa(port), Dir: t.TempDir(),
		Targets: []string{target.Listener.Addr().String()}, Rules: docs.Alerts, Every: time.Second, Output: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	// The counter as Prometheus read it.
	var got float64
	for ctx.Err() == nil {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		get(t, s.URL+"/api/v1/query?query="+url.QueryEscape(`sum(mobayilo_call_authorizations_total{result="refused",reason="negative_balance"})`), &r)
		if len(r.Data.Result) == 1 {
			got, _ = strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if got != 2 {
		t.Fatalf("Prometheus read %v negative_balance refusals, want 2", got)
	}

	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name string } `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	get(t, s.URL+"/api/v1/rules", &rules)
	names := map[string]bool{}
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			names[r.Name] = true
		}
	}
	for _, want := range []string{"MobayiloBillingLagHigh", "MobayiloLedgerAuditFailed", "MobayiloInboxBackingUp"} {
		if !names[want] {
			t.Errorf("rule %s not loaded; loaded: %v", want, names)
		}
	}
}

// Prometheus starts only on loopback.
func TestPrometheusRefusesToListenBeyondLoopback(t *testing.T) {
	_, err := Start(context.Background(), Options{Binary: "/bin/true", Listen: "0.0.0.0:9090", Dir: t.TempDir(), Targets: []string{"127.0.0.1:1"}})
	if err == nil {
		t.Fatal("started on 0.0.0.0")
	}
}

func get(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(string(p))
	}
	return len(p), nil
}
