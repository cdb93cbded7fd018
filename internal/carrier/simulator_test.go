package carrier_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	twilio "github.com/twilio/twilio-go"
	tclient "github.com/twilio/twilio-go/client"
	pricing "github.com/twilio/twilio-go/rest/pricing/v2"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// The fixtures are in the repository's testdata/twilio (see its README).
const fixtures = "../../testdata/twilio"

// fixtureKeys is the sorted field names of a webhook fixture.
func fixtureKeys(t *testing.T, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Fields map[string]string }
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Fields) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	keys := make([]string, 0, len(f.Fields))
	for k := range f.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func keysOf(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fakeApp is our app as the simulator sees it: it checks each request's
// signature, records it and answers the voice request with the TwiML
// given.
type fakeApp struct {
	t      *testing.T
	srv    *httptest.Server
	sim    *carrier.Simulator
	events string // the Number's statusCallbackEvent
	number string
	// onStatus, when set, runs for each status callback before it is
	// answered; a non-2xx status it returns is the answer.
	onStatus func(form url.Values) int

	mu       sync.Mutex
	voice    []url.Values
	statuses []url.Values
	actions  []url.Values
}

func newFakeApp(t *testing.T, events, number string) *fakeApp {
	a := &fakeApp{t: t, events: events, number: number}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a.sim = &carrier.Simulator{BaseURL: a.srv.URL, AuthToken: "authtok", AccountSID: "ACsim",
		APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret}
	return a
}

func (a *fakeApp) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "form", http.StatusBadRequest)
		return
	}
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	validator := tclient.NewRequestValidator("authtok")
	if !validator.Validate(a.srv.URL+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature")) {
		a.t.Errorf("%s: bad signature", r.URL)
		http.Error(w, "signature", http.StatusForbidden)
		return
	}
	a.mu.Lock()
	switch {
	case r.URL.Path == "/api/webhooks/twilio/voice":
		a.voice = append(a.voice, r.PostForm)
	case r.URL.Query().Get("event") == "dial-action":
		a.actions = append(a.actions, r.PostForm)
	default:
		a.statuses = append(a.statuses, r.PostForm)
	}
	a.mu.Unlock()
	switch {
	case r.URL.Path == "/api/webhooks/twilio/voice":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeLimit="600" callerId="+15005550006" action="` +
			a.srv.URL + `/status?event=dial-action"><Number statusCallback="` + a.srv.URL + `/status" statusCallbackEvent="` + a.events + `">` +
			a.number + `</Number></Dial></Response>`))
	case r.URL.Query().Get("event") == "dial-action":
		_, _ = w.Write([]byte(`<Response><Hangup/></Response>`))
	default:
		if a.onStatus != nil {
			if code := a.onStatus(r.PostForm); code >= 300 {
				w.WriteHeader(code)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// place connects a browser holding a fresh token.
func (a *fakeApp) place(talk time.Duration, f carrier.Faults) (carrier.SimCall, error) {
	return a.sim.PlaceCall(context.Background(), token(a.t, a.sim, "uabc_2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11", time.Minute),
		"2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11", talk, f)
}

func (a *fakeApp) statusesByState() map[string]url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]url.Values{}
	for _, s := range a.statuses {
		out[s.Get("CallStatus")] = s
	}
	return out
}

