package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// How the call sounded (issue 20, item 3): the caller rates a completed
// call from the in-call bar; support reads the rating on the console's call
// page and the share of poor ratings per country on the dashboard.

// minRatedSeconds is the shortest call the bar asks about; the upsert's
// WHERE clause (queries/ratings.sql) says the same in SQL.
const minRatedSeconds = 5

// ratingIssues are the issues a caller can tick, in the order the bar and
// the console show them; call_ratings' CHECK allows these and no others.
var ratingIssues = []struct{ Code, Label string }{
	{"echo", "Echo"},
	{"choppy", "Choppy"},
	{"dropped", "Dropped"},
	{"could_not_hear", "Could not hear"},
}

func ratingIssueLabel(code string) string {
	for _, i := range ratingIssues {
		if i.Code == code {
			return i.Label
		}
	}
	return code
}

type rateCallRequest struct {
	Score  int      `json:"score"`
	Issues []string `json:"issues"`
}

type rateCallResponse struct {
	CallID string   `json:"call_id"`
	Score  int16    `json:"score"`
	Issues []string `json:"issues"`
}

// newRateCallRequest reads a rating as JSON (the in-call bar's fetch) or as
// a form (score=4&issues=echo&issues=choppy). It returns a message for the
// caller when the body or its values are not a rating.
func newRateCallRequest(w http.ResponseWriter, r *http.Request) (rateCallRequest, string) {
	var req rateCallRequest
	body := http.MaxBytesReader(w, r.Body, 4<<10)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			return req, `Send {"score": 1-5, "issues": [...]}.`
		}
	} else {
		r.Body = body
		if err := r.ParseForm(); err != nil {
			return req, "The rating could not be read."
		}
		n, err := strconv.Atoi(r.PostForm.Get("score"))
		if err != nil {
			return req, "The score must be a number from 1 to 5."
		}
		req.Score, req.Issues = n, r.PostForm["issues"]
	}
	if req.Score < 1 || req.Score > 5 {
		return req, "The score must be a number from 1 to 5."
	}
	// Known issues only, each once, in the bar's order.
	seen := map[string]bool{}
	for _, code := range req.Issues {
		if ratingIssueLabel(code) == code {
			return req, "Unknown issue: pick echo, choppy, dropped or could_not_hear."
		}
		seen[code] = true
	}
	req.Issues = []string{}
	for _, i := range ratingIssues {
		if seen[i.Code] {
			req.Issues = append(req.Issues, i.Code)
		}
	}
	return req, ""
}

// rateCall is POST /calls/{id}/rating, from the in-call bar after a call.
// One rating per call: a second POST replaces the first (score and issues;
// created_at stays, updated_at moves). Only the caller's own call, and only
// once it is final as completed with at least 5 seconds talked: another
// user's call, or none, is 404; any other call is 422. The page group's
// cross-origin check guards it as it does the hang-up.
func (s *Server) rateCall(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.callError(w, r, http.StatusNotFound, "not_found", "There is no such call.", 0)
		return
	}
	req, msg := newRateCallRequest(w, r)
	if msg != "" {
		s.callError(w, r, http.StatusUnprocessableEntity, "invalid_rating", msg, 0)
		return
	}
	u := currentUser(r)
	q := db.New(s.pool)
	rating, err := q.UpsertCallRating(r.Context(), db.UpsertCallRatingParams{
		Score: int16(req.Score), Issues: req.Issues, CallID: id, UserID: u.ID,
	})
	if errors.Is(err, db.ErrNotFound) {
		// Nothing written: no such call of this user's, or not one to rate.
		call, err := q.GetUserCall(r.Context(), db.GetUserCallParams{ID: id, UserID: u.ID})
		switch {
		case errors.Is(err, db.ErrNotFound):
			s.callError(w, r, http.StatusNotFound, "not_found", "There is no such call.", 0)
		case err != nil:
			s.serverError(w, r, err)
		case !workflows.IsFinal(call.Status):
			s.callError(w, r, http.StatusUnprocessableEntity, "not_over", "The call is not over yet.", 0)
		default:
			s.callError(w, r, http.StatusUnprocessableEntity, "not_rateable",
				"Only a completed call of at least "+strconv.Itoa(minRatedSeconds)+" seconds can be rated.", 0)
		}
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("call_id", id.String()).Int("score", req.Score).Strs("issues", req.Issues).Msg("call rated")
	s.writeJSON(w, r, http.StatusOK, rateCallResponse{CallID: id.String(), Score: rating.Score, Issues: rating.Issues})
}

// callRatingView is a rating as the console's call page shows it.
type callRatingView struct {
	Score   int16
	Issues  []string // labels
	RatedAt time.Time
	Changed bool // rated again after the first time
}

// loadCallRating reads the call's rating for the console; nil when the
// caller gave none.
func loadCallRating(r *http.Request, q *db.Queries, callID uuid.UUID) (*callRatingView, error) {
	rt, err := q.GetCallRating(r.Context(), callID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &callRatingView{Score: rt.Score, RatedAt: rt.UpdatedAt, Changed: rt.UpdatedAt.After(rt.CreatedAt)}
	for _, code := range rt.Issues {
		v.Issues = append(v.Issues, ratingIssueLabel(code))
	}
	return v, nil
}
