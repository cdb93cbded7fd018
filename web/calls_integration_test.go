package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// callEnv is the whole call path on one machine: a real Temporal dev
// server, a worker, Postgres, the real router, and the carrier simulator
// calling our webhooks with signed requests.
type callEnv struct {
	*app
	t      testing.TB
	srv    *devserver.Server
	devOpt devserver.Options
	tc     client.Client
	queue  string
	acts   *activities.Activities
	worker worker.Worker
	sim    *carrier.Simulator
	// metrics: what the web server, the worker's activities and the
	// Temporal SDK count, as one process running both roles (dev) does.
	metrics *metrics.Metrics
}

func newCallEnv(t testing.TB) *callEnv {
	t.Helper()
	return newCallEnvWithCodec(t, "")
}

// newCallEnvWithCodec is newCallEnv with TEMPORAL_CODEC_KEYS set to keys
// ("" for none) for the web server, the worker and the test's client.
func newCallEnvWithCodec(t testing.TB, keys string) *callEnv {
	t.Helper()
	pool := testdb.New(t)
	// Cleanups run last-registered first: the goroutines on this context
	// (the rate deck's listener) let go of their connections before the
	// database is dropped.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := ratedeck.LoadSampleIfEmpty(ctx, pool); err != nil {
		t.Fatal(err)
	}
	e := &callEnv{t: t, queue: "calls-" + uuid.NewString()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// A database file, so the server can be stopped and started again
	// with its workflows.
	e.devOpt = devserver.Options{Port: port, UIPort: -1, DBFile: filepath.Join(t.TempDir(), "temporal.db"), Output: io.Discard}
	if testing.Verbose() {
		e.devOpt.Output = os.Stderr
	}
	e.srv, err = devserver.Start(ctx, e.devOpt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Stop() })
	parsed, err := codec.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	e.metrics = metrics.New()
	e.metrics.WatchDatabase(pool)
	sdkMetrics, err := e.metrics.TemporalHandler()
	if err != nil {
		t.Fatal(err)
	}
	e.tc, err = temporalx.Dial(ctx, temporalx.Options{Address: e.srv.Address, Namespace: "default", Logger: zerolog.Nop(), Codec: codec.New(parsed),
		Metrics: sdkMetrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tc.Close)

	e.app = startAppWithMetrics(t, map[string]string{"TEMPORAL_TASK_QUEUE": e.queue, "TEMPORAL_CODEC_KEYS": keys}, nil, pool, e.tc, e.metrics)
	e.sim = &carrier.Simulator{BaseURL: e.cfg.PublicBaseURL, AuthToken: e.cfg.TwilioAuthToken, AccountSID: e.cfg.TwilioAccountSID,
		APIKey: e.cfg.TwilioAPIKey, APISecret: e.cfg.TwilioAPISecret}

	rates, err := ratedeck.NewStore(ctx, pool, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go rates.Watch(ctx, time.Minute)
	e.acts = activities.New(pool)
	e.acts.Metrics = e.metrics
	e.acts.Rates = rates
	e.acts.Rules = rating.NewRules(e.cfg.AllowedCountries, e.cfg.BlockedPrefixes, e.cfg.MaxCallSeconds, e.cfg.DailySpendLimitCents, e.cfg.DailyCallLimit)
	e.acts.Carrier = e.sim
	e.acts.Signaler = e.tc
	// The payment simulator the web server runs, through stripe-go.
	e.acts.Payments = payments.NewStripe(e.cfg.StripeSecretKey, e.cfg.StripeAPIBase, nil)
	e.startWorker()
	t.Cleanup(func() {
		if e.worker != nil {
			e.worker.Stop()
		}
	})
	return e
}

func (e *callEnv) startWorker() {
	e.worker = temporalx.NewWorker(e.tc, e.queue, e.acts, zerolog.Nop())
	if err := e.worker.Start(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *callEnv) stopWorker() {
	e.worker.Stop()
	e.worker = nil
}

// caller signs up a user in Nigeria with dollars in their wallet.
func (e *callEnv) caller(email string, cents int64) *browser {
	e.t.Helper()
	b := e.browser()
	b.signUp(email, "correct horse", "Caller")
	if cents > 0 {
		var account uuid.UUID
		if err := e.pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&account); err != nil {
			e.t.Fatal(err)
		}
		if _, err := ledger.New(e.pool).Post(context.Background(), ledger.Entry{Key: "bonus:" + email, AccountID: account, Kind: ledger.Bonus, AmountCents: cents}); err != nil {
			e.t.Fatal(err)
		}
	}
	return b
}

type startedCall struct {
	CallID     string `json:"call_id"`
	Token      string `json:"token"`
	Identity   string `json:"identity"`
	MaxSeconds int64  `json:"max_seconds"`
	LowBalance bool   `json:"low_balance"`
	Error      *struct {
		Code, Message string
		NeededCents   int64 `json:"needed_cents"`
	} `json:"error"`
}

func (b *browser) startCall(number string) (int, startedCall) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"phone_number": number})
	return b.postCalls(string(body))
}

