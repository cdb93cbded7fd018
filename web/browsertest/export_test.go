package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// TestDownloadMyDataInSettings is "Download my data" in Chromium at
// 360x740: the person taps it in Settings, the section says it is being
// prepared and, by itself (polling), that it is ready and emailed, with
// the link's expiry; the email is in the mailbox the worker sent it to.
func TestDownloadMyDataInSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	pool := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
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
	box := mail.NewMailbox(zerolog.Nop())
	acts := activities.New(pool)
	acts.Mailer = box
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: tc, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Mailer: box})
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
	b.waitFor("the export button", `!!document.querySelector('form[action="/settings/export"] button')`)
	b.do(chromedp.Tap(chromedp.CSS(`form[action="/settings/export"] button[type="submit"]`)))
	b.waitFor("asked", `!!document.querySelector("#data-export-status")`)
	b.waitFor("ready", `document.querySelector("#data-export-status")?.dataset.status === "ready"`)
	if b.evalBool(`!!document.querySelector('#data-export[data-controller="poll"]')`) {
		t.Fatal("a ready export is still polled")
	}
	text := b.eval(`document.querySelector("#data-export").innerText`)
	if !strings.Contains(text, "we emailed you the link") || !strings.Contains(text, "works until") {
		t.Fatalf("the section says %q", text)
	}
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#data-export").scrollIntoView({block: "center"})`))
	b.shot(filepath.Join(out, "data-export-ready.png"))
	b.screenshot(filepath.Join(out, "settings-data-export.png"))
	// Settings in Arabic (right to left) and French: both sections in the
	// language, nothing wider than the phone; then English again.
	for _, lang := range []string{"ar", "fr", "en"} {
		b.do(chromedp.SetValue(chromedp.CSS("select#locale"), lang))
		b.tapInView(`form[action="/settings/language"] button[type="submit"]`)
		b.waitFor("Settings in "+lang, fmt.Sprintf(`location.pathname === "/settings" && document.documentElement.lang === %q && !!document.querySelector("#data-export-status") && `+settled, lang))
		if lang == "en" {
			break
		}
		if got, want := b.eval(`document.documentElement.dir`), i18n.Dir(lang); got != want {
			t.Errorf("%s: <html dir=%q>, want %q", lang, got, want)
		}
		for sel, key := range map[string]string{"#data-export-title": "data_export.title", "#data-export-status": "data_export.ready",
			"#delete-account-title": "account_delete.title", `label[for="delete_password"]`: "account_delete.password"} {
			if got, want := b.eval(fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, sel)), i18n.T(lang, key); got != want {
				t.Errorf("%s: %s says %q, want %q", lang, sel, got, want)
			}
		}
		if w := b.eval(`String(document.documentElement.scrollWidth)`); w != fmt.Sprint(viewportWidth) {
			t.Errorf("%s: Settings is %s CSS px wide at a %d px phone: it scrolls sideways", lang, w, viewportWidth)
		}
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#data-export").scrollIntoView({block: "center", behavior: "instant"})`))
		b.shot(filepath.Join(out, "lang-"+lang+"-data-export.png"))
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#delete-account").scrollIntoView({block: "center", behavior: "instant"})`))
		b.shot(filepath.Join(out, "lang-"+lang+"-account-delete.png"))
	}

	msgs := box.Messages()
	if len(msgs) == 0 || msgs[0].To != "ada@example.com" || !strings.Contains(msgs[0].Text, base+"/settings/export/download?token=") {
		t.Fatalf("mail %+v", msgs)
	}

	// Past its time, the link is a page saying so, and so is Settings.
	if _, err := pool.Exec(ctx, `UPDATE data_exports SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`http://\S+/settings/export/download\?token=[A-Za-z0-9_-]+`).FindString(msgs[0].Text)
	b.do(chromedp.Navigate(link))
	b.waitFor("the expired page", `document.body.innerText.includes("This link has expired")`)
	b.shot(filepath.Join(out, "data-export-expired-link.png"))
	b.do(chromedp.Navigate(base + "/settings"))
	b.waitFor("expired in settings", `document.querySelector("#data-export-status")?.dataset.status === "expired"`)
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#data-export").scrollIntoView({block: "center"})`))
	b.shot(filepath.Join(out, "data-export-expired.png"))
}
