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

// fakePayments stands in for Stripe and Postgres behind the top-up
// activities, recording what the workflow asked.
type fakePayments struct {
	mu         sync.Mutex
	status     string // the PaymentIntent's status at Stripe
	cancelWins bool   // a cancel finds the payment succeeded meanwhile
	credits    []workflows.TopUpCredit
	reversals  []workflows.TopUpReversal
	failures   []workflows.TopUpFailure
	canceled   []workflows.TopUpFailure
	fetches    int
	cancels    int
	creates    int
	record     workflows.TopUpRecord // what LoadTopUp returns
	// unconfirmed: CreditTopUp finds that Stripe does not confirm the
	// payment (it is not paid), as a forged signal would have it.
	unconfirmed bool
	stuck       []workflows.TopUpStuck
	// reverseStatus: the top-up's status after a dispute reversal ("" is
	// disputed).
	reverseStatus string
}

var topUpInput = workflows.TopUpInput{TopUpID: "t1", UserID: "u1", AccountID: "a1", AmountCents: 1000, PaymentTimeout: time.Hour, Path: workflows.PathCurrent}

func (f *fakePayments) env() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.ActivityCreatePayment, func(context.Context, workflows.TopUpInput) (workflows.PaymentCreated, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.creates++
		return workflows.PaymentCreated{PaymentIntentID: "pi_1", Status: workflows.TopUpProcessing}, nil
	})
	reg(workflows.ActivityFetchPayment, func(_ context.Context, id string) (workflows.PaymentState, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fetches++
		return workflows.PaymentState{PaymentIntentID: id, Status: f.status, AmountCents: 1000, Currency: "usd"}, nil
	})
	reg(workflows.ActivityCancelPayment, func(_ context.Context, id string) (workflows.PaymentState, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cancels++
		if f.cancelWins {
			f.status = "succeeded"
		} else {
			f.status = "canceled"
		}
		return workflows.PaymentState{PaymentIntentID: id, Status: f.status, AmountCents: 1000, Currency: "usd"}, nil
	})
	reg(workflows.ActivityCreditTopUp, func(_ context.Context, c workflows.TopUpCredit) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.unconfirmed {
			return temporal.NewNonRetryableApplicationError("Stripe does not confirm payment pi_1: its status is requires_payment_method", workflows.ErrTypeTopUpMismatch, nil)
		}
		f.credits = append(f.credits, c)
		return nil
	})
	reg(workflows.ActivityMarkTopUpStuck, func(_ context.Context, x workflows.TopUpStuck) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stuck = append(f.stuck, x)
		return nil
	})
	reg(workflows.ActivityReverseTopUp, func(_ context.Context, r workflows.TopUpReversal) (workflows.TopUpRecord, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reversals = append(f.reversals, r)
		rec := workflows.TopUpRecord{Status: workflows.TopUpRefunded, AmountCents: 1000, RefundedCents: 1000}
		if r.Kind == "dispute" {
			rec = workflows.TopUpRecord{Status: workflows.TopUpDisputed, AmountCents: 1000, DisputedCents: r.AmountCents}
			if f.reverseStatus != "" {
				rec = workflows.TopUpRecord{Status: f.reverseStatus, AmountCents: 1000}
			}
		}
		return rec, nil
	})
	reg(workflows.ActivityRecordPaymentFailure, func(_ context.Context, x workflows.TopUpFailure) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.failures = append(f.failures, x)
		return nil
	})
	reg(workflows.ActivityCancelTopUp, func(_ context.Context, x workflows.TopUpFailure) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.canceled = append(f.canceled, x)
		return nil
	})
	reg(workflows.ActivityLoadTopUp, func(context.Context, string) (workflows.TopUpRecord, error) {
		return f.record, nil
	})
	return env
}

// createPayment sends the create-payment update at once, as
// update-with-start does.
func createPayment(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateCreatePayment, "create-1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("create-payment rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(result any, err error) {
				if err != nil || result.(workflows.PaymentCreated).PaymentIntentID != "pi_1" {
					t.Errorf("create-payment: %v, %v", result, err)
				}
			},
		})
	}, 0)
}

func stripeEvent(id, typ string) workflows.StripeSignal {
	return workflows.StripeSignal{EventID: id, Type: typ, PaymentIntentID: "pi_1", AmountCents: 1000, Currency: "usd"}
}

// signalAt sends events at the given offsets.
func signalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, evs ...workflows.StripeSignal) {
	env.RegisterDelayedCallback(func() {
		for _, ev := range evs {
			env.SignalWorkflow(workflows.SignalStripeEvent, ev)
		}
	}, at)
}

