package carrier

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// twilioPricingServer answers like Twilio's Pricing API v2, with the
// documented JSON shapes, on loopback.
func twilioPricingServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "SKtestkey" || pass != "testsecret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authentication Error - No credentials provided", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`))
			return
		}
		switch r.URL.Path {
		case "/v2/Voice/Countries/NG":
			_, _ = w.Write([]byte(`{
  "country": "Nigeria",
  "iso_country": "NG",
  "outbound_prefix_prices": [
    {"origination_prefixes": ["ALL"], "destination_prefixes": ["234"], "base_price": "0.10400", "current_price": "0.10400", "friendly_name": "Programmable Outbound Minute - Nigeria"},
    {"origination_prefixes": ["ALL"], "destination_prefixes": ["23480", "23470"], "base_price": "0.135", "current_price": "0.13500", "friendly_name": "Programmable Outbound Minute - Nigeria - Mobile"},
    {"origination_prefixes": ["1"], "destination_prefixes": ["23480"], "base_price": 0.15, "current_price": 0.15, "friendly_name": "Programmable Outbound Minute - Nigeria - Mobile from US"}
  ],
  "inbound_call_prices": [],
  "price_unit": "USD",
  "url": "https://pricing.twilio.com/v2/Voice/Countries/NG"
}`))
		case "/v2/Voice/Countries/XX":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code": 20404, "message": "The requested resource /v2/Voice/Countries/XX was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"code": 20500, "message": "Internal Server Error", "status": 500}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTwilioVoiceCosts(t *testing.T) {
	srv := twilioPricingServer(t)
	p := NewTwilioPricing("ACtest", "SKtestkey", "testsecret", srv.URL, srv.Client())
	costs, err := p.VoiceCosts(context.Background(), "NG")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i].Prefix < costs[j].Prefix })
	want := []rating.Cost{
		{Prefix: "234", Micros: 104_000, Name: "Nigeria"},
		{Prefix: "23470", Micros: 135_000, Name: "Nigeria - Mobile"},
		{Prefix: "23480", Micros: 150_000, Name: "Nigeria - Mobile from US"}, // the dearer origin wins
	}
	if len(costs) != len(want) {
		t.Fatalf("costs %+v", costs)
	}
	for i := range want {
		if costs[i] != want[i] {
			t.Errorf("cost %d: %+v, want %+v", i, costs[i], want[i])
		}
	}
}

func TestTwilioVoiceCostsErrors(t *testing.T) {
	srv := twilioPricingServer(t)
	good := NewTwilioPricing("ACtest", "SKtestkey", "testsecret", srv.URL, srv.Client())
	if _, err := good.VoiceCosts(context.Background(), "XX"); !errors.Is(err, ErrUnknownCountry) {
		t.Errorf("unknown country: %v", err)
	}
	if _, err := good.VoiceCosts(context.Background(), "GH"); err == nil || errors.Is(err, ErrUnknownCountry) || errors.Is(err, ErrUnauthorized) {
		t.Errorf("server error: %v", err)
	}
	bad := NewTwilioPricing("ACtest", "SKtestkey", "wrongsecret", srv.URL, srv.Client())
	if _, err := bad.VoiceCosts(context.Background(), "NG"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("bad credentials: %v", err)
	}
}

func TestDecimalMicros(t *testing.T) {
	for in, want := range map[string]int64{`"0.104"`: 104_000, `0.015`: 15_000, `"0.1234567"`: 123_457, `"1"`: 1_000_000, `"0.0000001"`: 1} {
		if got, err := decimalMicros([]byte(in)); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{`"1e-3"`, `null`, `"-0.1"`, `"abc"`} {
		if _, err := decimalMicros([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestSignMatchesTwilioGoValidator(t *testing.T) {
	form := url.Values{"CallSid": {"CA123"}, "From": {"client:u1"}, "CallId": {"abc"}, "Empty": {""}}
	u := "https://app.example/api/webhooks/twilio/status?call_id=abc&event=dial-action"
	v := client.NewRequestValidator("authtoken")
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if !v.Validate(u, params, Sign("authtoken", u, form)) {
		t.Fatal("twilio-go rejects the simulator's signature")
	}
	if v.Validate(u, params, Sign("othertoken", u, form)) {
		t.Fatal("a signature with another token validated")
	}
}
