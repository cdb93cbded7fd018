package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// TestRateACallInTheBar is a call in Chromium at 360x740 through the
// carrier simulator in real time, hung up after a few seconds, then rated
// in the in-call bar: a score (aria-pressed), two issue chips, Send, and
// "Thanks"; the rating is stored with the call.
func TestRateACallInTheBar(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	base, pool, sim := startAdminApp(t, ctx)
	// The browser's simulator device talks for as long as the person
	// stays: paced as a real call, before any call is placed.
	sim.Realtime, sim.Ring = true, time.Second
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const email, password = "rater@example.com", "correct horse battery"
	signUpOverHTTP(t, base, email, password, "Rater")
	postToWallet(t, pool, email, "bonus:rater", ledger.Bonus, 500)

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

	for _, ch := range "08031234567" {
		b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`button[data-key=%q]`, string(ch)))))
	}
	b.waitFor("the price line", `!document.querySelector("[data-dialer-target=call]").disabled`)
	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	status := `document.querySelector("#in-call [data-call-status]")?.dataset.status`
	b.waitFor("in call", status+` === "in_progress"`)
	callID := b.eval(`document.querySelector("#in-call [data-call-status]").dataset.callStatus`)
	rate := `document.querySelector("[data-call-target=rate]")`
	if !b.evalBool(rate + `.hidden`) {
		t.Fatal("the rating row shows during the call")
	}
	// A few seconds of talk (the bar's timer), past the 5 s the server
	// asks of a rated call.
	b.waitFor("seven seconds of talk", `(() => { const [m, s] = document.querySelector("[data-call-target=timer]").textContent.split(":").map(Number); return m * 60 + s >= 7 })()`)
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the call completed and the rating row", status+` === "completed" && !`+rate+`.hidden`)
	b.waitFor("the charge in the outcome", `document.querySelector("[data-call-target=outcome]").textContent.includes("$0.14")`)
	if b.evalBool(rate + `.querySelector("[data-rate-send]").disabled === false`) {
		t.Error("Send is enabled before a score is picked")
	}

	b.tapInView(`[data-call-target=rate] [data-score="2"]`)
	b.tapInView(`[data-call-target=rate] [data-issue="echo"]`)
	b.tapInView(`[data-call-target=rate] [data-issue="choppy"]`)
	b.tapInView(`[data-call-target=rate] [data-issue="dropped"]`)
	b.tapInView(`[data-call-target=rate] [data-issue="dropped"]`) // and off again
	b.waitFor("the picks pressed", rate+`.querySelector('[data-score="2"]').getAttribute("aria-pressed") === "true" && `+
		rate+`.querySelectorAll('[data-score][aria-pressed="true"]').length === 1 && `+
		rate+`.querySelector('[data-issue="echo"]').getAttribute("aria-pressed") === "true" && `+
		rate+`.querySelector('[data-issue="dropped"]').getAttribute("aria-pressed") === "false"`)
	b.screenshot(filepath.Join(out, "call-rating-picked.png"))
	b.tapInView(`[data-call-target=rate] [data-rate-send]`)
	b.waitFor("Thanks", rate+`.querySelector("[data-rate-result]").textContent.trim() === "Thanks" && `+rate+`.querySelector("[data-rate-form]").hidden`)
	b.screenshot(filepath.Join(out, "call-rating.png"))

	var score int
	var issues []string
	if err := pool.QueryRow(ctx, `SELECT score, issues FROM call_ratings WHERE call_id = $1`, callID).Scan(&score, &issues); err != nil {
		t.Fatal(err)
	}
	if score != 2 || fmt.Sprint(issues) != "[echo choppy]" {
		t.Fatalf("stored rating %d %v, want 2 [echo choppy]", score, issues)
	}
}
