package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/rating"
)

const historyPageSize = 20

// callRow is one call as the history shows it.
type callRow struct {
	ID, Number, Country, Status string
	DurationSeconds             int64
	CostCents                   int64
	Billed                      bool
	Pending                     bool // final, not yet billed (or stuck)
	At                          time.Time
}

type historyDay struct {
	Label string
	Calls []callRow
}

type historyData struct {
	Days  []historyDay
	Older string // the next page's URL, when there is one
}

// showHistory lists the user's calls, newest first, by day, a page at a
// time (a keyset cursor: ?before=<unix nanos>_<call id>).
func (s *Server) showHistory(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	p := db.ListCallsPageParams{UserID: u.ID, PageSize: historyPageSize + 1}
	if before := r.URL.Query().Get("before"); before != "" {
		at, id, ok := parseCursor(before)
		if !ok {
			s.errorPage(w, r, http.StatusBadRequest, "Bad page", "That page of your history does not exist.")
			return
		}
		p.BeforeAt, p.BeforeID = &at, &id
	}
	calls, err := db.New(s.pool).ListCallsPage(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var data historyData
	if len(calls) > historyPageSize {
		last := calls[historyPageSize-1]
		data.Older = "/history?before=" + url.QueryEscape(cursor(last.CreatedAt, last.ID))
		calls = calls[:historyPageSize]
	}
	now := time.Now().UTC()
	for _, c := range calls {
		label := dayLabel(c.CreatedAt.UTC(), now)
		if len(data.Days) == 0 || data.Days[len(data.Days)-1].Label != label {
			data.Days = append(data.Days, historyDay{Label: label})
		}
		day := &data.Days[len(data.Days)-1]
		day.Calls = append(day.Calls, toCallRow(c))
	}
	s.render(w, r, http.StatusOK, "history", pageData{Tab: "history", Data: data})
}

func toCallRow(c db.Call) callRow {
	row := callRow{ID: c.ID.String(), Number: c.PhoneNumber, Country: countryName(c.DestinationCountry), Status: c.Status, At: c.CreatedAt}
	if c.DurationSeconds != nil {
		row.DurationSeconds = int64(*c.DurationSeconds)
	}
	if c.CostCents != nil {
		row.CostCents = *c.CostCents
		row.Billed = c.BillingState == "charged"
	}
	row.Pending = c.BillingState == "pending" || c.BillingState == "stuck"
	return row
}

func cursor(at time.Time, id uuid.UUID) string {
	return at.UTC().Format(time.RFC3339Nano) + "_" + id.String()
}

func parseCursor(s string) (time.Time, uuid.UUID, bool) {
	at, idText, ok := strings.Cut(s, "_")
	if !ok {
		return time.Time{}, uuid.Nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, uuid.Nil, false
	}
	id, err := uuid.Parse(idText)
	return t, id, err == nil
}

func dayLabel(t, now time.Time) string {
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return "Today"
	case now.Sub(t) < 48*time.Hour && now.AddDate(0, 0, -1).Day() == d1:
		return "Yesterday"
	case y1 == y2:
		return t.Format("Monday 2 January")
	}
	return t.Format("2 January 2006")
}

type callDetail struct {
	Call          callRow
	RatePerMinute string
	RateName      string
	BilledMinutes int64
	MaxSeconds    int64
	BillingState  string
	EndReason     string
	Entries       []db.Transaction
	Events        []db.CallEvent
}

// showCallDetail shows one of the user's calls; another user's is a 404.
func (s *Server) showCallDetail(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	q := db.New(s.pool)
	c, err := q.GetUserCall(r.Context(), db.GetUserCallParams{ID: id, UserID: u.ID})
	if errors.Is(err, pgx.ErrNoRows) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := callDetail{Call: toCallRow(c), BillingState: c.BillingState}
	if c.PerMinuteMicros != nil {
		d.RatePerMinute = rating.FormatPerMinute(*c.PerMinuteMicros)
	}
	if c.RatePrefix != nil {
		if rate, ok := s.rates.Deck().Lookup(*c.RatePrefix); ok && rate.Prefix == *c.RatePrefix {
			d.RateName = rate.Description
		}
	}
	if c.MaxSeconds != nil {
		d.MaxSeconds = int64(*c.MaxSeconds)
	}
	if c.EndReason != nil {
		d.EndReason = *c.EndReason
	}
	d.BilledMinutes = rating.BilledMinutes(d.Call.DurationSeconds)
	if !d.Call.Billed {
		d.BilledMinutes = 0
	}
	if d.Entries, err = q.ListCallEntries(r.Context(), &c.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Events, err = q.ListCallEvents(r.Context(), c.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "call_detail", pageData{Tab: "history", Data: d})
}
