package rating

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestParseNumber(t *testing.T) {
	cases := []struct {
		input, home string
		e164, cty   string
		typ         NumberType
		reason      string // NumberError.Reason when refused
	}{
		{"+234 803 123 4567", "US", "+2348031234567", "NG", Mobile, ""},
		{"+2348031234567", "", "+2348031234567", "NG", Mobile, ""},
		{"00234-803-123-4567", "GB", "+2348031234567", "NG", Mobile, ""},
		{"0803 123 4567", "NG", "+2348031234567", "NG", Mobile, ""},
		{"(415) 555-2671", "US", "+14155552671", "US", Either, ""},
		{"+44 20 7946 0018", "NG", "+442079460018", "GB", FixedLine, ""},
		{"+33 6 12 34 56 78", "", "+33612345678", "FR", Mobile, ""},
		{"  +91 98765.43210 ", "", "+919876543210", "IN", Mobile, ""},
		{"", "US", "", "", "", "empty"},
		{"   ", "US", "", "", "", "empty"},
		{"+234 80", "", "", "", "", "too_short"},
		{"+1 415 555 26711234567", "", "", "", "", "too_long"},
		{"004980000000000000", "", "", "", "", "too_long"}, // 16 digits: beyond E.164, found by the fuzzer
		{"call me", "US", "", "", "", "invalid_characters"},
		{"+234 803 ABC 4567", "", "", "", "", "invalid_characters"},
		{"12+345678", "US", "", "", "", "invalid_characters"},
		{"0803 123 4567", "", "", "", "", "invalid"},
		{"+999 123 456 789", "", "", "", "", "invalid"},
		{"911", "US", "", "", "", "emergency"},
		{"112", "DE", "", "", "", "emergency"},
		{"999", "GB", "", "", "", "emergency"},
		{"000", "AU", "", "", "", "emergency"},
		{"112", "NG", "", "", "", "emergency"},
		{"911", "", "", "", "", "emergency"},
		{"+1 911", "", "", "", "", "emergency"},
		{"+44 999", "", "", "", "", "emergency"},
		{"1234", "US", "", "", "", "too_short"},
		{"12345", "NG", "", "", "", "too_short"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q/%s", tc.input, tc.home), func(t *testing.T) {
			n, err := ParseNumber(tc.input, tc.home)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if n.E164 != tc.e164 || n.Country != tc.cty || n.Type != tc.typ || "+"+n.Digits != n.E164 {
					t.Fatalf("got %+v, want %s %s %s", n, tc.e164, tc.cty, tc.typ)
				}
				return
			}
			var ne *NumberError
			var ee *EmergencyError
			switch {
			case errors.As(err, &ee):
				ne = &ee.NumberError
			case errors.As(err, &ne):
			default:
				t.Fatalf("want a refusal (%s), got %+v %v", tc.reason, n, err)
			}
			if ne.Reason != tc.reason || ne.Message == "" {
				t.Fatalf("reason %q (%s), want %q", ne.Reason, ne.Message, tc.reason)
			}
			if tc.reason == "emergency" && !errors.Is(err, ErrEmergency) {
				t.Fatal("an emergency refusal must wrap ErrEmergency")
			}
		})
	}
}

