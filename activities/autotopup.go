package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// workflowStarter is what auto top-up needs of the Temporal client beyond
// a signal: Signaler is that client in the worker, and a Signaler that is
// not (a test's) starts nothing.
type workflowStarter interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	NewWithStartWorkflowOperation(options client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation
	UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

func (a *Activities) starter() (workflowStarter, bool) {
	s, ok := a.Signaler.(workflowStarter)
	return s, ok
}

// checkAutoTopUp signals the account's auto top-up to look at the balance
// (signal-with-start of autotopup-<user>) when it is on and the balance is
// below its threshold: after a posting that lowered the balance has
// committed. Every such posting signals, not only the one that crossed:
// the workflow answers all that arrive before it looks with one look, so
// postings at once make one top-up, and a signal lost here is made good by
// the next posting or the workflow's own recheck. A failure is logged,
// never the posting's: the charge stands whatever auto top-up does.
func (a *Activities) checkAutoTopUp(ctx context.Context, accountID uuid.UUID, reason string) {
	s, ok := a.starter()
	if !ok || !activity.IsActivity(ctx) {
		return
	}
	userID, err := db.New(a.Pool).AutoTopUpDue(ctx, accountID)
	if errors.Is(err, db.ErrNotFound) {
		return
	}
	log := activity.GetLogger(ctx)
	if err == nil {
		err = SignalAutoTopUp(ctx, s, activity.GetInfo(ctx).TaskQueue, userID.String(), reason)
	}
	if err != nil {
		log.Warn("auto top-up not signalled; its recheck will look", "account_id", accountID.String(), "error", err)
	}
}

// AutoTopUpSignaler is the Temporal client as the web role holds it.
type AutoTopUpSignaler interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// SignalAutoTopUp sends a check to the user's auto top-up, starting its
// workflow if it is not running: for the posting hook and the settings
// page alike.
func SignalAutoTopUp(ctx context.Context, s AutoTopUpSignaler, taskQueue, userID, reason string) error {
	_, err := s.SignalWithStartWorkflow(ctx, workflows.AutoTopUpWorkflowID(userID), workflows.SignalAutoTopUpCheck,
		workflows.AutoTopUpCheck{Reason: reason}, client.StartWorkflowOptions{
			ID: workflows.AutoTopUpWorkflowID(userID), TaskQueue: taskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchAttrUserID.ValueSet(userID)),
		}, workflows.AutoTopUpWorkflowName, workflows.AutoTopUpInput{UserID: userID})
	return err
}

// PlanAutoTopUp decides, under the settings row's lock, whether the user's
// balance needs an automatic top-up now: auto top-up on, no automatic
// top-up in flight (one in flight is returned to be awaited), the balance
// below the threshold, the month's automatic top-ups plus this one within
// the cap, a saved card. A top-up it decides on is created in the same
// transaction with the next sequence number's derived id, so a plan run
// twice finds it in flight rather than making another.
func (a *Activities) PlanAutoTopUp(ctx context.Context, userID string) (workflows.AutoTopUpPlan, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return workflows.AutoTopUpPlan{}, badInput("user id", err)
	}
	var plan workflows.AutoTopUpPlan
	err = db.InTx(ctx, a.Pool, func(q *db.Queries) error {
		s, err := q.LockAutoTopUp(ctx, uid)
		if errors.Is(err, db.ErrNotFound) {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpOff, Why: "never set up"}
			return nil
		}
		if err != nil {
			return err
		}
		if !s.Enabled {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpOff, Why: "turned off"}
			return nil
		}
		if t, err := q.AutoTopUpInFlight(ctx, uid); err == nil {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpPay, Why: "awaiting the one in flight", TopUp: autoTopUpInput(t)}
			return nil
		} else if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		balance, err := q.GetWalletBalance(ctx, s.AccountID)
		if err != nil {
			return err
		}
		if balance >= s.ThresholdCents {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpNone,
				Why: fmt.Sprintf("balance %d cents, not below %d", balance, s.ThresholdCents)}
			return nil
		}
		spent, err := q.AutoTopUpSpentThisMonth(ctx, uid)
		if err != nil {
			return err
		}
		if spent+s.AmountCents > s.MonthlyCapCents {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpNone,
				Why: fmt.Sprintf("monthly cap: %d of %d cents used, %d more would pass it", spent, s.MonthlyCapCents, s.AmountCents)}
			return nil
		}
		card, err := q.GetPaymentCustomer(ctx, uid)
		if errors.Is(err, db.ErrNotFound) || (err == nil && card.DefaultPaymentMethodID == nil) {
			plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpRefuse,
				Why: "Your balance fell below " + rating.FormatCents(s.ThresholdCents) + ", but you have no saved card to top up with. Nothing was charged."}
			return nil
		}
		if err != nil {
			return err
		}
		u, err := q.GetUserByID(ctx, uid)
		if err != nil {
			return err
		}
		seq := int(s.Attempts) + 1
		id := uuid.MustParse(workflows.AutoTopUpTopUpID(userID, seq))
		t, err := q.CreateAutoTopUpTopUp(ctx, db.CreateAutoTopUpTopUpParams{ID: id, UserID: uid, AccountID: s.AccountID,
			PackageCode: "usd-" + strconv.FormatInt(s.AmountCents/100, 10), AmountCents: s.AmountCents, ReceiptEmail: &u.Email,
			PaymentMethodID: *card.DefaultPaymentMethodID})
		if err != nil {
			return err
		}
		if err := q.CreateAutoTopUpRun(ctx, db.CreateAutoTopUpRunParams{TopUpID: id, UserID: uid, Seq: int32(seq)}); err != nil {
			return err
		}
		if err := q.SetAutoTopUpAttempts(ctx, db.SetAutoTopUpAttemptsParams{UserID: uid, Attempts: int32(seq)}); err != nil {
			return err
		}
		plan = workflows.AutoTopUpPlan{Action: workflows.AutoTopUpPay, TopUp: autoTopUpInput(t),
			Why: fmt.Sprintf("balance %d cents, below %d; %d of the %d cents cap used", balance, s.ThresholdCents, spent, s.MonthlyCapCents)}
		return nil
	})
	return plan, err
}

