package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

func testConfig(t testing.TB, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
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

func lazyTemporal(t testing.TB, address string) client.Client {
	t.Helper()
	c, err := temporalx.Lazy(temporalx.Options{Address: address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closedAddress is a loopback port nothing listens on.
func closedAddress(t testing.TB) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// app is the real router on a real database, served on loopback.
type app struct {
	t         testing.TB
	srv       *httptest.Server
	pool      *pgxpool.Pool
	mailbox   *mail.Mailbox
	usedLinks []string
	cfg       config.Config
	web       *web.Server
}

func newApp(t testing.TB, vars map[string]string) *app {
	t.Helper()
	return startApp(t, vars, mail.NewMailbox(zerolog.Nop()))
}

// newAppWithDevMailbox lets the server pick its own mailer, as `dev` does.
func newAppWithDevMailbox(t testing.TB) *app {
	t.Helper()
	return startApp(t, nil, nil)
}

func startApp(t testing.TB, vars map[string]string, mailbox *mail.Mailbox) *app {
	t.Helper()
	return startAppWith(t, vars, mailbox, nil, nil)
}

// startAppWith is startApp on a given database and Temporal client (nil:
// a fresh database, and a client of a closed port).
func startAppWith(t testing.TB, vars map[string]string, mailbox *mail.Mailbox, pool *pgxpool.Pool, tc client.Client) *app {
	t.Helper()
	return startAppWithMetrics(t, vars, mailbox, pool, tc, nil)
}

// startAppWithMetrics is startAppWith with the web server counting into m.
func startAppWithMetrics(t testing.TB, vars map[string]string, mailbox *mail.Mailbox, pool *pgxpool.Pool, tc client.Client, m *metrics.Metrics) *app {
	t.Helper()
	if pool == nil {
		pool = testdb.New(t)
	}
	if tc == nil {
		tc = lazyTemporal(t, closedAddress(t))
	}
	if _, err := ratedeck.LoadSampleIfEmpty(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	a := &app{t: t, pool: pool, mailbox: mailbox}
	var mailer mail.Sender
	if mailbox != nil {
		mailer = mailbox
	}
	a.srv = httptest.NewUnstartedServer(nil)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["PUBLIC_BASE_URL"] = "http://" + a.srv.Listener.Addr().String()
	// Every test browser signs up from loopback: the per-address sign-up
	// limit is lifted unless a test is about it.
	if _, ok := vars["SIGNUP_MAX_PER_ADDRESS_PER_HOUR"]; !ok {
		vars["SIGNUP_MAX_PER_ADDRESS_PER_HOUR"] = "1000"
	}
	cfg := testConfig(t, vars)
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)
	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Mailer: mailer, Rules: rules, Metrics: m})
	a.cfg, a.web = cfg, s
	a.srv.Config.Handler = s.Handler()
	// As in production, a write timeout: streams must clear it for themselves.
	a.srv.Config.WriteTimeout = 3 * time.Second
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

// browser is one client with its own cookie jar; it does not follow
// redirects, so tests see each 303.
type browser struct {
	t    testing.TB
	a    *app
	http *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, a: a, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.a.srv.URL+path, nil)
	return b.do(req)
}

// post submits a form as a same-origin browser would.
func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.a.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) signUp(email, password, name string) {
	b.t.Helper()
	r := b.post("/signup", url.Values{"email": {email}, "password": {password}, "display_name": {name}, "home_country": {"NG"}})
	if r.status != http.StatusSeeOther || r.location != "/call" {
		b.t.Fatalf("sign up %s: %d %s\n%s", email, r.status, r.location, r.body)
	}
}

func (b *browser) signIn(email, password string) response {
	b.t.Helper()
	return b.post("/signin", url.Values{"email": {email}, "password": {password}})
}

var linkPattern = regexp.MustCompile(`http://[^\s]+/password/reset\?token=[A-Za-z0-9_-]+`)

// resetLink is the link in the newest reset email to addr (mail is sent
// just after the answer, so it waits a little for it).
func (a *app) resetLink(addr string) string {
	a.t.Helper()
	seen := map[string]bool{}
	for _, l := range a.usedLinks {
		seen[l] = true
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, m := range a.mailbox.Messages() {
			if link := linkPattern.FindString(m.Text); m.To == addr && link != "" && !seen[link] {
				a.usedLinks = append(a.usedLinks, link)
				return link
			}
		}
	}
	a.t.Fatalf("no new reset email to %s", addr)
	return ""
}
