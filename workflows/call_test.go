package workflows_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/mobayilo/mobayilo/workflows"
)

// fakeCarrierDB stands in for the activities: it records what the workflow
// asked of Postgres, the ledger and the carrier.
type fakeCarrierDB struct {
	mu            sync.Mutex
	refuse        *workflows.CallRefusal
	claimed       bool // the voice webhook claimed the call before the timer
	canceled      bool
	abandoned     int
	authorized    int // AuthorizeCall runs
	charges       []workflows.ChargeRequest
	chargeFailing int // fail this many charges with BillingFailed
	carrierCall   workflows.CarrierCall
	fetches       int
	recorded      []string
	marks         []string
	waived        []string // BillingMark.Waived of each mark that had one
	chargedAt     time.Time
	canceledAt    time.Time
	// rowSids is what the calls row holds (LoadCallSids).
	rowSids workflows.CallSids
	// hangUps counts HangUpCarrierCall; afterHangUp, when set, is what the
	// carrier reports once hung up.
	hangUps     []workflows.HangUpRequest
	hangUpTimes []time.Time
	afterHangUp *workflows.CarrierCall
	// hungUpTalk, when set, is the talk time the carrier reports for a
	// call hung up at that moment.
	hungUpTalk func(at time.Time) int64
	// afterFetches, when set, is what the carrier reports from the
	// (fetches+1)th question on.
	afterFetches int
	later        *workflows.CarrierCall
	// ceiling: the carrier's limit AuthorizeCall answers (CeilingSeconds;
	// 0: none, as before issue 21).
	ceiling int64
	// now is the test environment's clock (an activity's StartedTime is
	// the wall clock's, not the skipped time's).
	now func() time.Time
}

// recordFinal records a final status sent with a billing activity, once,
// as the call event's uniqueness does in Postgres.
func (f *fakeCarrierDB) recordFinal(r *workflows.RecordStatus) {
	if r == nil {
		return
	}
	for _, s := range f.recorded {
		if s == r.Status {
			return
		}
	}
	f.recorded = append(f.recorded, r.Status)
}

var callInput = workflows.CallInput{CallID: "c1", UserID: "u1", AccountID: "a1", PhoneNumber: "+2348031234567", Country: "NG", ClientIdentity: "id1", Path: workflows.PathCurrent}

