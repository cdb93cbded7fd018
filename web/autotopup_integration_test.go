package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/workflows"
)

// chargeAtOnce runs the call workflow's ChargeCall for several calls at
// once: postings that cross the auto top-up's threshold together.
func chargeAtOnce(ctx workflow.Context, reqs []workflows.ChargeRequest) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var fs []workflow.Future
	for _, r := range reqs {
		fs = append(fs, workflow.ExecuteActivity(ctx, workflows.ActivityChargeCall, r))
	}
	for _, f := range fs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// autoEnv is a callEnv whose worker also runs chargeAtOnce and sends mail
// to a mailbox the test reads.
type autoEnv struct {
	*callEnv
	mail *mail.Mailbox
}

func newAutoEnv(t *testing.T) *autoEnv {
	e := &autoEnv{callEnv: newCallEnv(t), mail: mail.NewMailbox(zerolog.Nop())}
	e.stopWorker()
	e.acts.Mailer = e.mail
	e.worker = temporalx.NewWorker(e.tc, e.queue, e.acts, zerolog.Nop())
	e.worker.RegisterWorkflowWithOptions(chargeAtOnce, workflow.RegisterOptions{Name: "test-charge-at-once"})
	if err := e.worker.Start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// charge posts the charges of n finished calls of cents each at once, as
// their workflows' ChargeCall does.
func (e *autoEnv) charge(email string, n int, cents int64) {
	e.t.Helper()
	ctx := context.Background()
	var user, account uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, email).Scan(&user, &account); err != nil {
		e.t.Fatal(err)
	}
	var reqs []workflows.ChargeRequest
	for range n {
		var id uuid.UUID
		if err := e.pool.QueryRow(ctx, `INSERT INTO calls (user_id, account_id, phone_number, destination_country, per_minute_micros, max_seconds,
			client_identity, authorized_until, status, duration_seconds, ended_at, slot_released_at)
			VALUES ($1, $2, '+2348031234567', 'NG', 100000, 600, 'test', now() + interval '1 hour', 'completed', 60, now(), now()) RETURNING id`,
			user, account).Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		reqs = append(reqs, workflows.ChargeRequest{CallID: id.String(), AccountID: account.String(), DurationSeconds: 60, CostCents: cents,
			CarrierStatus: "completed"})
	}
	run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "test-charge-" + uuid.NewString(), TaskQueue: e.queue}, "test-charge-at-once", reqs)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		e.t.Fatal(err)
	}
}

type autoRun struct {
	TopUpID, Status string
	Credits         int
}

