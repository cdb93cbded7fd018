package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	tclient "github.com/twilio/twilio-go/client"

	"github.com/mobayilo/mobayilo/internal/carrier"
)

// The voice webhook beside its floor. Twilio asks the app for instructions
// when a browser connects; the least a durable answer can do is check the
// signature, write one row, and answer a <Dial>. minimalVoice is that, in a
// few lines served by the bench on loopback against the same database; the
// app's webhook is measured beside it at the same rates, interleaved.

// errNoDial: a voice answer without a <Dial> (the app refused the call).
var errNoDial = errors.New("bench: the voice answer has no <Dial>")

// voiceRequest is one prepared voice request: the form Twilio sends, and
// its signature for the URL it is signed for.
type voiceRequest struct {
	target    string // where it is sent
	body      string // form-encoded
	signature string
	parentSid string
	callID    string
}

func newSid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "CA" + hex.EncodeToString(b)
}

// voiceFor prepares the voice request Twilio sends when the browser
// holding sc's token connects, signed for signedURL and sent to target.
func (a *app) voiceFor(sc startedCall, signedURL, target string) (voiceRequest, error) {
	claims, err := carrier.VerifyToken(sc.Token, a.cfg.TwilioAccountSID, a.cfg.TwilioAPIKey, a.cfg.TwilioAPISecret)
	if err != nil {
		return voiceRequest{}, err
	}
	parent := newSid()
	form := a.carrier.VoiceRequestFields(parent, claims)
	form.Set("CallId", sc.CallID)
	return voiceRequest{target: target, body: form.Encode(), signature: carrier.Sign(a.cfg.TwilioAuthToken, signedURL, form),
		parentSid: parent, callID: sc.CallID}, nil
}

// appVoiceURL is the voice webhook's URL as Twilio signs it.
func (a *app) appVoiceURL() string { return a.cfg.PublicBaseURL + "/api/webhooks/twilio/voice" }

// sendVoice posts a prepared voice request; an answer that is not a 200
// with a <Dial> is an error.
func sendVoice(ctx context.Context, c *http.Client, v voiceRequest) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.target, strings.NewReader(v.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", v.signature)
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (mobayilo bench)")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &errStatus{status: resp.StatusCode}
	}
	if !bytes.Contains(b, []byte("<Dial")) {
		return errNoDial
	}
	return nil
}

// minimalVoice is the floor for the voice webhook: it validates
// X-Twilio-Signature with twilio-go's RequestValidator, inserts one row in
// one Postgres round trip, and answers a <Dial>.
type minimalVoice struct {
	validator tclient.RequestValidator
	url       string // as Twilio signs it
	pool      *pgxpool.Pool
}

const minimalTable = "bench_voice_requests"

func (m *minimalVoice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	params := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	if !m.validator.Validate(m.url, params, r.Header.Get("X-Twilio-Signature")) {
		http.Error(w, "invalid signature", http.StatusForbidden)
		return
	}
	if _, err := m.pool.Exec(r.Context(), `INSERT INTO `+minimalTable+` (call_sid, call_id) VALUES ($1, $2)`, params["CallSid"], params["CallId"]); err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	status := m.url + "/status?call_id="
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+15005550006" timeLimit="3600" action="`)
	_ = xml.EscapeText(&b, []byte(status+params["CallId"]+"&event=dial-action"))
	b.WriteString(`" method="POST" answerOnBridge="true"><Number statusCallback="`)
	_ = xml.EscapeText(&b, []byte(status+params["CallId"]))
	b.WriteString(`" statusCallbackMethod="POST" statusCallbackEvent="initiated ringing answered completed">` + numberAnswers + `</Number></Dial></Response>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// startMinimal creates the minimal handler's table (a real, logged table:
// the row must be as durable as the app's) and serves the handler on
// loopback. The returned func stops it and drops the table.
func startMinimal(ctx context.Context, pool *pgxpool.Pool, authToken string) (string, func(), error) {
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+minimalTable+` (
		call_sid text PRIMARY KEY, call_id text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return "", nil, fmt.Errorf("bench: create %s: %w", minimalTable, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	u := "http://" + ln.Addr().String() + "/voice"
	// The minimal handler's own pool, as the web role has its own.
	cfg := pool.Config().Copy()
	mpool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: &minimalVoice{validator: tclient.NewRequestValidator(authToken), url: u, pool: mpool},
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		_ = srv.Close()
		mpool.Close()
		_, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+minimalTable)
	}
	return u, stop, nil
}

// warmMinimal sends n requests to the minimal handler, 4 at a time, before
// it is measured: its pool's connections are opened and its statement
// prepared, as the app's are by the time the bench reaches its voice
// webhook.
func warmMinimal(ctx context.Context, hc *http.Client, minimalURL, authToken string, n int) error {
	var failed atomic.Int64
	closedLoop(ctx, 4, jobs(n), func(ctx context.Context, _, i int) {
		form := url.Values{"CallSid": {newSid()}, "CallId": {"warm-up-" + strconv.Itoa(i)}, "AccountSid": {"AC"}, "From": {"client:warm-up"}}
		v := voiceRequest{target: minimalURL, body: form.Encode(), signature: carrier.Sign(authToken, minimalURL, form)}
		if sendVoice(ctx, hc, v) != nil {
			failed.Add(1)
		}
	})
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("bench: %d of %d warm-up requests to the minimal handler failed", f, n)
	}
	return nil
}

// minimalFor prepares a request to the minimal handler like the voice
// request Twilio sends for sc's call.
func (a *app) minimalFor(sc startedCall, minimalURL string) (voiceRequest, error) {
	return a.voiceFor(sc, minimalURL, minimalURL)
}

// finishUnanswered sends the final callbacks of a dialled call nobody
// answered (no-answer, then the Dial action), as Twilio would, so its
// workflow ends; for calls the voice measurement claimed.
func (a *app) finishUnanswered(ctx context.Context, c *http.Client, v voiceRequest) error {
	statusURL := a.cfg.PublicBaseURL + "/api/webhooks/twilio/status?call_id=" + url.QueryEscape(v.callID)
	child := newSid()
	status := url.Values{"AccountSid": {a.cfg.TwilioAccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {child}, "ParentCallSid": {v.parentSid},
		"CallStatus": {"no-answer"}, "Called": {numberAnswers}, "Caller": {a.cfg.TwilioCallerID}, "Direction": {"outbound-dial"},
		"From": {a.cfg.TwilioCallerID}, "To": {numberAnswers}, "SequenceNumber": {"0"}, "CallDuration": {"0"},
		"Timestamp": {time.Now().UTC().Format(time.RFC1123Z)}, "CallbackSource": {"call-progress-events"}}
	parent, err := url.ParseQuery(v.body)
	if err != nil {
		return err
	}
	parent.Del("CallId")
	parent.Set("CallStatus", "in-progress")
	parent.Set("DialCallSid", child)
	parent.Set("DialCallStatus", "no-answer")
	parent.Set("DialCallDuration", "0")
	parent.Set("DialBridged", "false")
	for _, p := range []struct {
		url  string
		form url.Values
	}{{statusURL, status}, {statusURL + "&event=dial-action", parent}} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.webURL+strings.TrimPrefix(p.url, a.cfg.PublicBaseURL), strings.NewReader(p.form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", carrier.Sign(a.cfg.TwilioAuthToken, p.url, p.form))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return &errStatus{status: resp.StatusCode}
		}
	}
	return nil
}