func (f *fakeCarrierDB) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f.now = env.Now
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.ActivityAuthorizeCall, func(ctx context.Context, in workflows.CallInput) (workflows.CallTerms, error) {
		f.mu.Lock()
		f.authorized++
		f.mu.Unlock()
		if f.refuse != nil {
			return workflows.CallTerms{}, temporal.NewNonRetryableApplicationError(f.refuse.Message, workflows.ErrTypeCallRefused, nil, *f.refuse)
		}
		return workflows.CallTerms{RatePrefix: "234803", Description: "Nigeria mobile", PerMinuteMicros: 140_000, MaxSeconds: 600,
			AuthorizedUntil: activity.GetInfo(ctx).StartedTime.Add(workflows.AuthorizationWindow), CeilingSeconds: f.ceiling}, nil
	})
	reg(workflows.ActivityCancelUnclaimedCall, func(context.Context, string) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.canceledAt = f.now()
		f.canceled = !f.claimed
		return f.canceled, nil
	})
	reg(workflows.ActivityAbandonCall, func(context.Context, string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.abandoned++
		return nil
	})
	reg(workflows.ActivityRecordCallStatus, func(_ context.Context, r workflows.RecordStatus) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.recorded = append(f.recorded, r.Status)
		return nil
	})
	reg(workflows.ActivityChargeCall, func(_ context.Context, r workflows.ChargeRequest) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.chargedAt = f.now()
		if f.chargeFailing > 0 {
			f.chargeFailing--
			return temporal.NewNonRetryableApplicationError("insufficient funds", workflows.ErrTypeBillingFailed, nil)
		}
		f.charges = append(f.charges, r)
		f.recordFinal(r.Final)
		return nil
	})
	reg(workflows.ActivityMarkCallBilling, func(_ context.Context, m workflows.BillingMark) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.marks = append(f.marks, m.State)
		if m.Waived != "" {
			f.waived = append(f.waived, m.Waived)
		}
		f.recordFinal(m.Final)
		return nil
	})
	reg(workflows.ActivityLoadCallSids, func(context.Context, string) (workflows.CallSids, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.rowSids, nil
	})
	reg(workflows.ActivityHangUpCarrierCall, func(_ context.Context, r workflows.HangUpRequest) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.hangUps = append(f.hangUps, r)
		f.hangUpTimes = append(f.hangUpTimes, f.now())
		if f.afterHangUp != nil {
			f.carrierCall = *f.afterHangUp
		}
		if f.hungUpTalk != nil {
			f.carrierCall.DurationSeconds = f.hungUpTalk(f.now())
		}
		return nil
	})
	reg(workflows.ActivityFetchCarrierCall, func(_ context.Context, sid string) (workflows.CarrierCall, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fetches++
		if f.later != nil && f.fetches > f.afterFetches {
			f.carrierCall = *f.later
		}
		if sid != f.carrierCall.Sid {
			return workflows.CarrierCall{}, temporal.NewNonRetryableApplicationError("asked for the wrong leg: "+sid, "WrongLeg", nil)
		}
		return f.carrierCall, nil
	})
	reg(workflows.ActivityFindDialledLeg, func(_ context.Context, parent string) (workflows.CarrierCall, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fetches++
		if parent != "CApar" || f.carrierCall.Sid == "" {
			return workflows.CarrierCall{}, nil
		}
		out := f.carrierCall
		out.Found = true
		return out, nil
	})
	return env
}

// authorize sends the authorize update at once, as update-with-start does.
func authorize(t *testing.T, env *testsuite.TestWorkflowEnvironment, wantErr bool) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateAuthorize, "authorize-1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("authorize rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(result any, err error) {
				if (err != nil) != wantErr {
					t.Errorf("authorize: %v (want error: %v)", err, wantErr)
				}
			},
		})
	}, 0)
}

func status(sid, s string, seq int, duration int64) workflows.StatusSignal {
	return workflows.StatusSignal{DedupKey: fmt.Sprintf("%s:%s:%d", sid, s, seq), CallSid: sid, ParentCallSid: "CApar", Status: s, SequenceNumber: seq, DurationSeconds: duration}
}

// answeredCall is the callbacks of a call answered for talk seconds.
func answeredCall(talk int64) []workflows.StatusSignal {
	return []workflows.StatusSignal{status("CAchild", "initiated", 0, 0), status("CAchild", "ringing", 1, 0),
		status("CAchild", "in-progress", 2, 0), status("CAchild", "completed", 3, talk)}
}

func sendAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, name string, arg any) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, at)
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.CallState {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st workflows.CallState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAnsweredCallIsChargedOnceAtTheRightCost(t *testing.T) {
	f := &fakeCarrierDB{}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(61) {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	// 61 seconds: two started minutes at $0.14 = 28 cents.
	if len(f.charges) != 1 || f.charges[0].CostCents != 28 || f.charges[0].DurationSeconds != 61 {
		t.Fatalf("charges %+v", f.charges)
	}
	if st.Status != workflows.StatusCompleted || st.BillingState != workflows.BillingCharged || st.ChildCallSid != "CAchild" {
		t.Fatalf("state %+v", st)
	}
	want := []string{"dialing", "ringing", "in_progress", "completed"}
	if fmt.Sprint(f.recorded) != fmt.Sprint(want) {
		t.Fatalf("recorded %v, want %v", f.recorded, want)
	}
}

func TestUnansweredCallsAreNotCharged(t *testing.T) {
	for _, final := range []string{"busy", "no-answer", "failed", "canceled"} {
		t.Run(final, func(t *testing.T) {
			f := &fakeCarrierDB{}
			env := f.env(t)
			authorize(t, env, false)
			sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
			sendAt(env, 2*time.Second, workflows.SignalTwilioStatus, status("CAchild", "ringing", 1, 0))
			sendAt(env, 3*time.Second, workflows.SignalTwilioStatus, status("CAchild", final, 2, 0))
			env.ExecuteWorkflow(workflows.Call, callInput)
			st := result(t, env)
			if len(f.charges) != 0 || st.BillingState != workflows.BillingNotBillable || !workflows.IsFinal(st.Status) {
				t.Fatalf("charges %+v, state %+v", f.charges, st)
			}
		})
	}
}

func TestEveryCallbackThreeTimesShuffledIsChargedOnce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			f := &fakeCarrierDB{}
			env := f.env(t)
			authorize(t, env, false)
			var signals []any
			for range 3 {
				signals = append(signals, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
				for _, s := range answeredCall(125) {
					signals = append(signals, s)
				}
				signals = append(signals, workflows.StatusSignal{DedupKey: "action:CApar:completed", CallSid: "CApar", Status: "completed", DurationSeconds: 125, FromDialAction: true})
			}
			rng.Shuffle(len(signals), func(i, j int) { signals[i], signals[j] = signals[j], signals[i] })
			for i, s := range signals {
				name := workflows.SignalTwilioStatus
				if _, ok := s.(workflows.DialedSignal); ok {
					name = workflows.SignalDialed
				}
				sendAt(env, time.Duration(i+1)*time.Second, name, s)
			}
			env.ExecuteWorkflow(workflows.Call, callInput)
			st := result(t, env)
			// 125 seconds: three started minutes at $0.14 = 42 cents, once.
			if len(f.charges) != 1 || f.charges[0].CostCents != 42 || st.BillingState != workflows.BillingCharged {
				t.Fatalf("charges %+v, state %+v", f.charges, st)
			}
		})
	}
}

func TestLostFinalCallbackIsReconciledFromTheCarrier(t *testing.T) {
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 200}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(200)[:3] { // the completed callback never comes
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if f.fetches != 1 || len(f.charges) != 1 || f.charges[0].CostCents != 56 || !st.Reconciled { // 4 minutes at $0.14
		t.Fatalf("fetches %d, charges %+v, state %+v", f.fetches, f.charges, st)
	}
}

func TestStuckBillingWaitsForRetryThenChargesOnce(t *testing.T) {
	f := &fakeCarrierDB{chargeFailing: 1}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(30) {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	var stuck workflows.CallState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			t.Error(err)
			return
		}
		_ = v.Get(&stuck)
		// A late duplicate while stuck changes nothing.
		env.SignalWorkflow(workflows.SignalTwilioStatus, answeredCall(30)[3])
	}, time.Hour)
	sendAt(env, 2*time.Hour, workflows.SignalRetryBilling, nil)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if stuck.BillingState != workflows.BillingStuck || stuck.LastError == "" {
		t.Fatalf("while failing: %+v", stuck)
	}
	if len(f.charges) != 1 || f.charges[0].CostCents != 14 || st.BillingState != workflows.BillingCharged {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// Support waives a stuck call: settled not billable, its reason on the
// row, nothing charged. A waiver sent for another attempt than the one the
// call is stuck at (support looked before a retry) is ignored.
func TestWaivedStuckCallSettlesNotBillableWithNothingPosted(t *testing.T) {
	f := &fakeCarrierDB{chargeFailing: 1}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(30) {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	var afterStale workflows.CallState
	sendAt(env, 30*time.Minute, workflows.SignalWaiveBilling, workflows.WaiveSignal{Reason: "stale", By: "admin1", Attempts: 0})
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			t.Error(err)
			return
		}
		_ = v.Get(&afterStale)
	}, 45*time.Minute)
	sendAt(env, time.Hour, workflows.SignalWaiveBilling, workflows.WaiveSignal{Reason: "goodwill: bad line", By: "admin1", Attempts: 1})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if afterStale.BillingState != workflows.BillingStuck || afterStale.Waived != nil {
		t.Fatalf("after a waiver for another attempt: %+v", afterStale)
	}
	if len(f.charges) != 0 || st.BillingState != workflows.BillingNotBillable || st.Waived == nil || st.Waived.Reason != "goodwill: bad line" {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
	if len(f.waived) != 1 || f.waived[0] != "goodwill: bad line" || f.marks[len(f.marks)-1] != workflows.BillingNotBillable {
		t.Fatalf("marks %v, waived %v", f.marks, f.waived)
	}
}

