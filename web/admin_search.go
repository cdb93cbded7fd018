package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// The support console's search box, and its links into the Temporal UI's
// Workflows list.

const (
	// The least of each kind of term that is worth a search: fewer
	// digits, id characters or letters match too much to read.
	minNumberDigits = 4
	minNationalNSN  = 6 // a national number without its trunk 0
	minIDPrefix     = 6
	minSidPrefix    = 4 // characters after CA or pi_
	minNameRunes    = 2
	maxSearchTerm   = 200
)

// searchTerm is what support typed, read as everything it can be; the
// queries match any of the parts set (empty: not that kind).
type searchTerm struct {
	// Email: the calls and top-ups of the user with this email, and the
	// users whose email contains it.
	Email string
	// IDFrom and IDTo: a call, top-up or user id, or the range of ids a
	// typed start of one covers (uuids order as their hex does).
	IDFrom, IDTo *uuid.UUID
	// Sid and PaymentIntent: the start of a Twilio CallSid (either leg)
	// or of a Stripe PaymentIntent id.
	Sid, PaymentIntent string
	// Phone numbers, as digits: NumberPrefix the start of the E.164
	// number (typed with + or 00), NationalNumber its end (typed in
	// national format: the trunk 0 dropped), NumberPart any part of it.
	NumberPrefix, NationalNumber, NumberPart string
	// Name: lower case, part of a display name or of an email before
	// the @.
	Name string
	// Kinds says in words how the term was read, for the page.
	Kinds []string
}

// empty reports whether the term names nothing worth a search (too short).
func (t searchTerm) empty() bool { return len(t.Kinds) == 0 }

// parseSearchTerm reads a search term. A term that is clearly one thing (an
// email, a whole id, a CallSid, a PaymentIntent id) is read as that alone;
// otherwise as every kind it can be, so "0803 123 4567" is a national
// number and part of one, and "3fa85f64" both the start of an id and part
// of a name.
func parseSearchTerm(term string) searchTerm {
	var t searchTerm
	term = strings.TrimSpace(term)
	switch {
	case term == "" || len(term) > maxSearchTerm:
		return t
	case strings.Contains(term, "@"):
		t.Email = strings.ToLower(term)
		t.Kinds = append(t.Kinds, "an email or part of one")
		return t
	case strings.HasPrefix(term, "pi_"):
		if len(term)-len("pi_") >= minSidPrefix {
			t.PaymentIntent = term
			t.Kinds = append(t.Kinds, "the start of a Stripe PaymentIntent id")
		}
		return t
	case isCallSidStart(term):
		t.Sid = term
		t.Kinds = append(t.Kinds, "the start of a Twilio CallSid")
		return t
	}
	if id, err := uuid.Parse(term); err == nil {
		t.IDFrom, t.IDTo = &id, &id
		t.Kinds = append(t.Kinds, "an id")
		return t
	}
	if from, to, ok := idRange(term); ok {
		t.IDFrom, t.IDTo = &from, &to
		t.Kinds = append(t.Kinds, "the start of an id")
	}
	if digits, ok := phoneDigits(term); ok && len(digits) >= minNumberDigits {
		switch {
		case strings.HasPrefix(term, "+"):
			t.NumberPrefix = digits
			t.Kinds = append(t.Kinds, "a number starting +"+digits)
		case strings.HasPrefix(digits, "00") && len(digits) > 2+minNumberDigits:
			// 00, the international access code of most countries.
			t.NumberPrefix = digits[2:]
			t.Kinds = append(t.Kinds, "a number starting +"+digits[2:])
		case strings.HasPrefix(digits, "0") && len(digits)-1 >= minNationalNSN:
			// National format: the trunk 0 is not part of the E.164
			// number, whose end is the rest.
			t.NationalNumber = digits[1:]
			t.Kinds = append(t.Kinds, "a national number (ending "+digits[1:]+")")
		}
		t.NumberPart = digits
		t.Kinds = append(t.Kinds, "part of a number ("+digits+")")
	}
	if strings.ContainsFunc(term, unicode.IsLetter) && utf8.RuneCountInString(term) >= minNameRunes {
		t.Name = strings.ToLower(term)
		t.Kinds = append(t.Kinds, "part of a name, or of an email before the @")
	}
	return t
}

// isCallSidStart reports whether s is the start of a Twilio CallSid: CA
// and then hex digits (34 characters in all).
func isCallSidStart(s string) bool {
	rest, ok := strings.CutPrefix(s, "CA")
	return ok && len(rest) >= minSidPrefix && len(rest) <= 32 && isHex(rest)
}

// idRange reads the start of a uuid (at least minIDPrefix hex digits,
// dashes ignored) as the range of ids it covers.
func idRange(s string) (from, to uuid.UUID, ok bool) {
	hex := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(hex) < minIDPrefix || len(hex) > 32 || !isHex(hex) {
		return from, to, false
	}
	from, errFrom := uuid.Parse(hex + strings.Repeat("0", 32-len(hex)))
	to, errTo := uuid.Parse(hex + strings.Repeat("f", 32-len(hex)))
	return from, to, errFrom == nil && errTo == nil
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdefABCDEF") == ""
}

