package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/docs"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/promlocal"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
)

// stack is the app under load, every part on loopback: a fresh database, a
// Temporal dev server with a database file (so it survives a restart), the
// web and worker roles as their own processes of this binary, and the
// tool's own servers playing Twilio's and Stripe's APIs.
type stack struct {
	bin, dir string
	dbURL    string
	pool     *pgxpool.Pool
	temporal temporalServer
	env      []string
	cfg      config.Config // as the app's processes read it
	webURL   string
	tools    *http.Server
	carrier  *carrier.Simulator
	payments *payments.Simulator

	// traces: each process writes its spans to traces-<role>.jsonl in dir.
	traces bool
	// metrics: every process's last scrape; metricsURL the current
	// process's of each role.
	metrics     *appMetrics
	stopMetrics context.CancelFunc
	prom        *promlocal.Server
	promTargets string // its file-based discovery file

	// webs and workers: the instances of each role (one of each but in
	// the cluster shape); lb spreads requests across the webs when there
	// are several.
	webs    []*instance
	workers []*instance
	lb      *balancer
	// nextWeb, nextWorker: the instance the next kill takes.
	nextWeb, nextWorker int

	mu         sync.Mutex
	metricsURL map[string]string // by instance name
	// unobserved: the processes started next run with metrics and traces
	// off (METRICS_ADDR=off, no TRACE_FILE), to measure what they cost.
	unobserved bool

	superviseCtx  context.Context
	stopSupervise context.CancelFunc
}

// StackOptions start the stack for a tool other than the load run
// (mobayilo bench): the same stack, with the app's timings and the carrier
// simulator's pacing chosen by the caller.
type StackOptions struct {
	Binary, Dir, DatabaseURL string
	MaxCallSeconds           int
	AuthorizationWindow      time.Duration
	ReconcileGrace           time.Duration
	PaymentTimeout           time.Duration
	// CarrierRealtime: the carrier simulator paces each call as a real one
	// (ringing, then the talk time; carrier.Simulator.HangUp ends it).
	CarrierRealtime bool
	// Traces: each process writes its spans to traces-<role>.jsonl in Dir
	// (TRACE_FILE).
	Traces bool
	// Prometheus: a host:port on loopback to run a Prometheus on (Debian's),
	// scraping every process of the stack as they come and go, with the
	// alerting rules loaded; "" for none.
	Prometheus string
	// Shape: ShapeDev (the Temporal CLI's dev server on SQLite) or
	// ShapeCluster (the Temporal server on Postgres, internal/cluster).
	Shape string
	// Webs and Workers: instances of each role (0: one). Several webs are
	// reached through the tool's load balancer, each request to any one.
	Webs, Workers int
}

// Stack is a running stack, started by StartStack.
type Stack struct{ s *stack }

// StartStack starts the stack as `mobayilo load` does: a fresh database
// (named mobayilo_load*, on loopback, dropped and created), a Temporal dev
// server, the web and worker roles as processes of o.Binary, and the
// carrier and payment simulators. Stop it with Stop, also after an error.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	s, err := newStack(ctx, o)
	return &Stack{s: s}, err
}

// WebURL is the web role's base URL (also its PUBLIC_BASE_URL).
func (st *Stack) WebURL() string { return st.s.webURL }

// Pool is a pool on the run's database.
func (st *Stack) Pool() *pgxpool.Pool { return st.s.pool }

// TemporalAddress is the dev server's frontend.
func (st *Stack) TemporalAddress() string { return st.s.temporal.address() }

// Config is the configuration the app's processes read.
func (st *Stack) Config() config.Config { return st.s.cfg }

// Carrier is the simulator playing Twilio for the web role.
func (st *Stack) Carrier() *carrier.Simulator { return st.s.carrier }

// RestartRoles restarts the web and worker roles gracefully, with their
// metrics and traces on (observed) or off, and waits until both serve.
func (st *Stack) RestartRoles(ctx context.Context, observed bool) error {
	return st.s.restartRoles(ctx, !observed)
}

// Stop ends every process and server of the stack.
func (st *Stack) Stop() {
	if st.s != nil {
		st.s.stop()
	}
}

// startStack builds and starts everything. dbURL names the database to
// create (it must not exist, or be a previous load run's, and must be on
// loopback).
func startStack(ctx context.Context, o Options) (*stack, error) {
	return newStack(ctx, StackOptions{Binary: o.Binary, Dir: o.Dir, DatabaseURL: o.DatabaseURL, MaxCallSeconds: o.MaxCallSeconds,
		AuthorizationWindow: o.AuthorizationWindow, ReconcileGrace: o.ReconcileGrace, PaymentTimeout: o.PaymentTimeout, Traces: o.Traces,
		Prometheus: o.Prometheus, Shape: o.Shape, Webs: o.Webs, Workers: o.Workers})
}

