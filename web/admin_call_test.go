package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// A stored form keeps what was signed and nothing that could be a
// credential, and the console drops such a field again when it reads one.
func TestStoredFormKeepsNoSecret(t *testing.T) {
	f := url.Values{"CallSid": {"CA1"}, "CallStatus": {"busy"}, "SipResponseCode": {"486"},
		"AuthToken": {"tok"}, "access_token": {"jwt"}, "X-Twilio-Signature": {"sig"}, "Password": {"pw"}, "ApiSecret": {"s"}}
	var stored map[string]string
	if err := json.Unmarshal(storedForm(f), &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 3 || stored["CallSid"] != "CA1" || stored["CallStatus"] != "busy" || stored["SipResponseCode"] != "486" {
		t.Fatalf("stored %v, want CallSid, CallStatus and SipResponseCode only", stored)
	}
	got := formFields([]byte(`{"To":"+234","AuthToken":"tok","CallSid":"CA1"}`))
	if len(got) != 2 || got[0] != (formField{"CallSid", "CA1"}) || got[1] != (formField{"To", "+234"}) {
		t.Fatalf("read %v, want CallSid and To, sorted", got)
	}
	if formFields(nil) != nil {
		t.Fatal("no form, yet fields")
	}
}

func TestCarrierReasonIsReadFromFinalCallbacksOnly(t *testing.T) {
	r := carrierReasonOf(url.Values{"CallStatus": {"ringing"}, "SipResponseCode": {"180"}}, false)
	if r.SipCode != nil || r.ErrorCode != nil || r.DialCallStatus != nil {
		t.Fatalf("a ringing callback gave a reason: %+v", r)
	}
	r = carrierReasonOf(url.Values{"CallStatus": {"failed"}, "ErrorCode": {"13224"}, "SipResponseCode": {"9999"}}, false)
	if r.ErrorCode == nil || *r.ErrorCode != 13224 || r.SipCode != nil {
		t.Fatalf("failed: %+v (a SIP code out of range is dropped)", r)
	}
	r = carrierReasonOf(url.Values{"CallStatus": {"in-progress"}, "DialCallStatus": {"no-answer"}}, true)
	if r.DialCallStatus == nil || *r.DialCallStatus != "no-answer" {
		t.Fatalf("dial action: %+v", r)
	}
	if r := carrierReasonOf(url.Values{"DialCallStatus": {"<b>"}}, true); r.DialCallStatus != nil {
		t.Fatalf("an unknown DialCallStatus was kept: %q", *r.DialCallStatus)
	}
}

func TestExplainCarrier(t *testing.T) {
	i32 := func(n int32) *int32 { return &n }
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		call                  db.Call
		staff, customer, link string
	}{
		{db.Call{Status: "busy", CarrierSipCode: i32(486), DialCallStatus: s("busy")}, "Busy (SIP 486)", "The line was busy.", ""},
		{db.Call{Status: "no_answer", CarrierSipCode: i32(487)}, "No answer (SIP 487)", "Nobody answered.", ""},
		{db.Call{Status: "failed", CarrierErrorCode: i32(13224), DialCallStatus: s("failed")},
			"Failed: Twilio error 13224 — the number is invalid, or Twilio cannot call it",
			"The number could not be reached: check that it is complete and in service.", "https://www.twilio.com/docs/api/errors/13224"},
		{db.Call{Status: "failed", CarrierErrorCode: i32(31005)}, "Failed: Twilio error 31005", "The call could not be connected.",
			"https://www.twilio.com/docs/api/errors/31005"},
		{db.Call{Status: "completed", DialCallStatus: s("completed")}, "", "", ""},
		{db.Call{Status: "failed"}, "", "", ""}, // failed on our side: the carrier said nothing
	} {
		w := explainCarrier(c.call)
		if w.Staff != c.staff || w.Customer != c.customer || w.ErrorLink != c.link {
			t.Errorf("%+v: got %+v, want %q, %q, %q", c.call, w, c.staff, c.customer, c.link)
		}
	}
}

// Each status a call's timeline holds is applied by the first delivery that
// brought it; the same status again is a duplicate; one its workflow never
// took says so.
func TestCallDeliveriesSayWhatEachCameTo(t *testing.T) {
	now := time.Now()
	status := func(id int64, kind, twilio string, note *string) db.WebhookEvent {
		p, _ := json.Marshal(workflows.StatusSignal{Status: twilio})
		return db.WebhookEvent{ID: id, EventType: kind, Signal: workflows.SignalTwilioStatus, Payload: p, DeliveredAt: &now, Attempts: 1, LastError: note}
	}
	ended := "workflow not running: workflow execution already completed"
	rows := []db.WebhookEvent{
		{ID: 1, EventType: "voice", Signal: workflows.SignalDialed, Payload: []byte(`{}`), DeliveredAt: &now, Attempts: 1},
		status(2, "status", "ringing", nil), status(3, "status", "busy", nil), status(4, "dial-action", "busy", nil),
		status(5, "dial-action", "busy", &ended), {ID: 6, EventType: "status", Signal: workflows.SignalTwilioStatus, Attempts: 2},
	}
	events := []db.CallEvent{{Status: "dialing"}, {Status: "ringing"}, {Status: "busy"}}
	var got []string
	for _, d := range callDeliveries(rows, events) {
		got = append(got, d.Outcome)
	}
	want := []string{"applied: Dialling", "applied: Ringing", "applied: Busy", "duplicate: Busy, nothing changed",
		"not applied: the call's workflow had ended", "waiting to be delivered (2 attempts)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("outcomes\n got %q\nwant %q", got, want)
	}
}