// phoneDigits is the digits of s if s is written as a phone number is:
// digits, spaces and - ( ) . /, and a + only first.
func phoneDigits(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.', r == '/':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// likeEscape makes s match itself inside a LIKE pattern (backslash is
// Postgres's default escape).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

type searchData struct {
	Query string
	// Kinds: how the term was read; TooShort: it was read as nothing;
	// TooLong: it was not read.
	Kinds             []string
	TooShort, TooLong bool
	Calls             []db.SearchCallsRow
	TopUps            []db.SearchTopUpsRow
	Users             []db.SearchUsersRow
	// Limit: each list holds at most this many (the newest).
	Limit int
}

// searchLimit is the LIMIT of the Search* queries.
const searchLimit = 50

// showAdminSearch finds calls, top-ups and users by whatever support was
// given: an email or part of one, a phone number in any format or part of
// one, a name, an id or its start, or the start of a Twilio CallSid or a
// Stripe PaymentIntent id.
func (s *Server) showAdminSearch(w http.ResponseWriter, r *http.Request) {
	term := strings.TrimSpace(r.URL.Query().Get("q"))
	d := searchData{Query: term, Limit: searchLimit}
	switch {
	case len(term) > maxSearchTerm:
		d.TooLong = true
	case term != "":
		t := parseSearchTerm(term)
		d.Kinds, d.TooShort = t.Kinds, t.empty()
		if !t.empty() {
			var err error
			if d.Calls, d.TopUps, d.Users, err = s.search(r.Context(), t); err != nil {
				s.serverError(w, r, err)
				return
			}
		}
	}
	s.render(w, r, http.StatusOK, "admin_search", pageData{Tab: "admin", Data: d})
}

func (s *Server) search(ctx context.Context, t searchTerm) ([]db.SearchCallsRow, []db.SearchTopUpsRow, []db.SearchUsersRow, error) {
	q := db.New(s.pool)
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	cp := db.SearchCallsParams{IDFrom: t.IDFrom, IDTo: t.IDTo, Sid: opt(t.Sid), NumberPrefix: opt(t.NumberPrefix),
		NationalNumber: opt(t.NationalNumber), NumberPart: opt(t.NumberPart), Email: opt(t.Email)}
	tp := db.SearchTopUpsParams{IDFrom: t.IDFrom, IDTo: t.IDTo, PaymentIntent: opt(t.PaymentIntent), Email: opt(t.Email)}
	up := db.SearchUsersParams{IDFrom: t.IDFrom, IDTo: t.IDTo, EmailPart: opt(t.Email)}
	if t.Name != "" {
		up.NameLike = opt(likeEscape(t.Name))
	}
	// A CallSid or PaymentIntent id is looked up whole first (the unique
	// indexes), and as a start only when no row has it whole (a scan).
	calls, err := q.SearchCalls(ctx, cp)
	if err == nil && len(calls) == 0 && cp.Sid != nil {
		cp.Sid, cp.SidPrefix = nil, cp.Sid
		calls, err = q.SearchCalls(ctx, cp)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	topups, err := q.SearchTopUps(ctx, tp)
	if err == nil && len(topups) == 0 && tp.PaymentIntent != nil {
		tp.PaymentIntent, tp.PaymentIntentPrefix = nil, tp.PaymentIntent
		topups, err = q.SearchTopUps(ctx, tp)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	users, err := q.SearchUsers(ctx, up)
	return calls, topups, users, err
}

// Links into the Temporal UI's Workflows list carry a visibility query, as
// the UI's own routeForWorkflowsWithQuery writes them:
// <ui>/namespaces/<ns>/workflows?query=<the query, URL-encoded>. Every
// value in them is one of our ids or an ISO country code.

// temporalListLink is the Temporal UI's list of the workflows query
// matches ("" without a UI URL).
func (s *Server) temporalListLink(query string) string {
	if s.cfg.TemporalUIURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(s.cfg.TemporalNamespace) +
		"/workflows?" + url.Values{"query": {query}}.Encode()
}

// userWorkflowsQuery lists every workflow of a user, calls and top-ups:
// both carry the UserID search attribute from their start.
func userWorkflowsQuery(userID string) string {
	return workflows.SearchAttrUserID.GetName() + " = " + strconv.Quote(userID)
}

// countryFailedCallsQuery lists the calls to a country whose status is
// failed (the carrier's "failed", not busy or unanswered).
func countryFailedCallsQuery(country string) string {
	return `WorkflowType = "` + workflows.CallWorkflowName + `" AND ` +
		workflows.SearchAttrDestinationCountry.GetName() + " = " + strconv.Quote(country) + " AND " +
		workflows.SearchAttrCallStatus.GetName() + " = " + strconv.Quote(workflows.StatusFailed)
}
