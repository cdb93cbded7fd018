package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mobayilo/mobayilo/internal/cluster"
	"github.com/mobayilo/mobayilo/internal/devserver"
)

// The stack's shapes.
const (
	// ShapeDev: the Temporal CLI's dev server (one process, SQLite).
	ShapeDev = "dev"
	// ShapeCluster: the Temporal server itself on Postgres
	// (internal/cluster), as production runs a cluster.
	ShapeCluster = "cluster"
)

func (o StackOptions) validateShape() error {
	switch o.Shape {
	case "", ShapeDev, ShapeCluster:
	default:
		return fmt.Errorf("load: -shape must be %s or %s, not %q", ShapeDev, ShapeCluster, o.Shape)
	}
	if o.Webs < 0 || o.Webs > 16 || o.Workers < 0 || o.Workers > 16 {
		return errors.New("load: -webs and -workers must be 1 to 16")
	}
	return nil
}

// Instances are how many webs and workers o starts: as asked, or when 0,
// two of each in the cluster shape and one in the dev shape.
func Instances(shape string, webs, workers int) (int, int) {
	def := 1
	if shape == ShapeCluster {
		def = 2
	}
	if webs == 0 {
		webs = def
	}
	if workers == 0 {
		workers = def
	}
	return webs, workers
}

// instance is one web or worker process slot: a web's keeps its port
// across restarts; a worker's is restarted by its supervisor.
type instance struct {
	role, name string
	addr       string // a web's HTTP_ADDR
	cmd        *exec.Cmd
	done       <-chan struct{}
}

// instanceName is "web", "web-2", …: the first keeps the one-instance
// name, so a run of one of each writes web.log and worker.log as before.
func instanceName(role string, i int) string {
	if i == 0 {
		return role
	}
	return role + "-" + strconv.Itoa(i+1)
}

func (in *instance) logPath(dir string) string { return filepath.Join(dir, in.name+".log") }

// temporalServer is the stack's Temporal: the dev server or the cluster.
type temporalServer interface {
	address() string
	restart(ctx context.Context, down time.Duration) error
	stop() error
}

type devTemporal struct {
	srv *devserver.Server
	opt devserver.Options
}

func (d *devTemporal) address() string { return d.srv.Address }
func (d *devTemporal) stop() error     { return d.srv.Stop() }
func (d *devTemporal) restart(ctx context.Context, down time.Duration) error {
	if err := d.srv.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	srv, err := devserver.Start(ctx, d.opt)
	if err != nil {
		return err
	}
	d.srv = srv
	return nil
}

type clusterTemporal struct{ srv *cluster.Server }

func (c *clusterTemporal) address() string { return c.srv.Address }
func (c *clusterTemporal) stop() error     { return c.srv.Stop() }
func (c *clusterTemporal) restart(ctx context.Context, down time.Duration) error {
	// As a crash of the whole cluster would: SIGKILL, then a start on the
	// same databases.
	c.srv.Kill()
	time.Sleep(down)
	return c.srv.Restart(ctx)
}

// startTemporal starts the shape's Temporal on loopback. The cluster's two
// databases are the run database's name with _temporal (and
// _temporal_visibility), dropped first: every run starts empty.
func (s *stack) startTemporal(ctx context.Context, shape string) (temporalServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(s.dir, "temporal.log"))
	if err != nil {
		return nil, err
	}
	if shape != ShapeCluster {
		opt := devserver.Options{Port: port, UIPort: -1, DBFile: filepath.Join(s.dir, "temporal.db"), Output: log}
		srv, err := devserver.Start(ctx, opt)
		if err != nil {
			return nil, err
		}
		return &devTemporal{srv: srv, opt: opt}, nil
	}
	u, err := url.Parse(s.dbURL)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimPrefix(u.Path, "/") + "_temporal"
	if err := resetDatabases(ctx, s.dbURL, []string{prefix, prefix + "_visibility"}, ""); err != nil {
		return nil, err
	}
	admin := *u
	admin.Path = "/postgres"
	// The cluster picks its own ports (below 32768: the server keeps them
	// in a smallint); its UI on one too, for a person watching the run.
	srv, err := cluster.Start(ctx, cluster.Options{DatabaseURL: admin.String(), DatabasePrefix: prefix,
		Dir: filepath.Join(s.dir, "temporal-cluster"), Output: log})
	if err != nil {
		return nil, err
	}
	return &clusterTemporal{srv: srv}, nil
}

