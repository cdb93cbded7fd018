package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// An ordinary request writes no session row; the session's use is
// recorded at most hourly, and a session idle for 14 days is signed out.
func TestSessionsAreNotRewrittenOnEveryRequest(t *testing.T) {
	a, clock := newAppWithClock(t, nil)
	user := a.browser()
	user.signUp("quiet.session@example.com", "correct horse", "Quiet")
	version := func() (data []byte) {
		t.Helper()
		if err := a.pool.QueryRow(context.Background(), `SELECT data || convert_to(expiry::text, 'UTF8') FROM sessions ORDER BY expiry DESC LIMIT 1`).Scan(&data); err != nil {
			t.Fatal(err)
		}
		return data
	}
	user.get("/call") // shows (and so removes) the sign-up's flash: a write
	before := version()
	for range 3 {
		if r := user.get("/call"); r.status != http.StatusOK {
			t.Fatalf("GET /call: %d", r.status)
		}
	}
	if string(version()) != string(before) {
		t.Fatal("a GET rewrote the session")
	}
	clock.advance(2 * time.Hour)
	if r := user.get("/call"); r.status != http.StatusOK {
		t.Fatalf("GET /call two hours on: %d", r.status)
	}
	if string(version()) == string(before) {
		t.Fatal("the session's use was not recorded after two hours")
	}
	clock.advance(13 * 24 * time.Hour)
	if r := user.get("/call"); r.status != http.StatusOK {
		t.Fatalf("GET /call after 13 idle days: %d", r.status)
	}
	clock.advance(14*24*time.Hour + time.Minute)
	if r := user.get("/call"); r.status != http.StatusSeeOther || r.location != "/signin?next=%2Fcall" {
		t.Fatalf("GET /call after 14 idle days: %d %s", r.status, r.location)
	}
}
