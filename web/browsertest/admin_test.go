package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
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
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
	"github.com/mobayilo/mobayilo/workflows"
)

const (
	// The support console is used at a desk: a laptop's viewport.
	desktopWidth  = 1280
	desktopHeight = 900

	// visibilityWait bounds the wait for Temporal's visibility (eventually
	// consistent) to list a call the workflow has marked stuck.
	visibilityWait = 30 * time.Second
	// retryWait bounds the wait for the page after Retry billing: the
	// handler itself waits up to 10 s for the workflow's attempt.
	retryWait = 25 * time.Second
)

// TestAdminRetriesAStuckCall is the support console in Chromium at
// 1280x900 with a real Temporal dev server and worker, Postgres, and the
// carrier simulator. A caller with $5 calls Nigeria for 61 s, but the
// database refuses its charge (a CHECK added for the test), so the charge
// is refused and the call's workflow waits, stuck in billing, for support.
// A staff member signs in, follows the header's Admin link to the
// dashboard, which lists the call (from Temporal's visibility), searches
// the console for the caller's email, opens the call, sees it stuck with
// a link into the Temporal UI, and, once the money is back, retries its
// billing: the page says the call was charged $0.28, Postgres holds one
// charge, and the audit log shows who retried.
func TestAdminRetriesAStuckCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	started := time.Now()
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	base, pool, sim := startAdminApp(t, ctx)
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	const (
		staffEmail  = "support@example.com"
		callerEmail = "stuck.caller@example.com"
		password    = "correct horse battery"
	)

	// The staff member's account: signed up, then made an admin as the
	// operator would (mobayilo users grant-admin).
	signUpOverHTTP(t, base, staffEmail, password, "Support")
	if _, err := pool.Exec(ctx, `UPDATE users SET role = 'admin' WHERE email = $1`, staffEmail); err != nil {
		t.Fatal(err)
	}

	// 1. The stuck call, made over HTTP and the carrier simulator as a
	// caller's browser and Twilio would.
	caller := signUpOverHTTP(t, base, callerEmail, password, "Caller")
	postToWallet(t, pool, callerEmail, "bonus:"+callerEmail, ledger.Bonus, 500)
	call := caller.startCall(t, "+234 803 123 4567")
	// The database refuses the charge (a rule of the schema, as a bug
	// would): the call is stuck. A lack of money never does that (a debt).
	if _, err := pool.Exec(ctx, `ALTER TABLE transactions ADD CONSTRAINT test_refuse_charge CHECK (call_id IS DISTINCT FROM '`+call.CallID+`'::uuid) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.PlaceCall(ctx, call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	stuckBy := time.Now().Add(stepTimeout)
	for billing := ""; billing != workflows.BillingStuck; time.Sleep(50 * time.Millisecond) {
		_ = pool.QueryRow(ctx, `SELECT billing_state FROM calls WHERE id = $1`, call.CallID).Scan(&billing)
		if time.Now().After(stuckBy) {
			t.Fatalf("call %s did not get stuck in billing within %s: billing_state %q", call.CallID, stepTimeout, billing)
		}
	}
	stuckAt := time.Now()
	t.Logf("call %s is stuck in billing (%s in)", call.CallID, stuckAt.Sub(started).Round(time.Millisecond))

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
	b.do(desktop(desktopHeight))

	// 2. Sign in through the sign-in page; the header has the Admin link.
	b.do(chromedp.Navigate(base + "/signin"))
	b.waitFor("the sign-in form", `!!document.querySelector('form[action="/signin"] #email') && `+settled)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #email`), staffEmail),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type="submit"]`)),
	)
	const adminLink = `header a[href="/admin"]`
	b.waitFor("/call with the Admin link after signing in", `location.pathname === "/call" && !!document.querySelector('`+adminLink+`') && `+settled)
	if got := b.eval(`document.querySelector('` + adminLink + `').textContent.trim()`); got != "Admin" {
		t.Errorf("the header's link to /admin says %q, want Admin", got)
	}
	b.clickInView(adminLink)
	dashboard := `location.pathname === "/admin" && document.querySelector("main h1")?.textContent.trim() === "What needs attention" && ` + settled
	b.waitFor("the dashboard", dashboard)

	// The dashboard asks Temporal's visibility, which lists the call a
	// little after the workflow marks it: reload until it is there.
	stuckRow := fmt.Sprintf(`[data-stuck-call=%q]`, call.CallID)
	listed := time.Now()
	reloads := 0
	for !b.evalBool(`!!document.querySelector('` + stuckRow + `')`) {
		if time.Since(listed) > visibilityWait {
			t.Fatalf("the dashboard did not list the stuck call %s within %s (stuck count %q; page: %s)", call.CallID, visibilityWait,
				b.eval(`document.querySelector('[data-count="stuck"]')?.textContent.trim() ?? "none"`), b.where())
		}
		time.Sleep(500 * time.Millisecond)
		b.do(chromedp.Reload())
		b.waitFor("the dashboard after a reload", dashboard)
		reloads++
	}
	t.Logf("the dashboard listed the stuck call %s after Postgres had it stuck (%d reloads)", time.Since(stuckAt).Round(time.Millisecond), reloads)
	if got := b.eval(`document.querySelector('[data-count="stuck"]').textContent.trim()`); got != "1" {
		t.Errorf("the dashboard counts %s stuck calls, want 1", got)
	}
	for _, sel := range []string{
		fmt.Sprintf(`%s a[href="/admin/calls/%s"]`, stuckRow, call.CallID),
		fmt.Sprintf(`%s a[href$="/namespaces/default/workflows/call-%s"]`, stuckRow, call.CallID),
	} {
		if !b.evalBool(`!!document.querySelector('` + sel + `')`) {
			t.Errorf("the dashboard's row for the stuck call lacks %s", sel)
		}
	}
	// The row says who, which number, how much and why, in a sentence.
	row := b.eval(`document.querySelector('` + stuckRow + `').textContent.replace(/\s+/g, " ")`)
	for _, want := range []string{callerEmail, "+2348031234567", "$0.28", "refused by a rule of the database"} {
		if !strings.Contains(row, want) {
			t.Errorf("the dashboard's row for the stuck call lacks %q: %q", want, row)
		}
	}
	b.checkWidth("dashboard")
	b.desktopScreenshot(filepath.Join(out, "admin-dashboard.png"))

	// 3. Search the console for the caller's email and open the call.
	const consoleNav = `nav[aria-label="Support console"]`
	b.do(chromedp.SendKeys(chromedp.CSS(consoleNav+` input[name="q"]`), callerEmail))
	b.clickInView(consoleNav + ` form[role="search"] button`)
	b.waitFor("the search results", fmt.Sprintf(`location.pathname === "/admin/search" && new URLSearchParams(location.search).get("q") === %q && document.querySelector("main h1")?.textContent.includes(%q) && `,
		callerEmail, callerEmail)+settled)
	result := fmt.Sprintf(`section[aria-labelledby="r-calls"] a[href="/admin/calls/%s"]`, call.CallID)
	if got := b.eval(fmt.Sprintf(`document.querySelector('%s')?.textContent.replace(/\s+/g, " ").trim() ?? "not found"`, result)); !strings.Contains(got, "2348031234567") || !strings.Contains(got, "stuck") {
		t.Fatalf("searching for %s finds the call as %q, want its number and billing stuck (page: %s)", callerEmail, got, b.where())
	}
	b.checkWidth("search results")
	b.clickInView(result)

	callPage := fmt.Sprintf(`location.pathname === "/admin/calls/%s" && document.querySelector("main h1")?.textContent.startsWith("Call to") && `, call.CallID) + settled
	b.waitFor("the call's page", callPage)
	const billingState = `document.querySelector("[data-billing-state] strong")?.textContent.trim()`
	if got := b.eval(billingState); got != workflows.BillingStuck {
		t.Errorf("the call's page says billing %q, want stuck", got)
	}
	if !b.evalBool(`document.querySelector("main").textContent.includes("Stuck in billing.")`) {
		t.Errorf("the call's page does not say Stuck in billing. (page: %s)", b.where())
	}
	temporalLink := fmt.Sprintf(`main a[href$="/namespaces/default/workflows/call-%s"]`, call.CallID)
	if got := b.eval(fmt.Sprintf(`document.querySelector('%s')?.textContent.trim() ?? "no link"`, temporalLink)); got != "Open in the Temporal UI" {
		t.Errorf("the call's link to its workflow in the Temporal UI says %q, want Open in the Temporal UI", got)
	} else {
		t.Logf("Temporal UI link: %s", b.eval(fmt.Sprintf(`document.querySelector('%s').href`, temporalLink)))
	}
	retryButton := fmt.Sprintf(`main form[action="/admin/calls/%s/retry"] button`, call.CallID)
	if got := b.eval(fmt.Sprintf(`document.querySelector('%s')?.textContent.trim() ?? "no button"`, retryButton)); got != "Retry billing" {
		t.Fatalf("the stuck call's retry button says %q, want Retry billing", got)
	}
	b.checkWidth("call page")
	b.desktopScreenshot(filepath.Join(out, "admin-call-stuck.png"))

	// 4. The money is back: retry. The page says the call was charged.
	if _, err := pool.Exec(ctx, `ALTER TABLE transactions DROP CONSTRAINT test_refuse_charge`); err != nil {
		t.Fatal(err)
	}
	b.eval(`(() => { document.body.dataset.beforeRetry = "1"; return "" })()`)
	retried := time.Now()
	b.clickInView(retryButton)
	const flash = `(document.querySelector('main [role="status"] p')?.textContent.trim() ?? "")`
	if !b.poll(`!document.body.dataset.beforeRetry && `+callPage+` && `+flash+` !== ""`, retryWait) {
		t.Fatalf("no page with a flash within %s of Retry billing (page: %s)", retryWait, b.where())
	}
	t.Logf("the call's page came back %s after Retry billing", time.Since(retried).Round(time.Millisecond))
	if got := b.eval(flash); got != "Charged $0.28." {
		t.Errorf("after the retry the flash says %q, want Charged $0.28.", got)
	}
	if got := b.eval(billingState); got != workflows.BillingCharged {
		t.Errorf("after the retry the call's page says billing %q, want charged", got)
	}
	if got := b.eval(`document.querySelector("[data-billing-state]").textContent.replace(/\s+/g, " ").trim()`); !strings.Contains(got, "$0.28") {
		t.Errorf("after the retry the billing line says %q, want the cost $0.28", got)
	}
	if b.evalBool(`!!document.querySelector('` + retryButton + `')`) {
		t.Error("the Retry billing button is still there after the call was charged")
	}
	if b.evalBool(`document.querySelector("main").textContent.includes("Stuck in billing.")`) {
		t.Error("the call's page still says Stuck in billing. after the charge")
	}
	b.checkWidth("call page after the retry")
	b.desktopScreenshot(filepath.Join(out, "admin-call-retried.png"))

	var charges []int64
	rows, err := pool.Query(ctx, `SELECT amount_cents FROM transactions WHERE call_id = $1 AND kind = 'call_charge'`, call.CallID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		charges = append(charges, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(charges) != 1 || charges[0] != -28 {
		t.Errorf("the call's call_charge entries are %v, want exactly one of -28", charges)
	}

	// 5. The audit log lists the retry with who did it.
	b.clickInView(consoleNav + ` a[href="/admin/audit"]`)
	b.waitFor("the audit log", `location.pathname === "/admin/audit" && document.querySelector("main h1")?.textContent.trim() === "Audit log" && `+settled)
	audit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("main tbody tr")).map(tr => Array.from(tr.cells).map(td => td.textContent.replace(/\s+/g, " ").trim()))`))
	if err != nil {
		t.Fatal(err)
	}
	var retries int
	for _, row := range audit {
		// When, Who, What, On, Why, Outcome, Details. The call is named by
		// its number and its customer, not its id.
		if len(row) >= 6 && row[2] == "retry_billing" && row[3] == "call to +2348031234567 "+callerEmail {
			retries++
			if row[1] != staffEmail {
				t.Errorf("the audit log says %q retried the call's billing, want %s", row[1], staffEmail)
			}
			if row[5] != "charged $0.28" {
				t.Errorf("the audit log says the retry came to %q, want charged $0.28", row[5])
			}
		}
	}
	if retries != 1 {
		t.Errorf("the audit log lists %d retries of call %s, want 1; rows: %q", retries, call.CallID, audit)
	}
	if !b.evalBool(fmt.Sprintf(`!!document.querySelector('main tbody a[href="/admin/calls/%s"]')`, call.CallID)) {
		t.Error("the audit log's entry does not link to the call")
	}
	b.checkWidth("audit log")
	b.desktopScreenshot(filepath.Join(out, "admin-audit.png"))

	t.Logf("done in %s", time.Since(started).Round(time.Millisecond))
}