func autoTopUpInput(t db.TopUp) *workflows.TopUpInput {
	return &workflows.TopUpInput{TopUpID: t.ID.String(), UserID: t.UserID.String(), AccountID: t.AccountID.String(), AmountCents: t.AmountCents, Path: workflows.PathCurrent}
}

// StartAutoTopUp starts an automatic top-up's TopUp workflow as POST
// /credits/purchase starts a person's (update-with-start, create-payment):
// the PaymentIntent is created, with the saved card, off-session, by that
// workflow's CreatePayment, and credited by it once Stripe confirms. A
// retry attaches to the same workflow and update (the same ids), and
// Stripe's idempotency key is the top-up id: one payment however often it
// runs. An update the workflow refused (the processor refused the
// request) is its workflow's to settle: the top-up is cancelled, and
// AwaitAutoTopUp reads that.
func (a *Activities) StartAutoTopUp(ctx context.Context, in workflows.TopUpInput) error {
	s, ok := a.starter()
	if !ok {
		return temporal.NewNonRetryableApplicationError("no Temporal client to start top-ups with", workflows.ErrTypeBadInput, nil)
	}
	id := in.TopUpID
	start := s.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: workflows.TopUpWorkflowID(id), TaskQueue: activity.GetInfo(ctx).TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A top-up's workflow that has ended is not started again here:
		// the top-up has its outcome.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchAttrUserID.ValueSet(in.UserID),
			workflows.SearchAttrTopUpStatus.ValueSet(workflows.TopUpCreated),
		),
		Memo: map[string]any{"amount_cents": in.AmountCents, "auto": true},
	}, workflows.TopUpWorkflowName, in)
	h, err := s.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: "create-payment-" + id, UpdateName: workflows.UpdateCreatePayment,
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var pc workflows.PaymentCreated
	if err == nil {
		err = h.Get(ctx, &pc)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	var refused *temporal.ApplicationError
	switch {
	case err == nil:
		activity.GetLogger(ctx).Info("auto top-up started", "TopUpID", id, "payment_intent", pc.PaymentIntentID)
		return nil
	case errors.As(err, &started), errors.As(err, &refused):
		activity.GetLogger(ctx).Warn("auto top-up's workflow ended or refused the payment", "TopUpID", id, "error", err)
		return nil
	}
	return err
}

