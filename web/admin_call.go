package web

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// Why a call failed (issue 24): the carrier's reason in words, and each
// webhook delivery with what it came to and, behind a toggle, its form.

// adminDelivery is one stored webhook delivery as the console shows it.
type adminDelivery struct {
	db.WebhookEvent
	// Outcome: what the delivery came to, in words.
	Outcome string
	// Fields: its signature-checked form, sorted by name, with nothing
	// secret (none for Stripe's, or for one stored before forms were kept).
	Fields []formField
}

type formField struct{ Name, Value string }

// formFields reads a stored form (webhook_events.form), leaving out any
// field secretField names, whatever was stored.
func formFields(raw []byte) []formField {
	var m map[string]string
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make([]formField, 0, len(m))
	for k, v := range m {
		if !secretField(k) {
			out = append(out, formField{Name: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// topUpDeliveries are a top-up's deliveries: delivered or waiting.
func topUpDeliveries(rows []db.WebhookEvent) []adminDelivery {
	out := make([]adminDelivery, len(rows))
	for i, e := range rows {
		out[i] = adminDelivery{WebhookEvent: e, Outcome: deliveryProgress(e), Fields: formFields(e.Form)}
	}
	return out
}

func deliveryProgress(e db.WebhookEvent) string {
	if e.DeliveredAt == nil {
		return fmt.Sprintf("waiting to be delivered (%d attempts)", e.Attempts)
	}
	return fmt.Sprintf("delivered after %d attempt(s)", e.Attempts)
}

// callDeliveries are a call's deliveries, each said applied (it moved the
// call to a status of its timeline), a duplicate (a status the call already
// had, or one behind it: the Dial action after the dialled leg's final
// callback says the same), not applied (its workflow had ended), or
// waiting. Applied goes to the first delivery of each status in the order
// the inbox stored them; two that arrived together may have reached the
// workflow the other way round, but the status applied is the same.
func callDeliveries(rows []db.WebhookEvent, events []db.CallEvent) []adminDelivery {
	timeline := map[string]bool{}
	for _, e := range events {
		timeline[e.Status] = true
	}
	out := make([]adminDelivery, len(rows))
	for i, e := range rows {
		d := adminDelivery{WebhookEvent: e, Fields: formFields(e.Form)}
		status := deliveredStatus(e)
		switch {
		case e.DeliveredAt == nil:
			d.Outcome = deliveryProgress(e)
		case e.LastError != nil && strings.HasPrefix(*e.LastError, "workflow not running"):
			d.Outcome = "not applied: the call's workflow had ended"
		case status != "" && timeline[status]:
			d.Outcome = "applied: " + workflows.StatusLabel(status)
			delete(timeline, status) // later ones of this status are duplicates
		case status != "":
			d.Outcome = "duplicate: " + workflows.StatusLabel(status) + ", nothing changed"
		default:
			d.Outcome = deliveryProgress(e)
		}
		out[i] = d
	}
	return out
}

// deliveredStatus is the call status a Twilio delivery reports ("" when
// it names none the workflow knows).
func deliveredStatus(e db.WebhookEvent) string {
	if e.Signal == workflows.SignalDialed {
		return workflows.StatusDialing
	}
	if e.Signal != workflows.SignalTwilioStatus {
		return ""
	}
	var sig workflows.StatusSignal
	if json.Unmarshal(e.Payload, &sig) != nil {
		return ""
	}
	status, _ := workflows.FromTwilio(sig.Status)
	return status
}

// carrierReason in words: Staff for the console ("Busy (SIP 486)"),
// Customer for the caller's own call page ("The line was busy."), and a
// link to Twilio's page of its error code, when there is one.
type carrierWords struct {
	Staff, Customer, ErrorLink string
}

// twilioErrors are the Twilio error codes of a <Dial> to a number that we
// say in words (each checked against https://www.twilio.com/docs/api/errors);
// any other is shown as its number, with the link.
var twilioErrors = map[int32]string{
	13214: "invalid caller ID (our TWILIO_CALLER_ID)",
	13223: "the number is not in a valid format",
	13224: "the number is invalid, or Twilio cannot call it",
	13226: "invalid country code",
}

// explainCarrier says why the carrier ended the call, from what its
// callbacks stored on the row (carrier_error_code, carrier_sip_code,
// dial_call_status); nothing when they gave no reason.
func explainCarrier(c db.Call) carrierWords {
	if c.CarrierErrorCode == nil && c.CarrierSipCode == nil && c.DialCallStatus == nil {
		return carrierWords{}
	}
	outcome := c.Status
	if c.DialCallStatus != nil {
		if s, ok := workflows.FromTwilio(*c.DialCallStatus); ok {
			outcome = s
		}
	}
	var w carrierWords
	sip := ""
	if c.CarrierSipCode != nil {
		sip = " (SIP " + strconv.Itoa(int(*c.CarrierSipCode)) + ")"
	}
	switch outcome {
	case workflows.StatusBusy:
		w.Staff, w.Customer = "Busy"+sip, "The line was busy."
	case workflows.StatusNoAnswer:
		w.Staff, w.Customer = "No answer"+sip, "Nobody answered."
	case workflows.StatusCanceled:
		w.Staff = "Cancelled before it was answered" + sip
	case workflows.StatusFailed:
		w.Staff, w.Customer = "Failed"+sip, "The call could not be connected."
	case workflows.StatusCompleted:
		if c.CarrierErrorCode == nil {
			return carrierWords{} // answered: nothing went wrong
		}
		w.Staff = "Completed" + sip
	default:
		w.Staff = workflows.StatusLabel(outcome) + sip
	}
	if code := c.CarrierErrorCode; code != nil {
		w.ErrorLink = "https://www.twilio.com/docs/api/errors/" + strconv.Itoa(int(*code))
		w.Staff += ": Twilio error " + strconv.Itoa(int(*code))
		if words, ok := twilioErrors[*code]; ok {
			w.Staff += " — " + words
		}
		switch *code {
		case 13223, 13224, 13226:
			w.Customer = "The number could not be reached: check that it is complete and in service."
		}
	}
	return w
}
