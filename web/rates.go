package web

import (
	"bytes"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// countryRates is one country of the public rate list.
type countryRates struct {
	Code, Name, DialCode string
	FromMicros, ToMicros int64
	Rates                []rating.Rate
}

type ratesData struct {
	Query     string
	Countries []countryRates
	Total     int // countries before filtering
	// NotServed names the countries the query finds that we do not call
	// (no rate, or not allowed), when it finds no country we do.
	NotServed []string
}

// showRates lists the enabled destinations by country, filtered by name,
// ISO code or dial code. The search form targets the rates-list Turbo Frame,
// so the list updates as the person types.
func (s *Server) showRates(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 60 {
		q = q[:60]
	}
	all := s.countryRates()
	data := ratesData{Query: q, Total: len(all)}
	served := map[string]bool{}
	for _, c := range all {
		served[c.Code] = true
		if matchesCountry(c, q) {
			data.Countries = append(data.Countries, c)
		}
	}
	if len(data.Countries) == 0 && q != "" {
		for _, c := range accounts.Countries() {
			place := countryRates{Code: c.Code, Name: c.Name, DialCode: c.DialCode, Rates: []rating.Rate{{Prefix: strings.TrimPrefix(c.DialCode, "+")}}}
			if !served[c.Code] && matchesCountry(place, q) && len(data.NotServed) < 3 {
				data.NotServed = append(data.NotServed, c.Name)
			}
		}
	}
	s.render(w, r, http.StatusOK, "rates", pageData{Tab: "dial", Data: data})
}

func (s *Server) countryRates() []countryRates {
	byCountry := map[string]*countryRates{}
	for _, r := range s.rates.Deck().Rates() {
		if !r.Enabled || len(s.rules.AllowedCountries) > 0 && !s.rules.AllowedCountries[r.Country] {
			continue
		}
		c := byCountry[r.Country]
		if c == nil {
			c = &countryRates{Code: r.Country, Name: accounts.CountryName(r.Country), DialCode: dialCode(r.Country), FromMicros: r.PerMinuteMicros, ToMicros: r.PerMinuteMicros}
			byCountry[r.Country] = c
		}
		c.FromMicros = min(c.FromMicros, r.PerMinuteMicros)
		c.ToMicros = max(c.ToMicros, r.PerMinuteMicros)
		c.Rates = append(c.Rates, r)
	}
	out := make([]countryRates, 0, len(byCountry))
	for _, c := range byCountry {
		// By number, as a person reads them: +44 7 before +44 20.
		sort.Slice(c.Rates, func(i, j int) bool {
			a, _ := strconv.ParseUint(c.Rates[i].Prefix, 10, 64)
			b, _ := strconv.ParseUint(c.Rates[j].Prefix, 10, 64)
			return a < b
		})
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func matchesCountry(c countryRates, q string) bool {
	if q == "" {
		return true
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == '+' || r == ' ' || r == '-' {
			return -1
		}
		return 'x'
	}, q)
	if digits != "" && !strings.Contains(digits, "x") {
		for _, r := range c.Rates {
			if strings.HasPrefix(r.Prefix, digits) || strings.HasPrefix(digits, r.Prefix) {
				return true
			}
		}
		return false
	}
	// A name matches when it, or one of its words, starts with the query:
	// "ni" finds Nigeria, not United Kingdom.
	q = strings.ToLower(q)
	name := strings.ToLower(c.Name)
	if strings.HasPrefix(name, q) || strings.EqualFold(c.Code, q) {
		return true
	}
	for _, word := range strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '-' || r == '\'' || r == '(' }) {
		if strings.HasPrefix(word, q) {
			return true
		}
	}
	return false
}

func dialCode(code string) string {
	c, _ := accounts.LookupCountry(code)
	return c.DialCode
}

