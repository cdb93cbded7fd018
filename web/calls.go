package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

type startCallRequest struct {
	PhoneNumber string `json:"phone_number"`
}

type callRate struct {
	Prefix          string `json:"prefix"`
	Description     string `json:"description"`
	PerMinute       string `json:"per_minute"`
	PerMinuteMicros int64  `json:"per_minute_micros"`
}

type startCallResponse struct {
	CallID     string   `json:"call_id"`
	Token      string   `json:"token"`
	Identity   string   `json:"identity"`
	MaxSeconds int64    `json:"max_seconds"`
	Rate       callRate `json:"rate"`
	// LowBalance (issue 21): the balance covers less than
	// workflows.LowBalanceSeconds of this call and a top-up would give it
	// more; the dialer says so before it dials. From the terms the
	// authorization answers: no round trip of its own.
	LowBalance bool `json:"low_balance"`
}

type apiError struct {
	Error quoteError `json:"error"`
}

func (s *Server) callError(w http.ResponseWriter, r *http.Request, status int, code, message string, needed int64) {
	s.writeJSON(w, r, status, apiError{Error: quoteError{Code: code, Message: message, NeededCents: needed}})
}

// startCall authorizes a call: the number and destination rules are checked
// here, the one-active-call rule by the database, and the balance, rate and
// duration by the call workflow's authorize update (update-with-start on
// call-<id>). The Twilio access token is issued here, after authorization,
// so that it never enters workflow history.
func (s *Server) startCall(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	n, ok := s.callNumber(w, r, u)
	if !ok {
		return
	}
	identity := s.clientIdentity(u.ID.String())
	call, ok := s.createCall(w, r, db.CreateCallParams{
		UserID: u.ID, AccountID: u.AccountID, PhoneNumber: n.E164, DestinationCountry: n.Country, ClientIdentity: identity,
	})
	if !ok {
		return
	}
	callID := call.ID.String()
	// The authorization is never committed after the bound's margin.
	in := workflows.CallInput{CallID: callID, UserID: u.ID.String(), AccountID: u.AccountID.String(),
		PhoneNumber: n.E164, Country: n.Country, ClientIdentity: identity, Timing: s.callTiming(),
		AuthorizeBy: time.Now().Add(startCallBound - authorizeMargin), Path: workflows.PathCurrent}
	var terms workflows.CallTerms
	err := s.startWorkflow(r.Context(), workflowStart{
		ID: workflows.CallWorkflowID(callID), Workflow: workflows.CallWorkflowName, Input: in,
		SearchAttributes: []temporal.SearchAttributeUpdate{
			workflows.SearchAttrUserID.ValueSet(u.ID.String()),
			workflows.SearchAttrDestinationCountry.ValueSet(n.Country),
			workflows.SearchAttrCallStatus.ValueSet(workflows.StatusAuthorizing),
			workflows.SearchAttrBillingState.ValueSet(workflows.BillingPending),
		},
		Memo: map[string]any{"number": n.E164, "country": n.Country}, ExecutionTimeout: 24 * time.Hour * 30,
		Update: workflows.UpdateAuthorize, UpdateID: "authorize-" + callID, Bound: startCallBound,
		Refusal: workflows.ErrTypeCallRefused, Abandon: func(ctx context.Context) { s.abandonStart(ctx, call.ID) },
	}, &terms)
	if err != nil {
		s.refuseCall(w, r, callID, err)
		return
	}
	// The token names this call (its identity carries the call id) and
	// dies with the authorization: an older token of the same user cannot
	// claim this call, nor this one a later call.
	callIdentity := carrier.CallIdentity(identity, callID)
	token, err := s.accessToken(callIdentity, terms.AuthorizedUntil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, startCallResponse{
		CallID: callID, Token: token, Identity: callIdentity, MaxSeconds: terms.MaxSeconds,
		Rate: callRate{Prefix: terms.RatePrefix, Description: terms.Description,
			PerMinute: rating.FormatPerMinute(terms.PerMinuteMicros), PerMinuteMicros: terms.PerMinuteMicros},
		LowBalance: terms.LowBalance(),
	})
}

