package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// Twilio's documented request shapes (testdata/twilio), posted to our
// handlers as Twilio would.

// twilioFixture reads a webhook fixture and fills its {{...}} values.
func twilioFixture(t testing.TB, name string, fill map[string]string) url.Values {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "twilio", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Fields map[string]string }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range f.Fields {
		for name, val := range fill {
			v = strings.ReplaceAll(v, "{{"+name+"}}", val)
		}
		form.Set(k, v)
	}
	return form
}

func (e *callEnv) voiceFixture(call startedCall) url.Values {
	return twilioFixture(e.t, "voice_request.json", map[string]string{"AccountSid": e.cfg.TwilioAccountSID,
		"ApplicationSid": e.cfg.TwilioTwiMLAppSID, "Identity": call.Identity, "CallId": call.CallID})
}

func (e *callEnv) callStatus(callID string) string {
	e.t.Helper()
	var status string
	if err := e.pool.QueryRow(context.Background(), `SELECT status FROM calls WHERE id = $1`, callID).Scan(&status); err != nil {
		e.t.Fatal(err)
	}
	return status
}

// The token dies with the call's authorization (twilio-go alone would make
// it live an hour) and names its call.
func TestAccessTokenExpiresWithTheAuthorizationAndNamesItsCall(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("token@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d %+v", status, call.Error)
	}
	claims, err := carrier.VerifyToken(call.Token, e.cfg.TwilioAccountSID, e.cfg.TwilioAPIKey, e.cfg.TwilioAPISecret)
	if err != nil {
		t.Fatal(err)
	}
	var until time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT authorized_until FROM calls WHERE id = $1`, call.CallID).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if claims.Expires.Unix() != until.Unix() {
		t.Fatalf("token exp %s, the authorization ends %s", claims.Expires.UTC(), until.UTC())
	}
	if _, id, ok := carrier.ParseCallIdentity(claims.Identity); !ok || id.String() != call.CallID || claims.Identity != call.Identity {
		t.Fatalf("token identity %q (answered %q) does not name call %s", claims.Identity, call.Identity, call.CallID)
	}
	if claims.TwiMLAppSID != e.cfg.TwilioTwiMLAppSID {
		t.Fatalf("token grant for %s", claims.TwiMLAppSID)
	}
}

// A token of an earlier call of the same user cannot claim a later call.
func TestAnOlderTokenCannotClaimANewerCall(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("older@example.com", 500)
	_, first := b.startCall("+234 803 123 4567")
	// The first call never reaches Twilio and is abandoned: the slot frees.
	if canceled, err := e.acts.CancelUnclaimedCall(context.Background(), first.CallID); err != nil || !canceled {
		t.Fatalf("cancel the first call: %v %v", canceled, err)
	}
	status, second := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("second call: %d %+v", status, second.Error)
	}
	// The first token (still valid) connects asking for the second call.
	if _, err := e.sim.PlaceCall(context.Background(), first.Token, second.CallID, time.Second, carrier.Faults{}); !errors.Is(err, carrier.ErrRefused) {
		t.Fatalf("the first call's token on the second call: %v, want refused", err)
	}
	if got := e.callStatus(second.CallID); got != "authorized" {
		t.Fatalf("second call %s after the old token, want authorized", got)
	}
	// Its own token places it.
	sc, err := e.sim.PlaceCall(context.Background(), second.Token, second.CallID, 61*time.Second, carrier.Faults{})
	if err != nil || sc.Dialled != "+2348031234567" {
		t.Fatalf("second call with its token: %+v %v", sc, err)
	}
	if st := e.finish(second.CallID); st.BillingState != workflows.BillingCharged {
		t.Fatalf("second call %+v", st)
	}
}

// A correctly signed voice request that is not for our account or our
// TwiML App claims nothing and dials nothing.
func TestVoiceWebhookRefusesOtherAccountsAndApps(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("foreign@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	voiceURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/voice"
	for field, value := range map[string]string{"AccountSid": "AC00000000000000000000000000000bad", "ApplicationSid": "AP00000000000000000000000000000bad"} {
		form := e.voiceFixture(call)
		form.Set(field, value)
		r := e.postSigned(voiceURL, form)
		if r.status != http.StatusOK || strings.Contains(r.body, "<Dial") || !strings.Contains(r.body, "<Say") || !strings.Contains(r.body, "<Hangup") {
			t.Fatalf("%s %s: %d %s", field, value, r.status, r.body)
		}
	}
	var events int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events`).Scan(&events)
	if got := e.callStatus(call.CallID); got != "authorized" || events != 0 {
		t.Fatalf("after foreign voice requests: call %s, %d stored events", got, events)
	}
	// The documented request itself is ours: it dials.
	if r := e.postSigned(voiceURL, e.voiceFixture(call)); !strings.Contains(r.body, "<Dial") {
		t.Fatalf("our own voice request: %d %s", r.status, r.body)
	}
}

