package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

// TestEveryPageRenders renders every page template with sample data, signed
// in and signed out, so a template that breaks on real data fails here and
// not in front of a user.
//
// Pages may add their samples to extraPageSamples from their own test file
// (in an init function).
func TestEveryPageRenders(t *testing.T) {
	assets, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{templates: templates, assets: assets}
	user := &sessionUser{User: db.User{ID: uuid.New(), Email: "ama@example.com", DisplayName: "Ama <b>O.</b>", HomeCountry: "GH", Role: "user"}, BalanceCents: -1234}
	samples := map[string]pageData{
		"home":    {},
		"signup":  {Form: url.Values{"email": {"x"}, "home_country": {"NG"}}, Errors: map[string]string{"email": "Enter an email address.", "home_country": "Choose your country."}},
		"signin":  {Form: url.Values{"next": {"/history"}}, Errors: map[string]string{"form": "That email and password do not match an account."}},
		"forgot":  {Form: url.Values{}},
		"reset":   {Form: url.Values{"token": {"abc"}}, Data: true},
		"confirm": {Form: url.Values{"token": {"abc"}}, Data: true},
		"call": {Tab: "dial", Data: dialData{Device: "simulator", Number: "+234<x>", Keys: dialKeys, Recent: []recentNumber{{Number: "+2348031234567", Name: "Ada <b>"}, {Number: "+2348031234568"}},
			Favourites: []db.Contact{{ID: uuid.New(), Name: "Ada <b>", PhoneNumber: "+2348031234567", Favourite: true}}}},
		"contacts": {Tab: "dial", Form: url.Values{"name": {"<x>"}}, Errors: map[string]string{"name": "Enter a name."}, Data: contactsData{EditID: "k2", Contacts: []contactRow{
			{ID: "k1", Name: "Ada <b>", Number: "+2348031234567", Country: "Nigeria", Favourite: true, PerMinute: "$0.14/min"},
			{ID: "k2", Name: "Bo", Number: "+8819<x>", Refusal: "Numbers starting with +881 cannot be called."}}}},
		"history": {Tab: "history", Data: historyData{Older: "/history?before=x", Days: []historyDay{{Label: "Today", Calls: []callRow{
			{ID: "c1", Number: "+2348031234567", Name: "Ada <b>", Country: "Nigeria", Status: "completed", DurationSeconds: 61, CostCents: 28, Billed: true, At: time.Now()},
			{ID: "c2", Number: "+233<b>", Country: "Ghana", Status: "busy", At: time.Now()}}}}}},
		"call_detail": {Tab: "history", Data: callDetail{Call: callRow{ID: "c1", Number: "+2348031234567", Country: "Nigeria", Status: "completed", DurationSeconds: 61, CostCents: 28, Billed: true, At: time.Now()},
			RatePerMinute: "$0.14/min", RateName: "Nigeria mobile", BilledMinutes: 2, BillingState: "charged", CarrierReason: "<y>",
			Entries: []callEntry{{Label: entryKindLabel("call_charge"), AmountCents: -28, BalanceAfterCents: 472, At: time.Now()}},
			Events:  []callStep{{Status: "ringing", At: time.Now()}, {Status: "completed", At: time.Now()}}}},
		"transactions": {Tab: "credits", Data: transactionsData{Older: "/transactions?before=1", Entries: []entryRow{{ID: 2, Title: "Call to +234<x>", AmountCents: -28, BalanceAfterCents: 472, At: time.Now(), Link: "/calls/c1"},
			{ID: 1, Title: "Adjustment", Note: "<y>", AmountCents: 500, BalanceAfterCents: 500, At: time.Now()}}}},
		"credits": {Tab: "credits", Errors: map[string]string{"form": "Choose one of the amounts below."}, Data: creditsData{Packages: []int64{500, 1000},
			TopUps: []db.TopUp{{ID: uuid.New(), AmountCents: 1000, Status: "succeeded", CreatedAt: time.Now()}, {ID: uuid.New(), AmountCents: 500, Status: "failed", CreatedAt: time.Now()}},
			Cards:  []payments.Card{{ID: "pm_<y>", Brand: "visa", Last4: "4242", ExpMonth: 8, ExpYear: 2030}}, Default: "pm_<y>"}},
		"topup": {Tab: "credits", Data: topUpData{T: db.TopUp{ID: uuid.New(), AmountCents: 1000, Status: "failed", FailureMessage: strPtr("<y>"), PaymentIntentID: strPtr("pi_1"), CreatedAt: time.Now()},
			Pay: true, Simulated: true, Cards: simCards}},
		"admin_dashboard": {Tab: "admin", Data: dashboardData{Counts: db.DashboardCountsRow{OverdueCalls: 1, StuckCalls: 1},
			Stuck: []stuckRow{{stuckCall: stuckCall{CallID: "c<y>", WorkflowID: "call-c<y>", UserID: "u<y>", Link: "http://127.0.0.1:8233/x", Started: time.Now()},
				Email: "<y>@example.com", Number: "+234<x>", CostCents: 28, Reason: "<y>", Since: time.Now(), Known: true}},
			Overdue:  []db.ListOverdueCallsRow{{PhoneNumber: "+234<x>", Email: "<y>@example.com", Status: "in_progress", CreatedAt: time.Now()}},
			TopUps:   []db.ListStaleTopUpsRow{{AmountCents: 500, Status: "processing", Email: "<y>@example.com", CreatedAt: time.Now()}},
			Webhooks: []db.WebhookEvent{{Source: "stripe", EventType: "<y>", WorkflowID: strPtr("topup-<y>"), Attempts: 3, LastError: strPtr("<y>")}}}},
		"admin_search": {Tab: "admin", Data: searchData{Query: "<y>", Calls: []db.SearchCallsRow{{PhoneNumber: "+234<x>", Email: "<y>", CreatedAt: time.Now()}},
			TopUps: []db.SearchTopUpsRow{{AmountCents: 500, Email: "<y>", PaymentIntentID: strPtr("pi_<y>"), CreatedAt: time.Now()}},
			Users:  []db.SearchUsersRow{{Email: "<y>@example.com", DisplayName: "<y>"}}}},
		"admin_call": {Tab: "admin", Data: adminCallData{Call: db.Call{PhoneNumber: "+234<x>", Status: "completed", BillingState: "stuck", CreatedAt: time.Now(), EndReason: strPtr("<y>"), BillingError: strPtr("<y>")},
			Email: "<y>", State: &workflows.CallState{LastError: "<y>"}, Reason: stuckReason{Sentence: "<y>", Next: "<y>", Detail: "<y>"}, StateJSON: `{"LastError": "<y>"}`, Link: "http://127.0.0.1:8233/<y>",
			Webhooks: []adminDelivery{{WebhookEvent: db.WebhookEvent{EventType: "status", DedupKey: "<y>", LastError: strPtr("<y>")}, Outcome: "<y>",
				Fields: []formField{{Name: "<y>", Value: "<y>"}}}},
			Carrier: carrierWords{Staff: "<y>", ErrorLink: "https://www.twilio.com/docs/api/errors/<y>"},
			Entries: []db.Transaction{{Kind: "call_charge", IdempotencyKey: "<y>", AmountCents: -28}},
			Audit:   []db.ListAdminActionsForTargetRow{{Action: "retry_billing", ActorEmail: "<y>", Reason: "<y>"}}}},
		"admin_topup": {Tab: "admin", Data: adminTopUpData{TopUp: db.TopUp{AmountCents: 1000, Status: "failed", FailureMessage: strPtr("<y>"), PaymentIntentID: strPtr("pi_<y>")},
			Email: "<y>", StateError: "<y>", Webhooks: []adminDelivery{{WebhookEvent: db.WebhookEvent{EventType: "<y>", DedupKey: "evt_<y>"}, Outcome: "<y>"}}}},
		"admin_audit": {Tab: "admin", Data: auditData{Older: "/admin/audit?before=1", Actions: []db.ListAdminActionsRow{{Action: "adjustment", TargetType: "user", TargetID: "<y>",
			Reason: "<y>", Details: []byte(`{"a":"<y>"}`), ActorEmail: "<y>", TargetLabel: "<y>", Outcome: strPtr("<y>"), CreatedAt: time.Now()}}}},
		"settings": {Tab: "settings", Form: url.Values{}, Errors: map[string]string{"new_password": "Use at least 8 characters."}},
		"offline":  {},
		"rates": {Data: ratesData{Query: "<nig>", Total: 2, Countries: []countryRates{{Code: "NG", Name: "Nigeria", DialCode: "+234", FromMicros: 130_000, ToMicros: 150_000,
			Rates: []rating.Rate{{Prefix: "234", Country: "NG", Description: "Nigeria <fixed>", PerMinuteMicros: 130_000, Enabled: true}}}}}},
		"error":   {Data: errorData{Status: 404, Title: "Page not found", Message: "There is nothing at this address."}},
		"devmail": {Data: []mail.Message{{To: "ama@example.com", Subject: "Reset", Text: "Open http://127.0.0.1:8080/password/reset?token=abc&x=<y>", SentAt: time.Now()}}},
	}
	for name, data := range extraPageSamples {
		samples[name] = data
	}
	for name := range templates {
		if _, ok := samples[name]; !ok {
			t.Errorf("page %s has no sample data in this test", name)
		}
	}
	signedInOnly := map[string]bool{"admin_dashboard": true, "admin_search": true, "admin_call": true, "admin_topup": true, "admin_audit": true,
		"admin_users": true, "admin_user": true, "admin_rates": true,
		"call": true, "history": true, "credits": true, "settings": true, "call_detail": true, "topup": true, "transactions": true}
	for name, data := range samples {
		for _, signedIn := range []bool{false, true} {
			if signedInOnly[name] && !signedIn {
				continue
			}
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if signedIn {
				req = req.WithContext(contextWithUser(req.Context(), user))
			}
			rec := httptest.NewRecorder()
			s.render(rec, req, http.StatusOK, name, data)
			body := rec.Body.String()
			if rec.Code != http.StatusOK || !strings.Contains(body, "</html>") {
				t.Fatalf("%s (signed in %v): %d\n%s", name, signedIn, rec.Code, body)
			}
			// The support console has its own layout: no customer bottom
			// nav and no balance chip of the agent's own.
			console := data.Tab == "admin"
			if wantNav := signedIn && !console; wantNav != strings.Contains(body, `aria-label="Main"`) {
				t.Errorf("%s: bottom nav shown=%v, want %v (signed in %v, console %v)", name, !wantNav, wantNav, signedIn, console)
			}
			if console && signedIn && (strings.Contains(body, `id="balance-chip"`) || !strings.Contains(body, "data-console")) {
				t.Errorf("%s: the console shows the agent's balance chip, or not its own header", name)
			}
			if strings.Contains(body, "<b>O.</b>") || strings.Contains(body, "<y>") || strings.Contains(body, "<fixed>") || strings.Contains(body, "<nig>") || strings.Contains(body, "+233<b>") || strings.Contains(body, "+234<x>") {
				t.Errorf("%s: user text was not escaped", name)
			}
			if signedIn && !console && !strings.Contains(body, "-$12.34") {
				t.Errorf("%s: the balance chip does not show -$12.34", name)
			}
		}
	}
}

