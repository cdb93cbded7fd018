package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

const (
	// cutStuckWait bounds the wait for a call cut by a refund to be stuck
	// in billing: the refund's webhook, the cut, the hang-up, the carrier
	// asked again a few seconds later (hangUpRecheck), the refused charge.
	cutStuckWait = 90 * time.Second
	// refundWait bounds the wait for a refund's ledger entry (Stripe's
	// webhook) to show on the top-up's console page.
	refundWait = 30 * time.Second
)

// TestSupportHandlesAMidCallRefund is the support console in Chromium at
// 1280x900 with a real Temporal dev server and worker, Postgres, the
// carrier simulator and the payment simulator. A caller pays a $5 top-up
// and calls Nigeria; the carrier's final callbacks never arrive, so as far
// as the app knows the call goes on, and the database refuses its charge
// (a CHECK added for the test). Support refunds $4.90 of the top-up
// through the console's form: one refund entry of -$4.90, $0.10 left to
// refund, the refund in the audit log with its reason. The refund leaves
// no minute's money, so the call's workflow cuts it to nothing, hangs it
// up, bills it from the carrier's record (61 s, $0.28) and gets stuck on
// the refused charge. Support finds it on the dashboard, reads why in a
// sentence, fixes the cause and uses Credit and retry: credited $0.28,
// charged $0.28, both in Postgres once and in the audit log. A second
// stuck call is waived with a reason: settled as not billable, no ledger
// entry. The ledger verifies, and each caller's cached balance is the sum
// of their entries.
func TestSupportHandlesAMidCallRefund(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Temporal and Postgres; skipped with -short")
	}
	started := time.Now()
	execPath := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*testTimeout)
	t.Cleanup(cancel)
	base, pool, sim := startAdminApp(t, ctx)
	out := filepath.Join(repoRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	const (
		staffEmail   = "agent@example.com"
		callerEmail  = "refunded.caller@example.com"
		waivedEmail  = "waived.caller@example.com"
		password     = "correct horse battery"
		refundReason = "Customer disputes part of the top-up on the phone (ticket 4711)"
		creditReason = "Call cut short by our refund; goodwill for the charge (ticket 4711)"
		waiveReason  = "Carrier test call, not billable (ticket 4712)"
	)
	signUpOverHTTP(t, base, staffEmail, password, "Agent")
	if _, err := pool.Exec(ctx, `UPDATE users SET role = 'admin' WHERE email = $1`, staffEmail); err != nil {
		t.Fatal(err)
	}

	// 1. The caller pays a $5 top-up with the simulator's card, and calls.
	caller := signUpOverHTTP(t, base, callerEmail, password, "Caller")
	topUp := caller.payTopUp(t, "500")
	waitForValue(t, pool, "the top-up credited", refundWait, "succeeded 500",
		`SELECT t.status || ' ' || a.cached_balance_cents FROM topups t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1`, topUp)
	call := caller.startCall(t, "+234 803 123 4567")
	// The database refuses this call's charge (a rule of the schema, as a
	// bug would), so billing it gets stuck whatever ends it.
	refuseCharge(t, pool, call.CallID)
	// The carrier places it; its final callbacks never arrive: the call
	// is in progress as far as the app knows (the carrier's record says
	// completed after 61 s).
	if _, err := sim.PlaceCall(ctx, call.Token, call.CallID, 61*time.Second, carrier.Faults{DropFinal: true}); err != nil {
		t.Fatal(err)
	}
	waitForValue(t, pool, "the call in progress", stepTimeout, workflows.StatusInProgress, `SELECT status FROM calls WHERE id = $1`, call.CallID)

	b := startBrowser(t, ctx, execPath)
	dialogs := acceptDialogs(t, b)
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

	// 2. Support signs in and refunds $4.90 of the top-up on its page.
	b.do(chromedp.Navigate(base + "/signin"))
	b.waitFor("the sign-in form", `!!document.querySelector('form[action="/signin"] #email') && `+settled)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #email`), staffEmail),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type="submit"]`)),
	)
	b.waitFor("/call after signing in", `location.pathname === "/call" && !!document.querySelector('header a[href="/admin"]') && `+settled)

	topUpPage := fmt.Sprintf(`location.pathname === "/admin/topups/%s" && document.querySelector("main h1")?.textContent.trim() === "Top-up $5.00" && `, topUp) + settled
	b.do(chromedp.Navigate(base + "/admin/topups/" + topUp))
	b.waitFor("the top-up's page", topUpPage)
	const text = `?.textContent.replace(/\s+/g, " ").trim() ?? "none"`
	if got := b.eval(`document.querySelector("[data-refundable]")` + text); got != "$5.00" {
		t.Errorf("before the refund the top-up's page has %s left to refund, want $5.00", got)
	}
	refundButton := `main form#refund button[type="submit"]`
	if got := b.eval(`document.querySelector('` + refundButton + `')` + text); got != "Refund" {
		t.Fatalf("the refund form's button says %q, want Refund (page: %s)", got, b.where())
	}
	b.typeInto(`main form#refund input[name="amount"]`, "4.90")
	b.typeInto(`main form#refund textarea[name="reason"]`, refundReason)
	b.mark("beforeRefund")
	b.clickInView(refundButton)
	flash := b.flashAfter("beforeRefund", topUpPage, retryWait)
	if got := dialogs.last(); got != "Refund this top-up through Stripe?" {
		t.Errorf("the refund asked %q to confirm, want Refund this top-up through Stripe?", got)
	}
	// The webhook that posts the reversal may come after the page's short
	// wait for it: the flash says which, and a reload shows it once there.
	if !strings.HasPrefix(flash, "Refunded $4.90 through Stripe (re_") && !strings.HasPrefix(flash, "Refund of $4.90 asked of Stripe (re_") {
		t.Errorf("after the refund the flash says %q, want the refund of $4.90 through Stripe", flash)
	}
	refundEntry := `main [data-refunds] li[data-refund-entry^="stripe:refund:re_"]`
	b.reloadUntil("the refund on the top-up's page", topUpPage, `!!document.querySelector('`+refundEntry+`')`, refundWait)
	if got := b.eval(`document.querySelector('` + refundEntry + `')` + text); !strings.HasPrefix(got, "Refund · stripe:refund:re_") || !strings.Contains(got, "-$4.90") {
		t.Errorf("the top-up's page lists the refund as %q, want a Refund of -$4.90", got)
	}
	if n := b.eval(`String(document.querySelectorAll("main [data-refunds] li").length)`); n != "1" {
		t.Errorf("the top-up's page lists %s refunds, want 1", n)
	}
	if got := b.eval(`document.querySelector("[data-refunded]")` + text); got != "$4.90" {
		t.Errorf("the top-up's page says %s refunded, want $4.90", got)
	}
	if got := b.eval(`document.querySelector("[data-refundable]")` + text); got != "$0.10" {
		t.Errorf("the top-up's page has %s left to refund, want $0.10", got)
	}
	if got := b.eval(`document.querySelector('main form#refund input[name="amount"]')?.placeholder ?? "no form"`); got != "$0.10" {
		t.Errorf("the refund form offers %q to refund, want $0.10", got)
	}
	if got := sumCents(t, pool, `SELECT amount_cents FROM transactions WHERE topup_id = $1 AND kind = 'refund'`, topUp); len(got) != 1 || got[0] != -490 {
		t.Errorf("the top-up's refund entries are %v, want exactly one of -490", got)
	}
	b.checkWidth("top-up page after the refund")
	b.desktopScreenshot(filepath.Join(out, "admin-topup.png"))

	audit := b.auditLog()
	refunds := 0
	for _, row := range audit {
		// When, Who, What, On, Why, Outcome, Details.
		if len(row) >= 6 && row[2] == "topup_refund" {
			refunds++
			if row[1] != staffEmail || row[4] != refundReason || !strings.HasPrefix(row[5], "refund of $4.90 asked of Stripe: re_") {
				t.Errorf("the audit log's refund is %q, want by %s, for %q, refund of $4.90 asked of Stripe", row, staffEmail, refundReason)
			}
			if !strings.Contains(row[3], callerEmail) {
				t.Errorf("the audit log's refund is on %q, want the caller %s's top-up", row[3], callerEmail)
			}
		}
	}
	if refunds != 1 {
		t.Errorf("the audit log lists %d refunds, want 1; rows: %q", refunds, audit)
	}
	if !b.evalBool(fmt.Sprintf(`!!document.querySelector('main tbody tr[data-action="topup_refund"] a[href="/admin/topups/%s"]')`, topUp)) {
		t.Error("the audit log's refund does not link to the top-up")
	}

	// 3. $0.10 covers no minute at $0.14: the workflow cut the call to
	// nothing, hung it up, billed it from the carrier's record, and the
	// refused charge left it stuck.
	waitForValue(t, pool, "the cut call stuck in billing", cutStuckWait, workflows.BillingStuck, `SELECT billing_state FROM calls WHERE id = $1`, call.CallID)
	var (
		status, cutReason string
		cutSeconds        *int64
		duration, cost    *int64
	)
	if err := pool.QueryRow(ctx, `SELECT status, cut_seconds, coalesce(cut_reason, ''), duration_seconds, cost_cents FROM calls WHERE id = $1`, call.CallID).
		Scan(&status, &cutSeconds, &cutReason, &duration, &cost); err != nil {
		t.Fatal(err)
	}
	if status != workflows.StatusCompleted || cutSeconds == nil || *cutSeconds != 0 || cutReason != "refund" || duration == nil || *duration != 61 {
		t.Errorf("the call's row: status %s, cut to %v s for %q, %v s; want completed, cut to 0 s for refund, 61 s (the carrier's record)",
			status, deref(cutSeconds), cutReason, deref(duration))
	}
	t.Logf("call %s cut by the refund and stuck in billing (%s in)", call.CallID, time.Since(started).Round(time.Millisecond))

	b.clickInView(`nav[aria-label="Support console"] a[href="/admin"]`)
	dashboard := `location.pathname === "/admin" && document.querySelector("main h1")?.textContent.trim() === "What needs attention" && ` + settled
	b.waitFor("the dashboard", dashboard)
	stuckRow := fmt.Sprintf(`[data-stuck-call=%q]`, call.CallID)
	// Temporal's visibility lists the call a little after the workflow
	// marks it.
	b.reloadUntil("the stuck call on the dashboard", dashboard, `!!document.querySelector('`+stuckRow+`')`, visibilityWait)
	row := b.eval(`document.querySelector('` + stuckRow + `').textContent.replace(/\s+/g, " ")`)
	for _, want := range []string{callerEmail, "+2348031234567", "$0.28", "refused by a rule of the database"} {
		if !strings.Contains(row, want) {
			t.Errorf("the dashboard's row for the stuck call lacks %q: %q", want, row)
		}
	}
	b.checkWidth("dashboard")
	b.desktopScreenshot(filepath.Join(out, "admin-dashboard-after-refund.png"))

	callPage := fmt.Sprintf(`location.pathname === "/admin/calls/%s" && document.querySelector("main h1")?.textContent.startsWith("Call to") && `, call.CallID) + settled
	b.clickInView(fmt.Sprintf(`%s a.btn[href="/admin/calls/%s"]`, stuckRow, call.CallID))
	b.waitFor("the stuck call's page", callPage)
	const billingState = `document.querySelector("[data-billing-state] strong")?.textContent.trim()`
	if got := b.eval(billingState); got != workflows.BillingStuck {
		t.Errorf("the call's page says billing %q, want stuck", got)
	}
	sentence := b.eval(`document.querySelector("main [data-reason-sentence]")` + text)
	t.Logf("why it is stuck, as the page says: %q", sentence)
	if !strings.Contains(sentence, "$0.28") || !strings.Contains(sentence, "refused by a rule of the database") {
		t.Errorf("the call's page says it is stuck because %q, want the $0.28 charge refused by a rule of the database", sentence)
	}
	for _, chain := range []string{"activity error", "scheduledEventID", "retryable:", "(type:"} {
		if strings.Contains(sentence, chain) {
			t.Errorf("the plain reason %q carries the error chain's %q", sentence, chain)
		}
	}
	if got := b.eval(`Array.from(document.querySelectorAll("main dt")).find(dt => dt.textContent.trim() === "Duration")?.nextElementSibling` + text); got != "61 s" {
		t.Errorf("the call's page says it lasted %q, want the carrier's 61 s", got)
	}
	// The cut, in words, and the refund that caused it, with a link to
	// its ledger entry.
	if got := b.eval(`document.querySelector("main [data-cut]")` + text); got != "to 0 s of talk (refund during the call), hung up at the carrier" {
		t.Errorf("the call's page says of the cut %q", got)
	}
	if got := b.eval(`document.querySelector("main [data-lost-during-call]")` + text); !strings.Contains(got, "refund -$4.90") ||
		!b.evalBool(`!!document.querySelector('main [data-lost-during-call] a[href*="#entry-"]')`) {
		t.Errorf("the call's page says of the money taken during it %q, want the refund of $4.90 with a link to its entry", got)
	}
	// And in the workflow's state on the page.
	state := b.eval(`document.querySelector('main section[aria-labelledby="state"] pre')?.textContent ?? "no state"`)
	for _, want := range []string{`"CutToSeconds": 0,`, `"CutReason": "refund",`, `"CutEnded": true`, `"DurationSeconds": 61,`, `"CostCents": 28,`} {
		if !strings.Contains(state, want) {
			t.Errorf("the stuck call's workflow state on the page lacks %s:\n%s", want, state)
		}
	}
	b.checkWidth("stuck call page")
	b.desktopScreenshot(filepath.Join(out, "admin-call-stuck-after-refund.png"))

	// 4. The cause is fixed; Credit and retry, with a reason.
	if _, err := pool.Exec(ctx, `ALTER TABLE transactions DROP CONSTRAINT test_refuse_charge`); err != nil {
		t.Fatal(err)
	}
	creditForm := `main form#credit-retry`
	if got := b.eval(`document.querySelector('` + creditForm + ` input[name="amount"]')?.value ?? "no form"`); got != "0.28" {
		t.Errorf("the credit's amount is prefilled with %q, want the charge, 0.28", got)
	}
	b.typeInto(creditForm+` input[name="reason"]`, creditReason)
	creditButton := creditForm + ` button`
	if got := b.eval(`document.querySelector('` + creditButton + `')` + text); got != "Credit and retry" {
		t.Fatalf("the credit form's button says %q, want Credit and retry", got)
	}
	b.mark("beforeCredit")
	b.clickInView(creditButton)
	if got := b.flashAfter("beforeCredit", callPage, retryWait); !regexp.MustCompile(`^Credited \$0\.28 \(entry \d+\)\. Charged \$0\.28\.$`).MatchString(got) {
		t.Errorf("after Credit and retry the flash says %q, want Credited $0.28 (entry N). Charged $0.28.", got)
	}
	if got := b.eval(billingState); got != workflows.BillingCharged {
		t.Errorf("after Credit and retry the call's page says billing %q, want charged", got)
	}
	if b.evalBool(`!!document.querySelector('` + creditForm + `')`) {
		t.Error("the Credit and retry form is still there after the call was charged")
	}
	if got := sumCents(t, pool, `SELECT amount_cents FROM transactions WHERE call_id = $1 AND kind = 'call_charge'`, call.CallID); len(got) != 1 || got[0] != -28 {
		t.Errorf("the call's call_charge entries are %v, want exactly one of -28", got)
	}
	if got := sumCents(t, pool, `SELECT t.amount_cents FROM transactions t JOIN accounts a ON a.id = t.account_id JOIN users u ON u.id = a.user_id
		WHERE u.email = $1 AND t.kind = 'adjustment'`, callerEmail); len(got) != 1 || got[0] != 28 {
		t.Errorf("the caller's adjustment entries are %v, want exactly one of +28", got)
	}
	b.desktopScreenshot(filepath.Join(out, "admin-call-credited.png"))

	audit = b.auditLog()
	var retries, credits int
	for _, row := range audit {
		switch {
		case len(row) < 6:
		case row[2] == "retry_billing" && row[3] == "call to +2348031234567 "+callerEmail:
			retries++
			if row[1] != staffEmail || row[5] != "charged $0.28" {
				t.Errorf("the audit log's retry is %q, want by %s, charged $0.28", row, staffEmail)
			}
		case row[2] == "adjustment" && row[4] == creditReason:
			credits++
			if row[1] != staffEmail || !strings.Contains(row[3], callerEmail) {
				t.Errorf("the audit log's credit is %q, want by %s on %s", row, staffEmail, callerEmail)
			}
		}
	}
	if retries != 1 || credits != 1 {
		t.Errorf("the audit log lists %d retries and %d credits for the call, want 1 each; rows: %q", retries, credits, audit)
	}

	// 5. A second caller's call is stuck (its charge refused as well; this
	// time the carrier's callbacks all arrive); support waives it.
	waived := signUpOverHTTP(t, base, waivedEmail, password, "Waived")
	postToWallet(t, pool, waivedEmail, "bonus:"+waivedEmail, ledger.Bonus, 500)
	second := waived.startCall(t, "+234 803 765 4321")
	refuseCharge(t, pool, second.CallID)
	if _, err := sim.PlaceCall(ctx, second.Token, second.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	waitForValue(t, pool, "the second call stuck in billing", stepTimeout, workflows.BillingStuck, `SELECT billing_state FROM calls WHERE id = $1`, second.CallID)
	secondPage := fmt.Sprintf(`location.pathname === "/admin/calls/%s" && document.querySelector("main h1")?.textContent.startsWith("Call to") && `, second.CallID) + settled
	b.do(chromedp.Navigate(base + "/admin/calls/" + second.CallID))
	b.waitFor("the second stuck call's page", secondPage)
	waiveForm := fmt.Sprintf(`main form[action="/admin/calls/%s/waive"]`, second.CallID)
	b.typeInto(waiveForm+` #waive-reason`, waiveReason)
	b.mark("beforeWaive")
	b.clickInView(waiveForm + ` button`)
	if got := b.flashAfter("beforeWaive", secondPage, retryWait); got != "Waived: the call is settled as not billable; nothing was charged." {
		t.Errorf("after the waiver the flash says %q, want Waived: the call is settled as not billable; nothing was charged.", got)
	}
	if got := dialogs.last(); got != "Settle this call as not billable? Nothing will be charged for it." {
		t.Errorf("the waiver asked %q to confirm, want Settle this call as not billable? …", got)
	}
	if got := b.eval(billingState); got != workflows.BillingNotBillable {
		t.Errorf("after the waiver the call's page says billing %q, want not_billable", got)
	}
	if got := b.eval(`document.querySelector("main [data-waived]")` + text); !strings.Contains(got, waiveReason) || !strings.Contains(got, "Nothing was charged.") {
		t.Errorf("the waived call's page says %q, want the reason and Nothing was charged.", got)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE transactions DROP CONSTRAINT test_refuse_charge`); err != nil {
		t.Fatal(err)
	}
	if got := sumCents(t, pool, `SELECT amount_cents FROM transactions WHERE call_id = $1`, second.CallID); len(got) != 0 {
		t.Errorf("the waived call has ledger entries %v, want none", got)
	}
	b.desktopScreenshot(filepath.Join(out, "admin-call-waived.png"))

	audit = b.auditLog()
	waivers := 0
	for _, row := range audit {
		if len(row) >= 6 && row[2] == "waive_billing" {
			waivers++
			if row[1] != staffEmail || row[3] != "call to +2348037654321 "+waivedEmail || row[4] != waiveReason ||
				row[5] != "waived $0.28: settled as not billable, nothing charged" {
				t.Errorf("the audit log's waiver is %q, want by %s on the second call, for %q, waived $0.28: settled as not billable", row, staffEmail, waiveReason)
			}
		}
	}
	if waivers != 1 {
		t.Errorf("the audit log lists %d waivers, want 1; rows: %q", waivers, audit)
	}
	b.checkWidth("audit log")
	b.desktopScreenshot(filepath.Join(out, "admin-audit-support.png"))

	// 6. The ledger balances, and each caller's cached balance is the sum
	// of their entries: $5 - $4.90 + $0.28 - $0.28, and $5 untouched.
	for email, want := range map[string]int64{callerEmail: 10, waivedEmail: 500} {
		var cached, sum int64
		if err := pool.QueryRow(ctx, `SELECT a.cached_balance_cents, coalesce((SELECT sum(amount_cents) FROM transactions WHERE account_id = a.id), 0)::bigint
			FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&cached, &sum); err != nil {
			t.Fatal(err)
		}
		if cached != sum || cached != want {
			t.Errorf("%s: cached balance %d, sum of entries %d, want both %d", email, cached, sum, want)
		}
	}
	if r, err := ledger.New(pool).Verify(ctx); err != nil || !r.OK() {
		t.Errorf("ledger verify: %v %v", r.Problems, err)
	}
	t.Logf("done in %s", time.Since(started).Round(time.Millisecond))
}