// postCalls sends POST /calls with body as it is.
func (b *browser) postCalls(body string) (int, startedCall) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/calls", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.a.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r := b.do(req)
	var out startedCall
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		b.t.Fatalf("POST /calls: %d %q", r.status, r.body)
	}
	return r.status, out
}

// finish waits for the call's workflow and returns its final state.
func (e *callEnv) finish(callID string) workflows.CallState {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var st workflows.CallState
	if err := e.tc.GetWorkflow(ctx, workflows.CallWorkflowID(callID), "").Get(ctx, &st); err != nil {
		e.t.Fatalf("call %s: %v", callID, err)
	}
	return st
}

func (e *callEnv) charges(callID string) []int64 {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT amount_cents FROM transactions WHERE call_id = $1 AND kind = 'call_charge'`, callID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var c int64
		_ = rows.Scan(&c)
		out = append(out, c)
	}
	return out
}

func (e *callEnv) mustVerifyLedger() {
	e.t.Helper()
	r, err := ledger.New(e.pool).Verify(context.Background())
	if err != nil || !r.OK() {
		e.t.Fatalf("ledger verify: %v %v", r.Problems, err)
	}
}

func TestFullCallWithEveryCallbackTripledIsChargedOnce(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("full@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated || call.CallID == "" || strings.Count(call.Token, ".") != 2 || call.MaxSeconds != 35*60 {
		// $5.00 at $0.14 a minute buys 35 minutes.
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	sc, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{Copies: 3, Shuffle: true})
	if err != nil {
		t.Fatal(err)
	}
	// The carrier's limit is the ceiling a top-up could extend the call
	// to (issue 21): 35 min covered, plus $3 of talk (21 min at $0.14).
	if sc.Dialled != "+2348031234567" || sc.TimeLimit != call.MaxSeconds+21*60 {
		t.Fatalf("Twilio was told to dial %s for %d s", sc.Dialled, sc.TimeLimit)
	}
	st := e.finish(call.CallID)
	if st.Status != workflows.StatusCompleted || st.BillingState != workflows.BillingCharged || st.CostCents != 28 {
		t.Fatalf("state %+v", st)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -28 {
		t.Fatalf("charges %v, want one of -28", got)
	}
	var rowStatus, billing string
	var cost int64
	if err := e.pool.QueryRow(context.Background(), `SELECT status, billing_state, cost_cents FROM calls WHERE id = $1`, call.CallID).Scan(&rowStatus, &billing, &cost); err != nil {
		t.Fatal(err)
	}
	if rowStatus != "completed" || billing != "charged" || cost != 28 {
		t.Fatalf("calls row: %s %s %d", rowStatus, billing, cost)
	}
	e.mustVerifyLedger()
	// The voice webhook refuses a replay of the same call: never a second dial.
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, time.Second, carrier.Faults{}); !errors.Is(err, carrier.ErrRefused) {
		t.Fatalf("second voice request: %v", err)
	}
	recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_answered.json")
	firstTaskIsLean(t, e.tc, workflows.CallWorkflowID(call.CallID))
}

// firstTaskIsLean checks what the first workflow task of a workflow the
// web started wrote: on workflows.PathCurrent no version marker and so no
// TemporalChangeVersion upsert, and at most one search-attribute upsert
// (each is a visibility write on the Temporal server).
func firstTaskIsLean(t *testing.T, tc client.Client, workflowID string) {
	t.Helper()
	iter := tc.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var upserts, completed int
	for iter.HasNext() && completed < 2 {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			completed++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if name := ev.GetMarkerRecordedEventAttributes().GetMarkerName(); name == "Version" && completed == 1 {
				t.Errorf("first workflow task of %s recorded a version marker (event %d)", workflowID, ev.GetEventId())
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			if completed == 1 {
				upserts++
			}
		}
	}
	if completed == 0 || upserts > 1 {
		t.Errorf("first workflow task of %s: %d tasks completed, %d search-attribute upserts (want at most 1)", workflowID, completed, upserts)
	}
}

func TestBadSignaturesAreRefusedAndChangeNothing(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("sig@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	form := url.Values{"CallSid": {"CAforged"}, "From": {"client:" + call.Identity}, "CallId": {call.CallID}}
	for name, sig := range map[string]string{
		"missing":       "",
		"garbage":       "not-a-signature",
		"another token": carrier.Sign("someone-elses-token", e.cfg.PublicBaseURL+"/api/webhooks/twilio/voice", form),
		"another url":   carrier.Sign(e.cfg.TwilioAuthToken, e.cfg.PublicBaseURL+"/api/webhooks/twilio/status", form),
	} {
		for _, path := range []string{"/api/webhooks/twilio/voice", "/api/webhooks/twilio/status?call_id=" + call.CallID} {
			req, _ := http.NewRequest(http.MethodPost, e.srv0()+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sig != "" {
				req.Header.Set("X-Twilio-Signature", sig)
			}
			if r := e.browser().do(req); r.status != http.StatusForbidden {
				t.Errorf("%s signature on %s: %d", name, path, r.status)
			}
		}
	}
	var status string
	var events int
	_ = e.pool.QueryRow(context.Background(), `SELECT status FROM calls WHERE id = $1`, call.CallID).Scan(&status)
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events`).Scan(&events)
	if status != "authorized" || events != 0 {
		t.Fatalf("after forged webhooks: call %s, %d stored events", status, events)
	}
}