func TestSimulatorPostsTwilioFieldSets(t *testing.T) {
	a := newFakeApp(t, "initiated ringing answered completed", "+2348031234567")
	call, err := a.place(61*time.Second, carrier.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.voice) != 1 || len(a.statuses) != 4 || len(a.actions) != 1 {
		t.Fatalf("%d voice requests, %d status callbacks, %d actions", len(a.voice), len(a.statuses), len(a.actions))
	}
	voice := a.voice[0]
	if got, want := keysOf(voice), fixtureKeys(t, "voice_request.json"); !slices.Equal(got, want) {
		t.Errorf("voice request fields\n got %v\nwant %v", got, want)
	}
	identity := "client:uabc_2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11"
	if voice.Get("From") != identity || voice.Get("Caller") != identity || voice.Get("ApplicationSid") != "APsim" ||
		voice.Get("AccountSid") != "ACsim" || voice.Get("Direction") != "inbound" || voice.Get("CallId") != "2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11" {
		t.Errorf("voice request %v", voice)
	}
	by := a.statusesByState()
	for state, fixture := range map[string]string{"initiated": "status_callback_initiated.json", "ringing": "status_callback_ringing.json",
		"in-progress": "status_callback_answered.json", "completed": "status_callback_completed.json"} {
		got := by[state]
		if got == nil {
			t.Errorf("no %s callback", state)
			continue
		}
		if keys, want := keysOf(got), fixtureKeys(t, fixture); !slices.Equal(keys, want) {
			t.Errorf("%s callback fields\n got %v\nwant %v", state, keys, want)
		}
		if got.Get("Direction") != "outbound-dial" || got.Get("CallbackSource") != "call-progress-events" ||
			got.Get("ParentCallSid") != call.ParentSid || got.Get("CallSid") != call.ChildSid || got.Get("To") != "+2348031234567" ||
			got.Get("From") != "+15005550006" {
			t.Errorf("%s callback %v", state, got)
		}
		if _, err := time.Parse(time.RFC1123Z, got.Get("Timestamp")); err != nil {
			t.Errorf("%s callback Timestamp: %v", state, err)
		}
	}
	if d := by["completed"].Get("CallDuration"); d != "61" {
		t.Errorf("completed CallDuration %q", d)
	}
	var seqs []int
	for _, s := range a.statuses {
		n, _ := strconv.Atoi(s.Get("SequenceNumber"))
		seqs = append(seqs, n)
	}
	sort.Ints(seqs)
	if !slices.Equal(seqs, []int{0, 1, 2, 3}) {
		t.Errorf("sequence numbers %v, want 0 to 3", seqs)
	}
	action := a.actions[0]
	if got, want := keysOf(action), fixtureKeys(t, "dial_action.json"); !slices.Equal(got, want) {
		t.Errorf("dial action fields\n got %v\nwant %v", got, want)
	}
	if action.Get("DialCallStatus") != "completed" || action.Get("DialCallSid") != call.ChildSid || action.Get("DialCallDuration") != "61" ||
		action.Get("DialBridged") != "true" || action.Get("CallSid") != call.ParentSid {
		t.Errorf("dial action %v", action)
	}
}

func TestSimulatorSendsOnlyTheEventsAsked(t *testing.T) {
	for events, want := range map[string][]string{
		"":                   {"completed"}, // Twilio's default
		"completed":          {"completed"},
		"answered completed": {"in-progress", "completed"},
		"initiated,ringing":  {"initiated", "ringing"},
	} {
		a := newFakeApp(t, events, "+2348031234567")
		if _, err := a.place(30*time.Second, carrier.Faults{}); err != nil {
			t.Fatal(err)
		}
		var got []string
		seqs := map[string]bool{}
		for _, s := range a.statuses {
			got = append(got, s.Get("CallStatus"))
			seqs[s.Get("SequenceNumber")] = true
		}
		sort.Strings(got)
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("statusCallbackEvent %q: callbacks %v, want %v", events, got, w)
		}
		// SequenceNumber counts the callbacks sent, from 0.
		for i := range want {
			if !seqs[strconv.Itoa(i)] {
				t.Errorf("statusCallbackEvent %q: sequence numbers %v", events, seqs)
			}
		}
		if len(a.actions) != 1 {
			t.Errorf("statusCallbackEvent %q: %d actions", events, len(a.actions))
		}
	}
}

// Twilio sends each status callback on its own: one the app is slow to
// answer holds none of the others back.
func TestSimulatorCallbacksAreIndependentRequests(t *testing.T) {
	a := newFakeApp(t, "initiated ringing answered completed", "+2348031234567")
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	a.onStatus = func(url.Values) int {
		mu.Lock()
		arrived++
		if arrived == 4 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all: // every callback is in flight at once
			return http.StatusNoContent
		case <-time.After(20 * time.Second):
			return http.StatusServiceUnavailable // sent one after another
		}
	}
	if _, err := a.place(10*time.Second, carrier.Faults{}); err != nil {
		t.Fatalf("callbacks were not sent concurrently: %v", err)
	}
}

