package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// testClock is a clock the test moves forward.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newAppWithClock is newApp with the server's clock in the test's hands.
func newAppWithClock(t *testing.T, vars map[string]string) (*app, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Now()}
	pool := testdb.New(t)
	if _, err := ratedeck.LoadSampleIfEmpty(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	mailbox := mail.NewMailbox(zerolog.Nop())
	a := &app{t: t, pool: pool, mailbox: mailbox}
	a.srv = httptest.NewUnstartedServer(nil)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["PUBLIC_BASE_URL"] = "http://" + a.srv.Listener.Addr().String()
	cfg := testConfig(t, vars)
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)
	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: lazyTemporal(t, closedAddress(t)),
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Mailer: mailbox, Rules: rules, Now: clock.Now})
	a.cfg, a.web = cfg, s
	a.srv.Config.Handler = s.Handler()
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a, clock
}

func TestAdminSessionsEndSoonerWhenIdle(t *testing.T) {
	a, clock := newAppWithClock(t, map[string]string{"ADMIN_IDLE_TIMEOUT": "30m"})
	admin := signUpConsoleAdmin(a, "idle.admin@example.com")
	user := a.browser()
	user.signUp("idle.user@example.com", "correct horse", "User")

	if r := admin.get("/admin"); r.status != http.StatusOK {
		t.Fatalf("GET /admin: %d", r.status)
	}
	clock.advance(29 * time.Minute)
	if r := admin.get("/admin"); r.status != http.StatusOK {
		t.Fatalf("GET /admin after 29 idle minutes: %d", r.status)
	}
	clock.advance(31 * time.Minute)
	r := admin.get("/admin/users")
	if r.status != http.StatusSeeOther || r.location != "/signin?next=%2Fadmin%2Fusers" {
		t.Fatalf("GET /admin/users after 31 idle minutes: %d %s", r.status, r.location)
	}
	if page := admin.get("/signin").body; !strings.Contains(page, "signed out after 30m0s without activity") {
		t.Errorf("the sign-in page does not say why:\n%s", page)
	}
	if r := admin.get("/admin"); r.status != http.StatusNotFound {
		t.Fatalf("the idle admin's session still reaches the console: %d", r.status)
	}
	// A user's session is not an admin's: an hour idle is nothing.
	if r := user.get("/call"); r.status != http.StatusOK {
		t.Fatalf("user after an hour idle: %d %s", r.status, r.location)
	}
	// Signing in again starts afresh.
	if r := admin.signIn("idle.admin@example.com", "correct horse"); r.status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d", r.status)
	}
	if r := admin.get("/admin"); r.status != http.StatusOK {
		t.Fatalf("GET /admin after signing in again: %d", r.status)
	}
}

func TestAdminSensitiveActionsAskForThePasswordAgain(t *testing.T) {
	a, clock := newAppWithClock(t, map[string]string{"ADMIN_IDLE_TIMEOUT": "2h"})
	admin := signUpConsoleAdmin(a, "reauth.admin@example.com")
	target := a.browser()
	target.signUp("reauth.target@example.com", "correct horse", "Target")
	uid := userIDByEmail(a, "reauth.target@example.com")
	page := "/admin/users/" + uid.String()
	adjust := func(extra url.Values) response {
		form := url.Values{"key": {consoleFormKey(admin, page, adjustKeyPattern)}, "direction": {"credit"}, "amount": {"1.00"}, "reason": {"goodwill"}}
		for k, v := range extra {
			form[k] = v
		}
		return admin.post(page+"/adjust", form)
	}
	failures := func() int {
		var n int
		if err := a.pool.QueryRow(context.Background(), `SELECT coalesce(sum(failures), 0) FROM sign_in_failures WHERE scope = 'email' AND key = 'reauth.admin@example.com'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Just signed in: no prompt, the action goes through.
	if body := admin.get(page).body; strings.Contains(body, `name="confirm_password"`) {
		t.Fatal("a fresh session is asked for its password")
	}
	if r := adjust(nil); r.status != http.StatusSeeOther || walletBalance(a, uid) != 100 {
		t.Fatalf("fresh adjustment: %d, balance %d\n%s", r.status, walletBalance(a, uid), r.body)
	}

	// Sixteen minutes later the page asks, and nothing happens without it.
	clock.advance(16 * time.Minute)
	if body := admin.get(page).body; !strings.Contains(body, `name="confirm_password"`) {
		t.Fatal("a stale session's page has no password field")
	}
	if r := adjust(nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter your password to confirm") || walletBalance(a, uid) != 100 {
		t.Fatalf("stale adjustment without a password: %d, balance %d", r.status, walletBalance(a, uid))
	}
	before := failures()
	if r := adjust(url.Values{"confirm_password": {"wrong horse"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "That is not your password") || walletBalance(a, uid) != 100 {
		t.Fatalf("wrong password: %d, balance %d", r.status, walletBalance(a, uid))
	}
	if failures() != before+1 {
		t.Fatalf("a wrong password was not counted as a sign-in failure: %d then %d", before, failures())
	}
	if r := adjust(url.Values{"confirm_password": {"correct horse"}}); r.status != http.StatusSeeOther || walletBalance(a, uid) != 200 {
		t.Fatalf("right password: %d, balance %d\n%s", r.status, walletBalance(a, uid), r.body)
	}
	// Entered now, it vouches for the next quarter hour.
	clock.advance(10 * time.Minute)
	if r := adjust(nil); r.status != http.StatusSeeOther || walletBalance(a, uid) != 300 {
		t.Fatalf("adjustment within 15 minutes of re-entry: %d, balance %d", r.status, walletBalance(a, uid))
	}

	// Disabling a user asks too.
	clock.advance(20 * time.Minute)
	disable := func(extra url.Values) response {
		form := url.Values{"access_key": {consoleFormKey(admin, page, accessKeyPattern)}, "access_reason": {"fraud report"}}
		for k, v := range extra {
			form[k] = v
		}
		return admin.post(page+"/disable", form)
	}
	disabled := func() bool {
		var d bool
		if err := a.pool.QueryRow(context.Background(), `SELECT disabled_at IS NOT NULL FROM users WHERE id = $1`, uid).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if r := disable(nil); r.status != http.StatusUnprocessableEntity || disabled() {
		t.Fatalf("stale disable without a password: %d, disabled %v", r.status, disabled())
	}
	if r := disable(url.Values{"confirm_password": {"wrong horse"}}); r.status != http.StatusUnprocessableEntity || disabled() {
		t.Fatalf("stale disable, wrong password: %d, disabled %v", r.status, disabled())
	}
	if r := disable(url.Values{"confirm_password": {"correct horse"}}); r.status != http.StatusSeeOther || !disabled() {
		t.Fatalf("disable with the password: %d, disabled %v\n%s", r.status, disabled(), r.body)
	}

	// Importing a deck asks; checking one does not.
	clock.advance(20 * time.Minute)
	deck := []byte("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n234,NG,Nigeria,0.13,0,true\n")
	if r := uploadDeck(admin, "check", "", "deck.csv", deck); r.status != http.StatusOK {
		t.Fatalf("check with a stale password: %d", r.status)
	}
	if r := uploadDeck(admin, "import", "new deck", "deck.csv", deck); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `name="confirm_password"`) {
		t.Fatalf("stale import without a password: %d", r.status)
	}
	if _, _, _, found := deckRate(t, a, "44"); !found {
		t.Fatal("a refused import replaced the deck")
	}
}