// payTopUp buys the package of cents over HTTP as the Credits page does,
// and pays it with the payment simulator's card that succeeds, as its card
// form does; it returns the top-up's id.
func (u *httpUser) payTopUp(t *testing.T, cents string) string {
	t.Helper()
	status, location, body := u.send(t, http.MethodPost, "/credits/purchase", "application/x-www-form-urlencoded", url.Values{"package": {cents}}.Encode())
	id, ok := strings.CutPrefix(location, "/credits/topups/")
	if status != http.StatusSeeOther || !ok {
		t.Fatalf("buying the %s-cent package: %d %s\n%s", cents, status, location, body)
	}
	status, location, body = u.send(t, http.MethodPost, "/dev/payments/"+id+"/confirm", "application/x-www-form-urlencoded",
		url.Values{"card": {payments.CardSucceeds}}.Encode())
	if status != http.StatusSeeOther || location != "/credits/topups/"+id {
		t.Fatalf("paying top-up %s: %d %s\n%s", id, status, location, body)
	}
	return id
}

// refuseCharge makes the database refuse every ledger entry of the call
// (a CHECK that existing rows need not meet), so its billing gets stuck.
func refuseCharge(t *testing.T, pool *pgxpool.Pool, callID string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `ALTER TABLE transactions ADD CONSTRAINT test_refuse_charge CHECK (call_id IS DISTINCT FROM '`+callID+`'::uuid) NOT VALID`); err != nil {
		t.Fatal(err)
	}
}

