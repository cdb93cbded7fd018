package load

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// world is a small finished run: the rows and entries the app would have
// left, and the records the tool would have kept.
type world struct {
	t    *testing.T
	pool *pgxpool.Pool
	l    *ledger.Ledger

	users map[string]walletOf // by email

	calls  []CallRecord
	topups []TopUpRecord

	answered, busy uuid.UUID // alice's calls
	paid, declined uuid.UUID // alice's and bob's top-ups
	aliceEmail     string
	bobEmail       string
	answeredNumber string
}

type walletOf struct{ user, account uuid.UUID }

// newWorld builds the clean world: alice paid 500 cents and made one
// answered call charged 28 cents and one busy call; bob's top-up was
// declined and never paid; carol did nothing.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := testdb.New(t)
	w := &world{t: t, pool: pool, l: ledger.New(pool), users: map[string]walletOf{},
		aliceEmail: "alice@example.com", bobEmail: "bob@example.com", answeredNumber: "+2348031234567"}
	for _, email := range []string{w.aliceEmail, w.bobEmail, "carol@example.com"} {
		w.users[email] = w.newWallet(email)
	}

	w.paid = w.newTopUp(w.aliceEmail, 500, "succeeded")
	w.post(ledger.Entry{Key: "stripe:pi_alice", AccountID: w.users[w.aliceEmail].account, Kind: ledger.Purchase, AmountCents: 500, TopUpID: &w.paid})
	w.topups = append(w.topups, TopUpRecord{TopUpID: w.paid.String(), PaymentIntentID: "pi_alice", UserEmail: w.aliceEmail,
		AmountCents: 500, Outcome: TopUpPaid, Paid: true})

	w.declined = w.newTopUp(w.bobEmail, 500, "failed")
	w.topups = append(w.topups, TopUpRecord{TopUpID: w.declined.String(), PaymentIntentID: "pi_bob", UserEmail: w.bobEmail,
		AmountCents: 500, Outcome: TopUpDeclined})

	w.answered = w.answeredCall(w.aliceEmail, w.answeredNumber, 61, 28)
	w.calls = append(w.calls, CallRecord{CallID: w.answered.String(), UserEmail: w.aliceEmail, Number: w.answeredNumber,
		Outcome: OutcomeAnswered, TalkSeconds: 61, MaxSeconds: 600, ExpectedCents: 28})

	w.busy = w.newCall(w.aliceEmail, "+2348031230001", "busy", "not_billable", nil)
	w.calls = append(w.calls, CallRecord{CallID: w.busy.String(), UserEmail: w.aliceEmail, Number: "+2348031230001",
		Outcome: OutcomeBusy, MaxSeconds: 600})

	// A call POST /calls refused before creating anything, and a top-up
	// that never started: records without ids, nothing to find.
	w.calls = append(w.calls, CallRecord{UserEmail: "carol@example.com", Number: "+2348031234567", Outcome: OutcomeRefused})
	w.topups = append(w.topups, TopUpRecord{UserEmail: "carol@example.com", AmountCents: 500, Outcome: TopUpStartFailed})
	return w
}

func (w *world) newWallet(email string) walletOf {
	w.t.Helper()
	ctx := context.Background()
	var f walletOf
	err := db.InTx(ctx, w.pool, func(q *db.Queries) error {
		u, err := q.CreateUser(ctx, db.CreateUserParams{Email: email, DisplayName: "Load " + email[:3], PasswordHash: "not-a-hash", HomeCountry: "NG"})
		if err != nil {
			return err
		}
		a, err := q.CreateWallet(ctx, &u.ID)
		f = walletOf{user: u.ID, account: a.ID}
		return err
	})
	if err != nil {
		w.t.Fatalf("create wallet of %s: %v", email, err)
	}
	return f
}

