package browsertest

import (
	"context"
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
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// TestCallerIDVerifiedInSettings is the verified caller ID in Chromium at
// 360x740, as under `mobayilo dev`: the person adds a national number in
// Settings, the section shows by itself (polling) the code the carrier
// simulator's verification call asks for, the person types it on the
// simulated call, and the section says Verified without a reload.
func TestCallerIDVerifiedInSettings(t *testing.T) {
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
	acts := activities.New(pool)
	acts.Rules, acts.Carrier = rules, sim
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
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Ada"),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.do(chromedp.Navigate(base + "/settings"))
	b.waitFor("the caller ID form", `!!document.querySelector('form[action="/settings/caller-id"] #caller_id')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#caller_id"), "0803 123 4567"),
		chromedp.Tap(chromedp.CSS(`form[action="/settings/caller-id"] button[type="submit"]`)),
	)
	b.waitFor("the code to type", `/^[0-9]{6}$/.test(document.querySelector("#caller-id-code")?.textContent.trim() ?? "")`)
	if got := b.eval(`document.querySelector("#caller-id-number").textContent.trim()`); got != "+2348031234567" {
		t.Fatalf("number shown %q", got)
	}
	b.screenshot(filepath.Join(out, "callerid-code.png"))
	code := b.eval(`document.querySelector("#caller-id-code").textContent.trim()`)

	// The person types the code on the (simulated) call.
	b.do(
		chromedp.SendKeys(chromedp.CSS("#digits"), code),
		chromedp.Tap(chromedp.CSS(`form[action="/dev/carrier/caller-id"] button[type="submit"]`)),
	)
	b.waitFor("Verified", `document.querySelector("#caller-id-status")?.dataset.status === "verified"`)
	if b.evalBool(`!!document.querySelector('#caller-id[data-controller="poll"]')`) {
		t.Fatal("a verified number is still polled")
	}
	b.screenshot(filepath.Join(out, "callerid-verified.png"))
	if sim.VerifiedCallerID("+2348031234567") == "" {
		t.Fatal("the simulator holds no OutgoingCallerId")
	}
}
