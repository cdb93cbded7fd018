package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// fixture is one user with a wallet.
type fixture struct {
	userID, accountID uuid.UUID
}

func newWallet(t testing.TB, pool *pgxpool.Pool) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	err := db.InTx(ctx, pool, func(q *db.Queries) error {
		u, err := q.CreateUser(ctx, db.CreateUserParams{
			Email:        "user-" + uuid.NewString()[:8] + "@example.com",
			DisplayName:  "Test User",
			PasswordHash: "not-a-real-hash",
			HomeCountry:  "US",
		})
		if err != nil {
			return err
		}
		a, err := q.CreateWallet(ctx, &u.ID)
		if err != nil {
			return err
		}
		f = fixture{userID: u.ID, accountID: a.ID}
		return nil
	})
	if err != nil {
		t.Fatalf("create wallet: %v", err)
	}
	return f
}

// newCall inserts an authorized call row for f, for call_charge entries.
func newCall(t testing.TB, pool *pgxpool.Pool, f fixture) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := pool.QueryRow(context.Background(), `
		INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status)
		VALUES ($1, $2, '+2348031234567', 'NG', 'u-test', 'refused') RETURNING id`,
		f.userID, f.accountID).Scan(&id)
	if err != nil {
		t.Fatalf("create call: %v", err)
	}
	return id
}

// newTopUp inserts a top-up row for f, for purchase and refund entries.
func newTopUp(t testing.TB, pool *pgxpool.Pool, f fixture, cents int64) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := pool.QueryRow(context.Background(), `
		INSERT INTO topups (user_id, account_id, package_code, amount_cents) VALUES ($1, $2, 'usd5', $3) RETURNING id`,
		f.userID, f.accountID, cents).Scan(&id)
	if err != nil {
		t.Fatalf("create topup: %v", err)
	}
	return id
}

