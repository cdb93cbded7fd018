package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
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

// expectLine waits for a data line containing want, and returns it.
func expectLine(t *testing.T, lines <-chan string, want string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream closed before %q", want)
			}
			if os.Getenv("LIVE_DEBUG") != "" {
				t.Log(l)
			}
			if strings.Contains(l, want) {
				return l
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
	// A stream opens with the current state: here, a zero balance at the
	// wallet's first version.
	zero := `<turbo-stream action="live-update" targets="[data-balance]" version="0"><template><span data-cents="0">$0.00</span></template></turbo-stream>`
	expectLine(t, annLines, zero, 5*time.Second)
	expectLine(t, benLines, zero, 5*time.Second)

	// Outlive the server's write timeout before anything happens.
	time.Sleep(4 * time.Second)
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "bonus:live", AccountID: a.accountOf(t, "ann.live@example.com"), Kind: ledger.Bonus, AmountCents: 123}); err != nil {
		t.Fatal(err)
	}
	expectLine(t, annLines, `<turbo-stream action="live-update" targets="[data-balance]" version="1"><template><span data-cents="123">$1.23</span></template></turbo-stream>`, 5*time.Second)

	// A call row that changes reaches its user's streams at its version,
	// whoever changed it: the in-call bar's status, the History row, and
	// the call's own page.
	call := a.insertCall(t, "ann.live@example.com", "+2348031234567")
	a.exec(t, `UPDATE calls SET status = 'ringing', per_minute_micros = 140000, max_seconds = 60, authorized_until = now() + interval '3 minutes' WHERE id = $1`, call)
	l := expectLine(t, annLines, `<turbo-stream action="live-replace" targets="[data-call-status='`+call.String()+`']" version="1"><template><span data-call-status="`+call.String()+`" data-status="ringing" data-billing="pending" data-version="1" data-outcome="">Ringing</span></template></turbo-stream>`, 5*time.Second)
	if row := `<turbo-stream action="live-replace" targets="#call-row-` + call.String() + `" version="1"><template><li id="call-row-` + call.String() + `" data-version="1"`; !strings.Contains(l, row) {
		t.Errorf("the History row does not follow the status: %s", l)
	}
	expectLine(t, annLines, `<turbo-stream action="live-refresh" targets="[data-call-detail='`+call.String()+`']" version="1"></turbo-stream>`, 5*time.Second)

	// Ben's stream saw none of Ann's events.
	for quiet := time.After(500 * time.Millisecond); ; {
		select {
		case l := <-benLines:
			if strings.Contains(l, "$1.23") || strings.Contains(l, call.String()) {
				t.Fatalf("ben received %q", l)
			}
			continue
		case <-quiet:
		}
		break
	}
}

// A call that ends is announced with its outcome, and again once it is
// charged (the charge follows the final status); every change of the row
// has a newer version than the one before, and a stream opened later
// starts from the row's current version, so a page that shows it ignores
// the replay.
func TestLiveCallEndsWithItsOutcomeAndCharge(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("ender@example.com", "correct horse", "Ender")
	lines := b.stream(t)
	expectLine(t, lines, `$0.00`, 5*time.Second)
	call := a.insertCall(t, "ender@example.com", "+2348031234567")
	id := call.String()
	a.exec(t, `UPDATE calls SET status = 'in_progress', per_minute_micros = 140000, max_seconds = 600, authorized_until = now() + interval '3 minutes' WHERE id = $1`, call)
	expectLine(t, lines, `data-status="in_progress" data-billing="pending" data-version="1" data-outcome="">In call</span>`, 5*time.Second)
	a.exec(t, `UPDATE calls SET status = 'completed', duration_seconds = 130 WHERE id = $1`, call)
	expectLine(t, lines, `data-status="completed" data-billing="pending" data-version="2" data-outcome="Ended · working out the cost…">Completed</span>`, 5*time.Second)
	a.exec(t, `UPDATE calls SET billing_state = 'charged', cost_cents = 42 WHERE id = $1`, call)
	expectLine(t, lines, `data-status="completed" data-billing="charged" data-version="3" data-outcome="3 min · $0.42">Completed</span>`, 5*time.Second)
	// The History row says it too.
	expectLine(t, lines, `<span class="whitespace-nowrap font-semibold">$0.42</span>`, 5*time.Second)
	// A change no page shows (the row's updated_at) moves the version
	// without a NOTIFY; a stream opened now starts from it.
	a.exec(t, `UPDATE calls SET updated_at = now() WHERE id = $1`, call)
	again := b.stream(t)
	expectLine(t, again, `<turbo-stream action="live-replace" targets="[data-call-status='`+id+`']" version="4">`, 5*time.Second)

	busy := a.insertCall(t, "ender@example.com", "+2348031230001")
	a.exec(t, `UPDATE calls SET status = 'busy', billing_state = 'not_billable', per_minute_micros = 140000, max_seconds = 600, authorized_until = now() WHERE id = $1`, busy)
	expectLine(t, lines, `data-status="busy" data-billing="not_billable" data-version="1" data-outcome="Busy — nothing charged">Busy</span>`, 5*time.Second)
}

// insertCall adds a created call of the user's, as POST /calls does.
func (a *app) insertCall(t *testing.T, email, number string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := a.pool.QueryRow(context.Background(), `INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity)
		SELECT u.id, w.id, $2, 'NG', 'test' FROM users u JOIN accounts w ON w.user_id = u.id WHERE u.email = $1 RETURNING id`, email, number).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (a *app) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := a.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
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

// A change committed while the hub's LISTEN connection is down (Postgres
// restarted, the connection killed) sends no NOTIFY this instance hears:
// once the hub listens again, every open stream catches up with the
// current state, without the page reconnecting.
func TestLiveStreamCatchesUpAfterItsListenConnectionDrops(t *testing.T) {
	a := newApp(t, nil)
	ann := a.browser()
	ann.signUp("ann.relisten@example.com", "correct horse", "Ann")
	lines := ann.stream(t)
	expectLine(t, lines, `targets="[data-balance]" version="0"`, 5*time.Second)

	// Kill the hub's listening connection, and post a credit before it
	// listens again (it waits 2 s before it retries).
	var killed int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no listening connection found")
	}
	if _, err := ledger.New(a.pool).Post(context.Background(), ledger.Entry{Key: "bonus:relisten", AccountID: a.accountOf(t, "ann.relisten@example.com"), Kind: ledger.Bonus, AmountCents: 250}); err != nil {
		t.Fatal(err)
	}
	expectLine(t, lines, `targets="[data-balance]" version="1"><template><span data-cents="250">`, 10*time.Second)
}
