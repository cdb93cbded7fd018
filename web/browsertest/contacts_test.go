package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// TestCallAContact in Chromium at 360x740, on the whole stack with the
// carrier simulator in real time: the person opens Contacts from the
// dialer, saves a national number through the form, sees it E.164 with its
// price, makes it a favourite, imports another with the Contact Picker
// (stubbed, as Android Chrome has it), taps Call on it, finds the dialer filled
// (and the favourite above Recent), calls, is in call, and History names
// the call after the contact, before and after the hang-up; then the
// person rates how the call sounded, and the rating is stored with it.
func TestCallAContact(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
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

	b.do(chromedp.Navigate(base + "/signup"))
	b.waitFor("the sign-up form", `!!document.querySelector('form[action="/signup"] select#home_country')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Ifeoma"),
		chromedp.SendKeys(chromedp.CSS("#email"), "ifeoma@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS("#home_country"), "NG"),
		chromedp.Tap(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
	)
	b.waitForTab("dial", "/call")
	b.waitFor("the live stream to connect", liveOpen)
	var account uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'ifeoma@example.com'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:ifeoma", AccountID: account, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the balance to arrive", `document.querySelector("#balance-chip [data-balance]").textContent.trim() === "$5.00"`)
	b.eval(`(() => { document.querySelector('[data-controller="flash"]')?.remove(); return "" })()`)

	// Contacts, from the dialer.
	b.tapInView(`main a[href="/contacts"]`)
	b.waitForTab("dial", "/contacts")
	// Headless Chromium has no Contact Picker: only the manual form.
	if !b.evalBool(`document.querySelector("[data-contact-picker-target=button]").hidden`) {
		t.Error("Import from phone is shown where navigator.contacts is missing")
	}
	b.typeInto("#name", "Mama Ngozi")
	b.typeInto("#phone_number", "0803 123 4567")
	b.tapInView(`form[action="/contacts"] button[type="submit"]`)
	item := `(document.querySelector("[id^=contact-]")?.textContent.replace(/\s+/g, " ").trim() ?? "")`
	b.waitFor("the saved contact with its price", `location.pathname === "/contacts" && `+item+`.includes("Mama Ngozi") && `+item+`.includes("+2348031234567") && `+item+`.includes("$0.14/min") && `+settled)
	b.tapInView(`[id^=contact-] form[action$="/favourite"] button`)
	b.waitFor("the favourite", `document.querySelector('[id^=contact-] [aria-pressed="true"]') !== null && `+settled)

	// Android Chrome's Contact Picker (stubbed from here on, as the phone
	// has it): Import from phone shows, asks for one contact's name and
	// numbers, and fills the form; the server reads the national number.
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.ContactsManager = function () {};
		Object.defineProperty(navigator, "contacts", {value: {select: async (props, opts) => {
			window.pickedWith = JSON.stringify([props, opts]);
			return [{name: ["Chioma Eze"], tel: ["0803 123 4570", "+44 20 7946 0018"]}];
		}}});`}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Reload())
	b.waitFor("Import from phone", `location.pathname === "/contacts" && document.querySelector("[data-contact-picker-target=button]")?.hidden === false && `+settled)
	b.tapInView("[data-contact-picker-target=button]")
	b.waitFor("the form filled from the phone", `document.querySelector("#name").value === "Chioma Eze" && document.querySelector("#phone_number").value === "0803 123 4570"`)
	if got := b.eval(`window.pickedWith`); got != `[["name","tel"],{"multiple":false}]` {
		t.Errorf("the picker was asked for %s", got)
	}
	b.tapInView(`form[action="/contacts"] button[type="submit"]`)
	b.waitFor("the imported contact", `document.querySelectorAll("[id^=contact-]").length === 2 && document.querySelectorAll("[id^=contact-]")[1].textContent.includes("+2348031234570") && `+settled)
	b.checkButtonsAndLinks("/contacts")
	b.screenshot(filepath.Join(out, "contacts.png"))

	// Call from the contact: the dialer is filled and priced.
	b.tapInView(`a[aria-label="Call Mama Ngozi"]`)
	b.waitForTab("dial", "/call")
	b.waitFor("the dialer filled", `document.querySelector("#phone_number").value === "+2348031234567" && document.querySelector("#rate-quote").textContent.includes("$0.14/min") && !document.querySelector("[data-dialer-target=call]").disabled`)
	if !b.evalBool(`document.querySelector("#favourites")?.closest("section").textContent.includes("Mama Ngozi") === true`) {
		t.Error("the dialer does not show the favourite")
	}
	b.screenshot(filepath.Join(out, "contacts-dialer.png"))
	b.do(chromedp.Tap(chromedp.CSS("[data-dialer-target=call]")))
	status := `document.querySelector("#in-call [data-call-status]")?.dataset.status`
	b.waitFor("in call", status+` === "in_progress" && document.querySelector("[data-call-target=status]").textContent.trim() === "In call"`)
	callID := b.eval(`document.querySelector("#in-call [data-call-status]").dataset.callStatus`)

	// History names the call after the contact, with the number, and keeps
	// the name when the row turns to the call's end by itself (the live
	// stream's row).
	b.do(chromedp.Tap(chromedp.CSS(navLink("history"))))
	b.waitForTab("history", "/history")
	row := fmt.Sprintf(`(document.querySelector("#call-row-%s")?.textContent.replace(/\s+/g, " ").trim() ?? "")`, callID)
	b.waitFor("the contact's name in History, in call", row+`.includes("Mama Ngozi") && `+row+`.includes("+2348031234567") && `+row+`.includes("In call")`)
	// Past the few seconds the server asks of a rated call, then hang up.
	b.waitFor("seven seconds of talk", `(() => { const [m, s] = document.querySelector("[data-call-target=timer]").textContent.split(":").map(Number); return m * 60 + s >= 7 })()`)
	b.tapInView("[data-call-target=hangUp]")
	b.waitFor("the call's outcome", `document.querySelector("[data-call-target=outcome]").textContent.trim() === "1 min · $0.14"`)
	b.waitFor("the row's end, still named", row+`.includes("Completed") && `+row+`.includes("$0.14") && `+row+`.includes("Mama Ngozi")`)
	t.Logf("the row: %s", b.eval(row))
	b.screenshot(filepath.Join(out, "contacts-history.png"))

	// How the contact's call sounded: the bar asks, the rating is kept
	// with the call.
	rate := `document.querySelector("[data-call-target=rate]")`
	b.waitFor("the rating row", `!`+rate+`.hidden`)
	b.tapInView(`[data-call-target=rate] [data-score="4"]`)
	b.tapInView(`[data-call-target=rate] [data-issue="echo"]`)
	b.tapInView(`[data-call-target=rate] [data-rate-send]`)
	b.waitFor("Thanks", rate+`.querySelector("[data-rate-result]").textContent.trim() === "Thanks"`)
	var score int
	var issues []string
	if err := pool.QueryRow(ctx, `SELECT score, issues FROM call_ratings WHERE call_id = $1`, callID).Scan(&score, &issues); err != nil {
		t.Fatal(err)
	}
	if score != 4 || fmt.Sprint(issues) != "[echo]" {
		t.Fatalf("stored rating %d %v, want 4 [echo]", score, issues)
	}
	b.screenshot(filepath.Join(out, "contacts-rated.png"))
}

