package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// POST /calls says "low balance" when the balance covers less than 5 min
// of the call (and a top-up would give it more), from the terms the
// authorization answers; not at 5 min or more.
func TestPostCallsSaysLowBalanceUnderFiveMinutes(t *testing.T) {
	e := newCallEnv(t)
	for _, c := range []struct {
		email   string
		cents   int64
		seconds int64
		low     bool
	}{
		{"three@example.com", 50, 3 * 60, true}, // $0.50 at $0.14 a minute: 3 min
		{"five@example.com", 70, 5 * 60, false}, // $0.70: 5 min, not under
		{"plenty@example.com", 500, 35 * 60, false},
	} {
		b := e.caller(c.email, c.cents)
		status, call := b.startCall("+234 803 123 4567")
		if status != http.StatusCreated || call.MaxSeconds != c.seconds || call.LowBalance != c.low {
			t.Errorf("%s: POST /calls %d %+v, want %d s, low balance %v", c.email, status, call, c.seconds, c.low)
		}
	}
}

// A top-up that lands during a call extends it (issue 21): the carrier was
// given the ceiling (1 min covered, plus $3 of talk: 22 min), the workflow
// raises the call's limit to what the new balance pays for, up to that
// ceiling, and the live row carries it to the in-call bar. The caller then
// hangs up; billed as any call.
func TestATopUpDuringACallExtendsIt(t *testing.T) {
	e := newCallEnv(t)
	psim := e.web.PaymentSimulator()
	b := e.caller("extended@example.com", 20) // one minute at $0.14
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated || call.MaxSeconds != 60 || !call.LowBalance {
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	done := e.placeRealtime(call, 10*time.Minute)
	id := b.buy(500)
	if err := psim.Confirm(context.Background(), e.topup(id).PaymentIntent, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	limit := func() (int, string) {
		var cut *int
		var reason *string
		_ = e.pool.QueryRow(context.Background(), `SELECT cut_seconds, cut_reason FROM calls WHERE id = $1`, call.CallID).Scan(&cut, &reason)
		if cut == nil || reason == nil {
			return -1, ""
		}
		return *cut, *reason
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s, _ := limit(); s >= 0 {
			break
		}
	}
	// $5.20 pays for 37 min; the ceiling is 22 min.
	if s, reason := limit(); s != 22*60 || reason != "top-up" {
		t.Fatalf("limit %d s (%q), want the 1320 s ceiling for the top-up", s, reason)
	}
	if page := b.get("/calls/" + call.CallID); !strings.Contains(page.body, `data-cut-seconds="1320"`) ||
		!strings.Contains(page.body, "a top-up landed") {
		t.Fatalf("the call's page does not carry the extension:\n%s", page.body)
	}
	time.Sleep(time.Second)
	e.sim.HangUp(call.CallID)
	sc := ended(t, done)
	if sc.TimeLimit != 22*60 {
		t.Fatalf("the carrier's timeLimit %d, want the 1320 s ceiling", sc.TimeLimit)
	}
	st := e.finish(call.CallID)
	if st.CutToSeconds == nil || *st.CutToSeconds != 22*60 || st.CutEnded || st.BillingState != workflows.BillingCharged {
		t.Fatalf("state %+v", st)
	}
	if got := e.charges(call.CallID); len(got) != 1 || got[0] != -14 {
		t.Fatalf("charges %v, want one minute at $0.14", got)
	}
	e.mustVerifyLedger()
	recordHistory(t, e.tc, workflows.CallWorkflowID(call.CallID), "call_extended_by_topup.json")
}

// GET /credits/one-tap offers the smallest package with the user's own
// default card, and nothing to a user without one; a one-tap top-up paid
// during a low-balance call (as the in-call bar pays it) extends the call.
func TestOneTapOfferAndATopUpInOneTapDuringACall(t *testing.T) {
	e := newCallEnv(t)
	sim := e.web.PaymentSimulator()
	ctx := context.Background()
	b := e.caller("onetap@example.com", 0)
	other := e.caller("nocard@example.com", 500)
	offer := func(u *browser) (out struct {
		Package       int64  `json:"package"`
		PaymentMethod string `json:"payment_method"`
		Label         string `json:"label"`
	}) {
		t.Helper()
		r := u.get("/credits/one-tap")
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &out) != nil {
			t.Fatalf("GET /credits/one-tap: %d %s", r.status, r.body)
		}
		return out
	}
	if o := offer(b); o.Label != "" || o.PaymentMethod != "" {
		t.Fatalf("an offer before a card is saved: %+v", o)
	}
	r := b.post("/credits/purchase", url.Values{"package": {"500"}, "save_card": {"1"}})
	first := topUpPath.FindStringSubmatch(r.location)[1]
	if err := sim.Confirm(ctx, e.topup(first).PaymentIntent, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(first, workflows.TopUpSucceeded)
	o := offer(b)
	if _, def := e.customer("onetap@example.com"); o.Package != 500 || o.PaymentMethod != def || o.Label != "Add $5 with Visa •4242" {
		t.Fatalf("offer %+v, want $5 with the default card %s", o, def)
	}
	if o := offer(other); o.Label != "" || o.PaymentMethod != "" {
		t.Fatalf("another user is offered a card: %+v", o)
	}

	// Down to 20 cents (one minute), then a call, then one tap during it.
	var account uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'onetap@example.com'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(e.pool).Post(ctx, ledger.Entry{Key: "test:drain", AccountID: account, Kind: ledger.Adjustment, AmountCents: -480}); err != nil {
		t.Fatal(err)
	}
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated || call.MaxSeconds != 60 || !call.LowBalance {
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	done := e.placeRealtime(call, 10*time.Minute)
	e.awaitTopUp(b.tap(o.Package, o.PaymentMethod), workflows.TopUpSucceeded)
	var cut *int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && cut == nil; time.Sleep(50 * time.Millisecond) {
		_ = e.pool.QueryRow(ctx, `SELECT cut_seconds FROM calls WHERE id = $1`, call.CallID).Scan(&cut)
	}
	if cut == nil || *cut != 22*60 {
		t.Fatalf("limit %v after the one-tap top-up, want the 1320 s ceiling", cut)
	}
	e.sim.HangUp(call.CallID)
	ended(t, done)
	if st := e.finish(call.CallID); st.CutEnded || st.BillingState != workflows.BillingCharged {
		t.Fatalf("state %+v", st)
	}
	e.mustVerifyLedger()
}