func TestAbandonedAuthorizationIsCanceledUncharged(t *testing.T) {
	f := &fakeCarrierDB{}
	env := f.env(t)
	authorize(t, env, false)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if !f.canceled || st.Status != workflows.StatusCanceled || st.BillingState != workflows.BillingNotBillable || len(f.charges) != 0 {
		t.Fatalf("state %+v, charges %+v", st, f.charges)
	}
}

func TestTimerLosingToTheVoiceWebhookStillBills(t *testing.T) {
	f := &fakeCarrierDB{claimed: true}
	env := f.env(t)
	authorize(t, env, false)
	// The claim happened just before the timer; its signal arrives after.
	at := workflows.AuthorizationWindow + 20*time.Second
	sendAt(env, at, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(60) {
		sendAt(env, at+time.Duration(1+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if f.canceled || len(f.charges) != 1 || f.charges[0].CostCents != 14 || st.Status != workflows.StatusCompleted {
		t.Fatalf("canceled %v, charges %+v, state %+v", f.canceled, f.charges, st)
	}
}

func TestRefusedCallEndsAtOnce(t *testing.T) {
	f := &fakeCarrierDB{refuse: &workflows.CallRefusal{Reason: "insufficient_balance", Message: "Add credit.", NeededCents: 14}}
	env := f.env(t)
	authorize(t, env, true)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if st.Status != workflows.StatusRefused || st.Refusal == nil || st.Refusal.NeededCents != 14 || len(f.charges) != 0 {
		t.Fatalf("state %+v", st)
	}
}

func TestNoAuthorizeUpdateAbandonsTheCall(t *testing.T) {
	f := &fakeCarrierDB{}
	env := f.env(t)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if st.Status != workflows.StatusFailed || st.BillingState != workflows.BillingNotBillable {
		t.Fatalf("state %+v", st)
	}
}

func TestOnlyTheParentKnownReconcilesTheDialledLeg(t *testing.T) {
	// Every callback of the dialled leg is lost; the carrier knows the leg.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 45}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 1 || f.charges[0].CostCents != 14 || st.ChildCallSid != "CAchild" || !st.Reconciled {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

func TestNoDialledLegIsNotBilled(t *testing.T) {
	// Twilio never placed the dialled leg (and the parent "completed").
	f := &fakeCarrierDB{}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 0 || st.BillingState != workflows.BillingNotBillable {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

func TestDialActionNamesTheLegToReconcile(t *testing.T) {
	// Only the Dial action arrived, without a usable status: the leg it
	// names is fetched, never the parent.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "busy"}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	sendAt(env, 2*time.Second, workflows.SignalTwilioStatus, workflows.StatusSignal{DedupKey: "action:CApar:x", CallSid: "CApar", Status: "queued", FromDialAction: true, DialCallSid: "CAchild"})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 0 || st.Status != workflows.StatusBusy || st.ChildCallSid != "CAchild" {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

func TestRetryOfACallTheCarrierNeverEndedAsksAtOnce(t *testing.T) {
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "in-progress"}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(60)[:3] { // the carrier never reports the end
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	var stuck workflows.CallState
	var retriedAt time.Time
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err == nil {
			_ = v.Get(&stuck)
		}
		// The carrier has ended it by now; support retries, twice (a
		// double click).
		f.mu.Lock()
		f.carrierCall = workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 61}
		f.mu.Unlock()
		retriedAt = env.Now()
		env.SignalWorkflow(workflows.SignalRetryBilling, nil)
		env.SignalWorkflow(workflows.SignalRetryBilling, nil)
	}, 3*time.Hour)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if stuck.BillingState != workflows.BillingStuck {
		t.Fatalf("before the retry: %+v", stuck)
	}
	if len(f.charges) != 1 || f.charges[0].CostCents != 28 || !st.Reconciled || st.BillingState != workflows.BillingCharged {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
	if waited := f.chargedAt.Sub(retriedAt); waited > time.Minute {
		t.Fatalf("charged %s after the retry: the retry should ask the carrier at once", waited)
	}
}

// ---- issue 15: the browser's word, the row's SIDs, overdue calls ---------

func TestBrowserEndingAnUnclaimedCallCancelsItAtOnce(t *testing.T) {
	// The browser's connect failed; the user hangs up: the slot is freed
	// now, not when the authorization expires.
	f := &fakeCarrierDB{}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, 5*time.Second, workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{Reason: "connect failed"})
	start := env.Now()
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if !f.canceled || st.Status != workflows.StatusCanceled || st.BillingState != workflows.BillingNotBillable || !st.BrowserEnded {
		t.Fatalf("canceled %v, state %+v", f.canceled, st)
	}
	if waited := f.canceledAt.Sub(start); waited > time.Minute {
		t.Fatalf("canceled %s after the start: the browser's word should cancel at once", waited)
	}
}

func TestBrowserEndingAClaimedCallBeforeTheDialedSignalStillBills(t *testing.T) {
	// The voice webhook claimed it a moment before the browser hung up; the
	// cancel loses, and the carrier is asked at once.
	f := &fakeCarrierDB{claimed: true, rowSids: workflows.CallSids{ParentCallSid: "CApar"},
		carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 20}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, 5*time.Second, workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if f.canceled || len(f.charges) != 1 || f.charges[0].CostCents != 14 || st.Status != workflows.StatusCompleted {
		t.Fatalf("canceled %v, charges %+v, state %+v", f.canceled, f.charges, st)
	}
	if waited := f.chargedAt.Sub(f.canceledAt); waited > time.Minute {
		t.Fatalf("charged %s after the cancel lost: the carrier should be asked at once", waited)
	}
}

func TestBrowserEndedAsksTheCarrierAtOnce(t *testing.T) {
	// The final callback is lost; the browser says the call ended at 90 s.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 61}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(61)[:3] {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	var endedAt time.Time
	env.RegisterDelayedCallback(func() {
		endedAt = env.Now()
		env.SignalWorkflow(workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{Reason: "disconnect"})
	}, 90*time.Second)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 1 || f.charges[0].CostCents != 28 || !st.Reconciled || !st.BrowserEnded || st.BillingState != workflows.BillingCharged {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
	if waited := f.chargedAt.Sub(endedAt); waited > 10*time.Second {
		t.Fatalf("charged %s after the browser hung up, want at once", waited)
	}
}

func TestBrowserEndedWhileTheCarrierStillTalksAsksAgainSoon(t *testing.T) {
	// The carrier's end trails the browser's: the first answer says in
	// progress, a later one completed.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "in-progress"},
		afterFetches: 2, later: &workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 61}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(61)[:3] {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	var endedAt time.Time
	env.RegisterDelayedCallback(func() {
		endedAt = env.Now()
		env.SignalWorkflow(workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{})
	}, 90*time.Second)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 1 || f.charges[0].CostCents != 28 || f.fetches != 3 || len(f.hangUps) != 0 {
		t.Fatalf("charges %+v, fetches %d, hang-ups %d, state %+v", f.charges, f.fetches, len(f.hangUps), st)
	}
	if waited := f.chargedAt.Sub(endedAt); waited > 30*time.Second {
		t.Fatalf("charged %s after the browser hung up, want within the quick checks", waited)
	}
}

func TestBrowserEndedThenTheFinalCallbackBillsOnce(t *testing.T) {
	// The carrier still talks when asked; the final callback then comes.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "in-progress"}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	calls := answeredCall(61)
	for i, s := range calls[:3] {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	sendAt(env, 90*time.Second, workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{})
	sendAt(env, 91*time.Second, workflows.SignalTwilioStatus, calls[3])
	sendAt(env, 92*time.Second, workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{})
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 1 || f.charges[0].CostCents != 28 || st.Reconciled || f.fetches < 1 {
		t.Fatalf("charges %+v, fetches %d, state %+v", f.charges, f.fetches, st)
	}
}

func TestReconcileReadsTheClaimFromTheRow(t *testing.T) {
	// The timer lost to the claim and the dialed signal never came, nor any
	// callback: the parent CallSid is on the row.
	f := &fakeCarrierDB{claimed: true, rowSids: workflows.CallSids{ParentCallSid: "CApar"},
		carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 45}}
	env := f.env(t)
	authorize(t, env, false)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.charges) != 1 || f.charges[0].CostCents != 14 || st.ParentCallSid != "CApar" || st.ChildCallSid != "CAchild" || !st.Reconciled {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

func TestCallStillGoingPastItsLimitIsHungUpAndBilled(t *testing.T) {
	// The carrier reports the call in progress at max_seconds + ring +
	// grace: it is hung up through the REST API and billed for at most
	// max_seconds.
	f := &fakeCarrierDB{carrierCall: workflows.CarrierCall{Sid: "CAchild", Status: "in-progress"},
		afterHangUp: &workflows.CarrierCall{Sid: "CAchild", Status: "completed", DurationSeconds: 1000}}
	env := f.env(t)
	authorize(t, env, false)
	sendAt(env, time.Second, workflows.SignalDialed, workflows.DialedSignal{DedupKey: "voice:CApar", ParentCallSid: "CApar"})
	for i, s := range answeredCall(0)[:3] {
		sendAt(env, time.Duration(2+i)*time.Second, workflows.SignalTwilioStatus, s)
	}
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if len(f.hangUps) != 1 || f.hangUps[0].ParentCallSid != "CApar" || !st.HungUp {
		t.Fatalf("hang-ups %+v, state %+v", f.hangUps, st)
	}
	// 600 s authorized: ten minutes at $0.14.
	if len(f.charges) != 1 || f.charges[0].CostCents != 140 || f.charges[0].DurationSeconds != 600 || st.BillingState != workflows.BillingCharged {
		t.Fatalf("charges %+v, state %+v", f.charges, st)
	}
}

// A workflow started without its authorize update (the update lost on the
// way) gives the call up after a minute instead of waiting forever.
func TestAStartWithoutItsUpdateIsGivenUp(t *testing.T) {
	f := &fakeCarrierDB{}
	env := f.env(t)
	env.ExecuteWorkflow(workflows.Call, callInput)
	st := result(t, env)
	if st.Status != workflows.StatusFailed || st.BillingState != workflows.BillingNotBillable || f.abandoned != 1 || f.authorized != 0 {
		t.Fatalf("state %+v, abandoned %d, authorized %d", st, f.abandoned, f.authorized)
	}
}

// An update that reaches the workflow after its web request stopped
// waiting (CallInput.AuthorizeBy) authorizes nothing: the browser was told
// "unavailable", so the call is failed and its row abandoned.
func TestAnAuthorizationPastItsRequestsBoundIsNotRun(t *testing.T) {
	f := &fakeCarrierDB{}
	env := f.env(t)
	in := callInput
	in.AuthorizeBy = env.Now().Add(-time.Second)
	authorize(t, env, true)
	env.ExecuteWorkflow(workflows.Call, in)
	st := result(t, env)
	if st.Status != workflows.StatusFailed || f.authorized != 0 || f.abandoned != 1 {
		t.Fatalf("state %+v, authorized %d, abandoned %d", st, f.authorized, f.abandoned)
	}
}
