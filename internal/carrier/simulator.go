package carrier

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mobayilo/mobayilo/internal/fault"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// The carrier simulator stands in for Twilio in development and tests
// (never in production: the configuration refuses it). It does what Twilio
// does to our webhooks, with requests signed as Twilio signs them and the
// field sets Twilio documents (testdata/twilio holds captured examples): a
// voice request when a browser connects with an access token, then the
// dialled leg's status callbacks (only the events the TwiML asked for,
// each an independent request, concurrently, as Twilio sends them) and the
// Dial action. It can deliver each callback more than once, shuffle them
// and drop final ones, as real networks do, and its REST API answers
// FetchCall, the parent's call list, hang-ups and the Voice Pricing API.
//
// Test numbers (the last four digits of the national number decide):
// 0001 is busy after ringing, 0002 does not answer, 0003 fails at once
// (never rings), 0004 is busy at once (never rings); any other number
// answers and talks for the time asked. The final callback of one that
// does not connect says why, as Twilio's does (reasonFields).
type Simulator struct {
	// BaseURL is the app's PUBLIC_BASE_URL; AppURL, when set, is where the
	// requests really go (a test server), signed for BaseURL all the same.
	BaseURL, AppURL string
	AuthToken       string
	AccountSID      string
	// APIKey and APISecret are the API key the app signs access tokens
	// with and authenticates to the REST API with (TWILIO_API_KEY,
	// TWILIO_API_SECRET): a token signed otherwise is refused, as Twilio
	// refuses it, and so is a REST request without them.
	APIKey, APISecret string
	HTTP              *http.Client

	// Ring is how long the number rings before it answers or gives up.
	Ring time.Duration
	// Realtime paces the callbacks as a real call would: ringing for Ring,
	// then the talk time before the final callback (development). Tests
	// leave it off and get every callback at once.
	Realtime bool
	// Observe, when set, is told how long each webhook took to answer
	// (path without the query), for latency figures.
	Observe func(path string, took time.Duration)
	// VoicePrices are what the Pricing API serves: Twilio's per-minute
	// cost (PerMinuteMicros) of each destination prefix, by country.
	VoicePrices []rating.Rate

	mu       sync.Mutex
	calls    map[string]CallInfo
	children map[string]string        // parent SID -> dialled leg SID
	hangups  map[string]chan struct{} // call id -> closed when the caller hangs up
	// parentToCall maps a browser leg's SID to our call id (REST hang-up).
	parentToCall map[string]string
	// validations are the verification calls in progress, by number;
	// callerIDs the numbers verified (OutgoingCallerIds), number -> sid
	// (callerid.go).
	validations map[string]simValidation
	callerIDs   map[string]string
}

// HangUp ends a call in progress as if the caller hung up now (Realtime
// only); it reports whether there was such a call.
func (s *Simulator) HangUp(callID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.hangups[callID]
	if ok {
		close(ch)
		delete(s.hangups, callID)
	}
	return ok
}

// EndCall hangs up a simulated call in progress, as TwilioCalls.EndCall
// does a real one.
func (s *Simulator) EndCall(_ context.Context, callID, _ string) error {
	s.HangUp(callID)
	return nil
}

// Faults are how a call's callbacks misbehave.
type Faults struct {
	Copies    int  // each callback delivered this many times (at least 1)
	Shuffle   bool // callbacks in random order
	DropFinal bool // the final status callback and the Dial action never arrive
	// RandomCopies delivers each callback 1 to Copies times, at random.
	RandomCopies bool
	// Delay holds each callback back a random time up to Delay.
	Delay time.Duration
	// KeepGoing: a callback the app does not take (an error, a 5xx) is
	// lost, as Twilio loses a status callback without retry settings, and
	// the rest are still sent; PlaceCall reports how many were lost.
	KeepGoing bool
}

// SimCall is what a simulated call did.
type SimCall struct {
	ParentSid, ChildSid string
	Dialled             string // the number Twilio was told to dial
	CallerID            string // the Dial's callerId: what the callee sees
	TimeLimit           int64
	Status              string // the dialled leg's final status
	DurationSeconds     int64
	// FinalAt is when the app first took a final callback (zero if none).
	FinalAt time.Time
	// Lost counts callbacks the app did not take (KeepGoing).
	Lost int
}

// ErrRefused: our voice webhook answered without a Dial.
var ErrRefused = errors.New("carrier simulator: the app refused to dial")

// Outcome is what a number does when dialled.
func Outcome(e164 string) string {
	switch {
	case strings.HasSuffix(e164, "0001"), strings.HasSuffix(e164, "0004"):
		return "busy"
	case strings.HasSuffix(e164, "0002"):
		return "no-answer"
	case strings.HasSuffix(e164, "0003"):
		return "failed"
	}
	return "completed"
}

