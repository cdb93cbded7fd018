package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// awaitEntries waits until a top-up's ledger entries are want.
func (e *callEnv) awaitEntries(topUpID, want string) {
	e.t.Helper()
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = strings.Join(e.entries(topUpID), " "); got == want {
			return
		}
	}
	e.t.Fatalf("top-up %s entries %q, want %q", topUpID, got, want)
}

func TestForgedSignalForAnUnpaidPaymentCreditsNothing(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	b := e.caller("forged@example.com", 0)
	id := b.buy(1000)
	row := e.topup(id)
	wid := workflows.TopUpWorkflowID(id)

	// What `temporal workflow signal --workflow-id topup-… --name
	// stripe-event --input '{…}'` sends, or the Temporal UI's signal form:
	// a payment_intent.succeeded for the top-up's PaymentIntent, which
	// nobody paid.
	forged := json.RawMessage(fmt.Sprintf(`{"EventID":"evt_forged","Type":%q,"PaymentIntentID":%q,"AmountCents":1000,"Currency":"usd"}`,
		workflows.EventPaymentSucceeded, row.PaymentIntent))
	if err := e.tc.SignalWorkflow(context.Background(), wid, "", workflows.SignalStripeEvent, forged); err != nil {
		t.Fatal(err)
	}
	var reason *string
	for deadline := time.Now().Add(30 * time.Second); reason == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_ = e.pool.QueryRow(context.Background(), `SELECT stuck_reason FROM topups WHERE id = $1`, id).Scan(&reason)
	}
	if reason == nil || !strings.Contains(*reason, "requires_payment_method") {
		t.Fatalf("the top-up is not stuck for support: %v", reason)
	}
	if got := e.entries(id); len(got) != 0 {
		t.Fatalf("a forged signal posted %v", got)
	}
	if bal := e.balance("forged@example.com"); bal != 0 {
		t.Fatalf("balance %d after a forged signal", bal)
	}
	if row := e.topup(id); row.Status != workflows.TopUpProcessing {
		t.Fatalf("status %s after a forged signal", row.Status)
	}
	v, err := e.tc.QueryWorkflow(context.Background(), wid, "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.TopUpState
	if err := v.Get(&st); err != nil || st.Stuck == "" || st.Status != workflows.TopUpProcessing {
		t.Fatalf("workflow state %+v, %v", st, err)
	}
	// Support sees it.
	staff := e.admin("support@example.com")
	if dash := staff.get("/admin"); !strings.Contains(dash.body, `data-stuck-topup="`+id+`"`) || !strings.Contains(dash.body, "requires_payment_method") {
		t.Fatalf("the dashboard does not list the stuck top-up:\n%s", dash.body)
	}
	if page := staff.get("/admin/topups/" + id); !strings.Contains(page.body, "data-stuck-reason") {
		t.Fatalf("the top-up's page does not say why it is stuck:\n%s", page.body)
	}

	// The real payment, later, is credited once, and clears the mark.
	if err := sim.Confirm(context.Background(), row.PaymentIntent, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	e.awaitEntries(id, "purchase:1000")
	_ = e.pool.QueryRow(context.Background(), `SELECT stuck_reason FROM topups WHERE id = $1`, id).Scan(&reason)
	if reason != nil {
		t.Fatalf("still stuck after Stripe confirmed the payment: %s", *reason)
	}
	if dash := staff.get("/admin"); strings.Contains(dash.body, `data-stuck-topup="`+id+`"`) {
		t.Fatal("the credited top-up is still listed as stuck")
	}
	e.mustVerifyLedger()
	recordHistory(t, e.tc, wid, "topup_forged_signal_then_paid.json")
}

func TestDisputeWonAndRefundFailedGiveTheMoneyBackOnce(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	ctx := context.Background()
	b := e.caller("lifecycle@example.com", 0)
	id := b.buy(2000)
	pi := e.topup(id).PaymentIntent
	if err := sim.Confirm(ctx, pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)

	// A refund, then its failure days later (delivered twice): the
	// reversal is reversed, once.
	rf, err := sim.Refund(ctx, pi, 500, payments.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	e.awaitEntries(id, "purchase:2000 refund:-500")
	if err := sim.FailRefund(ctx, rf.ID, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	e.awaitEntries(id, "purchase:2000 refund:-500 refund_failure:500")
	if row := e.topup(id); row.Refunded != 0 || row.Status != workflows.TopUpSucceeded {
		t.Fatalf("after the refund failed: %+v", row)
	}

	// The workflow has finished; a dispute starts it again. Its funds are
	// withdrawn once (created and funds_withdrawn both name it).
	if err := e.tc.TerminateWorkflow(ctx, workflows.TopUpWorkflowID(id), "", "test: the workflow is over"); err != nil {
		t.Fatal(err)
	}
	dp, err := sim.Dispute(ctx, pi, payments.Faults{Copies: 2, Shuffle: true})
	if err != nil {
		t.Fatal(err)
	}
	e.awaitEntries(id, "purchase:2000 refund:-500 refund_failure:500 dispute:-2000")
	if row := e.awaitTopUp(id, workflows.TopUpDisputed); row.Disputed != 2000 {
		t.Fatalf("disputed %d", row.Disputed)
	}
	if bal := e.balance("lifecycle@example.com"); bal != 0 {
		t.Fatalf("balance %d while disputed", bal)
	}
	// Evidence submitted (charge.dispute.updated): no money moves.
	if err := sim.ReviewDispute(ctx, dp, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	// Won: closed and funds_reinstated, each twice, in any order.
	if err := sim.CloseDispute(ctx, dp, true, payments.Faults{Copies: 2, Shuffle: true}); err != nil {
		t.Fatal(err)
	}
	e.awaitEntries(id, "purchase:2000 refund:-500 refund_failure:500 dispute:-2000 dispute_reversal:2000")
	if row := e.awaitTopUp(id, workflows.TopUpSucceeded); row.Disputed != 0 || row.Refunded != 0 {
		t.Fatalf("after the dispute was won: %+v", row)
	}
	if bal := e.balance("lifecycle@example.com"); bal != 2000 {
		t.Fatalf("balance %d after the dispute was won", bal)
	}
	var keys []string
	rows, _ := e.pool.Query(ctx, `SELECT idempotency_key FROM transactions WHERE topup_id = $1 ORDER BY id`, id)
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	want := []string{"stripe:" + pi, "stripe:refund:" + rf.ID, "stripe:refund:" + rf.ID + ":failed", "stripe:dispute:" + dp, "stripe:dispute:" + dp + ":won"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	e.mustVerifyLedger()
}

func TestDisputeLostKeepsTheDebitAndAnInquiryMovesNothing(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	ctx := context.Background()
	b := e.caller("lost@example.com", 0)
	id := b.buy(1000)
	pi := e.topup(id).PaymentIntent
	if err := sim.Confirm(ctx, pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	inquiry, err := sim.Inquiry(ctx, pi, payments.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.ReviewDispute(ctx, inquiry, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := sim.CloseDispute(ctx, inquiry, false, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	dp, err := sim.Dispute(ctx, pi, payments.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.CloseDispute(ctx, dp, false, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitEntries(id, "purchase:1000 dispute:-1000")
	// Every event was delivered to the workflow (none left undelivered),
	// and the lost dispute stays a debit.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var open int
		_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL`).Scan(&open)
		if open == 0 {
			break
		}
	}
	if got := strings.Join(e.entries(id), " "); got != "purchase:1000 dispute:-1000" {
		t.Fatalf("entries %s", got)
	}
	if row := e.topup(id); row.Status != workflows.TopUpDisputed || row.Disputed != 1000 {
		t.Fatalf("after a lost dispute: %+v", row)
	}
	e.mustVerifyLedger()
}
