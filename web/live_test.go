package web_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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
