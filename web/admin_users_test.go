package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// The support console's users: who may reach the console at all, manual
// adjustments (once per form, audited, never below zero), and disabling and
// re-enabling an account.

// signUpConsoleAdmin signs up a user and gives them the admin role; their
// session is an admin's from the next request.
func signUpConsoleAdmin(a *app, email string) *browser {
	a.t.Helper()
	b := a.browser()
	b.signUp(email, "correct horse", "Support")
	if _, err := a.pool.Exec(context.Background(), `UPDATE users SET role = 'admin' WHERE email = $1`, email); err != nil {
		a.t.Fatal(err)
	}
	return b
}

func userIDByEmail(a *app, email string) uuid.UUID {
	a.t.Helper()
	var id uuid.UUID
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id); err != nil {
		a.t.Fatal(err)
	}
	return id
}

func walletBalance(a *app, userID uuid.UUID) int64 {
	a.t.Helper()
	var cents int64
	if err := a.pool.QueryRow(context.Background(), `SELECT cached_balance_cents FROM accounts WHERE user_id = $1 AND kind = 'wallet'`, userID).Scan(&cents); err != nil {
		a.t.Fatal(err)
	}
	return cents
}

func verifyBooks(t *testing.T, a *app) {
	t.Helper()
	rep, err := ledger.New(a.pool).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("the books do not balance: %v", rep.Problems)
	}
}

var (
	adjustKeyPattern = regexp.MustCompile(`name="key" value="([0-9a-f-]{36})"`)
	accessKeyPattern = regexp.MustCompile(`name="access_key" value="([0-9a-f-]{36})"`)
)

// consoleFormKey opens the user's support page and returns the idempotency
// key its form (adjustment or access) carries.
func consoleFormKey(b *browser, page string, pattern *regexp.Regexp) string {
	b.t.Helper()
	r := b.get(page)
	m := pattern.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no form key\n%s", page, r.status, r.body)
	}
	return m[1]
}

// flashAfter follows a 303 and returns the page it leads to.
func flashAfter(t *testing.T, b *browser, r response, wantLocation string) string {
	t.Helper()
	if r.status != http.StatusSeeOther || r.location != wantLocation {
		t.Fatalf("want 303 to %s, got %d %s\n%s", wantLocation, r.status, r.location, r.body)
	}
	return b.get(r.location).body
}

