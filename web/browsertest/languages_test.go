package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/ledger"
)

// TestLanguages (issue 22) drives both switchers at a phone's width: the
// signed-out one on sign in (a cookie: the sign-up form is then in French
// and the account starts without a setting of its own), then Settings' one
// (saved to the account) through every language. In each it looks at the
// dialer with a priced number, the in-call bar during a call, and a
// top-up's page, saving a screenshot of each (test-output/lang-<l>-*.png):
// the text is the catalogue's, nothing scrolls sideways, Arabic is laid
// out right to left with the keypad, the number and the in-call digits
// left to right.
func TestLanguages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout)
	t.Cleanup(cancel)
	base, pool := startRealtimeCallApp(t, ctx)

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
	text := func(sel string) string {
		return b.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent.replace(/\s+/g, " ").trim() ?? ""`, sel))
	}
	// norm is text() for an expected string: JavaScript's \s takes the
	// no-break spaces of the money formats too.
	norm := func(s string) string {
		return strings.Join(strings.Fields(strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s)), " ")
	}
	noSideways := func(page string) {
		t.Helper()
		if w := b.eval(`String(document.documentElement.scrollWidth)`); w != fmt.Sprint(viewportWidth) {
			t.Errorf("%s: the page is %s CSS px wide at a %d px phone: it scrolls sideways", page, w, viewportWidth)
		}
	}

	// Signed out: the switcher on sign in sets a cookie.
	b.do(chromedp.Navigate(base + "/signin"))
	b.waitFor("sign in in English", `document.documentElement.lang === "en" && !!document.querySelector("[data-lang-switch]") && `+settled)
	b.tapInView(`[data-lang-switch] a[lang="fr"]`)
	b.waitFor("sign in in French", `location.pathname === "/signin" && document.documentElement.lang === "fr" && `+settled)
	if got, want := text("main h1"), norm(i18n.T("fr", "auth.sign_in")); got != want {
		t.Errorf("the French sign-in page's heading = %q, want %q", got, want)
	}
	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form in French", `document.documentElement.lang === "fr" && !!document.querySelector('form[action="/signup"] select#home_country')`)
	if got, want := text(`label[for="display_name"]`), norm(i18n.T("fr", "field.your_name")); got != want {
		t.Errorf("the French sign-up form's name label = %q, want %q", got, want)
	}
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Aïcha"),
		chromedp.SendKeys(chromedp.CSS("#email"), "aicha@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitFor("the dialer in French", `location.pathname === "/call" && document.documentElement.lang === "fr" && `+settled)
	b.waitFor("the live stream to connect", liveOpen)
	var account uuid.UUID
	var locale *string
	if err := pool.QueryRow(ctx, `SELECT a.id, u.locale FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'aicha@example.com'`).Scan(&account, &locale); err != nil {
		t.Fatal(err)
	}
	if locale != nil {
		t.Errorf("the account's language is %q after a signed-out choice; want none of its own yet", *locale)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:aicha", AccountID: account, Kind: ledger.Bonus, AmountCents: 123456}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance in French", fmt.Sprintf(`document.querySelector("#balance-chip [data-balance]").textContent.trim() === %q`, i18n.Money("fr", 123456)))

	for _, lang := range i18n.Supported {
		// Settings' switcher, saved to the account; the next page is in it.
		b.do(chromedp.Navigate(base + "/settings"))
		b.waitFor("Settings", `location.pathname === "/settings" && !!document.querySelector("select#locale") && `+settled)
		b.do(chromedp.SetValue(chromedp.CSS("select#locale"), lang))
		b.tapInView(`form[action="/settings/language"] button[type="submit"]`)
		b.waitFor("Settings in "+lang, fmt.Sprintf(`location.pathname === "/settings" && document.documentElement.lang === %q && !!document.querySelector("[data-flash-kind]") && `+settled, lang))
		if got, want := text("[data-flash-kind] p"), norm(i18n.T(lang, "flash.language_saved")); got != want {
			t.Errorf("%s: the flash after saving = %q, want %q", lang, got, want)
		}
		if err := pool.QueryRow(ctx, `SELECT locale FROM users WHERE email = 'aicha@example.com'`).Scan(&locale); err != nil || locale == nil || *locale != lang {
			t.Errorf("%s: the account's language is %v (%v)", lang, locale, err)
		}
		wantDir := i18n.Dir(lang)
		if got := b.eval(`document.documentElement.dir`); got != wantDir {
			t.Errorf("%s: <html dir=%q>, want %q", lang, got, wantDir)
		}
		if got, want := text(`nav a[data-nav-tab="settings"]`), norm(i18n.T(lang, "nav.settings")); got != want {
			t.Errorf("%s: the Settings tab says %q, want %q", lang, got, want)
		}

		// The dialer, a number typed on the keypad and priced.
		b.do(chromedp.Navigate(base + "/call"))
		b.waitFor("the dialer", `location.pathname === "/call" && !!document.querySelector("[data-dialer-target=call]") && `+settled)
		b.waitFor("the live stream to connect", liveOpen)
		for _, ch := range "08031234567" {
			b.do(chromedp.Tap(chromedp.CSS(fmt.Sprintf(`main button[data-key=%q]`, string(ch)))))
		}
		price := i18n.T(lang, "money.per_minute", "Price", i18n.MoneyMicros(lang, 140000))
		b.waitFor("the price line", fmt.Sprintf(`document.querySelector("#rate-quote").textContent.includes(%q) && !document.querySelector("[data-dialer-target=call]").disabled`, price))
		if got, want := text("[data-dialer-target=call]"), norm(i18n.T(lang, "dial.call")); got != want {
			t.Errorf("%s: the Call button says %q, want %q", lang, got, want)
		}
		for sel, want := range map[string]string{`main [role=group][dir=ltr]`: "ltr", "#phone_number": "ltr", "body": wantDir} {
			if got := b.eval(fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).direction`, sel)); got != want {
				t.Errorf("%s: %s is laid out %s, want %s", lang, sel, got, want)
			}
		}
		if lang == "ar" {
			// Mirrored: the keypad's 1 stays at the left, the Call button
			// (first in the row) goes to the right of Delete.
			if !b.evalBool(`(() => { const k = document.querySelectorAll('main [role=group] button'); return k[0].getBoundingClientRect().left < k[2].getBoundingClientRect().left })()`) {
				t.Error("ar: the keypad's 1 is not left of its 3")
			}
			if !b.evalBool(`document.querySelector("[data-dialer-target=call]").getBoundingClientRect().left > document.querySelector('[data-action="dialer#backspace"]').getBoundingClientRect().left`) {
				t.Error("ar: the Call button is not mirrored to the right of Delete")
			}
		}
		noSideways(lang + " dialer")
		b.screenshot(filepath.Join(out, "lang-"+lang+"-dialer.png"))

		// The in-call bar, during a call.
		b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
		status := `document.querySelector("#in-call [data-call-status]")?.dataset.status`
		b.waitFor("in call", status+` === "in_progress" && document.querySelector("[data-call-target=timer]").textContent !== "0:00"`)
		if got, want := text("[data-call-target=status]"), norm(i18n.T(lang, "call_status.in_progress")); got != want {
			t.Errorf("%s: the in-call bar says %q, want %q", lang, got, want)
		}
		if got, want := text("[data-call-target=hangUp]"), norm(i18n.T(lang, "call.hang_up")); got != want {
			t.Errorf("%s: Hang up says %q, want %q", lang, got, want)
		}
		if got := b.eval(`getComputedStyle(document.querySelector("[data-call-target=number]")).direction`); got != "ltr" {
			t.Errorf("%s: the number in the bar is laid out %s", lang, got)
		}
		noSideways(lang + " in-call bar")
		b.shot(filepath.Join(out, "lang-"+lang+"-in-call.png"))
		b.tapInView("[data-call-target=hangUp]")
		b.waitFor("the call over", `!document.querySelector("[data-call-target=after]").hidden`)
		b.tapInView("[data-call-target=close]")

		// A top-up's page.
		b.do(chromedp.Navigate(base + "/credits"))
		b.waitFor("Credits", `location.pathname === "/credits" && `+settled)
		pkg := `form[action="/credits/purchase"] button[name="package"][value="1000"]`
		if got, want := text(pkg), norm(i18n.Money(lang, 1000)); got != want {
			t.Errorf("%s: the $10 package says %q, want %q", lang, got, want)
		}
		b.tapInView(pkg)
		b.waitFor("the top-up's page", `location.pathname.startsWith("/credits/topups/") && `+settled)
		if got, want := text("main h1"), norm(i18n.T(lang, "credits.add_amount", "Amount", i18n.Money(lang, 1000))); got != want {
			t.Errorf("%s: the top-up's heading = %q, want %q", lang, got, want)
		}
		noSideways(lang + " top-up")
		b.screenshot(filepath.Join(out, "lang-"+lang+"-topup.png"))
		if body := b.eval(`document.querySelector("main").textContent`); lang != "en" && strings.Contains(body, "Payment simulator") {
			t.Errorf("%s: the top-up page still says English: %q", lang, body)
		}
	}
}