// srv0 is the test server's URL (where requests really go).
func (e *callEnv) srv0() string { return e.app.srv.URL }

func TestTwoConcurrentCallsAuthorizeOne(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("two@example.com", 500)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = b.startCall("+234 803 123 4567")
		}()
	}
	wg.Wait()
	created, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflict++
		}
	}
	if created != 1 || conflict != 1 {
		t.Fatalf("statuses %v, want one 201 and one 409", statuses)
	}
}

// A body that is more than one JSON object (a second value, or anything
// after the object) is refused as a bad request, and no call is created.
func TestPostCallsRefusesTrailingData(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("trailing@example.com", 500)
	for _, body := range []string{
		`{"phone_number": "+234 803 123 4567"} {"phone_number": "+1 900 555 0199"}`,
		`{"phone_number": "+234 803 123 4567"}]`,
		`{"phone_number": "+234 803 123 4567"} x`,
	} {
		status, call := b.postCalls(body)
		if status != http.StatusBadRequest || call.Error == nil || call.Error.Code != "bad_request" {
			t.Errorf("%s: %d %+v", body, status, call.Error)
		}
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM calls`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d calls created (%v)", n, err)
	}
	// One object, with trailing white space, is still a call.
	if status, _ := b.postCalls(`{"phone_number": "+234 803 123 4567"}` + "\n"); status != http.StatusCreated {
		t.Fatalf("one object: %d", status)
	}
}

func TestRefusals(t *testing.T) {
	e := newCallEnv(t)
	poor := e.caller("poor@example.com", 10)
	status, call := poor.startCall("+234 803 123 4567")
	if status != http.StatusPaymentRequired || call.Error == nil || call.Error.Code != "insufficient_balance" || call.Error.NeededCents != 14 {
		t.Fatalf("insufficient balance: %d %+v", status, call.Error)
	}
	if os.Getenv("RECORD_HISTORY") != "" {
		var refused string
		_ = e.pool.QueryRow(context.Background(), `SELECT id FROM calls WHERE status = 'refused'`).Scan(&refused)
		e.finish(refused)
		recordHistory(t, e.tc, workflows.CallWorkflowID(refused), "call_refused.json")
	}
	// The refused call frees the user's slot.
	for number, code := range map[string]string{"911": "emergency", "+1 900 555 0199": "blocked_prefix", "+1 268 464 1234": "destination_disabled"} {
		status, call = poor.startCall(number)
		if status != http.StatusUnprocessableEntity || call.Error == nil || call.Error.Code != code {
			t.Errorf("%s: %d %+v", number, status, call.Error)
		}
	}
}

func TestWorkerDownCallSetupStillWorksAndIsBilledLater(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("down@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	e.stopWorker()
	// Twilio's voice request and the callbacks need no worker.
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 30*time.Second, carrier.Faults{Copies: 2}); err != nil {
		t.Fatalf("with the worker down: %v", err)
	}
	if got := e.charges(call.CallID); len(got) != 0 {
		t.Fatalf("charged with no worker: %v", got)
	}
	e.startWorker()
	st := e.finish(call.CallID)
	if st.BillingState != workflows.BillingCharged || len(e.charges(call.CallID)) != 1 {
		t.Fatalf("after the worker came back: %+v, charges %v", st, e.charges(call.CallID))
	}
	e.mustVerifyLedger()
}

func TestTemporalDownMidCallDeliveriesAreRedelivered(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("outage@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	// The call is set up and answered while Temporal is up ...
	sc, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 90*time.Second, carrier.Faults{DropFinal: true})
	if err != nil {
		t.Fatal(err)
	}
	e.waitForStatus(call.CallID, workflows.StatusInProgress)
	// ... then Temporal goes away, and the call ends: Twilio's final
	// callbacks (each twice) must be stored and answered all the same.
	e.stopWorker()
	if err := e.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	statusURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/status?call_id=" + call.CallID
	final := url.Values{"CallSid": {sc.ChildSid}, "ParentCallSid": {sc.ParentSid}, "CallStatus": {"completed"}, "SequenceNumber": {"3"}, "CallDuration": {"90"}}
	action := url.Values{"CallSid": {sc.ParentSid}, "DialCallSid": {sc.ChildSid}, "DialCallStatus": {"completed"}, "DialCallDuration": {"90"}}
	for range 2 {
		if r := e.postSigned(statusURL, final); r.status != http.StatusNoContent {
			t.Fatalf("final callback with Temporal down: %d", r.status)
		}
		if r := e.postSigned(statusURL+"&event=dial-action", action); r.status != http.StatusOK {
			t.Fatalf("dial action with Temporal down: %d", r.status)
		}
	}
	var waiting int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL`).Scan(&waiting)
	if waiting != 2 {
		t.Fatalf("%d deliveries waiting for Temporal, want 2 (duplicates are stored once)", waiting)
	}
	e.srv, err = devserver.Start(context.Background(), e.devOpt)
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker()
	st := e.finish(call.CallID)
	// 90 seconds: two started minutes at $0.14.
	if st.BillingState != workflows.BillingCharged || st.CostCents != 28 || len(e.charges(call.CallID)) != 1 || st.Reconciled {
		t.Fatalf("after Temporal came back: %+v, charges %v", st, e.charges(call.CallID))
	}
	e.mustVerifyLedger()
}

