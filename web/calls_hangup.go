package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// Ending a call: the browser's word (POST /calls/{id}/hangup), and a slot
// whose call's workflow ended without freeing it.

type hangUpRequest struct {
	// Reason is what the browser saw (disconnect, error, cancel, connect
	// failed); it only goes to the log.
	Reason string `json:"reason"`
}

type hangUpResponse struct {
	CallID string `json:"call_id"`
	Status string `json:"status"`
}

// hangUpCall is POST /calls/{id}/hangup, from the owner's browser when the
// Voice SDK (or the simulator) reports the call ended, or when its connect
// failed. It signals browser-ended to the call's workflow, which cancels a
// call Twilio has not claimed yet (the abandonment timer's conditional
// update) or asks the carrier's REST API at once, so the slot is free in
// seconds even when the final status callback is lost. The browser's word
// never bills anything by itself: the carrier's answer does. Another
// user's call, or no call, is 404. 202: the workflow was told (or the call
// is over already).
func (s *Server) hangUpCall(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.callError(w, r, http.StatusNotFound, "not_found", "There is no such call.", 0)
		return
	}
	var req hangUpRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		s.callError(w, r, http.StatusBadRequest, "bad_request", `Send {"reason": "..."} or nothing.`, 0)
		return
	}
	if len(req.Reason) > 64 {
		req.Reason = req.Reason[:64]
	}
	call, err := db.New(s.pool).GetUserCall(r.Context(), db.GetUserCallParams{ID: id, UserID: currentUser(r).ID})
	if errors.Is(err, db.ErrNotFound) {
		s.callError(w, r, http.StatusNotFound, "not_found", "There is no such call.", 0)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	resp := hangUpResponse{CallID: id.String(), Status: call.Status}
	if workflows.IsFinal(call.Status) && call.BillingState != workflows.BillingPending {
		s.writeJSON(w, r, http.StatusAccepted, resp) // over and settled: nothing to tell
		return
	}
	wid := workflows.CallWorkflowID(id.String())
	sctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err = s.temporal.SignalWorkflow(sctx, wid, "", workflows.SignalBrowserEnded, workflows.BrowserEndedSignal{Reason: req.Reason})
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		// The workflow has finished: whatever it decided stands.
	case err != nil:
		s.log.Warn().Err(err).Str("call_id", id.String()).Str("workflow_id", wid).Msg("browser hang-up: signal the call workflow")
		s.callError(w, r, http.StatusServiceUnavailable, "unavailable", "The call could not be ended for a moment. Try again.", 0)
		return
	default:
		s.log.Info().Str("call_id", id.String()).Str("workflow_id", wid).Str("reason", req.Reason).Str("status", call.Status).
			Msg("browser hang-up signalled")
	}
	s.writeJSON(w, r, http.StatusAccepted, resp)
}

// releaseEndedSlot frees the user's call slot when the call holding it has
// no running workflow any more, and reports whether it did. POST /calls
// asks only when the slot is taken, so a call costs nothing more.
//
// Why this way: a workflow can end without freeing the slot (the 30-day
// execution timeout, an operator's terminate or reset, a failure), and
// nothing runs after that to tidy up. Temporal is the one that knows
// whether a workflow is running, so the slot check asks it about the
// holder rather than guessing from the row's age; the partial unique index
// stays the rule, and a released row (slot_released_at) leaves it. A holder
// whose workflow is not found is released once its row is past 'created';
// one still 'created' is a start in flight, or one that never happened (the
// web instance that inserted it was killed before its update-with-start),
// and is failed as never started once it is older than any start could
// still be in flight (failNeverStarted). If Temporal cannot answer, the
// slot stays held: a 409 is safer than two calls on one balance.
func (s *Server) releaseEndedSlot(ctx context.Context, userID uuid.UUID) bool {
	q := db.New(s.pool)
	holder, err := q.GetCallSlotHolder(ctx, userID)
	if err != nil {
		if !errors.Is(err, db.ErrNotFound) {
			s.log.Warn().Err(err).Str("user_id", userID.String()).Msg("call slot: read its holder")
		}
		return false
	}
	wid := workflows.CallWorkflowID(holder.ID.String())
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	desc, err := s.temporal.DescribeWorkflow(dctx, wid, "")
	var notFound *serviceerror.NotFound
	var how string
	switch {
	case errors.As(err, &notFound):
		if holder.Status == workflows.StatusCreated {
			return s.failNeverStarted(ctx, holder.ID)
		}
		how = "not found"
	case err != nil:
		s.log.Warn().Err(err).Str("call_id", holder.ID.String()).Str("workflow_id", wid).Msg("call slot: describe the holder's workflow")
		return false
	default:
		st := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus()
		if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return false
		}
		how = st.String()
	}
	reason := "the call's workflow ended (" + how + ") without freeing the call slot"
	n, err := q.ReleaseCallSlot(ctx, db.ReleaseCallSlotParams{ID: holder.ID, Reason: reason})
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", holder.ID.String()).Msg("call slot: release")
		return false
	}
	if n > 0 {
		s.log.Error().Str("call_id", holder.ID.String()).Str("workflow_id", wid).Str("user_id", userID.String()).
			Str("workflow_status", how).Str("call_status", holder.Status).Str("billing_state", holder.BillingState).
			Msg("call slot released: its workflow had ended without freeing it; support should check the call's billing")
	}
	return n > 0
}

// unstartedAfter is the age past which a 'created' call whose workflow is
// not found cannot have a start in flight: POST /calls gives up on its
// update-with-start after startCallBound, and the request's deadline goes
// with it to the server.
const unstartedAfter = 2 * startCallBound

// failNeverStarted fails the slot's holder, a 'created' call with no
// workflow, when it is older than unstartedAfter (Postgres's clock, the one
// that stamped it), and reports whether it did. Younger, it may still be
// starting, and the caller gets 409 as before.
func (s *Server) failNeverStarted(ctx context.Context, id uuid.UUID) bool {
	n, err := db.New(s.pool).FailUnstartedCall(ctx, db.FailUnstartedCallParams{ID: id, MinAgeSeconds: int32(unstartedAfter / time.Second)})
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", id.String()).Msg("call slot: fail a call that never started")
		return false
	}
	if n > 0 {
		s.log.Warn().Str("call_id", id.String()).Msg("call slot: freed by a call whose workflow never started")
	}
	return n > 0
}
