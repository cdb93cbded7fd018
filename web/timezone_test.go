package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// Times are the person's: the zone the browser sent at sign-up, changed
// in Settings; History groups calls by the person's days.
func TestTimesInThePersonsZone(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	r := b.post("/signup", url.Values{"email": {"tokyo@example.com"}, "password": {"correct horse"}, "display_name": {"Aiko"},
		"home_country": {"JP"}, "time_zone": {"Asia/Tokyo"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign up: %d", r.status)
	}
	// A call at 23:30 UTC yesterday is 08:30 today in Tokyo.
	at := time.Now().UTC().Truncate(24 * time.Hour).Add(-30 * time.Minute)
	call := a.insertCall(t, "tokyo@example.com", "+2348031234567")
	a.exec(t, `UPDATE calls SET created_at = $2, status = 'busy', billing_state = 'not_billable', per_minute_micros = 140000, max_seconds = 60, authorized_until = $2 WHERE id = $1`, call, at)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	local := at.In(tokyo)

	h := b.get("/history")
	if !strings.Contains(h.body, ">"+local.Format("15:04")+"</time>") || !strings.Contains(h.body, "Times are in Asia/Tokyo") {
		t.Errorf("History does not show %s Tokyo time:\n%s", local.Format("15:04"), h.body)
	}
	if day := dayHeading(h.body); day != wantDay(local, time.Now().In(tokyo)) {
		t.Errorf("History files the call under %q, want %q (Tokyo's day)", day, wantDay(local, time.Now().In(tokyo)))
	}
	if d := b.get("/calls/" + call.String()); !strings.Contains(d.body, local.Format("2 January 2006, 15:04")) || !strings.Contains(d.body, "(Asia/Tokyo)") {
		t.Error("the call's page does not show Tokyo time")
	}

	// Settings changes it; an unknown zone is refused, next to its field.
	if r := b.post("/settings/time-zone", url.Values{"time_zone": {"Atlantis/Capital"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="time_zone-error"`) || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Fatalf("unknown zone: %d", r.status)
	}
	if r := b.post("/settings/time-zone", url.Values{"time_zone": {"Africa/Lagos"}}); r.status != http.StatusSeeOther || r.location != "/settings" {
		t.Fatalf("set Africa/Lagos: %d %s", r.status, r.location)
	}
	if s := b.get("/settings"); !strings.Contains(s.body, `value="Africa/Lagos"`) || !strings.Contains(s.body, "Times now show in Africa/Lagos.") {
		t.Error("Settings does not show the new zone")
	}
	lagos, _ := time.LoadLocation("Africa/Lagos")
	if h := b.get("/history"); !strings.Contains(h.body, ">"+at.In(lagos).Format("15:04")+"</time>") {
		t.Error("History does not follow the new zone")
	}

	// A browser that sends no zone (or a made-up one) gets UTC.
	c := a.browser()
	c.post("/signup", url.Values{"email": {"nozone@example.com"}, "password": {"correct horse"}, "display_name": {"N"}, "home_country": {"NG"}, "time_zone": {"Local"}})
	var zone string
	if err := a.pool.QueryRow(context.Background(), `SELECT time_zone FROM users WHERE email = 'nozone@example.com'`).Scan(&zone); err != nil || zone != "UTC" {
		t.Fatalf("zone %q, %v", zone, err)
	}
}

func dayHeading(body string) string {
	m := regexp.MustCompile(`<h2 id="day-0"[^>]*>([^<]+)</h2>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func wantDay(t, now time.Time) string {
	if t.Format("2006-01-02") == now.Format("2006-01-02") {
		return "Today"
	}
	return "Yesterday"
}

// The sign-up form chooses the country the browser's languages name.
func TestSignUpCountryFromTheBrowser(t *testing.T) {
	a := newApp(t, nil)
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/signup", nil)
	req.Header.Set("Accept-Language", "fr-CI,fr;q=0.9,en;q=0.5")
	r := a.browser().do(req)
	if !regexp.MustCompile(`<option value="CI" selected>`).MatchString(r.body) {
		t.Error("Côte d'Ivoire is not chosen for fr-CI")
	}
	if plain := a.browser().get("/signup"); strings.Contains(plain.body, " selected>") {
		t.Error("a country is chosen with no language to go by")
	}
}

// A call's page says its charge in words and offers to call again; the
// keypad's keys are named by what they show.
func TestCallPageAndKeypadWords(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("words@example.com", "correct horse", "Words")
	call := a.insertCall(t, "words@example.com", "+2348031234567")
	a.exec(t, `UPDATE calls SET status = 'completed', billing_state = 'charged', duration_seconds = 61, cost_cents = 28, per_minute_micros = 140000, max_seconds = 60, authorized_until = now() WHERE id = $1`, call)
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "call:" + call.String() + ":charge", AccountID: a.accountOf(t, "words@example.com"),
		Kind: ledger.CallCharge, AmountCents: -28, CallID: &call}); err != nil {
		t.Fatal(err)
	}
	d := b.get("/calls/" + call.String())
	if !strings.Contains(d.body, `href="/call?number=%2b2348031234567"`) || !strings.Contains(d.body, ">Call again<") {
		t.Errorf("no Call again on the call's page:\n%s", d.body)
	}
	if strings.Contains(d.body, "call_charge") || !strings.Contains(d.body, "<span>Call charge ·") {
		t.Error("the ledger shows a kind's code, not its words")
	}
	dial := b.get("/call")
	if strings.Contains(dial.body, `aria-label="star"`) || strings.Contains(dial.body, "hold for plus") || !strings.Contains(dial.body, `aria-describedby="keypad-hold"`) {
		t.Error("keypad keys are named unlike what they show")
	}
}
