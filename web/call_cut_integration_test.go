package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// placeRealtime places a call on the realtime simulator in the background
// (talk long enough that only a hang-up ends it soon); the channel gives
// what the carrier saw once it is over.
func (e *callEnv) placeRealtime(call startedCall, talk time.Duration) <-chan carrier.SimCall {
	e.sim.Realtime, e.sim.Ring = true, 200*time.Millisecond
	done := make(chan carrier.SimCall, 1)
	go func() {
		sc, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, talk, carrier.Faults{})
		if err != nil {
			e.t.Errorf("place call: %v", err)
		}
		done <- sc
	}()
	e.waitForStatus(call.CallID, workflows.StatusInProgress)
	return done
}

// ended waits for the simulated call to end, and fails the test if only
// its talk time ended it.
func ended(t *testing.T, done <-chan carrier.SimCall) carrier.SimCall {
	t.Helper()
	select {
	case sc := <-done:
		return sc
	case <-time.After(60 * time.Second):
		t.Fatal("the call was not ended after the money loss")
	}
	return carrier.SimCall{}
}

// A refund of the one top-up during a call takes all its money: the call
// is ended at the carrier at once, charged in full for the seconds talked
// (a debt), and the caller's pages say why.
func TestARefundDuringACallEndsIt(t *testing.T) {
	e := newCallEnv(t)
	psim := e.web.PaymentSimulator()
	b := e.caller("cutshort@example.com", 0)
	id := b.buy(500)
	pi := e.topup(id).PaymentIntent
	if err := psim.Confirm(context.Background(), pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	_, call := b.startCall("+234 803 123 4567")
	if call.MaxSeconds < 600 {
		t.Fatalf("max_seconds %d on $5", call.MaxSeconds)
	}
	done := e.placeRealtime(call, 10*time.Minute)
	time.Sleep(1500 * time.Millisecond) // a second or so of talk
	refundedAt := time.Now()
	if _, err := psim.Refund(context.Background(), pi, 500, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	sc := ended(t, done)
	t.Logf("the refund ended the call %s later (%d s talked, authorized for %d s)", time.Since(refundedAt).Round(time.Millisecond), sc.DurationSeconds, call.MaxSeconds)
	st := e.finish(call.CallID)
	if st.CutToSeconds == nil || *st.CutToSeconds != 0 || st.CutReason != "refund" || !st.CutEnded {
		t.Fatalf("state %+v: want cut to nothing by the refund, and ended", st)
	}
	if sc.Status != "completed" || sc.DurationSeconds < 1 || sc.DurationSeconds > 30 {
		t.Fatalf("the carrier's call: %+v", sc)
	}
	// Charged in full for what was talked: one started minute at $0.14, a
	// debt, since the refund took the whole $5.
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -14 || st.BillingState != workflows.BillingCharged {
		t.Fatalf("charges %v, state %+v", got, st)
	}
	if bal := e.balance("cutshort@example.com"); bal != -14 {
		t.Fatalf("balance %d, want -14 (the call's charge after the refund)", bal)
	}
	var cut int
	var reason string
	if err := e.pool.QueryRow(context.Background(), `SELECT cut_seconds, cut_reason FROM calls WHERE id = $1`, call.CallID).Scan(&cut, &reason); err != nil || cut != 0 || reason != "refund" {
		t.Fatalf("calls row cut %d %q (%v)", cut, reason, err)
	}
	if page := b.get("/calls/" + call.CallID); !strings.Contains(page.body, "a top-up was refunded") {
		t.Fatalf("the call's page does not say why it ended:\n%s", page.body)
	}
	// Support's page of the call names the refund that cut it, with a
	// link to its entry.
	staff := e.admin("reader@example.com")
	admin := staff.get("/admin/calls/" + call.CallID)
	for _, want := range []string{"data-cut>to 0 s of talk (refund during the call), hung up at the carrier", "data-lost-during-call", "refund -$5.00", "#entry-"} {
		if !strings.Contains(admin.body, want) {
			t.Fatalf("the console's call page lacks %q:\n%s", want, admin.body)
		}
	}
	e.mustVerifyLedger()
	recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_cut_by_refund.json")
}

// Support's debit during a call (confirmed as such) leaves a minute's
// money: the call is cut to one minute, and the in-call status the live
// stream carries says so; a credit then lifts the cut.
func TestADebitDuringACallCutsItAndACreditLiftsTheCut(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("cutter@example.com")
	b := e.caller("debited@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	done := e.placeRealtime(call, 10*time.Minute)
	var uid string
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'debited@example.com'`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	adjust := func(direction, amount string) {
		t.Helper()
		page := "/admin/users/" + uid
		form := url.Values{"key": {consoleFormKey(staff, page, adjustKeyPattern)}, "direction": {direction}, "amount": {amount},
			"reason": {"test: " + direction}, "during_call": {"yes"}}
		if r := staff.post(page+"/adjust", form); r.status != http.StatusSeeOther {
			t.Fatalf("%s %s: %d\n%s", direction, amount, r.status, r.body)
		}
	}
	// $5.00 less $4.80 leaves 20 cents: one minute at $0.14.
	adjust("debit", "4.80")
	cutTo := func() (int, bool) {
		var cut *int
		_ = e.pool.QueryRow(context.Background(), `SELECT cut_seconds FROM calls WHERE id = $1`, call.CallID).Scan(&cut)
		if cut == nil {
			return 0, false
		}
		return *cut, true
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, ok := cutTo(); ok {
			break
		}
	}
	if cut, ok := cutTo(); !ok || cut != 60 {
		t.Fatalf("cut %d (%v), want 60 s", cut, ok)
	}
	// The call's status as the live stream and the call's page render it
	// (the in-call bar reads the same element).
	if page := b.get("/calls/" + call.CallID); !strings.Contains(page.body, `data-cut-seconds="60"`) ||
		!strings.Contains(page.body, "support changed your balance") {
		t.Fatalf("the call's page does not carry the cut:\n%s", page.body)
	}
	adjust("credit", "4.80")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, ok := cutTo(); !ok {
			break
		}
	}
	if cut, ok := cutTo(); ok {
		t.Fatalf("the cut (%d s) stands after the credit", cut)
	}
	// The caller hangs up; billed as any call.
	e.sim.HangUp(call.CallID)
	ended(t, done)
	if st := e.finish(call.CallID); st.CutToSeconds != nil || st.CutEnded || st.BillingState != workflows.BillingCharged {
		t.Fatalf("state %+v", st)
	}
	e.mustVerifyLedger()
}
