package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// The support console's rate deck: the deck as Postgres holds it, filtered;
// enabling and disabling one destination; and replacing the deck from a
// CSV file, checked first (as `mobayilo rates import -dry-run`) or applied
// (as `mobayilo rates import`). Every change NOTIFYs rates_changed, so
// every instance's in-memory index follows.

const (
	// adminRatesShown caps the rows rendered: a deck may hold 20,000.
	adminRatesShown = 200
	// maxDeckUpload is the largest deck file accepted.
	maxDeckUpload = 5 << 20
	// badLinesShown and diffRowsShown cap what an import result renders;
	// the counts are always whole.
	badLinesShown = 1000
	diffRowsShown = 500
)

// rateRow is one rate as the console shows it: exact amounts, as the deck
// file writes them.
type rateRow struct {
	Prefix, Country, Description, PerMinute, Fee string
	HasFee, Enabled                              bool
}

func rowOf(r rating.Rate) rateRow {
	return rateRow{Prefix: r.Prefix, Country: r.Country, Description: r.Description,
		PerMinute: "$" + rating.FormatDollars(r.PerMinuteMicros) + "/min",
		Fee:       "$" + rating.FormatDollars(r.ConnectionFeeMicros), HasFee: r.ConnectionFeeMicros != 0, Enabled: r.Enabled}
}

// fieldChange is one field of a changed rate, before and after.
type fieldChange struct{ Name, Before, After string }

// changeRow is one prefix of a diff: the rate after (before, when removed)
// and, for a change, the fields that differ.
type changeRow struct {
	rateRow
	Fields []fieldChange
}

// diffView is a deck diff for the page: whole counts, capped lists.
type diffView struct {
	Added, Changed, Removed          []changeRow
	AddedN, ChangedN, RemovedN, Same int
	// Enables and Disables count the changed prefixes whose enabled flag
	// flips: a file exported before support disabled a destination enables
	// it again.
	Enables, Disables int
}

// More is how many rows of a list of n are not shown.
func (diffView) More(n int) int { return max(0, n-diffRowsShown) }

// Empty reports whether nothing would change.
func (d diffView) Empty() bool { return d.AddedN+d.ChangedN+d.RemovedN == 0 }

func viewOf(d ratedeck.Diff) diffView {
	v := diffView{AddedN: len(d.Added), ChangedN: len(d.Changed), RemovedN: len(d.Removed), Same: d.Unchanged}
	for _, c := range d.Changed {
		switch {
		case c.After.Enabled && !c.Before.Enabled:
			v.Enables++
		case c.Before.Enabled && !c.After.Enabled:
			v.Disables++
		}
	}
	for _, c := range d.Added[:min(len(d.Added), diffRowsShown)] {
		v.Added = append(v.Added, changeRow{rateRow: rowOf(c.After)})
	}
	for _, c := range d.Changed[:min(len(d.Changed), diffRowsShown)] {
		before, after := rowOf(c.Before), rowOf(c.After)
		row := changeRow{rateRow: after}
		for _, f := range []fieldChange{
			{"country", before.Country, after.Country},
			{"description", before.Description, after.Description},
			{"per minute", before.PerMinute, after.PerMinute},
			{"connection fee", before.Fee, after.Fee},
			{"enabled", strconv.FormatBool(before.Enabled), strconv.FormatBool(after.Enabled)},
		} {
			if f.Before != f.After {
				row.Fields = append(row.Fields, f)
			}
		}
		v.Changed = append(v.Changed, row)
	}
	for _, c := range d.Removed[:min(len(d.Removed), diffRowsShown)] {
		v.Removed = append(v.Removed, changeRow{rateRow: rowOf(c.Before)})
	}
	return v
}

// deckImport is the result of an uploaded deck file.
type deckImport struct {
	FileName string
	Applied  bool                 // the deck was replaced; false for a check
	Bad      []ratedeck.LineError // the file's problems (first badLinesShown)
	BadN     int
	Diff     diffView
}

type adminRatesData struct {
	Query, State    string // the filter: text, and "", "enabled" or "disabled"
	Rates           []rateRow
	Matches         int // rows matching the filter; at most adminRatesShown are shown
	Total, Disabled int // the whole deck
	Import          *deckImport
}

// showAdminRates lists the deck, filtered by ?q= (a prefix or a number, a
// country code, or words of the description or country name) and
// ?state=enabled|disabled.
func (s *Server) showAdminRates(w http.ResponseWriter, r *http.Request) {
	s.renderAdminRates(w, r, http.StatusOK, r.URL.Query().Get("q"), r.URL.Query().Get("state"), pageData{})
}

