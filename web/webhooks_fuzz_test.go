package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/mobayilo/mobayilo/internal/carrier"
)

// Fixed ids, so that the seeds name the rows each fuzzing process creates.
const (
	fuzzCallID     = "5f0c6a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f"
	fuzzIdentity   = "ufuzz0123456789abcdef0123"
	fuzzTopUpID    = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	fuzzPaymentInt = "pi_3OfuzzPaymentIntent01"
)

// fuzzCaller signs up a user and gives them an authorized call (as the call
// workflow's authorize update leaves it), returning the user's id.
func fuzzCaller(f *testing.F, fa *fuzzApp) string {
	f.Helper()
	fa.browser().signUp("caller@example.com", "correct horse", "Caller")
	var user, account string
	if err := fa.pool.QueryRow(context.Background(), `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = 'caller@example.com'`).Scan(&user, &account); err != nil {
		f.Fatal(err)
	}
	if _, err := fa.pool.Exec(context.Background(), `INSERT INTO calls (id, user_id, account_id, phone_number, destination_country, client_identity, status,
		rate_prefix, per_minute_micros, max_seconds, authorized_until) VALUES ($1, $2, $3, '+2348031234567', 'NG', $4, 'authorized', '234803', 1500, 600, now() + interval '1 day')`,
		fuzzCallID, user, account, fuzzIdentity); err != nil {
		f.Fatal(err)
	}
	return user
}

