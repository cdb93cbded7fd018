package metrics

import (
	"github.com/mobayilo/mobayilo/internal/promlocal"

	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

var metricName = regexp.MustCompile(`\b(mobayilo_[a-z_]+)`)

// Every metric of ours that the alerts and the dashboard query exists, by
// that name: a rename cannot leave an alert that never fires.
func TestAlertsAndDashboardQueryMetricsThatExist(t *testing.T) {
	m := New()
	m.WatchDatabase(nil) // described only; never collected here
	have := map[string]bool{}
	for _, n := range m.Names() {
		have[n] = true
	}
	if !have["mobayilo_call_billing_lag_seconds"] || !have["mobayilo_webhook_inbox_waiting"] {
		t.Fatalf("Names misses metrics: %v", m.Names())
	}
	known := func(n string) bool {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && have[base] {
				return true
			}
		}
		return false
	}

	rules, err := os.ReadFile("../../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no title or no panels")
	}
	// And the graphs dev -metrics and load -prometheus open.
	exprs := append([]string{string(rules)}, promlocal.Graphs...)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	used := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			used[n] = true
			if !known(n) {
				t.Errorf("%s is queried but no such metric exists", n)
			}
		}
	}
	for _, n := range []string{"mobayilo_call_billing_lag_seconds_bucket", "mobayilo_calls_stuck_in_billing", "mobayilo_webhook_inbox_oldest_age_seconds",
		"mobayilo_ledger_audit_ok", "mobayilo_webhooks_refused_total", "mobayilo_call_authorizations_total"} {
		if !used[n] {
			t.Errorf("no alert or panel reads %s", n)
		}
	}
}