// renderAdminRates renders the deck page with the filter applied; p brings
// the form values, errors and import result of a submission.
func (s *Server) renderAdminRates(w http.ResponseWriter, r *http.Request, status int, query, state string, p pageData) {
	d, _ := p.Data.(adminRatesData)
	d.Query, d.State = cleanRatesFilter(query, state)
	// Postgres, not the in-memory index: the page shows a change the moment
	// it is committed, before any instance has reloaded.
	rates, err := db.New(s.pool).ListRates(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Total = len(rates)
	match := rateMatcher(d.Query)
	for _, rate := range rates {
		if !rate.Enabled {
			d.Disabled++
		}
		if (d.State == "enabled" && !rate.Enabled) || (d.State == "disabled" && rate.Enabled) || !match(rate) {
			continue
		}
		d.Matches++
		if len(d.Rates) < adminRatesShown {
			d.Rates = append(d.Rates, rowOf(rating.Rate{Prefix: rate.Prefix, Country: rate.Country, Description: rate.Description,
				PerMinuteMicros: rate.PerMinuteMicros, ConnectionFeeMicros: rate.ConnectionFeeMicros, Enabled: rate.Enabled}))
		}
	}
	p.Tab, p.Data = "admin", d
	s.render(w, r, status, "admin_rates", p)
}

func cleanRatesFilter(query, state string) (string, string) {
	query = strings.TrimSpace(query)
	if len(query) > 100 {
		query = query[:100]
	}
	if state != "enabled" && state != "disabled" {
		state = ""
	}
	return query, state
}

// rateMatcher matches rates to a filter: digits (with or without +, spaces
// or dashes) find the prefixes that start with them and those that would
// price them as a number; an ISO country code finds that country's rates;
// other text finds the rates whose description or country name holds it.
func rateMatcher(query string) func(db.CallRate) bool {
	if query == "" {
		return func(db.CallRate) bool { return true }
	}
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == '+' || r == ' ' || r == '-':
			return -1
		}
		return 'x'
	}, query)
	if digits != "" && !strings.Contains(digits, "x") {
		return func(r db.CallRate) bool {
			return strings.HasPrefix(r.Prefix, digits) || strings.HasPrefix(digits, r.Prefix)
		}
	}
	if code := strings.ToUpper(query); len(code) == 2 && accounts.IsCountry(code) {
		return func(r db.CallRate) bool { return r.Country == code }
	}
	text := strings.ToLower(query)
	names := map[string]string{} // country code -> lower-case name
	return func(r db.CallRate) bool {
		name, ok := names[r.Country]
		if !ok {
			name = strings.ToLower(accounts.CountryName(r.Country))
			names[r.Country] = name
		}
		return strings.Contains(strings.ToLower(r.Description), text) || strings.Contains(name, text)
	}
}

// adminRatesURL is the deck page with a filter, to return to after a
// change.
func adminRatesURL(query, state string) string {
	query, state = cleanRatesFilter(query, state)
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if state != "" {
		v.Set("state", state)
	}
	if len(v) == 0 {
		return "/admin/rates"
	}
	return "/admin/rates?" + v.Encode()
}

// errNoReason: a rate disabled without a reason; nothing is changed.
var errNoReason = errors.New("web: a reason is required")

func (s *Server) enableRate(w http.ResponseWriter, r *http.Request)  { s.setRateEnabled(w, r, true) }
func (s *Server) disableRate(w http.ResponseWriter, r *http.Request) { s.setRateEnabled(w, r, false) }