// callNumber reads POST /calls' number and checks it and the destination
// rules, answering the refusal itself when not ok.
func (s *Server) callNumber(w http.ResponseWriter, r *http.Request, u *sessionUser) (rating.Number, bool) {
	var req startCallRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.callError(w, r, http.StatusBadRequest, "bad_request", "Send {\"phone_number\": \"...\"}.", 0)
		return rating.Number{}, false
	}
	n, err := rating.ParseNumber(req.PhoneNumber, u.HomeCountry)
	if err == nil {
		_, err = s.rules.Price(n, s.rates.Deck(), accounts.CountryName(n.Country))
	}
	var ne *rating.NumberError
	var ee *rating.EmergencyError
	var refusal *rating.Refusal
	switch {
	case err == nil:
		return n, true
	case errors.As(err, &ee):
		s.callError(w, r, http.StatusUnprocessableEntity, ee.Reason, ee.Message, 0)
	case errors.As(err, &ne):
		s.callError(w, r, http.StatusUnprocessableEntity, ne.Reason, ne.Message, 0)
	case errors.As(err, &refusal):
		s.callError(w, r, http.StatusUnprocessableEntity, refusal.Reason, refusal.Message, 0)
	default:
		s.serverError(w, r, err)
	}
	return rating.Number{}, false
}

// createCall inserts the call's row, holding the user's one call slot;
// a slot held by a call whose workflow ended is freed first
// (calls_hangup.go). A slot still held answers 409.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request, p db.CreateCallParams) (db.Call, bool) {
	call, err := db.New(s.pool).CreateCall(r.Context(), p)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "calls_one_active_per_user" && s.releaseEndedSlot(r.Context(), p.UserID) {
		call, err = db.New(s.pool).CreateCall(r.Context(), p)
	}
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "calls_one_active_per_user" {
		s.callError(w, r, http.StatusConflict, "call_in_progress", "You already have a call in progress. Hang up first.", 0)
		return call, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return call, false
	}
	return call, true
}

// callsUnavailable is the 503's message: the call was not authorized and
// nothing was charged.
const callsUnavailable = "Calling is unavailable for a moment. Nothing was charged. Try again."

// refuseCall answers a failed authorization: the workflow's refusal with
// its reason (402 for money, 503 for its own deadline), anything else 503.
func (s *Server) refuseCall(w http.ResponseWriter, r *http.Request, callID string, err error) {
	var appErr *temporal.ApplicationError
	if !isRefusal(err, workflows.ErrTypeCallRefused) || !errors.As(err, &appErr) {
		s.callError(w, r, http.StatusServiceUnavailable, "unavailable", callsUnavailable, 0)
		return
	}
	var refusal workflows.CallRefusal
	_ = appErr.Details(&refusal)
	status := http.StatusUnprocessableEntity
	switch refusal.Reason {
	case workflows.RefusalInsufficientBalance, workflows.RefusalNegativeBalance:
		status = http.StatusPaymentRequired
	case workflows.RefusalAuthorizationTimeout:
		s.log.Error().Str("call_id", callID).Msg("authorize call: too slow, refused at its deadline")
		s.callError(w, r, http.StatusServiceUnavailable, "unavailable", callsUnavailable, 0)
		return
	}
	s.callError(w, r, status, refusal.Reason, refusal.Message, refusal.NeededCents)
}

// startCallBound is how long POST /calls waits for its authorization;
// authorizeMargin, how long before that the authorization must have been
// committed (CallInput.AuthorizeBy), so that none lands after a 503.
const (
	startCallBound  = 15 * time.Second
	authorizeMargin = time.Second
)

// abandonStart frees the slot of a call whose authorization the browser
// will not get (the workflow could not be started, or answered too late).
// A row still created is failed; one authorized after all (its answer
// lost) is ended through its workflow, as a browser's hang-up would.
func (s *Server) abandonStart(ctx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reason := "could not start the call workflow"
	n, err := db.New(s.pool).AbandonUnstartedCall(ctx, db.AbandonUnstartedCallParams{ID: id, EndReason: &reason})
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", id.String()).Msg("free the call's slot")
		return
	}
	if n > 0 {
		return
	}
	err = s.temporal.SignalWorkflow(ctx, workflows.CallWorkflowID(id.String()), "", workflows.SignalBrowserEnded,
		workflows.BrowserEndedSignal{Reason: "the web request stopped waiting for the authorization"})
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", id.String()).Msg("end a call authorized after its request gave up")
	}
}