func runTopUp(t *testing.T, env *testsuite.TestWorkflowEnvironment, in workflows.TopUpInput) workflows.TopUpState {
	t.Helper()
	env.ExecuteWorkflow(workflows.TopUp, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var st workflows.TopUpState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	return st
}

func TestTopUpSuccessDeliveredThreeTimesAmongOthersCreditsOnce(t *testing.T) {
	f := &fakePayments{status: "succeeded"}
	env := f.env()
	createPayment(t, env)
	evs := []workflows.StripeSignal{
		stripeEvent("evt_ok", workflows.EventPaymentSucceeded), stripeEvent("evt_ok", workflows.EventPaymentSucceeded),
		stripeEvent("evt_ok", workflows.EventPaymentSucceeded),
		stripeEvent("evt_created", "payment_intent.created"), stripeEvent("evt_charge", "charge.succeeded"),
	}
	rand.New(rand.NewSource(7)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	signalAt(env, time.Minute, evs...)
	// Stripe sends the success again much later, while the workflow lingers.
	signalAt(env, 5*time.Minute, stripeEvent("evt_ok", workflows.EventPaymentSucceeded))
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 1 || f.credits[0].PaymentIntentID != "pi_1" || f.credits[0].AmountCents != 1000 {
		t.Fatalf("credits %+v, want one of 1000 cents for pi_1", f.credits)
	}
	if st.Status != workflows.TopUpSucceeded || st.Reconciled || st.EventsSeen != 6 || f.creates != 1 || f.fetches != 0 {
		t.Fatalf("state %+v, creates %d, fetches %d", st, f.creates, f.fetches)
	}
}

func TestTopUpLostWebhookIsReconciledByTheTimeout(t *testing.T) {
	f := &fakePayments{status: "succeeded"} // paid, but no webhook ever comes
	env := f.env()
	createPayment(t, env)
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 1 || !st.Reconciled || st.Status != workflows.TopUpSucceeded || f.cancels != 0 {
		t.Fatalf("credits %+v, state %+v, cancels %d", f.credits, st, f.cancels)
	}
}

func TestTopUpAbandonedPaymentIsCancelled(t *testing.T) {
	f := &fakePayments{status: "requires_payment_method"}
	env := f.env()
	createPayment(t, env)
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 0 || f.cancels != 1 || st.Status != workflows.TopUpCanceled || len(f.canceled) != 1 || f.canceled[0].Code != "expired" {
		t.Fatalf("credits %+v, cancels %d, canceled %+v, state %+v", f.credits, f.cancels, f.canceled, st)
	}
}

func TestTopUpPaidWhileBeingCancelledIsCredited(t *testing.T) {
	f := &fakePayments{status: "requires_payment_method", cancelWins: true}
	env := f.env()
	createPayment(t, env)
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 1 || st.Status != workflows.TopUpSucceeded || len(f.canceled) != 0 {
		t.Fatalf("credits %+v, canceled %+v, state %+v", f.credits, f.canceled, st)
	}
}

func TestTopUpDeclineThenRetryWithANewPayment(t *testing.T) {
	f := &fakePayments{status: "succeeded"}
	env := f.env()
	createPayment(t, env)
	declined := stripeEvent("evt_fail", workflows.EventPaymentFailed)
	declined.FailureCode, declined.DeclineCode, declined.FailureMessage = "card_declined", "generic_decline", "Your card was declined."
	declined.ReceivedAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	signalAt(env, time.Minute, declined)
	var mid workflows.TopUpState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err == nil {
			_ = v.Get(&mid)
		}
	}, 2*time.Minute)
	signalAt(env, 3*time.Minute, stripeEvent("evt_ok", workflows.EventPaymentSucceeded))
	// A late copy of the decline changes nothing once paid.
	signalAt(env, 4*time.Minute, declined)
	// A failure of another attempt that arrives after the payment (Stripe
	// does not promise order) is listed for support; the top-up stays paid.
	late := stripeEvent("evt_fail_late", workflows.EventPaymentFailed)
	late.FailureCode, late.DeclineCode, late.FailureMessage = "card_declined", "insufficient_funds", "Your card has insufficient funds."
	signalAt(env, 5*time.Minute, late)
	st := runTopUp(t, env, topUpInput)
	if mid.Status != workflows.TopUpFailed || mid.FailureMessage != "Your card was declined." {
		t.Fatalf("after the decline: %+v", mid)
	}
	if len(f.failures) != 2 || len(f.credits) != 1 || st.Status != workflows.TopUpSucceeded || st.FailureMessage != "" {
		t.Fatalf("failures %+v, credits %+v, state %+v", f.failures, f.credits, st)
	}
	// The failure is recorded with its event, both codes and when it came
	// (payment_failures is keyed by the event).
	if got := f.failures[0]; got.EventID != "evt_fail" || got.Code != "card_declined" || got.DeclineCode != "generic_decline" ||
		!got.At.Equal(declined.ReceivedAt) {
		t.Fatalf("failure recorded as %+v", got)
	}
	if got := f.failures[1]; got.EventID != "evt_fail_late" || got.DeclineCode != "insufficient_funds" {
		t.Fatalf("the late failure recorded as %+v", got)
	}
}

