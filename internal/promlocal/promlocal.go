// Package promlocal runs a Prometheus server (Debian's prometheus package)
// on loopback, scraping the app's metrics listeners with the project's
// alerting rules loaded: `mobayilo dev -metrics`, so a person running the
// app sees the numbers move while they call, and the alerts as Prometheus
// evaluates them.
package promlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Options say what to scrape and where to serve.
type Options struct {
	Binary  string   // the prometheus binary; PATH's when empty
	Listen  string   // host:port of its web UI and API (loopback)
	Dir     string   // its configuration and time-series database
	Targets []string // host:port of each /metrics listener
	// TargetsFile, instead of Targets: a file of Prometheus's file-based
	// discovery (WriteTargets), re-read as it changes, for processes that
	// come and go on new ports (the load tool's workers).
	TargetsFile string
	// Rules is an alerting rules file's content (docs/alerts.yml); none
	// when empty.
	Rules  []byte
	Every  time.Duration // scrape and evaluation interval; 5 s when 0
	Output io.Writer     // its log
}

// Server is a running Prometheus.
type Server struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start writes the configuration and starts Prometheus, and returns once it
// is ready.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("prometheus"); err != nil {
			return nil, errors.New("promlocal: no prometheus on PATH: install Debian's package (scripts/prometheus.sh, or apt-get install prometheus)")
		}
	}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("promlocal: listen address %q: %w", o.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("promlocal: Prometheus only starts on loopback, not %s", host)
	}
	if len(o.Targets) == 0 && o.TargetsFile == "" {
		return nil, errors.New("promlocal: nothing to scrape (metrics are off)")
	}
	every := o.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "data"), 0o755); err != nil {
		return nil, err
	}
	rules := ""
	if len(o.Rules) > 0 {
		if err := os.WriteFile(filepath.Join(o.Dir, "alerts.yml"), o.Rules, 0o644); err != nil {
			return nil, err
		}
		rules = "rule_files: [alerts.yml]\n"
	}
	config := fmt.Sprintf(`# Written by mobayilo dev -metrics; rewritten at each start.
global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
%[2]sscrape_configs:
  - job_name: mobayilo
%[3]s`, every, rules, targets(o))
	cfgPath := filepath.Join(o.Dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(o.Dir, "data"),
		"--web.listen-address="+o.Listen, "--storage.tsdb.retention.time=2d")
	cmd.Dir = o.Dir // the rule file is found beside the configuration
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("promlocal: start %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + o.Listen, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("promlocal: prometheus exited at start (is %s taken? its log says why)", o.Listen)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("promlocal: prometheus not ready after 30 s")
		}
	}
}

// Exited is closed when Prometheus exits.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop ends Prometheus (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// Graphs are what the graph page `dev -metrics` and `load -prometheus` log
// shows: the requests a caller waits on, the billing lag, calls finishing
// and the webhook inbox.
var Graphs = []string{
	`sum by (route) (rate(mobayilo_http_request_duration_seconds_count{route=~"/calls|/api/webhooks/.*"}[1m]))`,
	`histogram_quantile(0.99, sum by (le) (rate(mobayilo_call_billing_lag_seconds_bucket[1m])))`,
	`sum by (status) (rate(mobayilo_calls_finished_total[1m]))`,
	`max(mobayilo_webhook_inbox_waiting)`,
}

// GraphURL is Prometheus's graph page showing exprs, over the last range.
func (s *Server) GraphURL(rangeText string, exprs ...string) string {
	var b strings.Builder
	b.WriteString(s.URL + "/graph?")
	for i, e := range exprs {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "g%d.expr=%s&g%d.tab=0&g%d.range_input=%s", i, url.QueryEscape(e), i, i, rangeText)
	}
	return b.String()
}

// targets is the scrape config's list of targets, static or from a file.
func targets(o Options) string {
	if o.TargetsFile != "" {
		return fmt.Sprintf("    file_sd_configs:\n      - files: [%q]\n        refresh_interval: 5s\n", o.TargetsFile)
	}
	return "    static_configs:\n      - targets: [" + quoteAll(o.Targets) + "]\n"
}

// WriteTargets writes a file-based discovery file: each role's current
// host:port, labelled role. It replaces the file whole (a rename), as
// Prometheus asks.
func WriteTargets(path string, byRole map[string]string) error {
	var groups []map[string]any
	for role, addr := range byRole {
		groups = append(groups, map[string]any{"targets": []string{addr}, "labels": map[string]string{"role": role}})
	}
	b, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}
