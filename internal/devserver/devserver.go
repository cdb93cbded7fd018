// Package devserver starts the Temporal CLI's development server, bound to
// loopback, with Mobayilo's search attributes registered. `mobayilo dev` and
// the integration tests use it.
//
// The CLI is built once into bin/ (`make bin/temporal`, which runs
// `GOBIN=$PWD/bin go install github.com/temporalio/cli/cmd/temporal@v1.5.1`);
// later CLI versions cannot be installed that way.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mobayilo/mobayilo/workflows"
)

// CLIVersion is the Temporal CLI the project builds and expects.
const CLIVersion = "v1.5.1"

// Options say where and how to run the server.
type Options struct {
	Binary    string // path to the temporal CLI; FindBinary when empty
	Port      int    // frontend gRPC port; a free one when 0
	UIPort    int    // Web UI port; a free one when 0; -1 runs headless
	DBFile    string // SQLite file that keeps workflows across restarts; in memory when empty
	Namespace string // created at start besides "default"
	Output    io.Writer
	// WithoutSearchAttributes starts a bare server, as one not started by
	// this project would be (tests of registering them on a reused server).
	WithoutSearchAttributes bool
}

// Server is a running dev server.
type Server struct {
	Address string // host:port of the frontend
	UIURL   string // empty when headless
	cmd     *exec.Cmd
	out     *gate
	done    chan error
	exited  chan struct{}
}

// FindBinary looks for the Temporal CLI: $TEMPORAL_CLI, then bin/temporal in
// the module root above the working directory, then PATH.
func FindBinary() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "bin", "temporal")
				if _, err := os.Stat(p); err == nil {
					return p, nil
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
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", errors.New("devserver: no Temporal CLI found: run `make bin/temporal` " +
		"(GOBIN=$PWD/bin go install github.com/temporalio/cli/cmd/temporal@" + CLIVersion + ") or set TEMPORAL_CLI")
}

// Args returns the CLI arguments for o, with the project's search
// attributes registered.
func Args(o Options) []string {
	args := []string{"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(o.Port),
		"--log-level", "warn",
	}
	if o.UIPort < 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-ip", "127.0.0.1", "--ui-port", strconv.Itoa(o.UIPort))
	}
	if o.DBFile != "" {
		// WAL: readers do not wait for the writer, and a commit is one
		// append; NORMAL syncs at checkpoints, not at every commit (a
		// machine crash may lose the last commits; a process crash none).
		args = append(args, "--db-filename", o.DBFile,
			"--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL")
	}
	// An activity scheduled by a workflow task comes back in that task's
	// answer to the worker that has a free slot, not through the queue.
	args = append(args, "--dynamic-config-value", "system.enableActivityEagerExecution=true")
	// One partition per task queue, not the server's four: on one node the
	// partitions buy no throughput, and a task added to a partition whose
	// poller is busy waits in its backlog (or for the rate-limited forward
	// to the root) until a poll lands there; first workflow tasks waited
	// 0.5-2 s that way, the floor's too (OPERATIONS, Benchmarks).
	args = append(args, "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1")
	if o.Namespace != "" && o.Namespace != "default" {
		args = append(args, "--namespace", o.Namespace)
	}
	if !o.WithoutSearchAttributes {
		for _, name := range workflows.SearchAttributeNames() {
			args = append(args, "--search-attribute", name+"=Keyword")
		}
	}
	return args
}

// Start runs the dev server and waits until its frontend accepts
// connections; ctx bounds only that wait. Stop it with Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Binary == "" {
		p, err := FindBinary()
		if err != nil {
			return nil, err
		}
		o.Binary = p
	}
	var err error
	if o.Port == 0 {
		if o.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if o.UIPort == 0 {
		if o.UIPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if o.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o755); err != nil {
			return nil, fmt.Errorf("devserver: %w", err)
		}
	}
	if o.Output == nil {
		o.Output = io.Discard
	}

	// The server gets its own process group, so a terminal's Ctrl-C reaches
	// only us and we stop it in order (Stop); it is also sent SIGTERM if our
	// process dies first.
	out := &gate{w: o.Output}
	cmd := exec.Command(o.Binary, Args(o)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start %s: %w", o.Binary, err)
	}
	s := &Server{Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)), cmd: cmd, out: out, done: make(chan error, 1), exited: make(chan struct{})}
	if o.UIPort > 0 {
		s.UIURL = "http://127.0.0.1:" + strconv.Itoa(o.UIPort)
	}
	go func() {
		err := cmd.Wait()
		s.done <- err
		close(s.exited)
	}()

	// Ready is healthy, not merely listening: the frontend accepts
	// connections a moment before its health check (which a client's Dial
	// asks) says SERVING, and on a loaded machine that moment is long.
	conn, err := grpc.NewClient(s.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("devserver: %w", err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		if Reachable(s.Address) && serving(ctx, health) {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("devserver: exited before it was ready: %v", err)
		case <-deadline.C:
			_ = s.Stop()
			return nil, fmt.Errorf("devserver: not ready on %s after 60s", s.Address)
		case <-ctx.Done():
			_ = s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Exited is closed when the server process has exited, whoever stopped it.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop ends the server and waits for it. The server's own complaints while
// it shuts down (its internal workers lose their connections) are dropped.
func (s *Server) Stop() error {
	s.out.close()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err // a second Stop returns at once
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		return errors.New("devserver: killed after 15s")
	}
}

// gate passes writes through until closed, then drops them.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// serving reports whether the frontend's health check says SERVING.
func serving(ctx context.Context, health healthpb.HealthClient) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "temporal.api.workflowservice.v1.WorkflowService"})
	return err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING
}

// Reachable reports whether something accepts TCP connections at address.
func Reachable(address string) bool {
	conn, err := net.DialTimeout("tcp", address, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
