// Package cluster runs the real Temporal server (not the CLI's dev server)
// on our Postgres, bound to loopback, with the standalone Web UI beside it:
// the closest local stand-in for a production cluster. `mobayilo cluster`
// and its integration test use it; internal/devserver stays the quick one.
//
// Three binaries are built once into bin/ (`make bin/temporal-server
// bin/temporal-sql-tool bin/temporal-ui-server`): the server and its SQL
// schema tool from go.temporal.io/server@v1.29.1, the UI from
// github.com/temporalio/ui-server/v2@v2.42.1.
//
// The server keeps its state in two databases, PREFIX and
// PREFIX_visibility, created and migrated by Start when missing, so a
// cluster stopped and started again on the same prefix has every workflow
// it had.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mobayilo/mobayilo/internal/temporalx"
)

// Versions the project builds and expects (the Makefile pins the same).
const (
	ServerVersion   = "v1.29.1"
	UIServerVersion = "v2.42.1"
)

// DefaultDatabaseURL is the local Postgres, as an administrator who may
// create databases.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// retention is how long a closed workflow's history is kept in the
// namespaces Start registers: the dev server's default.
const retention = 24 * time.Hour

// readyTimeout bounds a start: the schema is migrated on the first, and
// the services join their ring and take their shards on every one; on two
// busy cores that is tens of seconds.
const readyTimeout = 3 * time.Minute

// Options say where and how to run the cluster.
type Options struct {
	Binaries Binaries // FindBinaries when Server is empty
	// DatabaseURL is a Postgres URL whose user may create databases;
	// DefaultDatabaseURL when empty. Only its host, port, user and
	// password are used.
	DatabaseURL string
	// DatabasePrefix names the two databases: PREFIX and PREFIX_visibility;
	// "temporal" when empty. Tests use their own.
	DatabasePrefix string
	Port           int    // frontend gRPC port; a free one when 0
	UIPort         int    // Web UI port; a free one when 0; -1 runs no UI
	Dir            string // configuration and logs; a temporary directory when empty
	Namespace      string // registered besides "default"
	Output         io.Writer
}

// Binaries are the paths of the three programs.
type Binaries struct {
	Server, SQLTool, UI string
}

// Server is a running cluster: one server process with every service
// (frontend, history, matching, worker), and the UI.
type Server struct {
	Address string // host:port of the frontend
	UIURL   string // empty without a UI

	o       Options
	ports   ports
	db      dbParams
	logFile *os.File
	mu      sync.Mutex
	server  *proc
	ui      *proc
}

// FindBinaries looks for each program: its environment variable
// ($TEMPORAL_SERVER, $TEMPORAL_SQL_TOOL, $TEMPORAL_UI_SERVER), then bin/ in
// the module root above the working directory, then PATH. The error names
// every one missing and how to build it.
func FindBinaries() (Binaries, error) { return findBinaries(true) }