func testDeck(t testing.TB) *Deck {
	d, err := NewDeck([]Rate{
		{Prefix: "1", Country: "US", Description: "United States", PerMinuteMicros: 10_000, Enabled: true},
		{Prefix: "1876", Country: "JM", Description: "Jamaica", PerMinuteMicros: 180_000, Enabled: true},
		{Prefix: "234", Country: "NG", Description: "Nigeria fixed", PerMinuteMicros: 90_000, Enabled: true},
		{Prefix: "23480", Country: "NG", Description: "Nigeria mobile", PerMinuteMicros: 120_000, Enabled: true},
		{Prefix: "234803", Country: "NG", Description: "Nigeria mobile MTN", PerMinuteMicros: 110_000, Enabled: true},
		{Prefix: "44", Country: "GB", Description: "United Kingdom", PerMinuteMicros: 20_000, Enabled: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLongestPrefixMatch(t *testing.T) {
	d := testDeck(t)
	for digits, want := range map[string]string{
		"2348031234567": "234803", // three overlapping prefixes: the longest wins
		"2348051234567": "23480",
		"2341234567":    "234",
		"18765551234":   "1876",
		"14155552671":   "1",
		"442079460018":  "44", // disabled rates are still found; callers refuse them
		"33612345678":   "",
		"":              "",
	} {
		r, ok := d.Lookup(digits)
		if ok != (want != "") || r.Prefix != want {
			t.Errorf("Lookup(%s) = %q %v, want %q", digits, r.Prefix, ok, want)
		}
	}
	if _, err := NewDeck([]Rate{{Prefix: "44"}, {Prefix: "44"}}); err == nil {
		t.Error("a duplicate prefix was accepted")
	}
	for _, bad := range []string{"", "0044", "4a", "1234567890123456"} {
		if _, err := NewDeck([]Rate{{Prefix: bad}}); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

func TestCostPerStartedMinute(t *testing.T) {
	r := Rate{PerMinuteMicros: 123_400} // $0.1234 a minute
	fee := Rate{PerMinuteMicros: 123_400, ConnectionFeeMicros: 50_000}
	cases := []struct {
		seconds      int64
		rate         Rate
		minutes, due int64
	}{
		{0, r, 0, 0},
		{-5, r, 0, 0},
		{1, r, 1, 13}, // 0.1234 -> 13 cents, rounded up
		{59, r, 1, 13},
		{60, r, 1, 13},
		{61, r, 2, 25},     // 0.2468 -> 25
		{3599, r, 60, 741}, // 7.404 -> 741
		{3600, r, 60, 741},
		{0, fee, 0, 0},   // never connected: no fee either
		{1, fee, 1, 18},  // 0.1234 + 0.05 = 0.1734 -> 18
		{61, fee, 2, 30}, // 0.2468 + 0.05 = 0.2968 -> 30
		{60, Rate{PerMinuteMicros: 100_000}, 1, 10}, // exact cents stay exact
	}
	for _, tc := range cases {
		if got := BilledMinutes(tc.seconds); got != tc.minutes {
			t.Errorf("BilledMinutes(%d) = %d, want %d", tc.seconds, got, tc.minutes)
		}
		if got := CostCents(tc.seconds, tc.rate); got != tc.due {
			t.Errorf("CostCents(%d, %+v) = %d, want %d", tc.seconds, tc.rate, got, tc.due)
		}
	}
}

func TestMaxSeconds(t *testing.T) {
	r := Rate{PerMinuteMicros: 120_000}                                // 12 cents a minute
	fee := Rate{PerMinuteMicros: 120_000, ConnectionFeeMicros: 30_000} // + 3 cents once
	cases := []struct {
		balance int64
		rate    Rate
		ceiling int64
		want    int64
	}{
		{11, r, 0, 0},  // just under a minute
		{12, r, 0, 60}, // exactly a minute
		{13, r, 0, 60}, // just over a minute
		{23, r, 0, 60}, // just under two
		{24, r, 0, 120},
		{0, r, 0, 0},
		{-500, r, 0, 0}, // a negative balance buys nothing
		{14, fee, 0, 0}, // 12 + 3 = 15 needed
		{15, fee, 0, 60},
		{100_000, r, 7200, 7200}, // capped at the ceiling
		{100_000, r, 7230, 7200}, // the cap is whole minutes too
	}
	for _, tc := range cases {
		got := MaxSeconds(tc.balance, tc.rate, tc.ceiling)
		if got != tc.want {
			t.Errorf("MaxSeconds(%d, %+v, %d) = %d, want %d", tc.balance, tc.rate, tc.ceiling, got, tc.want)
		}
		// Whatever MaxSeconds allows, the balance pays for.
		if cost := CostCents(got, tc.rate); got > 0 && cost > tc.balance {
			t.Errorf("MaxSeconds(%d) = %d costs %d cents", tc.balance, got, cost)
		}
	}
	if MinimumCents(fee) != 15 {
		t.Errorf("MinimumCents = %d, want 15", MinimumCents(fee))
	}
}

func TestFormatPerMinute(t *testing.T) {
	for micros, want := range map[int64]string{
		120_000: "$0.12/min", 135_000: "$0.135/min", 123_400: "$0.1234/min", 123_401: "$0.1235/min",
		1_000_000: "$1.00/min", 5: "$0.0001/min", 0: "$0.00/min",
	} {
		if got := FormatPerMinute(micros); got != want {
			t.Errorf("FormatPerMinute(%d) = %q, want %q", micros, got, want)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, seed := range []string{"+2348031234567", "00442079460018", "0803 123 4567", "911", "+", "00", "+0", "(((", "+1 (415) 555-2671 ext. 3", "\x00", "٣٤٥"} {
		f.Add(seed, "NG")
	}
	f.Fuzz(func(t *testing.T, input, home string) {
		n, err := ParseNumber(input, home)
		if err == nil && (n.E164 == "" || n.E164[0] != '+' || n.Digits != n.E164[1:] || len(n.Digits) > 15) {
			t.Fatalf("ParseNumber(%q, %q) accepted %+v", input, home, n)
		}
	})
}

func TestDestinationRules(t *testing.T) {
	d := testDeck(t)
	rules := Rules{AllowedCountries: map[string]bool{"NG": true, "US": true, "GB": true}, BlockedPrefixes: DefaultBlockedPrefixes}
	must := func(in string) Number {
		n, err := ParseNumber(in, "")
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		return n
	}
	cases := []struct {
		number, reason, prefix string
	}{
		{"+234 803 123 4567", "", "234803"},
		{"+1 415 555 2671", "", "1"},
		{"+1 900 555 0199", "blocked_prefix", ""},
		{"+33 6 12 34 56 78", "country_not_allowed", ""},
		{"+44 20 7946 0018", "destination_disabled", ""},
	}
	for _, tc := range cases {
		r, err := rules.Price(must(tc.number), d, "")
		var ref *Refusal
		switch {
		case tc.reason == "" && (err != nil || r.Prefix != tc.prefix):
			t.Errorf("%s: %+v %v", tc.number, r, err)
		case tc.reason != "" && (!errors.As(err, &ref) || ref.Reason != tc.reason || ref.Message == ""):
			t.Errorf("%s: want %s, got %v", tc.number, tc.reason, err)
		}
	}
	open := Rules{}
	if _, err := open.Price(must("+33 6 12 34 56 78"), d, "France"); err == nil || !strings.Contains(err.Error(), "We don't call France yet.") {
		t.Errorf("an unpriced country: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	r := Rate{Description: "Nigeria mobile", PerMinuteMicros: 120_000} // 12 cents a minute
	rules := Rules{MaxCallSeconds: 3600, DailySpendCents: 500, DailyCalls: 3}
	cases := []struct {
		balance int64
		usage   Usage
		want    int64
		reason  string
		needed  int64
	}{
		{1000, Usage{}, 41 * 60, "", 0},              // capped by the 500-cent daily spend: 41 minutes
		{100, Usage{}, 8 * 60, "", 0},                // the balance buys 8 minutes
		{11, Usage{}, 0, "insufficient_balance", 12}, // needs 12 cents
		{1000, Usage{SpentTodayCents: 495}, 0, "daily_spend", 0},
		{1000, Usage{SpentTodayCents: 476}, 120, "", 0}, // 24 cents of spend left: 2 minutes
		{1000, Usage{CallsToday: 3}, 0, "daily_calls", 0},
		{-50, Usage{}, 0, "negative_balance", 12}, // a refund took back spent credit
	}
	for _, tc := range cases {
		got, err := rules.Authorize(r, tc.balance, tc.usage)
		var ref *Refusal
		if tc.reason == "" {
			if err != nil || got != tc.want {
				t.Errorf("balance %d %+v: %d %v, want %d", tc.balance, tc.usage, got, err, tc.want)
			}
			continue
		}
		if !errors.As(err, &ref) || ref.Reason != tc.reason || ref.NeededCents != tc.needed {
			t.Errorf("balance %d %+v: want %s (need %d), got %v", tc.balance, tc.usage, tc.reason, tc.needed, err)
		}
	}
	if got, _ := (Rules{MaxCallSeconds: 600}).Authorize(r, 100_000, Usage{}); got != 600 {
		t.Errorf("ceiling: %d", got)
	}
}

func TestSell(t *testing.T) {
	p := Pricing{MarkupBasisPoints: 3000, MinMarginMicros: 5000}
	for cost, want := range map[int64]int64{
		100_000: 130_000, // 30% markup
		104_000: 135_200,
		10_000:  15_000, // the minimum margin wins on cheap routes
		13_333:  18_400, // 13,333 + 5,000 = 18,333, rounded up to 18,400
		0:       5_000,
	} {
		if got := p.Sell(cost); got != want {
			t.Errorf("Sell(%d) = %d, want %d", cost, got, want)
		}
	}
}

func TestReprice(t *testing.T) {
	p := Pricing{MarkupBasisPoints: 3000, MinMarginMicros: 5000}
	ours := []Rate{
		{Prefix: "234", Country: "NG", Description: "Nigeria", PerMinuteMicros: 130_000, Enabled: true},
		{Prefix: "23480", Country: "NG", Description: "Nigeria mobile", PerMinuteMicros: 150_000, Enabled: true},
		{Prefix: "234803", Country: "NG", Description: "Nigeria mobile (MTN)", PerMinuteMicros: 140_000, Enabled: true},
		{Prefix: "23499", Country: "NG", Description: "Nigeria other", PerMinuteMicros: 200_000, Enabled: true},
	}
	costs := []Cost{
		{Prefix: "234", Micros: 100_000},                               // unchanged: 130,000
		{Prefix: "23480", Micros: 160_000},                             // rose above our 150,000: a loss, now 208,000
		{Prefix: "23480", Micros: 120_000},                             // a cheaper duplicate (another origin): the dearer wins
		{Prefix: "23470", Micros: 90_000},                              // cheaper than "234" covers it: nothing to add
		{Prefix: "23490", Micros: 200_000, Name: "Nigeria - Mobile 9"}, // dearer than "234": added at 260,000
	}
	// "234803" has no carrier prefix of its own: it costs what "23480" costs.
	// "23499" is covered by "234": 130,000.
	got := p.Reprice(ours, costs)
	changed := map[string]int64{}
	for _, r := range got.Changed {
		changed[r.Prefix] = r.PerMinuteMicros
	}
	if len(changed) != 3 || changed["23480"] != 208_000 || changed["234803"] != 208_000 || changed["23499"] != 130_000 || got.Unchanged != 1 {
		t.Fatalf("changed %v, unchanged %d", changed, got.Unchanged)
	}
	if len(got.Losses) != 2 || got.Losses[0].Prefix != "23480" || got.Losses[0].CostMicros != 160_000 {
		t.Fatalf("losses %+v", got.Losses)
	}
	if len(got.Added) != 1 || got.Added[0].Prefix != "23490" || got.Added[0].PerMinuteMicros != 260_000 || got.Added[0].Description != "Nigeria - Mobile 9" || !got.Added[0].Enabled {
		t.Fatalf("added %+v", got.Added)
	}
	// No rate is ever left below its cost.
	all := append(append([]Rate{}, got.Changed...), got.Added...)
	deck, _ := NewDeck(append(all, ours[0]))
	for _, c := range costs {
		if r, _ := deck.Lookup(c.Prefix + "1234567"); r.PerMinuteMicros < 160_000 && c.Prefix == "23480" || r.PerMinuteMicros < c.Micros {
			t.Errorf("numbers in %s sell at %d, below their cost %d", c.Prefix, r.PerMinuteMicros, c.Micros)
		}
	}

	// A rate the carrier no longer prices is disabled.
	got = p.Reprice([]Rate{{Prefix: "44", Country: "GB", PerMinuteMicros: 20_000, Enabled: true}}, nil)
	if len(got.Disabled) != 1 || got.Disabled[0].Enabled {
		t.Fatalf("disabled %+v", got.Disabled)
	}
}

// TestOrdinaryNumbersAreNotMistakenForEmergencyNumbers parses the numbering
// plan's own example fixed-line and mobile number of every region, in
// international and national form: none is an emergency number.
func TestOrdinaryNumbersAreNotMistakenForEmergencyNumbers(t *testing.T) {
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			for _, input := range []string{phonenumbers.Format(ex, phonenumbers.E164), phonenumbers.Format(ex, phonenumbers.NATIONAL)} {
				if _, err := ParseNumber(input, region); errors.Is(err, ErrEmergency) {
					t.Errorf("%s %s (type %d): refused as an emergency number", region, input, typ)
				}
			}
		}
	}
}

func TestARateSellsOnlyItsOwnCountry(t *testing.T) {
	d := testDeck(t)
	for _, number := range []string{"+1 721 542 1234", "+1 787 555 1234", "+1 604 555 0123"} { // SX, PR, CA under the US "1" row
		n, err := ParseNumber(number, "")
		if err != nil {
			t.Fatalf("%s: %v", number, err)
		}
		var ref *Refusal
		if _, err := (Rules{}).Price(n, d, ""); !errors.As(err, &ref) || ref.Reason != "no_rate" {
			t.Errorf("%s (%s) sold at another country's rate: %v", number, n.Country, err)
		}
	}
}
