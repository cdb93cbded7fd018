package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/workflows"
)

// stripeWebhook authenticates a Stripe event before anything else (the
// Stripe-Signature over the raw body, within five minutes), stores the
// events a top-up acts on in the inbox (once per event id) and answers 200;
// the inbox delivers each to its top-up's workflow, starting it again when
// it has finished. Other event types are acknowledged and ignored.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusBadRequest)
		return
	}
	header := r.Header.Get("Stripe-Signature")
	ev, err := webhook.ConstructEventWithOptions(body, header, s.cfg.StripeWebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		s.log.Warn().Err(err).Bool("signature_present", header != "").Msg("stripe webhook refused: bad signature, stale timestamp or malformed body")
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	log := s.log.With().Str("event_id", ev.ID).Str("event_type", string(ev.Type)).Logger()
	if ev.APIVersion != stripe.APIVersion {
		// Loud, and refused so that Stripe keeps it and retries: the
		// endpoint must be recreated with the version stripe-go pins.
		log.Error().Str("event_api_version", ev.APIVersion).Str("expected_api_version", stripe.APIVersion).
			Msg("stripe webhook refused: the endpoint's API version differs from the one this build understands; recreate the webhook endpoint with api_version " + stripe.APIVersion)
		http.Error(w, "unsupported API version "+ev.APIVersion+"; expected "+stripe.APIVersion, http.StatusBadRequest)
		return
	}
	sig, topupID, err := s.stripeSignal(r, ev)
	if err != nil {
		var bad *badEvent
		if errors.As(err, &bad) {
			log.Warn().Err(err).Msg("stripe webhook: malformed event")
			http.Error(w, bad.Error(), http.StatusBadRequest)
			return
		}
		log.Error().Err(err).Msg("stripe webhook: find top-up")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if topupID == "" {
		log.Debug().Msg("stripe webhook: not a top-up event; acknowledged")
		w.WriteHeader(http.StatusOK)
		return
	}
	wid := workflows.TopUpWorkflowID(topupID)
	_, stored, err := inbox.Store(r.Context(), db.New(s.pool), inbox.Event{
		Source: "stripe", DedupKey: ev.ID, Type: string(ev.Type), Signal: workflows.SignalStripeEvent, WorkflowID: wid, Payload: sig,
		Start: &inbox.Start{Workflow: workflows.TopUpWorkflowName, Input: workflows.TopUpInput{TopUpID: topupID, Resumed: true}},
	})
	if err != nil {
		log.Error().Err(err).Str("topup_id", topupID).Msg("stripe webhook: store")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if stored {
		s.kick()
	}
	log.Info().Str("topup_id", topupID).Str("workflow_id", wid).Bool("duplicate", !stored).Msg("stripe webhook stored")
	w.WriteHeader(http.StatusOK)
}

type badEvent struct{ msg string }

func (e *badEvent) Error() string { return e.msg }

// stripeSignal reads the parts of an event a top-up needs and finds the
// top-up: by the PaymentIntent's metadata, checked against our row, or by
// the PaymentIntent id for charges and disputes. topupID is "" for an event
// that is not about one of our top-ups.
func (s *Server) stripeSignal(r *http.Request, ev stripe.Event) (sig workflows.StripeSignal, topupID string, err error) {
	sig = workflows.StripeSignal{EventID: ev.ID, Type: string(ev.Type)}
	if ev.Data == nil {
		return sig, "", &badEvent{"event without data"}
	}
	var metaTopup string
	switch sig.Type {
	case workflows.EventPaymentSucceeded, workflows.EventPaymentFailed, workflows.EventPaymentCanceled:
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return sig, "", &badEvent{"payment intent event without a payment intent"}
		}
		sig.PaymentIntentID, sig.AmountCents, sig.Currency = pi.ID, pi.Amount, string(pi.Currency)
		if e := pi.LastPaymentError; e != nil {
			sig.FailureCode, sig.FailureMessage = string(e.Code), e.Msg
			if e.DeclineCode != "" {
				sig.FailureCode = string(e.DeclineCode)
			}
		}
		metaTopup = pi.Metadata["topup_id"]
	case workflows.EventChargeRefunded:
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.ID == "" {
			return sig, "", &badEvent{"charge event without a charge"}
		}
		sig.ChargeID, sig.AmountCents, sig.Currency = ch.ID, ch.Amount, string(ch.Currency)
		if ch.PaymentIntent != nil {
			sig.PaymentIntentID = ch.PaymentIntent.ID
		}
		metaTopup = ch.Metadata["topup_id"]
	case workflows.EventDisputeCreated:
		var dp stripe.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &dp); err != nil || dp.ID == "" {
			return sig, "", &badEvent{"dispute event without a dispute"}
		}
		sig.DisputeID, sig.AmountCents, sig.Currency = dp.ID, dp.Amount, string(dp.Currency)
		if dp.PaymentIntent != nil {
			sig.PaymentIntentID = dp.PaymentIntent.ID
		}
		if dp.Charge != nil {
			sig.ChargeID = dp.Charge.ID
		}
		if strings.HasPrefix(string(dp.Status), "warning_") {
			// An inquiry: no money has left yet. A dispute proper follows
			// if the customer's bank escalates it.
			s.log.Info().Str("event_id", ev.ID).Str("dispute_id", dp.ID).Msg("stripe webhook: dispute inquiry; no funds withdrawn, nothing posted")
			return sig, "", nil
		}
	default:
		return sig, "", nil
	}
	// Stripe's ids are short; NUL and long ids cannot be stored (a 5xx
	// would have Stripe retry for days).
	if !storable(sig.EventID, sig.Type, sig.PaymentIntentID, sig.ChargeID, sig.DisputeID, sig.Currency, sig.FailureCode, sig.FailureMessage, metaTopup) ||
		len(sig.EventID) > 255 || len(sig.PaymentIntentID) > 255 || len(sig.ChargeID) > 255 || len(sig.DisputeID) > 255 {
		return sig, "", &badEvent{"event with malformed ids or text"}
	}
	q := db.New(s.pool)
	if sig.PaymentIntentID != "" {
		t, err := q.GetTopupByPaymentIntent(r.Context(), &sig.PaymentIntentID)
		if err == nil {
			return sig, t.ID.String(), nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return sig, "", err
		}
	}
	// Not recorded yet (the activity that created it has not saved it):
	// the metadata names the top-up, which must exist and not be paid by
	// another PaymentIntent.
	id, err := uuid.Parse(metaTopup)
	if err != nil {
		return sig, "", nil
	}
	t, err := q.GetTopup(r.Context(), id)
	if errors.Is(err, pgx.ErrNoRows) {
		return sig, "", nil
	}
	if err != nil {
		return sig, "", err
	}
	if t.PaymentIntentID != nil && *t.PaymentIntentID != sig.PaymentIntentID {
		return sig, "", nil
	}
	return sig, t.ID.String(), nil
}