// findBinaries is FindBinaries, not minding a missing UI unless withUI.
func findBinaries(withUI bool) (Binaries, error) {
	var b Binaries
	var missing []string
	for _, f := range []struct {
		dst  *string
		env  string
		name string
		need bool
	}{
		{&b.Server, "TEMPORAL_SERVER", "temporal-server", true},
		{&b.SQLTool, "TEMPORAL_SQL_TOOL", "temporal-sql-tool", true},
		{&b.UI, "TEMPORAL_UI_SERVER", "temporal-ui-server", withUI},
	} {
		if *f.dst = find(f.env, f.name); *f.dst == "" && f.need {
			missing = append(missing, "bin/"+f.name)
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("cluster: %s not found: run `make %s` (about 15 minutes the first time on two busy cores) or set %s",
			strings.Join(missing, ", "), strings.Join(missing, " "), "TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_UI_SERVER")
	}
	return b, nil
}

func find(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "bin", name)
				if _, err := os.Stat(p); err == nil {
					return p
				}
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// Start creates and migrates the databases when needed, runs the server
// and the UI, waits until the frontend is healthy, and registers the
// namespaces and the project's search attributes (each only when missing).
// ctx bounds only the start. Stop it with Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Binaries.Server == "" {
		b, err := findBinaries(o.UIPort >= 0)
		if err != nil {
			return nil, err
		}
		o.Binaries = b
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = DefaultDatabaseURL
	}
	if o.DatabasePrefix == "" {
		o.DatabasePrefix = "temporal"
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "temporal-cluster-")
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		o.Dir = d
	}
	dbp, err := parseDatabaseURL(o.DatabaseURL, o.DatabasePrefix)
	if err != nil {
		return nil, err
	}
	p, err := pickPorts(o.Port, o.UIPort)
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, ports: p, db: dbp,
		Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Frontend))}
	if p.UI > 0 {
		s.UIURL = "http://127.0.0.1:" + strconv.Itoa(p.UI)
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s.logFile, err = os.OpenFile(filepath.Join(o.Dir, "logs", "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}

	if err := s.setupSchema(ctx); err != nil {
		_ = s.logFile.Close()
		return nil, err
	}
	if err := s.startServer(ctx); err != nil {
		_ = s.logFile.Close()
		return nil, err
	}
	if p.UI > 0 {
		// The UI dials the frontend lazily, so it outlives a Restart.
		ui, err := startProc(s.o.Binaries.UI, s.logFile, s.o.Output,
			"--root", filepath.Join(o.Dir, "ui"), "--config", "config", "--env", "development", "start")
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.ui = ui
		if err := waitReachable(ctx, ui, "127.0.0.1:"+strconv.Itoa(p.UI)); err != nil {
			_ = s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Exited is closed when the server process has exited, whoever stopped it.
// After a Restart it is the new process's.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server.exited
}

// Stop ends the server and the UI and waits for them. The server's own
// complaints while it shuts down (its internal workers lose their
// connections) are dropped from Output, not from the log file. A stopped
// Server is not restarted.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv, ui := s.server, s.ui
	s.mu.Unlock()
	var errs []error
	if ui != nil {
		errs = append(errs, ui.stop())
	}
	if srv != nil {
		errs = append(errs, srv.stop())
	}
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
	return errors.Join(errs...)
}

// Kill ends the server process at once (SIGKILL), as a crash would, and
// waits for it to be gone; the UI stays. For fault injection: Restart
// brings the server back.
func (s *Server) Kill() {
	s.mu.Lock()
	srv := s.server
	s.mu.Unlock()
	srv.kill()
}

// Restart stops the server (when it still runs) and starts it again on the
// same ports and databases, then waits for it as Start does: workflows
// survive it.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	srv := s.server
	s.mu.Unlock()
	if err := srv.stop(); err != nil {
		return err
	}
	return s.startServer(ctx)
}

func (s *Server) startServer(ctx context.Context) error {
	srv, err := startProc(s.o.Binaries.Server, s.logFile, s.o.Output,
		"--root", s.o.Dir, "--config", "config", "--env", "development", "--allow-no-auth", "start")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	fail := func(err error) error {
		_ = srv.stop()
		return fmt.Errorf("%w; its log: %s", err, s.logFile.Name())
	}
	if err := waitHealthy(ctx, srv, s.Address); err != nil {
		return fail(err)
	}
	if err := s.register(ctx, srv); err != nil {
		return fail(err)
	}
	return nil
}

// register adds the namespaces and the search attributes when missing. A
// fresh server answers its health check before the history shards are
// owned, and its first calls may fail: they are retried until ctx ends.
func (s *Server) register(ctx context.Context, srv *proc) error {
	namespaces := []string{"default"}
	if s.o.Namespace != "" && s.o.Namespace != "default" {
		namespaces = append(namespaces, s.o.Namespace)
	}
	var last error
	for {
		if last = s.registerOnce(ctx, namespaces); last == nil {
			return nil
		}
		select {
		case <-srv.exited:
			return fmt.Errorf("cluster: the server exited while registering namespaces: %v", last)
		case <-ctx.Done():
			return fmt.Errorf("cluster: register namespaces and search attributes: %w (last: %v)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Server) registerOnce(ctx context.Context, namespaces []string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: s.Address, Logger: quiet{}})
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, ns := range namespaces {
		err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("register namespace %s: %w", ns, err)
		}
		// The namespace registry is a cache: wait until the frontend
		// itself knows the namespace before using it.
		if _, err := nc.Describe(ctx, ns); err != nil {
			return fmt.Errorf("describe namespace %s: %w", ns, err)
		}
		c, err := client.Dial(client.Options{HostPort: s.Address, Namespace: ns, Logger: quiet{}})
		if err != nil {
			return err
		}
		err = temporalx.RegisterSearchAttributes(ctx, c, ns)
		c.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// quiet drops the SDK's own log lines (its retries while the server warms up).
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

// dbParams are the pieces of the database URL the server and the schema
// tool take.
type dbParams struct {
	host, port, user, password string
	adminURL                   string
	main, visibility           string
}

func parseDatabaseURL(raw, prefix string) (dbParams, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return dbParams{}, fmt.Errorf("cluster: database URL: not a postgres:// URL")
	}
	p := dbParams{host: u.Hostname(), port: u.Port(), user: u.User.Username(), adminURL: raw,
		main: prefix, visibility: prefix + "_visibility"}
	p.password, _ = u.User.Password()
	if p.port == "" {
		p.port = "5432"
	}
	if p.user == "" {
		p.user = "postgres"
	}
	return p, nil
}

// setupSchema creates the two databases when missing and brings their
// schemas to the server's version: the schema tool's setup-schema (its
// version tables, only on a fresh database) and update-schema (which does
// only what is missing) with the schemas embedded in the tool.
func (s *Server) setupSchema(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.db.adminURL)
	if err != nil {
		return fmt.Errorf("cluster: connect to Postgres at %s:%s: %w; is it running? `make postgres` starts it", s.db.host, s.db.port, err)
	}
	defer conn.Close(context.Background())
	for _, d := range []struct{ name, schema string }{
		{s.db.main, "postgresql/v12/temporal"},
		{s.db.visibility, "postgresql/v12/visibility"},
	} {
		fresh, err := createDatabase(ctx, conn, d.name)
		if err != nil {
			return err
		}
		if fresh {
			if err := s.sqlTool(ctx, d.name, "setup-schema", "-v", "0.0"); err != nil {
				return err
			}
		}
		if err := s.sqlTool(ctx, d.name, "update-schema", "--schema-name", d.schema); err != nil {
			return err
		}
	}
	return nil
}

// createDatabase creates name unless it exists with the schema tool's
// version table; fresh says the schema's setup is still to do (also when
// an earlier start created the database and died before setting it up).
func createDatabase(ctx context.Context, conn *pgx.Conn, name string) (fresh bool, err error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("cluster: look up database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database: created meanwhile
				return false, fmt.Errorf("cluster: create database %s: %w", name, err)
			}
		}
		return true, nil
	}
	u, err := url.Parse(conn.Config().ConnString())
	if err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	u.Path = "/" + name
	db, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return false, fmt.Errorf("cluster: connect to database %s: %w", name, err)
	}
	defer db.Close(context.Background())
	var versioned bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('public.schema_version') IS NOT NULL`).Scan(&versioned); err != nil {
		return false, fmt.Errorf("cluster: look at database %s: %w", name, err)
	}
	return !versioned, nil
}

func (s *Server) sqlTool(ctx context.Context, database string, args ...string) error {
	args = append([]string{"--plugin", "postgres12", "--ep", s.db.host, "-p", s.db.port, "-u", s.db.user, "--db", database}, args...)
	cmd := exec.CommandContext(ctx, s.o.Binaries.SQLTool, args...)
	// The password goes in the environment, not on a command line that
	// ps shows.
	cmd.Env = append(os.Environ(), "SQL_PASSWORD="+s.db.password)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cluster: temporal-sql-tool %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	_, _ = s.logFile.Write(out.Bytes())
	return nil
}

// ports are every listener of the cluster, fixed at Start so a Restart
// comes back where clients and the UI expect it.
type ports struct {
	Frontend, FrontendHTTP, FrontendMembership int
	History, HistoryMembership                 int
	Matching, MatchingMembership               int
	Worker, WorkerMembership                   int
	UI                                         int // -1: none
}

func pickPorts(frontend, ui int) (ports, error) {
	// Every listener is held open until all are chosen, so no two are the
	// same port.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	// Not the kernel's pick (port 0): that comes from the ephemeral range,
	// above 32767, and the server records its membership ports in a
	// smallint column (cluster_membership.rpc_port), failing at start with
	// "out of range for type smallint". Below the ephemeral range, no
	// outgoing connection takes the port between a Stop and a Restart
	// either.
	free := func(p *int) error {
		if *p > 0 {
			// A port asked for must be free now: a dev server already
			// there would otherwise make the server exit at start with
			// the reason only in its log.
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*p)))
			if err != nil {
				return fmt.Errorf("cluster: port %d on 127.0.0.1 is taken (a Temporal dev server, or a cluster already running?): %w", *p, err)
			}
			ls = append(ls, l)
			return nil
		}
		if *p < 0 {
			return nil
		}
		for range 200 {
			port := 20000 + mrand.IntN(12000)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				continue
			}
			ls = append(ls, l)
			*p = port
			return nil
		}
		return errors.New("cluster: no free port found between 20000 and 32000")
	}
	p := ports{Frontend: frontend, UI: ui}
	for _, f := range []*int{&p.Frontend, &p.FrontendHTTP, &p.FrontendMembership, &p.History, &p.HistoryMembership,
		&p.Matching, &p.MatchingMembership, &p.Worker, &p.WorkerMembership, &p.UI} {
		if err := free(f); err != nil {
			return p, err
		}
	}
	return p, nil
}

// writeConfig writes the server's configuration (modelled on the server
// module's config/development-postgres12.yaml, every service on loopback),
// its dynamic configuration, and the UI's.
func (s *Server) writeConfig() error {
	files := map[string]*template.Template{
		filepath.Join(s.o.Dir, "config", "development.yaml"):              serverConfig,
		filepath.Join(s.o.Dir, "config", "dynamicconfig", "cluster.yaml"): dynamicConfig,
	}
	if s.ports.UI > 0 {
		files[filepath.Join(s.o.Dir, "ui", "config", "base.yaml")] = uiConfig
	}
	type db struct{ Main, Visibility, Host, Port, User, Password string }
	data := struct {
		P   ports
		DB  db
		Dir string
	}{s.ports, db{s.db.main, s.db.visibility, s.db.host, s.db.port, s.db.user, s.db.password}, s.o.Dir}
	for path, t := range files {
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("cluster: %s: %w", path, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		// 0600: the server's configuration holds the database password.
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// yamlString quotes s for YAML (a JSON string is a YAML string).
func yamlString(s string) string { return strconv.Quote(s) }

var funcs = template.FuncMap{"q": yamlString}

var serverConfig = template.Must(template.New("server").Funcs(funcs).Parse(`# Written by internal/cluster; rewritten at every start.
log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  # Fixed when the cluster is first created; four is plenty on a laptop.
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: {{q .DB.Main}}
        connectAddr: {{q (printf "%s:%s" .DB.Host .DB.Port)}}
        connectProtocol: "tcp"
        user: {{q .DB.User}}
        password: {{q .DB.Password}}
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: {{q .DB.Visibility}}
        connectAddr: {{q (printf "%s:%s" .DB.Host .DB.Port)}}
        connectProtocol: "tcp"
        user: {{q .DB.User}}
        password: {{q .DB.Password}}
        maxConns: 4
        maxIdleConns: 4
        maxConnLifetime: "1h"

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
  frontend:
    rpc:
      grpcPort: {{.P.Frontend}}
      membershipPort: {{.P.FrontendMembership}}
      httpPort: {{.P.FrontendHTTP}}
      bindOnIP: "127.0.0.1"
  history:
    rpc:
      grpcPort: {{.P.History}}
      membershipPort: {{.P.HistoryMembership}}
      bindOnIP: "127.0.0.1"
  matching:
    rpc:
      grpcPort: {{.P.Matching}}
      membershipPort: {{.P.MatchingMembership}}
      bindOnIP: "127.0.0.1"
  worker:
    rpc:
      grpcPort: {{.P.Worker}}
      membershipPort: {{.P.WorkerMembership}}
      bindOnIP: "127.0.0.1"

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:{{.P.Frontend}}"
      httpAddress: "127.0.0.1:{{.P.FrontendHTTP}}"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: {{q (printf "%s/config/dynamicconfig/cluster.yaml" .Dir)}}
  pollInterval: "10s"
`))

// dynamicConfig mirrors what internal/devserver gives the dev server (its
// --dynamic-config-value flags and the CLI's own defaults), so the app
// meets the same server behaviour on both; but for the task queues'
// partitions, which stay at the server's default here, as in production
// (matching spread over hosts, many pollers).
var dynamicConfig = template.Must(template.New("dynamic").Parse(`# Written by internal/cluster; rewritten at every start.
# As internal/devserver's --dynamic-config-value: an activity scheduled by a
# workflow task comes back in that task's answer.
system.enableActivityEagerExecution:
  - value: true
# The web role starts calls with update-with-start.
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableExecuteMultiOperation:
  - value: true
# As the CLI's dev server: search attributes usable as soon as added, with
# the persistence rates raised to match, a larger mutable state cache and
# more visibility queries per second.
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.persistenceMaxQPS:
  - value: 10000
history.persistenceMaxQPS:
  - value: 45000
history.hostLevelCacheMaxSize:
  - value: 8096
frontend.namespaceRPS.visibility:
  - value: 100
limit.maxIDLength:
  - value: 255
`))

var uiConfig = template.Must(template.New("ui").Parse(`# Written by internal/cluster; rewritten at every start.
temporalGrpcAddress: 127.0.0.1:{{.P.Frontend}}
host: 127.0.0.1
port: {{.P.UI}}
publicPath: ""
enableUi: true
defaultNamespace: default
refreshInterval: 1m
notifyOnNewVersion: false
cors:
  cookieInsecure: true
codec:
  endpoint: ""
`))

// proc is one child process in its own process group, so a terminal's
// Ctrl-C reaches only us and we stop it in order; it is sent SIGTERM if our
// process dies first.
type proc struct {
	cmd    *exec.Cmd
	out    *gate
	err    error // set before exited closes
	exited chan struct{}
}

// Its output goes to log, and to out until it is stopped.
func startProc(binary string, log, out io.Writer, args ...string) (*proc, error) {
	g := &gate{w: out}
	w := io.MultiWriter(log, g)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster: start %s: %w", binary, err)
	}
	p := &proc{cmd: cmd, out: g, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits, killing after 30s (the server drains its
// shards first).
func (p *proc) stop() error {
	p.out.close()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("cluster: %s killed after 30s", filepath.Base(p.cmd.Path))
	}
}

func (p *proc) kill() {
	p.out.close()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// gate passes writes through until closed, then drops them.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gate) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(b), nil
	}
	return g.w.Write(b)
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// waitHealthy waits until the frontend's health check says SERVING (as
// internal/devserver does: it accepts connections a moment before).
func waitHealthy(ctx context.Context, p *proc, address string) error {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	for {
		if serving(ctx, health) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("cluster: the server exited before it was ready: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("cluster: the server is not ready on %s: %w", address, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitReachable(ctx context.Context, p *proc, address string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if conn, err := net.DialTimeout("tcp", address, 500*time.Millisecond); err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("cluster: the UI server exited before it listened: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("cluster: the UI server is not listening on %s: %w", address, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func serving(ctx context.Context, health healthpb.HealthClient) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "temporal.api.workflowservice.v1.WorkflowService"})
	return err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING
}
