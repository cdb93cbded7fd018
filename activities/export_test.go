package activities_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// cardsGateway is Stripe's saved cards per Customer.
type cardsGateway struct {
	payments.Gateway
	cards map[string][]payments.Card
}

func (g *cardsGateway) ListCards(_ context.Context, customerID string) ([]payments.Card, error) {
	return g.cards[customerID], nil
}

// exportUser is a user with a row of every kind an export holds; the
// strings are what must (for the owner) or must not (for anyone else)
// appear in an export.
type exportUser struct {
	id, account, email, number, callerID, customer, pm, cardLast4 string
}

func seedExportUser(t *testing.T, a *activities.Activities, tag, number string) exportUser {
	t.Helper()
	ctx := context.Background()
	pool := a.Pool
	u := exportUser{email: tag + "@example.com", number: number, callerID: number[:len(number)-1] + "9",
		customer: "cus_" + tag, pm: "pm_" + tag, cardLast4: map[string]string{"ada": "4242", "bob": "5555"}[tag]}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ($1, $2, 'secret-hash-'||$2::text, 'NG') RETURNING id`,
		u.email, tag).Scan(&u.id); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, u.id).Scan(&u.account); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(pool)
	account := uuid.MustParse(u.account)
	for i, amount := range []int64{1000, 2000} {
		var topup uuid.UUID
		pi := "pi_" + tag + string(rune('a'+i))
		if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
			VALUES ($1, $2, 'usd-10', $3, 'succeeded', $4) RETURNING id`, u.id, u.account, amount, pi).Scan(&topup); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Post(ctx, ledger.Entry{Key: "stripe:" + pi, AccountID: account, Kind: ledger.Purchase, AmountCents: amount, TopUpID: &topup}); err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO receipts (idempotency_key, card_last4, sent_at) VALUES ($1, $2, now())`, "stripe:"+pi, u.cardLast4)
		if i == 0 {
			exec(`INSERT INTO payment_failures (stripe_event_id, topup_id, user_id, amount_cents, code, message) VALUES ($1, $2, $3, $4, 'card_declined', 'Declined')`,
				"evt_"+tag, topup, u.id, amount)
		}
	}
	for i := range 3 {
		var call uuid.UUID
		if err := pool.QueryRow(ctx, `INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
			per_minute_micros, max_seconds, authorized_until, rate_prefix, duration_seconds, cost_cents, billing_state)
			VALUES ($1, $2, $3, 'NG', $4, 'completed', 140000, 600, now(), '234803', 60, 14, 'charged') RETURNING id`,
			u.id, u.account, number, "client-"+u.id).Scan(&call); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Post(ctx, ledger.Entry{Key: "call:" + call.String() + ":charge", AccountID: account, Kind: ledger.CallCharge, AmountCents: -14, CallID: &call}); err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO call_events (call_id, user_id, status) VALUES ($1, $2, 'completed')`, call, u.id)
		if i < 2 {
			exec(`INSERT INTO call_ratings (call_id, user_id, score, issues) VALUES ($1, $2, $3, '{echo}')`, call, u.id, 3+i)
		}
	}
	exec(`INSERT INTO contacts (user_id, name, phone_number) VALUES ($1, 'Mum of '||$2::text, $3), ($1, 'Dad of '||$2::text, $4)`, u.id, tag, number, u.callerID[:len(u.callerID)-1]+"8")
	exec(`INSERT INTO caller_ids (user_id, e164, validation_code) VALUES ($1, $2, '123456')`, u.id, u.callerID)
	exec(`INSERT INTO payment_customers (user_id, customer_id, default_payment_method_id) VALUES ($1, $2, $3)`, u.id, u.customer, u.pm)
	exec(`INSERT INTO auto_topups (user_id, account_id, enabled, threshold_cents, amount_cents, monthly_cap_cents) VALUES ($1, $2, true, 200, 1000, 5000)`, u.id, u.account)
	return u
}

// unzipped is an export's files, by name.
func unzipped(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// idsIn is the values of key in a JSON array file, sorted, as strings.
func idsIn(t *testing.T, files map[string][]byte, name, key string) []string {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal(files[name], &rows); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, files[name])
	}
	var out []string
	for _, r := range rows {
		b, _ := json.Marshal(r[key])
		out = append(out, strings.Trim(string(b), `"`))
	}
	sort.Strings(out)
	return out
}

