package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
)

// wallet is the signed-up user email's id and wallet account id.
func wallet(t *testing.T, a *app, email string) (user, account uuid.UUID) {
	t.Helper()
	if err := a.pool.QueryRow(context.Background(),
		`SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, email).Scan(&user, &account); err != nil {
		t.Fatal(err)
	}
	return user, account
}

// post puts e on the ledger the only way money moves: through ledger.Post.
func post(t *testing.T, a *app, e ledger.Entry) ledger.Posted {
	t.Helper()
	p, err := ledger.New(a.pool).Post(context.Background(), e)
	if err != nil {
		t.Fatalf("post %s: %v", e.Key, err)
	}
	return p
}

// insertTopUp gives the user a paid top-up of cents.
func insertTopUp(t *testing.T, a *app, user, account uuid.UUID, cents int64) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := a.pool.QueryRow(context.Background(), `
		INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, credited_at)
		VALUES ($1, $2, 'usd10', $3, 'succeeded', now()) RETURNING id`, user, account, cents).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

var entryPattern = regexp.MustCompile(`(?s)id="entry-(\d+)"(.*?)</li>`)

type shownEntry struct {
	id   int64
	html string // unescaped: "+", for one, is written &#43;
}

// shownEntries are the entries on a transactions page, in page order.
func shownEntries(t *testing.T, body string) []shownEntry {
	t.Helper()
	var out []shownEntry
	for _, m := range entryPattern.FindAllStringSubmatch(body, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, shownEntry{id, html.UnescapeString(m[2])})
	}
	return out
}

// ledgerFixture posts one entry of every kind the page describes and
// returns them oldest first, with the call's and the top-up's ids.
func ledgerFixture(t *testing.T, a *app, email string) (posted []ledger.Posted, callID, topUpID uuid.UUID) {
	t.Helper()
	user, account := wallet(t, a, email)
	callID = uuid.MustParse(insertCalls(t, a, email, 1)[0]) // +2348031200000
	topUpID = insertTopUp(t, a, user, account, 1000)
	for _, e := range []ledger.Entry{
		{Key: "t:bonus:" + email, AccountID: account, Kind: ledger.Bonus, AmountCents: 500, Memo: "Welcome bonus"},
		{Key: "t:purchase:" + email, AccountID: account, Kind: ledger.Purchase, AmountCents: 1000, TopUpID: &topUpID},
		{Key: "t:call:" + email, AccountID: account, Kind: ledger.CallCharge, AmountCents: -28, CallID: &callID},
		{Key: "t:adj1:" + email, AccountID: account, Kind: ledger.Adjustment, AmountCents: -1000, Memo: `=HYPERLINK("http://evil.example/","Click")`},
		{Key: "t:refund:" + email, AccountID: account, Kind: ledger.Refund, AmountCents: -500, TopUpID: &topUpID},
		{Key: "t:adj2:" + email, AccountID: account, Kind: ledger.Adjustment, AmountCents: 5, Memo: "@SUM(A1:A9)"},
	} {
		posted = append(posted, post(t, a, e))
	}
	return posted, callID, topUpID
}

func TestTransactionsPageNewestFirstWithBalances(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("ledger@example.com", "correct horse", "L")
	if r := b.get("/transactions"); r.status != 200 || !strings.Contains(r.body, "No transactions yet") || strings.Contains(r.body, "/transactions.csv") {
		t.Fatalf("empty ledger: %d\n%s", r.status, r.body)
	}
	posted, callID, topUpID := ledgerFixture(t, a, "ledger@example.com")

	r := b.get("/transactions")
	shown := shownEntries(t, r.body)
	if r.status != 200 || len(shown) != len(posted) {
		t.Fatalf("GET /transactions: %d, %d entries shown, want %d", r.status, len(shown), len(posted))
	}
	want := []struct{ label, amount, balance, link string }{
		{"Adjustment</span>", "+$0.05", "balance -$0.23", ""},
		{"Refund", "-$5.00", "balance -$0.28", "/credits/topups/" + topUpID.String()},
		{"Adjustment</span>", "-$10.00", "balance $4.72", ""},
		{"Call to +2348031200000", "-$0.28", "balance $14.72", "/calls/" + callID.String()},
		{"Top-up", "+$10.00", "balance $15.00", "/credits/topups/" + topUpID.String()},
		{"Welcome bonus", "+$5.00", "balance $5.00", ""},
	}
	for i, w := range want {
		p, s := posted[len(posted)-1-i], shown[i]
		if s.id != p.ID {
			t.Fatalf("entry %d is #%d, want #%d (newest first)", i, s.id, p.ID)
		}
		if p.BalanceAfterCents == 0 {
			t.Fatalf("fixture: #%d has no balance", p.ID)
		}
		for _, part := range []string{w.label, ">" + w.amount + "<", w.balance} {
			if !strings.Contains(s.html, part) {
				t.Errorf("entry #%d lacks %q:\n%s", s.id, part, s.html)
			}
		}
		if w.link != "" && !strings.Contains(s.html, `href="`+w.link+`"`) {
			t.Errorf("entry #%d does not link to %s", s.id, w.link)
		}
		if w.link == "" && strings.Contains(s.html, "href=") {
			t.Errorf("entry #%d links somewhere", s.id)
		}
		// The person's zone (UTC for an account made without one), with
		// the instant in UTC for machines.
		if !regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d</time>`).MatchString(s.html) {
			t.Errorf("entry #%d has no time:\n%s", s.id, s.html)
		}
	}
	if !strings.Contains(r.body, "=HYPERLINK(&#34;http://evil.example/&#34;,&#34;Click&#34;)") || !strings.Contains(shown[0].html, "@SUM(A1:A9)") {
		t.Error("the adjustments' memos are not shown (escaped)")
	}
	if !strings.Contains(r.body, `href="/transactions.csv" download`) {
		t.Error("no Download CSV link")
	}
	if strings.Contains(r.body, "Older transactions") {
		t.Error("a single page links to older entries")
	}
}

