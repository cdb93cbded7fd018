package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

type creditsData struct {
	Packages []int64
	TopUps   []db.TopUp
	// Cards: the saved cards, read from Stripe (newest first); Default is
	// the one a one-tap top-up offers first. CardsUnavailable: Stripe could
	// not be asked.
	Cards            []payments.Card
	Default          string
	CardsUnavailable bool
}

// showCredits is the Credits tab: the balance, the packages on sale and
// the latest top-ups.
func (s *Server) showCredits(w http.ResponseWriter, r *http.Request) {
	s.renderCredits(w, r, http.StatusOK, "")
}

func (s *Server) renderCredits(w http.ResponseWriter, r *http.Request, status int, formErr string) {
	topups, err := db.New(s.pool).ListTopUpsForUser(r.Context(), db.ListTopUpsForUserParams{UserID: currentUser(r).ID, Limit: 10})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	cd := creditsData{Packages: s.cfg.TopUpPackages, TopUps: topups}
	cd.Cards, cd.Default, cd.CardsUnavailable = s.savedCards(r.Context(), currentUser(r).ID)
	data := pageData{Tab: "credits", Data: cd}
	if formErr != "" {
		data.Errors = map[string]string{"form": formErr}
	}
	s.render(w, r, status, "credits", data)
}

// purchaseCredits starts a top-up of one of the configured packages (the
// amount is never the client's) and creates its PaymentIntent: update-with-
// start on topup-<id>. A second tap on the same package while one is
// unpaid goes back to that one. "Save this card" asks Stripe to keep the
// card that pays (setup_future_usage) on the user's Customer.
func (s *Server) purchaseCredits(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	amount, ok := s.chosenPackage(r)
	if !ok {
		s.renderCredits(w, r, http.StatusUnprocessableEntity, "Choose one of the amounts below.")
		return
	}
	saveCard := r.PostForm.Get("save_card") != ""
	q := db.New(s.pool)
	open, err := q.FindOpenTopUp(r.Context(), db.FindOpenTopUpParams{UserID: u.ID, AmountCents: amount,
		WithinMs: s.cfg.TopUpPaymentTimeout.Milliseconds() / 2})
	if err == nil && open.PaymentIntentID != nil && open.SaveCard == saveCard && open.PaymentMethodID == nil {
		http.Redirect(w, r, "/credits/topups/"+open.ID.String(), http.StatusSeeOther)
		return
	}
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	s.startTopUp(w, r, db.CreateTopUpParams{UserID: u.ID, AccountID: u.AccountID,
		PackageCode: "usd-" + strconv.FormatInt(amount/100, 10), AmountCents: amount, ReceiptEmail: &u.Email, SaveCard: saveCard})
}

// chosenPackage is the form's package, if it is one on sale.
func (s *Server) chosenPackage(r *http.Request) (int64, bool) {
	amount, err := strconv.ParseInt(r.PostForm.Get("package"), 10, 64)
	for _, p := range s.cfg.TopUpPackages {
		if err == nil && p == amount {
			return amount, true
		}
	}
	return 0, false
}

