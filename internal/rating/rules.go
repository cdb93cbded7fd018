package rating

import (
	"fmt"
	"strings"
)

// Rules guard against toll fraud and runaway spend: which countries may be
// called, which number ranges never (premium-rate, satellite, international
// shared-cost), how long one call may last, and how much one user may spend
// and how many calls they may place per day.
type Rules struct {
	AllowedCountries map[string]bool // ISO codes; empty allows every country the deck prices
	BlockedPrefixes  []string        // E.164 digit prefixes
	MaxCallSeconds   int64           // ceiling on any one call
	DailySpendCents  int64           // per user, 0 = no ceiling
	DailyCalls       int             // per user, 0 = no ceiling
}

// DefaultBlockedPrefixes are ranges no prepaid caller needs and toll fraud
// loves: US premium (1900, 1976), UK premium and special (449, 4487),
// Inmarsat and other satellite services (870, 881), international networks
// (882, 883) and international premium rate (979).
var DefaultBlockedPrefixes = []string{"1900", "1976", "449", "4487", "870", "881", "882", "883", "979"}

// Refusal reasons the rules give. workflows/api.go names them (as
// workflows.Refusal...) with the call's other refusal codes; code outside
// this package uses those names.
const (
	RefusalBlockedPrefix       = "blocked_prefix"
	RefusalCountryNotAllowed   = "country_not_allowed"
	RefusalNoRate              = "no_rate"
	RefusalDestinationDisabled = "destination_disabled"
	RefusalDailySpend          = "daily_spend"
	RefusalDailyCalls          = "daily_calls"
	RefusalInsufficientBalance = "insufficient_balance"
	RefusalNegativeBalance     = "negative_balance"
)

// Refusal is why a destination or a call is refused, for the person.
type Refusal struct {
	Reason      string // one of the Refusal... reasons above
	Message     string
	NeededCents int64 // for insufficient_balance and negative_balance: the least balance that allows a call
}

func (r *Refusal) Error() string { return "rating: " + r.Reason + ": " + r.Message }

// Price finds the rate for n and checks the destination rules. It refuses a
// number it cannot price, so no call is ever connected without a price.
func (rules Rules) Price(n Number, deck *Deck, countryName string) (Rate, error) {
	for _, p := range rules.BlockedPrefixes {
		if strings.HasPrefix(n.Digits, p) {
			return Rate{}, &Refusal{Reason: RefusalBlockedPrefix, Message: fmt.Sprintf(
				"Numbers starting with +%s cannot be called: premium-rate and high-risk ranges are blocked.", p)}
		}
	}
	switch n.Type {
	case Premium, Shared, UAN, Personal, Pager:
		return Rate{}, &Refusal{Reason: RefusalBlockedPrefix, Message: "Premium-rate, shared-cost, personal and pager numbers cannot be called."}
	}
	if len(rules.AllowedCountries) > 0 && !rules.AllowedCountries[n.Country] {
		return Rate{}, &Refusal{Reason: RefusalCountryNotAllowed, Message: notServed(countryName, n.Country)}
	}
	r, ok := deck.Lookup(n.Digits)
	// A rate prices only its own country: numbers of one country code can
	// belong to several countries (+1 is two dozen), and a place the deck
	// does not list must never be sold at a neighbour's price.
	if !ok || n.Country == "" || r.Country != n.Country {
		return Rate{}, &Refusal{Reason: RefusalNoRate, Message: notServed(countryName, n.Country)}
	}
	if !r.Enabled {
		return Rate{}, &Refusal{Reason: RefusalDestinationDisabled, Message: fmt.Sprintf("Calls to %s are not available right now.", r.Description)}
	}
	return r, nil
}

// notServed is what a person reads about a place we do not call: the same
// words whether the rules leave it out or the deck has no price for it.
func notServed(countryName, code string) string {
	return fmt.Sprintf("We don't call %s yet.", nameOr(countryName, code))
}

// Usage is what a user has spent and dialled today.
type Usage struct {
	SpentTodayCents int64
	CallsToday      int
}

// Authorize decides whether a call at r may start on balanceCents, and for
// how long: the whole minutes the balance covers, capped by the daily spend
// left and the per-call ceiling.
func (rules Rules) Authorize(r Rate, balanceCents int64, u Usage) (maxSeconds int64, err error) {
	if rules.DailyCalls > 0 && u.CallsToday >= rules.DailyCalls {
		return 0, &Refusal{Reason: RefusalDailyCalls, Message: fmt.Sprintf("You have placed %d calls today, the most allowed in a day. Try again tomorrow.", u.CallsToday)}
	}
	if balanceCents < 0 {
		// A refunded or disputed top-up took back credit already spent.
		return 0, &Refusal{Reason: RefusalNegativeBalance, NeededCents: MinimumCents(r), Message: fmt.Sprintf(
			"Your balance is %s because a top-up was refunded or disputed. Add credit to call again.", FormatCents(balanceCents))}
	}
	spendable := balanceCents
	if rules.DailySpendCents > 0 {
		left := rules.DailySpendCents - u.SpentTodayCents
		if left < MinimumCents(r) {
			return 0, &Refusal{Reason: RefusalDailySpend, Message: "You have reached today's spending limit. Try again tomorrow."}
		}
		spendable = min(spendable, left)
	}
	seconds := MaxSeconds(spendable, r, rules.MaxCallSeconds)
	if seconds == 0 {
		need := MinimumCents(r)
		return 0, &Refusal{Reason: RefusalInsufficientBalance, NeededCents: need, Message: fmt.Sprintf(
			"A call to %s needs at least %s for the first minute. Add credit to call.", r.Description, FormatCents(need))}
	}
	return seconds, nil
}

func nameOr(name, code string) string {
	if name != "" {
		return name
	}
	return code
}

// FormatCents shows cents as dollars, without floats: 1234 -> "$12.34",
// -5 -> "-$0.05".
func FormatCents(c int64) string {
	if c < 0 {
		return "-" + FormatCents(-c)
	}
	return fmt.Sprintf("$%d.%02d", c/100, c%100)
}

// NewRules builds Rules from configured lists and ceilings.
func NewRules(allowedCountries, blockedPrefixes []string, maxCallSeconds, dailySpendCents int64, dailyCalls int) Rules {
	r := Rules{BlockedPrefixes: blockedPrefixes, MaxCallSeconds: maxCallSeconds, DailySpendCents: dailySpendCents, DailyCalls: dailyCalls}
	if len(allowedCountries) > 0 {
		r.AllowedCountries = make(map[string]bool, len(allowedCountries))
		for _, c := range allowedCountries {
			r.AllowedCountries[strings.ToUpper(c)] = true
		}
	}
	return r
}