// ringsFirst: whether the number rings before its outcome (a failed
// number, or one busy at once, never rings).
func ringsFirst(e164 string) bool {
	return !strings.HasSuffix(e164, "0003") && !strings.HasSuffix(e164, "0004")
}

// PlaceCall does what Twilio does when a browser holding token connects
// with params {CallId: callID}: it verifies the token (signed with the API
// secret, for our account, not expired) and takes the caller's identity
// and the TwiML App from it, asks our voice webhook for instructions and,
// if told to dial, runs the dialled leg through its callbacks. talk is how
// long an answered call lasts (Twilio's timeLimit cuts it at max_seconds).
func (s *Simulator) PlaceCall(ctx context.Context, token, callID string, talk time.Duration, f Faults) (SimCall, error) {
	call := SimCall{ParentSid: newSid()}
	claims, err := VerifyToken(token, s.AccountSID, s.APIKey, s.APISecret)
	if err != nil {
		// The Voice SDK never connects: no voice request at all.
		return call, fmt.Errorf("carrier simulator: connect: %w", err)
	}
	// A hang-up may come while our voice webhook is still answering.
	hangup := make(chan struct{})
	s.mu.Lock()
	if s.hangups == nil {
		s.hangups, s.parentToCall = map[string]chan struct{}{}, map[string]string{}
	}
	s.hangups[callID] = hangup
	s.parentToCall[call.ParentSid] = callID
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.hangups[callID] == hangup {
			delete(s.hangups, callID)
		}
		s.mu.Unlock()
	}()
	parent := s.parentFields(call.ParentSid, claims, "ringing")
	voice := cloneValues(parent)
	voice.Set("CallId", callID) // the Voice SDK's connect params
	body, err := s.post(ctx, s.BaseURL+"/api/webhooks/twilio/voice", voice)
	if err != nil {
		return call, err
	}
	dial, err := parseDial(body)
	if err != nil {
		return call, err
	}
	call.Dialled, call.TimeLimit, call.CallerID = dial.Number.Text, dial.TimeLimit, dial.CallerID
	return s.runDialledLeg(ctx, call, parent, dial, talk, f, hangup)
}

// VoiceRequestFields is the voice request Twilio sends for a Voice SDK
// call (without the SDK's custom params): for tests against fixtures.
func (s *Simulator) VoiceRequestFields(parentSid string, claims TokenClaims) url.Values {
	return s.parentFields(parentSid, claims, "ringing")
}

// parentFields are the parameters of every request about the browser's
// leg: Twilio's voice request, and the Dial action.
func (s *Simulator) parentFields(parentSid string, claims TokenClaims, status string) url.Values {
	client := "client:" + claims.Identity
	return url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "ApplicationSid": {claims.TwiMLAppSID},
		"CallSid": {parentSid}, "CallStatus": {status}, "Called": {""}, "Caller": {client},
		"Direction": {"inbound"}, "From": {client}, "To": {""},
	}
}

// legState is one state of the dialled leg, reached after a pause.
type legState struct {
	status string
	after  time.Duration
}

func (s *Simulator) runDialledLeg(ctx context.Context, call SimCall, parent url.Values, dial dialVerb, talk time.Duration, f Faults, hangup <-chan struct{}) (SimCall, error) {
	call.ChildSid = newSid()
	outcome := Outcome(call.Dialled)
	talkSeconds := int64(talk / time.Second)
	if dial.TimeLimit > 0 && talkSeconds > dial.TimeLimit {
		talkSeconds = dial.TimeLimit
	}
	call.Status = outcome
	if outcome == "completed" {
		call.DurationSeconds = talkSeconds
	}
	s.remember(call)

	states := []legState{{status: "initiated"}}
	switch {
	case outcome == "completed":
		states = append(states, legState{status: "ringing"}, legState{status: "in-progress", after: s.Ring},
			legState{status: "completed", after: time.Duration(talkSeconds) * time.Second})
	case ringsFirst(call.Dialled):
		states = append(states, legState{status: "ringing"}, legState{status: outcome, after: s.Ring})
	default:
		states = append(states, legState{status: outcome})
	}

	d := &dispatch{s: s, ctx: ctx, f: f}
	events := subscribed(dial.Number.Events)
	seq := 0
	var answeredAt time.Time
	for _, st := range states {
		if s.Realtime && st.after > 0 {
			select {
			case <-ctx.Done():
				d.wait()
				return d.result(call, ctx.Err())
			case <-time.After(st.after):
			case <-hangup:
				hangup = nil
				if answeredAt.IsZero() {
					// Hung up while it rang: the dialled leg is canceled,
					// never answered, never billed.
					call.Status, call.DurationSeconds = "canceled", 0
					st = legState{status: "canceled"}
				} else if outcome == "completed" {
					// The caller hung up: the call lasted until now.
					call.DurationSeconds = max(int64(time.Since(answeredAt)/time.Second), 1)
				}
				s.remember(call)
			}
		}
		if st.status == "in-progress" {
			answeredAt = time.Now()
		}
		final := isFinal(st.status)
		if final && f.DropFinal {
			break
		}
		if dial.Number.StatusCallback != "" && events[eventOf(st.status)] {
			d.send(dial.Number.StatusCallback, s.childFields(call, dial, st.status, seq), final)
			seq++
		}
		if final {
			if dial.Action != "" {
				d.send(dial.Action, s.actionFields(call, parent, !answeredAt.IsZero()), true)
			}
			break
		}
		if d.failed() {
			break
		}
	}
	d.wait()
	return d.result(call, nil)
}