// oneTapTopUp tops up with a saved card: the same top-up workflow and the
// same exactly-once credit on payment_intent.succeeded as a purchase, with
// the PaymentIntent confirmed by the server with the card (on-session).
// The card must be one of this user's (read from their Customer at
// Stripe); another's is refused before anything is created. The top-up's
// page then shows the outcome: processing and credited, the bank's 3-D
// Secure challenge (requires_action: handleNextAction), or the decline
// with the card form to try another card.
func (s *Server) oneTapTopUp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	amount, ok := s.chosenPackage(r)
	if !ok {
		s.renderCredits(w, r, http.StatusUnprocessableEntity, "Choose one of the amounts below.")
		return
	}
	pm := r.PostForm.Get("payment_method")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	_, _, err := payments.UserCard(ctx, db.New(s.pool), s.payments, u.ID, pm)
	cancel()
	if errors.Is(err, payments.ErrNotYours) {
		s.log.Warn().Str("user_id", u.ID.String()).Msg("one-tap top-up refused: not one of the user's cards")
		s.renderCredits(w, r, http.StatusUnprocessableEntity, "Choose one of your saved cards.")
		return
	}
	if err != nil {
		s.log.Warn().Err(err).Str("user_id", u.ID.String()).Msg("one-tap top-up: read the saved cards")
		s.renderCredits(w, r, http.StatusServiceUnavailable, "Payments are unavailable right now. Nothing was charged; please try again in a few minutes.")
		return
	}
	// A second tap while the first is under way (its webhook not here
	// yet, or the bank's check open) goes back to it: one tap is one
	// payment. A declined one is not reused.
	q := db.New(s.pool)
	open, err := q.FindOpenTopUp(r.Context(), db.FindOpenTopUpParams{UserID: u.ID, AmountCents: amount,
		WithinMs: s.cfg.TopUpPaymentTimeout.Milliseconds() / 2})
	if err == nil && open.Status == workflows.TopUpProcessing && open.PaymentMethodID != nil && *open.PaymentMethodID == pm {
		http.Redirect(w, r, "/credits/topups/"+open.ID.String(), http.StatusSeeOther)
		return
	}
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	s.startTopUp(w, r, db.CreateTopUpParams{UserID: u.ID, AccountID: u.AccountID,
		PackageCode: "usd-" + strconv.FormatInt(amount/100, 10), AmountCents: amount, ReceiptEmail: &u.Email, PaymentMethodID: &pm})
}

