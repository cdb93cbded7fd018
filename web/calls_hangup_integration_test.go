package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// hangUp is the browser's POST /calls/{id}/hangup, as the dialer sends it.
func (b *browser) hangUp(callID string, origin string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/calls/"+callID+"/hangup", strings.NewReader(`{"reason":"disconnect"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	if origin == b.a.srv.URL {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	return b.do(req)
}

// The final callbacks are lost; the browser says the call ended: the
// workflow asks the carrier at once and bills it, and the user can call
// again, instead of waiting max_seconds + ring + grace (35 minutes here).
func TestBrowserHangUpBillsAtOnceWhenTheFinalCallbackIsLost(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("hangup@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{DropFinal: true}); err != nil {
		t.Fatal(err)
	}
	e.waitForStatus(call.CallID, "in_progress")

	// Not another user's call, nor from another site.
	other := e.caller("other@example.com", 500)
	if r := other.hangUp(call.CallID, e.srv0()); r.status != http.StatusNotFound {
		t.Fatalf("another user's hang-up: %d %s", r.status, r.body)
	}
	if r := b.hangUp(call.CallID, "https://evil.example"); r.status != http.StatusForbidden {
		t.Fatalf("cross-site hang-up: %d %s", r.status, r.body)
	}
	if st := e.state(call.CallID); st.BrowserEnded || st.BillingState != workflows.BillingPending {
		t.Fatalf("refused hang-ups reached the workflow: %+v", st)
	}

	if r := b.hangUp(call.CallID, e.srv0()); r.status != http.StatusAccepted {
		t.Fatalf("hang-up: %d %s", r.status, r.body)
	}
	st := e.finish(call.CallID)
	if st.BillingState != workflows.BillingCharged || st.CostCents != 28 || !st.Reconciled || !st.BrowserEnded {
		t.Fatalf("state %+v", st)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -28 {
		t.Fatalf("charges %v, want one of -28", got)
	}
	e.mustVerifyLedger()
	if status, next := b.startCall("+234 803 123 4567"); status != http.StatusCreated {
		t.Fatalf("the next call: %d %+v", status, next)
	}
	// A late hang-up of the settled call changes nothing.
	if r := b.hangUp(call.CallID, e.srv0()); r.status != http.StatusAccepted || len(e.charges(call.CallID)) != 1 {
		t.Fatalf("late hang-up: %d %s", r.status, r.body)
	}
	recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_browser_hangup.json")
}

// The browser's connect failed (Twilio never asked us): the user's hang-up
// cancels the authorization at once, and no later voice request can dial it.
func TestBrowserHangUpCancelsACallThatNeverConnected(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("noconnect@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	if r := b.hangUp(call.CallID, e.srv0()); r.status != http.StatusAccepted {
		t.Fatalf("hang-up: %d %s", r.status, r.body)
	}
	st := e.finish(call.CallID)
	if st.Status != workflows.StatusCanceled || st.BillingState != workflows.BillingNotBillable || !st.BrowserEnded {
		t.Fatalf("state %+v", st)
	}
	recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_abandoned.json")
	if status, next := b.startCall("+234 803 123 4567"); status != http.StatusCreated {
		t.Fatalf("the next call: %d %+v", status, next)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, time.Second, carrier.Faults{}); !errors.Is(err, carrier.ErrRefused) {
		t.Fatalf("a voice request for the cancelled call: %v", err)
	}
}

// A workflow that ends without freeing the slot (terminated here; the
// 30-day execution timeout ends it the same way) does not hold the user's
// slot: the next call goes through, and the old one is left for support.
func TestAnEndedWorkflowDoesNotHoldTheCallSlot(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("ended@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 30*time.Second, carrier.Faults{DropFinal: true}); err != nil {
		t.Fatal(err)
	}
	e.waitForStatus(call.CallID, "in_progress")
	if status, _ := b.startCall("+234 803 123 4567"); status != http.StatusConflict {
		t.Fatalf("a second call while the first runs: %d", status)
	}
	if err := e.tc.TerminateWorkflow(context.Background(), workflows.CallWorkflowID(call.CallID), "", "test: an operator ends it"); err != nil {
		t.Fatal(err)
	}
	status, next := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("the next call after the workflow ended: %d %+v", status, next)
	}
	var billing, billingErr string
	var released bool
	if err := e.pool.QueryRow(context.Background(), `SELECT billing_state, COALESCE(billing_error, ''), slot_released_at IS NOT NULL FROM calls WHERE id = $1`, call.CallID).
		Scan(&billing, &billingErr, &released); err != nil {
		t.Fatal(err)
	}
	if !released || billing != workflows.BillingStuck || !strings.Contains(billingErr, "Terminated") {
		t.Fatalf("the old call: released %v, billing %s (%s)", released, billing, billingErr)
	}
}

func (e *callEnv) state(callID string) workflows.CallState {
	e.t.Helper()
	v, err := e.tc.QueryWorkflow(context.Background(), workflows.CallWorkflowID(callID), "", workflows.QueryState)
	if err != nil {
		e.t.Fatal(err)
	}
	var st workflows.CallState
	if err := v.Get(&st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// A web instance killed between the calls row and its update-with-start
// leaves the row 'created' with no workflow, holding the slot. Once the
// row is older than any start could still be in flight, the caller's next
// call frees it at once (no wait for the reaper's minute pass and its
// two-minute threshold), and the old row is failed as never started; a
// row younger than that, its start perhaps in flight, still answers 409.
func TestAStartThatNeverHappenedDoesNotHoldTheCallSlot(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("killed@example.com", 500)
	ctx := context.Background()
	var userID, accountID uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, "killed@example.com").
		Scan(&userID, &accountID); err != nil {
		t.Fatal(err)
	}
	orphan, err := db.New(e.pool).CreateCall(ctx, db.CreateCallParams{UserID: userID, AccountID: accountID,
		PhoneNumber: "+2348031234567", DestinationCountry: "NG", ClientIdentity: "orphan"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := b.startCall("+234 803 123 4567"); status != http.StatusConflict {
		t.Fatalf("a call beside a start perhaps in flight: %d, want 409", status)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE calls SET created_at = now() - interval '40 seconds' WHERE id = $1`, orphan.ID); err != nil {
		t.Fatal(err)
	}
	status, next := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("the next call after a start that never happened: %d %+v", status, next)
	}
	got, err := db.New(e.pool).GetCall(ctx, orphan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || got.BillingState != "not_billable" || got.EndReason == nil || *got.EndReason != "never started" {
		t.Fatalf("the orphan: %s, billing %s, reason %v", got.Status, got.BillingState, got.EndReason)
	}
	e.mustVerifyLedger()
}