func (w *world) newTopUp(email string, cents int64, status string) uuid.UUID {
	w.t.Helper()
	f := w.users[email]
	var id uuid.UUID
	err := w.pool.QueryRow(context.Background(), `
		INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id)
		VALUES ($1, $2, 'usd5', $3, $4, 'pi_' || gen_random_uuid()) RETURNING id`,
		f.user, f.account, cents, status).Scan(&id)
	if err != nil {
		w.t.Fatalf("create topup: %v", err)
	}
	return id
}

// newCall inserts an ended call row with its billing state and cost.
func (w *world) newCall(email, number, status, billing string, cost *int64) uuid.UUID {
	w.t.Helper()
	f := w.users[email]
	var id uuid.UUID
	err := w.pool.QueryRow(context.Background(), `
		INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
		                   rate_prefix, per_minute_micros, max_seconds, authorized_until, duration_seconds,
		                   cost_cents, billing_state, ended_at)
		VALUES ($1, $2, $3, 'NG', 'u-load', $4, '234803', 140000, 600, now(), 61, $5, $6, now())
		RETURNING id`, f.user, f.account, number, status, cost, billing).Scan(&id)
	if err != nil {
		w.t.Fatalf("create call: %v", err)
	}
	return id
}

// answeredCall is a completed call charged charged cents, as ChargeCall
// leaves it.
func (w *world) answeredCall(email, number string, seconds, charged int64) uuid.UUID {
	w.t.Helper()
	id := w.newCall(email, number, "completed", "charged", &charged)
	w.post(ledger.Entry{Key: "call:" + id.String() + ":charge", AccountID: w.users[email].account, Kind: ledger.CallCharge,
		AmountCents: -charged, CallID: &id, Memo: fmt.Sprintf("call, %d s", seconds)})
	return id
}

func (w *world) post(e ledger.Entry) {
	w.t.Helper()
	if _, err := w.l.Post(context.Background(), e); err != nil {
		w.t.Fatalf("post %s: %v", e.Key, err)
	}
}

func (w *world) check(opts CheckOptions) []Problem {
	w.t.Helper()
	problems, err := Check(context.Background(), w.pool, w.calls, w.topups, opts)
	if err != nil {
		w.t.Fatalf("Check: %v", err)
	}
	return problems
}

// expect fails unless problems are exactly want (kind and id, in order),
// each message naming its id.
func expect(t *testing.T, problems []Problem, want ...Problem) {
	t.Helper()
	ok := len(problems) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = problems[i].Kind == want[i].Kind && problems[i].ID == want[i].ID && strings.Contains(problems[i].Message, want[i].ID)
	}
	if !ok {
		t.Fatalf("Check found\n%s\nwant\n%s", list(problems), list(want))
	}
	if len(problems) > 0 {
		t.Logf("Check found, as it should:\n%s", list(problems))
	}
}

func list(ps []Problem) string {
	if len(ps) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s %s: %s\n", p.Kind, p.ID, p.Message)
	}
	return b.String()
}

func TestCheckCleanWorldHasNoProblem(t *testing.T) {
	w := newWorld(t)
	expect(t, w.check(CheckOptions{}))
	// A settled top-up's workflow lingers on purpose; other workflows and
	// calls outside the run are not the check's business.
	running := func(context.Context) ([]string, error) {
		return []string{"topup-" + w.paid.String(), "call-" + uuid.NewString(), "topup-" + uuid.NewString(), "ledger-audit", "call-nonsense"}, nil
	}
	expect(t, w.check(CheckOptions{Running: running}))
}

