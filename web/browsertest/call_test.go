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
	"github.com/mobayilo/mobayilo/web/webtest"
	"github.com/mobayilo/mobayilo/workflows"
)

// TestCallThroughTheSimulator is a whole call in Chromium at 360x740: the
// dialer, the carrier simulator playing Twilio in real time over signed
// webhooks, a real Temporal dev server and worker, and Postgres. The person
// types a number, sees its price, calls, sees ringing then in call, mutes
// and unmutes, sends a digit, opens History (the call's row says in call),
// hangs up there and watches the row turn to completed and its charge by
// itself; the in-call bar keeps the outcome on every tab, the call's page
// says what was charged; then a busy number ends on the dialer with
// "Busy — nothing charged".
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
	acts.Rates, acts.Rules, acts.Carrier = rates, rules, sim
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer: mail.NewMailbox(zerolog.Nop()), Rules: rules, Simulator: sim})
	httpSrv.Config.Handler = s.Handler()
	httpSrv.Start()
	t.Cleanup(httpSrv.Close)

	b := startBrowser(t, ctx, execPath)
	console := collectConsole(t, b.ctx)
	defer func() {
		for _, m := range console.stop() {
			if m.IsException() {
				t.Errorf("uncaught error in the page: %s (%s:%d)", m.Text, m.URL, m.Line+1)
			}
		}
	}()
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
	b.waitFor("the live stream to connect", liveOpen)
	var account uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'tunde@example.com'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:tunde", AccountID: account, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance to arrive", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$5.00"`)
	b.eval(`(() => { document.querySelector('[data-controller="flash"]')?.remove(); return "" })()`)

	// Type a national number (home country Nigeria) and see its price.
	for _, ch := range "08031234567" {
		b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
	}
	b.waitFor("the price line", `document.querySelector("#rate-quote").textContent.includes("$0.14/min") && !document.querySelector("[data-dialer-target=call]").disabled`)
	b.screenshot(filepath.Join(out, "call-dialer-before.png"))

	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	status := `document.querySelector("#in-call [data-call-status]")?.dataset.status`
	label := `document.querySelector("[data-call-target=status]").textContent.trim()`
	b.waitFor("ringing", status+` === "ringing" || `+status+` === "in_progress"`)
	b.waitFor("in call", status+` === "in_progress" && `+label+` === "In call"`)
	callID := b.eval(`document.querySelector("#in-call [data-call-status]").dataset.callStatus`)

	// The call goes on while the person looks at another tab.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.waitFor("the in-call bar on Credits", `!document.querySelector("#in-call").hidden && `+status+` === "in_progress" && document.querySelector("[data-call-target=timer]").textContent !== "0:00"`)
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
	b.screenshot(filepath.Join(out, "call-dialer-during.png"))
	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=keypadToggle]")))

	// History while the call goes on: its row says so, and turns to the
	// call's end and its charge by itself, with no reload or visit.
	b.do(chromedp.Tap(chromedp.CSS(navLink("history"))))
	b.waitForTab("history", "/history")
	row := fmt.Sprintf(`(document.querySelector("#call-row-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, callID)
	b.waitFor("the call's row in call", row+`.includes("In call")`)
	b.eval(`(() => { window.sameHistory = true; document.body.dataset.sameHistory = "1"; return "" })()`)
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the row to show the end and the charge", row+`.includes("Completed") && `+row+`.includes("$0.14")`)
	if !b.evalBool(`window.sameHistory === true && document.body.dataset.sameHistory === "1" && location.pathname === "/history"`) {
		t.Error("the History page was reloaded or visited again to show the call's end")
	}
	t.Logf("the row: %s", b.eval(row))
	outcome := `document.querySelector("[data-call-target=outcome]").textContent.trim()`
	b.waitFor("the outcome in the bar", outcome+` === "1 min · $0.14"`)
	b.screenshot(filepath.Join(out, "call-history-live.png"))

	// Back on the dialer the bar still says how the call ended; Mute and
	// Keypad are over; Call again and Details are there.
	b.do(chromedp.Tap(chromedp.CSS(navLink("dial"))))
	b.waitForTab("dial", "/call")
	ended := `!document.querySelector("#in-call").hidden && document.querySelector("[data-call-target=mute]").disabled && document.querySelector("[data-call-target=keypadToggle]").disabled && document.querySelector("[data-call-target=hangUp]").hidden && !document.querySelector("[data-call-target=after]").hidden`
	b.waitFor("the ended bar", ended+` && `+outcome+` === "1 min · $0.14"`)
	b.waitFor("the header balance", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$4.86"`)
	b.screenshot(filepath.Join(out, "call-dialer-after.png"))

	// Details: the call's page, its charge in words, and Call again.
	b.tapInView(`[data-call-target=details]`)
	b.waitFor("the call page", fmt.Sprintf(`location.pathname === "/calls/%s" && `, callID)+settled)
	b.waitFor("the charge", `document.querySelector("main").textContent.includes("1 started minute") && document.querySelector("main").textContent.includes("Call charge") && !!document.querySelector('main a[href^="/call?number="]')`)
	b.screenshot(filepath.Join(out, "call-page.png"))

	// A busy number: the bar says so on the dialer, nothing charged, and
	// the person stays there.
	b.do(chromedp.Tap(chromedp.CSS(navLink("dial"))))
	b.waitForTab("dial", "/call")
	b.tapInView("[data-call-target=close]")
	b.eval(`(() => { document.querySelector("#phone_number").value = ""; return "" })()`)
	for _, ch := range "08031230001" { // the simulator is busy on numbers ending 0001
		b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
	}
	b.waitFor("the busy number's price", `document.querySelector("#rate-quote").textContent.includes("+2348031230001") && !document.querySelector("[data-dialer-target=call]").disabled`)
	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	b.waitFor("busy", status+` === "busy" && `+ended+` && `+outcome+` === "Busy — nothing charged"`)
	if got := b.eval(`location.pathname`); got != "/call" {
		t.Errorf("after a busy call the page is %s, want the dialer", got)
	}
	b.screenshot(filepath.Join(out, "call-dialer-busy.png"))

	var charges, busyCharges int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE kind = 'call_charge' AND amount_cents = -14`).Scan(&charges); err != nil || charges != 1 {
		t.Fatalf("%d charges of 14 cents (%v)", charges, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transactions t JOIN calls c ON c.id = t.call_id WHERE c.phone_number = '+2348031230001'`).Scan(&busyCharges); err != nil || busyCharges != 0 {
		t.Fatalf("the busy call has %d ledger entries (%v)", busyCharges, err)
	}

	// A money loss during a call (support's debit, as the console posts
	// it and tells the call): the bar says why and counts down to the
	// shorter end the balance still pays for.
	b.tapInView("[data-call-target=close]")
	b.eval(`(() => { document.querySelector("#phone_number").value = ""; return "" })()`)
	for _, ch := range "08031234567" {
		b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
	}
	b.waitFor("the price line again", `document.querySelector("#rate-quote").textContent.includes("$0.14/min") && !document.querySelector("[data-dialer-target=call]").disabled`)
	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	b.waitFor("in call again", status+` === "in_progress" && document.querySelector("[data-call-target=timer]").textContent !== "0:00"`)
	cutID := b.eval(`document.querySelector("#in-call [data-call-status]").dataset.callStatus`)
	// $4.86 less $4.66 leaves 20 cents: one minute at $0.14.
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "admin:cut-" + cutID, AccountID: account, Kind: ledger.Adjustment, AmountCents: -466, Memo: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := tc.SignalWorkflow(ctx, workflows.CallWorkflowID(cutID), "", workflows.SignalBalanceChanged, workflows.BalanceChangedSignal{Reason: "adjustment"}); err != nil {
		t.Fatal(err)
	}
	warning := `document.querySelector("[data-call-target=warning]")`
	b.waitFor("the cut in the bar", `!`+warning+`.classList.contains("hidden") && `+warning+`.textContent.includes("support changed your balance") && `+
		`/^0:[0-5][0-9] left$|^1:00 left$/.test(document.querySelector("[data-call-target=left]").textContent.trim())`)
	t.Logf("the bar after the debit: %q, %q", b.eval(warning+`.textContent.trim()`), b.eval(`document.querySelector("[data-call-target=left]").textContent.trim()`))
	b.screenshot(filepath.Join(out, "call-dialer-cut.png"))
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the cut call's outcome", outcome+` === "1 min · $0.14"`)
}