// postCallJSON asks for a call as the dial page's script does.
func postCallJSON(b *browser, number string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/calls", strings.NewReader(`{"phone_number": "`+number+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.a.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func TestAdminRoutesAreNotFoundToNonAdmins(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	target := a.browser()
	target.signUp("target.hidden@example.com", "correct horse", "Target")
	uid := userIDByEmail(a, "target.hidden@example.com")
	plain := a.browser()
	plain.signUp("plain.hidden@example.com", "correct horse", "Plain")
	admin := signUpConsoleAdmin(a, "root.hidden@example.com")

	var prefix string
	if err := a.pool.QueryRow(ctx, `SELECT prefix FROM call_rates WHERE enabled ORDER BY prefix LIMIT 1`).Scan(&prefix); err != nil {
		t.Fatal(err)
	}
	const ratesState = `SELECT md5(string_agg(prefix || ':' || enabled::text || ':' || per_minute_micros::text || ':' || updated_at::text, ',' ORDER BY prefix)) FROM call_rates`
	var ratesBefore string
	if err := a.pool.QueryRow(ctx, ratesState).Scan(&ratesBefore); err != nil {
		t.Fatal(err)
	}
	some := uuid.NewString()
	user := "/admin/users/" + uid.String()
	routes := []struct{ method, path string }{
		{http.MethodGet, "/admin"},
		{http.MethodGet, "/admin/"},
		{http.MethodGet, "/admin/search?q=target.hidden%40example.com"},
		{http.MethodGet, "/admin/calls/" + some},
		{http.MethodPost, "/admin/calls/" + some + "/retry"},
		{http.MethodGet, "/admin/topups/" + some},
		{http.MethodGet, "/admin/audit"},
		{http.MethodGet, "/admin/users"},
		{http.MethodGet, "/admin/users?q=target"},
		{http.MethodGet, user},
		{http.MethodPost, user + "/adjust"},
		{http.MethodPost, user + "/disable"},
		{http.MethodPost, user + "/enable"},
		{http.MethodGet, "/admin/rates"},
		{http.MethodPost, "/admin/rates/" + prefix + "/enable"},
		{http.MethodPost, "/admin/rates/" + prefix + "/disable"},
		{http.MethodPost, "/admin/rates/import"},
		{http.MethodGet, "/admin/no-such-page"},
		{http.MethodPost, "/admin/users"}, // a method the route does not take
	}
	// Forms that would act if they were let through.
	form := url.Values{"key": {uuid.NewString()}, "direction": {"credit"}, "amount": {"500.00"}, "reason": {"Let me in"},
		"access_key": {uuid.NewString()}, "access_reason": {"Let me in"}, "csv": {"prefix,country\n"}}
	for _, who := range []struct {
		name string
		b    *browser
	}{{"signed out", a.browser()}, {"a user", plain}, {"the user concerned", target}} {
		for _, rt := range routes {
			var r response
			if rt.method == http.MethodGet {
				r = who.b.get(rt.path)
			} else {
				r = who.b.post(rt.path, form)
			}
			if r.status != http.StatusNotFound || !strings.Contains(r.body, "Page not found") || strings.Contains(r.body, "Support console") {
				t.Errorf("%s: %s %s = %d, want the plain 404 page", who.name, rt.method, rt.path, r.status)
			}
		}
	}

	// Nothing changed.
	if n := a.count(`SELECT count(*) FROM admin_actions`); n != 0 {
		t.Errorf("%d staff actions recorded", n)
	}
	if n := a.count(`SELECT count(*) FROM transactions WHERE kind = 'adjustment'`); n != 0 {
		t.Errorf("%d adjustments posted", n)
	}
	if n := a.count(`SELECT count(*) FROM users WHERE disabled_at IS NOT NULL`); n != 0 {
		t.Errorf("%d users disabled", n)
	}
	var ratesAfter string
	if err := a.pool.QueryRow(ctx, ratesState).Scan(&ratesAfter); err != nil {
		t.Fatal(err)
	}
	if ratesAfter != ratesBefore {
		t.Error("the rates changed")
	}
	// The same routes exist for an admin.
	if r := admin.get(user); r.status != http.StatusOK || !strings.Contains(r.body, "target.hidden@example.com") {
		t.Errorf("admin: GET %s = %d", user, r.status)
	}
	if r := admin.get("/admin/users?q=target"); r.status != http.StatusOK || !strings.Contains(r.body, `href="`+user+`"`) {
		t.Errorf("admin: user search = %d", r.status)
	}
}

func TestAdminAdjustmentPostsOnceAndIsAudited(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	cust := a.browser()
	cust.signUp("ulla.adjust@example.com", "correct horse", "Ulla")
	uid := userIDByEmail(a, "ulla.adjust@example.com")
	admin := signUpConsoleAdmin(a, "root.adjust@example.com")
	adminID := userIDByEmail(a, "root.adjust@example.com")
	page := "/admin/users/" + uid.String()
	start := walletBalance(a, uid)

	entries := func(key string) int {
		return a.count(`SELECT count(*) FROM transactions WHERE idempotency_key = $1`, "admin:"+key)
	}
	audited := func(key string) int {
		return a.count(`SELECT count(*) FROM admin_actions WHERE idempotency_key = $1`, "admin:"+key)
	}

	// A credit, then the same form sent twice more (a double click, a
	// reload): posted once, audited once, each answered as a success.
	key := consoleFormKey(admin, page, adjustKeyPattern)
	credit := url.Values{"key": {key}, "direction": {"credit"}, "amount": {"5.00"}, "reason": {"Goodwill for a dropped call <y>"},
		"note": {"Sorry about your dropped call <y>"}}
	body := flashAfter(t, admin, admin.post(page+"/adjust", credit), page)
	if !strings.Contains(body, "Credited $5.00 to ulla.adjust@example.com") {
		t.Errorf("no success flash:\n%s", body)
	}
	if strings.Contains(body, key) {
		t.Error("the page after a posted form offers the same key again")
	}
	for range 2 {
		body = flashAfter(t, admin, admin.post(page+"/adjust", credit), page)
		if !strings.Contains(body, "Already recorded") {
			t.Errorf("a resubmitted form is not answered as already recorded:\n%s", body)
		}
	}
	if n := entries(key); n != 1 {
		t.Fatalf("%d entries for one form", n)
	}
	if got := walletBalance(a, uid); got != start+500 {
		t.Fatalf("balance %d, want %d", got, start+500)
	}
	var amount int64
	var memo string
	if err := a.pool.QueryRow(ctx, `SELECT amount_cents, memo FROM transactions WHERE idempotency_key = $1 AND kind = 'adjustment'`, "admin:"+key).Scan(&amount, &memo); err != nil {
		t.Fatal(err)
	}
	// The customer reads the note; the internal reason stays with staff.
	if amount != 500 || memo != "Sorry about your dropped call <y>" {
		t.Errorf("entry %d %q", amount, memo)
	}
	if n := audited(key); n != 1 {
		t.Fatalf("%d audit rows for one form", n)
	}
	var actor uuid.UUID
	var action, targetType, targetID, reason, auditAmount, entryID string
	if err := a.pool.QueryRow(ctx, `SELECT actor_id, action, target_type, target_id, reason, details->>'amount_cents', details->>'entry_id'
		FROM admin_actions WHERE idempotency_key = $1`, "admin:"+key).Scan(&actor, &action, &targetType, &targetID, &reason, &auditAmount, &entryID); err != nil {
		t.Fatal(err)
	}
	if actor != adminID || action != "adjustment" || targetType != "user" || targetID != uid.String() ||
		reason != "Goodwill for a dropped call <y>" || auditAmount != "500" || entryID == "" {
		t.Errorf("audit row: %v %s %s %s %q amount %s entry %s", actor, action, targetType, targetID, reason, auditAmount, entryID)
	}
	verifyBooks(t, a)
	// The page shows the entry and the staff action, escaped.
	body = admin.get(page).body
	if !strings.Contains(body, "Goodwill for a dropped call &lt;y&gt;") || strings.Contains(body, "<y>") || !strings.Contains(body, "root.adjust@example.com") {
		t.Errorf("the page does not show the adjustment and its audit row, escaped:\n%s", body)
	}
	// The customer sees it with the note, never the internal reason.
	if r := cust.get("/transactions"); !strings.Contains(r.body, "Sorry about your dropped call &lt;y&gt;") || strings.Contains(r.body, "Goodwill") ||
		!strings.Contains(r.body, "&#43;$5.00") {
		t.Errorf("the customer's transactions do not show the adjustment:\n%s", r.body)
	}

	// The same key with another amount, or the other way: refused, nothing
	// posted, and the form offered again under a fresh key.
	for _, change := range []url.Values{
		{"key": {key}, "direction": {"credit"}, "amount": {"6.00"}, "reason": {"Goodwill for a dropped call <y>"}},
		{"key": {key}, "direction": {"debit"}, "amount": {"5.00"}, "reason": {"Goodwill for a dropped call <y>"}},
	} {
		r := admin.post(page+"/adjust", change)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "already sent with a different amount") {
			t.Errorf("reused key with %s %s: %d\n%s", change.Get("direction"), change.Get("amount"), r.status, r.body)
		}
		if m := adjustKeyPattern.FindStringSubmatch(r.body); m == nil || m[1] == key {
			t.Errorf("the refused form is not offered under a fresh key")
		}
	}
	if entries(key) != 1 || audited(key) != 1 || walletBalance(a, uid) != start+500 {
		t.Fatal("a reused key changed something")
	}

	// A debit below zero is refused, and leaves its key unused.
	key2 := consoleFormKey(admin, page, adjustKeyPattern)
	over := url.Values{"key": {key2}, "direction": {"debit"}, "amount": {"500.00"}, "reason": {"Chargeback recovery"}}
	r := admin.post(page+"/adjust", over)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "would take the balance below zero") {
		t.Errorf("overdrawing debit: %d\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `value="`+key2+`"`) {
		t.Error("the refused form does not keep its key")
	}
	if entries(key2) != 0 || audited(key2) != 0 || walletBalance(a, uid) != start+500 {
		t.Fatal("a refused debit changed something")
	}
	over.Set("amount", "2.50")
	flashAfter(t, admin, admin.post(page+"/adjust", over), page)
	if entries(key2) != 1 || audited(key2) != 1 || walletBalance(a, uid) != start+250 {
		t.Fatalf("the corrected debit: %d entries, %d audit rows, balance %d", entries(key2), audited(key2), walletBalance(a, uid))
	}

	// Forms that are wrong are refused at 422, and nothing is posted.
	key3 := consoleFormKey(admin, page, adjustKeyPattern)
	good := url.Values{"key": {key3}, "direction": {"credit"}, "amount": {"1.00"}, "reason": {"Because"}}
	for _, bad := range []struct{ field, value, says string }{
		{"reason", "", "Say why"},
		{"reason", "  ab  ", "Say why"},
		{"reason", strings.Repeat("x", 501), "500 characters"},
		{"amount", "", "Enter an amount"},
		{"amount", "0", "at least $0.01"},
		{"amount", "0.00", "at least $0.01"},
		{"amount", "500.01", "At most $500.00"},
		{"amount", "1000", "At most $500.00"},
		{"amount", "1.234", "two decimals"},
		{"amount", "-2.50", "without a sign"},
		{"amount", "1e3", "Enter an amount"},
		{"amount", "1,00", "Enter an amount"},
		{"direction", "", "Choose credit"},
		{"direction", "both", "Choose credit"},
		{"key", "", "out of date"},
		{"key", "not-a-uuid", "out of date"},
	} {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		f.Set(bad.field, bad.value)
		r := admin.post(page+"/adjust", f)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, bad.says) {
			t.Errorf("%s=%q: %d, want 422 saying %q", bad.field, bad.value, r.status, bad.says)
		}
	}
	if n := a.count(`SELECT count(*) FROM transactions WHERE kind = 'adjustment'`); n != 2 {
		t.Errorf("%d adjustments, want 2", n)
	}
	if n := a.count(`SELECT count(*) FROM admin_actions`); n != 2 {
		t.Errorf("%d staff actions, want 2", n)
	}

	// The same form sent at once from several tabs: once.
	good.Set("amount", "$1.5")
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, a.srv.URL+page+"/adjust", strings.NewReader(good.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", a.srv.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := admin.http.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusSeeOther {
			t.Errorf("concurrent submission: %d", s)
		}
	}
	if entries(key3) != 1 || audited(key3) != 1 || walletBalance(a, uid) != start+400 {
		t.Errorf("concurrent submissions: %d entries, %d audit rows, balance %d", entries(key3), audited(key3), walletBalance(a, uid))
	}
	verifyBooks(t, a)

	// An admin cannot adjust their own balance.
	good.Set("key", uuid.NewString())
	own := "/admin/users/" + adminID.String()
	if body := admin.get(own).body; strings.Contains(body, `action="`+own+`/adjust"`) || !strings.Contains(body, "You cannot adjust your own balance") {
		t.Error("an admin's own page offers to adjust their balance")
	}
	if r := admin.post(own+"/adjust", good); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "You cannot adjust your own balance") {
		t.Errorf("an admin adjusting their own balance: %d", r.status)
	}
	if entries(good.Get("key")) != 0 || walletBalance(a, adminID) != 0 {
		t.Error("an admin adjusted their own balance")
	}

	// An unknown or malformed user is a 404, and posts nothing.
	for _, path := range []string{"/admin/users/" + uuid.NewString() + "/adjust", "/admin/users/nope/adjust"} {
		if r := admin.post(path, good); r.status != http.StatusNotFound {
			t.Errorf("POST %s = %d", path, r.status)
		}
	}
	if entries(good.Get("key")) != 0 {
		t.Error("an adjustment of no user was posted")
	}
}

func TestAdminDisableAndEnable(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	dana := a.browser()
	dana.signUp("dana.access@example.com", "correct horse", "Dana")
	uid := userIDByEmail(a, "dana.access@example.com")
	admin := signUpConsoleAdmin(a, "root.access@example.com")
	adminID := userIDByEmail(a, "root.access@example.com")
	page := "/admin/users/" + uid.String()
	disabled := func() bool {
		var off bool
		if err := a.pool.QueryRow(ctx, `SELECT disabled_at IS NOT NULL FROM users WHERE id = $1`, uid).Scan(&off); err != nil {
			t.Fatal(err)
		}
		return off
	}

	// Refused: no reason, a damaged form, and an admin's own account.
	key := consoleFormKey(admin, page, accessKeyPattern)
	if r := admin.post(page+"/disable", url.Values{"access_key": {key}, "access_reason": {" "}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Say why") {
		t.Errorf("disable without a reason: %d", r.status)
	}
	if r := admin.post(page+"/disable", url.Values{"access_key": {"x"}, "access_reason": {"Fraud"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "out of date") {
		t.Errorf("disable with a damaged form: %d", r.status)
	}
	own := "/admin/users/" + adminID.String()
	ownPage := admin.get(own).body
	if strings.Contains(ownPage, `action="`+own+`/disable"`) || !strings.Contains(ownPage, "You cannot disable your own account") {
		t.Error("an admin's own page offers to disable them")
	}
	if r := admin.post(own+"/disable", url.Values{"access_key": {uuid.NewString()}, "access_reason": {"Oops"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "You cannot disable your own account") {
		t.Errorf("an admin disabling themself: %d", r.status)
	}
	if disabled() || a.count(`SELECT count(*) FROM users WHERE disabled_at IS NOT NULL`) != 0 || a.count(`SELECT count(*) FROM admin_actions`) != 0 {
		t.Fatal("a refused form changed something")
	}
	if r := dana.get("/call"); r.status != http.StatusOK {
		t.Fatalf("dana before: %d", r.status)
	}

	// Disabled: the flash says so, and whether a call was ended.
	disable := url.Values{"access_key": {key}, "access_reason": {"Chargeback fraud <y>"}}
	body := flashAfter(t, admin, admin.post(page+"/disable", disable), page)
	if !strings.Contains(body, "Disabled dana.access@example.com") || !strings.Contains(body, "No call was in progress") {
		t.Errorf("no disable flash:\n%s", body)
	}
	if !disabled() || !strings.Contains(body, `action="`+page+`/enable"`) || !strings.Contains(body, "Chargeback fraud &lt;y&gt;") {
		t.Errorf("the page does not show the disabled user, the enable form and the audit row:\n%s", body)
	}
	// The same form again: recorded once.
	body = flashAfter(t, admin, admin.post(page+"/disable", disable), page)
	if !strings.Contains(body, "Already recorded") {
		t.Errorf("resubmitted disable:\n%s", body)
	}
	// Another disable form: nothing to change, nothing recorded.
	body = flashAfter(t, admin, admin.post(page+"/disable", url.Values{"access_key": {uuid.NewString()}, "access_reason": {"Again"}}), page)
	if !strings.Contains(body, "already disabled") {
		t.Errorf("disabling a disabled user:\n%s", body)
	}
	if n := a.count(`SELECT count(*) FROM admin_actions WHERE action = 'disable_user'`); n != 1 {
		t.Errorf("%d disable_user rows", n)
	}

	// Their session ends on its next request.
	if r := dana.get("/call"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/signin") {
		t.Errorf("a disabled user's session: GET /call = %d %s", r.status, r.location)
	}
	// They cannot start a call: refused before anything is created.
	if r := postCallJSON(dana, "+2348031234567"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/signin") {
		t.Errorf("a disabled user's POST /calls = %d %s %s", r.status, r.location, r.body)
	}
	if n := a.count(`SELECT count(*) FROM calls WHERE user_id = $1`, uid); n != 0 {
		t.Errorf("%d calls for a disabled user", n)
	}
	// Nor sign in again.
	r := dana.signIn("dana.access@example.com", "correct horse")
	if r.status == http.StatusSeeOther || r.status != http.StatusForbidden || !strings.Contains(r.body, "This account is disabled") {
		t.Errorf("a disabled user signing in: %d %s", r.status, r.location)
	}
	if r := dana.get("/call"); r.status != http.StatusSeeOther {
		t.Errorf("a disabled user's refused sign-in left a session: %d", r.status)
	}
	if r := postCallJSON(dana, "+2348031234567"); r.status != http.StatusSeeOther {
		t.Errorf("POST /calls after a refused sign-in = %d", r.status)
	}

	// Re-enabled: a reason is needed too.
	key = consoleFormKey(admin, page, accessKeyPattern)
	if r := admin.post(page+"/enable", url.Values{"access_key": {key}, "access_reason": {""}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("enable without a reason: %d", r.status)
	}
	body = flashAfter(t, admin, admin.post(page+"/enable", url.Values{"access_key": {key}, "access_reason": {"Chargeback won"}}), page)
	if !strings.Contains(body, "Re-enabled dana.access@example.com") || disabled() {
		t.Errorf("no re-enable:\n%s", body)
	}
	// The old session stays signed out; signing in works again.
	if r := dana.get("/call"); r.status != http.StatusSeeOther {
		t.Errorf("the session ended by the disable came back: %d", r.status)
	}
	if r := dana.signIn("dana.access@example.com", "correct horse"); r.status != http.StatusSeeOther || r.location != "/call" {
		t.Errorf("a re-enabled user signing in: %d %s", r.status, r.location)
	}
	if r := dana.get("/call"); r.status != http.StatusOK {
		t.Errorf("a re-enabled user: GET /call = %d", r.status)
	}

	// The first disable form sent again after the re-enable does nothing.
	body = flashAfter(t, admin, admin.post(page+"/disable", disable), page)
	if !strings.Contains(body, "Already recorded") || disabled() {
		t.Errorf("an old disable form acted again (disabled %v):\n%s", disabled(), body)
	}

	// The audit log: who, what, why.
	rows, err := a.pool.Query(ctx, `SELECT actor_id, action, target_type, target_id, reason FROM admin_actions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var actor uuid.UUID
		var action, targetType, targetID, reason string
		if err := rows.Scan(&actor, &action, &targetType, &targetID, &reason); err != nil {
			t.Fatal(err)
		}
		if actor != adminID || targetType != "user" || targetID != uid.String() {
			t.Errorf("audit row by %s on %s %s", actor, targetType, targetID)
		}
		got = append(got, action+": "+reason)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"disable_user: Chargeback fraud <y>", "enable_user: Chargeback won"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit rows %q, want %q", got, want)
	}

	// An unknown or malformed user is a 404.
	for _, path := range []string{"/admin/users/" + uuid.NewString() + "/disable", "/admin/users/x/enable"} {
		if r := admin.post(path, url.Values{"access_key": {uuid.NewString()}, "access_reason": {"Fraud"}}); r.status != http.StatusNotFound {
			t.Errorf("POST %s = %d", path, r.status)
		}
	}
}