// waitForValue polls query (one text column) until it gives want.
func waitForValue(t *testing.T, pool *pgxpool.Pool, what string, limit time.Duration, want, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var got string
		err := pool.QueryRow(context.Background(), query, args...).Scan(&got)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got %q (%v) after %s, want %q", what, got, err, limit, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sumCents is the amounts query gives (one bigint column).
func sumCents(t *testing.T, pool *pgxpool.Pool, query string, args ...any) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// dialogLog accepts every JavaScript dialog the page opens (Turbo's
// data-turbo-confirm asks with confirm()), as a person clicking OK, and
// keeps their messages.
type dialogLog struct {
	mu   sync.Mutex
	msgs []string
}

func acceptDialogs(t *testing.T, b *browser) *dialogLog {
	t.Helper()
	d := &dialogLog{}
	ctx, cancel := context.WithCancel(b.ctx)
	t.Cleanup(cancel)
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening) // subscribes now
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			d.mu.Lock()
			d.msgs = append(d.msgs, ev.Message)
			d.mu.Unlock()
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil && ctx.Err() == nil {
				t.Errorf("accepting the dialog %q: %v", ev.Message, err)
			}
		}
	}()
	return d
}

// last is the latest dialog's message ("" for none).
func (d *dialogLog) last() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.msgs) == 0 {
		return ""
	}
	return d.msgs[len(d.msgs)-1]
}