// startAdminApp serves the real router on a fresh database with the
// sample rate deck, a Temporal dev server and a worker, and the carrier
// simulator in place of Twilio (callbacks all at once, as the web
// package's call tests have them) and the payment simulator in place of
// Stripe (the test configuration sets no Stripe key).
func startAdminApp(t *testing.T, ctx context.Context) (string, *pgxpool.Pool, *carrier.Simulator) {
	t.Helper()
	pool := testdb.New(t)
	if _, err := ratedeck.LoadSampleIfEmpty(ctx, pool); err != nil {
		t.Fatal(err)
	}
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
	queue := "browser-admin-" + uuid.NewString()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"APP_ENV": "test", "PUBLIC_BASE_URL": base, "TEMPORAL_TASK_QUEUE": queue}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{BaseURL: base, AuthToken: cfg.TwilioAuthToken, AccountSID: cfg.TwilioAccountSID,
		APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret}
	rules := rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)

	// The rate deck's listener lets go of its connection before the
	// database is dropped (cleanups run last-registered first).
	watchCtx, stopWatch := context.WithCancel(context.Background())
	t.Cleanup(stopWatch)
	rates, err := ratedeck.NewStore(watchCtx, pool, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go rates.Watch(watchCtx, time.Minute)
	acts := activities.New(pool)
	acts.Rates, acts.Rules, acts.Carrier = rates, rules, sim
	// A money loss (a refund, a staff debit) tells the call in progress
	// (balance-changed); top-ups and refunds go to the payment simulator
	// the app runs, through stripe-go.
	acts.Signaler = tc
	acts.Payments = payments.NewStripe(cfg.StripeSecretKey, cfg.StripeAPIBase, nil)
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
	return base, pool, sim
}