func TestTransactionsPagesWithCursor(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("pages@example.com", "correct horse", "P")
	_, account := wallet(t, a, "pages@example.com")
	var ids []int64 // oldest first
	for i := range 30 {
		p := post(t, a, ledger.Entry{Key: fmt.Sprintf("t:page:%d", i), AccountID: account, Kind: ledger.Bonus, AmountCents: int64(i + 1)})
		ids = append(ids, p.ID)
	}

	first := b.get("/transactions")
	shown := shownEntries(t, first.body)
	if first.status != 200 || len(shown) != 25 {
		t.Fatalf("first page: %d, %d entries", first.status, len(shown))
	}
	for i, s := range shown {
		if s.id != ids[29-i] {
			t.Fatalf("first page, entry %d: #%d, want #%d", i, s.id, ids[29-i])
		}
	}
	// The running balances: 1+2+...+30 cents after the newest, 1+...+6 after
	// the oldest on the page.
	if !strings.Contains(shown[0].html, "balance $4.65") || !strings.Contains(shown[24].html, "balance $0.21") {
		t.Errorf("running balances: %q ... %q", shown[0].html, shown[24].html)
	}
	older := regexp.MustCompile(`href="(/transactions\?before=(\d+))"`).FindStringSubmatch(first.body)
	if older == nil || older[2] != strconv.FormatInt(ids[5], 10) {
		t.Fatalf("older link %v, want before=%d", older, ids[5])
	}
	second := b.get(older[1])
	shown = shownEntries(t, second.body)
	if second.status != 200 || len(shown) != 5 || shown[0].id != ids[4] || shown[4].id != ids[0] {
		t.Fatalf("second page: %d, %v", second.status, shown)
	}
	if strings.Contains(second.body, "Older transactions") {
		t.Fatal("the last page links to older entries")
	}
	for _, bad := range []string{"nonsense", "-3", "0", "1.5", "99999999999999999999", "1%200"} {
		if r := b.get("/transactions?before=" + bad); r.status != http.StatusBadRequest {
			t.Errorf("before=%s: %d, want 400", bad, r.status)
		}
	}
}

func TestTransactionsAreOnlyTheirUsers(t *testing.T) {
	a := newApp(t, nil)
	ann, ben := a.browser(), a.browser()
	ann.signUp("ann.ledger@example.com", "correct horse", "Ann")
	ben.signUp("ben.ledger@example.com", "correct horse", "Ben")
	annPosted, annCall, _ := ledgerFixture(t, a, "ann.ledger@example.com")
	_, benAccount := wallet(t, a, "ben.ledger@example.com")
	benPosted := post(t, a, ledger.Entry{Key: "t:ben", AccountID: benAccount, Kind: ledger.Bonus, AmountCents: 77})

	// Ben's page, first or with a cursor past Ann's entries, and his export
	// show his one entry and nothing of Ann's.
	for _, path := range []string{"/transactions", "/transactions?before=" + strconv.FormatInt(benPosted.ID+100, 10)} {
		r := ben.get(path)
		shown := shownEntries(t, r.body)
		if r.status != 200 || len(shown) != 1 || shown[0].id != benPosted.ID || strings.Contains(r.body, annCall.String()) || strings.Contains(r.body, "2348031200000") {
			t.Fatalf("ben's %s: %d, %v", path, r.status, shown)
		}
	}
	if r := ben.get("/transactions?before=" + strconv.FormatInt(benPosted.ID, 10)); !strings.Contains(r.body, "No transactions yet") {
		t.Fatal("ben's older page is not empty")
	}
	rows := readCSV(t, ben.get("/transactions.csv"))
	if len(rows) != 2 || rows[1][0] != strconv.FormatInt(benPosted.ID, 10) || rows[1][4] != "0.77" {
		t.Fatalf("ben's export: %v", rows)
	}

	// Ann's page shows all of hers and not Ben's.
	r := ann.get("/transactions")
	shown := shownEntries(t, r.body)
	if len(shown) != len(annPosted) {
		t.Fatalf("ann sees %d entries, want %d", len(shown), len(annPosted))
	}
	for _, s := range shown {
		if s.id == benPosted.ID {
			t.Fatal("ann sees ben's entry")
		}
	}
}

