package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

var topUpPath = regexp.MustCompile(`^/credits/topups/([0-9a-f-]{36})$`)

// buy starts a top-up of cents through the Credits page and returns its id.
func (b *browser) buy(cents int64) string {
	b.t.Helper()
	r := b.post("/credits/purchase", url.Values{"package": {fmt.Sprint(cents)}})
	m := topUpPath.FindStringSubmatch(r.location)
	if r.status != http.StatusSeeOther || m == nil {
		b.t.Fatalf("purchase: %d %q\n%s", r.status, r.location, r.body)
	}
	return m[1]
}

type topUpRow struct {
	Status, PaymentIntent, Failure string
	Refunded, Disputed             int64
}

func (e *callEnv) topup(id string) topUpRow {
	e.t.Helper()
	var r topUpRow
	var pi, failure *string
	if err := e.pool.QueryRow(context.Background(), `SELECT status, payment_intent_id, failure_message, refunded_cents, disputed_cents FROM topups WHERE id = $1`, id).
		Scan(&r.Status, &pi, &failure, &r.Refunded, &r.Disputed); err != nil {
		e.t.Fatal(err)
	}
	if pi != nil {
		r.PaymentIntent = *pi
	}
	if failure != nil {
		r.Failure = *failure
	}
	return r
}

// awaitTopUp waits until the top-up's row has status.
func (e *callEnv) awaitTopUp(id, status string) topUpRow {
	e.t.Helper()
	var r topUpRow
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r = e.topup(id); r.Status == status {
			return r
		}
	}
	e.t.Fatalf("top-up %s is %s, not %s", id, r.Status, status)
	return r
}

