// Package carrier is the Twilio side of Mobayilo behind small interfaces:
// the real twilio-go client, and (for development) the local simulator.
package carrier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// Pricing reads what the carrier charges for outbound minutes.
type Pricing interface {
	// VoiceCosts returns the per-minute costs of calls to a country (ISO
	// code), by destination prefix.
	VoiceCosts(ctx context.Context, isoCountry string) ([]rating.Cost, error)
}

var (
	// ErrUnknownCountry: the carrier has no prices for that country.
	ErrUnknownCountry = errors.New("carrier: no prices for that country")
	// ErrUnauthorized: the credentials were refused; retrying will not help.
	ErrUnauthorized = errors.New("carrier: credentials refused")
)

// PricingBaseURL is Twilio's Pricing API.
const PricingBaseURL = "https://pricing.twilio.com"

// TwilioPricing reads Twilio's Voice Pricing API (v2) through twilio-go's
// request handler (authentication, user agent, error decoding). It decodes
// prices itself: twilio-go's pricing models hold them as float32, and money
// here is never a float.
type TwilioPricing struct {
	rc      *twilio.RestClient
	baseURL string
}

// NewTwilioPricing authenticates with an API key. httpClient may be nil (a
// 15-second timeout is used); baseURL is PricingBaseURL outside tests.
func NewTwilioPricing(accountSID, apiKey, apiSecret, baseURL string, httpClient *http.Client) *TwilioPricing {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	c := &client.Client{Credentials: client.NewCredentials(apiKey, apiSecret), HTTPClient: httpClient}
	c.SetAccountSid(accountSID)
	return &TwilioPricing{rc: twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}), baseURL: strings.TrimSuffix(baseURL, "/")}
}

// voiceCountry is Twilio's GET /v2/Voice/Countries/{IsoCountry} answer.
type voiceCountry struct {
	Country              string `json:"country"`
	IsoCountry           string `json:"iso_country"`
	PriceUnit            string `json:"price_unit"`
	OutboundPrefixPrices []struct {
		OriginationPrefixes []string        `json:"origination_prefixes"`
		DestinationPrefixes []string        `json:"destination_prefixes"`
		BasePrice           json.RawMessage `json:"base_price"`
		CurrentPrice        json.RawMessage `json:"current_price"`
		FriendlyName        string          `json:"friendly_name"`
	} `json:"outbound_prefix_prices"`
}

// VoiceCosts returns Twilio's current per-minute prices for calls to
// isoCountry. A prefix priced for several origins keeps the highest price,
// so we never sell below what any route may cost.
func (p *TwilioPricing) VoiceCosts(ctx context.Context, isoCountry string) ([]rating.Cost, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err := p.rc.RequestHandler.Get(p.baseURL+"/v2/Voice/Countries/"+url.PathEscape(isoCountry), url.Values{},
		map[string]interface{}{"Content-Type": "application/x-www-form-urlencoded"}, "")
	var restErr *client.TwilioRestError
	switch {
	case errors.As(err, &restErr) && restErr.Status == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s", ErrUnknownCountry, isoCountry)
	case errors.As(err, &restErr) && (restErr.Status == http.StatusUnauthorized || restErr.Status == http.StatusForbidden):
		return nil, fmt.Errorf("%w (%d)", ErrUnauthorized, restErr.Status)
	case err != nil:
		return nil, fmt.Errorf("carrier: voice prices for %s: %w", isoCountry, err)
	}
	defer resp.Body.Close()
	var vc voiceCountry
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&vc); err != nil {
		return nil, fmt.Errorf("carrier: voice prices for %s: decode: %w", isoCountry, err)
	}
	if vc.PriceUnit != "" && !strings.EqualFold(vc.PriceUnit, "USD") {
		return nil, fmt.Errorf("carrier: voice prices for %s are in %s, not USD", isoCountry, vc.PriceUnit)
	}
	byPrefix := map[string]rating.Cost{}
	for _, pp := range vc.OutboundPrefixPrices {
		micros, err := decimalMicros(pp.CurrentPrice)
		if err != nil {
			return nil, fmt.Errorf("carrier: voice prices for %s: %q: %w", isoCountry, pp.FriendlyName, err)
		}
		for _, prefix := range pp.DestinationPrefixes {
			if prev, ok := byPrefix[prefix]; !ok || micros > prev.Micros {
				byPrefix[prefix] = rating.Cost{Prefix: prefix, Micros: micros, Name: friendlyName(pp.FriendlyName)}
			}
		}
	}
	if len(byPrefix) == 0 {
		// An empty answer would disable a whole country: treat it as none.
		return nil, fmt.Errorf("%w: %s (an empty price list)", ErrUnknownCountry, isoCountry)
	}
	out := make([]rating.Cost, 0, len(byPrefix))
	for _, c := range byPrefix {
		out = append(out, c)
	}
	return out, nil
}

// decimalMicros reads a price given as a JSON string ("0.104") or number
// (0.104) from its text, never through a float.
func decimalMicros(raw json.RawMessage) (int64, error) {
	text := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	micros, err := rating.ParseDollars(text)
	if err != nil {
		// Twilio prices have at most 5 decimals; more is rounded up.
		whole, frac, ok := strings.Cut(text, ".")
		if !ok || len(frac) <= 6 {
			return 0, err
		}
		micros, err = rating.ParseDollars(whole + "." + frac[:6])
		if err != nil {
			return 0, err
		}
		if strings.Trim(frac[6:], "0") != "" {
			micros++
		}
	}
	return micros, nil
}

// friendlyName drops Twilio's "Programmable Outbound Minute - " lead.
func friendlyName(s string) string {
	return strings.TrimSpace(strings.TrimPrefix(s, "Programmable Outbound Minute - "))
}