func countEntries(t testing.TB, pool *pgxpool.Pool, account uuid.UUID) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM transactions WHERE account_id = $1`, account).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func balance(t testing.TB, l *ledger.Ledger, account uuid.UUID) int64 {
	t.Helper()
	b, err := l.Balance(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustVerify(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	r, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("ledger does not verify: %v", r.Problems)
	}
}

func TestPostTwiceMovesBalanceOnce(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	topup := newTopUp(t, pool, f, 500)
	e := ledger.Entry{Key: "stripe:pi_123", AccountID: f.accountID, Kind: ledger.Purchase, AmountCents: 500, TopUpID: &topup}

	first, err := l.Post(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.Post(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed || !second.Replayed {
		t.Fatalf("replayed flags: first=%v second=%v", first.Replayed, second.Replayed)
	}
	if first.ID != second.ID || second.BalanceAfterCents != 500 {
		t.Fatalf("repeat returned another result: %+v vs %+v", first, second)
	}
	if got := balance(t, l, f.accountID); got != 500 {
		t.Fatalf("balance %d, want 500", got)
	}
	if n := countEntries(t, pool, f.accountID); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	if first.Counterparty != ledger.HouseStripe {
		t.Fatalf("counterparty %s, want stripe", first.Counterparty)
	}
	mustVerify(t, l)
}

func TestSameKeyDifferentContentIsRefused(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	a, b := newWallet(t, pool), newWallet(t, pool)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:signup:x", AccountID: a.accountID, Kind: ledger.Bonus, AmountCents: 100}); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]ledger.Entry{
		"other amount":  {Key: "bonus:signup:x", AccountID: a.accountID, Kind: ledger.Bonus, AmountCents: 200},
		"other account": {Key: "bonus:signup:x", AccountID: b.accountID, Kind: ledger.Bonus, AmountCents: 100},
		"other kind":    {Key: "bonus:signup:x", AccountID: a.accountID, Kind: ledger.Adjustment, AmountCents: 100},
	} {
		if _, err := l.Post(ctx, e); !errors.Is(err, ledger.ErrIdempotencyConflict) {
			t.Errorf("%s: want ErrIdempotencyConflict, got %v", name, err)
		}
	}
	if got := balance(t, l, a.accountID); got != 100 {
		t.Fatalf("balance of a %d, want 100", got)
	}
	if got := balance(t, l, b.accountID); got != 0 {
		t.Fatalf("balance of b %d, want 0", got)
	}
	mustVerify(t, l)
}

func TestConcurrentSameKeyLeavesOneRow(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	call := newCall(t, pool, f)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:seed", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 1000}); err != nil {
		t.Fatal(err)
	}

	const n = 64
	e := ledger.Entry{Key: "call:" + call.String() + ":charge", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -37, CallID: &call}
	results := make([]ledger.Posted, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = l.Post(ctx, e)
		}()
	}
	close(start)
	wg.Wait()

	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("post %d: %v", i, errs[i])
		}
		if !results[i].Replayed {
			fresh++
		}
		if results[i].ID != results[0].ID || results[i].BalanceAfterCents != 963 {
			t.Fatalf("post %d returned %+v, post 0 %+v", i, results[i], results[0])
		}
	}
	if fresh != 1 {
		t.Fatalf("%d posts claim to be first, want exactly 1", fresh)
	}
	if c := countEntries(t, pool, f.accountID); c != 2 {
		t.Fatalf("%d entries, want 2 (seed and one charge)", c)
	}
	if got := balance(t, l, f.accountID); got != 963 {
		t.Fatalf("balance %d, want 963", got)
	}
	mustVerify(t, l)
}

func TestConcurrentDifferentKeysSumExactly(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	ctx := context.Background()

	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var want int64
	for i := range n {
		amount := int64(i + 1)
		want += amount
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Post(ctx, ledger.Entry{Key: fmt.Sprintf("bonus:%d", i), AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: amount})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := balance(t, l, f.accountID); got != want {
		t.Fatalf("balance %d, want %d", got, want)
	}
	if c := countEntries(t, pool, f.accountID); c != n {
		t.Fatalf("%d entries, want %d", c, n)
	}
	mustVerify(t, l)
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:seed", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 1000}); err != nil {
		t.Fatal(err)
	}
	// 64 debits of 30 cents against 10 dollars: exactly 33 fit.
	const n = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Post(ctx, ledger.Entry{Key: fmt.Sprintf("admin:%d", i), AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: -30})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ledger.ErrInsufficientFunds):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 33 || refused != 31 {
		t.Fatalf("%d debits posted and %d refused, want 33 and 31", ok, refused)
	}
	if got := balance(t, l, f.accountID); got != 10 {
		t.Fatalf("balance %d, want 10", got)
	}
	mustVerify(t, l)
}

func TestDebitBelowZeroIsRefusedAndChangesNothing(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:seed", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 50}); err != nil {
		t.Fatal(err)
	}

	_, err := l.Post(ctx, ledger.Entry{Key: "admin:x", AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: -51})
	var insufficient *ledger.InsufficientFundsError
	if !errors.As(err, &insufficient) || !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("want *InsufficientFundsError, got %v", err)
	}
	if insufficient.BalanceCents != 50 || insufficient.AmountCents != -51 {
		t.Fatalf("error carries balance %d and amount %d", insufficient.BalanceCents, insufficient.AmountCents)
	}
	if got := balance(t, l, f.accountID); got != 50 {
		t.Fatalf("balance %d after refused debit, want 50", got)
	}
	if c := countEntries(t, pool, f.accountID); c != 1 {
		t.Fatalf("%d entries, want 1", c)
	}
	// The refused key is not burnt: the exact amount can be posted with it later.
	p, err := l.Post(ctx, ledger.Entry{Key: "admin:x", AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: -50})
	if err != nil || p.BalanceAfterCents != 0 {
		t.Fatalf("debit of the whole balance: %+v, %v", p, err)
	}
	mustVerify(t, l)
}

// A connected call is charged in full even when the money left meanwhile
// (a refund, a dispute, a staff debit): the balance goes below zero, a
// debt, and no bill is ever refused.
func TestCallChargeBelowZeroPostsInFull(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	call := newCall(t, pool, f)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:seed", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 50}); err != nil {
		t.Fatal(err)
	}
	e := ledger.Entry{Key: "call:x:charge", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -51, CallID: &call}
	p, err := l.Post(ctx, e)
	if err != nil || p.BalanceAfterCents != -1 || p.AmountCents != -51 {
		t.Fatalf("charge beyond the balance: %+v, %v", p, err)
	}
	// Posting it again changes nothing.
	again, err := l.Post(ctx, e)
	if err != nil || !again.Replayed || again.ID != p.ID {
		t.Fatalf("repeat: %+v, %v", again, err)
	}
	if got := balance(t, l, f.accountID); got != -1 {
		t.Fatalf("balance %d, want -1", got)
	}
	// Other debits are still refused on a debt.
	if _, err := l.Post(ctx, ledger.Entry{Key: "admin:y", AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: -1}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("debit on a negative balance: want ErrInsufficientFunds, got %v", err)
	}
	mustVerify(t, l)
}

func TestRefundMayGoNegativeAndThenDebitsAreRefused(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	topup := newTopUp(t, pool, f, 1000)
	call := newCall(t, pool, f)
	ctx := context.Background()

	post := func(e ledger.Entry) (ledger.Posted, error) { return l.Post(ctx, e) }
	if _, err := post(ledger.Entry{Key: "stripe:pi_1", AccountID: f.accountID, Kind: ledger.Purchase, AmountCents: 1000, TopUpID: &topup}); err != nil {
		t.Fatal(err)
	}
	if _, err := post(ledger.Entry{Key: "call:1:charge", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -700, CallID: &call}); err != nil {
		t.Fatal(err)
	}
	p, err := post(ledger.Entry{Key: "stripe:refund:re_1", AccountID: f.accountID, Kind: ledger.Refund, AmountCents: -1000, TopUpID: &topup})
	if err != nil {
		t.Fatalf("refund refused: %v", err)
	}
	if p.BalanceAfterCents != -700 {
		t.Fatalf("balance after refund %d, want -700", p.BalanceAfterCents)
	}
	if _, err := post(ledger.Entry{Key: "admin:debit", AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: -1}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("debit on a negative balance: want ErrInsufficientFunds, got %v", err)
	}
	// A credit always lands, even while the balance is below zero.
	p, err = post(ledger.Entry{Key: "admin:credit", AccountID: f.accountID, Kind: ledger.Adjustment, AmountCents: 200})
	if err != nil || p.BalanceAfterCents != -500 {
		t.Fatalf("credit on a negative balance: %+v, %v", p, err)
	}
	r, err := l.Verify(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("verify: %v %v", r.Problems, err)
	}
	// stripe: +1000 paid in, -1000 refunded; revenue took 700; adjustments gave 200.
	want := map[ledger.House]int64{ledger.HouseStripe: 0, ledger.HouseCallRevenue: 700, ledger.HousePromotions: 0, ledger.HouseAdjustments: -200}
	for h, v := range want {
		if r.HouseBalances[h] != v {
			t.Errorf("house %s balance %d, want %d", h, r.HouseBalances[h], v)
		}
	}
	if r.WalletsCents != -500 {
		t.Errorf("wallets %d, want -500", r.WalletsCents)
	}
}

func TestInvalidEntriesAreRefusedBeforeTheDatabase(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	ctx := context.Background()
	for name, e := range map[string]ledger.Entry{
		"empty key":           {AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 1},
		"zero amount":         {Key: "k", AccountID: f.accountID, Kind: ledger.Bonus},
		"negative bonus":      {Key: "k", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: -1},
		"positive charge":     {Key: "k", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: 1, CallID: &f.userID},
		"charge without call": {Key: "k", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -1},
		"purchase no topup":   {Key: "k", AccountID: f.accountID, Kind: ledger.Purchase, AmountCents: 1},
		"unknown kind":        {Key: "k", AccountID: f.accountID, Kind: "gift", AmountCents: 1},
	} {
		if _, err := l.Post(ctx, e); !errors.Is(err, ledger.ErrInvalidEntry) {
			t.Errorf("%s: want ErrInvalidEntry, got %v", name, err)
		}
	}
	if _, err := l.Post(ctx, ledger.Entry{Key: "k", AccountID: uuid.New(), Kind: ledger.Bonus, AmountCents: 1}); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("unknown wallet: want ErrAccountNotFound, got %v", err)
	}
	if c := countEntries(t, pool, f.accountID); c != 0 {
		t.Fatalf("%d entries, want none", c)
	}
}

func TestDatabaseEnforcesLedgerRules(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f, other := newWallet(t, pool), newWallet(t, pool)
	otherCall := newCall(t, pool, other)
	ctx := context.Background()
	p, err := l.Post(ctx, ledger.Entry{Key: "bonus:1", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 100})
	if err != nil {
		t.Fatal(err)
	}
	var house uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT id FROM accounts WHERE house_name = 'stripe'`).Scan(&house); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO transactions (account_id, counterparty, kind, amount_cents, balance_after_cents, idempotency_key, request_hash, call_id)
		VALUES ($1, $2, $3, $4, $5, $6, decode(repeat('ab', 32), 'hex'), $7)`
	// A positive control: the statement itself is sound.
	if _, err := pool.Exec(ctx, insert, f.accountID, "promotions", "bonus", 5, 105, "control", nil); err != nil {
		t.Fatalf("valid insert refused: %v", err)
	}
	cases := []struct {
		name       string
		args       []any
		constraint string
	}{
		{"bonus with a negative amount", []any{f.accountID, "promotions", "bonus", -5, 100, "x1", nil}, "transactions_sign_matches_kind"},
		{"bonus paid by stripe", []any{f.accountID, "stripe", "bonus", 5, 110, "x2", nil}, "transactions_counterparty_matches_kind"},
		{"entry on a house account", []any{house, "promotions", "bonus", 5, 5, "x3", nil}, "transactions_account_is_wallet"},
		{"unknown kind", []any{f.accountID, "promotions", "gift", 5, 110, "x4", nil}, "transactions_kind_check|transactions_counterparty_matches_kind"},
		{"duplicate key", []any{f.accountID, "promotions", "bonus", 100, 205, "bonus:1", nil}, "transactions_idempotency_key_key"},
		{"charge without a call", []any{f.accountID, "call_revenue", "call_charge", -5, 100, "x5", nil}, "transactions_references_match_kind"},
		{"charge of another wallet's call", []any{f.accountID, "call_revenue", "call_charge", -5, 100, "x6", otherCall}, "transactions_call_of_wallet"},
		{"overdraft", []any{f.accountID, "adjustments", "adjustment", -500, -395, "x7", nil}, "transactions_no_overdraft"},
	}
	for _, tc := range cases {
		_, err := pool.Exec(ctx, insert, tc.args...)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !slices.Contains(strings.Split(tc.constraint, "|"), pgErr.ConstraintName) {
			t.Errorf("%s: want a violation of %s, got %v", tc.name, tc.constraint, err)
		}
	}
	for name, stmt := range map[string]string{
		"update": `UPDATE transactions SET amount_cents = 1 WHERE id = $1`,
		"delete": `DELETE FROM transactions WHERE id = $1`,
	} {
		if _, err := pool.Exec(ctx, stmt, p.ID); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s of a ledger entry: want append-only error, got %v", name, err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE accounts SET cached_balance_cents = 5 WHERE id = $1`, house); err == nil {
		t.Error("database let a house account cache a balance")
	}
}