// An export holds exactly its user's rows, of every kind, checked against
// the database directly; nothing of another user (ids, numbers, email,
// Stripe ids, cards) is anywhere in it, and no secret of its own user
// (password hash, caller ID code, payment method id).
func TestDataExportHoldsExactlyTheUsersRows(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	a := activities.New(pool)
	ada := seedExportUser(t, a, "ada", "+2348031110001")
	bob := seedExportUser(t, a, "bob", "+2348032220002")
	a.Payments = &cardsGateway{cards: map[string][]payments.Card{
		ada.customer: {{ID: ada.pm, Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030}},
		bob.customer: {{ID: bob.pm, Brand: "mastercard", Last4: "5555", ExpMonth: 1, ExpYear: 2031}},
	}}

	var exportID string
	if err := pool.QueryRow(ctx, `INSERT INTO data_exports (user_id, n) VALUES ($1, 1) RETURNING id`, ada.id).Scan(&exportID); err != nil {
		t.Fatal(err)
	}
	in := workflows.DataExportInput{ExportID: exportID, UserID: ada.id}
	built, err := a.BuildDataExport(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	if err := pool.QueryRow(ctx, `SELECT zip FROM data_exports WHERE id = $1`, exportID).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if int64(len(blob)) != built.SizeBytes || built.SizeBytes == 0 {
		t.Fatalf("stored %d bytes, reported %d", len(blob), built.SizeBytes)
	}
	files := unzipped(t, blob)

	dbIDs := func(sql string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, sql, ada.id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct{ file, key, sql string }{
		{"calls.json", "id", `SELECT id::text FROM calls WHERE user_id = $1`},
		{"call_events.json", "id", `SELECT id::text FROM call_events WHERE user_id = $1`},
		{"transactions.json", "id", `SELECT t.id::text FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE a.user_id = $1`},
		{"topups.json", "id", `SELECT id::text FROM topups WHERE user_id = $1`},
		{"payment_failures.json", "id", `SELECT id::text FROM payment_failures WHERE user_id = $1`},
		{"receipts.json", "id", `SELECT r.id::text FROM receipts r JOIN transactions t ON t.idempotency_key = r.idempotency_key
			JOIN accounts a ON a.id = t.account_id WHERE a.user_id = $1`},
		{"contacts.json", "id", `SELECT id::text FROM contacts WHERE user_id = $1`},
		{"call_ratings.json", "call_id", `SELECT call_id::text FROM call_ratings WHERE user_id = $1`},
		{"caller_ids.json", "id", `SELECT id::text FROM caller_ids WHERE user_id = $1`},
	} {
		want := dbIDs(c.sql)
		got := idsIn(t, files, c.file, c.key)
		if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: ids %v, the database has %v", c.file, got, want)
		}
	}
	var profile map[string]any
	if err := json.Unmarshal(files["profile.json"], &profile); err != nil {
		t.Fatal(err)
	}
	if profile["id"] != ada.id || profile["email"] != ada.email || profile["balance_cents"] != float64(3000-3*14) {
		t.Errorf("profile %v", profile)
	}
	var cards []map[string]any
	if err := json.Unmarshal(files["saved_cards.json"], &cards); err != nil {
		t.Fatal(err)
	}
	if len(cards) != 1 || cards[0]["last4"] != "4242" || cards[0]["brand"] != "visa" || cards[0]["exp_year"] != float64(2030) {
		t.Errorf("saved cards %v", cards)
	}
	var auto struct {
		Settings map[string]any   `json:"settings"`
		Runs     []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(files["auto_topup.json"], &auto); err != nil || auto.Settings["threshold_cents"] != float64(200) {
		t.Errorf("auto top-up %s: %v", files["auto_topup.json"], err)
	}
	if _, ok := files["README.txt"]; !ok || len(files) != 13 {
		t.Errorf("files %d", len(files))
	}

	var all []byte
	for _, b := range files {
		all = append(all, b...)
	}
	all = append(all, blob...)
	for _, s := range []string{ada.id, ada.email, ada.number, ada.callerID, "4242"} {
		if !bytes.Contains(all, []byte(s)) {
			t.Errorf("the export lacks its user's %q", s)
		}
	}
	bobs := []string{bob.id, bob.account, bob.email, bob.number, bob.callerID, bob.customer, bob.pm, "5555", "pi_bob", "evt_bob", "Mum of bob"}
	bobs = append(bobs, dbIDsOf(t, pool, bob.id)...)
	for _, s := range bobs {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("the export holds another user's %q", s)
		}
	}
	for _, s := range []string{"secret-hash", "123456", ada.pm, ada.customer, "client-"} {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("the export holds the secret or internal %q", s)
		}
	}

	// Built once: a retried build changes nothing.
	again, err := a.BuildDataExport(ctx, in)
	if err != nil || again != built {
		t.Fatalf("again: %+v %v, first %+v", again, err, built)
	}
	// Another user's export id is refused.
	if _, err := a.BuildDataExport(ctx, workflows.DataExportInput{ExportID: exportID, UserID: bob.id}); err == nil {
		t.Fatal("built another user's export")
	}
}

// dbIDsOf is the ids of a user's calls, top-ups, contacts, caller ids
// and ledger entries' keys.
func dbIDsOf(t *testing.T, pool *pgxpool.Pool, user string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT id::text FROM calls WHERE user_id = $1
		UNION ALL SELECT id::text FROM topups WHERE user_id = $1
		UNION ALL SELECT id::text FROM contacts WHERE user_id = $1
		UNION ALL SELECT id::text FROM caller_ids WHERE user_id = $1
		UNION ALL SELECT t.idempotency_key FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE a.user_id = $1`, user)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) < 10 {
		t.Fatalf("user %s has %d rows", user, len(out))
	}
	return out
}
