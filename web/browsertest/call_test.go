package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
)

// TestCallThroughTheSimulator is a whole call in Chromium at 360x740: the
// dialer, the carrier simulator playing Twilio in real time over signed
// webhooks, a real Temporal dev server and worker, and Postgres. The person
// types a number, sees its price, calls, sees ringing then in call, mutes
// and unmutes, sends a digit, hangs up, and finds the call billed on its
// page and in the history, the header balance lower by its cost.
func TestCallThroughTheSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	pool := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	if _, err := ratedeck.LoadSampleIfEmpty(ctx, pool); err != nil {
		t.Fatal(err)
	}
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, Output: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: srv.Address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	httpSrv := httptest.NewUnstartedServer(nil)
	base := "http://" + httpSrv.Listener.Addr().String()
	queue := "browser-" + uuid.NewString()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"APP_ENV": "test", "PUBLIC_BASE_URL": base, "TEMPORAL_TASK_QUEUE": queue}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{BaseURL: base, AuthToken: cfg.TwilioAuthToken, AccountSID: cfg.TwilioAccountSID,
		APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret, Ring: time.Second, Realtime: true}
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)

	watchCtx, stopWatch := context.WithCancel(context.Background())
	t.Cleanup(stopWatch)
	rates, err := ratedeck.NewStore(watchCtx, pool, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go rates.Watch(watchCtx, time.Minute)
	acts := activities.New(pool)
	acts.Rates, acts.Rules, acts.Calls = rates, rules, sim
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	s, err := web.New(web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer: mail.NewMailbox(zerolog.Nop()), Rules: rules, Simulator: sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	httpSrv.Config.Handler = s.Handler()
	httpSrv.Start()
	t.Cleanup(httpSrv.Close)

	b := startBrowser(t, ctx, execPath)
	b.do(phone(viewportHeight))
	out := filepath.Join(repoRoot(t), "test-output")
	_ = os.MkdirAll(out, 0o755)

	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Tunde"),
		chromedp.SendKeys(chromedp.CSS("#email"), "tunde@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", `document.querySelector("turbo-stream-source#live")?.streamSource?.readyState === 1`)
	var account uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'tunde@example.com'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:tunde", AccountID: account, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance to arrive", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$5.00"`)

	// Type a national number (home country Nigeria) and see its price.
	for _, ch := range "08031234567" {
		b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
	}
	b.waitFor("the price line", `document.querySelector("#rate-quote").textContent.includes("$0.14/min") && !document.querySelector("[data-dialer-target=call]").disabled`)
	b.screenshot(filepath.Join(out, "call-dialer.png"))

	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	status := `document.querySelector("[data-call-target=status]").textContent.trim()`
	b.waitFor("ringing", status+` === "Ringing" || `+status+` === "In call"`)
	b.waitFor("in call", status+` === "In call"`)

	// The call goes on while the person looks at another tab.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.waitFor("the in-call bar on Credits", `!document.querySelector("#in-call").hidden && `+status+` === "In call" && document.querySelector("[data-call-target=timer]").textContent !== "0:00"`)
	b.do(chromedp.Tap(chromedp.CSS(navLink("dial"))))
	b.waitForTab("dial", "/call")

	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=mute]")))
	b.waitFor("muted", `document.querySelector("[data-call-target=mute]").getAttribute("aria-pressed") === "true"`)
	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=mute]")))
	b.waitFor("unmuted", `document.querySelector("[data-call-target=mute]").getAttribute("aria-pressed") === "false"`)
	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=keypadToggle]")))
	b.do(chromedp.Tap(chromedp.CSS(`[data-call-target=keypad] button[data-key="5"]`)))
	b.waitFor("the digit sent", `document.querySelector("[data-call-target=digits]").textContent === "5"`)
	b.waitFor("the timer to run", `document.querySelector("[data-call-target=timer]").textContent !== "0:00"`)
	b.screenshot(filepath.Join(out, "call-in-call.png"))

	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=hangUp]")))
	b.waitFor("the call page", `location.pathname.startsWith("/calls/")`)
	// Billed: one started minute at $0.14, and the header follows.
	b.waitFor("the charge", `document.querySelector("main").textContent.includes("1 started minute") && document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$4.86"`)
	b.do(chromedp.Tap(chromedp.CSS(navLink("history"))))
	b.waitForTab("history", "/history")
	b.waitFor("the call in the history", `document.querySelector("main").textContent.includes("$0.14") && document.querySelector("main").textContent.includes("2348031234567")`)
	b.screenshot(filepath.Join(out, "call-history.png"))

	var charges int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE kind = 'call_charge' AND amount_cents = -14`).Scan(&charges); err != nil || charges != 1 {
		t.Fatalf("%d charges of 14 cents (%v)", charges, err)
	}
}
