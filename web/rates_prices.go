package web

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/mobayilo/mobayilo/internal/accounts"
)

// The dialer's price list (GET /rates/prices.json): every country with a
// numbering plan, and for those we call, what their rates cost. The dialer
// fetches it once, under the deck's version, and prices a number from it as
// the digits arrive, with no request per digit and none at all when the
// network is gone; the server is asked only to confirm a whole number
// (/rates/calculate). A deck change (rates_changed) gives it a new version,
// so the next dialer fetches the new list; the old one is never served as
// current.

// priceList is the JSON. Each country is one array, to keep it small:
//
//	[code, calling code, lead, min digits, max digits, from, to, fee from, fee to]
//
// (no names: the browser knows them, Intl.DisplayNames, and they were half
// the list's bytes);
// lead: a regular expression of the first national digits that make a
// number of a shared calling code this country's (+1 876 is Jamaica), ""
// when the code is its own or its main country's; min/max digits: how long
// its national numbers are; from/to: the lowest and highest per-minute
// price of its enabled rates, in micro-dollars; fee from/to the same for
// the connection fee. A country we do not call ends after its lead (or its
// calling code, with no lead): [code, calling code(, lead)].
type priceList struct {
	Version   string  `json:"version"`
	Countries [][]any `json:"countries"`
	// Blocked are the E.164 digit prefixes never called (premium rate).
	Blocked []string `json:"blocked"`
	// Main names the main country of each calling code several share.
	Main map[string]string `json:"main"`
}

func (s *Server) priceListURL() string {
	return "/rates/prices.json?v=" + s.rates.Version()
}

func (s *Server) buildPriceList() priceList {
	type span struct{ from, to, feeFrom, feeTo int64 }
	served := map[string]*span{}
	prefixes := map[string][]string{} // a country's deck prefixes, for a lead the plan lacks
	for _, r := range s.rates.Deck().Rates() {
		if !r.Enabled || len(s.rules.AllowedCountries) > 0 && !s.rules.AllowedCountries[r.Country] {
			continue
		}
		prefixes[r.Country] = append(prefixes[r.Country], r.Prefix)
		sp := served[r.Country]
		if sp == nil {
			served[r.Country] = &span{r.PerMinuteMicros, r.PerMinuteMicros, r.ConnectionFeeMicros, r.ConnectionFeeMicros}
			continue
		}
		sp.from, sp.to = min(sp.from, r.PerMinuteMicros), max(sp.to, r.PerMinuteMicros)
		sp.feeFrom, sp.feeTo = min(sp.feeFrom, r.ConnectionFeeMicros), max(sp.feeTo, r.ConnectionFeeMicros)
	}
	shared := map[string]int{} // how many countries use a calling code
	for _, c := range accounts.Countries() {
		shared[c.DialCode]++
	}
	list := priceList{Version: s.rates.Version(), Blocked: s.rules.BlockedPrefixes, Countries: make([][]any, 0, len(accounts.Countries())),
		Main: map[string]string{}}
	if list.Blocked == nil {
		list.Blocked = []string{}
	}
	for _, c := range accounts.Countries() {
		code := strings.TrimPrefix(c.DialCode, "+")
		plan := accounts.NumberPlan(c.Code)
		sp := served[c.Code]
		if sp == nil {
			sp = &span{}
		}
		if shared[c.DialCode] > 1 {
			list.Main[code] = mainCountry(code)
		}
		lead := plan.Lead
		if lead == "" && shared[c.DialCode] > 1 && c.Code != mainCountry(code) && len(prefixes[c.Code]) > 0 {
			// The plan tells this country's numbers by their whole form
			// (Canada's area codes): the deck's own prefixes tell them apart.
			lead = deckLead(code, prefixes[c.Code])
		}
		row := []any{c.Code, code, lead, plan.MinDigits, plan.MaxDigits, sp.from, sp.to, sp.feeFrom, sp.feeTo}
		if served[c.Code] == nil {
			row = row[:2]
			if lead != "" {
				row = row[:3]
			}
		}
		list.Countries = append(list.Countries, row)
	}
	return list
}

// mainCountry is the country a shared calling code belongs to by default
// (+1 is the United States).
func mainCountry(callingCode string) string {
	n, _ := strconv.Atoi(callingCode)
	return accounts.MainCountryForCode(n)
}

// deckLead is a lead pattern from a country's deck prefixes: the digits
// after the calling code, longest first so the pattern prefers them.
func deckLead(callingCode string, prefixes []string) string {
	seen := map[string]bool{}
	var rest []string
	for _, p := range prefixes {
		r := strings.TrimPrefix(p, callingCode)
		if r == "" || r == p || seen[r] {
			continue
		}
		seen[r] = true
		rest = append(rest, r)
	}
	sort.Slice(rest, func(i, j int) bool {
		return len(rest[i]) > len(rest[j]) || len(rest[i]) == len(rest[j]) && rest[i] < rest[j]
	})
	return strings.Join(rest, "|")
}

// showPriceList serves the price list. Under the current version it may be
// kept for a year (a new deck has a new URL); otherwise it is revalidated
// by its ETag each time.
func (s *Server) showPriceList(w http.ResponseWriter, r *http.Request) {
	list := s.buildPriceList()
	body, err := json.Marshal(list)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	etag := `"` + list.Version + `"`
	h.Set("ETag", etag)
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == list.Version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz := gzipBytes(body); gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	_, _ = w.Write(body)
}
