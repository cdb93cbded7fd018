package rating

import (
	"fmt"
	"strings"
)

// MicrosPerCent: prices are in micro-dollars (1/1,000,000 USD), balances in
// cents.
const MicrosPerCent = 10_000

// Rate is the price of calls to numbers starting with Prefix.
type Rate struct {
	Prefix              string // digits of the E.164 number, without +
	Country             string // ISO 3166-1 alpha-2
	Description         string // "Nigeria mobile"
	PerMinuteMicros     int64
	ConnectionFeeMicros int64
	Enabled             bool
}

// Deck is an immutable rate deck indexed for longest-prefix lookup. Build a
// new one when rates change and swap it in.
type Deck struct {
	byPrefix map[string]*Rate
	longest  int
	rates    []Rate
}

// NewDeck indexes rates. Prefixes must be unique digit strings.
func NewDeck(rates []Rate) (*Deck, error) {
	d := &Deck{byPrefix: make(map[string]*Rate, len(rates)), rates: make([]Rate, len(rates))}
	copy(d.rates, rates)
	for i := range d.rates {
		r := &d.rates[i]
		if !isDigits(r.Prefix) || len(r.Prefix) > 15 || strings.HasPrefix(r.Prefix, "0") {
			return nil, fmt.Errorf("rating: prefix %q is not 1 to 15 digits without a leading 0", r.Prefix)
		}
		if _, dup := d.byPrefix[r.Prefix]; dup {
			return nil, fmt.Errorf("rating: prefix %s appears twice", r.Prefix)
		}
		d.byPrefix[r.Prefix] = r
		d.longest = max(d.longest, len(r.Prefix))
	}
	return d, nil
}

// Lookup returns the rate with the longest prefix of digits (an E.164
// number without +), enabled or not, and whether there is one.
func (d *Deck) Lookup(digits string) (Rate, bool) {
	for n := min(len(digits), d.longest); n > 0; n-- {
		if r, ok := d.byPrefix[digits[:n]]; ok {
			return *r, true
		}
	}
	return Rate{}, false
}

// Rates returns the deck's rates in the order given.
func (d *Deck) Rates() []Rate { return d.rates }

// Len is the number of prefixes.
func (d *Deck) Len() int { return len(d.rates) }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