func TestSimulatorFailsWithoutRinging(t *testing.T) {
	for number, want := range map[string][]string{
		"+2348031230003": {"initiated", "failed"},
		"+2348031230004": {"initiated", "busy"},
		"+2348031230001": {"initiated", "ringing", "busy"},
		"+2348031230002": {"initiated", "ringing", "no-answer"},
	} {
		a := newFakeApp(t, "initiated ringing answered completed", number)
		call, err := a.place(30*time.Second, carrier.Faults{})
		if err != nil {
			t.Fatal(err)
		}
		by := a.statusesByState()
		var got []string
		for _, s := range a.statuses {
			got = append(got, s.Get("CallStatus"))
		}
		sort.Strings(got)
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: callbacks %v, want %v", number, got, w)
		}
		final := by[want[len(want)-1]]
		if final == nil {
			continue
		}
		if final.Has("CallDuration") {
			t.Errorf("%s: CallDuration on a %s callback", number, final.Get("CallStatus"))
		}
		fixture := map[string]string{"failed": "status_callback_failed.json", "busy": "status_callback_busy.json",
			"no-answer": "status_callback_no_answer.json"}[final.Get("CallStatus")]
		if keys, want := keysOf(final), fixtureKeys(t, fixture); !slices.Equal(keys, want) {
			t.Errorf("%s: final callback fields\n got %v\nwant %v", number, keys, want)
		}
		if len(a.actions) != 1 || a.actions[0].Get("DialBridged") != "false" || a.actions[0].Get("DialCallStatus") != call.Status {
			t.Errorf("%s: actions %v", number, a.actions)
		}
	}
}

