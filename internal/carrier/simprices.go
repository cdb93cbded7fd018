package carrier

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// The simulator's Voice Pricing API v2, in Twilio's JSON shapes (see
// twilio-go's rest/pricing/v2 models and testdata/twilio): the list of
// countries, paged, and one country's outbound prefix prices.

// CostsFromDeck makes the simulator's carrier costs from a rate deck: each
// enabled rate costs shareBasisPoints/10000 of its price (7000: 70%), so a
// pricing sync against the simulator reprices a deck to about where it was.
func CostsFromDeck(rates []rating.Rate, shareBasisPoints int64) []rating.Rate {
	var out []rating.Rate
	for _, r := range rates {
		if !r.Enabled {
			continue
		}
		r.PerMinuteMicros = r.PerMinuteMicros * shareBasisPoints / 10_000
		out = append(out, r)
	}
	return out
}

const pricingOrigin = "https://pricing.twilio.com"

type priceCountry struct {
	iso, name string
	rates     []rating.Rate
}

// priceCountries groups VoicePrices by country, sorted by ISO code.
func (s *Simulator) priceCountries() []priceCountry {
	by := map[string]*priceCountry{}
	for _, r := range s.VoicePrices {
		iso := strings.ToUpper(r.Country)
		c, ok := by[iso]
		if !ok {
			c = &priceCountry{iso: iso}
			by[iso] = c
		}
		c.rates = append(c.rates, r)
	}
	out := make([]priceCountry, 0, len(by))
	for _, c := range by {
		sort.Slice(c.rates, func(i, j int) bool { return c.rates[i].Prefix < c.rates[j].Prefix })
		// The country's name is that of its widest prefix.
		shortest := c.rates[0]
		for _, r := range c.rates {
			if len(r.Prefix) < len(shortest.Prefix) {
				shortest = r
			}
		}
		c.name = shortest.Description
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].iso < out[j].iso })
	return out
}

// restPriceCountries is GET /v2/Voice/Countries (PageSize, Page).
func (s *Simulator) restPriceCountries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("PageSize"))
	if q.Get("PageSize") == "" {
		size, err = 50, nil
	}
	page, perr := strconv.Atoi(q.Get("Page"))
	if q.Get("Page") == "" {
		page, perr = 0, nil
	}
	if err != nil || perr != nil || size < 1 || size > 1000 || page < 0 {
		restError(w, http.StatusBadRequest, 20001, "Invalid paging parameters")
		return
	}
	all := s.priceCountries()
	pageURL := func(p int) string {
		return fmt.Sprintf("%s/v2/Voice/Countries?PageSize=%d&Page=%d", pricingOrigin, size, p)
	}
	countries := []map[string]any{}
	for i := page * size; i < len(all) && i < (page+1)*size; i++ {
		countries = append(countries, map[string]any{"country": all[i].name, "iso_country": all[i].iso,
			"url": pricingOrigin + "/v2/Voice/Countries/" + all[i].iso})
	}
	var next, prev any
	if (page+1)*size < len(all) {
		next = pageURL(page + 1)
	}
	if page > 0 {
		prev = pageURL(page - 1)
	}
	writeREST(w, map[string]any{"countries": countries, "meta": map[string]any{
		"first_page_url": pageURL(0), "key": "countries", "next_page_url": next, "page": page,
		"page_size": size, "previous_page_url": prev, "url": pageURL(page)}})
}

// restPriceCountry is GET /v2/Voice/Countries/{IsoCountry}.
func (s *Simulator) restPriceCountry(w http.ResponseWriter, r *http.Request) {
	iso := strings.ToUpper(r.PathValue("iso"))
	for _, c := range s.priceCountries() {
		if c.iso != iso {
			continue
		}
		// Twilio lists one entry per price and name, with its prefixes.
		type key struct {
			name   string
			micros int64
		}
		groups := map[key][]string{}
		var order []key
		for _, rt := range c.rates {
			k := key{rt.Description, rt.PerMinuteMicros}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], rt.Prefix)
		}
		prices := []map[string]any{}
		for _, k := range order {
			price := formatPrice(k.micros)
			prices = append(prices, map[string]any{"origination_prefixes": []string{"ALL"}, "destination_prefixes": groups[k],
				"base_price": price, "current_price": price, "friendly_name": "Programmable Outbound Minute - " + k.name})
		}
		writeREST(w, map[string]any{"country": c.name, "iso_country": c.iso, "outbound_prefix_prices": prices,
			"inbound_call_prices": []any{}, "price_unit": "USD", "url": pricingOrigin + "/v2/Voice/Countries/" + c.iso})
		return
	}
	restError(w, http.StatusNotFound, 20404, "The requested resource /v2/Voice/Countries/"+url.PathEscape(iso)+" was not found")
}

// formatPrice writes micro-dollars as Twilio writes prices: a decimal
// string with five places (six when a micro-dollar needs it).
func formatPrice(micros int64) string {
	if micros%10 == 0 {
		return fmt.Sprintf("%d.%05d", micros/1_000_000, micros%1_000_000/10)
	}
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}
