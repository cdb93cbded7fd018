package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// admin signs up a user and gives them the admin role.
func (a *app) admin(email string) *browser {
	a.t.Helper()
	b := a.browser()
	b.signUp(email, "correct horse", "Support")
	if _, err := a.pool.Exec(context.Background(), `UPDATE users SET role = 'admin' WHERE email = $1`, email); err != nil {
		a.t.Fatal(err)
	}
	return b
}

func TestStuckCallOnTheDashboardIsRetriedOnce(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("support@example.com")
	b := e.caller("stuck@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d", status)
	}
	// The database refuses the charge (a rule of the schema, as a bug would):
	// the call is stuck. A lack of money never does that (a debt).
	refuseCharge(t, e, call.CallID)
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to be stuck", func() bool {
		var billing string
		_ = e.pool.QueryRow(context.Background(), `SELECT billing_state FROM calls WHERE id = $1`, call.CallID).Scan(&billing)
		return billing == workflows.BillingStuck
	})
	// The dashboard lists it as Temporal's visibility does (eventually).
	var dash response
	waitFor(t, "the dashboard to list the stuck call", func() bool {
		dash = staff.get("/admin")
		return strings.Contains(dash.body, `data-stuck-call="`+call.CallID+`"`)
	})
	if !strings.Contains(dash.body, `href="/admin/calls/`+call.CallID+`"`) ||
		!strings.Contains(dash.body, "/namespaces/default/workflows/call-"+call.CallID) {
		t.Fatal("the stuck call has no link to its page or the Temporal UI")
	}
	// The dashboard's row says who, which number, how much and why.
	row := dash.body[strings.Index(dash.body, `data-stuck-call="`+call.CallID+`"`):]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{"stuck@example.com", "&#43;2348031234567", "$0.28", "refused by a rule of the database (test_refuse_charge)"} {
		if !strings.Contains(row, want) {
			t.Errorf("the dashboard's stuck row lacks %q:\n%s", want, row)
		}
	}
	page := staff.get("/admin/calls/" + call.CallID)
	if page.status != 200 || !strings.Contains(page.body, "Stuck in billing.") ||
		!strings.Contains(page.body, "The charge of $0.28 was refused by a rule of the database (test_refuse_charge).") ||
		strings.Contains(page.body, "scheduledEventID") || !strings.Contains(page.body, `data-balance-now>$5.00<`) {
		t.Fatalf("call page: %d\n%s", page.status, page.body)
	}
	// The customer is told it is being checked, never an endless "working
	// out the cost".
	if mine := b.get("/calls/" + call.CallID); !strings.Contains(mine.body, html.EscapeString("We're checking this call's charge; you won't be charged twice.")) {
		t.Fatalf("the caller's page of a stuck call:\n%s", mine.body)
	}

	// A retry before the cause is fixed fails, and says so as a failure.
	r := staff.post("/admin/calls/"+call.CallID+"/retry", nil)
	failed := staff.get(r.location)
	if !strings.Contains(failed.body, `data-flash-kind="error"`) || !strings.Contains(failed.body, "still stuck") {
		t.Fatalf("a failed retry's page:\n%s", failed.body)
	}

	// Support fixes the cause and retries: charged once.
	allowCharge(t, e)
	r = staff.post("/admin/calls/"+call.CallID+"/retry", nil)
	if r.status != http.StatusSeeOther || r.location != "/admin/calls/"+call.CallID {
		t.Fatalf("retry: %d %s", r.status, r.location)
	}
	if page := staff.get(r.location); !strings.Contains(page.body, "Charged $0.28.") || !strings.Contains(page.body, `data-flash-kind="success"`) {
		t.Fatalf("after the retry the page says:\n%s", page.body)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -28 {
		t.Fatalf("charges %v", got)
	}
	if os.Getenv("RECORD_HISTORY") != "" {
		e.finish(call.CallID)
		recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_stuck_retried.json")
	}
	// The caller never sees the ledger's refusal, stuck or after.
	if mine := b.get("/calls/" + call.CallID); mine.status != 200 || strings.Contains(mine.body, "test_refuse_charge") || strings.Contains(mine.body, "activity error") {
		t.Fatalf("the caller's call page shows the billing error:\n%s", mine.body)
	}
	// A second retry (a double click, another staff member) changes nothing.
	staff.post("/admin/calls/"+call.CallID+"/retry", nil)
	if page := staff.get("/admin/calls/" + call.CallID); !strings.Contains(page.body, "Nothing to retry") {
		t.Fatalf("second retry:\n%s", page.body)
	}
	if got := e.charges(call.CallID); len(got) != 1 {
		t.Fatalf("charges after a second retry: %v", got)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM admin_actions WHERE action = 'retry_billing' AND target_id = $1`, call.CallID).Scan(&audited)
	if audited != 2 {
		t.Fatalf("%d retries audited, want the failed one and the one that charged", audited)
	}
	audit := staff.get("/admin/audit")
	if !strings.Contains(audit.body, "retry_billing") || !strings.Contains(audit.body, "support@example.com") ||
		!strings.Contains(audit.body, "charged $0.28") || !strings.Contains(audit.body, "still stuck") {
		t.Fatalf("the audit log does not show the retries and what they came to:\n%s", audit.body)
	}
	e.mustVerifyLedger()
	waitFor(t, "the dashboard to drop the call", func() bool {
		return !strings.Contains(staff.get("/admin").body, `data-stuck-call="`+call.CallID+`"`)
	})
}

// Support waives a stuck call: a reason is required, the workflow settles
// it as not billable with nothing posted, the audit log says so, and the
// caller sees nothing charged.
func TestStuckCallIsWaivedWithNothingPosted(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("waiver@example.com")
	b := e.caller("waived@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d", status)
	}
	refuseCharge(t, e, call.CallID)
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to be stuck", func() bool {
		var billing string
		_ = e.pool.QueryRow(context.Background(), `SELECT billing_state FROM calls WHERE id = $1`, call.CallID).Scan(&billing)
		return billing == workflows.BillingStuck
	})
	// No reason: refused, in red, nothing changed.
	r := staff.post("/admin/calls/"+call.CallID+"/waive", url.Values{"reason": {" "}})
	if page := staff.get(r.location); !strings.Contains(page.body, `data-flash-kind="error"`) || !strings.Contains(page.body, "Nothing was waived") {
		t.Fatalf("a waiver without a reason:\n%s", page.body)
	}
	r = staff.post("/admin/calls/"+call.CallID+"/waive", url.Values{"reason": {"goodwill: the line was bad"}})
	page := staff.get(r.location)
	if !strings.Contains(page.body, "Waived: the call is settled as not billable") || !strings.Contains(page.body, "goodwill: the line was bad") {
		t.Fatalf("after the waiver:\n%s", page.body)
	}
	var billing string
	var waived *string
	if err := e.pool.QueryRow(context.Background(), `SELECT billing_state, waived_reason FROM calls WHERE id = $1`, call.CallID).Scan(&billing, &waived); err != nil {
		t.Fatal(err)
	}
	if billing != workflows.BillingNotBillable || waived == nil || *waived != "goodwill: the line was bad" {
		t.Fatalf("the row: billing %s, waived %v", billing, waived)
	}
	if got := e.charges(call.CallID); len(got) != 0 {
		t.Fatalf("a waived call has ledger entries: %v", got)
	}
	if st := e.finish(call.CallID); st.BillingState != workflows.BillingNotBillable || st.Waived == nil {
		t.Fatalf("the workflow's end: %+v", st)
	}
	audit := staff.get("/admin/audit?action=waive_billing")
	if !strings.Contains(audit.body, "waive_billing") || !strings.Contains(audit.body, "settled as not billable") ||
		!strings.Contains(audit.body, "&#43;2348031234567") {
		t.Fatalf("the audit log of waivers:\n%s", audit.body)
	}
	if mine := b.get("/calls/" + call.CallID); !strings.Contains(mine.body, "nothing") {
		t.Fatalf("the caller's page of a waived call:\n%s", mine.body)
	}
	allowCharge(t, e)
	e.mustVerifyLedger()
}

func TestAdminSearchFindsCallsAndTopUps(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("finder@example.com")
	b := e.caller("found@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	sc, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 5*time.Second, carrier.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	e.finish(call.CallID)
	id := b.buy(500)
	pi := e.topup(id).PaymentIntent
	for _, q := range []string{"found@example.com", "+2348031234567", call.CallID, sc.ParentSid, sc.ChildSid} {
		if r := staff.get("/admin/search?q=" + strings.ReplaceAll(q, "+", "%2B")); !strings.Contains(r.body, `href="/admin/calls/`+call.CallID+`"`) {
			t.Errorf("search %q does not find the call (%d)", q, r.status)
		}
	}
	for _, q := range []string{"found@example.com", pi, id} {
		if r := staff.get("/admin/search?q=" + q); !strings.Contains(r.body, `href="/admin/topups/`+id+`"`) {
			t.Errorf("search %q does not find the top-up", q)
		}
	}
	page := staff.get("/admin/topups/" + id)
	if page.status != 200 || !strings.Contains(page.body, pi) || !strings.Contains(page.body, "&#34;Status&#34;: &#34;processing&#34;") ||
		!strings.Contains(page.body, "/workflows/topup-"+id) {
		t.Fatalf("top-up page: %d\n%s", page.status, page.body)
	}
	callPage := staff.get("/admin/calls/" + call.CallID)
	for _, want := range []string{"call_charge", "status:" + sc.ChildSid, "&#34;BillingState&#34;: &#34;charged&#34;"} {
		if !strings.Contains(callPage.body, want) && !strings.Contains(callPage.body, strings.ReplaceAll(want, "&#34;", `"`)) {
			t.Errorf("call page lacks %s", want)
		}
	}
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// refuseCharge makes the database refuse the call's charge until
// allowCharge: a CHECK that no retry of the same entry passes.
func refuseCharge(t *testing.T, e *callEnv, callID string) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), `ALTER TABLE transactions ADD CONSTRAINT test_refuse_charge CHECK (call_id IS DISTINCT FROM '`+callID+`'::uuid) NOT VALID`); err != nil {
		t.Fatal(err)
	}
}