func TestAdminUserPagesRender(t *testing.T) {
	a := newApp(t, nil)
	ctx := context.Background()
	cust := a.browser()
	cust.signUp("kwame.page@example.com", "correct horse", "Kwame <y>")
	uid := userIDByEmail(a, "kwame.page@example.com")
	admin := signUpConsoleAdmin(a, "root.page@example.com")
	page := "/admin/users/" + uid.String()
	var account uuid.UUID
	if err := a.pool.QueryRow(ctx, `SELECT id FROM accounts WHERE user_id = $1`, uid).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(a.pool).Post(ctx, ledger.Entry{Key: "test:page", AccountID: account, Kind: ledger.Bonus, AmountCents: 700, Memo: "Promo <y>"}); err != nil {
		t.Fatal(err)
	}

	// Search by the start of the email (any case), or by id.
	for _, q := range []string{"KWAME", "kwame.page@", uid.String()} {
		r := admin.get("/admin/users?q=" + url.QueryEscape(q))
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="`+page+`"`) || !strings.Contains(r.body, "Kwame &lt;y&gt;") ||
			!strings.Contains(r.body, "$7.00") || strings.Contains(r.body, "root.page@example.com</span>") {
			t.Errorf("search %q: %d\n%s", q, r.status, r.body)
		}
	}
	for _, q := range []string{"nobody", "%", "_wame", "page@example.com"} {
		if r := admin.get("/admin/users?q=" + url.QueryEscape(q)); r.status != http.StatusOK || strings.Contains(r.body, `href="`+page+`"`) {
			t.Errorf("search %q found kwame: %d", q, r.status)
		}
	}

	r := admin.get(page)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d", page, r.status)
	}
	for _, want := range []string{
		`id="admin-user-balance"`, ">$7.00<", "kwame.page@example.com", "Kwame &lt;y&gt;", "Nigeria",
		`action="` + page + `/adjust"`, `name="key" value="`, `name="direction" value="credit"`, `name="direction" value="debit"`,
		`action="` + page + `/disable"`, `name="access_key" value="`,
		"bonus", "+$7.00", "balance $7.00", "Promo &lt;y&gt;", "No calls.", "No top-ups.",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the user page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<y>") {
		t.Error("the user page does not escape user text")
	}
	// Each view of the page offers a new key.
	if adjustKeyPattern.FindStringSubmatch(r.body)[1] == consoleFormKey(admin, page, adjustKeyPattern) {
		t.Error("two views of the page share an idempotency key")
	}

	for _, path := range []string{"/admin/users/" + uuid.NewString(), "/admin/users/not-a-uuid"} {
		if r := admin.get(path); r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d", path, r.status)
		}
	}
}