func TestTopUpRefundBeforeSuccessCreditsThenReverses(t *testing.T) {
	f := &fakePayments{status: "succeeded"}
	env := f.env()
	createPayment(t, env)
	// Stripe does not promise order: the refund overtakes the success.
	signalAt(env, time.Minute, stripeEvent("evt_refund", workflows.EventChargeRefunded),
		stripeEvent("evt_ok", workflows.EventPaymentSucceeded), stripeEvent("evt_refund", workflows.EventChargeRefunded))
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 1 || len(f.reversals) != 1 || f.reversals[0].Kind != "refund" || st.Status != workflows.TopUpRefunded {
		t.Fatalf("credits %+v, reversals %+v, state %+v", f.credits, f.reversals, st)
	}
}

func TestTopUpResumedForALateDispute(t *testing.T) {
	f := &fakePayments{status: "succeeded", record: workflows.TopUpRecord{UserID: "u1", AccountID: "a1", Status: workflows.TopUpSucceeded,
		PaymentIntentID: "pi_1", AmountCents: 1000}}
	env := f.env()
	d := stripeEvent("evt_dispute", workflows.EventDisputeCreated)
	d.DisputeID, d.AmountCents = "dp_1", 1000
	signalAt(env, 0, d)
	st := runTopUp(t, env, workflows.TopUpInput{TopUpID: "t1", Resumed: true})
	if len(f.credits) != 0 || len(f.reversals) != 1 || f.reversals[0].DisputeID != "dp_1" || f.reversals[0].AccountID != "a1" ||
		st.Status != workflows.TopUpDisputed || st.DisputedCents != 1000 || f.creates != 0 {
		t.Fatalf("credits %+v, reversals %+v, state %+v", f.credits, f.reversals, st)
	}
}

func TestTopUpWithoutItsUpdateIsCancelled(t *testing.T) {
	f := &fakePayments{}
	env := f.env()
	st := runTopUp(t, env, topUpInput)
	if st.Status != workflows.TopUpCanceled || f.creates != 0 || len(f.canceled) != 1 || f.canceled[0].Code != "abandoned" {
		t.Fatalf("state %+v, creates %d", st, f.creates)
	}
}

func TestTopUpCanceledAtStripe(t *testing.T) {
	f := &fakePayments{status: "canceled"}
	env := f.env()
	createPayment(t, env)
	signalAt(env, time.Minute, stripeEvent("evt_c", workflows.EventPaymentCanceled))
	st := runTopUp(t, env, topUpInput)
	if st.Status != workflows.TopUpCanceled || len(f.credits) != 0 || f.cancels != 0 {
		t.Fatalf("state %+v, credits %+v", st, f.credits)
	}
}

func TestTopUpResumedBeforeItsOutcomeReconciles(t *testing.T) {
	// An earlier run ended (terminated, say) while the payment was open;
	// a late event starts it again, and it still finds the payment.
	f := &fakePayments{status: "succeeded", record: workflows.TopUpRecord{UserID: "u1", AccountID: "a1", Status: workflows.TopUpProcessing,
		PaymentIntentID: "pi_1", AmountCents: 1000}}
	env := f.env()
	signalAt(env, 0, stripeEvent("evt_created", "payment_intent.created"))
	st := runTopUp(t, env, workflows.TopUpInput{TopUpID: "t1", Resumed: true})
	if len(f.credits) != 1 || f.credits[0].AccountID != "a1" || !st.Reconciled || st.Status != workflows.TopUpSucceeded {
		t.Fatalf("credits %+v, state %+v", f.credits, st)
	}
}

