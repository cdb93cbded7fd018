package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOneTapTopUpWithASavedCard in Chromium at 360x740, with Temporal,
// Postgres and the payment simulator: the person ticks "Save this card"
// and pays $10.00 with the simulator's card form; Credits then lists the
// saved card (brand, last 4, expiry) and offers one-tap top-up with it; one
// tap on $20.00 pays with no card form, and the top-up's page turns to
// credited by itself; the ledger holds one purchase of each. Removing the
// card takes it off the page.
func TestOneTapTopUpWithASavedCard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	base, pool := startTopUpApp(t, ctx)
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
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

	const email = "kofi@example.com"
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Kofi"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "GH"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	if b.evalBool(`!!document.querySelector("[data-one-tap]")`) {
		t.Fatal("one-tap top-up is offered before any card is saved")
	}

	// 1. Pay $10.00 with "Save this card" ticked.
	b.tapInView(`form[action="/credits/purchase"] label:has(input[name="save_card"])`)
	b.waitFor("the box ticked", `document.querySelector('input[name="save_card"]').checked`)
	b.tapInView(`form[action="/credits/purchase"] button[name="package"][value="1000"]`)
	b.waitFor("the payment page", `/^\/credits\/topups\/[0-9a-f-]{36}$/.test(location.pathname) && !!document.querySelector('form[action$="/confirm"]') && `+settled)
	first := strings.TrimPrefix(b.eval(`location.pathname`), "/credits/topups/")
	firstStatus := fmt.Sprintf(`(document.querySelector("#topup-status-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, first)
	b.tapInView(fmt.Sprintf(`#topup-pay-%s button[type="submit"]`, first))
	if !b.poll(firstStatus+`.startsWith("Credited.")`, creditWait) {
		t.Fatalf("the first top-up was not credited: %q", b.eval(firstStatus))
	}

	// 2. Credits lists the saved card and offers one tap with it.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.waitFor("the saved card", `!!document.querySelector("[data-one-tap]") && !!document.querySelector("[data-saved-card]")`)
	card := b.eval(`document.querySelector("[data-saved-card]").textContent.replace(/\s+/g, " ").trim()`)
	if !strings.Contains(card, "Visa •••• 4242") || !strings.Contains(card, "expires 08/2030") || !strings.Contains(card, "Remove") {
		t.Errorf("the saved card reads %q, want Visa •••• 4242 · expires 08/2030 and Remove", card)
	}
	if !b.evalBool(`document.querySelector('[data-one-tap] input[name="payment_method"]:checked')?.value.startsWith("pm_")`) {
		t.Error("the saved card is not chosen for one-tap top-up")
	}
	if !b.evalBool(`!!document.querySelector('a[href="/credits/auto"]')`) {
		t.Error("Credits has no Automatic top-up link")
	}
	b.checkLayout("credits with a saved card")
	b.checkTapTargets("credits with a saved card")
	b.screenshot(filepath.Join(out, "onetap-credits.png"))

	// 3. One tap: no card form, credited on the open page.
	tapped := time.Now()
	b.tapInView(`[data-one-tap] button[name="package"][value="2000"]`)
	b.waitFor("the one-tap top-up's page", `/^\/credits\/topups\/[0-9a-f-]{36}$/.test(location.pathname) && location.pathname !== "/credits/topups/`+first+`" && `+settled)
	id := strings.TrimPrefix(b.eval(`location.pathname`), "/credits/topups/")
	status := fmt.Sprintf(`(document.querySelector("#topup-status-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, id)
	if b.evalBool(`!!document.querySelector('form[action$="/confirm"]')`) {
		t.Error("a one-tap top-up shows the card form")
	}
	credited := status + `.startsWith("Credited.") && document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$30.00"`
	if !b.poll(credited, creditWait) {
		t.Fatalf("the one-tap top-up was not credited on the page: %q (page %s)", b.eval(status), b.where())
	}
	t.Logf("one tap credited on the open page %s after the tap", time.Since(tapped).Round(time.Millisecond))
	b.screenshot(filepath.Join(out, "onetap-credited.png"))

	var purchases, total int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*), coalesce(sum(amount_cents), 0) FROM transactions t
		JOIN accounts a ON a.id = t.account_id JOIN users u ON u.id = a.user_id WHERE u.email = $1 AND t.kind = 'purchase'`, email).Scan(&purchases, &total); err != nil {
		t.Fatal(err)
	}
	if purchases != 2 || total != 3000 {
		t.Errorf("the ledger holds %d purchases of %d cents, want 2 of 3000", purchases, total)
	}

	// 4. A card whose bank asks every time (3-D Secure): saved while
	// paying $5.00 after the check, then one tap, and the check again.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.tapInView(`form[action="/credits/purchase"] label:has(input[name="save_card"])`)
	b.waitFor("the box ticked", `document.querySelector('input[name="save_card"]').checked`)
	b.tapInView(`form[action="/credits/purchase"] button[name="package"][value="500"]`)
	b.waitFor("the payment page", `/^\/credits\/topups\/[0-9a-f-]{36}$/.test(location.pathname) && !!document.querySelector('form[action$="/confirm"]') && `+settled)
	third := strings.TrimPrefix(b.eval(`location.pathname`), "/credits/topups/")
	b.tapInView(fmt.Sprintf(`#topup-pay-%s label:has(input[name="card"][value="authenticate"])`, third))
	b.tapInView(fmt.Sprintf(`#topup-pay-%s button[type="submit"]`, third))
	approve := `form[action$="/authenticate"] input[name="approve"]`
	b.waitFor("the bank's check", `!!document.querySelector('`+approve+`') && `+settled)
	b.tapInView(`form[action$="/authenticate"]:has(input[name="approve"]) button`)
	thirdStatus := fmt.Sprintf(`(document.querySelector("#topup-status-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, third)
	if !b.poll(thirdStatus+`.startsWith("Credited.")`, creditWait) {
		t.Fatalf("the 3-D Secure top-up was not credited: %q", b.eval(thirdStatus))
	}
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.waitFor("two saved cards", `document.querySelectorAll("[data-saved-card]").length === 2`)
	if got := b.eval(`document.querySelector('[data-one-tap] label:has(input[name="payment_method"]:checked)').textContent.trim()`); got != "Visa ending 3184" {
		t.Errorf("one-tap offers %q first, want the card saved last (Visa ending 3184)", got)
	}
	b.tapInView(`[data-one-tap] button[name="package"][value="500"]`)
	b.waitFor("the bank's check on a one-tap payment", `/^\/credits\/topups\/[0-9a-f-]{36}$/.test(location.pathname) && location.pathname !== "/credits/topups/`+third+`" && document.querySelector("h2#confirm")?.textContent === "Confirm with your bank" && `+settled)
	b.checkTapTargets("the bank's check")
	b.screenshot(filepath.Join(out, "onetap-3ds.png"))
	fourth := strings.TrimPrefix(b.eval(`location.pathname`), "/credits/topups/")
	b.tapInView(`form[action$="/authenticate"]:has(input[name="approve"]) button`)
	fourthStatus := fmt.Sprintf(`(document.querySelector("#topup-status-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, fourth)
	if !b.poll(fourthStatus+`.startsWith("Credited.") && document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$40.00"`, creditWait) {
		t.Fatalf("the one-tap 3-D Secure top-up was not credited: %q", b.eval(fourthStatus))
	}

	// 5. Remove the cards.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	b.tapInView(`[data-saved-card] button[type="submit"]`)
	b.waitFor("a card removed", `location.pathname === "/credits" && document.querySelectorAll("[data-saved-card]").length === 1 && `+settled)
	b.tapInView(`[data-saved-card] button[type="submit"]`)
	b.waitFor("the cards removed", `location.pathname === "/credits" && !document.querySelector("[data-saved-card]") && !document.querySelector("[data-one-tap]") && `+settled)
	b.screenshot(filepath.Join(out, "onetap-removed.png"))
}
