package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The support console's search (numbers in any format or in part, names,
// parts of emails, starts of ids, CallSids and PaymentIntent ids), the user
// page's pages of calls and top-ups, and the links into the Temporal UI's
// Workflows list.

// consoleCall inserts a finished call of email's user to number (E.164)
// in country, with status, created at at; it returns its id.
func consoleCall(t *testing.T, a *app, email, number, country, status string, at time.Time) string {
	t.Helper()
	var id uuid.UUID
	err := a.pool.QueryRow(context.Background(), `
		INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
		                   per_minute_micros, max_seconds, authorized_until, billing_state, created_at)
		SELECT u.id, a.id, $2, $3, 'id', $4, 140000, 600, $5, 'not_billable', $5
		FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1
		RETURNING id`, email, number, country, status, at).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// consoleTopUp inserts a top-up of email's user created at at.
func consoleTopUp(t *testing.T, a *app, email, paymentIntent string, at time.Time) string {
	t.Helper()
	var pi *string
	if paymentIntent != "" {
		pi = &paymentIntent
	}
	var id uuid.UUID
	err := a.pool.QueryRow(context.Background(), `
		INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id, created_at)
		SELECT u.id, a.id, 'usd_5', 500, 'processing', $2, $3
		FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1
		RETURNING id`, email, pi, at).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

var (
	adminCallLink  = regexp.MustCompile(`href="/admin/calls/([0-9a-f-]{36})"`)
	adminTopUpLink = regexp.MustCompile(`href="/admin/topups/([0-9a-f-]{36})"`)
	adminUserLink  = regexp.MustCompile(`href="/admin/users/([0-9a-f-]{36})"`)
)

// linked lists the ids re links to in body, in order.
func linked(re *regexp.Regexp, body string) []string {
	var ids []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestAdminSearchByNumberNameAndPartialIDs(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	staff := signUpConsoleAdmin(a, "root.search@example.com")
	a.browser().signUp("ada.obi@example.com", "correct horse", "Ada Obi")
	a.browser().signUp("ben.smith@example.com", "correct horse", "Ben Smith")
	ada, ben := userIDByEmail(a, "ada.obi@example.com").String(), userIDByEmail(a, "ben.smith@example.com").String()
	now := time.Now()
	adaCall := consoleCall(t, a, "ada.obi@example.com", "+2348031234567", "NG", "completed", now.Add(-time.Hour))
	benCall := consoleCall(t, a, "ben.smith@example.com", "+14155550100", "US", "completed", now.Add(-2*time.Hour))
	sid := "CA" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := a.pool.Exec(ctx, `UPDATE calls SET parent_call_sid = $1 WHERE id = $2`, sid, adaCall); err != nil {
		t.Fatal(err)
	}
	benPI := "pi_3QbenXyZ" + strings.ReplaceAll(uuid.NewString(), "-", "")[:14]
	benTopUp := consoleTopUp(t, a, "ben.smith@example.com", benPI, now)
	adaTopUp := consoleTopUp(t, a, "ada.obi@example.com", "pi_3QadaAbC"+strings.ReplaceAll(uuid.NewString(), "-", "")[:14], now)

	type want struct{ calls, topups, users []string }
	search := func(q string) (want, string) {
		t.Helper()
		r := staff.get("/admin/search?q=" + url.QueryEscape(q))
		if r.status != http.StatusOK {
			t.Fatalf("search %q: %d", q, r.status)
		}
		return want{linked(adminCallLink, r.body), linked(adminTopUpLink, r.body), linked(adminUserLink, r.body)}, r.body
	}
	for _, c := range []struct {
		q    string
		want want
	}{
		// Ada's number, in national format, without the trunk 0, in part,
		// internationally: her call alone (Ben's number is elsewhere).
		{"0803 123 4567", want{calls: []string{adaCall}}},
		{"0803-123-4567", want{calls: []string{adaCall}}},
		{"8031234567", want{calls: []string{adaCall}}},
		{"1234567", want{calls: []string{adaCall}}},
		{"+234 803 123 4567", want{calls: []string{adaCall}}},
		{"+2348031234567", want{calls: []string{adaCall}}},
		// Ben's, as an American writes it, and its last digits.
		{"(415) 555-0100", want{calls: []string{benCall}}},
		{"5550100", want{calls: []string{benCall}}},
		// The start of an id, and a CallSid's start.
		{adaCall[:8], want{calls: []string{adaCall}}},
		{strings.ToUpper(benCall[:13]), want{calls: []string{benCall}}},
		{benTopUp[:8], want{topups: []string{benTopUp}}},
		{ada[:8], want{users: []string{ada}}},
		{sid[:12], want{calls: []string{adaCall}}},
		{sid, want{calls: []string{adaCall}}},
		// A PaymentIntent's start: Ben's top-up, not Ada's.
		{benPI[:12], want{topups: []string{benTopUp}}},
		{benPI, want{topups: []string{benTopUp}}},
		// Part of an email, before the @ or across it, and of a name, in
		// any case.
		{"ada.obi", want{users: []string{ada}}},
		{"OBI@exam", want{users: []string{ada}}},
		{"smith", want{users: []string{ben}}},
		{"N SMI", want{users: []string{ben}}},
		// A whole email: the user, and their calls and top-ups.
		{"ben.smith@example.com", want{calls: []string{benCall}, topups: []string{benTopUp}, users: []string{ben}}},
		// LIKE's wildcards are letters like any other.
		{"a%", want{}},
		{"_bi", want{}},
	} {
		got, body := search(c.q)
		if !slices.Equal(got.calls, c.want.calls) || !slices.Equal(got.topups, c.want.topups) || !slices.Equal(got.users, c.want.users) {
			t.Errorf("search %q:\n got %v\nwant %v", c.q, got, c.want)
		}
		if !strings.Contains(body, "data-search-kinds") {
			t.Errorf("search %q does not say how it was read", c.q)
		}
	}
	_ = adaTopUp
	// Too little to search by: said, and nothing listed.
	if _, body := search(strings.Repeat("a", 201)); !strings.Contains(body, "data-search-too-long") {
		t.Error("a term over 200 characters is not refused")
	}
	for _, q := range []string{"12", "x", "pi_", "%"} {
		got, body := search(q)
		if !strings.Contains(body, "data-search-too-short") || len(got.calls)+len(got.topups)+len(got.users) != 0 {
			t.Errorf("search %q: %v, too short not said", q, got)
		}
	}
}

// pageIDs are the call ids the user page's Calls list shows, and its
// Older and Newer links ("" for none).
func pageIDs(t *testing.T, b *browser, path string) (calls, topups []string, older, newer, topUpsOlder string) {
	t.Helper()
	r := b.get(path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, r.status, r.body)
	}
	start, mid, end := strings.Index(r.body, `id="calls"`), strings.Index(r.body, `id="topups"`), strings.Index(r.body, `id="staff-actions"`)
	if start < 0 || mid < start || end < mid {
		t.Fatalf("the user page has no calls and top-ups sections")
	}
	link := func(section, which string) string {
		m := regexp.MustCompile(`href="([^"]+)" rel="[a-z]+" data-page="` + which + `"`).FindStringSubmatch(section)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	callsHTML, topUpsHTML := r.body[start:mid], r.body[mid:end]
	return linked(adminCallLink, callsHTML), linked(adminTopUpLink, topUpsHTML),
		link(callsHTML, "older"), link(callsHTML, "newer"), link(topUpsHTML, "older")
}

func TestAdminUserPagesOfCallsAreStableUnderInserts(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	staff := signUpConsoleAdmin(a, "root.paging@example.com")
	a.browser().signUp("pages@example.com", "correct horse", "Pages")
	a.browser().signUp("other.pages@example.com", "correct horse", "Other")
	uid := userIDByEmail(a, "pages@example.com")
	page := "/admin/users/" + uid.String()
	// 45 calls, three at each instant (ties broken by id), and another
	// user's calls at the same instants, which must never show.
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := range 15 {
		at := base.Add(-time.Duration(i) * time.Minute)
		for range 3 {
			consoleCall(t, a, "pages@example.com", "+2348031234567", "NG", "completed", at)
		}
		consoleCall(t, a, "other.pages@example.com", "+2348031234567", "NG", "completed", at)
	}
	var all []string
	rows, err := a.pool.Query(ctx, `SELECT id FROM calls WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, uid)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		all = append(all, id.String())
	}
	if rows.Err() != nil || len(all) != 45 {
		t.Fatalf("%d calls (%v)", len(all), rows.Err())
	}

	p1, _, older1, newer1, _ := pageIDs(t, staff, page)
	if !slices.Equal(p1, all[:20]) || older1 == "" || newer1 != "" {
		t.Fatalf("first page: %d calls, older %q, newer %q", len(p1), older1, newer1)
	}
	// A call placed between two page loads: it is newer than every
	// cursor, so the next pages neither repeat nor skip a call.
	x1 := consoleCall(t, a, "pages@example.com", "+2348031234567", "NG", "completed", time.Now())
	p2, _, older2, newer2, _ := pageIDs(t, staff, older1)
	if !slices.Equal(p2, all[20:40]) || older2 == "" || newer2 == "" {
		t.Fatalf("second page: %v, older %q, newer %q", p2, older2, newer2)
	}
	x2 := consoleCall(t, a, "pages@example.com", "+2348031234567", "NG", "completed", time.Now())
	p3, _, older3, newer3, _ := pageIDs(t, staff, older2)
	if !slices.Equal(p3, all[40:]) || older3 != "" || newer3 == "" {
		t.Fatalf("third page: %v, older %q, newer %q", p3, older3, newer3)
	}
	seen := map[string]bool{}
	for _, id := range slices.Concat(p1, p2, p3) {
		if seen[id] {
			t.Fatalf("call %s on two pages", id)
		}
		seen[id] = true
	}
	if len(seen) != 45 {
		t.Fatalf("%d calls over three pages, want 45", len(seen))
	}
	// Newer goes back the same way: the second page, then the first as
	// it was (two newer calls above it), then the first page as it is now.
	back2, _, _, backNewer2, _ := pageIDs(t, staff, newer3)
	if !slices.Equal(back2, p2) || backNewer2 == "" {
		t.Fatalf("newer than the third page: %v", back2)
	}
	back1, _, backOlder1, backNewer1, _ := pageIDs(t, staff, backNewer2)
	if !slices.Equal(back1, p1) || backNewer1 == "" || backOlder1 == "" {
		t.Fatalf("newer than the second page: %v, newer %q", back1, backNewer1)
	}
	top, _, _, topNewer, _ := pageIDs(t, staff, backNewer1)
	if !slices.Equal(top, slices.Concat([]string{x2, x1}, all[:18])) || topNewer != "" {
		t.Fatalf("the newest page: %v, newer %q", top, topNewer)
	}

	// Top-ups page the same way, on their own cursor: the calls' cursor
	// stays as it was.
	for i := range 25 {
		consoleTopUp(t, a, "pages@example.com", "", base.Add(-time.Duration(i)*time.Minute))
	}
	_, t1, _, _, topUpsOlder := pageIDs(t, staff, older1)
	if len(t1) != 20 || topUpsOlder == "" {
		t.Fatalf("first page of top-ups: %d, older %q", len(t1), topUpsOlder)
	}
	u, _ := url.Parse(topUpsOlder)
	if u.Query().Get("calls_before") == "" || u.Query().Get("topups_before") == "" {
		t.Fatalf("the top-ups' Older link drops the calls' page: %s", topUpsOlder)
	}
	c2, t2, _, _, _ := pageIDs(t, staff, topUpsOlder)
	if !slices.Equal(c2, p2) || len(t2) != 5 || slices.ContainsFunc(t2, func(id string) bool { return slices.Contains(t1, id) }) {
		t.Fatalf("second page of top-ups: %d, calls %v", len(t2), c2)
	}

	for _, bad := range []string{"?calls_before=nonsense", "?topups_after=2026-01-01T00:00:00Z_x",
		"?calls_before=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)+"_"+uuid.NewString()) +
			"&calls_after=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)+"_"+uuid.NewString())} {
		if r := staff.get(page + bad); r.status != http.StatusBadRequest {
			t.Errorf("GET %s = %d", bad, r.status)
		}
	}
	// The console's forms still post from the first page.
	key := consoleFormKey(staff, page, adjustKeyPattern)
	r := staff.post(page+"/adjust", url.Values{"key": {key}, "direction": {"credit"}, "amount": {"1.00"}, "reason": {"paging test"}})
	if r.status != http.StatusSeeOther || r.location != page {
		t.Fatalf("adjust: %d %s", r.status, r.location)
	}
}

// temporalQuery finds the link marked data-temporal-list=which in body and
// returns its path and its query, decoded.
func temporalQuery(t *testing.T, body, which string) (path, query string) {
	t.Helper()
	m := regexp.MustCompile(`href="([^"]+)"[^>]*data-temporal-list="` + which + `"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s link into the Temporal UI", which)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Query()) != 1 {
		t.Errorf("the %s link carries %v", which, u.Query())
	}
	return u.Host + u.Path, u.Query().Get("query")
}

func TestAdminLinksIntoTheTemporalUIsList(t *testing.T) {
	a := newApp(t, map[string]string{"TEMPORAL_UI_URL": "https://temporal.example/"})
	staff := signUpConsoleAdmin(a, "root.links@example.com")
	a.browser().signUp("linked@example.com", "correct horse", "Linked")
	uid := userIDByEmail(a, "linked@example.com").String()
	call := consoleCall(t, a, "linked@example.com", "+2348031234567", "NG", "failed", time.Now())
	const list = "temporal.example/namespaces/default/workflows"

	for _, c := range []struct{ page, which, want string }{
		{"/admin", "stuck", `WorkflowType = "Call" AND BillingState = "stuck" AND ExecutionStatus = "Running"`},
		{"/admin/users/" + uid, "user", `UserID = "` + uid + `"`},
		{"/admin/calls/" + call, "country-failed", `WorkflowType = "Call" AND DestinationCountry = "NG" AND CallStatus = "failed"`},
	} {
		r := staff.get(c.page)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d", c.page, r.status)
		}
		path, query := temporalQuery(t, r.body, c.which)
		if path != list || query != c.want {
			t.Errorf("%s: link to %s with query %s, want %s", c.page, path, query, c.want)
		}
	}
}