func newStack(ctx context.Context, o StackOptions) (*stack, error) {
	s := &stack{bin: o.Binary, dir: o.Dir, dbURL: o.DatabaseURL, traces: o.Traces, metrics: newAppMetrics(), metricsURL: map[string]string{}}
	if err := o.validateShape(); err != nil {
		return s, err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return s, err
	}
	if err := s.createDatabase(ctx); err != nil {
		return s, err
	}
	var err error
	if s.pool, err = db.Open(ctx, s.dbURL); err != nil {
		return s, err
	}
	if _, err := db.Migrate(ctx, s.pool); err != nil {
		return s, err
	}
	if _, err := ratedeck.LoadSampleIfEmpty(ctx, s.pool); err != nil {
		return s, err
	}

	if s.temporal, err = s.startTemporal(ctx, o.Shape); err != nil {
		return s, err
	}

	nWebs, nWorkers := Instances(o.Shape, o.Webs, o.Workers)
	for i := range nWebs {
		port, err := freePort()
		if err != nil {
			return s, err
		}
		s.webs = append(s.webs, &instance{role: "web", name: instanceName("web", i), addr: "127.0.0.1:" + strconv.Itoa(port)})
	}
	for i := range nWorkers {
		s.workers = append(s.workers, &instance{role: "worker", name: instanceName("worker", i)})
	}
	if len(s.webs) == 1 {
		s.webURL = "http://" + s.webs[0].addr
	} else {
		if s.lb, err = startBalancer(s.webs); err != nil {
			return s, err
		}
		s.webURL = s.lb.url
	}
	toolsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	toolsURL := "http://" + toolsLn.Addr().String()
	var codecKey [32]byte
	if _, err := rand.Read(codecKey[:]); err != nil {
		return s, err
	}
	vars := map[string]string{
		"APP_ENV": "development", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
		"HTTP_ADDR": s.webs[0].addr, "PUBLIC_BASE_URL": s.webURL,
		"DATABASE_URL": s.dbURL, "TEMPORAL_ADDRESS": s.temporal.address(), "TEMPORAL_TASK_QUEUE": "mobayilo-load",
		"STRIPE_API_BASE": toolsURL + "/stripe", "TWILIO_API_BASE": toolsURL + "/twilio",
		"PAYMENT_SIMULATOR": "false", "CARRIER_SIMULATOR": "true", "SIGNUP_BONUS_CENTS": "0",
		"DAILY_SPEND_LIMIT_CENTS": "0", "DAILY_CALL_LIMIT": "0",
		"MAX_CALL_SECONDS":          strconv.Itoa(o.MaxCallSeconds),
		"CALL_AUTHORIZATION_WINDOW": o.AuthorizationWindow.String(),
		"CALL_RECONCILE_GRACE":      o.ReconcileGrace.String(),
		"CALL_RING_ALLOWANCE":       "20s",
		"TOPUP_PAYMENT_TIMEOUT":     o.PaymentTimeout.String(),
		// Payloads encrypted as in production, with a key of this run's.
		"TEMPORAL_CODEC_KEYS": "load:" + base64.StdEncoding.EncodeToString(codecKey[:]),
		// Every simulated user signs up and tops up from loopback.
		"SIGNUP_MAX_PER_ADDRESS_PER_HOUR": "1000000", "TOPUP_MAX_PER_HOUR": "1000",
	}
	if s.cfg, err = config.Load(func(k string) string { return vars[k] }); err != nil {
		return s, err
	}
	for k, v := range vars {
		s.env = append(s.env, k+"="+v)
	}
	s.env = append(s.env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))

	s.carrier = &carrier.Simulator{BaseURL: s.webURL, AuthToken: s.cfg.TwilioAuthToken, AccountSID: s.cfg.TwilioAccountSID,
		APIKey: s.cfg.TwilioAPIKey, APISecret: s.cfg.TwilioAPISecret,
		HTTP: &http.Client{Timeout: 20 * time.Second}, Realtime: o.CarrierRealtime}
	s.payments = &payments.Simulator{SecretKey: s.cfg.StripeSecretKey, WebhookSecret: s.cfg.StripeWebhookSecret,
		WebhookURL: s.webURL + "/api/webhooks/stripe", HTTP: &http.Client{Timeout: 20 * time.Second},
		// Stripe retries a delivery the app did not take for days; the run
		// retries for as long as a fault can last.
		Retries: 60, RetryWait: time.Second}
	mux := http.NewServeMux()
	mux.Handle("/twilio/", http.StripPrefix("/twilio", s.carrier.RESTHandler()))
	mux.Handle("/stripe/", http.StripPrefix("/stripe", s.payments.Handler()))
	s.tools = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.tools.Serve(toolsLn) }()

	var watchCtx context.Context
	watchCtx, s.stopMetrics = context.WithCancel(context.WithoutCancel(ctx))
	go s.metrics.watch(watchCtx, time.Second)
	if o.Prometheus != "" {
		pdir := filepath.Join(s.dir, "prometheus")
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return s, err
		}
		s.promTargets = filepath.Join(pdir, "targets.json")
		if err := promlocal.WriteTargets(s.promTargets, nil); err != nil {
			return s, err
		}
		plog, err := os.Create(filepath.Join(s.dir, "prometheus.log"))
		if err != nil {
			return s, err
		}
		if s.prom, err = promlocal.Start(ctx, promlocal.Options{Listen: o.Prometheus, Dir: pdir, TargetsFile: s.promTargets,
			Rules: docs.Alerts, Output: plog}); err != nil {
			return s, err
		}
	}

	for _, w := range s.webs {
		if err := s.startWeb(ctx, w); err != nil {
			return s, err
		}
	}
	s.superviseCtx, s.stopSupervise = context.WithCancel(context.WithoutCancel(ctx))
	for _, w := range s.workers {
		if err := s.startWorker(ctx, w); err != nil {
			return s, err
		}
	}
	return s, nil
}