func TestMoney(t *testing.T) {
	for cents, want := range map[int64]string{0: "$0.00", 5: "$0.05", 500: "$5.00", 1234: "$12.34", -1: "-$0.01", -1234: "-$12.34"} {
		if got := Money(cents); got != want {
			t.Errorf("Money(%d) = %q, want %q", cents, got, want)
		}
	}
}

func TestLinkifyEscapes(t *testing.T) {
	got := string(linkify(`a <script> http://x.test/p?a=1&b=2 z`))
	want := `a &lt;script&gt; <a class="link" href="http://x.test/p?a=1&amp;b=2">http://x.test/p?a=1&amp;b=2</a> z`
	if got != want {
		t.Fatalf("linkify:\n got %s\nwant %s", got, want)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/history": "/history", "/call?x=1": "/call?x=1", "": "/call", "//evil.example": "/call",
		"https://evil.example": "/call", "/\\evil.example": "/call", "history": "/call", "/a\r\nSet-Cookie:x": "/call",
		"/\t/evil.example/x": "/call", "/x\\y": "/call", "/%2F%2Fevil": "/%2F%2Fevil",
	} {
		if got := localPath(in, "/call"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// extraPageSamples holds sample data that other test files add for their
// pages.
var extraPageSamples = map[string]pageData{}