// startTopUp creates the top-up row and starts its workflow with the
// create-payment update, then sends the browser to the top-up's page.
func (s *Server) startTopUp(w http.ResponseWriter, r *http.Request, p db.CreateTopUpParams) {
	u := currentUser(r)
	amount := p.AmountCents
	// Each new top-up is a PaymentIntent a card tester could try cards
	// on: TOPUP_MAX_PER_HOUR per user. Going back to an open one (above)
	// is free.
	var throttled *accounts.ThrottledError
	if err := s.accounts.AllowTopUp(r.Context(), u.ID); errors.As(err, &throttled) {
		s.log.Warn().Str("user_id", u.ID.String()).Int("limit", throttled.Limit).Msg("top-up refused: hourly limit")
		setRetryAfter(w, throttled)
		s.renderCredits(w, r, http.StatusTooManyRequests, fmt.Sprintf(
			"You have started %d top-ups in the last hour, the most we allow. To keep your card safe, please wait %d minutes before starting another.",
			throttled.Limit, throttled.RetryMinutes()))
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	q := db.New(s.pool)
	t, err := q.CreateTopUp(r.Context(), p)
	if errors.Is(err, db.ErrNotFound) { // the account is being deleted (CreateTopUp creates nothing)
		s.renderCredits(w, r, http.StatusConflict, tr(r, "account_delete.topup_refused"))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	id := t.ID.String()
	in := workflows.TopUpInput{TopUpID: id, UserID: u.ID.String(), AccountID: u.AccountID.String(), AmountCents: amount,
		PaymentTimeout: s.cfg.TopUpPaymentTimeout, Path: workflows.PathCurrent}
	// A workflow that started cancels its own top-up; one that did not
	// leaves the row to be cancelled here.
	msg := "Payments are unavailable right now. Nothing was charged; please try again in a few minutes."
	var pc workflows.PaymentCreated
	err = s.startWorkflow(r.Context(), workflowStart{
		ID: workflows.TopUpWorkflowID(id), Workflow: workflows.TopUpWorkflowName, Input: in,
		SearchAttributes: []temporal.SearchAttributeUpdate{
			workflows.SearchAttrUserID.ValueSet(u.ID.String()),
			workflows.SearchAttrTopUpStatus.ValueSet(workflows.TopUpCreated),
		},
		Memo:   map[string]any{"amount_cents": amount},
		Update: workflows.UpdateCreatePayment, UpdateID: "create-payment-" + id, Bound: 20 * time.Second,
		Abandon: func(ctx context.Context) {
			_, _ = q.MarkTopUpCanceled(ctx, db.MarkTopUpCanceledParams{ID: t.ID, FailureCode: strPtr("unavailable"), FailureMessage: &msg})
		},
	}, &pc)
	if err != nil {
		s.renderCredits(w, r, http.StatusServiceUnavailable, msg)
		return
	}
	ev := s.log.Info().Str("topup_id", id).Str("user_id", u.ID.String()).Int64("amount_cents", amount).
		Str("payment_intent", pc.PaymentIntentID).Bool("save_card", p.SaveCard)
	if p.PaymentMethodID != nil {
		ev = ev.Str("outcome", pc.Outcome).Str("decline_code", pc.DeclineCode)
	}
	ev.Msg("top-up started")
	http.Redirect(w, r, "/credits/topups/"+id, http.StatusSeeOther)
}

// savedCards lists the user's saved cards from Stripe, and the default.
// A user without a Customer has none (and Stripe is not asked).
func (s *Server) savedCards(ctx context.Context, userID uuid.UUID) (cards []payments.Card, def string, unavailable bool) {
	c, err := db.New(s.pool).GetPaymentCustomer(ctx, userID)
	if errors.Is(err, db.ErrNotFound) || s.payments == nil {
		return nil, "", false
	}
	if err == nil {
		// Bounded short: the Credits page waits for it.
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cards, err = s.payments.ListCards(lctx, c.CustomerID)
		cancel()
	}
	if err != nil {
		s.log.Warn().Err(err).Str("user_id", userID.String()).Msg("list saved cards")
		return nil, "", true
	}
	if c.DefaultPaymentMethodID != nil {
		def = *c.DefaultPaymentMethodID
	}
	found := false
	for _, k := range cards {
		found = found || k.ID == def
	}
	if !found && len(cards) > 0 {
		def = cards[0].ID
	}
	return cards, def, false
}

// removeCard detaches one of the user's saved cards at Stripe; another
// user's card (or none) is a 404 and nothing is asked of Stripe.
func (s *Server) removeCard(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	pm := chi.URLParam(r, "pm")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q := db.New(s.pool)
	_, card, err := payments.UserCard(ctx, q, s.payments, u.ID, pm)
	if errors.Is(err, payments.ErrNotYours) {
		s.notFound(w, r)
		return
	}
	if err == nil {
		err = s.payments.DetachCard(ctx, pm)
	}
	if err != nil {
		s.log.Warn().Err(err).Str("user_id", u.ID.String()).Msg("remove a saved card")
		s.setFlashError(r, "flash.card_remove_failed")
		http.Redirect(w, r, "/credits", http.StatusSeeOther)
		return
	}
	if err := q.ClearDefaultPaymentMethod(ctx, db.ClearDefaultPaymentMethodParams{UserID: u.ID, DefaultPaymentMethodID: &pm}); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("user_id", u.ID.String()).Str("payment_method", pm).Msg("saved card removed")
	s.setFlash(r, "flash.card_removed", "Brand", cardBrand(card.Brand), "Last4", card.Last4)
	http.Redirect(w, r, "/credits", http.StatusSeeOther)
}

// cardBrand names a card network as people write it.
func cardBrand(b string) string {
	switch b {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "discover":
		return "Discover"
	case "jcb":
		return "JCB"
	case "diners":
		return "Diners Club"
	case "unionpay":
		return "UnionPay"
	case "":
		return "Card"
	}
	return strings.ToUpper(b[:1]) + b[1:]
}

type topUpData struct {
	T db.TopUp
	// Pay: the payment form is shown (the top-up awaits its payment).
	Pay bool
	// Processing: the processor has the payment and its outcome is on its
	// way (back from Stripe's redirect, or a payment that takes time).
	Processing bool
	// Simulated: the simulator's card form instead of Stripe's.
	Simulated bool
	// ClientSecret and PublishableKey mount Stripe's Payment Element.
	ClientSecret, PublishableKey, ReturnURL string
	// Unavailable: Stripe could not be reached to show the form.
	Unavailable bool
	// NextAction: the bank asks the cardholder (3-D Secure) about a
	// payment the server confirmed: stripe.handleNextAction runs.
	NextAction bool
	Cards      []simCard
}

type simCard struct{ Value, Label, Hint string }

var simCards = []simCard{
	{payments.CardSucceeds, "Card that pays", "4242 4242 4242 4242"},
	{payments.CardDeclined, "Card that is declined", "4000 0000 0000 0002"},
	{payments.CardInsufficientFunds, "Card without funds", "4000 0000 0000 9995"},
	{payments.CardDelayed, "Card that pays after 10 seconds", "processing first"},
	{payments.CardAuthenticate, "Card that asks for 3-D Secure every time", "4000 0027 6000 3184"},
	{payments.CardAuthenticateSetup, "Card that asks for 3-D Secure unless saved", "4000 0025 0000 3155"},
}

// showTopUp is a top-up's page: the payment form while it awaits payment
// (Stripe's Payment Element, or the simulator's card form), and its state,
// which turns to credited live when the workflow posts the credit. It is
// also the page Stripe returns to after a redirect.
func (s *Server) showTopUp(w http.ResponseWriter, r *http.Request) {
	t, ok := s.userTopUp(w, r)
	if !ok {
		return
	}
	if q := r.URL.Query(); q.Has("payment_intent_client_secret") || q.Has("redirect_status") || q.Has("payment_intent") {
		// Back from Stripe's redirect: the query carries the client
		// secret; a redirect keeps it out of the address bar and history.
		// The page asks Stripe itself how the payment stands.
		http.Redirect(w, r, "/credits/topups/"+t.ID.String(), http.StatusSeeOther)
		return
	}
	d := topUpData{T: t, Cards: simCards, Simulated: s.paySim != nil}
	if t.PaymentIntentID != nil && (t.Status == workflows.TopUpProcessing || t.Status == workflows.TopUpFailed) {
		// The row says unpaid; the processor knows whether a payment is
		// under way (its webhook not here yet) or the form is wanted.
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		pi, err := s.payments.GetIntent(ctx, *t.PaymentIntentID)
		cancel()
		switch {
		case err != nil:
			s.log.Warn().Err(err).Str("topup_id", t.ID.String()).Msg("read payment intent for the payment page")
			d.Unavailable = true
		case pi.Status == payments.StatusRequiresAction && (t.PaymentMethodID != nil || s.paySim != nil):
			// Confirmed by the server with a saved card: only the bank's
			// challenge is left (the Payment Element handles its own; the
			// simulator's card form leaves it to its Approve and Fail).
			d.NextAction = true
			d.ClientSecret, d.PublishableKey = pi.ClientSecret, s.cfg.StripePublishableKey
		case pi.Status == payments.StatusRequiresPaymentMethod || pi.Status == payments.StatusRequiresConfirmation || pi.Status == payments.StatusRequiresAction:
			d.Pay = true
			d.ClientSecret, d.PublishableKey = pi.ClientSecret, s.cfg.StripePublishableKey
			d.ReturnURL = s.cfg.PublicBaseURL + "/credits/topups/" + t.ID.String()
		case pi.Status == payments.StatusProcessing || pi.Status == payments.StatusSucceeded || pi.Status == payments.StatusRequiresCapture:
			d.Processing = true
		}
	}
	w.Header().Set("Referrer-Policy", "no-referrer") // the return URL may carry the client secret
	s.render(w, r, http.StatusOK, "topup", pageData{Tab: "credits", Data: d})
}

// userTopUp loads the signed-in user's top-up named in the URL; another's
// is a 404.
func (s *Server) userTopUp(w http.ResponseWriter, r *http.Request) (db.TopUp, bool) {
	return loadByID(s, w, r, func(q *db.Queries, ctx context.Context, id uuid.UUID) (db.TopUp, error) {
		return q.GetTopUpForUser(ctx, db.GetTopUpForUserParams{ID: id, UserID: currentUser(r).ID})
	})
}

// topUpStatusView is the topup_status partial's data: a top-up and the
// language it is told in.
type topUpStatusView struct {
	Lang string
	db.TopUp
}

// topUpStatusHTML renders a top-up's state block, for the page and for the
// live stream.
func (s *Server) topUpStatusHTML(lang string, t db.TopUp) (string, error) {
	var buf bytes.Buffer
	err := s.templates["topup"].ExecuteTemplate(&buf, "topup_status", topUpStatusView{Lang: lang, TopUp: t})
	return buf.String(), err
}

// The payment simulator's controls (development only, owner-checked): pay
// with a simulated card, refund, dispute.

func (s *Server) simulatePayment(w http.ResponseWriter, r *http.Request) {
	t, ok := s.userTopUp(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	if t.PaymentIntentID == nil {
		s.errorPage(w, r, http.StatusConflict, "error.not_ready.title", "error.not_ready.message")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if err := s.paySim.Confirm(ctx, *t.PaymentIntentID, r.PostForm.Get("card"), 10*time.Second, payments.Faults{}); err != nil {
		s.log.Warn().Err(err).Str("topup_id", t.ID.String()).Msg("simulated payment")
		s.setFlash(r, "flash.sim_payment_failed", "Err", err.Error())
	}
	http.Redirect(w, r, "/credits/topups/"+t.ID.String(), http.StatusSeeOther)
}

// simulateAuthentication answers the simulated bank's 3-D Secure challenge
// of a one-tap payment (what handleNextAction shows with Stripe).
func (s *Server) simulateAuthentication(w http.ResponseWriter, r *http.Request) {
	t, ok := s.userTopUp(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	if t.PaymentIntentID == nil {
		s.errorPage(w, r, http.StatusConflict, "error.not_ready.title", "error.not_ready.message")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if err := s.paySim.Authenticate(ctx, *t.PaymentIntentID, r.PostForm.Get("approve") == "1", payments.Faults{}); err != nil {
		s.log.Warn().Err(err).Str("topup_id", t.ID.String()).Msg("simulated authentication")
		s.setFlash(r, "flash.sim_auth_failed", "Err", err.Error())
	}
	http.Redirect(w, r, "/credits/topups/"+t.ID.String(), http.StatusSeeOther)
}

func (s *Server) simulateRefund(w http.ResponseWriter, r *http.Request) {
	s.simulateReversal(w, r, func(ctx context.Context, pi string) error {
		_, err := s.paySim.Refund(ctx, pi, 0, payments.Faults{})
		return err
	})
}

func (s *Server) simulateDispute(w http.ResponseWriter, r *http.Request) {
	s.simulateReversal(w, r, func(ctx context.Context, pi string) error {
		_, err := s.paySim.Dispute(ctx, pi, payments.Faults{})
		return err
	})
}

func (s *Server) simulateReversal(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, pi string) error) {
	t, ok := s.userTopUp(w, r)
	if !ok {
		return
	}
	if t.PaymentIntentID == nil {
		s.notFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if err := do(ctx, *t.PaymentIntentID); err != nil {
		s.setFlash(r, "flash.sim_refused", "Err", err.Error())
	}
	http.Redirect(w, r, "/credits/topups/"+t.ID.String(), http.StatusSeeOther)
}

func strPtr(s string) *string { return &s }
