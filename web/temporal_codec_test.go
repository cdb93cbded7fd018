package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mobayilo/mobayilo/internal/codec"
)

const (
	testCodecKeys = "test-1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="
	temporalUI    = "http://127.0.0.1:8233"
)

// sealedBody is a codec request body (Payloads as protobuf JSON) holding
// value sealed with keys.
func sealedBody(t *testing.T, keys, value string) string {
	t.Helper()
	k, err := codec.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.New(k).DataConverter().ToPayload(value)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), value) {
		t.Fatalf("sealed body shows %q", value)
	}
	return string(b)
}

// codecRequest is what the Temporal UI sends from origin, as a browser
// would mark it.
func codecRequest(b *browser, method, path, origin, body string) response {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.a.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", origin)
	site := "cross-site"
	if origin == temporalUI { // 127.0.0.1, another port: the same site
		site = "same-site"
	}
	req.Header.Set("Sec-Fetch-Site", site)
	if method == http.MethodOptions {
		req.Header.Del("Content-Type")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	}
	return b.do(req)
}

func TestTemporalCodecEndpointDecodesForAdminsOnly(t *testing.T) {
	a := newApp(t, map[string]string{"TEMPORAL_CODEC_KEYS": testCodecKeys, "TEMPORAL_UI_URL": temporalUI + "/"})
	const number = "+2348031234567"
	body := sealedBody(t, testCodecKeys, number)
	const decode = "/admin/temporal-codec/decode"

	// Signed out, or signed in as a user: nothing there.
	user := a.browser()
	user.signUp("user@example.com", "correct horse", "User")
	for name, b := range map[string]*browser{"visitor": a.browser(), "user": user} {
		r := codecRequest(b, http.MethodPost, decode, temporalUI, body)
		if r.status != http.StatusNotFound || strings.Contains(r.body, number) {
			t.Fatalf("%s: %d\n%s", name, r.status, r.body)
		}
	}

	admin := signUpConsoleAdmin(a, "support@example.com")
	r := codecRequest(admin, http.MethodPost, decode, temporalUI, body)
	if r.status != http.StatusOK {
		t.Fatalf("admin decode: %d\n%s", r.status, r.body)
	}
	if r.header.Get("Access-Control-Allow-Origin") != temporalUI || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("admin decode from the UI lacks CORS headers: %v", r.header)
	}
	var out commonpb.Payloads
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(r.body), &out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("decode answer %q: %v", r.body, err)
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &got); err != nil || got != number {
		t.Fatalf("decoded %q, %v", got, err)
	}
	// The UI's namespace-templated path works too.
	if r := codecRequest(admin, http.MethodPost, "/admin/temporal-codec/default/decode", temporalUI, body); r.status != http.StatusOK {
		t.Fatalf("namespaced decode: %d", r.status)
	}

	// An admin's browser on another site is refused, and gets no CORS grant.
	r = codecRequest(admin, http.MethodPost, decode, "https://evil.example", body)
	if r.status != http.StatusForbidden || strings.Contains(r.body, number) || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("decode from another site: %d %v\n%s", r.status, r.header, r.body)
	}

	// The preflight (no cookie) from the UI's origin is granted; from
	// another origin it is not.
	r = codecRequest(a.browser(), http.MethodOptions, decode, temporalUI, "")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != temporalUI ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "x-namespace") {
		t.Fatalf("preflight from the UI: %d %v", r.status, r.header)
	}
	r = codecRequest(a.browser(), http.MethodOptions, decode, "https://evil.example", "")
	if r.status == http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("preflight from another origin: %d %v", r.status, r.header)
	}

	// Trusting the UI's origin for the codec weakens nothing else: the
	// console's actions still refuse it.
	userID := userIDByEmail(a, "user@example.com")
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/users/"+userID.String()+"/disable",
		strings.NewReader(url.Values{"reason": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", temporalUI)
	req.Header.Set("Sec-Fetch-Site", "same-site")
	if r := admin.do(req); r.status != http.StatusForbidden {
		t.Fatalf("console action from the UI's origin: %d", r.status)
	}
}

func TestTemporalCodecEndpointIsAbsentWithoutKeys(t *testing.T) {
	a := newApp(t, nil)
	admin := signUpConsoleAdmin(a, "support@example.com")
	r := codecRequest(admin, http.MethodPost, "/admin/temporal-codec/decode", temporalUI, `{"payloads":[]}`)
	// Nothing serves it: the pages' cross-origin protection refuses the
	// UI's origin before the router finds no route.
	if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("codec endpoint without keys: %d %v", r.status, r.header)
	}
}
