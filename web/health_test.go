package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

func getJSON(t *testing.T, h http.Handler, path string) (int, map[string]any) {
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
		name                     string
		pool                     *pgxpool.Pool
		temporal                 client.Client
		status                   int
		wantPostgres, wantTempor string
	}{
		{"both up", pool, up, 200, "ok", "ok"},
		{"temporal down", pool, down, 503, "ok", "unavailable"},
		{"postgres down", deadPool, up, 503, "unavailable", "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			empty, _ := rating.NewDeck(nil)
			s := webtest.New(t, web.Deps{Config: testConfig(t, nil), Pool: tc.pool, Temporal: tc.temporal, Log: zerolog.Nop(), Rates: ratedeck.NewFixedStore(empty)})
			h := s.Handler()
			// The dev server may need a moment before its health check passes.
			var code int
			var body map[string]any
			for deadline := time.Now().Add(20 * time.Second); ; {
				code, body = getJSON(t, h, "/readyz")
				if code == tc.status || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			checks, _ := body["checks"].(map[string]any)
			if code != tc.status || checks["postgres"] != tc.wantPostgres || checks["temporal"] != tc.wantTempor {
				t.Fatalf("readyz: %d %v, want %d postgres=%s temporal=%s", code, body, tc.status, tc.wantPostgres, tc.wantTempor)
			}
			// Liveness never depends on the others.
			if code, body := getJSON(t, h, "/healthz"); code != 200 || body["status"] != "ok" {
				t.Fatalf("healthz: %d %v", code, body)
			}
		})
	}
}
