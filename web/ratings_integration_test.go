package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// rate is the in-call bar's POST /calls/{id}/rating (JSON, same origin).
func (b *browser) rate(callID, body, origin string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/calls/"+callID+"/rating", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", origin)
	if origin == b.a.srv.URL {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	return b.do(req)
}

// placeAndFinish places a call through the carrier simulator for talk and
// waits for its workflow; the call's final status is returned.
func (e *callEnv) placeAndFinish(b *browser, number string, talk time.Duration) (string, string) {
	e.t.Helper()
	status, call := b.startCall(number)
	if status != http.StatusCreated {
		e.t.Fatalf("POST /calls %s: %d %+v", number, status, call)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, talk, carrier.Faults{}); err != nil {
		e.t.Fatal(err)
	}
	return call.CallID, e.finish(call.CallID).Status
}

func (e *callEnv) storedRating(callID string) (int, []string) {
	e.t.Helper()
	var score int
	var issues []string
	if err := e.pool.QueryRow(context.Background(), `SELECT score, issues FROM call_ratings WHERE call_id = $1`, callID).Scan(&score, &issues); err != nil {
		e.t.Fatalf("rating of %s: %v", callID, err)
	}
	return score, issues
}

// How the call sounded (issue 20, item 3): a completed call is rated by
// its caller, once (a second rating replaces the first); no other call and
// no other user; support reads it on the console's call page, and the
// dashboard's per-country share of poor ratings comes from the ratings.
func TestCallRatingIsStoredShownToSupportAndCountedPerCountry(t *testing.T) {
	e := newCallEnv(t)
	staff := e.admin("quality@example.com")
	b := e.caller("rater@example.com", 500)

	ng, st := e.placeAndFinish(b, "+234 803 123 4567", 61*time.Second)
	if st != workflows.StatusCompleted {
		t.Fatalf("NG call: %s", st)
	}
	if r := b.rate(ng, `{"score":4,"issues":["echo"]}`, e.srv0()); r.status != http.StatusOK {
		t.Fatalf("rating: %d %s", r.status, r.body)
	}
	if score, issues := e.storedRating(ng); score != 4 || len(issues) != 1 || issues[0] != "echo" {
		t.Fatalf("stored %d %v, want 4 [echo]", score, issues)
	}
	// A second rating replaces the first; the issues are kept in one order.
	if r := b.rate(ng, `{"score":2,"issues":["could_not_hear","choppy"]}`, e.srv0()); r.status != http.StatusOK {
		t.Fatalf("second rating: %d %s", r.status, r.body)
	}
	if score, issues := e.storedRating(ng); score != 2 || strings.Join(issues, ",") != "choppy,could_not_hear" {
		t.Fatalf("stored %d %v, want 2 [choppy could_not_hear]", score, issues)
	}
	var n int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM call_ratings`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d rating rows, want 1", n)
	}

	// Not a rating, not from another site, not another user's call.
	for _, body := range []string{`{"score":0}`, `{"score":6}`, `{"score":3,"issues":["loud"]}`, `nonsense`} {
		if r := b.rate(ng, body, e.srv0()); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("rating %s: %d %s", body, r.status, r.body)
		}
	}
	if r := b.rate(ng, `{"score":5}`, "https://evil.example"); r.status != http.StatusForbidden {
		t.Fatalf("cross-site rating: %d %s", r.status, r.body)
	}
	other := e.caller("other-rater@example.com", 500)
	if r := other.rate(ng, `{"score":5}`, e.srv0()); r.status != http.StatusNotFound {
		t.Fatalf("another user's rating: %d %s", r.status, r.body)
	}
	if r := b.rate("5b0e2d0c-0000-4000-8000-000000000000", `{"score":5}`, e.srv0()); r.status != http.StatusNotFound {
		t.Fatalf("no such call: %d %s", r.status, r.body)
	}
	if score, _ := e.storedRating(ng); score != 2 {
		t.Fatalf("a refused rating changed the stored one to %d", score)
	}

	// A busy call and one of under 5 seconds are not rated.
	busy, st := e.placeAndFinish(b, "+234 803 123 0001", time.Second)
	if st != workflows.StatusBusy {
		t.Fatalf("busy call: %s", st)
	}
	short, st := e.placeAndFinish(b, "+234 803 123 4567", 3*time.Second)
	if st != workflows.StatusCompleted {
		t.Fatalf("short call: %s", st)
	}
	for _, id := range []string{busy, short} {
		if r := b.rate(id, `{"score":1,"issues":["dropped"]}`, e.srv0()); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not_rateable") {
			t.Fatalf("rating call %s: %d %s", id, r.status, r.body)
		}
	}

	// A call to Ghana rated well, as the form would post it.
	gh, st := e.placeAndFinish(b, "+233 24 123 4567", 20*time.Second)
	if st != workflows.StatusCompleted {
		t.Fatalf("GH call: %s", st)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv0()+"/calls/"+gh+"/rating", strings.NewReader(url.Values{"score": {"5"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv0())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := b.do(req); r.status != http.StatusOK {
		t.Fatalf("form rating: %d %s", r.status, r.body)
	}

	// The console's call page shows the rating.
	page := staff.get("/admin/calls/" + ng)
	if page.status != http.StatusOK {
		t.Fatalf("admin call page: %d", page.status)
	}
	rating := regexp.MustCompile(`(?s)<dd data-call-rating>(.*?)</dd>`).FindStringSubmatch(page.body)
	if rating == nil || !strings.Contains(rating[1], "2 of 5") || !strings.Contains(rating[1], "Choppy, Could not hear") || !strings.Contains(rating[1], "changed") {
		t.Fatalf("admin call page's rating: %q", rating)
	}
	if page := staff.get("/admin/calls/" + short); !strings.Contains(page.body, "<dd data-call-rating>Not rated</dd>") {
		t.Fatal("an unrated call's page does not say so")
	}

	// The dashboard: per country, worst first.
	dash := staff.get("/admin/")
	if dash.status != http.StatusOK {
		t.Fatalf("dashboard: %d", dash.status)
	}
	rows := regexp.MustCompile(`<tr data-quality-country="([A-Z]{2})">.*?<td data-quality-ratings>(\d+)</td><td data-quality-poor>(\d+)% \((\d+)\)</td></tr>`).FindAllStringSubmatch(dash.body, -1)
	var got []string
	for _, m := range rows {
		got = append(got, strings.Join(m[1:], " "))
	}
	if want := []string{"NG 1 100 1", "GH 1 0 0"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("quality table %q, want %q", got, want)
	}
	// Ratings older than 7 days leave the table.
	if _, err := e.pool.Exec(context.Background(), `UPDATE call_ratings SET updated_at = now() - interval '8 days' WHERE call_id = $1`, ng); err != nil {
		t.Fatal(err)
	}
	if dash := staff.get("/admin/"); strings.Contains(dash.body, `data-quality-country="NG"`) || !strings.Contains(dash.body, `data-quality-country="GH"`) {
		t.Fatal("the quality table still counts a rating of 8 days ago, or lost the recent one")
	}
}