// resetDatabases drops a previous run's databases (drop), on dbURL's
// server, and creates create when it is not "".
func resetDatabases(ctx context.Context, dbURL string, drop []string, create string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("load: connect to Postgres: %w", err)
	}
	defer conn.Close(ctx)
	for _, n := range drop {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	if create == "" {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{create}.Sanitize())
	return err
}

// balancer is the tool's load balancer in front of several web instances,
// as production's would be: each request to the next instance in turn (no
// stickiness: a status callback regularly lands on another instance than
// the browser's live stream), an instance that refuses connections (killed)
// skipped for a second and the request tried on the next. A request in
// flight on an instance that dies fails as it would behind a real one: a
// 502.
type balancer struct {
	url      string
	backends []*instance
	next     atomic.Uint64
	srv      *http.Server
	http     *http.Transport

	mu        sync.Mutex
	downUntil map[int]time.Time
	// callbacks: for each call, the instances that took its final status
	// callbacks (CallStatus final, or the Dial action).
	callbacks map[string]map[string]bool
}

// instanceHeader names, on every answer through the balancer, the web
// instance that gave it (as many balancers add one).
const instanceHeader = "X-Load-Instance"

func startBalancer(webs []*instance) (*balancer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{url: "http://" + l.Addr().String(), backends: webs, downUntil: map[int]time.Time{}, callbacks: map[string]map[string]bool{},
		http: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *balancer) close() {
	_ = b.srv.Close()
	b.http.CloseIdleConnections()
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Bodies are small (forms, JSON, webhooks): kept, to try another
	// instance when one refuses the connection.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "load balancer: read body", http.StatusBadRequest)
		return
	}
	n := len(b.backends)
	for try := 0; try < 2*n; try++ {
		i := int(b.next.Add(1) % uint64(n))
		if b.isDown(i) && try < n {
			continue
		}
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host = "http", b.backends[i].addr, r.Host
		out.RequestURI = ""
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := b.http.RoundTrip(out)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				b.markDown(i) // never reached it: safe to try the next
				continue
			}
			http.Error(w, "load balancer: "+err.Error(), http.StatusBadGateway)
			return
		}
		if r.URL.Path == "/api/webhooks/twilio/status" && resp.StatusCode < 300 {
			b.noteCallback(r.URL.Query(), body, b.backends[i].name)
		}
		w.Header().Set(instanceHeader, b.backends[i].name)
		copyResponse(w, resp)
		return
	}
	http.Error(w, "load balancer: no web instance answers", http.StatusBadGateway)
}

// noteCallback records which instance took a call's final status callback.
func (b *balancer) noteCallback(q url.Values, body []byte, instance string) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return
	}
	final := map[string]bool{"completed": true, "busy": true, "no-answer": true, "failed": true, "canceled": true}
	if !final[form.Get("CallStatus")] && !(q.Get("event") == "dial-action" && form.Get("DialCallStatus") != "") {
		return
	}
	id := q.Get("call_id")
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.callbacks[id] == nil {
		b.callbacks[id] = map[string]bool{}
	}
	b.callbacks[id][instance] = true
}

// finalCallbacks are the instances that took call id's final callbacks.
func (b *balancer) finalCallbacks(id string) map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.callbacks[id]
}

func (b *balancer) isDown(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.downUntil[i])
}

func (b *balancer) markDown(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.downUntil[i] = time.Now().Add(time.Second)
}

// copyResponse writes resp to w, flushing as it goes (the live stream is
// Server-Sent Events).
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	f, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
