package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// creditWait bounds the wait for a delayed payment (the simulator's card
// that pays after 10 seconds) to be credited on the open page.
const creditWait = 30 * time.Second

// TestTopUpThroughThePaymentSimulator buys credit in Chromium at 360x740
// with a real Temporal dev server and worker, Postgres, and the payment
// simulator standing in for Stripe (no Stripe key is set): the person opens
// Credits from the bottom nav, taps the $10.00 package, pays with a card
// that is declined and sees why, pays again with a card that is processing
// first, and watches the open page turn to credited over the live stream,
// the header balance with it, without a reload. Credits and the
// transactions list then show the top-up.
func TestTopUpThroughThePaymentSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	started := time.Now()
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
			} else {
				t.Logf("console.%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1)
			}
		}
	}()
	b.do(phone(viewportHeight))

	// 1. Sign up, open Credits from the bottom nav: nothing in the wallet.
	const email = "amara@example.com"
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Amara"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", liveOpen)
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	const balances = `Array.from(document.querySelectorAll("[data-balance]")).map(e => e.textContent.trim())`
	if got := b.eval(balances + `.join(" ")`); got != "$0.00 $0.00" {
		t.Errorf("Credits shows the balances %q (header chip, page), want $0.00 in both", got)
	}
	pkg := `form[action="/credits/purchase"] button[name="package"][value="1000"]`
	if got := b.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() ?? "no such button"`, pkg)); got != "$10.00" {
		t.Fatalf("the 1000-cent package button says %q, want $10.00", got)
	}
	// Buy: the button says at once what is happening, and no package can
	// be tapped again meanwhile (a slow network makes it visible).
	b.network(false, 1500)
	b.tapInView(pkg)
	b.waitFor("the button's progress", fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() === "Starting payment…" && document.querySelector(%q).disabled && document.querySelector('form[action="/credits/purchase"] button[value="500"]').disabled`, pkg, pkg))
	b.network(false, 0)

	// The payment page, with the simulator's card form.
	b.waitFor("the payment page", `/^\/credits\/topups\/[0-9a-f-]{36}$/.test(location.pathname) && !!document.querySelector('form[action$="/confirm"]') && `+settled)
	id := strings.TrimPrefix(b.eval(`location.pathname`), "/credits/topups/")
	status := fmt.Sprintf(`(document.querySelector("#topup-status-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, id)
	pay := fmt.Sprintf("#topup-pay-%s", id)
	payForm := fmt.Sprintf(`document.querySelector(%q)`, pay+` form[action="/dev/payments/`+id+`/confirm"]`)
	if got := b.eval(status); !strings.Contains(got, "Waiting for your payment") {
		t.Errorf("a new top-up's state says %q, want Waiting for your payment", got)
	}
	if got := b.eval(`document.querySelector("h1").textContent.trim()`); got != "Add $10.00" {
		t.Errorf("the payment page's heading is %q, want Add $10.00", got)
	}
	if got := b.eval(fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, pay+` button[type="submit"]`)); got != "Pay $10.00" {
		t.Errorf("the pay button says %q, want Pay $10.00", got)
	}
	b.checkLayout("payment page")
	b.checkTapTargets("payment page")
	b.screenshot(filepath.Join(out, "topup-pay.png"))

	// choose taps a card's radio label on the payment form.
	choose := func(value, label string) {
		t.Helper()
		sel := fmt.Sprintf(`%s label:has(input[name="card"][value=%q])`, pay, value)
		if got := b.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent.replace(/\s+/g, " ").trim() ?? "no such card"`, sel)); !strings.Contains(got, label) {
			t.Fatalf("the %s card is labelled %q, want %q", value, got, label)
		}
		b.tapInView(sel)
		b.waitFor("the "+value+" card chosen", fmt.Sprintf(`document.querySelector('%s input[name="card"]:checked')?.value === %q`, pay, value))
	}
	// submit taps Pay and waits until Turbo has rendered the page the
	// payment redirects to (a new body: Turbo swaps it on each render).
	submit := func() {
		t.Helper()
		b.eval(`(() => { document.body.dataset.beforePay = "1"; return "" })()`)
		b.tapInView(pay + ` button[type="submit"]`)
		b.waitFor("the payment page after paying", fmt.Sprintf(`location.pathname === "/credits/topups/%s" && !document.body.dataset.beforePay && `, id)+settled)
	}

	// 2. A declined card: the page says why, and the form stays for another try.
	choose(payments.CardDeclined, "Card that is declined")
	submit()
	b.waitFor("the decline", status+`.includes("Payment declined") && `+status+`.includes("Your card was declined.") && !!`+payForm)
	if got := b.eval(fmt.Sprintf(`document.querySelector('[data-topup-status=%q]').textContent.trim()`, id)); got != "Declined" {
		t.Errorf("the top-up's label says %q after the decline, want Declined", got)
	}
	b.screenshot(filepath.Join(out, "topup-declined.png"))

	// 3. A card that is processing first, then pays: the page waits, then
	// turns to credited by itself, and says "declined" at no moment once
	// the payment is under way: every state the page shows from the tap on
	// Pay is recorded (on every change of the document, across the render
	// of the page the payment redirects to); the old decline may stay only
	// until the page the payment redirects to replaces it, never after.
	choose(payments.CardDelayed, "Card that pays after 10 seconds")
	b.eval(fmt.Sprintf(`(() => {
		window.topUpStates = [];
		const read = () => {
			const label = document.querySelector('[data-topup-status="%s"]')?.textContent.trim() ?? "";
			const s = (label + " | " + (document.querySelector("#topup-status-%s")?.textContent ?? "")).replace(/\s+/g, " ").trim();
			if (s && window.topUpStates[window.topUpStates.length - 1] !== s) window.topUpStates.push(s);
		};
		new MutationObserver(read).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
		return "";
	})()`, id, id))
	submit()
	paid := time.Now()
	// A reload or a Turbo visit would lose these.
	b.eval(`(() => { window.topUpNoReload = true; document.body.dataset.topUpNoReload = "1"; return "" })()`)
	credited := fmt.Sprintf(`%s.startsWith("Credited.") && %s.includes("$10.00 was added to your balance") && document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$10.00" && !document.querySelector(%q)`,
		status, status, pay)
	b.waitFor("the processing state", `/^(Waiting for your payment|Processing your payment)/.test(`+status+`)`)
	b.screenshot(filepath.Join(out, "topup-processing.png"))
	if !b.poll(credited, creditWait-time.Since(paid)) {
		var row string
		err := pool.QueryRow(context.Background(), `SELECT concat_ws(', ', 'status ' || status, 'failure ' || failure_message, 'credited at ' || credited_at, 'updated at ' || updated_at) FROM topups WHERE id = $1`, id).Scan(&row)
		t.Logf("the top-up's row: %s (%v)", row, err)
		var inbox string
		err = pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(event_type || ' received ' || received_at || coalesce(' delivered ' || delivered_at, ' undelivered'), '; ' ORDER BY id), 'none') FROM webhook_events WHERE source = 'stripe'`).Scan(&inbox)
		t.Logf("Stripe events in the webhook inbox: %s (%v)", inbox, err)
		t.Fatalf("the page did not turn to credited within %s: state %q, header balance %q, payment form present %v (page: %s)", creditWait,
			b.eval(status), b.eval(`document.querySelector("#balance-chip [data-balance]").textContent.trim()`), b.evalBool(`!!document.querySelector("`+pay+`")`), b.where())
	}
	t.Logf("credited on the open page %s after paying", time.Since(paid).Round(time.Millisecond))
	states, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.topUpStates`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the states the page showed after Pay: %q", states)
	underWay := false
	for _, st := range states {
		declined := strings.Contains(strings.ToLower(st), "declined")
		underWay = underWay || !declined
		if underWay && declined {
			t.Errorf("once the good card's payment was under way the page showed the old decline again: %q (all: %q)", st, states)
		}
	}
	if len(states) == 0 || !strings.HasPrefix(states[len(states)-1], "Credited | Credited.") {
		t.Errorf("the recorded states end with %q, want Credited.", states)
	}
	if !b.evalBool(fmt.Sprintf(`window.topUpNoReload === true && document.body.dataset.topUpNoReload === "1" && location.pathname === "/credits/topups/%s"`, id)) {
		t.Error("the page was reloaded or visited again while it waited for the credit")
	}
	if got := b.eval(fmt.Sprintf(`document.querySelector('[data-topup-status=%q]').textContent.trim()`, id)); got != "Credited" {
		t.Errorf("the top-up's label says %q once credited, want Credited", got)
	}
	b.checkTapTargets("credited payment page")
	b.screenshot(filepath.Join(out, "topup-credited.png"))

	// 4. Credits lists the top-up as credited; the transactions list has it.
	b.do(chromedp.Tap(chromedp.CSS(navLink("credits"))))
	b.waitForTab("credits", "/credits")
	if got := b.eval(fmt.Sprintf(`document.querySelector('a[href="/credits/topups/%s"] [data-topup-status]')?.textContent.trim() ?? "not listed"`, id)); got != "Credited" {
		t.Errorf("Credits lists the top-up as %q, want Credited", got)
	}
	if got := b.eval(fmt.Sprintf(`document.querySelector('a[href="/credits/topups/%s"]')?.textContent.replace(/\s+/g, " ").trim() ?? ""`, id)); !strings.HasPrefix(got, "$10.00") {
		t.Errorf("Credits lists the top-up as %q, want its amount $10.00", got)
	}
	if got := b.eval(balances + `.join(" ")`); got != "$10.00 $10.00" {
		t.Errorf("Credits shows the balances %q (header chip, page), want $10.00 in both", got)
	}
	b.checkLayout("credits after the top-up")
	b.screenshot(filepath.Join(out, "topup-credits.png"))

	b.tapInView(`main a[href="/transactions"]`)
	b.waitFor("/transactions", `location.pathname === "/transactions" && !!document.querySelector("main h1") && `+settled)
	entries, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("main li")).map(li => li.querySelector("a")?.getAttribute("href") + " " + li.textContent.replace(/\s+/g, " ").trim())`))
	if err != nil {
		t.Fatal(err)
	}
	want := "/credits/topups/" + id + " Top-up "
	found := false
	for _, e := range entries {
		found = found || (strings.HasPrefix(e, want) && strings.Contains(e, "+$10.00 balance $10.00"))
	}
	if !found {
		t.Errorf("/transactions lacks a Top-up of +$10.00 linked to the top-up; entries: %q", entries)
	}

	t.Logf("done in %s", time.Since(started).Round(time.Millisecond))
}

// startTopUpApp serves the real router on a fresh database with a Temporal
// dev server and a worker, and the payment simulator in place of Stripe
// (the test configuration sets no Stripe key): the worker's stripe-go
// client talks to the simulator's API on the app, which delivers signed
// webhooks back to it.
func startTopUpApp(t *testing.T, ctx context.Context) (string, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.New(t)
	temporalOut := &lockedBuffer{}
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, Output: temporalOut})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Stop()
		if s := temporalOut.String(); t.Failed() && s != "" {
			t.Logf("temporal dev server output (the end):\n%s", s[max(0, len(s)-4000):])
		}
	})
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: srv.Address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	httpSrv := httptest.NewUnstartedServer(nil)
	base := "http://" + httpSrv.Listener.Addr().String()
	queue := "browser-topup-" + uuid.NewString()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"APP_ENV": "test", "PUBLIC_BASE_URL": base, "TEMPORAL_TASK_QUEUE": queue}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.PaymentSimulator || cfg.StripeAPIBase != base+"/dev/stripe" {
		t.Fatalf("the test configuration does not pay through the simulator: PAYMENT_SIMULATOR=%v STRIPE_API_BASE=%s", cfg.PaymentSimulator, cfg.StripeAPIBase)
	}

	acts := activities.New(pool)
	acts.Payments = payments.NewStripe(cfg.StripeSecretKey, cfg.StripeAPIBase, nil)
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer: mail.NewMailbox(zerolog.Nop())})
	if s.PaymentSimulator() == nil {
		t.Fatal("the app runs no payment simulator")
	}
	httpSrv.Config.Handler = s.Handler()
	httpSrv.Start()
	t.Cleanup(httpSrv.Close)
	return base, pool
}

// poll evaluates the JavaScript predicate expr until it holds or limit
// passes, and says whether it held. Like waitFor it polls from Go, but it
// leaves the failure to the caller.
func (b *browser) poll(expr string, limit time.Duration) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	for {
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(try, chromedp.Evaluate[bool](expr))
		cancelTry()
		if err == nil && ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tapInView scrolls the element sel names to the middle of the screen, as
// a person would before tapping it, checks that nothing (the fixed bottom
// nav, say) covers its centre, and taps it.
func (b *browser) tapInView(sel string) {
	b.t.Helper()
	if got := b.eval(fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e) return "no such element";
		e.scrollIntoView({block: "center", behavior: "instant"});
		const r = e.getBoundingClientRect();
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return hit && e.contains(hit) ? "" : "covered by " + (hit ? hit.outerHTML.slice(0, 80) : "nothing");
	})()`, sel)); got != "" {
		b.t.Fatalf("cannot tap %s: %s (page: %s)", sel, got, b.where())
	}
	b.do(chromedp.Tap(chromedp.CSS(sel)))
}

