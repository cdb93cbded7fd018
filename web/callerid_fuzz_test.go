package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzTwilioCallerID sends Twilio's validation callbacks (signed or not,
// with random, missing, repeated and huge fields and URLs): never a 5xx
// while Postgres is up, an unsigned one is 403 (or a 400 for a form no one
// can read), and a refusal stores nothing.
func FuzzTwilioCallerID(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	user := fuzzCaller(f, fa)
	if _, err := fa.pool.Exec(context.Background(), `INSERT INTO caller_ids (user_id, e164) VALUES ($1, '+2348031234567')`, user); err != nil {
		f.Fatal(err)
	}
	form := url.Values{
		"AccountSid": {fa.cfg.TwilioAccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {"CA22222222222222222222222222222222"},
		"CallStatus": {"completed"}, "Called": {"+2348031234567"}, "Caller": {"+15005550006"}, "Direction": {"outbound-api"},
		"From": {"+15005550006"}, "To": {"+2348031234567"}, "VerificationStatus": {"success"},
		"OutgoingCallerIdSid": {"PN0123456789abcdef0123456789abcdef"},
	}
	with := func(k string, v ...string) string {
		out := url.Values{}
		for key, vals := range form {
			out[key] = vals
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out.Encode()
	}
	q := url.Values{"user_id": {user}, "number": {"+2348031234567"}, "attempt": {"1"}}.Encode()
	for _, s := range []struct{ query, body string }{
		{q, form.Encode()},
		{q, with("VerificationStatus", "failed")},
		{q, with("VerificationStatus", "maybe")},
		{q, with("VerificationStatus")},
		{q, with("CallSid")},
		{q, with("CallSid", strings.Repeat("CA", 200))},
		{q, with("OutgoingCallerIdSid", strings.Repeat("PN", 200))},
		{q, with("AccountSid", "ACother")},
		{q, with("VerificationStatus", "success", "failed")},
		{q, with("CallSid", "CA\x00")},
		{"", form.Encode()},
		{"user_id=nope&number=%2B1&attempt=1", form.Encode()},
		{strings.Replace(q, "attempt=1", "attempt=-1", 1), form.Encode()},
		{strings.Replace(q, "attempt=1", "attempt=99999999999999999999", 1), form.Encode()},
		{strings.Replace(q, "number=%2B2348031234567", "number="+strings.Repeat("9", 300), 1), form.Encode()},
		{q, "%"},
	} {
		f.Add(s.query, s.body, true)
	}
	f.Add(q, form.Encode(), false)

	f.Fuzz(func(t *testing.T, query, body string, signed bool) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return // not a query Twilio would send
		}
		query = vals.Encode()
		before := fa.snapshot(t)
		rec := fa.serve(fa.twilioRequest("/api/webhooks/twilio/callerid", query, body, signed))
		what := fmt.Sprintf("callerid ?%s %q", truncate(query, 200), truncate(body, 300))
		fa.check(t, what, rec, before)
		if !signed && rec.Code != http.StatusForbidden && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: unsigned request answered %d", what, rec.Code)
		}
	})
}
