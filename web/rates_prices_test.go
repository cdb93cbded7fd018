package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

type priceListJSON struct {
	Version   string            `json:"version"`
	Countries [][]any           `json:"countries"`
	Blocked   []string          `json:"blocked"`
	Main      map[string]string `json:"main"`
}

func (p priceListJSON) country(code string) []any {
	for _, c := range p.Countries {
		if c[0] == code {
			return c
		}
	}
	return nil
}

// The dialer's price list: every country with a plan, prices for those we
// call, leads that tell the countries of +1 apart; cached for a year under
// its version, revalidated otherwise; a new deck is a new version.
func TestPriceList(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("prices@example.com", "correct horse", "Prices")
	page := b.get("/call")
	m := regexp.MustCompile(`data-dialer-prices-value="(/rates/prices\.json\?v=([0-9a-f]+))"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the dialer names no price list:\n%s", page.body)
	}
	r := b.get(m[1])
	if r.status != 200 || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("ETag") != `"`+m[2]+`"` ||
		r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %v", m[1], r.status, r.header)
	}
	var list priceListJSON
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Version != m[2] {
		t.Fatalf("version %q, want %q", list.Version, m[2])
	}
	// [code, calling code, lead, min digits, max digits, from, to, fee from, fee to]
	ng := list.country("NG")
	if len(ng) != 9 || ng[1] != "234" || ng[5].(float64) <= 0 || ng[5].(float64) > ng[6].(float64) || ng[3].(float64) < 7 {
		t.Errorf("Nigeria: %v", ng)
	}
	in := list.country("IN")
	if len(in) != 9 || in[5].(float64) != 20000 || in[6].(float64) != 20000 {
		t.Errorf("India, one price of $0.02: %v", in)
	}
	if af := list.country("AF"); len(af) != 2 || af[1] != "93" {
		t.Errorf("Afghanistan, which we do not call: %v", af)
	}
	if jm := list.country("JM"); len(jm) < 3 || !strings.Contains(jm[2].(string), "876") {
		t.Errorf("Jamaica's lead: %v", jm)
	}
	if ca := list.country("CA"); len(ca) != 9 || !strings.Contains(ca[2].(string), "204") {
		t.Errorf("Canada, told apart by the deck's area codes: %v", ca)
	}
	if list.Main["1"] != "US" || len(list.Blocked) == 0 {
		t.Errorf("main %v, blocked %v", list.Main, list.Blocked)
	}
	if strings.Contains(r.body, "Nigeria") {
		t.Error("the list carries names (the browser has them)")
	}

	// Revalidation, and a request under another version is not kept.
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+m[1], nil)
	req.Header.Set("If-None-Match", `"`+m[2]+`"`)
	if r := b.do(req); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	if r := b.get("/rates/prices.json?v=old"); r.status != 200 || r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("another version: %d %v", r.status, r.header)
	}

	// A repriced deck (NOTIFY rates_changed) is a new version.
	if _, err := a.pool.Exec(context.Background(), `UPDATE call_rates SET per_minute_micros = per_minute_micros + 1 WHERE prefix = '91'`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(context.Background(), `SELECT pg_notify('rates_changed', '')`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new price list version", func() bool {
		return !strings.Contains(b.get("/call").body, m[1])
	})
}

// "Your balance buys N min" is what the balance buys; the per-call cap is
// said apart, only when it is the lower.
func TestCalculateSaysWhatTheBalanceBuys(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("buys@example.com", "correct horse", "Buys")
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "bonus:buys", AccountID: a.accountOf(t, "buys@example.com"), Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	var q struct {
		MaxMinutes     *int64 `json:"max_minutes"`
		BalanceMinutes *int64 `json:"balance_minutes"`
		CallCapMinutes *int64 `json:"call_cap_minutes"`
	}
	get := func(number string) {
		t.Helper()
		q.MaxMinutes, q.BalanceMinutes, q.CallCapMinutes = nil, nil, nil
		r := b.get("/rates/calculate?phone_number=" + url.QueryEscape(number))
		if err := json.Unmarshal([]byte(r.body), &q); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", number, r.status, r.body)
		}
	}
	get("+91 98765 43210") // India, $0.02/min
	if q.BalanceMinutes == nil || *q.BalanceMinutes != 250 || q.CallCapMinutes == nil || *q.CallCapMinutes != 120 || *q.MaxMinutes != 120 {
		t.Errorf("$5 at $0.02: buys %v, cap %v, max %v; want 250, 120, 120", deref(q.BalanceMinutes), deref(q.CallCapMinutes), deref(q.MaxMinutes))
	}
	get("+234 803 123 4567") // Nigeria, $0.14/min: the balance is the lower
	if q.BalanceMinutes == nil || *q.BalanceMinutes != 35 || q.CallCapMinutes != nil {
		t.Errorf("$5 at $0.14: buys %v, cap %v; want 35 and no cap", deref(q.BalanceMinutes), deref(q.CallCapMinutes))
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/rates/calculate?phone_number="+url.QueryEscape("+91 98765 43210"), nil)
	req.Header.Set("Accept", "text/html")
	if r := b.do(req); !strings.Contains(r.body, "your balance buys <strong>250 min</strong> · a call lasts at most 120 min") {
		t.Errorf("the HTML quote: %s", r.body)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// A place we do not call says so by name; sub-prefixes are in number
// order; a visitor gets a way to sign up and a way back.
func TestRatesWords(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	for q, want := range map[string]string{"afghanistan": "We don't call Afghanistan yet.", "+93": "We don't call Afghanistan yet.", "atlantis": "No country matches"} {
		r := b.get("/rates?q=" + url.QueryEscape(q))
		if !strings.Contains(strings.ReplaceAll(r.body, "&#39;", "'"), want) {
			t.Errorf("q=%s: no %q", q, want)
		}
	}
	if _, q := calculate(t, b, "+93 70 123 4567"); q.Error == nil || q.Error.Message != "We don't call Afghanistan yet." {
		t.Errorf("calculate +93: %+v", q.Error)
	}
	r := b.get("/rates?q=nigeria")
	// By number: +23481 (23,481) before +234803 (234,803), which a sort
	// of the digits as text would swap.
	if i, j := strings.Index(r.body, "+23481<"), strings.Index(r.body, "+234803<"); i < 0 || j < 0 || j < i {
		t.Errorf("prefixes out of number order (+23481 at %d, +234803 at %d)", i, j)
	}
	if !strings.Contains(r.body, `href="/signup"`) || !strings.Contains(r.body, `href="/"`) {
		t.Error("/rates offers a visitor no sign-up or no way back")
	}
	if home := b.get("/"); !strings.Contains(home.body, `href="/rates"`) {
		t.Error("the landing page does not link to the prices")
	}
	b.signUp("back@example.com", "correct horse", "Back")
	if r := b.get("/rates"); !strings.Contains(r.body, `href="/call"`) || strings.Contains(r.body, `<a href="/signup" class="btn`) {
		t.Error("signed in, /rates leads back to the dialer and asks for no sign-up")
	}
}