// AwaitAutoTopUp returns an automatic top-up's outcome: credited once its
// TopUp workflow posted the credit (never before: money moves on what
// Stripe confirmed, through that one path); declined or requires_action
// as soon as Stripe says so (the off-session confirmation answers at
// once); cancelled if its workflow gave it up. Otherwise it fails with
// ErrTypeAutoTopUpPending, and the workflow's retry policy asks again.
func (a *Activities) AwaitAutoTopUp(ctx context.Context, topUpID string) (workflows.AutoTopUpOutcome, error) {
	id, err := uuid.Parse(topUpID)
	if err != nil {
		return workflows.AutoTopUpOutcome{}, badInput("top-up id", err)
	}
	t, err := db.New(a.Pool).GetTopUp(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return workflows.AutoTopUpOutcome{}, badInput("top-up "+topUpID, err)
	}
	if err != nil {
		return workflows.AutoTopUpOutcome{}, err
	}
	switch t.Status {
	case workflows.TopUpSucceeded, workflows.TopUpRefunded, workflows.TopUpDisputed:
		return workflows.AutoTopUpOutcome{Outcome: workflows.AutoTopUpCredited}, nil
	}
	pending := temporal.NewApplicationError("top-up "+topUpID+" is "+t.Status, workflows.ErrTypeAutoTopUpPending)
	if t.PaymentIntentID == nil {
		if t.Status == workflows.TopUpCanceled {
			return workflows.AutoTopUpOutcome{Outcome: workflows.AutoTopUpCanceled, FailureCode: deref(t.FailureCode)}, nil
		}
		return workflows.AutoTopUpOutcome{}, pending
	}
	g, err := a.gateway()
	if err != nil {
		return workflows.AutoTopUpOutcome{}, err
	}
	pi, err := g.GetIntent(ctx, *t.PaymentIntentID)
	if err != nil {
		return workflows.AutoTopUpOutcome{}, paymentsErr(err)
	}
	out := workflows.AutoTopUpOutcome{FailureCode: pi.FailureCode, DeclineCode: pi.DeclineCode}
	switch pi.Outcome() {
	case payments.OutcomeDeclined:
		out.Outcome = workflows.AutoTopUpDeclined
	case payments.OutcomeRequiresAction:
		out.Outcome = workflows.AutoTopUpRequiresAction
	case payments.OutcomeCanceled:
		out.Outcome = workflows.AutoTopUpCanceled
	default:
		switch t.Status {
		case workflows.TopUpFailed:
			out.Outcome = workflows.AutoTopUpDeclined
		case workflows.TopUpCanceled:
			out.Outcome = workflows.AutoTopUpCanceled
		default: // paid and awaiting its credit, or still processing
			return workflows.AutoTopUpOutcome{}, pending
		}
	}
	return out, nil
}

// TurnAutoTopUpOff turns the user's auto top-up off and raises the banner
// with the reason. Run again, it changes nothing.
func (a *Activities) TurnAutoTopUpOff(ctx context.Context, off workflows.AutoTopUpTurnOff) error {
	uid, err := uuid.Parse(off.UserID)
	if err != nil {
		return badInput("user id", err)
	}
	p := db.TurnAutoTopUpOffParams{UserID: uid, Reason: cut(off.Reason, 500)}
	if off.TopUpID != "" {
		tid, err := uuid.Parse(off.TopUpID)
		if err != nil {
			return badInput("top-up id", err)
		}
		p.TopUpID = &tid
	}
	_, err = db.New(a.Pool).TurnAutoTopUpOff(ctx, p)
	if errors.Is(err, db.ErrNotFound) {
		return nil // off already: by us before (a retry), or by the person
	}
	return err
}

// EmailAutoTopUpOff sends the one email saying auto top-up was turned off
// and why. It is claimed in the row before it is sent and released if the
// send fails, so a retry after a sent email sends nothing: at most once
// per turning off (a crash between the claim and the send loses it; the
// banner still says it).
func (a *Activities) EmailAutoTopUpOff(ctx context.Context, off workflows.AutoTopUpTurnOff) error {
	uid, err := uuid.Parse(off.UserID)
	if err != nil {
		return badInput("user id", err)
	}
	q := db.New(a.Pool)
	s, err := q.GetAutoTopUp(ctx, uid)
	if err != nil {
		return err
	}
	if s.Enabled || s.OffAt == nil || s.EmailedAt != nil {
		return nil // turned on again since, or told already
	}
	if off.TopUpID != "" && (s.OffTopUpID == nil || s.OffTopUpID.String() != off.TopUpID) {
		return nil // turned off for another reason since
	}
	if a.Mailer == nil {
		activity.GetLogger(ctx).Warn("no mailer: the auto top-up email is not sent (the banner says it)", "UserID", off.UserID)
		return nil
	}
	u, err := q.GetUserByID(ctx, uid)
	if err != nil {
		return err
	}
	balance, err := q.GetWalletBalance(ctx, s.AccountID)
	if err != nil {
		return err
	}
	if _, err := q.ClaimAutoTopUpOffEmail(ctx, db.ClaimAutoTopUpOffEmailParams{UserID: uid, OffAt: s.OffAt}); errors.Is(err, db.ErrNotFound) {
		return nil // another attempt claimed it
	} else if err != nil {
		return err
	}
	reason := ""
	if s.OffReason != nil {
		reason = *s.OffReason
	}
	// In the person's language (Settings; English without one).
	lang := i18n.Default
	if u.Locale != nil && i18n.Valid(*u.Locale) {
		lang = *u.Locale
	}
	msg := mail.Message{
		To:      u.Email,
		Subject: i18n.T(lang, "mail.autotopup_off.subject"),
		Text:    i18n.T(lang, "mail.autotopup_off.text", "Name", u.DisplayName, "Reason", reason, "Balance", i18n.Money(lang, balance)),
	}
	if err := a.Mailer.Send(ctx, msg); err != nil {
		_ = q.ReleaseAutoTopUpOffEmail(context.WithoutCancel(ctx), db.ReleaseAutoTopUpOffEmailParams{UserID: uid, OffAt: s.OffAt})
		return fmt.Errorf("send the auto top-up email: %w", err)
	}
	activity.GetLogger(ctx).Info("auto top-up off: email sent", "UserID", off.UserID)
	return nil
}
