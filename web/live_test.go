package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// stream opens the browser's /live and returns its data lines as they come.
func (b *browser) stream(t *testing.T) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.a.srv.URL+"/live", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /live: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				lines <- strings.TrimPrefix(sc.Text(), "data: ")
			}
		}
	}()
	return lines
}

func expectLine(t *testing.T, lines <-chan string, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream closed before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %s", want, within)
		}
	}
}

func (a *app) accountOf(t *testing.T, email string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := a.pool.QueryRow(context.Background(), `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLiveBalanceAndCallStatusReachOnlyTheirUser(t *testing.T) {
	a := newApp(t, nil)
	ann, ben := a.browser(), a.browser()
	ann.signUp("ann.live@example.com", "correct horse", "Ann")
	ben.signUp("ben.live@example.com", "correct horse", "Ben")
	annLines, benLines := ann.stream(t), ben.stream(t)
	// A stream opens with the current state: here, a zero balance.
	expectLine(t, annLines, `<template>$0.00</template>`, 5*time.Second)
	expectLine(t, benLines, `<template>$0.00</template>`, 5*time.Second)

	// Outlive the server's write timeout before anything happens.
	time.Sleep(4 * time.Second)
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "bonus:live", AccountID: a.accountOf(t, "ann.live@example.com"), Kind: ledger.Bonus, AmountCents: 123}); err != nil {
		t.Fatal(err)
	}
	expectLine(t, annLines, `<turbo-stream action="update" targets="[data-balance]"><template>$1.23</template></turbo-stream>`, 5*time.Second)

	var annID uuid.UUID
	_ = a.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'ann.live@example.com'`).Scan(&annID)
	if _, err := a.pool.Exec(context.Background(), `SELECT pg_notify('call_events', $1)`,
		`{"call_id":"c-1","user_id":"`+annID.String()+`","status":"ringing"}`); err != nil {
		t.Fatal(err)
	}
	expectLine(t, annLines, `targets="[data-call-status='c-1']"><template>Ringing</template>`, 5*time.Second)

	// Ben's stream saw none of Ann's events.
	for quiet := time.After(500 * time.Millisecond); ; {
		select {
		case l := <-benLines:
			if strings.Contains(l, "$1.23") || strings.Contains(l, "c-1") {
				t.Fatalf("ben received %q", l)
			}
			continue
		case <-quiet:
		}
		break
	}
}

func TestLiveNeedsASignedInUser(t *testing.T) {
	a := newApp(t, nil)
	if r := a.browser().get("/live"); r.status != http.StatusSeeOther {
		t.Fatalf("signed-out /live: %d", r.status)
	}
}

// expectClosed waits for the stream to end.
func expectClosed(t *testing.T, lines <-chan string, what string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the stream is still open after %s", what, within)
		}
	}
}

// liveVars makes the session check quick, so tests do not wait on it.
func liveVars(more map[string]string) map[string]string {
	vars := map[string]string{"LIVE_SESSION_CHECK_INTERVAL": "500ms"}
	for k, v := range more {
		vars[k] = v
	}
	return vars
}

// A user's streams are capped; a new one closes the oldest, and the
// others carry on.
func TestLiveStreamsPerUserAreCappedOldestFirst(t *testing.T) {
	a := newApp(t, liveVars(map[string]string{"LIVE_MAX_STREAMS_PER_USER": "2"}))
	b := a.browser()
	b.signUp("many.tabs@example.com", "correct horse", "Tabs")
	first := b.stream(t)
	expectLine(t, first, `$0.00`, 5*time.Second)
	second := b.stream(t)
	expectLine(t, second, `$0.00`, 5*time.Second)
	third := b.stream(t)
	expectLine(t, third, `$0.00`, 5*time.Second)
	expectClosed(t, first, "the oldest of three streams with a limit of two", 10*time.Second)
	if n := a.count(`SELECT count(*) FROM live_streams`); n != 2 {
		t.Fatalf("%d streams registered, want 2", n)
	}
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "bonus:tabs", AccountID: a.accountOf(t, "many.tabs@example.com"), Kind: ledger.Bonus, AmountCents: 77}); err != nil {
		t.Fatal(err)
	}
	expectLine(t, second, `$0.77`, 5*time.Second)
	expectLine(t, third, `$0.77`, 5*time.Second)
}

// A stream ends within seconds of its session: signed out on another web
// instance, the user disabled by an admin, or the password changed on
// another device.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	a := newApp(t, liveVars(nil))
	// A second web instance on the same database, with its own pool.
	pool, err := pgxpool.New(context.Background(), a.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	other := startAppWith(t, liveVars(nil), a.mailbox, pool, nil)

	t.Run("sign-out on another instance", func(t *testing.T) {
		b := a.browser()
		b.signUp("leaver@example.com", "correct horse", "Leaver")
		lines := b.stream(t)
		expectLine(t, lines, `$0.00`, 5*time.Second)
		elsewhere := other.browser()
		elsewhere.http.Jar = b.http.Jar // the same browser, its request landing on the other instance
		if r := elsewhere.post("/signout", nil); r.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", r.status)
		}
		expectClosed(t, lines, "after sign-out on another instance", 10*time.Second)
	})

	t.Run("disabled by an admin", func(t *testing.T) {
		b := a.browser()
		b.signUp("abuser@example.com", "correct horse", "Abuser")
		lines := b.stream(t)
		expectLine(t, lines, `$0.00`, 5*time.Second)
		admin := signUpConsoleAdmin(other, "live.admin@example.com")
		page := "/admin/users/" + userIDByEmail(a, "abuser@example.com").String()
		key := consoleFormKey(admin, page, accessKeyPattern)
		if r := admin.post(page+"/disable", url.Values{"access_key": {key}, "access_reason": {"Abuse"}}); r.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", r.status)
		}
		expectClosed(t, lines, "after the admin disabled the user", 10*time.Second)
	})

	t.Run("password changed on another device", func(t *testing.T) {
		phone := a.browser()
		phone.signUp("changer@example.com", "correct horse", "Changer")
		laptop := a.browser()
		if r := laptop.signIn("changer@example.com", "correct horse"); r.status != http.StatusSeeOther {
			t.Fatalf("laptop sign-in: %d", r.status)
		}
		lines := phone.stream(t)
		expectLine(t, lines, `$0.00`, 5*time.Second)
		if r := laptop.post("/settings/password", url.Values{"current_password": {"correct horse"}, "new_password": {"another secret"}}); r.status != http.StatusSeeOther {
			t.Fatalf("change password: %d", r.status)
		}
		expectClosed(t, lines, "after a password change on another device", 10*time.Second)
		// The device that changed it opens a stream again.
		expectLine(t, laptop.stream(t), `$0.00`, 5*time.Second)
	})
}
