package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// insertCalls gives email's user n finished calls, one a minute apart,
// the newest now; it returns their ids, newest first.
func insertCalls(t *testing.T, a *app, email string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var user, account uuid.UUID
	if err := a.pool.QueryRow(ctx, `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, email).Scan(&user, &account); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		var id uuid.UUID
		err := a.pool.QueryRow(ctx, `
			INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
			                   rate_prefix, per_minute_micros, max_seconds, authorized_until, duration_seconds,
			                   cost_cents, billing_state, created_at)
			VALUES ($1, $2, $3, 'NG', 'id', 'completed', '234803', 140000, 600, now(), 61, 28, 'charged',
			        now() - make_interval(mins => $4))
			RETURNING id`, user, account, fmt.Sprintf("+23480312%05d", i), i).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id.String()
	}
	return ids
}

var callLink = regexp.MustCompile(`href="/calls/([0-9a-f-]{36})"`)

func TestHistoryPagesNewestFirst(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("hist@example.com", "correct horse", "H")
	ids := insertCalls(t, a, "hist@example.com", 25)

	first := b.get("/history")
	got := callLink.FindAllStringSubmatch(first.body, -1)
	if first.status != 200 || len(got) != 20 || got[0][1] != ids[0] || got[19][1] != ids[19] {
		t.Fatalf("first page: %d, %d calls", first.status, len(got))
	}
	if !strings.Contains(first.body, "Today") || !strings.Contains(first.body, "$0.28") || !strings.Contains(first.body, "1 min 01 s") {
		t.Fatal("the first page lacks the day, the cost or the duration")
	}
	older := regexp.MustCompile(`href="(/history\?before=[^"]+)"`).FindStringSubmatch(first.body)
	if older == nil {
		t.Fatal("no link to older calls")
	}
	second := b.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	got = callLink.FindAllStringSubmatch(second.body, -1)
	if second.status != 200 || len(got) != 5 || got[0][1] != ids[20] || got[4][1] != ids[24] {
		t.Fatalf("second page: %d, %d calls", second.status, len(got))
	}
	if strings.Contains(second.body, "Older calls") {
		t.Fatal("the last page links to older calls")
	}
	if r := b.get("/history?before=nonsense"); r.status != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", r.status)
	}
}

func TestCallsAreOnlyTheirUsers(t *testing.T) {
	a := newApp(t, nil)
	ann, ben := a.browser(), a.browser()
	ann.signUp("ann.calls@example.com", "correct horse", "Ann")
	ben.signUp("ben.calls@example.com", "correct horse", "Ben")
	annCalls := insertCalls(t, a, "ann.calls@example.com", 1)

	if r := ann.get("/calls/" + annCalls[0]); r.status != 200 || !strings.Contains(r.body, "2348031200000") || !strings.Contains(r.body, "2 started minutes") {
		t.Fatalf("ann's own call: %d\n%s", r.status, r.body)
	}
	if r := ben.get("/calls/" + annCalls[0]); r.status != http.StatusNotFound || strings.Contains(r.body, "2348031200000") {
		t.Fatalf("ben reading ann's call: %d", r.status)
	}
	if r := ben.get("/history"); strings.Contains(r.body, annCalls[0]) || !strings.Contains(r.body, "No calls yet") {
		t.Fatal("ben's history shows ann's call")
	}
	if r := ann.get("/calls/not-a-uuid"); r.status != http.StatusNotFound {
		t.Fatalf("bad id: %d", r.status)
	}
}