func TestCheckFindsPlantedFaults(t *testing.T) {
	t.Run("double charge", func(t *testing.T) {
		w := newWorld(t)
		// The database allows one call_charge per call, so the second
		// debit is another kind that may name a call: an adjustment.
		w.post(ledger.Entry{Key: "plant:double", AccountID: w.users[w.aliceEmail].account, Kind: ledger.Adjustment,
			AmountCents: -28, CallID: &w.answered, Memo: "planted second charge"})
		ps := w.check(CheckOptions{})
		expect(t, ps, Problem{Kind: "double_charge", ID: w.answered.String()})
		for _, s := range []string{"2 ledger entries", "call_charge of -28 cents", "adjustment of -28 cents", w.aliceEmail, w.answeredNumber} {
			if !strings.Contains(ps[0].Message, s) {
				t.Errorf("the message lacks %q: %s", s, ps[0].Message)
			}
		}
	})

	t.Run("missing credit", func(t *testing.T) {
		w := newWorld(t)
		// Paid, and the row even says succeeded, but no purchase was posted.
		lost := w.newTopUp(w.bobEmail, 1000, "succeeded")
		w.topups = append(w.topups, TopUpRecord{TopUpID: lost.String(), PaymentIntentID: "pi_lost", UserEmail: w.bobEmail,
			AmountCents: 1000, Outcome: TopUpPaidLost, Paid: true})
		ps := w.check(CheckOptions{})
		expect(t, ps, Problem{Kind: "missing_credit", ID: lost.String()})
		if !strings.Contains(ps[0].Message, w.bobEmail) || !strings.Contains(ps[0].Message, "+1000 cents") {
			t.Errorf("the message does not say whose credit or how much: %s", ps[0].Message)
		}
	})

	t.Run("double credit", func(t *testing.T) {
		w := newWorld(t)
		// One purchase per top-up is all the database allows: the second
		// credit is an adjustment naming the top-up.
		w.post(ledger.Entry{Key: "plant:credit", AccountID: w.users[w.aliceEmail].account, Kind: ledger.Adjustment,
			AmountCents: 500, TopUpID: &w.paid})
		expect(t, w.check(CheckOptions{}), Problem{Kind: "double_credit", ID: w.paid.String()})
	})

	t.Run("wrong amount", func(t *testing.T) {
		w := newWorld(t)
		wrong := w.answeredCall(w.aliceEmail, "+2348031239999", 61, 30)
		w.calls = append(w.calls, CallRecord{CallID: wrong.String(), UserEmail: w.aliceEmail, Number: "+2348031239999",
			Outcome: OutcomeAnswered, TalkSeconds: 61, MaxSeconds: 600, ExpectedCents: 28})
		ps := w.check(CheckOptions{})
		expect(t, ps, Problem{Kind: "wrong_amount", ID: wrong.String()})
		if !strings.Contains(ps[0].Message, "-28 cents") || !strings.Contains(ps[0].Message, "-30 cents") {
			t.Errorf("the message does not say expected and got: %s", ps[0].Message)
		}
	})

	t.Run("missing charge", func(t *testing.T) {
		w := newWorld(t)
		unbilled := w.newCall(w.aliceEmail, "+2348031238888", "completed", "pending", nil)
		w.calls = append(w.calls, CallRecord{CallID: unbilled.String(), UserEmail: w.aliceEmail, Number: "+2348031238888",
			Outcome: OutcomeAnswered, TalkSeconds: 61, MaxSeconds: 600, ExpectedCents: 28})
		expect(t, w.check(CheckOptions{}), Problem{Kind: "missing_charge", ID: unbilled.String()})
	})

	t.Run("unexpected charge on a busy call", func(t *testing.T) {
		w := newWorld(t)
		w.post(ledger.Entry{Key: "call:" + w.busy.String() + ":charge", AccountID: w.users[w.aliceEmail].account,
			Kind: ledger.CallCharge, AmountCents: -14, CallID: &w.busy})
		// The row still says not_billable: that contradiction is reported too.
		expect(t, w.check(CheckOptions{}),
			Problem{Kind: "billing_state", ID: w.busy.String()},
			Problem{Kind: "unexpected_charge", ID: w.busy.String()})
	})

	t.Run("unexpected credit on a declined top-up", func(t *testing.T) {
		w := newWorld(t)
		w.post(ledger.Entry{Key: "stripe:pi_bob", AccountID: w.users[w.bobEmail].account, Kind: ledger.Purchase,
			AmountCents: 500, TopUpID: &w.declined})
		expect(t, w.check(CheckOptions{}), Problem{Kind: "unexpected_credit", ID: w.declined.String()})
	})

	t.Run("stuck call", func(t *testing.T) {
		w := newWorld(t)
		stuck := w.newCall(w.bobEmail, "+2348031237777", "completed", "stuck", nil)
		if _, err := w.pool.Exec(context.Background(), `UPDATE calls SET billing_error = 'ledger: insufficient funds' WHERE id = $1`, stuck); err != nil {
			t.Fatal(err)
		}
		w.calls = append(w.calls, CallRecord{CallID: stuck.String(), UserEmail: w.bobEmail, Number: "+2348031237777",
			Outcome: OutcomeAnswered, TalkSeconds: 120, MaxSeconds: 600, ExpectedCents: 40})
		running := func(context.Context) ([]string, error) { return []string{"call-" + stuck.String()}, nil }

		ps := w.check(CheckOptions{Running: running})
		expect(t, ps,
			Problem{Kind: "missing_charge", ID: stuck.String()},
			Problem{Kind: "stuck", ID: stuck.String()},
			Problem{Kind: "workflow_running", ID: stuck.String()})
		if !strings.Contains(ps[1].Message, "insufficient funds") || !strings.Contains(ps[1].Message, "/admin/calls/"+stuck.String()) {
			t.Errorf("the stuck message gives no reason or no way out: %s", ps[1].Message)
		}

		// Left stuck on purpose: the missing charge and the waiting
		// workflow are expected too.
		expect(t, w.check(CheckOptions{Running: running, AllowStuck: true}))

		// AllowStuck excuses the stuck state, not a charge it should not have.
		if _, err := w.pool.Exec(context.Background(), `UPDATE calls SET billing_state = 'stuck' WHERE id = $1`, w.busy); err != nil {
			t.Fatal(err)
		}
		w.post(ledger.Entry{Key: "plant:busy-charge", AccountID: w.users[w.aliceEmail].account, Kind: ledger.Adjustment,
			AmountCents: -10, CallID: &w.busy})
		expect(t, w.check(CheckOptions{AllowStuck: true}), Problem{Kind: "unexpected_charge", ID: w.busy.String()})
	})

	t.Run("running workflows", func(t *testing.T) {
		w := newWorld(t)
		running := func(context.Context) ([]string, error) {
			return []string{
				"call-" + w.answered.String(),
				"call-" + w.answered.String(), // listed twice, reported once
				"topup-" + w.paid.String(),    // settled: lingers on purpose
				"topup-" + w.declined.String(),
				"ledger-audit-2024-01-01",
			}, nil
		}
		ps := w.check(CheckOptions{Running: running})
		want := []Problem{{Kind: "workflow_running", ID: w.answered.String()}, {Kind: "workflow_running", ID: w.declined.String()}}
		if want[0].ID > want[1].ID {
			want[0], want[1] = want[1], want[0]
		}
		expect(t, ps, want...)
		for _, p := range ps {
			if p.ID == w.answered.String() && !strings.Contains(p.Message, "call-"+w.answered.String()) {
				t.Errorf("the message does not name the workflow: %s", p.Message)
			}
		}
	})

	t.Run("running list fails", func(t *testing.T) {
		w := newWorld(t)
		boom := errors.New("visibility is down")
		_, err := Check(context.Background(), w.pool, w.calls, w.topups, CheckOptions{
			Running: func(context.Context) ([]string, error) { return nil, boom },
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Check = %v, want the visibility error", err)
		}
	})

	t.Run("missing rows and bad records", func(t *testing.T) {
		w := newWorld(t)
		ghostCall, ghostTopUp := uuid.NewString(), uuid.NewString()
		w.calls = append(w.calls,
			CallRecord{CallID: ghostCall, UserEmail: w.bobEmail, Outcome: OutcomeBusy},
			w.calls[0]) // the answered call, recorded twice
		w.topups = append(w.topups,
			TopUpRecord{TopUpID: ghostTopUp, UserEmail: w.bobEmail, AmountCents: 500, Outcome: TopUpDeclined},
			TopUpRecord{TopUpID: w.declined.String(), UserEmail: w.bobEmail, AmountCents: 500, Outcome: TopUpDeclined}) // a second tap: same top-up
		want := []Problem{
			{Kind: "duplicate_record", ID: w.answered.String()},
			{Kind: "missing_call", ID: ghostCall},
			{Kind: "missing_topup", ID: ghostTopUp},
		}
		expect(t, w.check(CheckOptions{}), want...)
	})

	t.Run("ledger out of balance", func(t *testing.T) {
		w := newWorld(t)
		// A rogue entry written around Post: the wallet's cached balance
		// and its balance_after chain no longer agree with its entries.
		if _, err := w.pool.Exec(context.Background(), `
			INSERT INTO transactions (account_id, counterparty, kind, amount_cents, balance_after_cents, idempotency_key, request_hash)
			VALUES ($1, 'adjustments', 'adjustment', 7, 7, 'plant:rogue', decode(repeat('00', 32), 'hex'))`,
			w.users[w.bobEmail].account); err != nil {
			t.Fatal(err)
		}
		ps := w.check(CheckOptions{})
		if len(ps) == 0 {
			t.Fatal("Check found nothing")
		}
		for _, p := range ps {
			if p.Kind != "ledger" {
				t.Errorf("unexpected problem %s %s: %s", p.Kind, p.ID, p.Message)
			}
		}
		if !strings.Contains(list(ps), w.bobEmail) {
			t.Errorf("no problem names bob's wallet:\n%s", list(ps))
		}
		t.Logf("Check found, as it should:\n%s", list(ps))
	})
}

// TestCheckTenThousandCalls: a big run is checked in well under a second.
func TestCheckTenThousandCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 calls")
	}
	w := newWorld(t)
	ctx := context.Background()
	const n, wallets = 10_000, 20
	accounts := make([]walletOf, wallets)
	for i := range accounts {
		email := fmt.Sprintf("big%02d@example.com", i)
		accounts[i] = w.newWallet(email)
		w.users[email] = accounts[i]
		top := w.newTopUp(email, 100_000, "succeeded")
		w.post(ledger.Entry{Key: "stripe:big" + top.String(), AccountID: accounts[i].account, Kind: ledger.Purchase, AmountCents: 100_000, TopUpID: &top})
		w.topups = append(w.topups, TopUpRecord{TopUpID: top.String(), UserEmail: email, AmountCents: 100_000, Outcome: TopUpPaid, Paid: true})
	}
	// The rows in one statement: every other call answered (and charged
	// 28 cents through Post below, a few wallets at a time), the others busy.
	rows, err := w.pool.Query(ctx, `
		INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
		                   rate_prefix, per_minute_micros, max_seconds, authorized_until, duration_seconds,
		                   cost_cents, billing_state, ended_at)
		SELECT (a.u)[1 + i % $3], (a.a)[1 + i % $3], '+23480' || lpad(i::text, 7, '0'), 'NG', 'u-load',
		       CASE WHEN i % 2 = 0 THEN 'completed' ELSE 'busy' END,
		       '234803', 140000, 600, now(), CASE WHEN i % 2 = 0 THEN 61 ELSE 0 END,
		       CASE WHEN i % 2 = 0 THEN 28 END, CASE WHEN i % 2 = 0 THEN 'charged' ELSE 'not_billable' END, now()
		FROM generate_series(0, $4 - 1) i, (SELECT $1::uuid[] AS u, $2::uuid[] AS a) a
		RETURNING id, account_id, phone_number, status = 'completed'`,
		users(accounts), accountIDs(accounts), wallets, n)
	if err != nil {
		t.Fatal(err)
	}
	type made struct {
		id, account uuid.UUID
		number      string
		answered    bool
	}
	var all, answered []made
	for rows.Next() {
		var m made
		if err := rows.Scan(&m.id, &m.account, &m.number, &m.answered); err != nil {
			t.Fatal(err)
		}
		all = append(all, m)
		if m.answered {
			answered = append(answered, m)
		}
	}
	if rows.Err() != nil || len(all) != n {
		t.Fatalf("inserted %d calls: %v", len(all), rows.Err())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < len(answered); i += 8 {
				m := answered[i]
				if _, err := w.l.Post(ctx, ledger.Entry{Key: "call:" + m.id.String() + ":charge", AccountID: m.account,
					Kind: ledger.CallCharge, AmountCents: -28, CallID: &m.id}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		r := CallRecord{CallID: m.id.String(), Number: m.number, Outcome: OutcomeBusy, MaxSeconds: 600}
		if m.answered {
			r.Outcome, r.TalkSeconds, r.ExpectedCents = OutcomeAnswered, 61, 28
		}
		w.calls = append(w.calls, r)
	}

	start := time.Now()
	ps := w.check(CheckOptions{})
	took := time.Since(start)
	expect(t, ps)
	// A figure, not a target: speed belongs in benchmarks.
	t.Logf("checked %d calls in %v", len(w.calls), took)
}

func users(ws []walletOf) []uuid.UUID {
	out := make([]uuid.UUID, len(ws))
	for i, w := range ws {
		out[i] = w.user
	}
	return out
}

func accountIDs(ws []walletOf) []uuid.UUID {
	out := make([]uuid.UUID, len(ws))
	for i, w := range ws {
		out[i] = w.account
	}
	return out
}

// The sweep reads every entry, not only the recorded calls' and top-ups':
// a charge for a call the tool never recorded (refused without an id, say)
// and an adjustment the tool did not post are found.
func TestCheckSweepsEntriesTheRunNeverRecorded(t *testing.T) {
	w := newWorld(t)
	ghost := w.answeredCall(w.aliceEmail, "+2348031239999", 30, 14)
	w.post(ledger.Entry{Key: "test:stray", AccountID: w.users[w.aliceEmail].account, Kind: ledger.Adjustment, AmountCents: -5, Memo: "stray"})
	ps := w.check(CheckOptions{})
	var charge, adjustments bool
	for _, p := range ps {
		charge = charge || (p.Kind == ProblemUnexpectedCharge && p.ID == ghost.String())
		adjustments = adjustments || (p.Kind == ProblemLedger && p.ID == "adjustments")
	}
	if !charge || !adjustments {
		t.Fatalf("the sweep missed the unrecorded charge (%v) or the stray adjustment (%v): %+v", charge, adjustments, ps)
	}
	// With the adjustment declared, only the unrecorded call remains.
	for _, p := range w.check(CheckOptions{Adjustments: 1}) {
		if p.ID == "adjustments" {
			t.Fatalf("a declared adjustment reported: %+v", p)
		}
	}
}

// CheckHangUps fails a hung-up call never charged or whose slot is still
// held after the drain, however fast; and passes one billed and freed,
// however slow: the time is a reported figure (TestHangUpFiguresWarn).
func TestCheckHangUps(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var chargedAt time.Time
	if err := w.pool.QueryRow(ctx, `SELECT created_at FROM transactions WHERE call_id = $1`, w.answered).Scan(&chargedAt); err != nil {
		t.Fatal(err)
	}
	answered, busy := w.calls[0], w.calls[1]
	hung := func(c CallRecord, at time.Time, free time.Duration) CallRecord {
		c.BrowserHangUp, c.HungUpAt = true, at
		if free > 0 {
			c.SlotFreedAt = at.Add(free)
		}
		return c
	}
	// Billed a second after the hang-up, or 40 s after it with the slot
	// never seen free while the tool watched: both billed and freed now.
	for _, late := range []time.Duration{time.Second, 40 * time.Second} {
		if got := CheckHangUps(ctx, w.pool, []CallRecord{hung(answered, chargedAt.Add(-late), late), hung(busy, chargedAt, 0)}); len(got) != 0 {
			t.Fatalf("billed %s after the hang-up: problems %v", late, got)
		}
	}
	// A call still in progress after the drain holds the slot.
	held := w.newCall(w.bobEmail, "+2348031236666", "in_progress", "pending", nil)
	heldRec := CallRecord{CallID: held.String(), UserEmail: w.bobEmail, Number: "+2348031236666", Outcome: OutcomeAnswered, ExpectedCents: 28}
	got := CheckHangUps(ctx, w.pool, []CallRecord{hung(heldRec, chargedAt, 0)})
	if len(got) != 2 || got[0].Kind != ProblemHangUp || !strings.Contains(got[0].Message, "still held") || !strings.Contains(got[1].Message, "never charged") {
		t.Fatalf("problems %v, want the held slot and the missing charge", got)
	}
	// A stuck charge holds the slot too; a released slot does not.
	if _, err := w.pool.Exec(ctx, `UPDATE calls SET status = 'completed', billing_state = 'stuck' WHERE id = $1`, held); err != nil {
		t.Fatal(err)
	}
	heldRec.ExpectedCents = 0
	if got := CheckHangUps(ctx, w.pool, []CallRecord{hung(heldRec, chargedAt, 0)}); len(got) != 1 || !strings.Contains(got[0].Message, "still held") {
		t.Fatalf("problems %v, want the stuck call's held slot", got)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE calls SET slot_released_at = now() WHERE id = $1`, held); err != nil {
		t.Fatal(err)
	}
	if got := CheckHangUps(ctx, w.pool, []CallRecord{hung(heldRec, chargedAt, 0)}); len(got) != 0 {
		t.Fatalf("released slot: problems %v", got)
	}
}

// The hang-up times are set against the 10 s target (30 s near a worker
// kill) as a warning that names the slowest calls, never as a problem.
func TestHangUpFiguresWarn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var chargedAt time.Time
	if err := w.pool.QueryRow(ctx, `SELECT created_at FROM transactions WHERE call_id = $1`, w.answered).Scan(&chargedAt); err != nil {
		t.Fatal(err)
	}
	d := &driver{st: &stack{pool: w.pool}}
	answered, busy := w.calls[0], w.calls[1]
	answered.BrowserHangUp, answered.HungUpAt, answered.SlotFreedAt = true, chargedAt.Add(-time.Second), chargedAt
	busy.BrowserHangUp, busy.HungUpAt, busy.SlotFreedAt = true, chargedAt, chargedAt.Add(2*time.Second)

	r := &Report{}
	if err := d.hangUpFigures(ctx, r, []CallRecord{answered, busy}); err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 0 || r.HangUpChargesOverTarget+r.HangUpSlotsOverTarget != 0 || r.HangUpToCharge.N != 1 || r.HangUpToSlotFree.N != 2 {
		t.Fatalf("within the target: %+v", r)
	}

	// Charged 18 s after the hang-up, a busy call's slot never seen free.
	answered.HungUpAt, answered.SlotFreedAt = chargedAt.Add(-18*time.Second), chargedAt
	busy.SlotFreedAt = time.Time{}
	r = &Report{}
	if err := d.hangUpFigures(ctx, r, []CallRecord{answered, busy}); err != nil {
		t.Fatal(err)
	}
	if r.HangUpChargesOverTarget != 1 || r.HangUpSlotsOverTarget != 2 || r.HangUpSlotsNotSeenFree != 1 || len(r.Warnings) != 1 {
		t.Fatalf("over the target: %+v", r)
	}
	for _, s := range []string{"2 of 2 browser hang-ups over the 10 s target", w.answered.String() + " (18.0 s)", w.busy.String() + " (slot not seen free in 60 s)", "not a failure"} {
		if !strings.Contains(r.Warnings[0], s) {
			t.Errorf("the warning lacks %q: %s", s, r.Warnings[0])
		}
	}
	var out strings.Builder
	r.Problems = []Problem{}
	r.BillingFaults = []BillingFault{{CallID: w.answered.String(), UserEmail: w.aliceEmail, DrainedCents: 472, BillingState: "charged",
		ChargeCents: -28, BalanceAfterCents: -28, NextCall: "negative_balance", CreditedBack: true}}
	r.print(&out)
	t.Logf("the summary:\n%s", out.String())
	for _, line := range []string{`(?m)^check +PASSED`, `(?m)^warning +2 of 2 browser hang-ups`, `(?m)^hang-up target +10 s +charge committed: 0 of 1 within it.*slot free: 0 of 2 within it`,
		`(?m)^billing fault +call ` + w.answered.String() + ` \(alice@example.com\): 472 cents drained.*call_charge -28 cents, the wallet at -28 cents after it; the next call: negative_balance`} {
		if !regexp.MustCompile(line).MatchString(out.String()) {
			t.Errorf("the summary lacks %s:\n%s", line, out.String())
		}
	}

	// A worker killed just before the hang-up: 30 s allowed for the charge.
	d.faults = []time.Time{answered.HungUpAt.Add(-time.Second)}
	busy.SlotFreedAt = busy.HungUpAt.Add(time.Second)
	r = &Report{}
	if err := d.hangUpFigures(ctx, r, []CallRecord{answered, busy}); err != nil {
		t.Fatal(err)
	}
	if r.HangUpsNearFaults != 1 || len(r.Warnings) != 0 {
		t.Fatalf("near a worker kill: %+v", r)
	}
}

// A billing fault's call must be charged in full, the wallet below zero
// right after the charge; a refused (stuck) or capped charge fails, and a
// credit posted after the charge (a top-up, support's money back) does not
// turn a debt into a failure.
func TestDebtIsJudgedOnTheCharge(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dave := "dave@example.com"
	w.users[dave] = w.newWallet(dave)
	acct := w.users[dave].account
	top := w.newTopUp(dave, 500, "succeeded")
	w.post(ledger.Entry{Key: "stripe:pi_dave", AccountID: acct, Kind: ledger.Purchase, AmountCents: 500, TopUpID: &top})
	drain := func(key string, cents int64) {
		w.post(ledger.Entry{Key: key, AccountID: acct, Kind: ledger.Adjustment, AmountCents: -cents, Memo: "drained"})
	}
	judge := func(id uuid.UUID, want int64) (debt, string) {
		t.Helper()
		b, err := readDebt(ctx, w.pool, id.String())
		if err != nil {
			t.Fatal(err)
		}
		return b, b.problem(want)
	}

	// Refused: the charge never posted, the call stuck.
	refused := w.newCall(dave, "+2348031235555", "completed", "stuck", nil)
	if _, p := judge(refused, 28); !strings.Contains(p, "is stuck with no charge") {
		t.Errorf("a refused charge passed: %q", p)
	}

	// Capped at what was left: the wallet drained to 10 cents, a 28-cent
	// call charged 10, the wallet at zero.
	drain("drain:1", 490)
	capped := w.answeredCall(dave, "+2348031235556", 61, 10)
	if _, p := judge(capped, 28); !strings.Contains(p, "capped") {
		t.Errorf("a capped charge passed: %q", p)
	}
	// The same with the price unknown: a wallet at zero is no debt.
	if _, p := judge(capped, 0); !strings.Contains(p, "not a debt") {
		t.Errorf("a charge leaving zero passed: %q", p)
	}

	// Charged in full on the drained wallet: a debt of 28 cents.
	full := w.answeredCall(dave, "+2348031235557", 61, 28)
	b, p := judge(full, 28)
	if p != "" || b.BalanceAfterCents != -28 || b.BalanceCents != -28 || b.ChargeCents != -28 {
		t.Fatalf("a full charge into debt: %+v %q", b, p)
	}
	// A top-up credited after the charge: the live balance is positive,
	// the charge still made a debt.
	late := w.newTopUp(dave, 500, "succeeded")
	w.post(ledger.Entry{Key: "stripe:pi_dave_late", AccountID: acct, Kind: ledger.Purchase, AmountCents: 500, TopUpID: &late})
	if b, p := judge(full, 28); p != "" || b.BalanceCents != 472 || b.BalanceAfterCents != -28 {
		t.Fatalf("a credit after the charge: %+v %q", b, p)
	}
}
