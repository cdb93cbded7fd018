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

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
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

	// Sign up through the real form.
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), name),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
	)
	if got := b.eval(`(() => { const s = document.querySelector("#home_country"); s.dispatchEvent(new Event("change", {bubbles: true})); return s.value + " " + s.selectedOptions[0].textContent; })()`); !strings.HasPrefix(got, "NG Nigeria") {
		t.Fatalf("country select: chose %q, want NG Nigeria", got)
	}
	b.do(chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)))
	b.waitForTab("dial", "/call")
	if !b.evalBool(fmt.Sprintf(`document.querySelector("main").textContent.includes(%q)`, "Welcome to Mobayilo, "+name)) {
		t.Errorf("/call does not welcome %q after sign-up", name)
	}

	// The balance chip follows the ledger live, over the page's SSE stream
	// (<turbo-stream-source src="/live">), without a reload.
	var account uuid.UUID
	if err := pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&account); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the live stream to connect", `!!document.querySelector("turbo-stream-source#live") && document.querySelector("turbo-stream-source#live").streamSource?.readyState === 1`)
	if _, err := ledger.New(pool).Post(context.Background(), ledger.Entry{Key: "bonus:browser", AccountID: account, Kind: ledger.Bonus, AmountCents: 250}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance chip to show $2.50", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$2.50"`)

	// Tap through the four tabs.
	for _, tab := range tabs {
		b.do(chromedp.Tap(chromedp.CSS(navLink(tab.name))))
		b.waitForTab(tab.name, tab.path)
		b.checkLayout(tab.name)
		b.screenshot(filepath.Join(outDir, "shell-"+tab.name+".png"))
	}

	// Sign out from the Settings tab (the last one tapped), then back in.
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
	if err := chromedp.Do(ctx, steps...); err != nil {
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
	s, err := web.New(web.Deps{
		Config:   cfg,
		Pool:     pool,
		Temporal: lazyTemporal(t, closedAddress(t)),
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Mailer:   mail.NewMailbox(zerolog.Nop()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
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
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	b := startBrowser(t, ctx, execPath)
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
			b.do(chromedp.Tap(chromedp.CSS(key(string(ch)))))
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
	b.do(chromedp.Tap(chromedp.CSS(key("7"))), chromedp.Tap(chromedp.CSS(`[data-action="dialer#backspace"]`)))
	b.waitFor("the Call button", `!`+callDisabled+` && document.querySelector("#rate-quote").textContent.includes("35 min")`)
	// The whole dialer fits a 360x740 screen above the bottom nav.
	if !b.evalBool(`document.querySelector("[data-dialer-target=call]").getBoundingClientRect().bottom <= document.querySelector('nav[aria-label="Main"]').getBoundingClientRect().top`) {
		t.Error("the Call button is hidden behind the bottom nav at 360x740")
	}
	b.screenshot(filepath.Join(repoRoot(t), "test-output", "dialer-ready.png"))
}
