package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	tclient "github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/tracing"
	"github.com/mobayilo/mobayilo/workflows"
)

// verifyTwilio authenticates a Twilio webhook before anything else: the
// X-Twilio-Signature must sign PUBLIC_BASE_URL + the request URI and the
// form. A missing or wrong signature is 403 and nothing happens.
func (s *Server) verifyTwilio(next http.Handler) http.Handler {
	validator := tclient.NewRequestValidator(s.cfg.TwilioAuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			refuseWebhook(w, r, http.StatusBadRequest, "bad_form", "bad form")
			return
		}
		params := make(map[string]string, len(r.PostForm))
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" || !validator.Validate(s.cfg.PublicBaseURL+r.URL.RequestURI(), params, sig) {
			s.log.Warn().Str("path", r.URL.Path).Bool("signature_present", sig != "").Msg("twilio webhook refused: bad signature")
			refuseWebhook(w, r, http.StatusForbidden, "bad_signature", "invalid signature")
			return
		}
		if !storableValues(r.Form) {
			refuseWebhook(w, r, http.StatusBadRequest, "malformed", "malformed request: not UTF-8, or a NUL")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// twilioVoice answers Twilio's request for instructions when a browser
// connects. It claims the call in Postgres (authorized -> dialing, once, for
// the identity it was authorized for, before the authorization expires) and
// stores the claim in the inbox in the same transaction, then answers the
// Dial from the claimed row. It never waits on Temporal.
func (s *Server) twilioVoice(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	parentSid := f.Get("CallSid")
	// A correctly signed request from another account or another TwiML
	// App of ours is not a call of this app: nothing is claimed.
	if f.Get("AccountSid") != s.cfg.TwilioAccountSID {
		s.log.Warn().Str("call_sid", parentSid).Str("account_sid", f.Get("AccountSid")).Msg("voice webhook: request for another Twilio account")
		s.refuseVoice(w, r, "other_account", "not our Twilio account")
		return
	}
	if f.Get("ApplicationSid") != s.cfg.TwilioTwiMLAppSID {
		s.log.Warn().Str("call_sid", parentSid).Str("application_sid", f.Get("ApplicationSid")).Msg("voice webhook: request from another TwiML App")
		s.refuseVoice(w, r, "other_app", "not our TwiML App")
		return
	}
	// The call is the one the token was issued for: Twilio sets From from
	// the token's identity, which names the user and the call; the
	// browser's CallId parameter must agree with it.
	identity, fromClient := strings.CutPrefix(f.Get("From"), "client:")
	userIdentity, callID, bound := carrier.ParseCallIdentity(identity)
	if parentSid == "" || !fromClient || !bound {
		s.refuseVoice(w, r, "malformed", "malformed request")
		return
	}
	if f.Get("CallId") != callID.String() {
		s.log.Warn().Str("call_sid", parentSid).Str("call_id", callID.String()).Str("asked_call_id", f.Get("CallId")).
			Msg("voice webhook: the token was issued for another call")
		s.refuseVoice(w, r, "other_call", "token of another call")
		return
	}
	// The claim and the inbox row of its dialed signal: one statement, one
	// round trip.
	dedup, wid := "voice:"+parentSid, workflows.CallWorkflowID(callID.String())
	payload, _ := json.Marshal(workflows.DialedSignal{DedupKey: dedup, ParentCallSid: parentSid})
	call, err := db.New(s.pool).ClaimCallAndStoreDial(r.Context(), db.ClaimCallAndStoreDialParams{
		ID: callID, ClientIdentity: userIdentity, ParentCallSid: &parentSid,
		DedupKey: dedup, Signal: workflows.SignalDialed, WorkflowID: &wid, Payload: payload, Form: storedForm(f),
		LeaseMs: int32(inbox.Lease / time.Millisecond),
	})
	if errors.Is(err, db.ErrNotFound) {
		s.refuseVoice(w, r, "no_authorized_call", "no authorized call to claim")
		return
	}
	if err != nil {
		s.log.Error().Err(err).Str("call_id", callID.String()).Msg("voice webhook: claim")
		s.refuseVoice(w, r, "unavailable", "claim failed")
		return
	}
	if call.EventID != 0 {
		s.send(r, db.WebhookEvent{ID: call.EventID, Source: "twilio", DedupKey: dedup, EventType: "voice", Signal: workflows.SignalDialed,
			WorkflowID: &wid, Payload: payload})
	}

	// The caller's own number once verified (read in the claim), else ours.
	callerID := s.cfg.TwilioCallerID
	if call.CallerID != "" {
		callerID = call.CallerID
	}
	statusURL := s.cfg.PublicBaseURL + "/api/webhooks/twilio/status?call_id=" + callID.String()
	xml, err := twiml.Voice([]twiml.Element{
		&twiml.VoiceDial{
			CallerId:       callerID,
			TimeLimit:      strconv.Itoa(int(call.TimeLimitSeconds)), // the ceiling (0024): the workflow ends the call at what the balance pays for
			Action:         statusURL + "&event=dial-action",
			Method:         http.MethodPost,
			AnswerOnBridge: "true",
			InnerElements: []twiml.Element{&twiml.VoiceNumber{
				PhoneNumber:          call.PhoneNumber,
				StatusCallback:       statusURL,
				StatusCallbackMethod: http.MethodPost,
				StatusCallbackEvent:  "initiated ringing answered completed",
			}},
		},
	})
	if err != nil {
		s.log.Error().Err(err).Msg("voice webhook: twiml")
		s.refuseVoice(w, r, "internal", "twiml")
		return
	}
	s.log.Info().Str("call_id", callID.String()).Str("call_sid", parentSid).Msg("voice webhook: call claimed, dialling")
	writeTwiML(w, xml)
}

// refuseVoice says why no call is placed and hangs up: never a dial.
// reason is the refusal's metrics label; why is for the log. It is said in
// the language of the page that placed the call (the Voice SDK's Lang
// parameter, beside CallId): no database read on this path (issue 14),
// and an unknown value is English.
func (s *Server) refuseVoice(w http.ResponseWriter, r *http.Request, reason, why string) {
	noteRefusal(r, reason)
	s.log.Info().Str("call_sid", r.PostForm.Get("CallSid")).Str("call_id", r.PostForm.Get("CallId")).Str("why", why).Msg("voice webhook: refused")
	lang := r.PostForm.Get("Lang")
	if !i18n.Valid(lang) {
		lang = i18n.Default
	}
	voice, language := i18n.Say(lang)
	xml, _ := twiml.Voice([]twiml.Element{
		&twiml.VoiceSay{Message: i18n.T(lang, "twiml.refused"), Voice: voice, Language: language},
		&twiml.VoiceHangup{},
	})
	writeTwiML(w, xml)
}

func writeTwiML(w http.ResponseWriter, xml string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(xml))
}

