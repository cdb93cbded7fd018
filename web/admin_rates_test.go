package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mobayilo/mobayilo/internal/ratedeck"
)

// newRatesAdmin is an app with the sample deck and a browser signed in as
// an admin.
func newRatesAdmin(t *testing.T) (*app, *browser) {
	t.Helper()
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("deck-admin@example.com", "correct horse", "Deck Admin")
	if _, err := a.pool.Exec(context.Background(), `UPDATE users SET role = 'admin' WHERE email = $1`, "deck-admin@example.com"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// uploadDeck submits the deck form as a same-origin browser does: a
// multipart body with the file (none when name is ""), the reason and the
// button pressed.
func uploadDeck(b *browser, action, reason, name string, file []byte) response {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("reason", reason)
	if name != "" {
		fw, _ := mw.CreateFormFile("deck", name)
		_, _ = fw.Write(file)
	}
	_ = mw.WriteField("action", action)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/admin/rates/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.a.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// deckRate is one row of call_rates; found is false when there is none.
func deckRate(t *testing.T, a *app, prefix string) (perMinute, fee int64, enabled, found bool) {
	t.Helper()
	err := a.pool.QueryRow(context.Background(), `SELECT per_minute_micros, connection_fee_micros, enabled FROM call_rates WHERE prefix = $1`, prefix).
		Scan(&perMinute, &fee, &enabled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	return perMinute, fee, enabled, err == nil
}

type deckAuditRow struct {
	TargetType, TargetID, Reason string
	Details                      map[string]any
}

// deckAudit is the audit log's rows for action, oldest first.
func deckAudit(t *testing.T, a *app, action string) []deckAuditRow {
	t.Helper()
	rows, err := a.pool.Query(context.Background(), `SELECT target_type, target_id, reason, details FROM admin_actions WHERE action = $1 ORDER BY id`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []deckAuditRow
	for rows.Next() {
		var r deckAuditRow
		var details []byte
		if err := rows.Scan(&r.TargetType, &r.TargetID, &r.Reason, &details); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(details, &r.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deckEventually polls cond for up to 5 s: the rate index reloads on NOTIFY,
// asynchronously.
func deckEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within 5 s: %s", what)
}

func deckListed(body, prefix string) bool { return strings.Contains(body, `data-rate="`+prefix+`"`) }

func TestAdminRatesListAndFilter(t *testing.T) {
	a, b := newRatesAdmin(t)
	r := b.get("/admin/rates")
	if r.status != 200 || !strings.Contains(r.body, "169 prefixes, 12 disabled") || !deckListed(r.body, "1") || !deckListed(r.body, "234803") || !deckListed(r.body, "23324") {
		t.Fatalf("GET /admin/rates: %d\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `id="rate-234803" data-rate="234803" data-enabled="true"`) || !strings.Contains(r.body, "$0.14/min") || !strings.Contains(r.body, `action="/admin/rates/234803/disable"`) ||
		!strings.Contains(r.body, `action="/admin/rates/1268/enable"`) {
		t.Error("a row lacks its state, price or enable/disable form")
	}
	for _, tc := range []struct {
		query    string
		want, no []string
	}{
		// A number: the prefixes that price it, and those under it.
		{"+234 803 123", []string{"234", "23480", "234803"}, []string{"23470", "233", "1"}},
		{"2348", []string{"234", "23480", "234803", "23481"}, []string{"23470", "23490"}},
		{"gh", []string{"233", "23324"}, []string{"234", "1"}},
		{"mobile (MTN)", []string{"234803", "23324"}, []string{"234", "23320"}},
		{"antigua", []string{"1268"}, []string{"1", "234"}},
		{"atlantis", nil, []string{"1", "234"}},
	} {
		r := b.get("/admin/rates?q=" + url.QueryEscape(tc.query))
		if r.status != 200 {
			t.Fatalf("q=%q: %d", tc.query, r.status)
		}
		for _, p := range tc.want {
			if !deckListed(r.body, p) {
				t.Errorf("q=%q: +%s not listed", tc.query, p)
			}
		}
		for _, p := range tc.no {
			if deckListed(r.body, p) {
				t.Errorf("q=%q: +%s listed", tc.query, p)
			}
		}
	}
	if r := b.get("/admin/rates?q=atlantis"); !strings.Contains(r.body, "No prefix matches “atlantis”") {
		t.Error("no empty state for an unmatched filter")
	}
	r = b.get("/admin/rates?state=disabled")
	if !deckListed(r.body, "1268") || !deckListed(r.body, "1869") || deckListed(r.body, "234") || !strings.Contains(r.body, "12 matching prefixes") {
		t.Errorf("state=disabled lists the wrong rows:\n%s", r.body)
	}

	// A deck of thousands is not rendered whole: the first 200 matches,
	// with the count.
	if _, err := a.pool.Exec(context.Background(), `INSERT INTO call_rates (prefix, country, description, per_minute_micros)
		SELECT '88299' || lpad(g::text, 3, '0'), 'ZZ', 'Test range ' || g, 100000 FROM generate_series(0, 249) g`); err != nil {
		t.Fatal(err)
	}
	r = b.get("/admin/rates?q=88299")
	if n := strings.Count(r.body, `data-rate="`); n != 200 || !strings.Contains(r.body, "The first 200 of 250 matching prefixes") || !deckListed(r.body, "88299199") || deckListed(r.body, "88299200") {
		t.Errorf("a filter of 250 matches rendered %d rows:\n%s", n, r.body)
	}
	if r := b.get("/admin/rates"); strings.Count(r.body, `data-rate="`) != 200 || !strings.Contains(r.body, "419 prefixes") {
		t.Error("the unfiltered deck is not capped at 200 rows")
	}
}

func TestAdminRatesDisableReachesPricing(t *testing.T) {
	a, b := newRatesAdmin(t)
	anon := a.browser()
	const number = "+234 803 123 4567"
	if status, q := calculate(t, anon, number); status != 200 || q.RatePerMinute != "$0.14/min" {
		t.Fatalf("before: %d %+v", status, q)
	}

	r := b.post("/admin/rates/234803/disable", url.Values{"reason": {"fraud <y> from this range"}, "q": {"2348"}, "state": {"enabled"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/rates?q=2348&state=enabled" {
		t.Fatalf("disable: %d %q\n%s", r.status, r.location, r.body)
	}
	if _, _, enabled, _ := deckRate(t, a, "234803"); enabled {
		t.Fatal("234803 still enabled in call_rates")
	}
	page := b.get(r.location)
	if !strings.Contains(page.body, "&#43;234803 Nigeria mobile (MTN) is disabled") || deckListed(page.body, "234803") || !deckListed(page.body, "23480") {
		t.Errorf("the page after disabling (enabled only) shows no flash or still lists the row:\n%s", page.body)
	}
	if page := b.get("/admin/rates?q=234803"); !strings.Contains(page.body, `data-rate="234803" data-enabled="false"`) || !strings.Contains(page.body, `action="/admin/rates/234803/enable"`) {
		t.Error("the disabled row does not show as disabled with an enable form")
	}
	rows := deckAudit(t, a, "rate_disable")
	if len(rows) != 1 || rows[0].TargetType != "rate" || rows[0].TargetID != "234803" || rows[0].Reason != "fraud <y> from this range" ||
		rows[0].Details["country"] != "NG" || rows[0].Details["description"] != "Nigeria mobile (MTN)" {
		t.Fatalf("audit: %+v", rows)
	}
	deckEventually(t, "pricing refuses the disabled destination", func() bool {
		status, q := calculate(t, anon, number)
		return status == http.StatusUnprocessableEntity && q.Error != nil && q.Error.Code == "destination_disabled"
	})
	// The rest of Nigeria is still priced.
	if status, q := calculate(t, anon, "+234 802 123 4567"); status != 200 || q.RatePerMinute != "$0.15/min" {
		t.Errorf("a neighbouring prefix: %d %+v", status, q)
	}

	r = b.post("/admin/rates/234803/enable", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/admin/rates" {
		t.Fatalf("enable: %d %q", r.status, r.location)
	}
	if _, _, enabled, _ := deckRate(t, a, "234803"); !enabled {
		t.Fatal("234803 not enabled again")
	}
	if rows := deckAudit(t, a, "rate_enable"); len(rows) != 1 || rows[0].TargetID != "234803" || rows[0].Reason != "" {
		t.Fatalf("audit: %+v", rows)
	}
	deckEventually(t, "pricing prices the destination again", func() bool {
		status, q := calculate(t, anon, number)
		return status == 200 && q.RatePerMinute == "$0.14/min"
	})

	// No such prefix, or no prefix at all: 404, nothing recorded.
	for _, path := range []string{"/admin/rates/99999/disable", "/admin/rates/abc/disable", "/admin/rates/0234/enable", "/admin/rates/1234567890123456/enable"} {
		if r := b.post(path, url.Values{}); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	if r := b.post("/admin/rates/234/disable", url.Values{"reason": {strings.Repeat("x", 501)}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "too long") {
		t.Errorf("a 501-character reason: %d", r.status)
	}
	if _, _, enabled, _ := deckRate(t, a, "234"); !enabled {
		t.Error("a refused form changed the deck")
	}
	if n := len(deckAudit(t, a, "rate_disable")) + len(deckAudit(t, a, "rate_enable")); n != 2 {
		t.Errorf("%d enable/disable actions recorded, want 2", n)
	}
}

func TestAdminRatesImportBadFile(t *testing.T) {
	a, b := newRatesAdmin(t)
	bad := "# a comment\n" +
		"prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n" +
		"234,NG,Nigeria,0.2000,0,true\n" +
		"+<y>,NG,Nigeria mobile,0.15,0,true\n" +
		"23480,XX,Nigeria mobile,0.15,0,true\n" +
		"\n" +
		"23481,NG,Nigeria mobile,free,0,true\n" +
		"234,NG,Nigeria again,0.13,0,true\n" +
		"23490,NG,Nigeria mobile,0.15,0\n"
	for _, action := range []string{"check", "import"} {
		r := uploadDeck(b, action, "new prices", "bad.csv", []byte(bad))
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d\n%s", action, r.status, r.body)
		}
		for _, want := range []string{"bad.csv: 5 bad lines. Nothing was applied.",
			`data-line="4"`, `prefix &#34;&#43;&lt;y&gt;&#34; must be 1 to 15 digits`,
			`data-line="5"`, `country &#34;XX&#34; is not an ISO country code`,
			`data-line="7"`, `per_minute_usd &#34;free&#34;`,
			`data-line="8"`, "prefix 234 already on line 3",
			`data-line="9"`, "5 fields, want 6"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s: the page lacks %q", action, want)
			}
		}
		if strings.Contains(r.body, "<y>") || strings.Contains(r.body, `data-line="3"`) {
			t.Errorf("%s: a good line is listed, or the file's text is not escaped", action)
		}
	}
	if perMinute, _, _, _ := deckRate(t, a, "234"); perMinute != 130_000 {
		t.Errorf("a bad file changed the deck: 234 costs %d", perMinute)
	}
	if rows := deckAudit(t, a, "rates_import"); len(rows) != 0 {
		t.Errorf("a bad file was recorded: %+v", rows)
	}

	// No file, a file with no rates, not a multipart form at all, and a
	// file over 5 MB.
	if r := uploadDeck(b, "check", "", "", nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="deck-error"`) {
		t.Errorf("no file: %d", r.status)
	}
	if r := uploadDeck(b, "check", "", "empty.csv", []byte("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n")); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "refusing to empty the deck") {
		t.Errorf("a file with no rates: %d", r.status)
	}
	if r := b.post("/admin/rates/import", url.Values{"action": {"import"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="deck-error"`) {
		t.Errorf("an url-encoded form: %d", r.status)
	}
	huge := "prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n" + strings.Repeat("234,NG,Nigeria,0.13,0,true\n", 6<<20/27)
	if r := uploadDeck(b, "check", "", "huge.csv", []byte(huge)); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "5 MB at most") {
		t.Errorf("a 6 MB file: %d", r.status)
	}
	if n, err := deckCount(a); err != nil || n != 169 {
		t.Errorf("the deck holds %d rates (%v), want 169", n, err)
	}
}

func deckCount(a *app) (n int, err error) {
	err = a.pool.QueryRow(context.Background(), `SELECT count(*) FROM call_rates`).Scan(&n)
	return n, err
}

// deckChanged is the sample deck with +234803 repriced, +23491 removed and
// +23499 added.
func deckChanged(t *testing.T) []byte {
	t.Helper()
	deck := string(ratedeck.SampleCSV)
	for old, repl := range map[string]string{
		"234803,NG,Nigeria mobile (MTN),0.1400,0,true\n": "234803,NG,Nigeria mobile (MTN),0.1600,0,true\n",
		"23491,NG,Nigeria mobile,0.1500,0,true\n":        "23499,NG,Nigeria <y> test,0.2000,0.05,true\n",
	} {
		if !strings.Contains(deck, old) {
			t.Fatalf("the sample deck has no line %q", old)
		}
		deck = strings.Replace(deck, old, repl, 1)
	}
	return []byte(deck)
}

func TestAdminRatesImportCheckThenApply(t *testing.T) {
	a, b := newRatesAdmin(t)
	anon := a.browser()
	file := deckChanged(t)

	// Check: the diff, nothing applied, nothing recorded.
	r := uploadDeck(b, "check", "", "new-deck.csv", file)
	if r.status != 200 {
		t.Fatalf("check: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"Checked new-deck.csv: nothing was applied.", "1 added, 1 changed, 1 removed, 167 unchanged.",
		`id="diff-added"`, `data-prefix="23499"`, "Nigeria &lt;y&gt; test", "$0.2/min", "$0.05 to connect",
		`id="diff-changed"`, "per minute: <span class=\"break-words text-slate-600 line-through\">$0.14/min</span> → <span class=\"break-words font-semibold\">$0.16/min</span>",
		`id="diff-removed"`, `data-prefix="23491"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("check: the page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<y>") {
		t.Error("check: the file's text is not escaped")
	}
	if perMinute, _, _, _ := deckRate(t, a, "234803"); perMinute != 140_000 {
		t.Errorf("a check changed the deck: 234803 costs %d", perMinute)
	}
	if _, _, _, found := deckRate(t, a, "23499"); found {
		t.Error("a check added a rate")
	}
	if rows := deckAudit(t, a, "rates_import"); len(rows) != 0 {
		t.Errorf("a check was recorded: %+v", rows)
	}

	// Import needs a reason.
	if r := uploadDeck(b, "import", " ", "new-deck.csv", file); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="reason-error"`) {
		t.Errorf("import without a reason: %d", r.status)
	}
	if perMinute, _, _, _ := deckRate(t, a, "234803"); perMinute != 140_000 {
		t.Error("an import without a reason changed the deck")
	}

	// Import: applied, recorded, and priced.
	r = uploadDeck(b, "import", "Q3 <y> prices", "new-deck.csv", file)
	if r.status != 200 {
		t.Fatalf("import: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"The deck was replaced: 1 added, 1 changed, 1 removed.", "new-deck.csv replaced the deck.",
		"1 added, 1 changed, 1 removed, 167 unchanged.", `data-prefix="23499"`, `data-rate="23499"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("import: the page lacks %q", want)
		}
	}
	if perMinute, _, _, _ := deckRate(t, a, "234803"); perMinute != 160_000 {
		t.Errorf("after the import 234803 costs %d", perMinute)
	}
	if perMinute, fee, enabled, found := deckRate(t, a, "23499"); !found || perMinute != 200_000 || fee != 50_000 || !enabled {
		t.Errorf("23499 after the import: %v %d %d %v", found, perMinute, fee, enabled)
	}
	if _, _, _, found := deckRate(t, a, "23491"); found {
		t.Error("23491 was not removed")
	}
	rows := deckAudit(t, a, "rates_import")
	if len(rows) != 1 || rows[0].TargetType != "deck" || rows[0].TargetID != "deck" || rows[0].Reason != "Q3 <y> prices" {
		t.Fatalf("audit: %+v", rows)
	}
	for k, want := range map[string]any{"file": "new-deck.csv", "added": 1.0, "changed": 1.0, "removed": 1.0, "unchanged": 167.0, "prefixes": 169.0} {
		if rows[0].Details[k] != want {
			t.Errorf("audit details %s = %v, want %v", k, rows[0].Details[k], want)
		}
	}
	if sum, _ := rows[0].Details["sha256"].(string); len(sum) != 64 {
		t.Errorf("audit details sha256 = %v", rows[0].Details["sha256"])
	}
	deckEventually(t, "pricing uses the imported deck", func() bool {
		status, q := calculate(t, anon, "+234 803 123 4567")
		return status == 200 && q.RatePerMinute == "$0.16/min"
	})

	// The same file again: nothing left to change.
	if r := uploadDeck(b, "check", "", "new-deck.csv", file); r.status != 200 || !strings.Contains(r.body, "0 added, 0 changed, 0 removed, 169 unchanged. The file is the deck as it is.") ||
		strings.Contains(r.body, `id="diff-flips"`) {
		t.Errorf("a second check: %d", r.status)
	}
	// Once support disables a prefix, the same file would enable it again:
	// the check says so.
	if r := b.post("/admin/rates/23480/disable", url.Values{}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Say why &#43;23480 is disabled") {
		t.Fatalf("a disable without a reason: %d", r.status)
	}
	if r := b.post("/admin/rates/23480/disable", url.Values{"reason": {"fraud from this range"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.status)
	}
	r = uploadDeck(b, "check", "", "new-deck.csv", file)
	if !strings.Contains(r.body, "0 added, 1 changed, 0 removed, 168 unchanged.") || !strings.Contains(r.body, "Of these changes, 1 enable a disabled prefix and 0 disable an enabled one") ||
		!strings.Contains(r.body, "enabled: <span class=\"break-words text-slate-600 line-through\">false</span> → <span class=\"break-words font-semibold\">true</span>") {
		t.Errorf("a check that enables a disabled prefix:\n%s", r.body)
	}
}

func TestAdminRatesNotForUsers(t *testing.T) {
	a := newApp(t, nil)
	anon := a.browser()
	user := a.browser()
	user.signUp("plain@example.com", "correct horse", "Plain")
	for _, b := range []*browser{anon, user} {
		if r := b.get("/admin/rates"); r.status != http.StatusNotFound {
			t.Errorf("GET /admin/rates: %d", r.status)
		}
		if r := b.post("/admin/rates/234803/disable", url.Values{}); r.status != http.StatusNotFound {
			t.Errorf("POST disable: %d", r.status)
		}
		if r := uploadDeck(b, "import", "mine now", "new-deck.csv", deckChanged(t)); r.status != http.StatusNotFound {
			t.Errorf("POST import: %d", r.status)
		}
	}
	if perMinute, _, enabled, _ := deckRate(t, a, "234803"); perMinute != 140_000 || !enabled {
		t.Error("a non-admin changed the deck")
	}
}