// createDatabase drops a previous run's database and creates a fresh one.
func (s *stack) createDatabase(ctx context.Context) error {
	u, err := url.Parse(s.dbURL)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return fmt.Errorf("load: the database must be on loopback, not %s", h)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, "mobayilo_load") {
		return fmt.Errorf("load: the database name must start with mobayilo_load (it is dropped and created), not %q", name)
	}
	return resetDatabases(ctx, s.dbURL, []string{name}, name)
}

func (s *stack) start(ctx context.Context, in *instance) (*exec.Cmd, <-chan struct{}, error) {
	role := in.role
	f, err := os.OpenFile(in.logPath(s.dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	// Each process's metrics on a port of its own (never the roles'
	// defaults, which a `mobayilo dev` on this machine may hold).
	mport, err := freePort()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	s.mu.Lock()
	unobserved := s.unobserved
	s.mu.Unlock()
	cmd := exec.Command(s.bin, role)
	cmd.Env = append(append([]string(nil), s.env...), "METRICS_ADDR=127.0.0.1:"+strconv.Itoa(mport))
	if in.addr != "" {
		cmd.Env = append(cmd.Env, "HTTP_ADDR="+in.addr) // the later one counts
	}
	switch {
	case unobserved:
		cmd.Env = append(cmd.Env, "METRICS_ADDR=off")
	case s.traces:
		// One file per role: every instance appends its own lines.
		cmd.Env = append(cmd.Env, "TRACE_FILE="+filepath.Join(s.dir, "traces-"+role+".jsonl"))
	}
	if os.Getenv("LOAD_PPROF") != "" {
		// Go's profiler on a port of its own, written beside the logs
		// (pprof-<instance>.addr) for `go tool pprof` while the run goes.
		pport, err := freePort()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(pport)
		cmd.Env = append(cmd.Env, "PPROF_ADDR="+addr)
		if err := os.WriteFile(filepath.Join(s.dir, "pprof-"+in.name+".addr"), []byte(addr+"\n"), 0o644); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("load: start %s: %w", role, err)
	}
	murl := "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
	if !unobserved {
		s.metrics.add(role, in.name, murl)
	}
	s.mu.Lock()
	s.metricsURL[in.name] = murl
	if s.prom != nil && !unobserved {
		byName := map[string]string{}
		for r, u := range s.metricsURL {
			byName[r] = strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/metrics")
		}
		_ = promlocal.WriteTargets(s.promTargets, byName)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	return cmd, done, nil
}

func (s *stack) startWeb(ctx context.Context, in *instance) error {
	cmd, done, err := s.start(ctx, in)
	if err != nil {
		return err
	}
	s.mu.Lock()
	in.cmd, in.done = cmd, done
	s.mu.Unlock()
	return waitUntil(ctx, 60*time.Second, in.name+" to be ready", func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + in.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// startWorker starts a worker instance under supervision: whenever it
// exits (a crash, a kill, no Temporal to connect to) it is started again a
// second later, as a service manager would, until the stack stops. It
// waits until the first process polls.
func (s *stack) startWorker(ctx context.Context, in *instance) error {
	before := countLines(in.logPath(s.dir), "worker polling")
	go s.superviseWorker(in)
	return waitUntil(ctx, 60*time.Second, in.name+" to poll", func() bool {
		return countLines(in.logPath(s.dir), "worker polling") > before
	})
}

func (s *stack) superviseWorker(in *instance) {
	for s.superviseCtx.Err() == nil {
		cmd, done, err := s.start(s.superviseCtx, in)
		if err == nil {
			s.mu.Lock()
			in.cmd, in.done = cmd, done
			s.mu.Unlock()
			<-done
		}
		select {
		case <-s.superviseCtx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// killWorker kills a worker with SIGKILL, as a crash would (each kill the
// next instance); its supervisor starts a new one, and this waits until it
// polls.
func (s *stack) killWorker(ctx context.Context) error {
	s.mu.Lock()
	in := s.workers[s.nextWorker%len(s.workers)]
	s.nextWorker++
	s.mu.Unlock()
	return s.signalWorker(ctx, in, syscall.SIGKILL)
}

// signalWorker sends a worker instance sig, and waits until the process
// its supervisor starts next polls.
func (s *stack) signalWorker(ctx context.Context, in *instance, sig syscall.Signal) error {
	before := countLines(in.logPath(s.dir), "worker polling")
	s.mu.Lock()
	w, murl := in.cmd, s.metricsURL[in.name]
	s.mu.Unlock()
	// Its counters die with it: read them first.
	_ = s.metrics.scrape(ctx, murl)
	if w != nil && w.Process != nil {
		_ = syscall.Kill(-w.Process.Pid, sig)
	}
	return waitUntil(ctx, 60*time.Second, "a new "+in.name+" to poll", func() bool {
		return countLines(in.logPath(s.dir), "worker polling") > before
	})
}

// killWeb kills a web instance with SIGKILL mid-traffic (each kill the
// next one), leaves it down for down (the load balancer sends its share
// to the others meanwhile), and starts it again on its port.
func (s *stack) killWeb(ctx context.Context, down time.Duration) error {
	s.mu.Lock()
	in := s.webs[s.nextWeb%len(s.webs)]
	s.nextWeb++
	w, done, murl := in.cmd, in.done, s.metricsURL[in.name]
	s.mu.Unlock()
	_ = s.metrics.scrape(ctx, murl)
	if w != nil && w.Process != nil {
		_ = syscall.Kill(-w.Process.Pid, syscall.SIGKILL)
		<-done
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return s.startWeb(ctx, in)
}

// restartRoles stops the web and worker roles gracefully (SIGTERM) and
// starts them again, with metrics and traces off when unobserved.
func (s *stack) restartRoles(ctx context.Context, unobserved bool) error {
	s.mu.Lock()
	s.unobserved = unobserved
	s.mu.Unlock()
	for _, in := range s.webs {
		s.mu.Lock()
		web, done := in.cmd, in.done
		s.mu.Unlock()
		if web != nil && web.Process != nil {
			_ = syscall.Kill(-web.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-web.Process.Pid, syscall.SIGKILL)
				<-done
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := s.startWeb(ctx, in); err != nil {
			return err
		}
	}
	for _, in := range s.workers {
		if err := s.signalWorker(ctx, in, syscall.SIGTERM); err != nil {
			return err
		}
	}
	return nil
}

// restartTemporal stops the Temporal server and starts it again on the
// same port with the same database.
func (s *stack) restartTemporal(ctx context.Context, down time.Duration) error {
	return s.temporal.restart(ctx, down)
}

// restartPostgres restarts the local PostgreSQL cluster that serves the
// run's database (Debian's pg_ctlcluster, as root).
func (s *stack) restartPostgres(ctx context.Context) error {
	u, _ := url.Parse(s.dbURL)
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	out, err := exec.CommandContext(ctx, "pg_lsclusters", "--no-header").Output()
	if err != nil {
		return fmt.Errorf("load: pg_lsclusters (Debian's postgresql-common is needed to restart Postgres): %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[2] == port {
			cmd := exec.CommandContext(ctx, "pg_ctlcluster", "--skip-systemctl-redirect", f[0], f[1], "restart")
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("load: pg_ctlcluster %s %s restart: %w: %s", f[0], f[1], err, b)
			}
			return nil
		}
	}
	return fmt.Errorf("load: no local PostgreSQL cluster listens on port %s", port)
}

// stop ends every process and server of the stack.
func (s *stack) stop() {
	if s.stopSupervise != nil {
		s.stopSupervise()
	}
	if s.stopMetrics != nil {
		s.stopMetrics()
	}
	if s.prom != nil {
		s.prom.Stop()
	}
	s.mu.Lock()
	for _, in := range append(append([]*instance(nil), s.webs...), s.workers...) {
		if c := in.cmd; c != nil && c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		}
	}
	s.mu.Unlock()
	if s.lb != nil {
		s.lb.close()
	}
	if s.tools != nil {
		_ = s.tools.Close()
	}
	if s.temporal != nil {
		_ = s.temporal.stop()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

func countLines(path, substr string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), substr)
}

func waitUntil(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("load: timed out waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