// subscribed reads statusCallbackEvent ("initiated ringing answered
// completed", spaces or commas); Twilio's default is completed alone.
func subscribed(attr string) map[string]bool {
	events := map[string]bool{}
	for _, e := range strings.FieldsFunc(attr, func(r rune) bool { return r == ' ' || r == ',' }) {
		events[e] = true
	}
	if len(events) == 0 {
		events["completed"] = true
	}
	return events
}

// eventOf is the statusCallbackEvent that reports a leg status: every
// final status is the completed event.
func eventOf(status string) string {
	switch status {
	case "initiated", "ringing":
		return status
	case "in-progress":
		return "answered"
	}
	return "completed"
}

// childFields are a status callback of the dialled leg, with the fields
// Twilio documents for <Number statusCallback>.
func (s *Simulator) childFields(call SimCall, dial dialVerb, status string, seq int) url.Values {
	v := url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {call.ChildSid}, "ParentCallSid": {call.ParentSid},
		"CallStatus": {status}, "Called": {call.Dialled}, "Caller": {dial.CallerID}, "Direction": {"outbound-dial"},
		"From": {dial.CallerID}, "To": {call.Dialled}, "SequenceNumber": {strconv.Itoa(seq)},
		"Timestamp": {time.Now().UTC().Format(time.RFC1123Z)}, "CallbackSource": {"call-progress-events"},
	}
	if status == "completed" {
		v.Set("CallDuration", strconv.FormatInt(call.DurationSeconds, 10))
	}
	for k, val := range reasonFields(status) {
		v.Set(k, val)
	}
	return v
}

// Why a dialled leg did not connect, as Twilio says it on the leg's final
// status callback (captured shapes: testdata/twilio/status_callback_*.json).
const (
	// SipBusy: the far end answered the INVITE with 486 Busy Here.
	SipBusy = "486"
	// SipRequestTerminated: 487, the INVITE was cancelled: Twilio gave up
	// on a number that kept ringing (no-answer), or the caller hung up
	// while it rang (canceled).
	SipRequestTerminated = "487"
	// ErrorNumberInvalid: Twilio error 13224, "Dial: Twilio does not
	// support calling this number or the number is invalid"
	// (https://www.twilio.com/docs/api/errors/13224); with it Twilio sends
	// ErrorMessage.
	ErrorNumberInvalid        = "13224"
	errorNumberInvalidMessage = "Dial: Twilio does not support calling this number or the number is invalid"
)

// reasonFields are what a final status callback adds for a leg that did
// not connect: the SIP response (SipResponseCode) of a busy, unanswered or
// cancelled one, or Twilio's ErrorCode and ErrorMessage for one it could
// not place (the test numbers ending 0003). An answered call adds none.
func reasonFields(status string) map[string]string {
	switch status {
	case "busy":
		return map[string]string{"SipResponseCode": SipBusy}
	case "no-answer", "canceled":
		return map[string]string{"SipResponseCode": SipRequestTerminated}
	case "failed":
		return map[string]string{"ErrorCode": ErrorNumberInvalid, "ErrorMessage": errorNumberInvalidMessage}
	}
	return nil
}

// actionFields are the Dial action's request: the browser leg's fields
// and the dialled leg's outcome.
func (s *Simulator) actionFields(call SimCall, parent url.Values, bridged bool) url.Values {
	v := cloneValues(parent)
	v.Set("CallStatus", "in-progress")
	v.Set("DialCallSid", call.ChildSid)
	v.Set("DialCallStatus", call.Status)
	v.Set("DialCallDuration", strconv.FormatInt(call.DurationSeconds, 10))
	v.Set("DialBridged", strconv.FormatBool(bridged))
	return v
}

// dispatch sends callbacks as Twilio does: each its own request, none
// waiting for another, with the faults asked for.
type dispatch struct {
	s   *Simulator
	ctx context.Context
	f   Faults

	wg      sync.WaitGroup
	mu      sync.Mutex
	lost    int
	err     error
	finalAt time.Time
}