// twilioRequest is a POST of body to path?query signed as Twilio signs it
// (twilio-go's RequestValidator: the full URL, then each parameter's name
// and first value in name order, HMAC-SHA1 with the auth token), or with a
// wrong signature when signed is false.
func (fa *fuzzApp) twilioRequest(path, query, body string, signed bool) *http.Request {
	uri := path
	if query != "" {
		uri += "?" + query
	}
	req := httptest.NewRequest(http.MethodPost, uri, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form, err := url.ParseQuery(body)
	if err != nil {
		form = url.Values{} // the handler cannot read it either: 400
	}
	sig := carrier.Sign(fa.cfg.TwilioAuthToken, fa.cfg.PublicBaseURL+req.URL.RequestURI(), form)
	if !signed {
		sig = carrier.Sign("not the auth token", fa.cfg.PublicBaseURL+req.URL.RequestURI(), form)
	}
	req.Header.Set("X-Twilio-Signature", sig)
	return req
}

// FuzzTwilioVoice sends signed voice requests (Twilio's fields, with random,
// missing, repeated and huge values): never a 5xx, never a dial but of the
// one authorized call for its own identity, and a refusal (a 4xx, or the
// spoken refusal with a hang-up) claims nothing and stores nothing.
func FuzzTwilioVoice(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fuzzCaller(f, fa)
	real := url.Values{
		"AccountSid": {fa.cfg.TwilioAccountSID}, "ApplicationSid": {fa.cfg.TwilioTwiMLAppSID}, "ApiVersion": {"2010-04-01"},
		"CallSid": {"CA0123456789abcdef0123456789abcdef"}, "CallStatus": {"ringing"}, "Direction": {"inbound"},
		"Caller": {"client:" + fuzzIdentity}, "From": {"client:" + fuzzIdentity}, "Called": {""}, "To": {""},
		"CallId": {fuzzCallID},
	}
	with := func(k string, v ...string) string {
		form := url.Values{}
		for key, vals := range real {
			form[key] = vals
		}
		if v == nil {
			delete(form, k)
		} else {
			form[k] = v
		}
		return form.Encode()
	}
	for _, body := range []string{
		real.Encode(),
		with("CallId"),
		with("CallSid"),
		with("From"),
		with("From", fuzzIdentity),
		with("From", "client:someone-else"),
		with("CallId", "not-a-uuid"),
		with("CallId", "00000000-0000-0000-0000-000000000000"),
		with("CallId", "other", fuzzCallID),
		with("CallId", fuzzCallID, "other"),
		with("From", "client:"+fuzzIdentity, "client:someone-else"),
		with("CallSid", strings.Repeat("CA", 5000)),
		with("CallSid", "CA\x00nul"),
		with("CallSid", "\xff\xfe"),
		with("From", "client:"+strings.Repeat("u", 30000)),
		"",
		"%zz",
		"CallId=1;From=2",
	} {
		f.Add(body, true)
	}
	f.Add(real.Encode(), false)

	f.Fuzz(func(t *testing.T, body string, signed bool) {
		before := fa.snapshot(t)
		rec := fa.serve(fa.twilioRequest("/api/webhooks/twilio/voice", "", body, signed))
		what := fmt.Sprintf("voice %q", truncate(body, 300))
		fa.check(t, what, rec, before)
		if !signed && rec.Code != http.StatusForbidden && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: unsigned request answered %d", what, rec.Code)
		}
		if rec.Code != http.StatusOK {
			return
		}
		xml := rec.Body.String()
		form, _ := url.ParseQuery(body)
		if strings.Contains(xml, "<Dial") {
			if form.Get("CallId") != fuzzCallID || form.Get("From") != "client:"+fuzzIdentity {
				t.Fatalf("%s: dialled for another call or identity:\n%s", what, xml)
			}
			// Claimed: authorize the call again for the next input.
			if _, err := fa.pool.Exec(context.Background(), `UPDATE calls SET status = 'authorized', parent_call_sid = NULL WHERE id = $1`, fuzzCallID); err != nil {
				t.Fatal(err)
			}
			if _, err := fa.pool.Exec(context.Background(), `DELETE FROM webhook_events WHERE source = 'twilio'`); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !strings.Contains(xml, "<Hangup") {
			t.Fatalf("%s: neither a dial nor a hang-up:\n%s", what, xml)
		}
		if after := fa.snapshot(t); after != before {
			t.Fatalf("%s: refused but changed the database:\nbefore %s\nafter  %s\nlogs:\n%s", what, before, after, fa.logs.take())
		}
	})
}

// FuzzTwilioStatus sends signed status callbacks and Dial action callbacks
// (random, missing, repeated and huge fields and query parameters): never a
// 5xx while Postgres is up, and a refusal stores nothing.
func FuzzTwilioStatus(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fuzzCaller(f, fa)
	status := url.Values{
		"AccountSid": {fa.cfg.TwilioAccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {"CA11111111111111111111111111111111"},
		"ParentCallSid": {"CA0123456789abcdef0123456789abcdef"}, "CallStatus": {"completed"}, "CallDuration": {"42"},
		"SequenceNumber": {"3"}, "Timestamp": {"Tue, 01 Dec 2026 22:00:00 +0000"}, "Direction": {"outbound-dial"},
		"To": {"+2348031234567"}, "From": {"+15005550006"}, "CallbackSource": {"call-progress-events"},
	}
	action := url.Values{
		"AccountSid": {fa.cfg.TwilioAccountSID}, "CallSid": {"CA0123456789abcdef0123456789abcdef"},
		"DialCallSid": {"CA11111111111111111111111111111111"}, "DialCallStatus": {"completed"}, "DialCallDuration": {"42"},
		"CallStatus": {"in-progress"},
	}
	with := func(base url.Values, k string, v ...string) string {
		form := url.Values{}
		for key, vals := range base {
			form[key] = vals
		}
		if v == nil {
			delete(form, k)
		} else {
			form[k] = v
		}
		return form.Encode()
	}
	q := url.Values{"call_id": {fuzzCallID}}.Encode()
	qa := url.Values{"call_id": {fuzzCallID}, "event": {"dial-action"}}.Encode()
	for _, s := range []struct{ query, body string }{
		{q, status.Encode()},
		{qa, action.Encode()},
		{q, with(status, "CallStatus", "ringing")},
		{q, with(status, "CallStatus", "initiated")},
		{q, with(status, "CallStatus", "in-progress")},
		{q, with(status, "CallStatus", "busy")},
		{q, with(status, "CallSid")},
		{q, with(status, "CallStatus")},
		{q, with(status, "SequenceNumber", "99999999999999999999999")},
		{q, with(status, "SequenceNumber", "-1")},
		{q, with(status, "CallDuration", "-42")},
		{q, with(status, "CallDuration", "9223372036854775807")},
		{q, with(status, "CallStatus", "completed", "ringing")},
		{q, with(status, "CallSid", strings.Repeat("CA", 200))},
		{q, with(status, "CallSid", "CA\x00")},
		{q, with(status, "CallStatus", "\xc3\x28")},
		{qa, with(action, "DialCallStatus")},
		{qa, with(action, "DialCallSid", strings.Repeat("x", 50000))},
		{qa, with(action, "DialCallStatus", strings.Repeat("no-answer", 40))},
		{"", status.Encode()},
		{"call_id=nope", status.Encode()},
		{"call_id=" + fuzzCallID + "&call_id=00000000-0000-0000-0000-000000000000", status.Encode()},
		{"event=dial-action&event=x&call_id=" + fuzzCallID, action.Encode()},
		{q, "%"},
	} {
		f.Add(s.query, s.body, true)
	}
	f.Add(q, status.Encode(), false)

	f.Fuzz(func(t *testing.T, query, body string, signed bool) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return // not a query Twilio would send
		}
		query = vals.Encode()
		before := fa.snapshot(t)
		rec := fa.serve(fa.twilioRequest("/api/webhooks/twilio/status", query, body, signed))
		what := fmt.Sprintf("status ?%s %q", truncate(query, 200), truncate(body, 300))
		fa.check(t, what, rec, before)
		if !signed && rec.Code != http.StatusForbidden && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: unsigned request answered %d", what, rec.Code)
		}
	})
}