// A leg that does not connect says why on its final status callback, as
// Twilio's does: the SIP response of a busy (486) or unanswered (487)
// number, Twilio's error for one it could not place (13224, with its
// message); the Dial action names the outcome. An answered call says none.
func TestSimulatorSendsTheCarriersReason(t *testing.T) {
	for number, want := range map[string]struct {
		status, sip, errorCode string
	}{
		"+2348031230001": {"busy", "486", ""},
		"+2348031230004": {"busy", "486", ""},
		"+2348031230002": {"no-answer", "487", ""},
		"+2348031230003": {"failed", "", "13224"},
		"+2348031234567": {"completed", "", ""},
	} {
		a := newFakeApp(t, "initiated ringing answered completed", number)
		if _, err := a.place(30*time.Second, carrier.Faults{}); err != nil {
			t.Fatal(err)
		}
		for _, s := range a.statuses {
			final := s.Get("CallStatus") == want.status
			if got := s.Get("SipResponseCode"); final && got != want.sip || !final && s.Has("SipResponseCode") {
				t.Errorf("%s: %s callback SipResponseCode %q, want %q on the final one only", number, s.Get("CallStatus"), got, want.sip)
			}
			if got := s.Get("ErrorCode"); final && got != want.errorCode || !final && s.Has("ErrorCode") {
				t.Errorf("%s: %s callback ErrorCode %q, want %q on the final one only", number, s.Get("CallStatus"), got, want.errorCode)
			}
			if final && want.errorCode != "" && s.Get("ErrorMessage") != "Dial: Twilio does not support calling this number or the number is invalid" {
				t.Errorf("%s: ErrorMessage %q", number, s.Get("ErrorMessage"))
			}
			if final && want.errorCode == "" && s.Has("ErrorMessage") {
				t.Errorf("%s: an ErrorMessage without an error: %q", number, s.Get("ErrorMessage"))
			}
		}
		if by := a.statusesByState(); by[want.status] == nil {
			t.Errorf("%s: no %s callback", number, want.status)
		}
		if len(a.actions) != 1 || a.actions[0].Get("DialCallStatus") != want.status || a.actions[0].Has("SipResponseCode") {
			t.Errorf("%s: actions %v", number, a.actions)
		}
	}
	// The busy Dial action has the fields Twilio documents.
	a := newFakeApp(t, "completed", "+2348031230001")
	if _, err := a.place(0, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	if got, want := keysOf(a.actions[0]), fixtureKeys(t, "dial_action_busy.json"); !slices.Equal(got, want) {
		t.Errorf("busy dial action fields\n got %v\nwant %v", got, want)
	}
	if a.actions[0].Get("DialCallDuration") != "0" || a.actions[0].Get("DialBridged") != "false" {
		t.Errorf("busy dial action %v", a.actions[0])
	}
}

func TestSimulatorRefusesBadTokens(t *testing.T) {
	a := newFakeApp(t, "completed", "+2348031234567")
	// Credentials like the simulator's, with one part changed (a copy of
	// the simulator itself would copy its mutex).
	creds := func(change func(*carrier.Simulator)) *carrier.Simulator {
		s := &carrier.Simulator{AccountSID: a.sim.AccountSID, APIKey: a.sim.APIKey, APISecret: a.sim.APISecret}
		change(s)
		return s
	}
	for name, tok := range map[string]string{
		"expired":         token(t, a.sim, "uabc", -time.Second),
		"another secret":  token(t, creds(func(s *carrier.Simulator) { s.APISecret = "anotherSecret0000" }), "uabc", time.Minute),
		"another key":     token(t, creds(func(s *carrier.Simulator) { s.APIKey = "SKother" }), "uabc", time.Minute),
		"another account": token(t, creds(func(s *carrier.Simulator) { s.AccountSID = "ACother" }), "uabc", time.Minute),
		"not a token":     "abc.def.ghi",
	} {
		_, err := a.sim.PlaceCall(context.Background(), tok, "2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11", time.Second, carrier.Faults{})
		if !errors.Is(err, carrier.ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
	if len(a.voice) != 0 {
		t.Fatalf("%d voice requests for bad tokens", len(a.voice))
	}
}

func TestAccessTokenExpiresWithTheAuthorization(t *testing.T) {
	until := time.Now().Add(3 * time.Minute).Truncate(time.Second)
	tok, err := carrier.AccessToken(carrier.TokenParams{AccountSID: "ACsim", APIKey: "SKkey", APISecret: "secret0000",
		TwiMLAppSID: "APapp", Identity: "uabc_call", Until: until})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := carrier.VerifyToken(tok, "ACsim", "SKkey", "secret0000")
	if err != nil {
		t.Fatal(err)
	}
	// twilio-go would have made it an hour (its Ttl is at least 3600 s).
	if !claims.Expires.Equal(until) || claims.Identity != "uabc_call" || claims.TwiMLAppSID != "APapp" {
		t.Fatalf("claims %+v, want exp %s", claims, until)
	}
}

func TestCallIdentity(t *testing.T) {
	id := carrier.CallIdentity("u0123456789abcdef01234567", "2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11")
	user, call, ok := carrier.ParseCallIdentity(id)
	if !ok || user != "u0123456789abcdef01234567" || call.String() != "2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11" {
		t.Fatalf("%q: %q %s %v", id, user, call, ok)
	}
	for _, bad := range []string{"u0123", "u0123_", "_2b9c6f0e-6a0e-4c3e-9d4c-0f3c5b0a9e11", "u1_2B9C6F0E-6A0E-4C3E-9D4C-0F3C5B0A9E11", "u1_notauuid"} {
		if _, _, ok := carrier.ParseCallIdentity(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The simulator's Voice Pricing API answers twilio-go's own pricing
// client and our TwilioPricing in Twilio's shapes (the fixtures).
func TestSimulatorPricingAPI(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{AccountSID: "ACsim", AuthToken: "tok", APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret,
		VoicePrices: []rating.Rate{
			{Prefix: "234", Country: "NG", Description: "Nigeria", PerMinuteMicros: 104_000},
			{Prefix: "23480", Country: "NG", Description: "Nigeria - Mobile", PerMinuteMicros: 135_000},
			{Prefix: "23470", Country: "NG", Description: "Nigeria - Mobile", PerMinuteMicros: 135_000},
			{Prefix: "233", Country: "GH", Description: "Ghana", PerMinuteMicros: 180_005},
			{Prefix: "1", Country: "US", Description: "United States", PerMinuteMicros: 10_000},
		}}
	api := httptest.NewServer(sim.RESTHandler())
	defer api.Close()

	// Our client, as the pricing sync uses it.
	p := carrier.NewTwilioPricing("ACsim", cfg.TwilioAPIKey, cfg.TwilioAPISecret, api.URL, nil)
	costs, err := p.VoiceCosts(context.Background(), "NG")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i].Prefix < costs[j].Prefix })
	want := []rating.Cost{{Prefix: "234", Micros: 104_000, Name: "Nigeria"}, {Prefix: "23470", Micros: 135_000, Name: "Nigeria - Mobile"},
		{Prefix: "23480", Micros: 135_000, Name: "Nigeria - Mobile"}}
	if !slices.Equal(costs, want) {
		t.Errorf("NG costs %+v", costs)
	}
	if gh, err := p.VoiceCosts(context.Background(), "GH"); err != nil || len(gh) != 1 || gh[0].Micros != 180_005 {
		t.Errorf("GH costs %+v %v", gh, err)
	}
	if _, err := p.VoiceCosts(context.Background(), "FR"); !errors.Is(err, carrier.ErrUnknownCountry) {
		t.Errorf("unpriced country: %v", err)
	}
	bad := carrier.NewTwilioPricing("ACsim", cfg.TwilioAPIKey, "wrongSecret000", api.URL, nil)
	if _, err := bad.VoiceCosts(context.Background(), "NG"); !errors.Is(err, carrier.ErrUnauthorized) {
		t.Errorf("wrong secret: %v", err)
	}

	// twilio-go's own pricing client, paging through the country list.
	u, _ := url.Parse(api.URL)
	c := &tclient.Client{Credentials: tclient.NewCredentials(cfg.TwilioAPIKey, cfg.TwilioAPISecret),
		HTTPClient: &http.Client{Transport: hostTo{u}}}
	c.SetAccountSid("ACsim")
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	countries, err := rc.PricingV2.ListVoiceCountry(&pricing.ListVoiceCountryParams{PageSize: ptr(2)})
	if err != nil {
		t.Fatal(err)
	}
	var isos []string
	for _, c := range countries {
		isos = append(isos, *c.IsoCountry)
	}
	if !slices.Equal(isos, []string{"GH", "NG", "US"}) {
		t.Errorf("countries %v", isos)
	}
	ng, err := rc.PricingV2.FetchVoiceCountry("NG")
	if err != nil || ng.OutboundPrefixPrices == nil || len(*ng.OutboundPrefixPrices) != 2 || *ng.PriceUnit != "USD" {
		t.Fatalf("fetch NG: %+v %v", ng, err)
	}

	// The JSON has the keys of Twilio's documented answers.
	for path, fixture := range map[string]string{"/v2/Voice/Countries": "pricing_voice_countries.json", "/v2/Voice/Countries/NG": "pricing_voice_country.json"} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+path, nil)
		req.SetBasicAuth(cfg.TwilioAPIKey, cfg.TwilioAPISecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		raw, _ := os.ReadFile(filepath.Join(fixtures, fixture))
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if g, w := jsonKeys(got), jsonKeys(want); !slices.Equal(g, w) {
			t.Errorf("%s keys\n got %v\nwant %v", path, g, w)
		}
	}
}

// jsonKeys lists the key paths of a JSON document (arrays by their first
// element).
func jsonKeys(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				out = append(out, prefix+k)
				walk(prefix+k+".", e)
			}
		case []any:
			if len(x) > 0 {
				walk(prefix+"[].", x[0])
			}
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

type hostTo struct{ u *url.URL }

func (h hostTo) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.u.Scheme, h.u.Host, h.u.Host
	return http.DefaultTransport.RoundTrip(r)
}

func ptr[T any](v T) *T { return &v }