// quote is the answer of /rates/calculate.
type quote struct {
	E164                string `json:"e164,omitempty"`
	Country             string `json:"country,omitempty"`
	CountryName         string `json:"country_name,omitempty"`
	NumberType          string `json:"number_type,omitempty"`
	Description         string `json:"description,omitempty"`
	RatePerMinuteMicros int64  `json:"rate_per_minute_micros,omitempty"`
	RatePerMinute       string `json:"rate_per_minute,omitempty"`
	ConnectionFeeMicros int64  `json:"connection_fee_micros,omitempty"`
	MinimumCents        int64  `json:"minimum_cents,omitempty"`
	BalanceCents        *int64 `json:"balance_cents,omitempty"`
	// MaxMinutes is how long a call may last: what the balance buys, or
	// the per-call cap when that is lower.
	MaxMinutes *int64 `json:"max_minutes,omitempty"`
	// BalanceMinutes is what the balance buys at this rate, whatever the
	// cap; CallCapMinutes is the per-call cap, only when it is the lower.
	BalanceMinutes *int64      `json:"balance_minutes,omitempty"`
	CallCapMinutes *int64      `json:"call_cap_minutes,omitempty"`
	CanCall        bool        `json:"can_call"`
	Error          *quoteError `json:"error,omitempty"`
}

// quoteView is the quote partial's data: the quote and the page's language.
type quoteView struct {
	quote
	Lang string
}

type quoteError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	NeededCents int64  `json:"needed_cents,omitempty"`
}

// calculate prices a number for the dialer: JSON by default, or the quote
// fragment (a Turbo Frame) when the dialer asks for HTML. A number that
// cannot be called answers 422 with a message a person understands.
func (s *Server) calculate(w http.ResponseWriter, r *http.Request) {
	q := s.quote(r, r.URL.Query().Get("phone_number"))
	status := http.StatusOK
	if q.Error != nil && q.Error.Code != workflows.RefusalInsufficientBalance {
		status = http.StatusUnprocessableEntity
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		var buf bytes.Buffer
		if err := s.templates["rates"].ExecuteTemplate(&buf, "quote", quoteView{quote: q, Lang: langOf(r)}); err != nil {
			s.serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = buf.WriteTo(w)
		return
	}
	s.writeJSON(w, r, status, q)
}

func (s *Server) quote(r *http.Request, input string) quote {
	home := ""
	u := currentUser(r)
	if u != nil {
		home = u.HomeCountry
	}
	n, err := rating.ParseNumber(input, home)
	if err != nil {
		var ne *rating.NumberError
		var ee *rating.EmergencyError
		switch {
		case errors.As(err, &ee):
			return quote{Error: &quoteError{Code: ee.Reason, Message: ee.Message}}
		case errors.As(err, &ne):
			return quote{Error: &quoteError{Code: ne.Reason, Message: ne.Message}}
		}
		return quote{Error: &quoteError{Code: "invalid", Message: "That does not look like a phone number."}}
	}
	out := quote{E164: n.E164, Country: n.Country, CountryName: accounts.CountryName(n.Country), NumberType: string(n.Type)}
	rate, err := s.rules.Price(n, s.rates.Deck(), out.CountryName)
	var refusal *rating.Refusal
	if errors.As(err, &refusal) {
		out.Error = &quoteError{Code: refusal.Reason, Message: refusal.Message}
		return out
	}
	out.Description = rate.Description
	out.RatePerMinuteMicros = rate.PerMinuteMicros
	out.RatePerMinute = rating.FormatPerMinute(rate.PerMinuteMicros)
	out.ConnectionFeeMicros = rate.ConnectionFeeMicros
	out.MinimumCents = rating.MinimumCents(rate)
	if u == nil {
		return out
	}
	balance := u.BalanceCents
	minutes := rating.MaxSeconds(balance, rate, s.rules.MaxCallSeconds) / 60
	buys := rating.MaxSeconds(balance, rate, 0) / 60
	out.BalanceCents, out.MaxMinutes, out.BalanceMinutes = &balance, &minutes, &buys
	if capMinutes := s.rules.MaxCallSeconds / 60; s.rules.MaxCallSeconds > 0 && capMinutes < buys {
		out.CallCapMinutes = &capMinutes
	}
	out.CanCall = minutes > 0
	if !out.CanCall {
		need := out.MinimumCents
		out.Error = &quoteError{Code: workflows.RefusalInsufficientBalance, NeededCents: need,
			Message: "A call to " + rate.Description + " needs at least " + Money(need) + " for the first minute. Add credit to call."}
	}
	return out
}