func (d *dispatch) send(target string, form url.Values, final bool) {
	for range fault.Copies(d.f.Copies, d.f.RandomCopies) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if d.f.Shuffle || d.f.Delay > 0 {
				// Shuffled: each copy leaves after a random moment.
				wait := d.f.Delay
				if wait == 0 {
					wait = 5 * time.Millisecond
				}
				if err := fault.Pause(d.ctx, wait); err != nil {
					d.fail(err)
					return
				}
			}
			if _, err := d.s.post(d.ctx, target, form); err != nil {
				if d.f.KeepGoing && d.ctx.Err() == nil {
					d.mu.Lock()
					d.lost++
					d.mu.Unlock()
					return
				}
				d.fail(err)
				return
			}
			if final {
				d.mu.Lock()
				if now := time.Now(); d.finalAt.IsZero() || now.Before(d.finalAt) {
					d.finalAt = now
				}
				d.mu.Unlock()
			}
		}()
	}
}

func (d *dispatch) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

func (d *dispatch) failed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err != nil
}

func (d *dispatch) wait() { d.wg.Wait() }

func (d *dispatch) result(call SimCall, err error) (SimCall, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	call.Lost, call.FinalAt = d.lost, d.finalAt
	if err == nil {
		err = d.err
	}
	return call, err
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// FetchCall answers like Twilio's REST API for the calls it simulated.
func (s *Simulator) FetchCall(_ context.Context, sid string) (CallInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.calls[sid]
	if !ok {
		return CallInfo{}, fmt.Errorf("%w: %s", ErrCallNotFound, sid)
	}
	return info, nil
}

// DialledLeg answers like Twilio's call list filtered by ParentCallSid.
func (s *Simulator) DialledLeg(_ context.Context, parentSid string) (CallInfo, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	child, ok := s.children[parentSid]
	if !ok {
		return CallInfo{}, false, nil
	}
	return s.calls[child], true, nil
}

func (s *Simulator) remember(c SimCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls, s.children = map[string]CallInfo{}, map[string]string{}
	}
	s.calls[c.ChildSid] = CallInfo{Sid: c.ChildSid, Status: c.Status, DurationSeconds: c.DurationSeconds}
	// The browser's leg is completed whatever the dialled leg did, and it
	// lasted longer (it rang too): as on Twilio, never the one to bill.
	s.calls[c.ParentSid] = CallInfo{Sid: c.ParentSid, Status: "completed", DurationSeconds: c.DurationSeconds + int64(s.Ring/time.Second) + 5}
	s.children[c.ParentSid] = c.ChildSid
}

// post sends a form signed as Twilio signs webhooks, and returns the body.
func (s *Simulator) post(ctx context.Context, signedURL string, form url.Values) (string, error) {
	target := signedURL
	if s.AppURL != "" {
		target = s.AppURL + strings.TrimPrefix(signedURL, s.BaseURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Sign(s.AuthToken, signedURL, form))
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (mobayilo carrier simulator)")
	client := s.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("carrier simulator: POST %s: %w", signedURL, err)
	}
	if s.Observe != nil {
		s.Observe(req.URL.Path, time.Since(start))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return string(body), fmt.Errorf("carrier simulator: POST %s: %s", signedURL, resp.Status)
	}
	return string(body), nil
}

// Sign computes X-Twilio-Signature for a POST of form to fullURL: base64 of
// HMAC-SHA1, keyed by the auth token, over the URL followed by each
// parameter name and value, sorted by name.
func Sign(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type dialVerb struct {
	Action    string `xml:"action,attr"`
	TimeLimit int64  `xml:"timeLimit,attr"`
	CallerID  string `xml:"callerId,attr"`
	Number    struct {
		Text           string `xml:",chardata"`
		StatusCallback string `xml:"statusCallback,attr"`
		Events         string `xml:"statusCallbackEvent,attr"`
	} `xml:"Number"`
}

func parseDial(body string) (dialVerb, error) {
	var resp struct {
		Dial *dialVerb `xml:"Dial"`
		Say  string    `xml:"Say"`
	}
	if err := xml.Unmarshal([]byte(body), &resp); err != nil {
		return dialVerb{}, fmt.Errorf("carrier simulator: TwiML %q: %w", body, err)
	}
	if resp.Dial == nil {
		return dialVerb{}, fmt.Errorf("%w: %s", ErrRefused, strings.TrimSpace(resp.Say))
	}
	resp.Dial.Number.Text = strings.TrimSpace(resp.Dial.Number.Text)
	return *resp.Dial, nil
}

func newSid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "CA" + hex.EncodeToString(b)
}

func isFinal(twilioStatus string) bool {
	switch twilioStatus {
	case "completed", "busy", "no-answer", "failed", "canceled":
		return true
	}
	return false
}
