package rating

import (
	"sort"
	"strings"
)

// Cost is what the carrier charges us a minute for numbers starting with
// Prefix.
type Cost struct {
	Prefix string
	Micros int64
	Name   string // the carrier's name for the range, e.g. "Nigeria - Mobile"
}

// Pricing turns a carrier's cost into our price: the larger of the markup
// and the minimum margin, rounded up to 1/10,000 of a dollar.
type Pricing struct {
	MarkupBasisPoints int64 // 3000 = 30%
	MinMarginMicros   int64
}

// Sell is our per-minute price for a carrier cost.
func (p Pricing) Sell(costMicros int64) int64 {
	withMarkup := (costMicros*(10_000+p.MarkupBasisPoints) + 9_999) / 10_000
	price := max(withMarkup, costMicros+p.MinMarginMicros)
	return (price + 99) / 100 * 100
}

// Repricing is what Reprice decided for one country.
type Repricing struct {
	Changed   []Rate // our rates whose price follows the new cost
	Added     []Rate // carrier ranges dearer than the rate that covered them, added so they are not sold at a loss
	Disabled  []Rate // our rates the carrier no longer prices: never connected without a price
	Losses    []Loss // where the carrier's cost had risen above our price
	Unchanged int
}

// Loss is a rate whose cost had risen above our price.
type Loss struct {
	Prefix                           string
	CostMicros, OldMicros, NewMicros int64
}

// Reprice sets the price of each of our rates (one country's) from the
// carrier's costs: a rate's cost is that of the longest carrier prefix it
// starts with (the highest, when the carrier lists a prefix twice). Carrier
// ranges inside one of our prefixes that cost more than it are added as
// rates of their own; a rate the carrier no longer covers is disabled.
func (p Pricing) Reprice(ours []Rate, costs []Cost) Repricing {
	cost := map[string]Cost{}
	for _, c := range costs {
		if prev, ok := cost[c.Prefix]; !ok || c.Micros > prev.Micros {
			cost[c.Prefix] = c
		}
	}
	costOf := func(prefix string) (Cost, bool) {
		for n := len(prefix); n > 0; n-- {
			if c, ok := cost[prefix[:n]]; ok {
				return c, true
			}
		}
		return Cost{}, false
	}

	var out Repricing
	price := map[string]Rate{}
	for _, r := range ours {
		c, ok := costOf(r.Prefix)
		if !ok {
			if r.Enabled {
				r.Enabled = false
				out.Disabled = append(out.Disabled, r)
			} else {
				out.Unchanged++
			}
			price[r.Prefix] = r
			continue
		}
		sell := p.Sell(c.Micros)
		if c.Micros > r.PerMinuteMicros {
			out.Losses = append(out.Losses, Loss{Prefix: r.Prefix, CostMicros: c.Micros, OldMicros: r.PerMinuteMicros, NewMicros: sell})
		}
		if sell != r.PerMinuteMicros {
			r.PerMinuteMicros = sell
			out.Changed = append(out.Changed, r)
		} else {
			out.Unchanged++
		}
		price[r.Prefix] = r
	}

	// Carrier ranges inside our prefixes: numbers there would be billed at
	// the covering rate. Where that is below what the range costs us, add
	// the range at its own price.
	deck, _ := NewDeck(mapValues(price))
	prefixes := make([]string, 0, len(cost))
	for prefix := range cost {
		prefixes = append(prefixes, prefix)
	}
	sort.Strings(prefixes)
	for _, prefix := range prefixes {
		if _, ours := price[prefix]; ours {
			continue
		}
		covering, ok := deck.Lookup(prefix)
		if !ok || !strings.HasPrefix(prefix, covering.Prefix) {
			continue // not a destination we sell
		}
		sell := p.Sell(cost[prefix].Micros)
		if sell <= covering.PerMinuteMicros {
			continue
		}
		desc := covering.Description
		if name := cost[prefix].Name; name != "" {
			desc = name
		}
		out.Added = append(out.Added, Rate{Prefix: prefix, Country: covering.Country, Description: desc,
			PerMinuteMicros: sell, ConnectionFeeMicros: covering.ConnectionFeeMicros, Enabled: covering.Enabled})
	}
	return out
}

func mapValues(m map[string]Rate) []Rate {
	out := make([]Rate, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}