// waitForStatus waits until the calls row reaches status.
func (e *callEnv) waitForStatus(callID, status string) {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var got string
		_ = e.pool.QueryRow(context.Background(), `SELECT status FROM calls WHERE id = $1`, callID).Scan(&got)
		if got == status {
			return
		}
	}
	e.t.Fatalf("call %s never reached %s", callID, status)
}

// postSigned sends a webhook signed as Twilio signs it.
func (e *callEnv) postSigned(signedURL string, form url.Values) response {
	req, _ := http.NewRequest(http.MethodPost, e.srv0()+strings.TrimPrefix(signedURL, e.cfg.PublicBaseURL), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", carrier.Sign(e.cfg.TwilioAuthToken, signedURL, form))
	return e.browser().do(req)
}

func TestVoiceRequestRacingTheAbandonmentTimer(t *testing.T) {
	e := newCallEnv(t)
	for i := range 10 {
		b := e.caller(fmt.Sprintf("race%d@example.com", i), 500)
		_, call := b.startCall("+234 803 123 4567")
		var wg sync.WaitGroup
		var dialErr error
		var canceled bool
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, dialErr = e.sim.PlaceCall(context.Background(), call.Token, call.CallID, time.Second, carrier.Faults{DropFinal: true})
		}()
		go func() {
			defer wg.Done()
			var err error
			canceled, err = e.acts.CancelUnclaimedCall(context.Background(), call.CallID)
			if err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		dialed := dialErr == nil
		if dialErr != nil && !errors.Is(dialErr, carrier.ErrRefused) {
			t.Fatal(dialErr)
		}
		if dialed == canceled {
			t.Fatalf("round %d: dialed=%v canceled=%v, want exactly one", i, dialed, canceled)
		}
		// The workflow's timer asks again later (or an attempt is retried
		// after its answer was lost): the answer must not change.
		again, err := e.acts.CancelUnclaimedCall(context.Background(), call.CallID)
		if err != nil || again != canceled {
			t.Fatalf("round %d: cancel asked again answered %v (%v), first %v", i, again, err, canceled)
		}
	}
}

// A staff debit (or a refund, a dispute) takes the money during the call:
// the connected call is charged in full all the same, the balance goes
// below zero, the books still add up, and the debt refuses the next call.
func TestMoneyLeavingMidCallIsChargedInFullAsDebt(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("debt@example.com", 100)
	_, call := b.startCall("+234 803 123 4567")
	var account uuid.UUID
	if err := e.pool.QueryRow(context.Background(), `SELECT account_id FROM calls WHERE id = $1`, call.CallID).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(e.pool).Post(context.Background(), ledger.Entry{Key: "admin:drain", AccountID: account, Kind: ledger.Adjustment, AmountCents: -90}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	st := e.finish(call.CallID)
	// 61 s: two minutes at $0.14 = 28 cents, against the 10 cents left.
	if st.BillingState != workflows.BillingCharged || st.CostCents != 28 {
		t.Fatalf("state %+v", st)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -28 {
		t.Fatalf("charges %v, want one of -28", got)
	}
	if got := e.balance("debt@example.com"); got != -18 {
		t.Fatalf("balance %d, want -18", got)
	}
	e.mustVerifyLedger()
	status, next := b.startCall("+234 803 123 4567")
	if status != http.StatusPaymentRequired || next.Error == nil || next.Error.Code != "negative_balance" {
		t.Fatalf("a call on a debt: %d %+v", status, next)
	}
}

// recordHistory writes the workflow's history to workflows/testdata when
// RECORD_HISTORY is set, for the replay test: as file when it is 1, else
// with its value before the extension (RECORD_HISTORY=fast writes
// call_answered_fast.json), so that histories of each workflow version
// stay side by side.
func recordHistory(t *testing.T, tc client.Client, workflowID, file string) {
	suffix := os.Getenv("RECORD_HISTORY")
	if suffix == "" {
		return
	}
	if suffix != "1" {
		file = strings.TrimSuffix(file, ".json") + "_" + suffix + ".json"
	}
	iter := tc.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("../workflows/testdata/"+file, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
