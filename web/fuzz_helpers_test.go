package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// The fuzz targets here feed what strangers send (webhooks, forms, the
// dialer's JSON) through the real router on a real database. Each target
// builds one server and one database per fuzzing process; every input then
// goes straight to the handler (no network), and must get neither a panic
// nor a 5xx, and, when refused (4xx), must leave the tables it could touch
// as they were.

// fuzzApp is the real router on a real database, for fuzzing. Its logs go to
// a buffer that a failing input prints; its inbox is never delivered, so
// nothing changes the tables behind an input's back.
type fuzzApp struct {
	*app
	h    http.Handler
	logs *syncBuffer
	// digests are queries whose results a refusal must leave as they were;
	// nil means every row of fuzzTables.
	digests []string
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns what was logged since the last take.
func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// newFuzzApp starts the server on a fresh database; tc nil is a Temporal
// client of a closed port (for targets that never reach Temporal).
func newFuzzApp(f *testing.F, vars map[string]string, pool *pgxpool.Pool, tc client.Client) *fuzzApp {
	f.Helper()
	if pool == nil {
		pool = testdb.New(f)
	}
	if tc == nil {
		tc = lazyTemporal(f, closedAddress(f))
	}
	if _, err := ratedeck.LoadSampleIfEmpty(context.Background(), pool); err != nil {
		f.Fatal(err)
	}
	fa := &fuzzApp{app: &app{t: f, pool: pool}, logs: &syncBuffer{}}
	fa.mailbox = mail.NewMailbox(zerolog.Nop())
	fa.srv = httptest.NewUnstartedServer(nil)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["PUBLIC_BASE_URL"] = "http://" + fa.srv.Listener.Addr().String()
	cfg := testConfig(f, vars)
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)
	log := zerolog.New(fa.logs).Level(zerolog.InfoLevel)
	s := webtest.New(f, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: log, Mailer: fa.mailbox, Rules: rules,
		Deliverer: inbox.NewDeliverer(pool, tc, log)})
	fa.cfg, fa.web = cfg, s
	fa.h = s.Handler()
	fa.srv.Config.Handler = fa.h
	fa.srv.Start()
	f.Cleanup(fa.srv.Close)
	return fa
}

// serve runs req through the router and returns the response.
func (fa *fuzzApp) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fa.h.ServeHTTP(rec, req)
	return rec
}

// sessionCookie is the session cookie b holds for the app.
func (b *browser) sessionCookie() *http.Cookie {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.a.srv.URL, nil)
	for _, c := range b.http.Jar.Cookies(req.URL) {
		if c.Name == "mobayilo_session" {
			return c
		}
	}
	b.t.Fatal("no session cookie")
	return nil
}

// formRequest is a same-origin form POST, as a browser sends it.
func (fa *fuzzApp) formRequest(path, body string, cookie *http.Cookie) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", fa.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return req
}

// fuzzTables are the tables a stranger's request could change, except those
// a refusal is meant to write (sign-in failures, the session store).
var fuzzTables = []string{"users", "accounts", "transactions", "calls", "call_events", "webhook_events", "topups", "password_resets"}

// digestSQL is a digest of every row of a table.
func digestSQL(table string) string {
	return fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM %s t`, table)
}

// snapshot is a digest of what a refusal must not change: fa.digests if
// set, else every row of fuzzTables.
func (fa *fuzzApp) snapshot(t *testing.T) string {
	t.Helper()
	digests := fa.digests
	if digests == nil {
		for _, table := range fuzzTables {
			digests = append(digests, digestSQL(table))
		}
	}
	var parts []string
	for _, q := range digests {
		var sum string
		if err := fa.pool.QueryRow(context.Background(), q).Scan(&sum); err != nil {
			t.Fatalf("snapshot %s: %v", q, err)
		}
		parts = append(parts, sum)
	}
	return strings.Join(parts, " ")
}

// check fails the input on a 5xx, and on a 4xx that changed a table since
// before.
func (fa *fuzzApp) check(t *testing.T, what string, rec *httptest.ResponseRecorder, before string) {
	t.Helper()
	logs := fa.logs.take()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d: %s\nlogs:\n%s", what, rec.Code, truncate(rec.Body.String(), 200), truncate(logs, 4000))
	}
	if rec.Code >= 400 {
		if after := fa.snapshot(t); after != before {
			t.Fatalf("%s: refused with %d but changed the database:\nbefore %s\nafter  %s\nlogs:\n%s", what, rec.Code, before, after, truncate(logs, 4000))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}