// setRateEnabled enables or disables one prefix and records it in the audit
// log, in one transaction (ratedeck.SetEnabled tells every instance); then
// back to the filtered deck.
func (s *Server) setRateEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	prefix := chi.URLParam(r, "prefix")
	if !ratedeck.ValidPrefix(prefix) {
		s.notFound(w, r)
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	query, state := r.PostForm.Get("q"), r.PostForm.Get("state")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if utf8.RuneCountInString(reason) > 500 {
		s.renderAdminRates(w, r, http.StatusUnprocessableEntity, query, state, pageData{
			Errors: map[string]string{"form": "The reason for +" + prefix + " is too long: 500 characters at most. Nothing was changed."}})
		return
	}

	action := "rate_disable"
	if enabled {
		action = "rate_enable"
	}
	admin := currentUser(r)
	row, err := ratedeck.SetEnabled(r.Context(), s.pool, prefix, enabled, func(q *db.Queries, rate rating.Rate) error {
		if !enabled && utf8.RuneCountInString(reason) < 3 {
			// Disabling refuses every call to the prefix: it says why.
			return errNoReason
		}
		_, err := s.audit(r.Context(), q, admin.ID, auditEntry{Action: action, TargetType: "rate", TargetID: prefix, Reason: reason,
			Details: map[string]any{"country": rate.Country, "description": rate.Description}})
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		s.notFound(w, r)
		return
	}
	if errors.Is(err, errNoReason) {
		s.renderAdminRates(w, r, http.StatusUnprocessableEntity, query, state, pageData{
			Errors: map[string]string{"form": "Say why +" + prefix + " is disabled (at least 3 characters): calls there will be refused. Nothing was changed."}})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("admin_id", admin.ID.String()).Str("prefix", prefix).Bool("enabled", enabled).Msg("admin: " + action)
	if enabled {
		s.setFlash(r, "+"+prefix+" "+row.Description+" is enabled: calls there are priced and connected again.")
	} else {
		s.setFlash(r, "+"+prefix+" "+row.Description+" is disabled: calls there are refused until it is enabled again.")
	}
	http.Redirect(w, r, adminRatesURL(query, state), http.StatusSeeOther)
}

// importRates checks or applies an uploaded deck file: every line is
// validated first, and a file with any bad line is shown back (422) with
// each problem by line, nothing applied. "Check" shows what the file would
// change and applies nothing; "Import" replaces the deck in one
// transaction, records it, and shows what changed.
//
// The form is submitted without Turbo (data-turbo="false"), so the page a
// check or an import answers (200) is rendered.
func (s *Server) importRates(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxDeckUpload+64<<10)
	invalid := func(status int, form url.Values, errs map[string]string, imp *deckImport) {
		s.renderAdminRates(w, r, status, "", "", pageData{Form: form, Errors: errs, Data: adminRatesData{Import: imp}})
	}
	if err := r.ParseMultipartForm(maxDeckUpload + 64<<10); err != nil {
		var tooBig *http.MaxBytesError
		msg := "Choose a deck file (CSV) to check or import."
		if errors.As(err, &tooBig) {
			msg = "That file is too large: a deck file may be 5 MB at most."
		}
		invalid(http.StatusUnprocessableEntity, nil, map[string]string{"deck": msg}, nil)
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	form := r.PostForm
	apply := form.Get("action") == "import" // anything else is a check
	reason := strings.TrimSpace(form.Get("reason"))
	errs := map[string]string{}
	file, header, err := r.FormFile("deck")
	switch {
	case errors.Is(err, http.ErrMissingFile):
		errs["deck"] = "Choose a deck file (CSV) to check or import."
	case err != nil:
		s.serverError(w, r, err)
		return
	case header.Size > maxDeckUpload:
		errs["deck"] = "That file is too large: a deck file may be 5 MB at most."
	}
	if file != nil {
		defer file.Close()
	}
	if n := utf8.RuneCountInString(reason); apply && n < 3 {
		errs["reason"] = "Say why the deck is being replaced (at least 3 characters)."
	} else if n > 500 {
		errs["reason"] = "Keep the reason to 500 characters."
	}
	if len(errs) > 0 {
		invalid(http.StatusUnprocessableEntity, form, errs, nil)
		return
	}
	// A check changes nothing; replacing the deck is sensitive.
	if apply && !s.confirmPassword(w, r, form, "import_password", func(status int, errs map[string]string) {
		invalid(status, form, errs, nil)
	}) {
		return
	}
	data, err := io.ReadAll(file)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	imp := &deckImport{FileName: fileName(header.Filename)}
	rates, err := ratedeck.Parse(bytes.NewReader(data))
	var bad *ratedeck.InvalidError
	if errors.As(err, &bad) {
		imp.Bad, imp.BadN = bad.Lines[:min(len(bad.Lines), badLinesShown)], len(bad.Lines)
		invalid(http.StatusUnprocessableEntity, form, nil, imp)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !apply {
		current, err := ratedeck.Load(r.Context(), db.New(s.pool))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		imp.Diff = viewOf(ratedeck.DiffOf(current, rates))
		s.renderAdminRates(w, r, http.StatusOK, "", "", pageData{Form: form, Data: adminRatesData{Import: imp}})
		return
	}
	diff, err := ratedeck.Replace(r.Context(), s.pool, rates)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	imp.Applied, imp.Diff = true, viewOf(diff)
	sum := sha256.Sum256(data)
	admin := currentUser(r)
	// Replace commits its own transaction, so the record follows it: should
	// it fail, the log line below still tells who replaced the deck.
	_, auditErr := s.audit(context.WithoutCancel(r.Context()), db.New(s.pool), admin.ID, auditEntry{Action: "rates_import", TargetType: "deck", TargetID: "deck",
		Reason: reason, Details: map[string]any{"file": imp.FileName, "sha256": hex.EncodeToString(sum[:]), "prefixes": len(rates),
			"added": len(diff.Added), "changed": len(diff.Changed), "removed": len(diff.Removed), "unchanged": diff.Unchanged}})
	ev := s.log.Info()
	if auditErr != nil {
		ev = s.log.Error().Err(auditErr)
	}
	ev.Str("admin_id", admin.ID.String()).Str("file", imp.FileName).Str("sha256", hex.EncodeToString(sum[:])).
		Int("added", len(diff.Added)).Int("changed", len(diff.Changed)).Int("removed", len(diff.Removed)).Msg("admin: rates_import")
	flash := "The deck was replaced: " + strconv.Itoa(len(diff.Added)) + " added, " + strconv.Itoa(len(diff.Changed)) + " changed, " +
		strconv.Itoa(len(diff.Removed)) + " removed. Every instance picks it up now."
	if auditErr != nil {
		flash += " Recording it in the audit log failed: tell engineering."
	}
	s.renderAdminRates(w, r, http.StatusOK, "", "", pageData{Flash: flash, Data: adminRatesData{Import: imp}})
}

// fileName is an uploaded file's base name, bounded, for the page and the
// audit record.
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" {
		name = "deck.csv"
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	return name
}