// Whatever number the browser puts in the request, only the authorized
// number is dialled.
func TestVoiceWebhookDialsOnlyTheAuthorizedNumber(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("to@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	form := e.voiceFixture(call)
	form.Set("To", "+19005550199") // a connect param named To becomes To
	form.Set("Called", "+19005550199")
	form.Set("PhoneNumber", "+19005550199")
	r := e.postSigned(e.cfg.PublicBaseURL+"/api/webhooks/twilio/voice", form)
	if !strings.Contains(r.body, ">+2348031234567</Number>") || strings.Contains(r.body, "9005550199") {
		t.Fatalf("voice answer %d %s", r.status, r.body)
	}
}

// Our status handler reads Twilio's documented callbacks and Dial action.
func TestStatusWebhookReadsTwilioFixtures(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("fixtures@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	fill := map[string]string{"AccountSid": e.cfg.TwilioAccountSID, "ApplicationSid": e.cfg.TwilioTwiMLAppSID, "Identity": call.Identity, "CallId": call.CallID}
	statusURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/status?call_id=" + call.CallID
	for _, name := range []string{"status_callback_initiated.json", "status_callback_ringing.json", "status_callback_answered.json", "status_callback_completed.json"} {
		if r := e.postSigned(statusURL, twilioFixture(t, name, fill)); r.status != http.StatusNoContent {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := e.postSigned(statusURL+"&event=dial-action", twilioFixture(t, "dial_action.json", fill)); r.status != http.StatusOK || !strings.Contains(r.body, "<Hangup") {
		t.Fatalf("dial action: %d %s", r.status, r.body)
	}
	rows, err := e.pool.Query(context.Background(), `SELECT payload FROM webhook_events WHERE workflow_id = $1 ORDER BY id`, workflows.CallWorkflowID(call.CallID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []workflows.StatusSignal
	for rows.Next() {
		var raw []byte
		var sig workflows.StatusSignal
		if err := rows.Scan(&raw); err != nil || json.Unmarshal(raw, &sig) != nil {
			t.Fatalf("payload %s: %v", raw, err)
		}
		got = append(got, sig)
	}
	if len(got) != 5 {
		t.Fatalf("%d stored deliveries, want 5: %+v", len(got), got)
	}
	done := got[3]
	if done.Status != "completed" || done.SequenceNumber != 3 || done.DurationSeconds != 61 || done.CallSid != "CAfedcba9876543210fedcba9876543210" ||
		done.ParentCallSid != "CA0123456789abcdef0123456789abcdef" {
		t.Errorf("completed callback read as %+v", done)
	}
	action := got[4]
	if !action.FromDialAction || action.Status != "completed" || action.DialCallSid != "CAfedcba9876543210fedcba9876543210" || action.DurationSeconds != 61 {
		t.Errorf("dial action read as %+v", action)
	}
}