// entries lists a top-up's ledger entries as kind:amount.
func (e *callEnv) entries(topUpID string) []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT kind, amount_cents FROM transactions WHERE topup_id = $1 ORDER BY id`, topUpID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind string
		var amount int64
		_ = rows.Scan(&kind, &amount)
		out = append(out, fmt.Sprintf("%s:%d", kind, amount))
	}
	return out
}

func (e *callEnv) balance(email string) int64 {
	e.t.Helper()
	var b int64
	if err := e.pool.QueryRow(context.Background(), `SELECT a.cached_balance_cents FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func TestTopUpEndToEndThroughTheSimulator(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	b := e.caller("buyer@example.com", 0)

	credits := b.get("/credits")
	for _, want := range []string{`value="500"`, `value="1000"`, `value="2000"`, `value="5000"`, "$50.00"} {
		if !strings.Contains(credits.body, want) {
			t.Fatalf("credits page lacks %s", want)
		}
	}
	id := b.buy(1000)
	row := e.topup(id)
	if row.Status != workflows.TopUpProcessing || !strings.HasPrefix(row.PaymentIntent, "pi_") {
		t.Fatalf("after purchase: %+v", row)
	}
	page := b.get("/credits/topups/" + id)
	if page.status != 200 || !strings.Contains(page.body, `action="/dev/payments/`+id+`/confirm"`) || !strings.Contains(page.body, "Waiting for your payment") {
		t.Fatalf("payment page: %d\n%s", page.status, page.body)
	}
	// A second tap on the same package goes back to the unpaid top-up.
	if again := b.buy(1000); again != id {
		t.Fatalf("second tap opened top-up %s, not %s", again, id)
	}

	// Declined first: the user sees why and may try again.
	if r := b.post("/dev/payments/"+id+"/confirm", url.Values{"card": {payments.CardDeclined}}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	if row := e.awaitTopUp(id, workflows.TopUpFailed); row.Failure != "Your card was declined." {
		t.Fatalf("declined: %+v", row)
	}
	if page := b.get("/credits/topups/" + id); !strings.Contains(page.body, "Payment declined") || !strings.Contains(page.body, "Your card was declined.") ||
		!strings.Contains(page.body, "/confirm") {
		t.Fatalf("the page after a decline:\n%s", page.body)
	}
	// Then paid, with every event delivered three times among others.
	if err := sim.Confirm(context.Background(), row.PaymentIntent, payments.CardSucceeds, 0, payments.Faults{Copies: 3, Shuffle: true, Unrelated: true}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	if got := e.entries(id); len(got) != 1 || got[0] != "purchase:1000" {
		t.Fatalf("entries %v, want one purchase of 1000", got)
	}
	if bal := e.balance("buyer@example.com"); bal != 1000 {
		t.Fatalf("balance %d", bal)
	}
	if page := b.get("/credits/topups/" + id); !strings.Contains(page.body, "Credited.") || strings.Contains(page.body, "/confirm") {
		t.Fatalf("the page after payment:\n%s", page.body)
	}
	var stored, types int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_type) FROM webhook_events WHERE source = 'stripe' AND workflow_id = $1`,
		workflows.TopUpWorkflowID(id)).Scan(&stored, &types)
	if stored != 2 || types != 2 { // the decline and the success, once each; the unrelated ones not at all
		t.Fatalf("stored %d stripe events of %d types", stored, types)
	}
	e.mustVerifyLedger()

	// The workflow's state, as operators see it in the Temporal UI.
	v, err := e.tc.QueryWorkflow(context.Background(), workflows.TopUpWorkflowID(id), "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.TopUpState
	if err := v.Get(&st); err != nil || st.Status != workflows.TopUpSucceeded || st.PaymentIntentID != row.PaymentIntent {
		t.Fatalf("state %+v, %v", st, err)
	}
	recordHistory(t, e.tc, workflows.TopUpWorkflowID(id), "topup_declined_then_paid.json")
}

func TestRefundAndDisputeReverseOnceEvenAfterTheWorkflowEnded(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	b := e.caller("refund@example.com", 0)
	id := b.buy(2000)
	pi := e.topup(id).PaymentIntent
	if err := sim.Confirm(context.Background(), pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)

	// The user spends most of it (a call's charge, here posted directly).
	var account string
	_ = e.pool.QueryRow(context.Background(), `SELECT account_id FROM topups WHERE id = $1`, id).Scan(&account)
	spend(t, e, account, 1500)

	// A partial refund, its event delivered twice: reversed once.
	if _, err := sim.Refund(context.Background(), pi, 500, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); e.topup(id).Refunded != 500 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.entries(id); strings.Join(got, " ") != "purchase:2000 refund:-500" {
		t.Fatalf("entries %v", got)
	}
	if row := e.topup(id); row.Status != workflows.TopUpSucceeded || row.Refunded != 500 {
		t.Fatalf("after a partial refund: %+v", row)
	}

	// The workflow has finished (an operator ended it here; in production
	// it completes after lingering): the dispute starts it again.
	if err := e.tc.TerminateWorkflow(context.Background(), workflows.TopUpWorkflowID(id), "", "test: the workflow is over"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Dispute(context.Background(), pi, payments.Faults{Copies: 2}); err != nil {
		t.Fatal(err)
	}
	row := e.awaitTopUp(id, workflows.TopUpDisputed)
	if row.Disputed != 1500 {
		t.Fatalf("disputed %d", row.Disputed)
	}
	if got := e.entries(id); strings.Join(got, " ") != "purchase:2000 refund:-500 dispute:-1500" {
		t.Fatalf("entries %v", got)
	}
	// 2000 - 1500 spent - 500 refunded - 1500 disputed: below zero, and
	// calls are refused until it is positive again.
	if bal := e.balance("refund@example.com"); bal != -1500 {
		t.Fatalf("balance %d", bal)
	}
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusPaymentRequired || call.Error == nil || call.Error.Code != "negative_balance" {
		t.Fatalf("a call on a negative balance: %d %+v", status, call.Error)
	}
	if page := b.get("/credits"); !strings.Contains(page.body, "Calls are paused until you add credit") {
		t.Fatal("the credits page does not explain the negative balance")
	}
	e.mustVerifyLedger()
}

// spend debits a wallet as a staff adjustment would.
func spend(t *testing.T, e *callEnv, account string, cents int64) {
	t.Helper()
	if _, err := ledger.New(e.pool).Post(context.Background(), ledger.Entry{Key: "test:spend:" + account, AccountID: uuid.MustParse(account), Kind: ledger.Adjustment, AmountCents: -cents, Memo: "spent"}); err != nil {
		t.Fatal(err)
	}
}