// httpUser is a signed-in session driven over plain HTTP, for the parts
// of a test that are not about the browser.
type httpUser struct {
	base   string
	client *http.Client
}

// signUpOverHTTP signs a user up in Nigeria through the sign-up form's
// endpoint, as a same-origin browser would post it.
func signUpOverHTTP(t *testing.T, base, email, password, name string) *httpUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &httpUser{base: base, client: &http.Client{Jar: jar, Timeout: stepTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := url.Values{"email": {email}, "password": {password}, "display_name": {name}, "home_country": {"NG"}}
	status, location, body := u.send(t, http.MethodPost, "/signup", "application/x-www-form-urlencoded", form.Encode())
	if status != http.StatusSeeOther || location != "/call" {
		t.Fatalf("signing up %s: %d %s\n%s", email, status, location, body)
	}
	return u
}

func (u *httpUser) send(t *testing.T, method, path, contentType, body string) (status int, location, respBody string) {
	t.Helper()
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// placedCall is the answer to POST /calls.
type placedCall struct {
	CallID   string `json:"call_id"`
	Token    string `json:"token"`
	Identity string `json:"identity"`
}

// startCall asks the app for a call to number, as the dialer does.
func (u *httpUser) startCall(t *testing.T, number string) placedCall {
	t.Helper()
	req, _ := json.Marshal(map[string]string{"phone_number": number})
	status, _, body := u.send(t, http.MethodPost, "/calls", "application/json", string(req))
	var c placedCall
	if err := json.Unmarshal([]byte(body), &c); status != http.StatusCreated || err != nil || c.CallID == "" {
		t.Fatalf("POST /calls %s: %d %s", number, status, body)
	}
	return c
}

// postToWallet posts a ledger entry to email's wallet.
func postToWallet(t *testing.T, pool *pgxpool.Pool, email, key string, kind ledger.Kind, cents int64) {
	t.Helper()
	var account uuid.UUID
	if err := pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(context.Background(), ledger.Entry{Key: key, AccountID: account, Kind: kind, AmountCents: cents, Memo: "browser test"}); err != nil {
		t.Fatal(err)
	}
}

// desktop is a laptop's viewport, width desktopWidth and the given height
// in CSS px, with a mouse.
func desktop(height int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(desktopWidth, height, chromedp.EmulateScale(1))
}

// desktopScreenshot saves the whole page as a PNG at the desktop width,
// making the viewport as tall as the page for the shot as screenshot does
// at a phone's.
func (b *browser) desktopScreenshot(file string) {
	b.t.Helper()
	height, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`Math.max(document.documentElement.scrollHeight, innerHeight)`))
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(desktop(int64(math.Ceil(height))))
	b.do(chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", file, err)
	}
	b.do(desktop(desktopHeight))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("%s: %s (%.0f CSS px tall, %d bytes)", b.eval(`location.pathname`), file, height, len(png))
}

// clickInView scrolls the element sel names to the middle of the window,
// checks that nothing (the fixed bottom nav, say) covers its centre, and
// clicks it with the mouse.
func (b *browser) clickInView(sel string) {
	b.t.Helper()
	if got := b.eval(fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e) return "no such element";
		e.scrollIntoView({block: "center", behavior: "instant"});
		const r = e.getBoundingClientRect();
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return hit && e.contains(hit) ? "" : "covered by " + (hit ? hit.outerHTML.slice(0, 80) : "nothing");
	})()`, sel)); got != "" {
		b.t.Fatalf("cannot click %s: %s (page: %s)", sel, got, b.where())
	}
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

// checkWidth checks that the page does not scroll sideways at the desktop
// width.
func (b *browser) checkWidth(page string) {
	b.t.Helper()
	width, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if err != nil {
		b.t.Fatal(err)
	}
	if width > desktopWidth {
		b.t.Errorf("%s: the page scrolls sideways: scrollWidth %v > %d", page, width, desktopWidth)
	}
}
