package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

var (
	refundKeyPattern = regexp.MustCompile(`name="form" value="refund">\s*<input type="hidden" name="key" value="([0-9a-f-]{36})"`)
	cancelKeyPattern = regexp.MustCompile(`name="form" value="cancel">\s*<input type="hidden" name="key" value="([0-9a-f-]{36})"`)
)

// stripeRefunds lists the refunds the payment simulator holds for pi, as
// Stripe's API would.
func stripeRefunds(t *testing.T, e *callEnv, pi string) []payments.Refund {
	t.Helper()
	sim := e.web.PaymentSimulator()
	api := httptest.NewServer(sim.Handler())
	defer api.Close()
	refunds, err := payments.NewStripe(sim.SecretKey, api.URL, nil).ListRefunds(context.Background(), pi)
	if err != nil {
		t.Fatal(err)
	}
	return refunds
}

// paidTopUp buys and pays a top-up of cents for b and returns its id and
// PaymentIntent.
func paidTopUp(t *testing.T, e *callEnv, b *browser, cents int64) (string, string) {
	t.Helper()
	id := b.buy(cents)
	pi := e.topup(id).PaymentIntent
	if err := e.web.PaymentSimulator().Confirm(context.Background(), pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	return id, pi
}

// Support refunds part of a top-up from the console: Stripe is asked once
// per form, the reversal comes from Stripe's webhook (once per refund), the
// audit log has the reason and what it came to, and no more than was paid
// can be refunded.
func TestSupportRefundsATopUpThroughStripe(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("refunds@example.com")
	b := e.caller("refundee@example.com", 0)
	id, pi := paidTopUp(t, e, b, 500)
	page := "/admin/topups/" + id
	if bal := e.balance("refundee@example.com"); bal != 500 {
		t.Fatalf("balance %d", bal)
	}

	// Not staff: the console does not exist.
	if r := b.post(page+"/refund", url.Values{"amount": {"2.00"}, "reason": {"my own refund"}}); r.status != http.StatusNotFound {
		t.Fatalf("a customer's refund: %d", r.status)
	}
	if r := b.get("/admin/payments/failed"); r.status != http.StatusNotFound {
		t.Fatalf("a customer's failed payments list: %d", r.status)
	}

	r := staff.get(page)
	for _, want := range []string{`id="refund"`, `name="amount"`, `name="reason"`, `>Refund</button>`, `data-refundable>$5.00<`, `href="/admin/payments/failed"`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("the top-up page lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, `id="cancel-topup"`) {
		t.Fatal("a paid top-up offers Cancel")
	}
	key := consoleFormKey(staff, page, refundKeyPattern)

	// No reason: 422, and nothing asked of Stripe.
	r = staff.post(page+"/refund", url.Values{"form": {"refund"}, "key": {key}, "amount": {"2.00"}, "reason": {" "}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Say why") {
		t.Fatalf("a refund without a reason: %d\n%s", r.status, r.body)
	}
	if got := stripeRefunds(t, e, pi); len(got) != 0 {
		t.Fatalf("Stripe was asked without a reason: %+v", got)
	}
	// Over what was paid: refused by the form, nothing asked.
	r = staff.post(page+"/refund", url.Values{"form": {"refund"}, "key": {key}, "amount": {"5.01"}, "reason": {"customer asked"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "At most $5.00 is left to refund.") {
		t.Fatalf("an over-refund: %d\n%s", r.status, r.body)
	}

	// $2 of $5.
	form := url.Values{"form": {"refund"}, "key": {key}, "amount": {"2.00"}, "reason": {"customer called: bought the wrong package"}}
	body := flashAfter(t, staff, staff.post(page+"/refund", form), page)
	if !strings.Contains(body, "Refunded $2.00 through Stripe (re_") && !strings.Contains(body, "Refund of $2.00 asked of Stripe (re_") {
		t.Fatalf("after the refund:\n%s", body)
	}
	e.awaitEntries(id, "purchase:500 refund:-200")
	if bal := e.balance("refundee@example.com"); bal != 300 {
		t.Fatalf("balance after a $2 refund: %d", bal)
	}
	refunds := stripeRefunds(t, e, pi)
	if len(refunds) != 1 || refunds[0].AmountCents != 200 {
		t.Fatalf("refunds at Stripe: %+v", refunds)
	}
	var reason, outcome string
	if err := e.pool.QueryRow(context.Background(), `SELECT a.reason, o.outcome FROM admin_actions a JOIN admin_action_outcomes o ON o.action_id = a.id
		WHERE a.action = 'topup_refund' AND a.target_type = 'topup' AND a.target_id = $1`, id).Scan(&reason, &outcome); err != nil {
		t.Fatal(err)
	}
	if reason != "customer called: bought the wrong package" || outcome != "refund of $2.00 asked of Stripe: "+refunds[0].ID {
		t.Fatalf("audit: reason %q, outcome %q", reason, outcome)
	}

	// The same form again (a double click): the same refund, nothing more.
	body = flashAfter(t, staff, staff.post(page+"/refund", form), page)
	if !strings.Contains(body, "Already asked") || !strings.Contains(body, refunds[0].ID) {
		t.Fatalf("a resubmitted refund:\n%s", body)
	}
	if got := stripeRefunds(t, e, pi); len(got) != 1 {
		t.Fatalf("a resubmitted form refunded again: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM admin_actions WHERE action = 'topup_refund' AND target_id = $1`, id); n != 1 {
		t.Fatalf("%d refunds audited for one form", n)
	}

	// A second partial refund (a new form) is reversed once too.
	second := url.Values{"form": {"refund"}, "key": {consoleFormKey(staff, page, refundKeyPattern)}, "amount": {"1"}, "reason": {"goodwill"}}
	flashAfter(t, staff, staff.post(page+"/refund", second), page)
	e.awaitEntries(id, "purchase:500 refund:-200 refund:-100")
	if r := staff.get(page); !strings.Contains(r.body, `data-refundable>$2.00<`) || !strings.Contains(r.body, `data-refunded>$3.00<`) {
		t.Fatalf("the page after two refunds:\n%s", r.body)
	}
	// $2.00 are left: more is refused; all that is left (no amount) is refunded.
	over := url.Values{"form": {"refund"}, "key": {consoleFormKey(staff, page, refundKeyPattern)}, "amount": {"2.01"}, "reason": {"too much"}}
	if r := staff.post(page+"/refund", over); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a refund over what is left: %d", r.status)
	}
	over.Set("amount", "")
	flashAfter(t, staff, staff.post(page+"/refund", over), page)
	e.awaitTopUp(id, workflows.TopUpRefunded)
	e.awaitEntries(id, "purchase:500 refund:-200 refund:-100 refund:-200")
	if bal := e.balance("refundee@example.com"); bal != 0 {
		t.Fatalf("balance after refunding it all: %d", bal)
	}
	if r := staff.get(page); strings.Contains(r.body, `id="refund"`) {
		t.Fatal("a wholly refunded top-up still offers Refund")
	}
	over.Set("key", "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b") // a form kept open in another tab
	if r := staff.post(page+"/refund", over); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Nothing to refund") {
		t.Fatalf("a refund of a wholly refunded top-up: %d", r.status)
	}
	if got := stripeRefunds(t, e, pi); len(got) != 3 {
		t.Fatalf("refunds at Stripe: %+v", got)
	}
	if audit := staff.get("/admin/audit?action=topup_refund"); !strings.Contains(audit.body, "refund of $2.00 asked of Stripe: re_") {
		t.Fatalf("the audit log of refunds:\n%s", audit.body)
	}
	e.mustVerifyLedger()
}

// Cancel is for an unpaid top-up only: it asks Stripe, the webhook cancels
// the row, and a paid one is refused.
func TestSupportCancelsAnUnpaidTopUpOnly(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("cancels@example.com")
	b := e.caller("unpaid@example.com", 0)
	paid, paidPI := paidTopUp(t, e, b, 500)

	// A paid one: refused, and Stripe is not asked.
	r := staff.post("/admin/topups/"+paid+"/cancel", url.Values{"form": {"cancel"}, "key": {"5b0c6e3a-1d2f-4a5b-8c9d-0e1f2a3b4c5d"}, "reason": {"asked to"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Nothing to cancel") {
		t.Fatalf("cancel of a paid top-up: %d\n%s", r.status, r.body)
	}
	if in, _ := e.web.PaymentSimulator().Intent(paidPI); in.Status != payments.StatusSucceeded {
		t.Fatalf("the paid payment is %s", in.Status)
	}

	id := b.buy(1000)
	pi := e.topup(id).PaymentIntent
	page := "/admin/topups/" + id
	if r := b.post(page+"/cancel", url.Values{"reason": {"mine"}}); r.status != http.StatusNotFound {
		t.Fatalf("a customer's cancel: %d", r.status)
	}
	key := consoleFormKey(staff, page, cancelKeyPattern)
	r = staff.post(page+"/cancel", url.Values{"form": {"cancel"}, "key": {key}, "reason": {""}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Say why") {
		t.Fatalf("a cancel without a reason: %d\n%s", r.status, r.body)
	}
	if in, _ := e.web.PaymentSimulator().Intent(pi); in.Status == payments.StatusCanceled {
		t.Fatal("cancelled at Stripe without a reason")
	}
	body := flashAfter(t, staff, staff.post(page+"/cancel", url.Values{"form": {"cancel"}, "key": {key}, "reason": {"customer will pay by another card"}}), page)
	if !strings.Contains(body, "Cancelled at Stripe: nothing was charged.") {
		t.Fatalf("after the cancel:\n%s", body)
	}
	e.awaitTopUp(id, workflows.TopUpCanceled)
	if in, _ := e.web.PaymentSimulator().Intent(pi); in.Status != payments.StatusCanceled {
		t.Fatalf("at Stripe the payment is %s", in.Status)
	}
	if n := e.count(`SELECT count(*) FROM admin_actions a JOIN admin_action_outcomes o ON o.action_id = a.id
		WHERE a.action = 'topup_cancel' AND a.target_id = $1 AND a.reason = 'customer will pay by another card' AND o.ok`, id); n != 1 {
		t.Fatalf("%d cancels audited with their outcome", n)
	}
	if got := e.entries(id); len(got) != 0 {
		t.Fatalf("a cancelled top-up has entries %v", got)
	}
}

// A declined attempt, then a retry of the same top-up that pays: the
// decline stays in the failed payments list with Stripe's code and the
// issuer's decline code, once however often its webhook came.
func TestDeclineStaysListedAfterTheRetryPays(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("declines@example.com")
	b := e.caller("declined@example.com", 0)
	sim := e.web.PaymentSimulator()
	id := b.buy(500)
	pi := e.topup(id).PaymentIntent
	if err := sim.Confirm(context.Background(), pi, payments.CardInsufficientFunds, 0, payments.Faults{Copies: 3}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpFailed)
	if err := sim.Confirm(context.Background(), pi, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)
	// A failure of another attempt, delivered after the payment (Stripe does
	// not promise order): listed too, and the top-up stays paid.
	late := fmt.Sprintf(`{"id":"evt_late_decline","object":"event","api_version":%q,"created":%d,"livemode":false,"type":"payment_intent.payment_failed",`+
		`"data":{"object":{"id":%q,"object":"payment_intent","amount":500,"currency":"usd","status":"requires_payment_method",`+
		`"metadata":{"topup_id":%q},"last_payment_error":{"type":"card_error","code":"expired_card","message":"Your card has expired."}}}}`,
		payments.APIVersion, time.Now().Unix(), pi, id)
	if status := e.postStripe([]byte(late), signStripe([]byte(late), sim.WebhookSecret)); status != http.StatusOK {
		t.Fatalf("the late decline: %d", status)
	}
	waitFor(t, "the late decline to be listed", func() bool {
		return e.count(`SELECT count(*) FROM payment_failures WHERE stripe_event_id = 'evt_late_decline' AND code = 'expired_card' AND decline_code IS NULL`) == 1
	})
	if row := e.topup(id); row.Status != workflows.TopUpSucceeded {
		t.Fatalf("after a late decline the top-up is %s", row.Status)
	}
	recordHistory(t, e.tc, workflows.TopUpWorkflowID(id), "topup_late_decline_listed.json")

	if n := e.count(`SELECT count(*) FROM payment_failures WHERE topup_id = $1 AND code = 'card_declined' AND decline_code = 'insufficient_funds'
		AND message = 'Your card has insufficient funds.' AND amount_cents = 500`, id); n != 1 {
		t.Fatalf("%d failures recorded, want the decline once", n)
	}
	list := staff.get("/admin/payments/failed")
	if list.status != http.StatusOK {
		t.Fatalf("failed payments: %d", list.status)
	}
	i := strings.Index(list.body, `data-failure="evt_`)
	if j := strings.Index(list.body, `data-failure="evt_late_decline"`); j == i { // newest first: the late one, then the decline
		i = j + 1 + strings.Index(list.body[j+1:], `data-failure="evt_`)
	}
	if i < 0 {
		t.Fatalf("the decline is not listed:\n%s", list.body)
	}
	row := list.body[i:]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{"declined@example.com", "$5.00", "<code>card_declined</code>", "<code>insufficient_funds</code>",
		"Your card has insufficient funds.", `href="/admin/topups/` + id + `"`} {
		if !strings.Contains(row, want) {
			t.Errorf("the failed payment's row lacks %q:\n%s", want, row)
		}
	}
	if page := staff.get("/admin/topups/" + id); !strings.Contains(page.body, "decline code <code>insufficient_funds</code>") {
		t.Fatalf("the top-up page does not show its failed attempt:\n%s", page.body)
	}
}

// A refund moves money: an admin whose password is stale gives it again
// before Stripe is asked.
func TestRefundAsksForAStalePassword(t *testing.T) {
	a, clock := newAppWithClock(t, map[string]string{"ADMIN_IDLE_TIMEOUT": "2h"})
	admin := signUpConsoleAdmin(a, "refund.reauth@example.com")
	customer := a.browser()
	customer.signUp("refund.customer@example.com", "correct horse", "Customer")
	uid := userIDByEmail(a, "refund.customer@example.com")
	var account string
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM accounts WHERE user_id = $1 AND kind = 'wallet'`, uid).Scan(&account); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := a.pool.QueryRow(context.Background(), `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id, credited_at)
		VALUES ($1, $2, 'usd5', 500, 'succeeded', 'pi_reauth', now()) RETURNING id`, uid, account).Scan(&id); err != nil {
		t.Fatal(err)
	}
	page := "/admin/topups/" + id
	clock.advance(16 * time.Minute)
	key := consoleFormKey(admin, page, refundKeyPattern)
	if body := admin.get(page).body; !strings.Contains(body, `id="refund-password"`) {
		t.Fatal("the refund form does not ask for the password")
	}
	r := admin.post(page+"/refund", url.Values{"form": {"refund"}, "key": {key}, "amount": {"1.00"}, "reason": {"customer asked"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter your password to confirm") {
		t.Fatalf("a refund with a stale password: %d\n%s", r.status, r.body)
	}
	if n := a.count(`SELECT count(*) FROM admin_actions WHERE action = 'topup_refund'`); n != 0 {
		t.Fatalf("%d refunds audited without the password", n)
	}
}
