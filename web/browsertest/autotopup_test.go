package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAutoTopUpSettingsAndBanner in Chromium at 360x740: from Credits the
// person opens Automatic top-up, turns it on (below $5.00 add $10.00, at
// most $30.00 a month) with their saved card, and the page says so. When
// we turn it off (a declined card: set here as the workflow's
// TurnAutoTopUpOff does), the banner is on the next page they load, with
// the reason, until they dismiss it.
func TestAutoTopUpSettingsAndBanner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	base, pool := startApp(t)
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const email = "esi@example.com"
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
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Esi"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "GH"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	// A card saved by an earlier top-up (the payments side's row).
	if _, err := pool.Exec(ctx, `INSERT INTO payment_customers (user_id, customer_id, default_payment_method_id)
		SELECT id, 'cus_esi', 'pm_esi' FROM users WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}

	b.do(chromedp.Navigate(base + "/credits"))
	b.waitForTab("credits", "/credits")
	b.do(chromedp.Tap(chromedp.CSS(`a[href="/credits/auto"]`)))
	b.waitFor("the automatic top-up page", `location.pathname === "/credits/auto" && !!document.querySelector('form[action="/credits/auto"]')`)
	b.do(
		chromedp.Tap(chromedp.CSS(`input[name="enabled"]`)),
		chromedp.SetValue(chromedp.CSS("#threshold"), "5.00"),
		chromedp.Tap(chromedp.CSS(`input[name="amount"][value="1000"]`)),
		chromedp.SetValue(chromedp.CSS("#cap"), "30.00"),
		chromedp.Tap(chromedp.CSS(`form[action="/credits/auto"] button[type="submit"]`)),
	)
	b.waitFor("the saved settings", `(document.querySelector("[data-autotopup-state]")?.textContent || "").includes("Below $5.00 we add $10.00, at most $30.00 a month")`)
	b.screenshot(filepath.Join(out, "autotopup-on.png"))

	if _, err := pool.Exec(ctx, `UPDATE auto_topups SET enabled = false, off_at = now(), notice_pending = true,
		off_reason = 'Your card was declined when we tried to add $10.00. Nothing was charged.'
		WHERE user_id = (SELECT id FROM users WHERE email = $1)`, email); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Tap(chromedp.CSS(navLink("history"))))
	b.waitForTab("history", "/history")
	b.waitFor("the banner", `(document.querySelector("[data-autotopup-notice]")?.textContent || "").includes("Your card was declined")`)
	b.shot(filepath.Join(out, "autotopup-off-banner.png"))
	b.do(chromedp.Tap(chromedp.CSS(`[data-autotopup-notice] form[action="/credits/auto/dismiss"] button`)))
	b.waitFor("the page after dismissing", `location.pathname === "/credits/auto" && !document.querySelector("[data-autotopup-notice]")`)
	if !b.evalBool(`(document.querySelector("[data-autotopup-state]")?.textContent || "").includes("Off.")`) {
		t.Fatal("the page does not say automatic top-up is off")
	}
}
