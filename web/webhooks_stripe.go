package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/tracing"
	"github.com/mobayilo/mobayilo/workflows"
)

// stripeWebhook authenticates a Stripe event before anything else (the
// Stripe-Signature over the raw body, within five minutes), refuses one
// whose livemode is not the key's (a test event on a live deployment, or
// the reverse), stores the events a top-up acts on in the inbox (once per
// event id) and answers 200; the inbox delivers each to its top-up's
// workflow, starting it again when it has finished. Other event types are
// acknowledged and ignored.
//
// An event rendered in another API version than the one stripe-go pins
// (the endpoint was created with another version) is never refused, or
// Stripe would retry it for days and then disable the endpoint: its raw
// body is kept (stripe_version_events) and it is answered 200. When the
// fields a top-up needs are there it goes on as usual; when they are not
// it waits for support on the dashboard, and the log names both versions.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
	if err != nil {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "body too large or unreadable")
		return
	}
	header := r.Header.Get("Stripe-Signature")
	if err := webhook.ValidatePayload(body, header, s.cfg.StripeWebhookSecret); err != nil {
		s.log.Warn().Err(err).Bool("signature_present", header != "").Msg("stripe webhook refused: bad signature or stale timestamp")
		refuseWebhook(w, r, http.StatusBadRequest, "bad_signature", "invalid signature")
		return
	}
	var head struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		APIVersion string `json:"api_version"`
		Livemode   *bool  `json:"livemode"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ID == "" || head.Type == "" || head.Livemode == nil {
		s.log.Warn().Bool("json_ok", err == nil).Msg("stripe webhook refused: a signed body that is not an event")
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "malformed event")
		return
	}
	log := s.log.With().Str("event_id", head.ID).Str("event_type", head.Type).Logger()
	if want := s.cfg.StripeLivemode(); *head.Livemode != want {
		// Refused, not stored: a test-mode event must never move money on
		// a live deployment, nor a live one reach a test deployment.
		log.Error().Bool("event_livemode", *head.Livemode).Bool("key_livemode", want).
			Msg("stripe webhook refused: the event's livemode is not the mode of STRIPE_SECRET_KEY")
		refuseWebhook(w, r, http.StatusBadRequest, "livemode_mismatch", "livemode mismatch")
		return
	}
	otherVersion := head.APIVersion != stripe.APIVersion
	ev, err := webhook.ConstructEventWithOptions(body, header, s.cfg.StripeWebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		if otherVersion {
			s.holdStripeEvent(w, r, log, head.ID, head.Type, head.APIVersion, *head.Livemode, body, "the event does not parse with API version "+stripe.APIVersion+": "+err.Error())
			return
		}
		log.Warn().Err(err).Msg("stripe webhook refused: malformed body")
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "malformed event")
		return
	}
	sig, topUpID, err := s.stripeSignal(r, ev)
	if err != nil {
		var bad *badEvent
		if errors.As(err, &bad) {
			if otherVersion {
				s.holdStripeEvent(w, r, log, ev.ID, string(ev.Type), ev.APIVersion, ev.Livemode, body, bad.Error())
				return
			}
			log.Warn().Err(err).Msg("stripe webhook: malformed event")
			refuseWebhook(w, r, http.StatusBadRequest, "malformed", bad.Error())
			return
		}
		log.Error().Err(err).Msg("stripe webhook: find top-up")
		refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	if otherVersion {
		// Readable with the pinned version: kept all the same, and handled.
		if _, err := db.New(s.pool).InsertStripeVersionEvent(r.Context(), db.InsertStripeVersionEventParams{
			EventID: ev.ID, EventType: string(ev.Type), ApiVersion: ev.APIVersion, Livemode: ev.Livemode, RawBody: body, Handled: true,
		}); err != nil && !errors.Is(err, db.ErrNotFound) {
			log.Error().Err(err).Msg("stripe webhook: keep an event of another API version")
			refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
			return
		}
		log.Warn().Str("event_api_version", ev.APIVersion).Str("expected_api_version", stripe.APIVersion).
			Msg("stripe webhook: event of another API version, read with the pinned one; recreate the webhook endpoint with api_version " + stripe.APIVersion)
	}
	if topUpID == "" {
		log.Debug().Msg("stripe webhook: not a top-up event; acknowledged")
		w.WriteHeader(http.StatusOK)
		return
	}
	wid := workflows.TopUpWorkflowID(topUpID)
	row, stored, err := inbox.Store(r.Context(), db.New(s.pool), inbox.Event{
		Source: "stripe", DedupKey: ev.ID, Type: string(ev.Type), Signal: workflows.SignalStripeEvent, WorkflowID: wid, Payload: sig,
		Start: &inbox.Start{Workflow: workflows.TopUpWorkflowName, Input: workflows.TopUpInput{TopUpID: topUpID, Resumed: true, Path: workflows.PathCurrent}},
	})
	if err != nil {
		log.Error().Err(err).Str("topup_id", topUpID).Msg("stripe webhook: store")
		refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	if stored {
		s.send(r, row)
	}
	log.Info().Str("topup_id", topUpID).Str("workflow_id", wid).Bool("duplicate", !stored).Msg("stripe webhook stored")
	w.WriteHeader(http.StatusOK)
}

// holdStripeEvent keeps an event of another API version that the pinned
// version cannot read, for support, and answers 200: nothing is lost, and
// Stripe does not give up on the endpoint.
func (s *Server) holdStripeEvent(w http.ResponseWriter, r *http.Request, log zerolog.Logger, id, typ, version string, livemode bool, body []byte, problem string) {
	_, err := db.New(s.pool).InsertStripeVersionEvent(r.Context(), db.InsertStripeVersionEventParams{
		EventID: id, EventType: typ, ApiVersion: version, Livemode: livemode, RawBody: body, Handled: false, Problem: &problem,
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		log.Error().Err(err).Msg("stripe webhook: keep an event of another API version")
		refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	log.Error().Str("event_api_version", version).Str("expected_api_version", stripe.APIVersion).Str("problem", problem).
		Msg("stripe webhook: event of another API version that this build cannot read; kept for support (admin dashboard), answered 200; recreate the webhook endpoint with api_version " + stripe.APIVersion)
	w.WriteHeader(http.StatusOK)
}

type badEvent struct{ msg string }

func (e *badEvent) Error() string { return e.msg }

// stripeSignal reads the parts of an event a top-up needs and finds the
// top-up: by the PaymentIntent's metadata, checked against our row, or by
// the PaymentIntent id for charges and disputes. topUpID is "" for an event
// that is not about one of our top-ups.
func (s *Server) stripeSignal(r *http.Request, ev stripe.Event) (sig workflows.StripeSignal, topUpID string, err error) {
	sig = workflows.StripeSignal{EventID: ev.ID, Type: string(ev.Type), ReceivedAt: time.Now().UTC(), Trace: tracing.Carrier(r.Context())}
	if ev.Data == nil {
		return sig, "", &badEvent{"event without data"}
	}
	if missing := missingFields(sig.Type, ev.Data.Raw); len(missing) > 0 {
		return sig, "", &badEvent{"event " + sig.Type + " lacks " + strings.Join(missing, ", ")}
	}
	var metaTopUp string
	switch sig.Type {
	case workflows.EventPaymentSucceeded, workflows.EventPaymentFailed, workflows.EventPaymentCanceled:
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return sig, "", &badEvent{"payment intent event without a payment intent"}
		}
		sig.PaymentIntentID, sig.AmountCents, sig.Currency = pi.ID, pi.Amount, string(pi.Currency)
		if e := pi.LastPaymentError; e != nil {
			// Both kept: code says what kind of failure (card_declined,
			// expired_card, ...), decline_code the issuer's reason.
			sig.FailureCode, sig.DeclineCode, sig.FailureMessage = string(e.Code), string(e.DeclineCode), e.Msg
		}
		metaTopUp = pi.Metadata["topup_id"]
	case workflows.EventRefundUpdated:
		var rf stripe.Refund
		if err := json.Unmarshal(ev.Data.Raw, &rf); err != nil || rf.ID == "" {
			return sig, "", &badEvent{"refund event without a refund"}
		}
		sig.AmountCents, sig.Currency = rf.Amount, string(rf.Currency)
		if rf.PaymentIntent != nil {
			sig.PaymentIntentID = rf.PaymentIntent.ID
		}
		if rf.Charge != nil {
			sig.ChargeID = rf.Charge.ID
		}
		metaTopUp = rf.Metadata["topup_id"]
	case workflows.EventChargeRefunded:
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.ID == "" {
			return sig, "", &badEvent{"charge event without a charge"}
		}
		sig.ChargeID, sig.AmountCents, sig.Currency = ch.ID, ch.Amount, string(ch.Currency)
		if ch.PaymentIntent != nil {
			sig.PaymentIntentID = ch.PaymentIntent.ID
		}
		metaTopUp = ch.Metadata["topup_id"]
	case workflows.EventDisputeCreated, workflows.EventDisputeFundsWithdrawn, workflows.EventDisputeUpdated,
		workflows.EventDisputeClosed, workflows.EventDisputeFundsReinstated:
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
		if sig.Type == workflows.EventDisputeCreated && strings.HasPrefix(string(dp.Status), "warning_") {
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
	if !storable(sig.EventID, sig.Type, sig.PaymentIntentID, sig.ChargeID, sig.DisputeID, sig.Currency, sig.FailureCode, sig.DeclineCode, sig.FailureMessage, metaTopUp) ||
		len(sig.EventID) > 255 || len(sig.PaymentIntentID) > 255 || len(sig.ChargeID) > 255 || len(sig.DisputeID) > 255 {
		return sig, "", &badEvent{"event with malformed ids or text"}
	}
	q := db.New(s.pool)
	if sig.PaymentIntentID != "" {
		t, err := q.GetTopUpByPaymentIntent(r.Context(), &sig.PaymentIntentID)
		if err == nil {
			return sig, t.ID.String(), nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return sig, "", err
		}
	}
	// Not recorded yet (the activity that created it has not saved it):
	// the metadata names the top-up, which must exist and not be paid by
	// another PaymentIntent.
	id, err := uuid.Parse(metaTopUp)
	if err != nil {
		return sig, "", nil
	}
	t, err := q.GetTopUp(r.Context(), id)
	if errors.Is(err, db.ErrNotFound) {
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

// requiredFields are the fields of data.object each event type must carry
// for a top-up to act on it: an event without them (one of another API
// version, say) cannot be read safely.
var requiredFields = map[string][]string{
	workflows.EventPaymentSucceeded:       {"id", "amount", "currency", "status", "metadata"},
	workflows.EventPaymentFailed:          {"id", "amount", "currency", "status", "metadata"},
	workflows.EventPaymentCanceled:        {"id", "amount", "currency", "status", "metadata"},
	workflows.EventChargeRefunded:         {"id", "amount", "currency"},
	workflows.EventRefundUpdated:          {"id", "amount", "status"},
	workflows.EventDisputeCreated:         {"id", "amount", "currency", "status"},
	workflows.EventDisputeFundsWithdrawn:  {"id", "amount", "currency", "status"},
	workflows.EventDisputeUpdated:         {"id", "amount", "currency", "status"},
	workflows.EventDisputeClosed:          {"id", "amount", "currency", "status"},
	workflows.EventDisputeFundsReinstated: {"id", "amount", "currency", "status"},
}

// missingFields lists the required fields that data.object lacks or has
// as null.
func missingFields(eventType string, object json.RawMessage) []string {
	want := requiredFields[eventType]
	if len(want) == 0 {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(object, &fields); err != nil {
		return []string{"data.object"}
	}
	var missing []string
	for _, f := range want {
		if v, ok := fields[f]; !ok || string(v) == "null" {
			missing = append(missing, "data.object."+f)
		}
	}
	return missing
}
