package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

const historyPageSize = 20

// callRow is one call as the history, the in-call bar and the call's page
// show it.
type callRow struct {
	Lang                        string // the language its words are in ("" English)
	ID, Number, Country, Status string
	// Name is the contact's name when the number is saved (History).
	Name            string
	BillingState    string
	DurationSeconds int64
	CostCents       int64
	Billed          bool
	Pending         bool      // final, not yet billed (or stuck)
	At              time.Time // in the user's time zone
	Version         int64     // the row's live_version
	// CutSeconds: the talk time a money loss cut the call to (-1: none);
	// CutReason: what lowered the balance (issue 24).
	CutSeconds int64
	CutReason  string
}

// CutNotice says to the caller why their call ends early, or "" without a
// cut.
func (c callRow) CutNotice() string {
	if c.CutSeconds < 0 {
		return ""
	}
	if c.CutReason == "top-up" {
		// A credit raised the call's limit (issue 21), maybe past what
		// authorization covered.
		return i18n.T(c.Lang, "call.cut.top_up", "Minutes", c.CutSeconds/60)
	}
	why := i18n.T(c.Lang, "call.cut.why.balance")
	switch c.CutReason {
	case "refund", "dispute", "adjustment":
		why = i18n.T(c.Lang, "call.cut.why."+c.CutReason)
	}
	if c.CutSeconds == 0 {
		return i18n.T(c.Lang, "call.cut.now", "Why", why)
	}
	return i18n.T(c.Lang, "call.cut.later", "Why", why, "Minutes", c.CutSeconds/60)
}

// Final reports whether the call is over (whatever its billing).
func (c callRow) Final() bool { return workflows.IsFinal(c.Status) }

// Outcome says how a call that is over ended, and what it cost: "Busy —
// nothing charged", "3 min · $0.06". "" while it goes on.
func (c callRow) Outcome() string {
	if !c.Final() {
		return ""
	}
	switch {
	case c.Billed:
		return i18n.T(c.Lang, "call.outcome.billed", "Minutes", rating.BilledMinutes(c.DurationSeconds), "Cost", i18n.Money(c.Lang, c.CostCents))
	case c.Status == workflows.StatusCompleted && c.BillingState == workflows.BillingStuck:
		return i18n.T(c.Lang, "call.outcome.checking")
	case c.Status == workflows.StatusCompleted && c.Pending:
		return i18n.T(c.Lang, "call.outcome.pending")
	case c.Status == workflows.StatusCompleted:
		return i18n.T(c.Lang, "call.outcome.free")
	}
	return i18n.T(c.Lang, "call.outcome.status_free", "Status", i18n.T(c.Lang, "call_status."+c.Status))
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
	p := db.ListNamedCallsPageParams{UserID: u.ID, PageSize: historyPageSize + 1}
	before, set, ok := readCursor(s, w, r, "your history", parseCallCursor)
	if !ok {
		return
	}
	if set {
		p.BeforeAt, p.BeforeID = &before.at, &before.id
	}
	calls, err := db.New(s.pool).ListNamedCallsPage(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var data historyData
	calls, more := pageOf(calls, historyPageSize)
	if more {
		last := calls[len(calls)-1]
		data.Older = olderURL("/history", callCursor{last.Call.CreatedAt, last.Call.ID}.String())
	}
	// Days and times are the person's own (their time zone, Settings).
	loc := accounts.Location(u.User)
	now := time.Now().In(loc)
	for _, c := range calls {
		row := toCallRow(c.Call, loc)
		row.Lang = langOf(r)
		if c.ContactName != nil {
			row.Name = *c.ContactName
		}
		label := dayLabel(row.Lang, row.At, now)
		if len(data.Days) == 0 || data.Days[len(data.Days)-1].Label != label {
			data.Days = append(data.Days, historyDay{Label: label})
		}
		day := &data.Days[len(data.Days)-1]
		day.Calls = append(day.Calls, row)
	}
	s.render(w, r, http.StatusOK, "history", pageData{Tab: "history", Data: data})
}

// toCallRow is c as a person sees it, its time in loc.
func toCallRow(c db.Call, loc *time.Location) callRow {
	row := callRow{ID: c.ID.String(), Number: c.PhoneNumber, Country: accounts.CountryName(c.DestinationCountry), Status: c.Status,
		BillingState: c.BillingState, At: c.CreatedAt.In(loc), Version: c.LiveVersion, CutSeconds: -1}
	if c.CutSeconds != nil {
		row.CutSeconds = int64(*c.CutSeconds)
		if c.CutReason != nil {
			row.CutReason = *c.CutReason
		}
	}
	if c.DurationSeconds != nil {
		row.DurationSeconds = int64(*c.DurationSeconds)
	}
	if c.CostCents != nil {
		row.CostCents = *c.CostCents
		row.Billed = c.BillingState == workflows.BillingCharged
	}
	row.Pending = c.BillingState == workflows.BillingPending || c.BillingState == workflows.BillingStuck
	return row
}

// Keyset pages, History's and Transactions': the query asks for one row
// more than a page, ?before= names the last row shown, and a cursor that
// does not parse is a 400 page.

// readCursor reads ?before= with parse: set is false when there is none;
// ok is false when it does not parse, and the 400 page (naming what,
// "your history") is written.
func readCursor[C any](s *Server, w http.ResponseWriter, r *http.Request, what string, parse func(string) (C, bool)) (c C, set, ok bool) {
	before := r.URL.Query().Get("before")
	if before == "" {
		return c, false, true
	}
	if c, ok = parse(before); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Bad page", "That page of "+what+" does not exist.")
		return c, false, false
	}
	return c, true, true
}