func TestOneChargePerCallWhateverTheKey(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	f := newWallet(t, pool)
	call := newCall(t, pool, f)
	ctx := context.Background()
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:seed", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Post(ctx, ledger.Entry{Key: "call:" + call.String() + ":charge", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -20, CallID: &call}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Post(ctx, ledger.Entry{Key: "call:" + call.String() + ":charge:retry", AccountID: f.accountID, Kind: ledger.CallCharge, AmountCents: -20, CallID: &call})
	if !errors.Is(err, ledger.ErrAlreadyPosted) {
		t.Fatalf("second charge of one call under another key: %v", err)
	}
	if got := balance(t, l, f.accountID); got != 480 {
		t.Fatalf("balance %d, want 480", got)
	}
}

func TestSameKeyConcurrentlyOnTwoWallets(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	a, b := newWallet(t, pool), newWallet(t, pool)
	ctx := context.Background()
	const n = 32
	var fresh, replayed, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		acct := a.accountID
		if i%2 == 1 {
			acct = b.accountID
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := l.Post(ctx, ledger.Entry{Key: "bonus:contested", AccountID: acct, Kind: ledger.Bonus, AmountCents: 7})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ledger.ErrIdempotencyConflict):
				conflicts++
			case err != nil:
				t.Error(err)
			case p.Replayed:
				replayed++
			default:
				fresh++
			}
		}()
	}
	wg.Wait()
	if fresh != 1 || replayed+conflicts != n-1 {
		t.Fatalf("fresh %d, replayed %d, conflicts %d", fresh, replayed, conflicts)
	}
	if total := balance(t, l, a.accountID) + balance(t, l, b.accountID); total != 7 {
		t.Fatalf("wallets hold %d cents together, want 7", total)
	}
	mustVerify(t, l)
}

