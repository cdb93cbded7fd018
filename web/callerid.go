package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// Verified caller ID (Settings): the person's own number, verified with
// Twilio (workflows/callerid.go), becomes the callerId of their calls; the
// voice webhook reads it in its claim (ClaimCallAndStoreDial), never from
// the browser. One number per user; the schema refuses a number another
// account has verified.

// callerIDData is the Settings section's state.
type callerIDData struct {
	Row *db.CallerID // nil: no number
	// Simulated: the carrier simulator plays Twilio (development): the
	// section offers to "type" the code on the simulated call.
	Simulated bool
}

// Pending: Twilio is calling, or about to.
func (d callerIDData) Pending() bool {
	return d.Row != nil && d.Row.Status == workflows.CallerIDPending
}

// Retryable: the last attempt failed or expired.
func (d callerIDData) Retryable() bool {
	return d.Row != nil && (d.Row.Status == workflows.CallerIDFailed || d.Row.Status == workflows.CallerIDExpired)
}

// settingsData is the Settings page's own data.
type settingsData struct {
	CallerID   callerIDData
	DataExport dataExportData // download my data (export.go)
}

func (s *Server) callerIDOf(ctx context.Context, userID uuid.UUID) (callerIDData, error) {
	d := callerIDData{Simulated: s.sim != nil}
	row, err := db.New(s.pool).GetCallerID(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.Row = &row
	return d, nil
}

// renderSettings renders Settings with the user's caller ID; data carries
// a form's values and errors.
func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, data pageData) {
	d, err := s.callerIDOf(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if data.Form == nil {
		data.Form = url.Values{}
	}
	export, err := s.dataExportOf(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data.Tab, data.Data = "settings", settingsData{CallerID: d, DataExport: export}
	s.render(w, r, status, "settings", data)
}

// showCallerID is the section alone (partials/caller_id.html), which the
// page reloads while Twilio calls (the poll controller).
func (s *Server) showCallerID(w http.ResponseWriter, r *http.Request) {
	d, err := s.callerIDOf(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := s.templates["settings"].ExecuteTemplate(&buf, "caller_id", pageData{Form: url.Values{}, Lang: langOf(r), Data: settingsData{CallerID: d}}); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// addCallerID takes a number (read as contacts read one, E.164 from the
// user's home country) and starts its verification.
func (s *Server) addCallerID(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	form := url.Values{"caller_id": {r.PostForm.Get("caller_id")}}
	refuse := func(msg string) {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: form, Errors: map[string]string{"caller_id": msg}})
	}
	n, err := rating.ParseNumber(r.PostForm.Get("caller_id"), u.HomeCountry)
	var ne *rating.NumberError
	var ee *rating.EmergencyError
	switch {
	case errors.As(err, &ee):
		refuse(ee.Message)
		return
	case errors.As(err, &ne):
		refuse(ne.Message)
		return
	case err != nil:
		refuse(tr(r, "callerid.err_enter"))
		return
	}
	q := db.New(s.pool)
	taken, err := q.CallerIDVerifiedElsewhere(r.Context(), db.CallerIDVerifiedElsewhereParams{E164: n.E164, UserID: u.ID})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if taken {
		refuse(tr(r, "callerid.err_taken"))
		return
	}
	row, err := q.CreateCallerID(r.Context(), db.CreateCallerIDParams{UserID: u.ID, E164: n.E164})
	if _, dup := db.UniqueViolation(err); dup {
		refuse(tr(r, "callerid.err_one"))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.startCallerID(r, row)
	http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
}

// retryCallerID starts a new attempt at a number that failed or expired.
func (s *Server) retryCallerID(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	row, err := db.New(s.pool).RetryCallerID(r.Context(), currentUser(r).ID)
	if errors.Is(err, db.ErrNotFound) {
		// None to retry (pending, verified, or none): the page says which.
		http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.startCallerID(r, row)
	http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
}

// startCallerID starts the attempt's workflow. One that cannot start is
// recorded as failed, for the person to retry.
func (s *Server) startCallerID(r *http.Request, row db.CallerID) {
	in := workflows.CallerIDInput{UserID: row.UserID.String(), E164: row.E164, Attempt: row.Attempt,
		StatusCallback: s.callerIDCallbackURL(row)}
	wid := workflows.CallerIDWorkflowID(in.UserID, in.E164)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wid, TaskQueue: s.cfg.TemporalTaskQueue,
		// A new attempt is a new run; a running one is never replaced.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.CallerIDWorkflowName, in)
	if err == nil {
		s.log.Info().Str("workflow_id", wid).Str("user_id", in.UserID).Int32("attempt", in.Attempt).Msg("caller id verification started")
		return
	}
	s.log.Error().Err(err).Str("workflow_id", wid).Int32("attempt", in.Attempt).Msg("caller id: start workflow")
	reason := workflows.ReasonCarrierDown
	_, _ = db.New(s.pool).EndCallerIDAttempt(context.WithoutCancel(r.Context()), db.EndCallerIDAttemptParams{
		UserID: row.UserID, E164: row.E164, Attempt: row.Attempt, Status: workflows.CallerIDFailed, FailureReason: &reason})
}

// callerIDCallbackURL is the attempt's StatusCallback: our signed webhook,
// naming the user, the number and the attempt (the signature covers the
// URL, so they are Twilio's word).
func (s *Server) callerIDCallbackURL(row db.CallerID) string {
	q := url.Values{"user_id": {row.UserID.String()}, "number": {row.E164}, "attempt": {strconv.Itoa(int(row.Attempt))}}
	return s.cfg.PublicBaseURL + "/api/webhooks/twilio/callerid?" + q.Encode()
}

// removeCallerID deletes the user's number: from this statement on it is
// not their callerId. An attempt in progress is told (it ends); a verified
// number is deleted at Twilio by CallerIDRemoval, in the worker.
func (s *Server) removeCallerID(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	row, err := db.New(s.pool).DeleteCallerID(r.Context(), currentUser(r).ID)
	if errors.Is(err, db.ErrNotFound) {
		http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	wid := workflows.CallerIDWorkflowID(row.UserID.String(), row.E164)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	log := s.log.With().Str("workflow_id", wid).Str("user_id", row.UserID.String()).Logger()
	switch {
	case row.Status == workflows.CallerIDPending:
		err = s.temporal.SignalWorkflow(ctx, wid, "", workflows.SignalCallerIDResult,
			workflows.CallerIDResult{DedupKey: "removed", Attempt: row.Attempt, VerificationStatus: workflows.CallerIDCanceled})
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			err = nil // it ended meanwhile; FinishCallerID finds no row
		}
	case row.OutgoingCallerIDSid != nil:
		_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: wid, TaskQueue: s.cfg.TemporalTaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, workflows.CallerIDRemovalWorkflowName, workflows.CallerIDRemovalInput{UserID: row.UserID.String(), E164: row.E164, OutgoingCallerIDSid: *row.OutgoingCallerIDSid})
	}
	if err != nil {
		// Our side is done: the number is not used. Twilio keeps the
		// OutgoingCallerId until an operator deletes it (OPERATIONS.md).
		sid := ""
		if row.OutgoingCallerIDSid != nil {
			sid = *row.OutgoingCallerIDSid
		}
		log.Error().Err(err).Str("outgoing_caller_id_sid", sid).Msg("caller id removed here; telling Temporal failed")
	} else {
		log.Info().Msg("caller id removed")
	}
	s.setFlash(r, "flash.callerid_removed", "Number", row.E164)
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// simulateCallerIDCode is the person typing digits on the simulated
// verification call to their own pending number (development).
func (s *Server) simulateCallerIDCode(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	d, err := s.callerIDOf(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !d.Pending() {
		http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.sim.EnterValidationCode(ctx, d.Row.E164, r.PostForm.Get("digits")); err != nil {
		s.log.Warn().Err(err).Str("user_id", d.Row.UserID.String()).Msg("simulated caller id code")
		if errors.Is(err, carrier.ErrNoValidation) {
			s.setFlashError(r, "flash.sim_call_not_live")
		} else {
			s.setFlashError(r, "flash.sim_call_failed", "Err", err.Error())
		}
	}
	http.Redirect(w, r, "/settings#caller-id", http.StatusSeeOther)
}

// twilioCallerID takes Twilio's validation callback (verifyTwilio checked
// its signature first): stored in the inbox, then signalled to the
// attempt's workflow. The user, number and attempt come from the signed
// URL; the result from the signed form.
func (s *Server) twilioCallerID(w http.ResponseWriter, r *http.Request) {
	f, qv := r.PostForm, r.URL.Query()
	if f.Get("AccountSid") != s.cfg.TwilioAccountSID {
		s.log.Warn().Str("account_sid", f.Get("AccountSid")).Msg("caller id webhook: request for another Twilio account")
		refuseWebhook(w, r, http.StatusForbidden, "other_account", "not our Twilio account")
		return
	}
	userID, err := uuid.Parse(qv.Get("user_id"))
	attempt, aerr := strconv.Atoi(qv.Get("attempt"))
	number := qv.Get("number")
	if err != nil || aerr != nil || attempt < 1 || attempt > 1<<20 || len(number) < 2 || len(number) > 16 {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "unknown caller id attempt")
		return
	}
	res := workflows.CallerIDResult{Attempt: int32(attempt), CallSid: f.Get("CallSid"), VerificationStatus: f.Get("VerificationStatus"),
		OutgoingCallerIDSid: f.Get("OutgoingCallerIdSid")}
	if res.VerificationStatus != workflows.VerificationSuccess && res.VerificationStatus != workflows.VerificationFailed {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "VerificationStatus must be success or failed")
		return
	}
	if res.CallSid == "" || len(res.CallSid) > 64 || len(res.OutgoingCallerIDSid) > 64 {
		refuseWebhook(w, r, http.StatusBadRequest, "malformed", "missing or malformed CallSid")
		return
	}
	res.DedupKey = "callerid:" + res.CallSid + ":" + res.VerificationStatus
	wid := workflows.CallerIDWorkflowID(userID.String(), number)
	row, stored, err := inbox.Store(r.Context(), db.New(s.pool), inbox.Event{Source: "twilio", DedupKey: res.DedupKey, Type: "callerid",
		Signal: workflows.SignalCallerIDResult, WorkflowID: wid, Payload: res})
	if err != nil {
		s.log.Error().Err(err).Str("workflow_id", wid).Msg("caller id webhook: store")
		refuseWebhook(w, r, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	if stored {
		s.send(r, row)
	}
	s.log.Info().Str("workflow_id", wid).Str("call_sid", res.CallSid).Str("verification_status", res.VerificationStatus).Msg("caller id webhook stored")
	w.WriteHeader(http.StatusNoContent)
}