// typeInto types text into the empty field sel names, as a person does,
// and waits until the field holds it. Should a loaded machine lose a key
// on the way to the page, the field is emptied and typed again (a person
// would correct it too), at most three times.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	value := fmt.Sprintf(`document.querySelector(%q)?.value`, sel)
	for try := 1; ; try++ {
		b.do(chromedp.SendKeys(chromedp.CSS(sel), text))
		if b.poll(value+fmt.Sprintf(` === %q`, text), 3*time.Second) {
			return
		}
		got := b.eval(value + ` ?? "no such field"`)
		if try == 3 {
			b.t.Fatalf("typing %q into %s gives %q (page: %s)", text, sel, got, b.where())
		}
		b.t.Logf("typing %q into %s gave %q: typing it again", text, sel, got)
		b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return "" })()`, sel))
	}
}

// mark sets a data attribute on the body; the next page Turbo renders has
// a new body without it.
func (b *browser) mark(name string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { document.body.dataset.%s = "1"; return "" })()`, name))
}

// flashAfter waits for the page that replaces the one marked with name to
// hold page and a flash, and returns the flash's text (red ones prefixed
// "error: "), read at once: a green one leaves by itself after a while.
func (b *browser) flashAfter(name, pageExpr string, limit time.Duration) string {
	b.t.Helper()
	expr := fmt.Sprintf(`(() => {
		if (document.body.dataset.%s || !(%s)) return "";
		const f = document.querySelector("main [data-flash-kind] p");
		if (!f) return "";
		const kind = f.closest("[data-flash-kind]").dataset.flashKind;
		return (kind === "error" ? "error: " : "") + f.textContent.replace(/\s+/g, " ").trim();
	})()`, name, pageExpr)
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	for {
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		got, err := chromedp.Run(try, chromedp.Evaluate[string](expr))
		cancelTry()
		if err == nil && got != "" {
			return got
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("no page with a flash within %s; the page's alerts and field errors: %s (page: %s)", limit,
				b.eval(`JSON.stringify(Array.from(document.querySelectorAll('[role="alert"], .field-error')).map(e => e.textContent.replace(/\s+/g, " ").trim()))`), b.where())
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// reloadUntil reloads the page (pageExpr once loaded) until cond holds.
func (b *browser) reloadUntil(what, pageExpr, cond string, limit time.Duration) {
	b.t.Helper()
	since := time.Now()
	for reloads := 0; !b.evalBool(cond); reloads++ {
		if time.Since(since) > limit {
			b.t.Fatalf("no %s within %s (%d reloads; page: %s)", what, limit, reloads, b.where())
		}
		time.Sleep(500 * time.Millisecond)
		b.do(chromedp.Reload())
		b.waitFor(what+" after a reload", pageExpr)
	}
}

// auditLog opens the audit log from the console's nav and reads its rows:
// When, Who, What, On, Why, Outcome, Details.
func (b *browser) auditLog() [][]string {
	b.t.Helper()
	b.clickInView(`nav[aria-label="Support console"] a[href="/admin/audit"]`)
	b.waitFor("the audit log", `location.pathname === "/admin/audit" && document.querySelector("main h1")?.textContent.trim() === "Audit log" && `+settled)
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("main tbody tr")).map(tr => Array.from(tr.cells).map(td => td.textContent.replace(/\s+/g, " ").trim()))`))
	if err != nil {
		b.t.Fatal(err)
	}
	return rows
}