func TestVerifyIsConsistentWhilePosting(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	wallets := []fixture{newWallet(t, pool), newWallet(t, pool), newWallet(t, pool)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w, f := range wallets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				_, err := l.Post(context.Background(), ledger.Entry{Key: fmt.Sprintf("bonus:%d:%d", w, i), AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 3})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 100 {
		r, err := l.Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() {
			cancel()
			wg.Wait()
			t.Fatalf("verify reported healthy books as unbalanced while posting: %v", r.Problems)
		}
	}
	cancel()
	wg.Wait()
	mustVerify(t, l)
}

func TestPostInsideARolledBackTransactionLeavesNothing(t *testing.T) {
	pool := testdb.New(t)
	f := newWallet(t, pool)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(tx).Post(ctx, ledger.Entry{Key: "bonus:tx", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 100}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(pool)
	if got := balance(t, l, f.accountID); got != 0 {
		t.Fatalf("balance %d after rollback, want 0", got)
	}
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:tx", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 100}); err != nil {
		t.Fatalf("key of a rolled-back post is not free: %v", err)
	}
}

func TestVerifyFindsTamperedBalanceAndBrokenChain(t *testing.T) {
	pool := testdb.New(t)
	l := ledger.New(pool)
	good, bad := newWallet(t, pool), newWallet(t, pool)
	ctx := context.Background()
	for i, f := range []fixture{good, bad} {
		for j := range 3 {
			if _, err := l.Post(ctx, ledger.Entry{Key: fmt.Sprintf("bonus:%d:%d", i, j), AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 100}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustVerify(t, l)

	if _, err := pool.Exec(ctx, `UPDATE accounts SET cached_balance_cents = cached_balance_cents + 1 WHERE id = $1`, bad.accountID); err != nil {
		t.Fatal(err)
	}
	r, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() {
		t.Fatal("verify passed a tampered balance")
	}
	text := fmt.Sprint(r.Problems)
	if !strings.Contains(text, bad.accountID.String()) || strings.Contains(text, good.accountID.String()) {
		t.Fatalf("problems should name %s only: %s", bad.accountID, text)
	}
	if !strings.Contains(text, "sum to 1") {
		t.Fatalf("the whole-ledger sum should be off by one cent: %s", text)
	}

	// Break a chain: rewrite a middle entry's balance_after behind the
	// append-only trigger's back, as only a superuser could.
	if _, err := pool.Exec(ctx, `UPDATE accounts SET cached_balance_cents = cached_balance_cents - 1 WHERE id = $1`, bad.accountID); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		ALTER TABLE transactions DISABLE TRIGGER transactions_no_update_delete;
		UPDATE transactions SET balance_after_cents = 150 WHERE idempotency_key = 'bonus:1:1';
		ALTER TABLE transactions ENABLE TRIGGER transactions_no_update_delete;`)
	if err != nil {
		t.Fatal(err)
	}
	r, err = l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !strings.Contains(fmt.Sprint(r.Problems), "balance_after 150") {
		t.Fatalf("verify missed a broken chain: %v", r.Problems)
	}
}