// clientIdentity is the opaque Twilio Client identity of a user: stable,
// not guessable, and no personal data.
func (s *Server) clientIdentity(userID string) string {
	mac := hmac.New(sha256.New, []byte(s.cfg.SessionSecret))
	mac.Write([]byte("twilio-client-identity:" + userID))
	return "u" + hex.EncodeToString(mac.Sum(nil))[:24]
}

// accessToken is a Twilio access token with a VoiceGrant for our outgoing
// TwiML application, for one call's identity, valid until the call's
// authorization expires (its exp is that instant: see carrier.AccessToken).
func (s *Server) accessToken(identity string, until time.Time) (string, error) {
	return carrier.AccessToken(carrier.TokenParams{
		AccountSID: s.cfg.TwilioAccountSID, APIKey: s.cfg.TwilioAPIKey, APISecret: s.cfg.TwilioAPISecret,
		TwiMLAppSID: s.cfg.TwilioTwiMLAppSID, Identity: identity, Until: until,
	})
}

// simulateConnect plays Twilio for a browser in development: it connects
// the signed-in user's authorized call as the Voice SDK would, through the
// carrier simulator, which then drives the signed webhooks (ring, answer,
// talk for talk_seconds, hang up).
func (s *Server) simulateConnect(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CallID      string `json:"call_id"`
		Token       string `json:"token"`
		TalkSeconds int64  `json:"talk_seconds"`
	}
	if err := decodeJSON(w, r, 8<<10, &req); err != nil || req.CallID == "" || req.Token == "" {
		s.callError(w, r, http.StatusBadRequest, "bad_request", `Send {"call_id": "...", "token": "...", "talk_seconds": 30}.`, 0)
		return
	}
	if !s.ownsCall(w, r, req.CallID) {
		return
	}
	talk := time.Duration(min(max(req.TalkSeconds, 1), 3600)) * time.Second
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), talk+5*time.Minute)
		defer cancel()
		// As Twilio does, the simulator takes the caller from the token.
		if _, err := s.sim.PlaceCall(ctx, req.Token, req.CallID, talk, carrier.Faults{}); err != nil {
			s.log.Warn().Err(err).Str("call_id", req.CallID).Msg("simulated call")
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}

// simulateHangUp ends the user's simulated call now, as the Voice SDK's
// disconnect would (development).
func (s *Server) simulateHangUp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CallID string `json:"call_id"`
	}
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.callError(w, r, http.StatusBadRequest, "bad_request", `Send {"call_id": "..."}.`, 0)
		return
	}
	if !s.ownsCall(w, r, req.CallID) {
		return
	}
	if !s.sim.HangUp(req.CallID) {
		s.callError(w, r, http.StatusConflict, "not_in_progress", "That call is not in progress.", 0)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ownsCall reports whether callID is one of the signed-in user's calls,
// answering 404 when it is not.
func (s *Server) ownsCall(w http.ResponseWriter, r *http.Request, callID string) bool {
	id, err := uuid.Parse(callID)
	if err == nil {
		_, err = db.New(s.pool).GetUserCall(r.Context(), db.GetUserCallParams{ID: id, UserID: currentUser(r).ID})
	}
	if err != nil {
		s.notFound(w, r)
		return false
	}
	return true
}

// callTiming is the timing every new call's workflow runs with, from the
// configuration; whatever else reasons about a call's timers (the admin
// dashboard's overdue calls) reads it here, as the workflow does.
func (s *Server) callTiming() workflows.CallTiming {
	return workflows.CallTiming{AuthorizationWindow: s.cfg.CallAuthorizationWindow, ReconcileGrace: s.cfg.CallReconcileGrace,
		RingAllowance: s.cfg.CallRingAllowance}
}