// checkButtonsAndLinks checks that every visible button, link and summary
// in the page's main part is at least minTapTarget CSS px each way.
func (b *browser) checkButtonsAndLinks(page string) {
	b.t.Helper()
	targets, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll("main a, main button, main summary"))
		.filter(e => e.getClientRects().length > 0 && !e.closest(".sr-only") && !e.closest("details:not([open]) > :not(summary)"))
		.map(e => { const r = e.getBoundingClientRect(); return {tab: e.tagName.toLowerCase() + " " + JSON.stringify(e.textContent.replace(/\s+/g, " ").trim().slice(0, 40)), width: r.width, height: r.height}; })`))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(targets) == 0 {
		b.t.Errorf("%s: nothing to check", page)
	}
	for _, x := range targets {
		if x.Width < minTapTarget || x.Height < minTapTarget {
			b.t.Errorf("%s: the tap target %s is %.1fx%.1f CSS px, want at least %dx%d", page, x.Tab, x.Width, x.Height, minTapTarget, minTapTarget)
		}
	}
}

// startRealtimeCallApp is startAdminApp with the carrier simulator
// playing Twilio in real time (as TestCallThroughTheSimulator has it): a
// call rings, is in progress until hung up, and is billed.
func startRealtimeCallApp(t *testing.T, ctx context.Context) (string, *pgxpool.Pool) {
	t.Helper()
	base, pool, sim := startAdminApp(t, ctx)
	sim.Realtime, sim.Ring = true, time.Second
	return base, pool
}
