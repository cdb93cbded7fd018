package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// Verified caller ID end to end: the web server, a worker, the Temporal
// dev server and the carrier simulator's REST API reached through
// twilio-go (as TWILIO_API_BASE points a worker at it).

const ownNumber = "+2348031234567"

// callerIDEnv is newCallEnv with the worker's carrier the simulator's REST
// API through twilio-go.
func callerIDEnv(t *testing.T) *callEnv {
	t.Helper()
	e := newCallEnv(t)
	api := httptest.NewServer(e.sim.RESTHandler())
	t.Cleanup(api.Close)
	tc, err := carrier.NewTwilioCallsAt(e.cfg.TwilioAccountSID, e.cfg.TwilioAPIKey, e.cfg.TwilioAPISecret, api.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Set before any workflow runs (no activity has read it yet).
	e.stopWorker()
	e.acts.Carrier = tc
	e.startWorker()
	return e
}

// callerIDRow is the user's caller_ids row (ok false: none).
func (e *callEnv) callerIDRow(email string) (db.CallerID, bool) {
	e.t.Helper()
	var uid uuid.UUID
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&uid); err != nil {
		e.t.Fatal(err)
	}
	row, err := db.New(e.pool).GetCallerID(context.Background(), uid)
	if errors.Is(err, db.ErrNotFound) {
		return row, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return row, true
}

// awaitCallerID waits until the user's row satisfies ok.
func (e *callEnv) awaitCallerID(email, what string, ok func(db.CallerID) bool) db.CallerID {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		row, found := e.callerIDRow(email)
		if found && ok(row) {
			return row
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: caller id never %s: %+v (found %v)", email, what, row, found)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func codeShown(r db.CallerID) bool {
	return r.Status == workflows.CallerIDPending && r.ValidationCode != nil
}

// dialedCallerID places a call for b as Twilio would (the simulator asks
// the voice webhook, reads its Dial and plays the call to its end) and
// returns the Dial's callerId.
func (e *callEnv) dialedCallerID(b *browser) string {
	e.t.Helper()
	status, call := b.startCall("+234 803 765 4321")
	if call.Token == "" {
		e.t.Fatalf("start call: %d %+v", status, call)
	}
	c, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, time.Second, carrier.Faults{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.finish(call.CallID)
	return c.CallerID
}

// A wrong code fails the attempt, a retry calls again, the right code
// verifies the number; that user's calls then dial with it, another
// user's with our default; removing it falls back to the default and
// deletes it at Twilio.
func TestVerifiedCallerIDIsTheDialsCallerID(t *testing.T) {
	e := callerIDEnv(t)
	a := e.caller("own@example.com", 500)
	other := e.caller("other@example.com", 500)

	if r := a.post("/settings/caller-id", url.Values{"caller_id": {"0803 123 4567"}}); r.status != http.StatusSeeOther {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	row := e.awaitCallerID("own@example.com", "shown a code", codeShown)
	if row.E164 != ownNumber || row.Attempt != 1 {
		t.Fatalf("row %+v: the national number is read in the home country", row)
	}
	page := a.get("/settings/caller-id").body
	if !strings.Contains(page, *row.ValidationCode) || !strings.Contains(page, `data-controller="poll"`) {
		t.Fatalf("the section shows the code and polls while pending:\n%s", page)
	}
	if got := e.dialedCallerID(a); got != e.cfg.TwilioCallerID {
		t.Fatalf("pending: callerId %q, want the default", got)
	}

	wrong := "000000"
	if *row.ValidationCode == wrong {
		wrong = "111111"
	}
	if ok, err := e.sim.EnterValidationCode(context.Background(), ownNumber, wrong); err != nil || ok {
		t.Fatalf("wrong code: %v %v", ok, err)
	}
	row = e.awaitCallerID("own@example.com", "failed", func(r db.CallerID) bool { return r.Status == workflows.CallerIDFailed })
	if row.FailureReason == nil || *row.FailureReason != workflows.ReasonCodeNotEntered || row.ValidationCode != nil {
		t.Fatalf("failed row %+v", row)
	}
	if page := a.get("/settings").body; !strings.Contains(page, "Call me again") || strings.Contains(page, `data-controller="poll"`) {
		t.Fatalf("a failed number offers a retry and stops polling:\n%s", page)
	}

	if r := a.post("/settings/caller-id/retry", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	row = e.awaitCallerID("own@example.com", "shown a second code", func(r db.CallerID) bool { return codeShown(r) && r.Attempt == 2 })
	if ok, err := e.sim.EnterValidationCode(context.Background(), ownNumber, *row.ValidationCode); err != nil || !ok {
		t.Fatalf("right code: %v %v", ok, err)
	}
	row = e.awaitCallerID("own@example.com", "verified", func(r db.CallerID) bool { return r.Status == workflows.CallerIDVerified })
	if row.OutgoingCallerIDSid == nil || *row.OutgoingCallerIDSid != e.sim.VerifiedCallerID(ownNumber) {
		t.Fatalf("verified row %+v, simulator %q", row, e.sim.VerifiedCallerID(ownNumber))
	}

	if got := e.dialedCallerID(a); got != ownNumber {
		t.Fatalf("verified user's call: callerId %q, want %s", got, ownNumber)
	}
	if got := e.dialedCallerID(other); got != e.cfg.TwilioCallerID {
		t.Fatalf("unverified user's call: callerId %q, want the default %s", got, e.cfg.TwilioCallerID)
	}

	if r := a.post("/settings/caller-id/delete", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if _, found := e.callerIDRow("own@example.com"); found {
		t.Fatal("the row outlived its removal")
	}
	if got := e.dialedCallerID(a); got != e.cfg.TwilioCallerID {
		t.Fatalf("after removal: callerId %q, want the default", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.sim.VerifiedCallerID(ownNumber) != "" {
		if time.Now().After(deadline) {
			t.Fatal("the OutgoingCallerId was never deleted at Twilio")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A number verified by one account cannot be verified by another: the
// form refuses it, and so does the schema.
func TestCallerIDIsVerifiedByOneAccountOnly(t *testing.T) {
	e := callerIDEnv(t)
	a := e.caller("first@example.com", 0)
	b := e.caller("second@example.com", 0)
	a.post("/settings/caller-id", url.Values{"caller_id": {ownNumber}})
	row := e.awaitCallerID("first@example.com", "shown a code", codeShown)
	if ok, err := e.sim.EnterValidationCode(context.Background(), ownNumber, *row.ValidationCode); err != nil || !ok {
		t.Fatalf("verify: %v %v", ok, err)
	}
	e.awaitCallerID("first@example.com", "verified", func(r db.CallerID) bool { return r.Status == workflows.CallerIDVerified })

	r := b.post("/settings/caller-id", url.Values{"caller_id": {ownNumber}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "verified by another account") {
		t.Fatalf("second account: %d %s", r.status, r.body)
	}
	if _, found := e.callerIDRow("second@example.com"); found {
		t.Fatal("a refused number was stored")
	}
	// Whatever the Go code checks, the schema holds one verified row.
	_, err := e.pool.Exec(context.Background(), `INSERT INTO caller_ids (user_id, e164, status, outgoing_caller_id_sid, verified_at)
		SELECT id, $1, 'verified', 'PNother', now() FROM users WHERE email = 'second@example.com'`, ownNumber)
	if _, dup := db.UniqueViolation(err); !dup {
		t.Fatalf("a second verified row: %v", err)
	}
}

// One user can neither see nor remove another's number; the routes name
// no id, and the dev code form is absent without the simulator.
func TestCallerIDIsOnlyItsUsers(t *testing.T) {
	e := callerIDEnv(t)
	a := e.caller("owner@example.com", 0)
	b := e.caller("nosy@example.com", 0)
	a.post("/settings/caller-id", url.Values{"caller_id": {ownNumber}})
	e.awaitCallerID("owner@example.com", "shown a code", codeShown)
	for _, path := range []string{"/settings", "/settings/caller-id"} {
		if body := b.get(path).body; strings.Contains(body, ownNumber) || strings.Contains(body, "8031234567") {
			t.Fatalf("%s shows another user's number:\n%s", path, body)
		}
	}
	b.post("/settings/caller-id/delete", url.Values{})
	b.post("/settings/caller-id/retry", url.Values{})
	if row, found := e.callerIDRow("owner@example.com"); !found || row.Status != workflows.CallerIDPending || row.Attempt != 1 {
		t.Fatalf("after another user's remove and retry: %+v %v", row, found)
	}
	if r := b.post("/dev/carrier/caller-id", url.Values{"digits": {"123456"}}); r.status != http.StatusNotFound {
		t.Fatalf("dev code form without the simulator: %d", r.status)
	}
	// Signed out: no section at all.
	anon := e.browser()
	if r := anon.get("/settings/caller-id"); r.status != http.StatusSeeOther {
		t.Fatalf("signed out: %d", r.status)
	}
}

// Twilio's validation callback is refused before anything else when its
// signature is missing or wrong (403), and for another account; malformed
// ones are 400. None is stored, and the attempt stays pending; the
// documented callback, signed, is stored and verifies.
func TestCallerIDWebhookIsAuthenticatedFirst(t *testing.T) {
	e := callerIDEnv(t)
	a := e.caller("signed@example.com", 0)
	a.post("/settings/caller-id", url.Values{"caller_id": {ownNumber}})
	row := e.awaitCallerID("signed@example.com", "shown a code", codeShown)
	signedURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/callerid?" + url.Values{"user_id": {row.UserID.String()},
		"number": {row.E164}, "attempt": {"1"}}.Encode()
	good := twilioFixture(t, "callerid_callback_success.json", map[string]string{"AccountSid": e.cfg.TwilioAccountSID,
		"CallSid": *row.ValidationCallSid, "Number": ownNumber})
	path := strings.TrimPrefix(signedURL, e.cfg.PublicBaseURL)

	post := func(form url.Values, sig string) response {
		req, _ := http.NewRequest(http.MethodPost, e.srv0()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		return e.browser().do(req)
	}
	if r := post(good, ""); r.status != http.StatusForbidden {
		t.Fatalf("unsigned: %d", r.status)
	}
	if r := post(good, carrier.Sign("not-the-token", signedURL, good)); r.status != http.StatusForbidden {
		t.Fatalf("signed with another token: %d", r.status)
	}
	// Signed for another attempt's URL: the signature covers the URL.
	otherURL := strings.Replace(signedURL, "attempt=1", "attempt=2", 1)
	if r := post(good, carrier.Sign(e.cfg.TwilioAuthToken, otherURL, good)); r.status != http.StatusForbidden {
		t.Fatalf("signature of another URL: %d", r.status)
	}
	foreign := cloneForm(good)
	foreign.Set("AccountSid", "AC00000000000000000000000000000bad")
	if r := e.postSigned(signedURL, foreign); r.status != http.StatusForbidden {
		t.Fatalf("another account: %d", r.status)
	}
	odd := cloneForm(good)
	odd.Set("VerificationStatus", "maybe")
	if r := e.postSigned(signedURL, odd); r.status != http.StatusBadRequest {
		t.Fatalf("unknown VerificationStatus: %d", r.status)
	}
	var events int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE event_type = 'callerid'`).Scan(&events)
	if r, _ := e.callerIDRow("signed@example.com"); events != 0 || r.Status != workflows.CallerIDPending {
		t.Fatalf("after refused callbacks: %d stored, status %s", events, r.Status)
	}

	if r := e.postSigned(signedURL, good); r.status != http.StatusNoContent {
		t.Fatalf("documented callback: %d %s", r.status, r.body)
	}
	e.awaitCallerID("signed@example.com", "verified", func(r db.CallerID) bool {
		return r.Status == workflows.CallerIDVerified && *r.OutgoingCallerIDSid == good.Get("OutgoingCallerIdSid")
	})
	wid := workflows.CallerIDWorkflowID(row.UserID.String(), row.E164)
	var st workflows.CallerIDState
	if err := e.tc.GetWorkflow(context.Background(), wid, "").Get(context.Background(), &st); err != nil || st.Status != workflows.CallerIDVerified {
		t.Fatalf("workflow: %+v %v", st, err)
	}
	recordHistory(t, e.tc, wid, "callerid_verified.json")
	// Twilio delivering it again stores nothing more.
	e.postSigned(signedURL, good)
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE event_type = 'callerid'`).Scan(&events)
	if events != 1 {
		t.Fatalf("%d stored deliveries, want 1", events)
	}
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
