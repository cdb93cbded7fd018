package browsertest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/activities"
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

// TestDeleteMyAccountInSettings is "Delete my account" in Chromium at
// 360x740: the section explains what happens, a top-up awaiting payment
// refuses the deletion with its reason, and once it is settled the
// deletion signs the person out onto the page saying the account was
// deleted, with the balance left.
func TestDeleteMyAccountInSettings(t *testing.T) {
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
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)
	acts := activities.New(pool)
	acts.Rules, acts.Workflows = rules, tc
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer: mail.NewMailbox(zerolog.Nop()), Rules: rules})
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
	postToWallet(t, pool, "ada@example.com", "bonus:ada", "bonus", 250)
	// A top-up awaiting its payment.
	var topUp uuid.UUID
	if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status)
		SELECT u.id, a.id, 'usd-5', 500, 'processing' FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = 'ada@example.com' RETURNING id`).Scan(&topUp); err != nil {
		t.Fatal(err)
	}

	b.do(chromedp.Navigate(base + "/settings"))
	b.waitFor("the delete section", `!!document.querySelector('#delete-account form[action="/settings/delete"] #delete_password')`)
	b.screenshot(filepath.Join(out, "account-delete-section.png"))

	// Turbo asks before it submits (data-turbo-confirm): the person says yes.
	b.do(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	b.do(chromedp.SendKeys(chromedp.CSS("#delete_password"), "correct horse battery"))
	b.clickInView(`#delete-account button[type="submit"]`)
	b.waitFor("the refusal", `(document.querySelector("#delete-account-error")?.textContent ?? "").includes("A top-up is still waiting for its payment")`)
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#delete-account-error").scrollIntoView({block: "center", behavior: "instant"})`))
	b.shot(filepath.Join(out, "account-delete-refused.png"))

	if _, err := pool.Exec(ctx, `UPDATE topups SET status = 'canceled' WHERE id = $1`, topUp); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; document.querySelector("#delete-account-error").remove()`))
	b.do(chromedp.SendKeys(chromedp.CSS("#delete_password"), "correct horse battery"))
	b.clickInView(`#delete-account button[type="submit"]`)
	b.waitFor("the deleted page (or an error)", `location.pathname === "/account/deleted" || (document.querySelector("#delete-account-error")?.textContent ?? "").length > 0 || !!document.querySelector("#delete_password-error")`)
	if where := b.eval(`location.pathname`); where != "/account/deleted" {
		t.Fatalf("still on %s: %q", where, b.eval(`(document.querySelector("#delete-account-error") ?? document.querySelector("#delete_password-error"))?.textContent ?? ""`))
	}
	b.waitFor("the balance left", `!!document.querySelector("#deleted-balance")`)
	if got := b.eval(`document.querySelector("#deleted-balance").textContent`); !strings.Contains(got, "$2.50") {
		t.Errorf("balance told %q", got)
	}
	if b.evalBool(`!!document.querySelector('nav[aria-label="Main"]')`) {
		t.Error("the deleted page shows the signed-in nav")
	}
	b.screenshot(filepath.Join(out, "account-deleted.png"))

	b.do(chromedp.Navigate(base + "/settings"))
	b.waitFor("the sign-in page", `location.pathname === "/signin"`)
}
