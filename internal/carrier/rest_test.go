package carrier_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
)

// The simulator's REST API answers twilio-go's own client as Twilio would,
// for the calls the simulator placed: a worker in another process
// reconciles through it (TWILIO_API_BASE).
func TestSimulatorRESTAnswersTwilioGo(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/webhooks/twilio/voice" {
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeLimit="600" action="` + "http://x/action" + `"><Number statusCallback="http://x/status">+2348031234567</Number></Dial></Response>`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	// The development credentials: twilio-go refuses a secret that is not
	// alphanumeric before it sends anything.
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{BaseURL: app.URL, AuthToken: "tok", AccountSID: "ACsim", APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret}
	// Callbacks go to the TwiML's URLs (http://x/...): send them to the app.
	sim.HTTP = &http.Client{Transport: redirectTo(app.URL)}
	call, err := sim.PlaceCall(context.Background(), token(t, sim, "u1", time.Minute), "call-1", 42*time.Second, carrier.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.RESTHandler())
	defer api.Close()
	tc, err := carrier.NewTwilioCallsAt("ACsim", cfg.TwilioAPIKey, cfg.TwilioAPISecret, api.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tc.FetchCall(context.Background(), call.ChildSid)
	if err != nil || got.Status != "completed" || got.DurationSeconds != 42 {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	leg, found, err := tc.DialledLeg(context.Background(), call.ParentSid)
	if err != nil || !found || leg.Sid != call.ChildSid {
		t.Fatalf("dialled leg: %+v %v %v", leg, found, err)
	}
	if _, found, err := tc.DialledLeg(context.Background(), "CAnone"); err != nil || found {
		t.Fatalf("no leg: %v %v", found, err)
	}
	if _, err := tc.FetchCall(context.Background(), "CAnone"); !errors.Is(err, carrier.ErrCallNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
	// A call already over is not an error to end.
	if err := tc.EndCall(context.Background(), "call-1", call.ParentSid); err != nil {
		t.Fatal(err)
	}
	other, _ := carrier.NewTwilioCallsAt("ACother", cfg.TwilioAPIKey, cfg.TwilioAPISecret, api.URL)
	if _, err := other.FetchCall(context.Background(), call.ChildSid); err == nil {
		t.Fatal("another account read the call")
	}
	// Twilio checks the key and its secret, not that they are non-empty.
	wrong, _ := carrier.NewTwilioCallsAt("ACsim", cfg.TwilioAPIKey, "someoneElsesSecret", api.URL)
	if _, err := wrong.FetchCall(context.Background(), call.ChildSid); err == nil {
		t.Fatal("a wrong API secret read the call")
	}
	for name, auth := range map[string][2]string{
		"another key":        {"SKother", cfg.TwilioAPISecret},
		"no secret":          {cfg.TwilioAPIKey, ""},
		"account, wrong tok": {"ACsim", "nottok"},
	} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/2010-04-01/Accounts/ACsim/Calls/"+call.ChildSid+".json", nil)
		req.SetBasicAuth(auth[0], auth[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %s, want 401", name, resp.Status)
		}
	}
	// The account SID and auth token authenticate too, as on Twilio.
	req, _ := http.NewRequest(http.MethodGet, api.URL+"/2010-04-01/Accounts/ACsim/Calls/"+call.ChildSid+".json", nil)
	req.SetBasicAuth("ACsim", "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("account SID and auth token: %s", resp.Status)
	}
}

// token is an access token for identity as the web app issues it.
func token(t testing.TB, sim *carrier.Simulator, identity string, valid time.Duration) string {
	t.Helper()
	tok, err := carrier.AccessToken(carrier.TokenParams{AccountSID: sim.AccountSID, APIKey: sim.APIKey, APISecret: sim.APISecret,
		TwiMLAppSID: "APsim", Identity: identity, Until: time.Now().Add(valid)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type redirectTo string

func (base redirectTo) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(string(base))
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
	return http.DefaultTransport.RoundTrip(r)
}