// autoRuns lists the user's automatic top-ups with their credits.
func (e *autoEnv) autoRuns(email string) []autoRun {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT t.id, t.status, (SELECT count(*) FROM transactions x WHERE x.topup_id = t.id AND x.kind = 'purchase')
		FROM auto_topup_runs r JOIN topups t ON t.id = r.topup_id JOIN users u ON u.id = r.user_id WHERE u.email = $1 ORDER BY r.seq`, email)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []autoRun
	for rows.Next() {
		var r autoRun
		if err := rows.Scan(&r.TopUpID, &r.Status, &r.Credits); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// autoState queries the user's auto top-up workflow.
func (e *autoEnv) autoState(email string) (workflows.AutoTopUpState, error) {
	var id string
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id)
	v, err := e.tc.QueryWorkflow(context.Background(), workflows.AutoTopUpWorkflowID(id), "", workflows.QueryState)
	if err != nil {
		return workflows.AutoTopUpState{}, err
	}
	var st workflows.AutoTopUpState
	err = v.Get(&st)
	return st, err
}

// awaitLook waits until the workflow has looked after earlier looks
// (counted in its run) and returns its state.
func (e *autoEnv) awaitLook(email string, after int) workflows.AutoTopUpState {
	e.t.Helper()
	var st workflows.AutoTopUpState
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st, err = e.autoState(email); err == nil && st.Looks > after && (st.LastAction != workflows.AutoTopUpPay || st.LastOutcome != "") {
			return st
		}
	}
	e.t.Fatalf("no look after %d: %+v, %v", after, st, err)
	return st
}

func (e *autoEnv) awaitRuns(email string, ok func([]autoRun) bool) []autoRun {
	e.t.Helper()
	var runs []autoRun
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if runs = e.autoRuns(email); ok(runs) {
			return runs
		}
	}
	e.t.Fatalf("automatic top-ups %+v", runs)
	return runs
}

func turnOn(t *testing.T, b *browser, threshold string, amount int64, limit string) {
	t.Helper()
	r := b.post("/credits/auto", url.Values{"enabled": {"on"}, "threshold": {threshold}, "amount": {fmt.Sprint(amount)}, "cap": {limit}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("turn on: %d\n%s", r.status, r.body)
	}
}

func TestAutoTopUpCreditsOnceWhenThreeChargesCrossAtOnceAndTheCapHolds(t *testing.T) {
	e := newAutoEnv(t)
	const email = "auto@example.com"
	b := e.caller(email, 550)
	e.saveCard(email, payments.CardSucceeds)
	// Below $5, add $10, at most $10 a month: one top-up.
	turnOn(t, b, "5.00", 1000, "10.00")
	e.awaitLook(email, 0) // balance $5.50: nothing yet

	// Three calls' charges cross the threshold at once: one top-up,
	// credited once.
	e.charge(email, 3, 100)
	runs := e.awaitRuns(email, func(r []autoRun) bool { return len(r) == 1 && r[0].Status == workflows.TopUpSucceeded })
	if runs[0].Credits != 1 {
		t.Fatalf("credited %d times", runs[0].Credits)
	}
	if bal := e.balance(email); bal != 550-300+1000 {
		t.Fatalf("balance %d", bal)
	}
	st := e.awaitLook(email, 0)
	looks := st.Looks

	// Spent below the threshold again: the month's cap ($10) is used, so
	// nothing more is taken from the card.
	e.charge(email, 1, 900)
	st = e.awaitLook(email, looks)
	if st.LastAction != workflows.AutoTopUpNone || !strings.Contains(st.LastWhy, "monthly cap") {
		t.Fatalf("after the cap: %+v", st)
	}
	if runs := e.autoRuns(email); len(runs) != 1 {
		t.Fatalf("automatic top-ups past the cap: %+v", runs)
	}
	if bal := e.balance(email); bal != 350 {
		t.Fatalf("balance %d", bal)
	}
	page := b.get("/credits/auto")
	if !strings.Contains(page.body, "This month it has added $10.00") {
		t.Fatalf("page:\n%s", page.body)
	}
	e.mustVerifyLedger()

	// Turned off by the person: the workflow ends.
	if r := b.post("/credits/auto", url.Values{"threshold": {"5.00"}, "amount": {"1000"}, "cap": {"10.00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("turn off: %d\n%s", r.status, r.body)
	}
	e.awaitClosed(email)
	recordHistory(t, e.tc, workflows.AutoTopUpWorkflowID(e.userID(email).String()), "autotopup_credited_then_capped.json")
}

// awaitClosed waits for the user's auto top-up workflow to end, off.
func (e *autoEnv) awaitClosed(email string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st workflows.AutoTopUpState
	if err := e.tc.GetWorkflow(ctx, workflows.AutoTopUpWorkflowID(e.userID(email).String()), "").Get(ctx, &st); err != nil || !st.Off {
		e.t.Fatalf("the auto top-up workflow: %+v, %v", st, err)
	}
}

func TestAutoTopUpDeclinedOffSessionTurnsItOffAndEmailsOnce(t *testing.T) {
	// A decline, and a bank that wants the cardholder (3-D Secure: Stripe
	// refuses it off-session with authentication_required).
	for card, says := range map[string]string{payments.CardInsufficientFunds: "declined", payments.CardAuthenticate: "Your bank asked"} {
		t.Run(card, func(t *testing.T) { testAutoTopUpRefused(t, card, says) })
	}
}

func testAutoTopUpRefused(t *testing.T, card, says string) {
	e := newAutoEnv(t)
	const email = "declined@example.com"
	b := e.caller(email, 600)
	e.saveCard(email, card)
	turnOn(t, b, "5.00", 1000, "50.00")
	e.awaitLook(email, 0)

	e.charge(email, 3, 100)
	var row autoTopUpRow
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var ok bool
		if row, ok = e.autoTopUp(email); ok && !row.Enabled {
			break
		}
	}
	if row.Enabled || !row.NoticePending || row.OffReason == nil || !strings.Contains(*row.OffReason, says) {
		t.Fatalf("after the decline: %+v", row)
	}
	if runs := e.autoRuns(email); len(runs) != 1 || runs[0].Credits != 0 || runs[0].Status == workflows.TopUpSucceeded {
		t.Fatalf("automatic top-ups after the decline: %+v", runs)
	}
	// More charges below the threshold never try the card again.
	e.charge(email, 2, 50)
	time.Sleep(2 * time.Second)
	if runs := e.autoRuns(email); len(runs) != 1 {
		t.Fatalf("the card was tried again: %+v", runs)
	}
	var sent []mail.Message
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(sent) == 0; time.Sleep(100 * time.Millisecond) {
		sent = nil
		for _, m := range e.mail.Messages() {
			if m.To == email && m.Subject == "Automatic top-up is off" {
				sent = append(sent, m)
			}
		}
	}
	if len(sent) != 1 || !strings.Contains(sent[0].Text, says) {
		t.Fatalf("emails %+v", sent)
	}
	if page := b.get("/history"); !strings.Contains(page.body, "data-autotopup-notice") || !strings.Contains(page.body, says) {
		t.Fatalf("no banner:\n%s", page.body)
	}
	e.mustVerifyLedger()
	e.awaitClosed(email)
	if card == payments.CardInsufficientFunds {
		recordHistory(t, e.tc, workflows.AutoTopUpWorkflowID(e.userID(email).String()), "autotopup_declined_off.json")
	}
}

// saveCard leaves the user with a Stripe Customer at the payment
// simulator and card (a simulated card outcome) saved on it for
// off-session use, as their default card.
func (e *autoEnv) saveCard(email, card string) {
	e.t.Helper()
	ctx := context.Background()
	var user uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, email).Scan(&user); err != nil {
		e.t.Fatal(err)
	}
	customer, err := payments.Customer(ctx, db.New(e.pool), e.acts.Payments, user, email)
	if err != nil {
		e.t.Fatal(err)
	}
	pm, err := e.web.PaymentSimulator().AttachCard(customer, card)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := db.New(e.pool).SetDefaultPaymentMethod(ctx, db.SetDefaultPaymentMethodParams{UserID: user, DefaultPaymentMethodID: &pm}); err != nil {
		e.t.Fatal(err)
	}
}