func TestTopUpSignalStripeDoesNotConfirmIsStuckNotCredited(t *testing.T) {
	// Anyone who can signal the workflow (the Temporal UI, the CLI) sends
	// a payment_intent.succeeded for a payment nobody made: CreditTopUp
	// asks Stripe, which says it is unpaid. Nothing is credited, the
	// workflow does not fail, and the top-up waits for support while it
	// still listens: the real payment, later, is credited.
	f := &fakePayments{status: "requires_payment_method", unconfirmed: true}
	env := f.env()
	createPayment(t, env)
	signalAt(env, time.Minute, stripeEvent("evt_forged", workflows.EventPaymentSucceeded))
	var mid workflows.TopUpState
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(workflows.QueryState); err == nil {
			_ = v.Get(&mid)
		}
		f.mu.Lock()
		f.unconfirmed, f.status = false, "succeeded"
		f.mu.Unlock()
	}, 2*time.Minute)
	// Long after the payment timeout: a stuck top-up is not reconciled
	// again and again, and the real event still credits it.
	signalAt(env, 3*time.Hour, stripeEvent("evt_real", workflows.EventPaymentSucceeded))
	st := runTopUp(t, env, topUpInput)
	if mid.Status != workflows.TopUpProcessing || mid.Stuck == "" || len(f.stuck) != 1 || f.stuck[0].TopUpID != "t1" {
		t.Fatalf("after the forged signal: state %+v, stuck marks %+v", mid, f.stuck)
	}
	if len(f.credits) != 1 || st.Status != workflows.TopUpSucceeded || st.Stuck != "" || f.fetches != 0 {
		t.Fatalf("after the real payment: credits %+v, state %+v, fetches %d", f.credits, st, f.fetches)
	}
}

func TestTopUpStuckIsRetriedBySupport(t *testing.T) {
	f := &fakePayments{status: "requires_payment_method", unconfirmed: true}
	env := f.env()
	createPayment(t, env)
	signalAt(env, time.Minute, stripeEvent("evt_forged", workflows.EventPaymentSucceeded))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.unconfirmed, f.status = false, "succeeded" // paid since; its webhook lost
		f.mu.Unlock()
		env.SignalWorkflow(workflows.SignalRetryBilling, nil)
	}, 2*time.Minute)
	st := runTopUp(t, env, topUpInput)
	if len(f.credits) != 1 || st.Status != workflows.TopUpSucceeded || !st.Reconciled || len(f.stuck) != 1 {
		t.Fatalf("credits %+v, state %+v, stuck %+v", f.credits, st, f.stuck)
	}
}

func TestTopUpDisputeLifecycleReadsStripeAtEachStep(t *testing.T) {
	// Resumed weeks later: the dispute's funds are withdrawn, it is
	// updated, then closed as won and the funds reinstated. Each event
	// makes ReverseTopUp read the dispute and post what changed.
	f := &fakePayments{status: "succeeded", record: workflows.TopUpRecord{UserID: "u1", AccountID: "a1", Status: workflows.TopUpSucceeded,
		PaymentIntentID: "pi_1", AmountCents: 1000}}
	env := f.env()
	var evs []workflows.StripeSignal
	for i, typ := range []string{workflows.EventDisputeFundsWithdrawn, workflows.EventDisputeUpdated} {
		d := stripeEvent(fmt.Sprintf("evt_d%d", i), typ)
		d.DisputeID = "dp_1"
		evs = append(evs, d)
	}
	signalAt(env, 0, evs...)
	var mid workflows.TopUpState
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(workflows.QueryState); err == nil {
			_ = v.Get(&mid)
		}
		f.mu.Lock()
		f.reverseStatus = workflows.TopUpSucceeded // won
		f.mu.Unlock()
	}, time.Minute)
	closed, reinstated := stripeEvent("evt_closed", workflows.EventDisputeClosed), stripeEvent("evt_back", workflows.EventDisputeFundsReinstated)
	closed.DisputeID, reinstated.DisputeID = "dp_1", "dp_1"
	signalAt(env, 2*time.Minute, closed, reinstated, closed)
	st := runTopUp(t, env, workflows.TopUpInput{TopUpID: "t1", Resumed: true})
	if mid.Status != workflows.TopUpDisputed {
		t.Fatalf("after funds withdrawn: %+v", mid)
	}
	if len(f.reversals) != 4 || len(f.credits) != 0 || st.Status != workflows.TopUpSucceeded {
		t.Fatalf("reversals %+v, credits %+v, state %+v", f.reversals, f.credits, st)
	}
	for _, r := range f.reversals {
		if r.Kind != "dispute" || r.DisputeID != "dp_1" || r.AccountID != "a1" {
			t.Fatalf("reversal %+v", r)
		}
	}
}

func TestTopUpFailedRefundIsSynced(t *testing.T) {
	f := &fakePayments{status: "succeeded", record: workflows.TopUpRecord{UserID: "u1", AccountID: "a1", Status: workflows.TopUpRefunded,
		PaymentIntentID: "pi_1", AmountCents: 1000, RefundedCents: 1000}}
	env := f.env()
	signalAt(env, 0, stripeEvent("evt_rf", workflows.EventRefundUpdated))
	runTopUp(t, env, workflows.TopUpInput{TopUpID: "t1", Resumed: true})
	if len(f.reversals) != 1 || f.reversals[0].Kind != "refund" || len(f.credits) != 0 {
		t.Fatalf("reversals %+v, credits %+v", f.reversals, f.credits)
	}
}
