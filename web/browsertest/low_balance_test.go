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

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
)

// TestLowBalanceBeforeDialling is the dialer in Chromium at 360x740 with a
// balance that covers one minute (issue 21): Call asks POST /calls, whose
// answer says low balance, and the dialer says "Your balance covers 1 min
// to …" with Top up and Call anyway before anything is dialled. Top up
// gives that call up (its row canceled, the slot free) and opens Credits;
// back on the dialer, Call anyway places the call, and the in-call bar's
// warning of the last minute offers Top up, which opens Credits with the
// bar and its call still there.
func TestLowBalanceBeforeDialling(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	base, pool, sim := startAdminApp(t, ctx)
	sim.Realtime, sim.Ring = true, time.Second
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const email, password = "low@example.com", "correct horse battery"
	u := signUpOverHTTP(t, base, email, password, "Low")
	postToWallet(t, pool, email, "bonus:low", ledger.Bonus, 20) // one minute at $0.14

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
	b.do(chromedp.Navigate(base + "/signin"))
	b.waitFor("the sign-in form", `!!document.querySelector('form[action="/signin"] #email') && `+settled)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #email`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #password`), password),
		chromedp.Tap(chromedp.CSS(`form[action="/signin"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", liveOpen)
	b.eval(`(() => { document.querySelector('[data-controller="flash"]')?.remove(); return "" })()`)

	low := `document.querySelector("[data-dialer-target=low]")`
	dial := func() {
		t.Helper()
		for _, ch := range "08031234567" {
			b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
		}
		b.waitFor("the price line", `!document.querySelector("[data-dialer-target=call]").disabled`)
		b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
		b.waitFor("the low-balance question", `!`+low+`.hidden`)
	}
	dial()
	if got := b.eval(low + `.querySelector("[data-low-text]").textContent`); got != "Your balance covers 1 min to +2348031234567." {
		t.Fatalf("low-balance text %q", got)
	}
	if b.evalBool(`!document.getElementById("in-call").hidden`) {
		t.Fatal("the in-call bar shows before Call anyway: the call was dialled")
	}
	var authorized int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM calls WHERE status = 'authorized'`).Scan(&authorized); err != nil || authorized != 1 {
		t.Fatalf("%d authorized calls (%v), want the one waiting on the question", authorized, err)
	}
	b.screenshot(filepath.Join(out, "low-balance-before-dialling.png"))

	// Top up: the waiting call is given up, and Credits opens.
	b.tapInView(`[data-dialer-target=low] [data-low-top-up]`)
	b.waitFor("Credits", `location.pathname === "/credits" && `+settled)
	waitForValue(t, pool, "the waiting call given up", 30*time.Second, "canceled",
		`SELECT status FROM calls ORDER BY created_at DESC LIMIT 1`)

	// Call anyway: dialled, and the last minute's warning offers Top up.
	b.do(chromedp.Navigate(base + "/call"))
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", liveOpen)
	dial()
	b.tapInView(`[data-dialer-target=low] [data-low-call]`)
	status := `document.querySelector("#in-call [data-call-status]")?.dataset.status`
	b.waitFor("in call", status+` === "in_progress"`)
	topUp := `document.querySelector("#in-call [data-call-target=topUp]")`
	b.waitFor("the last minute's warning with Top up", `!`+topUp+`.hidden && document.querySelector("#in-call [data-call-target=warning]").textContent.includes("Top up")`)
	b.screenshot(filepath.Join(out, "low-balance-in-call.png"))
	b.tapInView(`#in-call [data-call-target=topUp] a`)
	b.waitFor("Credits with the call still on", `location.pathname === "/credits" && `+settled+` && !document.getElementById("in-call").hidden && `+status+` === "in_progress"`)
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the call completed", status+` === "completed"`)

	// With a saved card the question offers one tap: it pays the smallest
	// package and calls, and the bar's time left grows when it lands.
	st, location, body := u.send(t, "POST", "/credits/purchase", "application/x-www-form-urlencoded", "package=500&save_card=1")
	id, ok := strings.CutPrefix(location, "/credits/topups/")
	if st != 303 || !ok {
		t.Fatalf("buying with save_card: %d %s\n%s", st, location, body)
	}
	if st, location, _ = u.send(t, "POST", "/dev/payments/"+id+"/confirm", "application/x-www-form-urlencoded", "card="+payments.CardSucceeds); st != 303 {
		t.Fatalf("paying: %d %s", st, location)
	}
	waitForValue(t, pool, "the card saved", 30*time.Second, "true", `SELECT (default_payment_method_id IS NOT NULL)::text FROM payment_customers`)
	var balance int64
	if err := pool.QueryRow(ctx, `SELECT a.cached_balance_cents FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&balance); err != nil {
		t.Fatal(err)
	}
	postToWallet(t, pool, email, "adjustment:low", ledger.Adjustment, 20-balance) // one minute again
	b.do(chromedp.Tap(chromedp.CSS("[data-call-target=close]")))
	b.do(chromedp.Navigate(base + "/call"))
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", liveOpen)
	dial()
	oneTap := `document.querySelector("[data-dialer-target=low] [data-low-one-tap]")`
	b.waitFor("the one-tap offer", `!`+oneTap+`.hidden && `+oneTap+`.textContent === "Add $5 with Visa •4242"`)
	b.screenshot(filepath.Join(out, "low-balance-one-tap.png"))
	b.tapInView(`[data-dialer-target=low] [data-low-one-tap]`)
	b.waitFor("in call", status+` === "in_progress"`)
	// "Adding $5 …" until it lands (which may be before the bar is read).
	b.waitFor("the bar says the top-up", `/^Add(ing|ed) \$5 with Visa •4242/.test(document.querySelector("#in-call [data-top-up-note]").textContent)`)
	left := `document.querySelector("#in-call [data-call-target=left]").textContent`
	b.waitFor("the time left grown by the top-up", `/^(2[0-2]):\d\d left$/.test(`+left+`) && `+
		`document.querySelector("#in-call [data-top-up-note]").textContent === "Added $5 with Visa •4242: the call can now last 22 min."`)
	b.screenshot(filepath.Join(out, "low-balance-extended.png"))
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the call completed", status+` === "completed"`)
}
