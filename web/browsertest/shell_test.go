// Package browsertest drives the real app in a headless Chromium at a phone's
// size: sign up, the four tabs of the bottom nav, sign out and in again.
//
// It needs Debian's chromium (scripts/chromium.sh installs it), the bundled
// front end (make assets) and the test Postgres (scripts/postgres.sh). Without
// a browser the test fails rather than skips; only -short skips it.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

const (
	// The viewport of a small Android phone, in CSS pixels.
	viewportWidth  = 360
	viewportHeight = 740

	// minTapTarget is the smallest width and height of a nav link, in CSS
	// pixels (Material's 48dp).
	minTapTarget = 48

	// testTimeout bounds the whole test, browser start included.
	testTimeout = 60 * time.Second
	// stepTimeout bounds one wait, so a stuck step fails with the page's
	// state while the browser is still there to ask.
	stepTimeout = 15 * time.Second
)

// tabs are the bottom nav's tabs in the order the test taps them: each tap
// leaves another tab, and the last one (settings) has the sign-out button.
var tabs = []struct{ name, path string }{
	{"history", "/history"},
	{"credits", "/credits"},
	{"dial", "/call"},
	{"settings", "/settings"},
}

func TestMobileShell(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium and Postgres; skipped with -short")
	}
	started := time.Now()
	execPath := chromiumPath(t)
	base, pool := startApp(t)
	outDir := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Cancelled after the browser's own cleanup, which closes it gracefully.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	b := startBrowser(t, ctx, execPath)

	// Uncaught errors in the page fail the test; other console lines are
	// logged. The collector ends before the browser does.
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

	const (
		name     = "Ada Obi"
		email    = "ada.obi@example.com"
		password = "correct horse battery"
	)

	// A phone in Lagos whose browser speaks Nigerian English: the sign-up
	// form chooses Nigeria and sends the phone's time zone.
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Africa/Lagos"}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: "Mozilla/5.0 (Linux; Android 13) Chrome/156 Mobile", AcceptLanguage: "en-NG,en;q=0.9"})
		return err
	}))

	// Sign up through the real form.
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	if got := b.eval(`(() => { const s = document.querySelector("#home_country"); return s.value + " " + s.selectedOptions[0].textContent; })()`); !strings.HasPrefix(got, "NG Nigeria (+234)") {
		t.Errorf("the country the browser's language names is not chosen: %q, want NG Nigeria (+234)", got)
	}
	b.waitFor("the time zone", `document.querySelector('input[name="time_zone"]').value === "Africa/Lagos"`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), name),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	b.do(chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)))
	b.waitForTab("dial", "/call")
	if !b.evalBool(fmt.Sprintf(`document.querySelector("main").textContent.includes(%q)`, "Welcome to Mobayilo, "+name)) {
		t.Errorf("/call does not welcome %q after sign-up", name)
	}
	var zone string
	if err := pool.QueryRow(context.Background(), `SELECT time_zone FROM users WHERE email = $1`, email).Scan(&zone); err != nil || zone != "Africa/Lagos" {
		t.Errorf("the account's time zone is %q (%v), want the phone's Africa/Lagos", zone, err)
	}

	// The balance chip follows the ledger live, over the page's one SSE
	// stream (live.js), without a reload.
	var account uuid.UUID
	if err := pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&account); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the live stream to connect", liveOpen)
	if _, err := ledger.New(pool).Post(context.Background(), ledger.Entry{Key: "bonus:browser", AccountID: account, Kind: ledger.Bonus, AmountCents: 250}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance chip to show $2.50", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$2.50"`)

	// Tap through the four tabs: one stream all along (a Turbo visit
	// neither closes it nor opens another).
	for _, tab := range tabs {
		b.do(chromedp.Tap(chromedp.CSS(navLink(tab.name))))
		b.waitForTab(tab.name, tab.path)
		b.checkLayout(tab.name)
		b.screenshot(filepath.Join(outDir, "shell-"+tab.name+".png"))
	}
	if opens := b.eval(`document.documentElement.dataset.liveOpens`); opens != "1" || !b.evalBool(liveOpen) {
		t.Errorf("the live stream was opened %s times over four Turbo visits, want once (state %s)", opens, b.eval(`document.documentElement.dataset.live`))
	}
	var streams int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM live_streams`).Scan(&streams); err != nil || streams != 1 {
		t.Errorf("%d live streams registered, want 1 (%v)", streams, err)
	}

	// Settings (the last tab tapped): a wrong current password comes back
	// with its error in view, under the header and above the nav, and the
	// field focused.
	b.tapInView(`form[action="/settings/password"] #current_password`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/settings/password"] #current_password`), "not my password"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/settings/password"] #new_password`), "a new password 123"),
	)
	b.eval(`(() => { window.scrollTo(0, 0); return "" })()`)
	b.tapInView(`form[action="/settings/password"] button[type="submit"]`)
	b.waitFor("the error", `!!document.querySelector("#current_password-error") && `+settled)
	b.waitFor("the error in view and focused", `(() => {
		const e = document.querySelector("#current_password-error").getBoundingClientRect();
		const top = document.querySelector("header").getBoundingClientRect().bottom;
		const bottom = document.querySelector('nav[aria-label="Main"]').getBoundingClientRect().top;
		return e.top >= top && e.bottom <= bottom && document.activeElement?.id === "current_password";
	})()`)
	t.Logf("the error: %s", b.eval(`(() => { const r = document.querySelector("#current_password-error").getBoundingClientRect(); return document.querySelector("#current_password-error").textContent + " at " + Math.round(r.top) + "-" + Math.round(r.bottom) + " px" })()`))
	b.shot(filepath.Join(outDir, "settings-error.png"))

	// Saved with no connection: it says so next to the button, with Retry,
	// and goes by itself when the connection is back.
	b.tapInView(`form[action="/settings/time-zone"] #time_zone`)
	b.eval(`(() => { const i = document.querySelector("#time_zone"); i.value = "Europe/London"; return "" })()`)
	b.network(true, 0)
	b.tapInView(`form[action="/settings/time-zone"] button[type="submit"]`)
	b.waitFor("the offline notice", `(() => {
		const n = document.querySelector('form[action="/settings/time-zone"] [data-net-notice]');
		if (!n) return false;
		const r = n.getBoundingClientRect();
		return n.textContent.includes("No connection") && n.querySelector("button")?.textContent === "Retry" && r.top >= 0 && r.bottom <= innerHeight;
	})()`)
	b.shot(filepath.Join(outDir, "settings-offline.png"))
	b.network(false, 0)
	b.waitFor("the form sent once online", `location.pathname === "/settings" && document.querySelector("main").textContent.includes("Times now show in Europe/London.") && `+settled)

	// Sign out from the Settings tab, then back in.
	if got := b.eval(`document.querySelector('form[action="/signout"] button[type="submit"]').textContent.trim()`); got != "Sign out" {
		t.Fatalf("sign-out button says %q, want Sign out", got)
	}
	b.do(chromedp.Tap(chromedp.CSS(`form[action="/signout"] button[type="submit"]`)))
	b.waitFor("/signin after signing out", `location.pathname === "/signin" && !!document.querySelector('form[action="/signin"] #email') && !document.querySelector('nav[aria-label="Main"]') && `+settled)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #email`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #password`), password),
		chromedp.Tap(chromedp.CSS(`form[action="/signin"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")

	t.Logf("done in %s", time.Since(started).Round(time.Millisecond))
}

// settled holds when Turbo is not between pages and the page's fonts and
// images are in, so a screenshot shows the finished page.
const settled = `!document.documentElement.hasAttribute("aria-busy") && document.fonts.status === "loaded" && Array.from(document.images).every(i => i.complete)`

// phone emulates a touch phone viewportWidth CSS px wide and height tall,
// at a device scale factor of 2.
func phone(height int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(viewportWidth, height,
		chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)
}

// shot saves the screen as the person sees it (the viewport, not the whole
// page), as a PNG.
func (b *browser) shot(file string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", file, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("%s: %s (the screen, %d bytes)", b.eval(`location.pathname`), file, len(png))
}

// screenshot saves the whole page as a PNG. Like Puppeteer's fullPage, it
// makes the viewport as tall as the page for the shot, so the fixed bottom
// nav is drawn at the bottom of the page and not over its middle.
func (b *browser) screenshot(file string) {
	b.t.Helper()
	height, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`Math.max(document.documentElement.scrollHeight, innerHeight)`))
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(phone(int64(math.Ceil(height))))
	b.do(chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", file, err)
	}
	b.do(phone(viewportHeight))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("%s: %s (%.0f CSS px tall, %d bytes)", b.eval(`location.pathname`), file, height, len(png))
}

func navLink(tab string) string {
	return fmt.Sprintf(`nav[aria-label="Main"] a[data-nav-tab=%q]`, tab)
}

// waitForTab waits until Turbo has rendered path with tab as the only
// current tab. Turbo changes the URL before it renders, so the URL alone is
// not enough.
func (b *browser) waitForTab(tab, path string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s with the %s tab current", path, tab), fmt.Sprintf(
		`location.pathname === %q && document.querySelectorAll('nav[aria-label="Main"] a[aria-current="page"]').length === 1 && !!document.querySelector(%q) && %s`,
		path, navLink(tab)+`[aria-current="page"]`, settled))
}

type box struct {
	Tab    string  `json:"tab"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// checkLayout checks what the current page must have at a phone's width:
// the stylesheet applied, no sideways scrolling, four nav links of at least
// 48x48 CSS px, and no request that left the test server.
func (b *browser) checkLayout(tab string) {
	b.t.Helper()
	if pos := b.eval(`getComputedStyle(document.querySelector('nav[aria-label="Main"]')).position`); pos != "fixed" {
		b.t.Errorf("%s: the nav is position:%s, want fixed (is app.css loaded?)", tab, pos)
	}
	width, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if err != nil {
		b.t.Fatal(err)
	}
	if width > viewportWidth {
		b.t.Errorf("%s: the page scrolls sideways: scrollWidth %v > %d", tab, width, viewportWidth)
	}
	boxes, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]box](
		`Array.from(document.querySelectorAll('nav[aria-label="Main"] a[data-nav-tab]')).map(a => { const r = a.getBoundingClientRect(); return {tab: a.dataset.navTab, width: r.width, height: r.height}; })`))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(boxes) != 4 {
		b.t.Errorf("%s: %d nav links, want 4", tab, len(boxes))
	}
	var sizes []string
	for _, x := range boxes {
		sizes = append(sizes, fmt.Sprintf("%s %.0fx%.0f", x.Tab, x.Width, x.Height))
		if x.Width < minTapTarget || x.Height < minTapTarget {
			b.t.Errorf("%s: nav link %s is %.1fx%.1f CSS px, want at least %dx%d", tab, x.Tab, x.Width, x.Height, minTapTarget, minTapTarget)
		}
	}
	b.t.Logf("%s: scrollWidth %v; nav links (CSS px): %s", tab, width, strings.Join(sizes, ", "))

	foreign, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).map(e => e.name).filter(n => !n.startsWith(location.origin + "/"))`))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(foreign) > 0 {
		b.t.Errorf("%s: requests that left the test server: %v", tab, foreign)
	}
}

// network sets the tab's connection: offline (every request fails, and
// navigator.onLine and the online/offline events say so), or online with
// latency ms of delay before each response.
func (b *browser) network(offline bool, latency float64) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: offline, Latency: latency, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: offline, Latency: latency, DownloadThroughput: -1, UploadThroughput: -1,
		})
		return err
	}))
}

// liveOpen holds once the page's one live stream (app's live.js) is open.
const liveOpen = `document.documentElement.dataset.live === "open"`

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's context
}

func startBrowser(t *testing.T, parent context.Context, execPath string) *browser {
	t.Helper()
	output := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Every host name fails to resolve, so nothing but the test server
		// (an IP literal) can be reached.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(output),
		// No UserDataDir: the allocator makes a fresh temporary
		// --user-data-dir and removes it when the browser has exited.
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		if t.Failed() && output.Len() > 0 {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	// The first run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	return &browser{t: t, ctx: ctx}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	err := chromedp.Do(ctx, steps...)
	// The live stream may replace the node a tap had found (the nav, the
	// balance) before the tap reads its box: the tap was not dispatched,
	// so it is tried again on the node now there (one step alone: steps
	// before it would be done twice).
	for try := 0; try < 3 && len(steps) == 1 && err != nil && strings.Contains(err.Error(), "Could not find node with given id"); try++ {
		time.Sleep(100 * time.Millisecond)
		err = chromedp.Do(ctx, steps...)
	}
	if err != nil {
		b.t.Fatalf("%v (page: %s)", err, b.where())
	}
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (b *browser) evalBool(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls the JavaScript predicate expr until it holds. It polls from
// Go rather than in the page, so a full page load in between does not break
// the wait.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var last error
	for {
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(try, chromedp.Evaluate[bool](expr))
		cancelTry()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("waiting for %s: %v (last error: %v; page: %s)", what, ctx.Err(), last, b.where())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// where describes the current page for a failure message.
func (b *browser) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`location.href + " " + JSON.stringify((document.body ? document.body.innerText : "").replace(/\s+/g, " ").slice(0, 400))`))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// consoleLog collects the page's console messages in the background.
type consoleLog struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	msgs   []chromedp.ConsoleMessage
}

func collectConsole(t *testing.T, tab context.Context) *consoleLog {
	t.Helper()
	ctx, cancel := context.WithCancel(tab)
	c := &consoleLog{cancel: cancel, done: make(chan struct{})}
	messages := chromedp.Console(ctx) // subscribes now
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// stop ends the collection and returns the messages.
func (c *consoleLog) stop() []chromedp.ConsoleMessage {
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs
}

// lockedBuffer takes the browser's output from the allocator's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// chromiumPath finds the browser: CHROMIUM_PATH, then Debian's
// /usr/bin/chromium, then chromium on PATH. No browser fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const hint = "run scripts/chromium.sh (it installs Debian's chromium), or set CHROMIUM_PATH"
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if !isExecutable(p) {
			t.Fatalf("CHROMIUM_PATH=%s is not an executable file: %s", p, hint)
		}
		return p
	}
	if isExecutable("/usr/bin/chromium") {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatalf("no Chromium found (CHROMIUM_PATH, /usr/bin/chromium, chromium on PATH): %s", hint)
	return ""
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

// repoRoot is the nearest directory above the working directory with a
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startApp serves the real router on a fresh database on loopback, as
// web/app_test.go does, and returns its base URL.
func startApp(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.New(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "APP_ENV":
			return "test"
		case "PUBLIC_BASE_URL":
			return base
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	s := webtest.New(t, web.Deps{
		Config:   cfg,
		Pool:     pool,
		Temporal: lazyTemporal(t, closedAddress(t)),
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer:   mail.NewMailbox(zerolog.Nop()),
		// The rules production runs with (cmd/mobayilo): the blocked
		// ranges, the per-call cap.
		Rules: rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit),
	})
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return base, pool
}

// lazyTemporal is a Temporal client that never connects unless used.
func lazyTemporal(t *testing.T, address string) client.Client {
	t.Helper()
	c, err := temporalx.Lazy(temporalx.Options{Address: address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closedAddress is a loopback port nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDialerShowsWhyItWillNotCall types numbers on the dialer's keypad (0
// held for +): a blocked destination and an unaffordable call show their
// reason, the Call button stays disabled, and /calls is never posted; an
// affordable number enables it.
func TestDialerShowsWhyItWillNotCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	base, pool := startApp(t)
	if _, err := ratedeck.LoadSampleIfEmpty(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
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
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Kemi"),
		chromedp.SendKeys(chromedp.CSS("#email"), "kemi@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")

	key := func(k string) string { return fmt.Sprintf(`button[data-key=%q]`, k) }
	dial := func(number string) {
		b.eval(`(() => { document.querySelector("#phone_number").value = ""; return "" })()`)
		for i, ch := range number {
			if ch == '+' && i == 0 {
				// Hold 0 for a plus.
				b.eval(`(() => { const k = document.querySelector('button[data-key="0"]'); k.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true})); setTimeout(() => k.dispatchEvent(new PointerEvent("pointerup", {bubbles: true})), 700); return "" })()`)
				b.waitFor("the plus", `document.querySelector("#phone_number").value === "+"`)
				time.Sleep(300 * time.Millisecond) // the finger lifts
				continue
			}
			// A click on the key itself, not a tap at its coordinates: on a
			// loaded machine a tap computed before a scroll lands on the
			// key below (the keypad's own place is checked further down).
			b.eval(fmt.Sprintf(`(() => { const k = document.querySelector(%q);
				k.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true})); k.dispatchEvent(new PointerEvent("pointerup", {bubbles: true})); k.click(); return "" })()`, key(string(ch))))
		}
		if got := b.eval(`document.querySelector("#phone_number").value`); got != number {
			t.Logf("typed %q, the field holds %q", number, got)
		}
		b.waitFor("the number "+number, fmt.Sprintf(`document.querySelector("#phone_number").value === %q`, number))
	}
	reason := `document.querySelector("[data-dialer-target=reason]").textContent`
	callDisabled := `document.querySelector("[data-dialer-target=call]").disabled`

	// A premium-rate number: blocked, with the reason.
	dial("+19005550199")
	b.waitFor("the blocked reason", reason+`.toLowerCase().includes("premium-rate") && `+callDisabled)
	b.screenshot(filepath.Join(repoRoot(t), "test-output", "dialer-blocked.png"))
	pressCall := `(() => { document.querySelector("[data-dialer-target=call]").click(); return "" })()`
	b.eval(pressCall)

	// Nigeria with a zero balance: unaffordable, with what it needs.
	dial("+2348031234567")
	b.waitFor("the unaffordable reason", reason+`.includes("needs at least $0.14") && `+callDisabled)
	b.eval(pressCall)
	b.screenshot(filepath.Join(repoRoot(t), "test-output", "dialer-unaffordable.png"))

	var posted int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM calls`).Scan(&posted); err != nil || posted != 0 {
		t.Fatalf("%d calls were posted (%v)", posted, err)
	}

	// With money in the wallet, the same number can be called.
	var account uuid.UUID
	if err := pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'kemi@example.com'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(context.Background(), ledger.Entry{Key: "bonus:kemi", AccountID: account, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$5.00"`)
	b.do(chromedp.Tap(chromedp.CSS(key("7"))), chromedp.Tap(chromedp.CSS(`[data-action="dialer#backspace"]`)))
	b.waitFor("the Call button", `!`+callDisabled+` && document.querySelector("#rate-quote").textContent.includes("35 min")`)
	// The whole dialer fits a 360x740 screen above the bottom nav.
	if !b.evalBool(`document.querySelector("[data-dialer-target=call]").getBoundingClientRect().bottom <= document.querySelector('nav[aria-label="Main"]').getBoundingClientRect().top`) {
		t.Error("the Call button is hidden behind the bottom nav at 360x740")
	}
	// A number that can be called: the Voice SDK is fetched ahead of the
	// tap, and the service worker keeps it.
	b.waitFor("the Voice SDK prefetched", `!!document.querySelector('link[rel="modulepreload"][href^="/assets/voice-sdk."]') && !!document.querySelector('link[rel="modulepreload"][href^="/assets/devices."]')`)
	b.waitFor("the Voice SDK kept by the service worker", `(() => {
		const url = document.querySelector('meta[name="voice-sdk"]').content;
		(async () => {
			for (const name of await caches.keys()) if (await (await caches.open(name)).match(url)) window.sdkKept = true;
		})();
		return window.sdkKept === true;
	})()`)
	b.screenshot(filepath.Join(repoRoot(t), "test-output", "dialer-ready.png"))

	// The price line has one height whatever it says: the keypad never
	// moves under a finger.
	// Measured from the number field above the price line, so that a scroll
	// of the page (which moves both) is not taken for the line's height.
	keypadTop := `(document.querySelector('button[data-key="1"]').getBoundingClientRect().top - document.querySelector("#phone_number").getBoundingClientRect().top)`
	top := b.eval(keypadTop + `.toString()`)
	for _, number := range []string{"", "+93 70 123 4567", "+19005550199", "+2348031234567"} {
		b.eval(fmt.Sprintf(`(() => { const i = document.querySelector("#phone_number"); i.value = %q; i.dispatchEvent(new Event("input", {bubbles: true})); return "" })()`, number))
		time.Sleep(600 * time.Millisecond) // the server's confirmation, when there is one
		if got := b.eval(keypadTop + `.toString()`); got != top {
			t.Errorf("with %q in the field the keypad moved from %s to %s px", number, top, got)
		}
	}

	// A place we do not call, in words, as soon as its code is typed.
	dial("+9370")
	b.waitFor("the not-served words", `document.querySelector("#rate-quote").textContent.includes("We don't call Afghanistan yet.") && `+callDisabled)

	// An unfinished number is not an emergency, and nothing says "too
	// short" while it is typed; Call says so.
	dial("12345")
	time.Sleep(800 * time.Millisecond)
	if got := b.eval(reason + ` + " | " + document.querySelector("#rate-quote").textContent`); strings.Contains(strings.ToLower(got), "emergency") || strings.Contains(got, "too short") {
		t.Errorf("while typing 12345 the dialer says %q", got)
	}
	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	b.waitFor("too short, once Call is tapped", reason+`.includes("too short") && !`+reason+`.toLowerCase().includes("emergency")`)

	// The price as the digits arrive, with the network cut: India's one
	// price of $0.02 a minute, and what $5 buys at it, from the price list.
	b.network(true, 0)
	dial("+9198765")
	b.waitFor("the price with no network", `document.querySelector("#rate-quote").textContent.includes("India") && document.querySelector("#rate-quote").textContent.includes("$0.02/min · your balance buys 250 min") && `+reason+` === "A call lasts at most 120 min."`)
	for _, ch := range "43210" {
		b.do(chromedp.Tap(chromedp.CSS(key(string(ch)))))
	}
	// The whole number cannot be confirmed: it says so, with Retry.
	b.waitFor("the offline word", reason+`.includes("No connection") && !document.querySelector("[data-dialer-target=retry]").hidden`)
	b.screenshot(filepath.Join(repoRoot(t), "test-output", "dialer-offline.png"))
	b.network(false, 0)
	// Confirmed by itself once the connection is back.
	b.waitFor("the confirmed price", `document.querySelector("#rate-quote").textContent.includes("India · +919876543210") && document.querySelector("[data-dialer-target=retry]").hidden && !`+callDisabled+` && `+reason+` === "A call lasts at most 120 min."`)
	if got := b.eval(`document.querySelector("#rate-quote").textContent.replace(/\s+/g, " ").trim()`); !strings.Contains(got, "your balance buys 250 min") {
		t.Errorf("the confirmed price line says %q", got)
	}
	var posted2 int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM calls`).Scan(&posted2); err != nil || posted2 != 0 {
		t.Fatalf("%d calls were posted (%v)", posted2, err)
	}
}