// stripeEvent is a Stripe event of the API version stripe-go pins, whose
// data.object is object (JSON).
func stripeEvent(id, typ, object string) string {
	return fmt.Sprintf(`{"id":%q,"object":"event","api_version":%q,"created":1764626400,"livemode":false,"pending_webhooks":1,`+
		`"request":{"id":"req_fuzz","idempotency_key":"k"},"type":%q,"data":{"object":%s}}`, id, stripe.APIVersion, typ, object)
}

// FuzzStripeWebhook sends correctly signed Stripe events (the types a top-up
// acts on, and others; with random, missing, repeated and huge fields):
// never a 5xx while Postgres is up, and a refusal stores nothing.
func FuzzStripeWebhook(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fa.browser().signUp("payer@example.com", "correct horse", "Payer")
	if _, err := fa.pool.Exec(context.Background(), `INSERT INTO topups (id, user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		SELECT $1, u.id, a.id, 'usd-10', 1000, 'processing', $2 FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = 'payer@example.com'`,
		fuzzTopUpID, fuzzPaymentInt); err != nil {
		f.Fatal(err)
	}
	pi := func(status, extra string) string {
		return fmt.Sprintf(`{"id":%q,"object":"payment_intent","amount":1000,"amount_received":1000,"currency":"usd","status":%q,`+
			`"livemode":false,"metadata":{"topup_id":%q,"user_id":"u"}%s}`, fuzzPaymentInt, status, fuzzTopUpID, extra)
	}
	failed := `,"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}`
	charge := fmt.Sprintf(`{"id":"ch_3Ofuzz","object":"charge","amount":1000,"amount_refunded":500,"currency":"usd","refunded":false,`+
		`"payment_intent":%q,"metadata":{"topup_id":%q},"refunds":{"object":"list","data":[{"id":"re_1","object":"refund","amount":500,"status":"succeeded"}]}}`,
		fuzzPaymentInt, fuzzTopUpID)
	dispute := fmt.Sprintf(`{"id":"dp_1Ofuzz","object":"dispute","amount":1000,"currency":"usd","status":"needs_response","reason":"fraudulent",`+
		`"charge":"ch_3Ofuzz","payment_intent":%q}`, fuzzPaymentInt)
	for _, body := range []string{
		stripeEvent("evt_succeeded", "payment_intent.succeeded", pi("succeeded", "")),
		stripeEvent("evt_failed", "payment_intent.payment_failed", pi("requires_payment_method", failed)),
		stripeEvent("evt_canceled", "payment_intent.canceled", pi("canceled", `,"cancellation_reason":"abandoned"`)),
		stripeEvent("evt_refunded", "charge.refunded", charge),
		stripeEvent("evt_dispute", "charge.dispute.created", dispute),
		stripeEvent("evt_inquiry", "charge.dispute.created", strings.Replace(dispute, "needs_response", "warning_needs_response", 1)),
		stripeEvent("evt_other", "customer.created", `{"id":"cus_1","object":"customer"}`),
		stripeEvent("evt_nometa", "payment_intent.succeeded", `{"id":"pi_unknown","object":"payment_intent","amount":1000,"currency":"usd","metadata":{}}`),
		stripeEvent("evt_badmeta", "payment_intent.succeeded", `{"id":"pi_unknown","object":"payment_intent","metadata":{"topup_id":"not-a-uuid"}}`),
		stripeEvent("evt_noid", "payment_intent.succeeded", `{"object":"payment_intent","amount":1000}`),
		stripeEvent("evt_huge", "payment_intent.succeeded", strings.Replace(pi("succeeded", ""), `"amount":1000`, `"amount":1e300`, 1)),
		stripeEvent("evt_neg", "payment_intent.succeeded", strings.Replace(pi("succeeded", ""), `"amount":1000`, `"amount":-9223372036854775808`, 1)),
		stripeEvent("evt_str", "charge.refunded", strings.Replace(charge, `"amount":1000`, `"amount":"1000"`, 1)),
		stripeEvent("evt_pi_obj", "charge.refunded", strings.Replace(charge, fmt.Sprintf(`"payment_intent":%q`, fuzzPaymentInt), fmt.Sprintf(`"payment_intent":{"id":%q}`, fuzzPaymentInt), 1)),
		stripeEvent("evt_null", "payment_intent.succeeded", `null`),
		stripeEvent("evt_array", "charge.refunded", `[]`),
		stripeEvent("evt_dup", "payment_intent.succeeded", strings.Replace(pi("succeeded", ""), `"id":`, `"id":"pi_other","id":`, 1)),
		stripeEvent(strings.Repeat("evt_", 200), "payment_intent.succeeded", pi("succeeded", "")),
		strings.Replace(stripeEvent("evt_NUL", "payment_intent.succeeded", pi("succeeded", "")), "evt_NUL", `evt_\u0000`, 1),
		stripeEvent("evt_longtype", strings.Repeat("payment_intent.", 3000), pi("succeeded", "")),
		stripeEvent("evt_longpi", "payment_intent.succeeded", strings.Replace(pi("succeeded", ""), fuzzPaymentInt, strings.Repeat("pi_", 20000), 1)),
		stripeEvent("evt_nulpi", "payment_intent.succeeded", strings.Replace(pi("succeeded", ""), fuzzPaymentInt, `pi_\u0000`, 1)),
		`{"id":"evt_nodata","object":"event","api_version":"` + stripe.APIVersion + `","type":"payment_intent.succeeded"}`,
		`{"id":"evt_oldversion","object":"event","api_version":"2020-08-27","type":"payment_intent.succeeded","data":{"object":{}}}`,
		`{"id":"evt_a","id":"evt_b","api_version":"` + stripe.APIVersion + `","type":"payment_intent.succeeded","type":"charge.refunded","data":{"object":` + charge + `}}`,
		`{}`, `[]`, `null`, ``, `{"data":{"object":`,
	} {
		f.Add(body, true)
	}
	f.Add(stripeEvent("evt_succeeded", "payment_intent.succeeded", pi("succeeded", "")), false)

	f.Fuzz(func(t *testing.T, body string, signed bool) {
		secret := fa.cfg.StripeWebhookSecret
		if !signed {
			secret = "whsec_not_ours"
		}
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret}).Header
		req := httptest.NewRequest(http.MethodPost, "/api/webhooks/stripe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Stripe-Signature", header)
		before := fa.snapshot(t)
		rec := fa.serve(req)
		what := fmt.Sprintf("stripe %q", truncate(body, 400))
		fa.check(t, what, rec, before)
		if !signed && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: wrongly signed event answered %d", what, rec.Code)
		}
	})
}
