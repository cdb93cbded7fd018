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
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The carrier simulator stands in for Twilio in development and tests
// (never in production: the configuration refuses it). It does what Twilio
// does to our webhooks, with requests signed as Twilio signs them: a voice
// request when a browser connects, then the dialled leg's status callbacks
// and the Dial action. It can deliver each callback more than once, shuffle
// them and drop final ones, as real networks do, and it answers FetchCall.
//
// Test numbers (the last four digits of the national number decide):
// 0001 is busy, 0002 does not answer, 0003 fails; any other number answers
// and talks for the time asked.
type Simulator struct {
	// BaseURL is the app's PUBLIC_BASE_URL; AppURL, when set, is where the
	// requests really go (a test server), signed for BaseURL all the same.
	BaseURL, AppURL string
	AuthToken       string
	AccountSID      string
	HTTP            *http.Client

	// Ring is how long the number rings before it answers or gives up.
	Ring time.Duration
	// Realtime paces the callbacks as a real call would: ringing for Ring,
	// then the talk time before the final callback (development). Tests
	// leave it off and get every callback at once.
	Realtime bool
	// Observe, when set, is told how long each webhook took to answer
	// (path without the query), for latency figures.
	Observe func(path string, took time.Duration)

	mu       sync.Mutex
	calls    map[string]CallInfo
	children map[string]string        // parent SID -> dialled leg SID
	hangups  map[string]chan struct{} // call id -> closed when the caller hangs up
	// parentToCall maps a browser leg's SID to our call id (REST hang-up).
	parentToCall map[string]string
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
	case strings.HasSuffix(e164, "0001"):
		return "busy"
	case strings.HasSuffix(e164, "0002"):
		return "no-answer"
	case strings.HasSuffix(e164, "0003"):
		return "failed"
	}
	return "completed"
}

// PlaceCall does what Twilio does when a browser holding a token for
// identity connects with params {CallId: callID}: it asks our voice webhook
// for instructions and, if told to dial, runs the dialled leg through its
// callbacks. talk is how long an answered call lasts (Twilio's timeLimit
// cuts it at max_seconds).
func (s *Simulator) PlaceCall(ctx context.Context, identity, callID string, talk time.Duration, f Faults) (SimCall, error) {
	call := SimCall{ParentSid: newSid()}
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
	body, err := s.post(ctx, s.BaseURL+"/api/webhooks/twilio/voice", url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {call.ParentSid}, "CallStatus": {"ringing"},
		"Direction": {"inbound"}, "From": {"client:" + identity}, "To": {""}, "Caller": {"client:" + identity}, "CallId": {callID},
	})
	if err != nil {
		return call, err
	}
	dial, err := parseDial(body)
	if err != nil {
		return call, err
	}
	call.Dialled, call.TimeLimit = dial.Number.Text, dial.TimeLimit
	return s.runDialledLeg(ctx, call, dial, talk, f, hangup)
}

