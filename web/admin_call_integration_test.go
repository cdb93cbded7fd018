package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/web"
)

// A busy number: the dialled leg's final callback (SipResponseCode 486) and
// the Dial action (DialCallStatus busy) both reach the call's row, whichever
// the workflow took; the console says "Busy (SIP 486)" and shows each
// delivery's form behind "show", with no signature and nothing secret; a
// customer never sees the console's page; the balance it shows is the
// ledger's; the caller reads "The line was busy."
func TestBusyCallSaysWhyInTheConsole(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("support@example.com")
	b := e.caller("busy@example.com", 500)
	status, call := b.startCall("+234 803 123 0001")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d", status)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 30*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	if st := e.finish(call.CallID); st.Status != "busy" || st.BillingState != "not_billable" {
		t.Fatalf("the busy call ended %s, billing %s", st.Status, st.BillingState)
	}
	var errorCode, sipCode *int32
	var dialStatus *string
	if err := e.pool.QueryRow(context.Background(), `SELECT carrier_error_code, carrier_sip_code, dial_call_status FROM calls WHERE id = $1`,
		call.CallID).Scan(&errorCode, &sipCode, &dialStatus); err != nil {
		t.Fatal(err)
	}
	if errorCode != nil || sipCode == nil || *sipCode != 486 || dialStatus == nil || *dialStatus != "busy" {
		t.Fatalf("the row's carrier reason: error %v, SIP %v, dial status %v; want no error, 486, busy", errorCode, sipCode, dialStatus)
	}

	page := staff.get("/admin/calls/" + call.CallID)
	if page.status != http.StatusOK || !strings.Contains(page.body, "data-carrier-reason>Busy (SIP 486)<") {
		t.Fatalf("the console's call page does not say why: %d\n%s", page.status, page.body)
	}
	hooks := page.body[strings.Index(page.body, `id="hooks"`):]
	hooks = hooks[:strings.Index(hooks, "</section>")]
	for _, want := range []string{
		`data-delivery="voice"`, `data-delivery="status"`, `data-delivery="dial-action"`,
		"<summary", ">show</summary>", "data-outcome>applied: Busy<",
		"CallStatus=busy\n", "SipResponseCode=486\n", "DialCallStatus=busy\n", "CallId=" + call.CallID + "\n",
		"Direction=outbound-dial\n", "AccountSid=" + e.cfg.TwilioAccountSID + "\n",
	} {
		if !strings.Contains(hooks, want) {
			t.Errorf("the deliveries lack %q:\n%s", want, hooks)
		}
	}
	for _, never := range []string{"Signature", "signature", e.cfg.TwilioAuthToken, e.cfg.TwilioAPISecret} {
		if strings.Contains(hooks, never) {
			t.Errorf("the deliveries show %q:\n%s", never, hooks)
		}
	}
	var signed int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE workflow_id = $1 AND form IS NOT NULL
		AND EXISTS (SELECT 1 FROM jsonb_object_keys(form) k WHERE k ILIKE '%signature%' OR k ILIKE '%token%')`, "call-"+call.CallID).Scan(&signed); err != nil || signed != 0 {
		t.Fatalf("%d stored forms keep a signature or token field (%v)", signed, err)
	}

	// The balance the page shows is the ledger's.
	var ledgerCents int64
	if err := e.pool.QueryRow(context.Background(), `SELECT COALESCE(sum(t.amount_cents), 0) FROM transactions t
		JOIN accounts a ON a.id = t.account_id JOIN users u ON u.id = a.user_id WHERE u.email = $1`, "busy@example.com").Scan(&ledgerCents); err != nil {
		t.Fatal(err)
	}
	if want := "data-balance-now>" + web.Money(ledgerCents) + "<"; ledgerCents != 500 || !strings.Contains(page.body, want) {
		t.Errorf("the ledger holds %d cents; the page lacks %q", ledgerCents, want)
	}

	// The console does not exist for the customer.
	if mine := b.get("/admin/calls/" + call.CallID); mine.status != http.StatusNotFound || strings.Contains(mine.body, "SipResponseCode") {
		t.Fatalf("a customer asked for the console's call page: %d", mine.status)
	}
	if mine := b.get("/calls/" + call.CallID); mine.status != http.StatusOK || !strings.Contains(mine.body, "data-carrier-reason>The line was busy.<") ||
		strings.Contains(mine.body, "486") {
		t.Fatalf("the caller's page of a busy call:\n%s", mine.body)
	}
}

// A number Twilio cannot place: its error code reaches the row and the
// console says it in words, with Twilio's page of the code.
func TestFailedCallNamesTwilioError(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("support@example.com")
	b := e.caller("failed@example.com", 500)
	_, call := b.startCall("+234 803 123 0003")
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 30*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.finish(call.CallID)
	var errorCode *int32
	var dialStatus *string
	if err := e.pool.QueryRow(context.Background(), `SELECT carrier_error_code, dial_call_status FROM calls WHERE id = $1`, call.CallID).
		Scan(&errorCode, &dialStatus); err != nil || errorCode == nil || *errorCode != 13224 || dialStatus == nil || *dialStatus != "failed" {
		t.Fatalf("the row: error %v, dial status %v (%v)", errorCode, dialStatus, err)
	}
	page := staff.get("/admin/calls/" + call.CallID)
	if !strings.Contains(page.body, "data-carrier-reason>Failed: Twilio error 13224 — the number is invalid, or Twilio cannot call it") ||
		!strings.Contains(page.body, `href="https://www.twilio.com/docs/api/errors/13224"`) {
		t.Fatalf("the console's page of a failed call:\n%s", page.body)
	}
	if mine := b.get("/calls/" + call.CallID); !strings.Contains(mine.body, "The number could not be reached: check that it is complete and in service.") {
		t.Fatalf("the caller's page of a failed call:\n%s", mine.body)
	}
}

// Our status handler reads the reason from Twilio's documented shapes: a
// busy leg's final callback and the busy Dial action, each twice (Twilio
// retries), put 486 and busy on the row once; each delivery keeps the form
// it was signed with.
func TestStatusWebhookStoresTheReasonFromTwilioFixtures(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("fixtures@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	fill := map[string]string{"AccountSid": e.cfg.TwilioAccountSID, "ApplicationSid": e.cfg.TwilioTwiMLAppSID, "Identity": call.Identity}
	statusURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/status?call_id=" + call.CallID
	busy, action := twilioFixture(t, "status_callback_busy.json", fill), twilioFixture(t, "dial_action_busy.json", fill)
	for range 2 {
		if r := e.postSigned(statusURL, busy); r.status != http.StatusNoContent {
			t.Fatalf("busy callback: %d %s", r.status, r.body)
		}
		if r := e.postSigned(statusURL+"&event=dial-action", action); r.status != http.StatusOK {
			t.Fatalf("dial action: %d %s", r.status, r.body)
		}
	}
	var sip *int32
	var dial *string
	if err := e.pool.QueryRow(context.Background(), `SELECT carrier_sip_code, dial_call_status FROM calls WHERE id = $1`, call.CallID).
		Scan(&sip, &dial); err != nil || sip == nil || *sip != 486 || dial == nil || *dial != "busy" {
		t.Fatalf("the row: SIP %v, dial status %v (%v)", sip, dial, err)
	}
	rows, err := e.pool.Query(context.Background(), `SELECT event_type, form FROM webhook_events WHERE workflow_id = $1 ORDER BY id`, "call-"+call.CallID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]map[string]string{}
	for rows.Next() {
		var kind string
		var form map[string]string
		if err := rows.Scan(&kind, &form); err != nil {
			t.Fatal(err)
		}
		if stored[kind] != nil {
			t.Fatalf("a second %s delivery stored", kind)
		}
		stored[kind] = form
	}
	for kind, want := range map[string]url.Values{"status": busy, "dial-action": action} {
		got := stored[kind]
		if len(got) != len(want) {
			t.Errorf("%s form: %d fields, want %d: %v", kind, len(got), len(want), got)
		}
		for k := range want {
			if got[k] != want.Get(k) {
				t.Errorf("%s form %s = %q, want %q", kind, k, got[k], want.Get(k))
			}
		}
	}
}
