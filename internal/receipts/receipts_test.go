package receipts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/receipts"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// A receipt is queued in the posting's transaction: rolled back with it,
// and naming, for a refund, the card its top-up's receipt named.
func TestQueueIsPartOfThePostingsTransaction(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	var user, account, topup uuid.UUID
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ('q@example.com', 'Q', 'x', 'NG') RETURNING id`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, user).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		VALUES ($1, $2, 'usd-10', 1000, 'processing', 'pi_q') RETURNING id`, user, account).Scan(&topup); err != nil {
		t.Fatal(err)
	}
	post := func(e ledger.Entry, last4 string, fail error) error {
		return db.InTx(ctx, pool, func(q *db.Queries) error {
			p, err := ledger.New(q.DB()).Post(ctx, e)
			if err != nil {
				return err
			}
			if err := receipts.Queue(ctx, q, p, last4); err != nil {
				return err
			}
			return fail
		})
	}
	credit := ledger.Entry{Key: "stripe:pi_q", AccountID: account, Kind: ledger.Purchase, AmountCents: 1000, TopUpID: &topup}
	boom := errors.New("the rest of the transaction failed")
	if err := post(credit, "4242", boom); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	count := func() (n int) {
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM receipts`).Scan(&n)
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d receipts queued by a posting rolled back", n)
	}
	if err := post(credit, "4242", nil); err != nil {
		t.Fatal(err)
	}
	if err := post(credit, "1111", nil); err != nil { // replayed: nothing new
		t.Fatal(err)
	}
	refund := ledger.Entry{Key: "stripe:refund:re_q", AccountID: account, Kind: ledger.Refund, AmountCents: -400, TopUpID: &topup}
	if err := post(refund, "not a card", nil); err != nil {
		t.Fatal(err)
	}
	bonus := ledger.Entry{Key: "bonus:q", AccountID: account, Kind: ledger.Bonus, AmountCents: 100}
	if err := post(bonus, "", nil); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT idempotency_key, coalesce(card_last4, '') FROM receipts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k, c string
		_ = rows.Scan(&k, &c)
		got = append(got, k+"="+c)
	}
	if len(got) != 2 || got[0] != "stripe:pi_q=4242" || got[1] != "stripe:refund:re_q=4242" {
		t.Fatalf("receipts %v", got)
	}
}

// recorder is a mailer that keeps what it was given.
type recorder struct{ msgs []mail.Message }

func (r *recorder) Send(_ context.Context, m mail.Message) error {
	r.msgs = append(r.msgs, m)
	return nil
}

// Each receipt goes to the owner of the wallet its entry moved, and says
// that wallet's balance: no one reads another's.
func TestEachReceiptGoesToItsWalletsOwner(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	owners := map[string]int64{"ada@example.com": 500, "bola@example.com": 2000}
	for _, email := range []string{"ada@example.com", "bola@example.com"} {
		var user, account, topup uuid.UUID
		if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ($1, 'P', 'x', 'NG') RETURNING id`, email).Scan(&user); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, user).Scan(&account); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status)
			VALUES ($1, $2, 'p', $3, 'processing') RETURNING id`, user, account, owners[email]).Scan(&topup); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, pool, func(q *db.Queries) error {
			p, err := ledger.New(q.DB()).Post(ctx, ledger.Entry{Key: "stripe:pi_" + email, AccountID: account, Kind: ledger.Purchase,
				AmountCents: owners[email], TopUpID: &topup})
			if err != nil {
				return err
			}
			return receipts.Queue(ctx, q, p, "")
		}); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{}
	if _, err := receipts.NewDeliverer(pool, r, "http://127.0.0.1:8080", zerolog.Nop()).DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.msgs) != 2 {
		t.Fatalf("%d receipts sent", len(r.msgs))
	}
	for _, m := range r.msgs {
		want := rating.FormatCents(owners[m.To])
		if !strings.Contains(m.Text, "Added:          "+want+"\n") || !strings.Contains(m.Text, "Balance after:  "+want+"\n") {
			t.Errorf("the receipt to %s does not say its own %s:\n%s", m.To, want, m.Text)
		}
	}
}