// pageOf keeps the first size of rows (asked for size+1) and says whether
// there are older ones.
func pageOf[T any](rows []T, size int) ([]T, bool) {
	if len(rows) > size {
		return rows[:size], true
	}
	return rows, false
}

// olderURL is the next page's address after the row cursor names.
func olderURL(path, cursor string) string { return path + "?before=" + url.QueryEscape(cursor) }

// callCursor is History's: a call's creation time and id.
type callCursor struct {
	at time.Time
	id uuid.UUID
}

func (c callCursor) String() string { return c.at.UTC().Format(time.RFC3339Nano) + "_" + c.id.String() }

func parseCallCursor(s string) (callCursor, bool) {
	at, idText, ok := strings.Cut(s, "_")
	if !ok {
		return callCursor{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return callCursor{}, false
	}
	id, err := uuid.Parse(idText)
	return callCursor{t, id}, err == nil
}

// dayLabel names t's day as seen from now (both in the user's zone).
func dayLabel(lang string, t, now time.Time) string {
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	yy, ym, yd := now.AddDate(0, 0, -1).Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return i18n.T(lang, "history.today")
	case y1 == yy && m1 == ym && d1 == yd:
		return i18n.T(lang, "history.yesterday")
	}
	return i18n.Date(lang, t)
}

type callDetail struct {
	Call          callRow
	Zone          string // the user's time zone, named
	RatePerMinute string
	RateName      string
	BilledMinutes int64
	MaxSeconds    int64
	BillingState  string
	EndReason     string
	// CarrierReason: why the carrier ended the call, for the caller ("The
	// line was busy."; explainCarrier).
	CarrierReason string
	Entries       []callEntry
	Events        []callStep
}

// callEntry is a ledger entry of a call, in words.
type callEntry struct {
	Label                          string
	At                             time.Time
	AmountCents, BalanceAfterCents int64
}

// callStep is one status of a call's timeline.
type callStep struct {
	Status string
	At     time.Time
}

// entryKindLabel says a ledger entry's kind in words ("Call charge", not
// call_charge). The transactions list titles its entries with more
// (describeEntry: "Call to +234..."); a call's page names the kind only.
func entryKindLabel(kind string) string {
	switch kind {
	case "call_charge":
		return "Call charge"
	case "purchase":
		return "Top-up"
	case "refund":
		return "Refund"
	case "refund_failure":
		return "Refund failed"
	case "dispute":
		return "Dispute"
	case "dispute_reversal":
		return "Dispute won"
	case "bonus":
		return "Bonus"
	case "adjustment":
		return "Adjustment"
	}
	return kind
}

// showCallDetail shows one of the user's calls; another user's is a 404.
func (s *Server) showCallDetail(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	c, ok := loadByID(s, w, r, func(q *db.Queries, ctx context.Context, id uuid.UUID) (db.Call, error) {
		return q.GetUserCall(ctx, db.GetUserCallParams{ID: id, UserID: u.ID})
	})
	if !ok {
		return
	}
	q := db.New(s.pool)
	loc := accounts.Location(u.User)
	row := toCallRow(c, loc)
	row.Lang = langOf(r)
	d := callDetail{Call: row, BillingState: c.BillingState, Zone: loc.String()}
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
	d.CarrierReason = explainCarrier(c).Customer
	d.BilledMinutes = rating.BilledMinutes(d.Call.DurationSeconds)
	if !d.Call.Billed {
		d.BilledMinutes = 0
	}
	entries, err := q.ListCallEntries(r.Context(), &c.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, e := range entries {
		d.Entries = append(d.Entries, callEntry{Label: entryKindLabel(e.Kind), At: e.CreatedAt.In(loc), AmountCents: e.AmountCents, BalanceAfterCents: e.BalanceAfterCents})
	}
	events, err := q.ListCallEvents(r.Context(), c.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, e := range events {
		d.Events = append(d.Events, callStep{Status: e.Status, At: e.OccurredAt.In(loc)})
	}
	s.render(w, r, http.StatusOK, "call_detail", pageData{Tab: "history", Data: d})
}
