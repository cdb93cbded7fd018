package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

func TestRatesListAndSearch(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	all := b.get("/rates")
	if all.status != 200 || !strings.Contains(all.body, "Nigeria") || !strings.Contains(all.body, "Ghana") || !strings.Contains(all.body, `<turbo-frame id="rates-list"`) {
		t.Fatalf("GET /rates: %d", all.status)
	}
	if strings.Contains(all.body, "Antigua") {
		t.Error("a disabled destination is listed")
	}
	for q, want := range map[string][2]string{
		"nigeria": {"Nigeria", "Ghana"},
		"+233":    {"Ghana", "Nigeria"},
		"233 24":  {"Ghana", "Kenya"},
		"KE":      {"Kenya", "Ghana"},
		"ni":      {"Nigeria", "United Kingdom"},
		"kingdom": {"United Kingdom", "Nigeria"},
	} {
		r := b.get("/rates?q=" + url.QueryEscape(q))
		has := func(name string) bool { return strings.Contains(r.body, `<span class="font-semibold">`+name+`</span>`) }
		if r.status != 200 || !has(want[0]) || has(want[1]) {
			t.Errorf("q=%q: want %s and not %s", q, want[0], want[1])
		}
	}
	if r := b.get("/rates?q=atlantis"); !strings.Contains(r.body, "No country matches") {
		t.Error("no empty state for an unmatched search")
	}
}

type quoteJSON struct {
	E164          string `json:"e164"`
	Country       string `json:"country"`
	CountryName   string `json:"country_name"`
	Description   string `json:"description"`
	RatePerMinute string `json:"rate_per_minute"`
	Micros        int64  `json:"rate_per_minute_micros"`
	MaxMinutes    *int64 `json:"max_minutes"`
	CanCall       bool   `json:"can_call"`
	Error         *struct {
		Code, Message string
		NeededCents   int64 `json:"needed_cents"`
	} `json:"error"`
}

func calculate(t *testing.T, b *browser, number string) (int, quoteJSON) {
	t.Helper()
	r := b.get("/rates/calculate?phone_number=" + url.QueryEscape(number))
	var q quoteJSON
	if err := json.Unmarshal([]byte(r.body), &q); err != nil {
		t.Fatalf("%s: %q: %v", number, r.body, err)
	}
	return r.status, q
}

func TestCalculate(t *testing.T) {
	a := newApp(t, nil)
	anon := a.browser()

	status, q := calculate(t, anon, "+234 803 123 4567")
	if status != 200 || q.E164 != "+2348031234567" || q.Country != "NG" || q.Description != "Nigeria mobile (MTN)" || q.RatePerMinute != "$0.14/min" || q.MaxMinutes != nil {
		t.Fatalf("signed out: %d %+v", status, q)
	}
	for number, code := range map[string]string{
		"911":              "emergency",
		"+1 900 555 0199":  "blocked_prefix",
		"+1 268 464 1234":  "destination_disabled",
		"+7 912 345 67 89": "no_rate",
		"hello":            "invalid_characters",
		"0803 123 4567":    "invalid", // national format needs a home country
		"":                 "empty",
	} {
		status, q := calculate(t, anon, number)
		if status != http.StatusUnprocessableEntity || q.Error == nil || q.Error.Code != code || q.Error.Message == "" {
			t.Errorf("%q: %d %+v, want 422 %s", number, status, q.Error, code)
		}
	}

	// Signed in: national format in the home country, and minutes for the balance.
	b := a.browser()
	b.signUp("rate@example.com", "correct horse", "R") // home country NG
	status, q = calculate(t, b, "0803 123 4567")
	if status != 200 || q.E164 != "+2348031234567" || q.MaxMinutes == nil || *q.MaxMinutes != 0 || q.CanCall || q.Error == nil ||
		q.Error.Code != "insufficient_balance" || q.Error.NeededCents != 14 {
		t.Fatalf("zero balance: %d %+v %+v", status, q, q.Error)
	}
	ctx := context.Background()
	var accountID uuid.UUID
	if err := a.pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'rate@example.com'`).Scan(&accountID); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(a.pool).Post(ctx, ledger.Entry{Key: "bonus:test", AccountID: accountID, Kind: ledger.Bonus, AmountCents: 100}); err != nil {
		t.Fatal(err)
	}
	status, q = calculate(t, b, "0803 123 4567")
	if status != 200 || q.MaxMinutes == nil || *q.MaxMinutes != 7 || !q.CanCall || q.Error != nil { // $1.00 at $0.14: 7 minutes
		t.Fatalf("with $1: %d %+v", status, q)
	}
}

func TestCalculateHTMLFragment(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/rates/calculate?phone_number="+url.QueryEscape("+254 712 345678"), nil)
	req.Header.Set("Accept", "text/html, application/xhtml+xml")
	req.Header.Set("Turbo-Frame", "rate-quote")
	r := b.do(req)
	if r.status != 200 || !strings.HasPrefix(strings.TrimSpace(r.body), `<turbo-frame id="rate-quote">`) || !strings.Contains(r.body, "Kenya mobile") || !strings.Contains(r.body, "$0.09/min") {
		t.Fatalf("fragment: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "<html") {
		t.Fatal("the fragment is a whole page")
	}
}
