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
	"sort"
	"sync"
	"testing"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
)

// fixtureKeys are the field names of a testdata/twilio fixture's part
// ("fields" of a webhook, "request" or "response" of a REST call).
func fixturePartKeys(t *testing.T, name, part string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "twilio", name))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(f[part], &fields); err != nil {
		t.Fatal(err)
	}
	return sortedKeysOf(fields)
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Through twilio-go, the simulator verifies a caller ID as Twilio does: a
// validation request answers with a six-digit code (Twilio's shape), a
// wrong code posts a failed callback, the right one a success with the
// OutgoingCallerIdSid, signed and in the documented field sets; a number
// verified is refused a second time (21450) and can be deleted.
func TestSimulatorVerifiesCallerIDsThroughTwilioGo(t *testing.T) {
	var mu sync.Mutex
	var callbacks []url.Values
	var sigOK []bool
	app := httptest.NewUnstartedServer(nil)
	base := "http://" + app.Listener.Addr().String()
	app.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		callbacks = append(callbacks, r.PostForm)
		sigOK = append(sigOK, r.Header.Get("X-Twilio-Signature") == carrier.Sign("tok", base+r.URL.RequestURI(), r.PostForm))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	app.Start()
	defer app.Close()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{BaseURL: base, AuthToken: "tok", AccountSID: "ACsim", APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret}
	var requests []url.Values
	rest := sim.RESTHandler()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			requests = append(requests, r.PostForm)
		}
		rest.ServeHTTP(w, r)
	}))
	defer api.Close()
	tc, err := carrier.NewTwilioCallsAt("ACsim", cfg.TwilioAPIKey, cfg.TwilioAPISecret, api.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	number := "+2348031234567"
	callback := base + "/api/webhooks/twilio/callerid?attempt=1&number=%2B2348031234567&user_id=u1"

	v, err := tc.RequestValidation(ctx, carrier.ValidationRequest{PhoneNumber: number, FriendlyName: "Mobayilo " + number, StatusCallback: callback})
	if err != nil || len(v.ValidationCode) != 6 || v.CallSid == "" {
		t.Fatalf("validation request: %+v %v", v, err)
	}
	if got, want := sortedKeysOf(requests[0]), fixturePartKeys(t, "callerid_validation_request.json", "request"); !sameKeys(got, want) {
		t.Fatalf("request fields %v, Twilio documents %v", got, want)
	}
	wrong := "000000"
	if v.ValidationCode == wrong {
		wrong = "999999"
	}
	if ok, err := sim.EnterValidationCode(ctx, number, wrong); err != nil || ok {
		t.Fatalf("wrong code: verified %v, %v", ok, err)
	}
	if _, err := sim.EnterValidationCode(ctx, number, v.ValidationCode); !errors.Is(err, carrier.ErrNoValidation) {
		t.Fatalf("the call ended with the wrong code; a second try: %v", err)
	}
	v2, err := tc.RequestValidation(ctx, carrier.ValidationRequest{PhoneNumber: number, StatusCallback: callback})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := sim.EnterValidationCode(ctx, number, v2.ValidationCode); err != nil || !ok {
		t.Fatalf("right code: verified %v, %v", ok, err)
	}
	if len(callbacks) != 2 || !sigOK[0] || !sigOK[1] {
		t.Fatalf("callbacks %v, signatures %v", callbacks, sigOK)
	}
	failed, success := callbacks[0], callbacks[1]
	if failed.Get("VerificationStatus") != "failed" || failed.Get("CallSid") != v.CallSid || failed.Get("To") != number {
		t.Fatalf("failed callback %v", failed)
	}
	if got, want := sortedKeysOf(failed), fixturePartKeys(t, "callerid_callback_failed.json", "fields"); !sameKeys(got, want) {
		t.Fatalf("failed callback fields %v, fixture %v", got, want)
	}
	sid := success.Get("OutgoingCallerIdSid")
	if success.Get("VerificationStatus") != "success" || len(sid) != 34 || sid[:2] != "PN" || sim.VerifiedCallerID(number) != sid {
		t.Fatalf("success callback %v", success)
	}
	if got, want := sortedKeysOf(success), fixturePartKeys(t, "callerid_callback_success.json", "fields"); !sameKeys(got, want) {
		t.Fatalf("success callback fields %v, fixture %v", got, want)
	}
	// Verified once: Twilio refuses the number again.
	_, err = tc.RequestValidation(ctx, carrier.ValidationRequest{PhoneNumber: number, StatusCallback: callback})
	var refused *carrier.ValidationRefusedError
	if !errors.As(err, &refused) || refused.Code != carrier.ErrorAlreadyVerified {
		t.Fatalf("second verification: %v", err)
	}
	if err := tc.DeleteCallerID(ctx, sid); err != nil || sim.VerifiedCallerID(number) != "" {
		t.Fatalf("delete: %v, still %q", err, sim.VerifiedCallerID(number))
	}
	if err := tc.DeleteCallerID(ctx, sid); err != nil {
		t.Fatalf("deleting it again (404) is done: %v", err)
	}
	// An invalid number is refused, not retried.
	if _, err := tc.RequestValidation(ctx, carrier.ValidationRequest{PhoneNumber: "12345", StatusCallback: callback}); !errors.As(err, &refused) {
		t.Fatalf("invalid number: %v", err)
	}
}