// twilioStatus stores a status callback of the dialled leg (or the Dial
// verb's action callback) in the inbox and answers at once; the inbox
// delivers it to the call's workflow. Only a delivery that cannot be stored
// gets 503, so that Twilio retries it.
func (s *Server) twilioStatus(w http.ResponseWriter, r *http.Request) {
	callID, err := uuid.Parse(r.URL.Query().Get("call_id"))
	if err != nil {
		refuseWebhook(w, r, http.StatusBadRequest, "unknown_call", "unknown call")
		return
	}
	f := r.PostForm
	sig := workflows.StatusSignal{CallSid: f.Get("CallSid"), ParentCallSid: f.Get("ParentCallSid"), Status: f.Get("CallStatus")}
	sig.SequenceNumber, _ = strconv.Atoi(f.Get("SequenceNumber"))
	sig.DurationSeconds, _ = strconv.ParseInt(f.Get("CallDuration"), 10, 64)
	action := r.URL.Query().Get("event") == "dial-action"
	if action {
		sig = workflows.StatusSignal{CallSid: f.Get("CallSid"), ParentCallSid: f.Get("CallSid"), Status: f.Get("DialCallStatus"),
			FromDialAction: true, DialCallSid: f.Get("DialCallSid")}
		sig.DurationSeconds, _ = strconv.ParseInt(f.Get("DialCallDuration"), 10, 64)
		sig.DedupKey = "action:" + sig.CallSid + ":" + sig.Status
	} else {
		sig.DedupKey = "status:" + sig.CallSid + ":" + sig.Status + ":" + strconv.Itoa(sig.SequenceNumber)
	}
	// The real clock (s.now is the one tests move), for the billing lag;
	// this request's trace, which the charge continues.
	sig.ReceivedAt, sig.Trace = time.Now().UTC(), tracing.Carrier(r.Context())
	if sig.CallSid == "" || sig.Status == "" {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "missing CallSid or status")
		return
	}
	// Twilio's sids are 34 characters and its statuses a word: bounded, so
	// that the dedup key fits the inbox (a 5xx would have Twilio retry).
	if len(sig.CallSid) > 64 || len(sig.Status) > 32 {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "malformed CallSid or status")
		return
	}
	// The delivery, its form and the carrier's reason: one statement.
	payload, _ := json.Marshal(sig)
	wid := workflows.CallWorkflowID(callID.String())
	reason := carrierReasonOf(f, action)
	row, err := db.New(s.pool).StoreStatusCallback(r.Context(), db.StoreStatusCallbackParams{
		CallID: callID, DedupKey: sig.DedupKey, EventType: map[bool]string{true: "dial-action", false: "status"}[action],
		Signal: workflows.SignalTwilioStatus, WorkflowID: &wid, Payload: payload, Form: storedForm(f),
		LeaseMs:          int32(inbox.Lease / time.Millisecond),
		CarrierErrorCode: reason.ErrorCode, CarrierSipCode: reason.SipCode, DialCallStatus: reason.DialCallStatus,
	})
	stored := err == nil
	if errors.Is(err, db.ErrNotFound) {
		err = nil // a repeat: stored before
	}
	if err != nil {
		s.log.Error().Err(err).Str("call_id", callID.String()).Msg("status webhook: store")
		refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	if stored {
		s.send(r, row)
	}
	if action {
		// The Dial verb's action wants instructions: the call is over.
		xml, _ := twiml.Voice([]twiml.Element{&twiml.VoiceHangup{}})
		writeTwiML(w, xml)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// send hands a delivery just stored to the inbox deliverer, when there is
// one (else the sweep of another instance delivers it after its lease).
// Both senders' webhooks use it (webhooks_stripe.go too).
// Its signal continues the trace of the request r.
func (s *Server) send(r *http.Request, e db.WebhookEvent) {
	if s.deliverer != nil {
		s.deliverer.Send(r.Context(), e)
	}
}

// storedForm is a Twilio delivery's form as the inbox keeps it for the
// console (webhook_events.form): each signed field and its value, less any
// field whose name says it could hold a credential (secretField). Twilio's
// callbacks carry none, and the signature is a header, never kept; but the
// voice request's connect params are whatever the browser sent.
func storedForm(f url.Values) []byte {
	out := make(map[string]string, len(f))
	for k, v := range f {
		if len(v) > 0 && !secretField(k) {
			out[k] = v[0] // what the signature covered (verifyTwilio)
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// secretField: a form field never stored or shown.
func secretField(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "secret", "password", "signature", "auth", "credential", "apikey", "api_key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// carrierReason is why the carrier says a call ended, from one callback
// (nil: not given): Twilio's ErrorCode and SipResponseCode on the dialled
// leg's final status callback, and DialCallStatus on the Dial action.
type carrierReason struct {
	ErrorCode, SipCode *int32
	DialCallStatus     *string
}

// carrierReasonOf reads the reason a final callback gives; other callbacks
// give none. A value outside what Twilio documents is left out, so that
// the row's checks never refuse a delivery (Twilio would retry it).
func carrierReasonOf(f url.Values, action bool) carrierReason {
	var r carrierReason
	if !action {
		switch f.Get("CallStatus") {
		case "completed", "busy", "no-answer", "failed", "canceled":
		default:
			return r
		}
	}
	r.ErrorCode = boundedInt(f.Get("ErrorCode"), 1, 999999)
	r.SipCode = boundedInt(f.Get("SipResponseCode"), 100, 699)
	if action {
		if r.SipCode == nil { // a <Dial><Sip> names it so; ours dial a <Number>
			r.SipCode = boundedInt(f.Get("DialSipResponseCode"), 100, 699)
		}
		switch st := f.Get("DialCallStatus"); st {
		case "completed", "answered", "busy", "no-answer", "failed", "canceled":
			r.DialCallStatus = &st
		}
	}
	return r
}

func boundedInt(s string, lo, hi int) *int32 {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return nil
	}
	v := int32(n)
	return &v
}