func (s *Simulator) runDialledLeg(ctx context.Context, call SimCall, dial dialVerb, talk time.Duration, f Faults, hangup <-chan struct{}) (SimCall, error) {
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

	talkFor := time.Duration(talkSeconds) * time.Second
	leg := func(status string, seq int, extra url.Values) callback {
		v := url.Values{"AccountSid": {s.AccountSID}, "CallSid": {call.ChildSid}, "ParentCallSid": {call.ParentSid},
			"CallStatus": {status}, "SequenceNumber": {strconv.Itoa(seq)}, "Direction": {"outbound-dial"}, "To": {call.Dialled},
			"Timestamp": {time.Now().UTC().Format(time.RFC1123Z)}, "CallbackSource": {"call-progress-events"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return callback{url: dial.Number.StatusCallback, form: v}
	}
	cbs := []callback{leg("initiated", 0, nil), leg("ringing", 1, nil)}
	final := []callback{}
	switch outcome {
	case "completed":
		answered := leg("in-progress", 2, nil)
		answered.after = s.Ring
		cbs = append(cbs, answered)
		done := leg("completed", 3, url.Values{"CallDuration": {strconv.FormatInt(talkSeconds, 10)}})
		done.after = talkFor
		final = append(final, done)
	default:
		gaveUp := leg(outcome, 2, url.Values{"CallDuration": {"0"}})
		gaveUp.after = s.Ring
		final = append(final, gaveUp)
	}
	if dial.Action != "" {
		final = append(final, callback{url: dial.Action, form: url.Values{"AccountSid": {s.AccountSID}, "CallSid": {call.ParentSid},
			"DialCallSid": {call.ChildSid}, "DialCallStatus": {outcome}, "DialCallDuration": {strconv.FormatInt(call.DurationSeconds, 10)},
			"CallStatus": {"in-progress"}}})
	}
	if !f.DropFinal {
		cbs = append(cbs, final...)
	}
	var all []callback
	for _, cb := range cbs {
		copies := max(f.Copies, 1)
		if f.RandomCopies {
			copies = 1 + mathrand.IntN(copies)
		}
		for range copies {
			all = append(all, cb)
		}
	}
	if f.Shuffle {
		mathrand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	var answeredAt time.Time
	for _, cb := range all {
		if s.Realtime && cb.after > 0 {
			select {
			case <-ctx.Done():
				return call, ctx.Err()
			case <-time.After(cb.after):
			case <-hangup:
				if answeredAt.IsZero() {
					// Hung up while it rang: the dialled leg is canceled,
					// never answered, never billed.
					return s.cancelLeg(ctx, call, dial)
				}
				// The caller hung up: the call lasted until now.
				if outcome == "completed" {
					call.DurationSeconds = max(int64(time.Since(answeredAt)/time.Second), 1)
					cb.form.Set("CallDuration", strconv.FormatInt(call.DurationSeconds, 10))
					if cb.form.Has("DialCallDuration") {
						cb.form.Set("DialCallDuration", strconv.FormatInt(call.DurationSeconds, 10))
					}
					s.remember(call)
				}
				hangup = nil
			}
		}
		if cb.form.Get("CallStatus") == "in-progress" && cb.form.Has("SequenceNumber") {
			answeredAt = time.Now()
		}
		if cb.form.Has("DialCallDuration") {
			cb.form.Set("DialCallDuration", strconv.FormatInt(call.DurationSeconds, 10))
		}
		if f.Delay > 0 {
			select {
			case <-ctx.Done():
				return call, ctx.Err()
			case <-time.After(mathrand.N(f.Delay)):
			}
		}
		if _, err := s.post(ctx, cb.url, cb.form); err != nil {
			if !f.KeepGoing || ctx.Err() != nil {
				return call, err
			}
			call.Lost++
			continue
		}
		if call.FinalAt.IsZero() && (cb.form.Has("DialCallStatus") || isFinal(cb.form.Get("CallStatus"))) {
			call.FinalAt = time.Now()
		}
	}
	return call, nil
}

// cancelLeg ends a leg that was never answered, as Twilio reports a
// caller hanging up during ringing.
func (s *Simulator) cancelLeg(ctx context.Context, call SimCall, dial dialVerb) (SimCall, error) {
	call.Status, call.DurationSeconds = "canceled", 0
	s.remember(call)
	if _, err := s.post(ctx, dial.Number.StatusCallback, url.Values{"AccountSid": {s.AccountSID}, "CallSid": {call.ChildSid},
		"ParentCallSid": {call.ParentSid}, "CallStatus": {"canceled"}, "SequenceNumber": {"9"}, "CallDuration": {"0"}}); err != nil {
		return call, err
	}
	if dial.Action != "" {
		if _, err := s.post(ctx, dial.Action, url.Values{"AccountSid": {s.AccountSID}, "CallSid": {call.ParentSid},
			"DialCallSid": {call.ChildSid}, "DialCallStatus": {"canceled"}, "DialCallDuration": {"0"}}); err != nil {
			return call, err
		}
	}
	return call, nil
}

type callback struct {
	url   string
	form  url.Values
	after time.Duration // pause before it, when Realtime
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
