package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// FuzzCalculate feeds the calculate endpoint arbitrary input, signed in (as
// a user of some home country) and out, as JSON and as the HTML fragment: it
// must always answer 200 or 422 with a well-formed body, never panic.
func FuzzCalculate(f *testing.F) {
	assets, err := loadAssets()
	if err != nil {
		f.Fatal(err)
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		f.Fatal(err)
	}
	rates, err := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
	if err != nil {
		f.Fatal(err)
	}
	deck, _ := rating.NewDeck(rates)
	s := &Server{templates: templates, assets: assets, rates: ratedeck.NewFixedStore(deck),
		rules: rating.NewRules(nil, rating.DefaultBlockedPrefixes, 7200, 5000, 100)}

	for _, seed := range []string{"+2348031234567", "0803 123 4567", "911", "+1 900 555 0199", "", "+", "00", "٣", "+1 (268) 464-1234", "\x00\xff"} {
		f.Add(seed, "NG", int64(100), false)
	}
	f.Fuzz(func(t *testing.T, number, home string, balance int64, html bool) {
		req := httptest.NewRequest(http.MethodGet, "/rates/calculate?phone_number="+url.QueryEscape(number), nil)
		if html {
			req.Header.Set("Accept", "text/html")
		}
		if home != "" {
			req = req.WithContext(contextWithUser(req.Context(), &sessionUser{BalanceCents: balance}))
			currentUser(req).HomeCountry = home
		}
		rec := httptest.NewRecorder()
		s.calculate(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("status %d for %q: %s", rec.Code, number, rec.Body)
		}
		if !html && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid JSON for %q: %s", number, rec.Body)
		}
	})
}