// readCSV checks an export's headers and parses it.
func readCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("export: %d\n%s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("export Content-Type %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="mobayilo-transactions-\d{4}-\d{2}-\d{2}\.csv"$`).MatchString(cd) {
		t.Errorf("export Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, r.body)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "id,created_at,kind,description,amount,balance_after,call_id,topup_id" {
		t.Fatalf("export header: %v", rows)
	}
	return rows
}

func TestTransactionsExportCSV(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("csv@example.com", "correct horse", "C")
	if rows := readCSV(t, b.get("/transactions.csv")); len(rows) != 1 {
		t.Fatalf("empty ledger's export: %v", rows)
	}
	posted, callID, topUpID := ledgerFixture(t, a, "csv@example.com")
	call, topup := callID.String(), topUpID.String()

	dayBefore := time.Now().UTC().Format(time.DateOnly)
	r := b.get("/transactions.csv")
	dayAfter := time.Now().UTC().Format(time.DateOnly)
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="mobayilo-transactions-`+dayBefore+`.csv"` &&
		cd != `attachment; filename="mobayilo-transactions-`+dayAfter+`.csv"` {
		t.Errorf("export Content-Disposition %q, want today's date %s", cd, dayAfter)
	}
	rows := readCSV(t, r)
	want := [][]string{
		{"adjustment", "'@SUM(A1:A9)", "0.05", "-0.23", "", ""},
		{"refund", "Refund", "-5.00", "-0.28", "", topup},
		{"adjustment", `'=HYPERLINK("http://evil.example/","Click")`, "-10.00", "4.72", "", ""},
		{"call_charge", "Call to +2348031200000", "-0.28", "14.72", call, ""},
		{"purchase", "Top-up", "10.00", "15.00", "", topup},
		{"bonus", "Welcome bonus", "5.00", "5.00", "", ""},
	}
	if len(rows) != 1+len(want) {
		t.Fatalf("export has %d rows, want %d:\n%s", len(rows), 1+len(want), r.body)
	}
	for i, w := range want {
		row, p := rows[1+i], posted[len(posted)-1-i]
		if row[0] != strconv.FormatInt(p.ID, 10) {
			t.Errorf("row %d: id %s, want %d (newest first)", i, row[0], p.ID)
		}
		at, err := time.Parse(time.RFC3339, row[1])
		if err != nil || !strings.HasSuffix(row[1], "Z") || time.Since(at) > time.Minute {
			t.Errorf("row %d: created_at %q is not a recent RFC 3339 UTC time", i, row[1])
		}
		if got := row[2:]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, got, w)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("the export may be cached")
	}
}

// TestTransactionsExportStreamsInChunks exports more entries than one
// chunk of the export's query, so the keyset paging inside it is crossed.
func TestTransactionsExportStreamsInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("posts over a thousand entries")
	}
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("chunks@example.com", "correct horse", "C")
	_, account := wallet(t, a, "chunks@example.com")
	const n = 1003
	for i := range n {
		post(t, a, ledger.Entry{Key: fmt.Sprintf("t:chunk:%d", i), AccountID: account, Kind: ledger.Bonus, AmountCents: 1})
	}
	rows := readCSV(t, b.get("/transactions.csv"))
	if len(rows) != 1+n {
		t.Fatalf("export has %d entries, want %d", len(rows)-1, n)
	}
	prev := int64(1<<63 - 1)
	for i, row := range rows[1:] {
		id, _ := strconv.ParseInt(row[0], 10, 64)
		if id >= prev {
			t.Fatalf("row %d: id %d after %d: not newest first", i, id, prev)
		}
		prev = id
		if want := fmt.Sprintf("%d.%02d", (n-i)/100, (n-i)%100); row[5] != want {
			t.Fatalf("row %d: balance_after %s, want %s", i, row[5], want)
		}
	}
}

func TestTransactionsSignedOutRedirectToSignIn(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	for _, p := range []string{"/transactions", "/transactions.csv"} {
		r := b.get(p)
		if r.status != http.StatusSeeOther || r.location != "/signin?next="+url.QueryEscape(p) {
			t.Errorf("GET %s signed out: %d %s", p, r.status, r.location)
		}
		if strings.Contains(r.body, "id,created_at") {
			t.Errorf("GET %s signed out answered the export", p)
		}
	}
}
