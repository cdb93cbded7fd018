package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		if k == "APP_ENV" {
			return "test"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func lazyTemporal(t *testing.T, address string) client.Client {
	t.Helper()
	c, err := temporalx.Lazy(temporalx.Options{Address: address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closedAddress is a loopback port nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func get(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", path, rec.Body.String(), err)
	}
	return rec.Code, body
}

func TestReadinessFollowsPostgresAndTemporal(t *testing.T) {
	pool := testdb.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, Output: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	up := lazyTemporal(t, srv.Address)
	down := lazyTemporal(t, closedAddress(t))
	deadPool, err := pgxpool.New(ctx, "postgres://postgres@"+closedAddress(t)+"/postgres?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer deadPool.Close()

	cases := []struct {
		name                       string
		pool                       *pgxpool.Pool
		temporal                   client.Client
		status                     int
		wantPostgres, wantTemporal string
	}{
		{"both up", pool, up, 200, "ok", "ok"},
		{"temporal down", pool, down, 503, "ok", "unavailable"},
		{"postgres down", deadPool, up, 503, "unavailable", "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := web.New(testConfig(t), tc.pool, tc.temporal, zerolog.Nop()).Handler()
			// The dev server may need a moment before its health check passes.
			var code int
			var body map[string]any
			for deadline := time.Now().Add(20 * time.Second); ; {
				code, body = get(t, h, "/readyz")
				if code == tc.status || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			checks, _ := body["checks"].(map[string]any)
			if code != tc.status || checks["postgres"] != tc.wantPostgres || checks["temporal"] != tc.wantTemporal {
				t.Fatalf("readyz: %d %v, want %d postgres=%s temporal=%s", code, body, tc.status, tc.wantPostgres, tc.wantTemporal)
			}
			// Liveness never depends on the others.
			if code, body := get(t, h, "/healthz"); code != 200 || body["status"] != "ok" {
				t.Fatalf("healthz: %d %v", code, body)
			}
		})
	}
}

func TestRequestsAreLoggedWithoutQueryStrings(t *testing.T) {
	var buf safeBuffer
	h := web.New(testConfig(t), nil, nil, zerolog.New(&buf)).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz?token=secret-reset-token", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	line := buf.String()
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	if entry["path"] != "/healthz" || entry["status"] != float64(200) || entry["request_id"] == "" {
		t.Fatalf("log line %v", entry)
	}
	if strings.Contains(line, "secret-reset-token") {
		t.Fatalf("the query string reached the log: %s", line)
	}
}

func TestUnknownPathIs404(t *testing.T) {
	h := web.New(testConfig(t), nil, nil, zerolog.Nop()).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