func allowCharge(t *testing.T, e *callEnv) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), `ALTER TABLE transactions DROP CONSTRAINT test_refuse_charge`); err != nil {
		t.Fatal(err)
	}
}

// A debit while the customer is on a call warns and posts nothing until
// the admin confirms it; confirmed, it posts once.
func TestDebitDuringACallNeedsASecondConfirmation(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("careful@example.com")
	b := e.caller("oncall@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 30*time.Second, carrier.Faults{DropFinal: true}); err != nil {
		t.Fatal(err)
	}
	e.waitForStatus(call.CallID, "in_progress")
	var uid string
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'oncall@example.com'`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	page := "/admin/users/" + uid
	key := consoleFormKey(staff, page, adjustKeyPattern)
	debit := url.Values{"key": {key}, "direction": {"debit"}, "amount": {"1.00"}, "reason": {"duplicate bonus"}}
	r := staff.post(page+"/adjust", debit)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "has a call in progress (to &#43;2348031234567") ||
		!strings.Contains(r.body, `name="during_call"`) {
		t.Fatalf("a debit during a call: %d\n%s", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM transactions WHERE idempotency_key = $1`, "admin:"+key); n != 0 {
		t.Fatalf("%d entries posted before the confirmation", n)
	}
	debit.Set("during_call", "yes")
	if r := staff.post(page+"/adjust", debit); r.status != http.StatusSeeOther {
		t.Fatalf("the confirmed debit: %d\n%s", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM transactions WHERE idempotency_key = $1 AND amount_cents = -100`, "admin:"+key); n != 1 {
		t.Fatalf("%d entries after the confirmation", n)
	}
	e.mustVerifyLedger()
}

// Credit and retry: without a reason nothing is posted or retried; with
// one, the credit posts once per call, and says so when the retry still
// fails (pressing again retries without crediting twice); once the cause
// is fixed the retry charges the call in full, and the audit log has it.
func TestCreditAndRetryCreditsOnceThenCharges(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("goodwill@example.com")
	b := e.caller("credited@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	refuseCharge(t, e, call.CallID)
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to be stuck", func() bool {
		var billing string
		_ = e.pool.QueryRow(context.Background(), `SELECT billing_state FROM calls WHERE id = $1`, call.CallID).Scan(&billing)
		return billing == workflows.BillingStuck
	})
	page := "/admin/calls/" + call.CallID
	if got := staff.get(page); !strings.Contains(got.body, `id="credit-retry"`) || !strings.Contains(got.body, `name="amount" type="text" inputmode="decimal" required class="field-input w-28" autocomplete="off" value="0.28"`) {
		t.Fatalf("the stuck call's page lacks Credit and retry with the charge as its amount:\n%s", got.body)
	}
	credits := func() int {
		return e.count(`SELECT count(*) FROM transactions WHERE idempotency_key = $1`, "admin:credit-retry:"+call.CallID)
	}
	r := staff.post(page+"/credit-retry", url.Values{"amount": {"0.28"}, "reason": {""}})
	if got := staff.get(r.location); !strings.Contains(got.body, "Nothing was credited or retried") || credits() != 0 {
		t.Fatalf("without a reason: %d credits\n%s", credits(), got.body)
	}
	form := url.Values{"amount": {"0.28"}, "reason": {"sorry: the call was cut short"}}
	// The cause is not fixed yet: the retry fails, and the banner says the
	// credit was posted all the same; pressing again credits nothing more.
	for i := range 2 {
		r = staff.post(page+"/credit-retry", form)
		got := staff.get(r.location)
		want := "Credited $0.28 (entry "
		if i == 1 {
			want = "credit of $0.28 was posted before"
		}
		if !strings.Contains(got.body, want) || !strings.Contains(got.body, "still stuck") {
			t.Fatalf("Credit and retry %d with the charge still refused: want %q\n%s", i+1, want, got.body)
		}
	}
	if n := credits(); n != 1 {
		t.Fatalf("%d credits after two presses, want 1", n)
	}
	allowCharge(t, e) // the cause fixed
	r = staff.post(page+"/credit-retry", form)
	if got := staff.get(r.location); !strings.Contains(got.body, "Charged $0.28.") {
		t.Fatalf("after Credit and retry:\n%s", got.body)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -28 {
		t.Fatalf("charges %v", got)
	}
	// 500 + 28 - 28: the one credit and the charge.
	if bal := e.balance("credited@example.com"); bal != 500 || credits() != 1 {
		t.Fatalf("balance %d, %d credits", bal, credits())
	}
	r = staff.post(page+"/credit-retry", form)
	if got := staff.get(r.location); !strings.Contains(got.body, "Nothing to retry") || credits() != 1 {
		t.Fatalf("once charged: %d credits\n%s", credits(), got.body)
	}
	audit := staff.get("/admin/audit")
	if !strings.Contains(audit.body, "charged $0.28") || !strings.Contains(audit.body, "sorry: the call was cut short") ||
		!strings.Contains(audit.body, "credited $0.28 for the call to &#43;2348031234567") {
		t.Fatalf("the audit log:\n%s", audit.body)
	}
	e.mustVerifyLedger()
}