// checkTapTargets checks that every visible link, button, label and form
// control on the page (the radio labels of the card form among them, not
// the radios inside them) is at least minTapTarget CSS px tall and wide.
func (b *browser) checkTapTargets(page string) {
	b.t.Helper()
	targets, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll("a, button, label, input:not([type=hidden]), select, textarea"))
		.filter(e => !e.closest("label") || e.tagName === "LABEL")
		.filter(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden" && !e.closest(".sr-only"))
		.map(e => { const r = e.getBoundingClientRect(); return {tab: (e.matches("button, .btn") ? "button" : e.tagName.toLowerCase()) + " " + JSON.stringify(e.textContent.replace(/\s+/g, " ").trim().slice(0, 40)), width: r.width, height: r.height}; })`))
	if err != nil {
		b.t.Fatal(err)
	}
	var labels, buttons int
	for _, x := range targets {
		switch {
		case strings.HasPrefix(x.Tab, "label "):
			labels++
		case strings.HasPrefix(x.Tab, "button "):
			buttons++
		}
		if x.Width < minTapTarget || x.Height < minTapTarget {
			b.t.Errorf("%s: the tap target %s is %.1fx%.1f CSS px, want at least %dx%d", page, x.Tab, x.Width, x.Height, minTapTarget, minTapTarget)
		}
	}
	if buttons == 0 {
		b.t.Errorf("%s: no buttons found to check", page)
	}
	b.t.Logf("%s: %d tap targets checked (%d buttons, %d labels)", page, len(targets), buttons, labels)
}
