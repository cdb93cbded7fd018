package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// person is one account with data in every table that can name them.
type person struct {
	id, account       uuid.UUID
	email, name       string
	numbers           []string // called, a contact's, the caller ID
	callID, topUpID   uuid.UUID
	customer, session string
}

// deleteGateway records the Customers deleted.
type deleteGateway struct {
	gateway
	mu      sync.Mutex
	deleted []string
}

func (g *deleteGateway) DeleteCustomer(_ context.Context, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deleted = append(g.deleted, id)
	return nil
}

// callerIDCarrier records the OutgoingCallerIds deleted.
type callerIDCarrier struct {
	carrier.Calls
	deleted []string
}

func (c *callerIDCarrier) RequestValidation(context.Context, carrier.ValidationRequest) (carrier.Validation, error) {
	return carrier.Validation{}, errors.New("not in this test")
}

func (c *callerIDCarrier) DeleteCallerID(_ context.Context, sid string) error {
	c.deleted = append(c.deleted, sid)
	return nil
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// newPerson makes an account with a paid top-up, a charged call, call
// events, a contact, a verified caller ID, a Stripe customer, a session,
// webhook deliveries naming their numbers and email, a support action
// about them, sign-in failures, a reset, an email confirmation and an
// automatic top-up.
func newPerson(t *testing.T, pool *pgxpool.Pool, tag string) person {
	t.Helper()
	ctx := context.Background()
	p := person{email: "zebulon." + tag + "@example.org", name: "Zebulon Quartermaine " + tag,
		numbers:  []string{"+4477009" + tag, "+2348031" + tag, "+1415555" + tag},
		customer: "cus_" + tag + "Zq", session: "sess-" + tag}
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, display_name, password_hash, home_country) VALUES ($1, $2, 'x', 'GB') RETURNING id`,
		p.email, p.name).Scan(&p.id); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) RETURNING id`, p.id).Scan(&p.account); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status, payment_intent_id, receipt_email)
		VALUES ($1, $2, 'usd-10', 1000, 'succeeded', $3, $4) RETURNING id`, p.id, p.account, "pi_"+tag, p.email).Scan(&p.topUpID); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(pool)
	if _, err := l.Post(ctx, ledger.Entry{Key: "stripe:pi_" + tag, AccountID: p.account, Kind: ledger.Purchase, AmountCents: 1000, TopUpID: &p.topUpID}); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status,
		per_minute_micros, max_seconds, authorized_until, billing_state, duration_seconds, cost_cents, parent_call_sid)
		VALUES ($1, $2, $3, 'GB', $5, 'completed', 100000, 600, now(), 'charged', 60, 10, $4) RETURNING id`,
		p.id, p.account, p.numbers[0], "CA"+tag, "client-"+p.id.String()).Scan(&p.callID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Post(ctx, ledger.Entry{Key: "call:" + p.callID.String() + ":charge", AccountID: p.account, Kind: ledger.CallCharge, AmountCents: -10, CallID: &p.callID}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `INSERT INTO call_events (call_id, user_id, status, detail) VALUES ($1, $2, 'dialing', jsonb_build_object('to', $3::text))`, p.callID, p.id, p.numbers[0])
	mustExec(t, pool, `INSERT INTO contacts (user_id, name, phone_number) VALUES ($1, 'Grandma Ofelia', $2)`, p.id, p.numbers[1])
	// A download of their data, ready (its ZIP is all of the above; stored
	// here uncompressed so the scan can read it).
	mustExec(t, pool, `INSERT INTO data_exports (user_id, n, status, zip, size_bytes, built_at, token_hash, expires_at, emailed_at)
		VALUES ($1::uuid, 1, 'ready', convert_to($2::text || ' ' || $3::text, 'UTF8'), 1, now(), sha256(convert_to($2::text, 'UTF8')), now() + interval '1 day', now())`,
		p.id, p.email, p.numbers[1])
	mustExec(t, pool, `INSERT INTO caller_ids (user_id, e164, status, outgoing_caller_id_sid, verified_at, validation_code) VALUES ($1, $2, 'verified', $3, now(), '123456')`,
		p.id, p.numbers[2], "PN"+tag)
	mustExec(t, pool, `INSERT INTO payment_customers (user_id, customer_id) VALUES ($1, $2)`, p.id, p.customer)
	mustExec(t, pool, `INSERT INTO sessions (token, data, expiry) VALUES ($1, convert_to($2::text, 'UTF8'), now() + interval '1 day')`, p.session, "user_id"+p.id.String())
	mustExec(t, pool, `INSERT INTO live_streams (id, user_id, session_token, password_changed_at) VALUES (gen_random_uuid(), $1, $2, now())`, p.id, p.session)
	mustExec(t, pool, `INSERT INTO webhook_events (source, dedup_key, event_type, workflow_id, payload, signal, form)
		VALUES ('twilio', $1, 'status', $2, jsonb_build_object('To', $3::text), 'twilio-status', jsonb_build_object('From', $3::text))`,
		"CA"+tag+":completed", workflows.CallWorkflowID(p.callID.String()), p.numbers[0])
	mustExec(t, pool, `INSERT INTO webhook_events (source, dedup_key, event_type, workflow_id, payload, signal)
		VALUES ('stripe', $1, 'payment_intent.succeeded', $2, jsonb_build_object('receipt_email', $3::text), 'stripe')`,
		"evt_"+tag, workflows.TopUpWorkflowID(p.topUpID.String()), p.email)
	mustExec(t, pool, `INSERT INTO webhook_events (source, dedup_key, event_type, workflow_id, payload, signal)
		VALUES ('twilio', $1, 'callerid', $2, jsonb_build_object('Called', $3::text), 'callerid-result')`,
		"callerid:CA"+tag, "callerid-"+p.id.String()+"-"+p.numbers[2], p.numbers[2])
	mustExec(t, pool, `INSERT INTO stripe_version_events (event_id, event_type, api_version, livemode, raw_body, handled, problem)
		VALUES ($1, 'customer.updated', '2020-01-01', false, convert_to('{"email":"' || $2::text || '"}', 'UTF8'), false, 'old version')`, "evt_v_"+tag, p.email)
	var action int64
	if err := pool.QueryRow(ctx, `INSERT INTO admin_actions (actor_id, action, target_type, target_id, reason, details)
		VALUES ($1, 'disable_user', 'user', $5, $2, jsonb_build_object('email', $3::text, 'number', $4::text)) RETURNING id`,
		p.id, "asked by "+p.name+" on the phone", p.email, p.numbers[0], p.id.String()).Scan(&action); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `INSERT INTO admin_action_outcomes (action_id, ok, outcome) VALUES ($1, true, $2)`, action, "disabled "+p.email)
	mustExec(t, pool, `INSERT INTO sign_in_failures (scope, key, failures) VALUES ('email', $1, 2), ('reset_email', $1, 1)`, p.email)
	mustExec(t, pool, `INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (sha256(convert_to($1::text, 'UTF8')), $2, now() + interval '1 hour')`, tag, p.id)
	mustExec(t, pool, `INSERT INTO email_confirmations (token_hash, user_id, email, bonus_cents, expires_at) VALUES (sha256(convert_to('c'||$1::text, 'UTF8')), $2, $3, 100, now() + interval '1 day')`, tag, p.id, p.email)
	mustExec(t, pool, `INSERT INTO auto_topups (user_id, account_id, enabled, threshold_cents, amount_cents, monthly_cap_cents) VALUES ($1, $2, true, 500, 1000, 5000)`, p.id, p.account)
	return p
}

func (p person) needles() []string {
	out := []string{p.email, p.name, p.customer}
	for _, n := range p.numbers {
		out = append(out, n, strings.TrimPrefix(n, "+"))
	}
	return out
}

// findEverywhere lists every text, varchar, json, jsonb, bytea and array
// column of every table in which needle occurs, as table.column.
func findEverywhere(t *testing.T, pool *pgxpool.Pool, needle string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
		WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY', 'character')
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if rows.Err() != nil || len(cols) < 20 {
		t.Fatalf("columns: %v (%d)", rows.Err(), len(cols))
	}
	var found []string
	for _, c := range cols {
		cond := fmt.Sprintf(`position($1 IN %q::text) > 0`, c.column)
		if c.typ == "bytea" {
			cond = fmt.Sprintf(`position(convert_to($1, 'UTF8') IN %q) > 0`, c.column)
		}
		var n int
		if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s`, c.table, cond), needle).Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", c.table, c.column, err)
		}
		if n > 0 {
			found = append(found, c.table+"."+c.column)
		}
	}
	return found
}

func deleteAccount(t *testing.T, a *activities.Activities, userID uuid.UUID) (workflows.AccountDeletionStarted, error) {
	t.Helper()
	ctx := context.Background()
	in := workflows.AccountDeletionInput{UserID: userID.String()}
	started, err := a.BeginAccountDeletion(ctx, in)
	if err != nil {
		return started, err
	}
	if _, err := a.SignOutAccount(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAccountProviders(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := a.EraseAccountData(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DeleteAccountWorkflows(ctx, in); err != nil {
		t.Fatal(err)
	}
	return started, nil
}

func refusal(err error) string {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeDeletionRefused {
		return ""
	}
	var reason string
	_ = appErr.Details(&reason)
	return reason
}

func TestAccountErasureLeavesNoPersonalData(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	a := activities.New(pool)
	g, c := &deleteGateway{}, &callerIDCarrier{}
	a.Payments, a.Carrier = g, c
	gone, kept := newPerson(t, pool, "1111"), newPerson(t, pool, "2222")
	for _, n := range gone.needles() {
		if len(findEverywhere(t, pool, n)) == 0 {
			t.Fatalf("the fixture does not hold %q: the scan would prove nothing", n)
		}
	}

	started, err := deleteAccount(t, a, gone.id)
	if err != nil {
		t.Fatal(err)
	}
	if started.BalanceCents != 990 {
		t.Errorf("balance told = %d, want 990", started.BalanceCents)
	}
	// Again (a retried workflow): the same answer, nothing more changes.
	if again, err := deleteAccount(t, a, gone.id); err != nil || again != started {
		t.Fatalf("again: %+v %v", again, err)
	}

	for _, n := range gone.needles() {
		if where := findEverywhere(t, pool, n); len(where) > 0 {
			t.Errorf("%q still in %v", n, where)
		}
	}
	for _, n := range kept.needles() {
		if len(findEverywhere(t, pool, n)) == 0 {
			t.Errorf("the other account's %q was erased", n)
		}
	}
	if len(g.deleted) != 1 || g.deleted[0] != gone.customer || len(c.deleted) != 1 || c.deleted[0] != "PN1111" {
		t.Errorf("deleted at Stripe %v, at Twilio %v", g.deleted, c.deleted)
	}
	var sessions, keptSessions int
	_ = pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE token = $1), count(*) FILTER (WHERE token = $2) FROM sessions`, gone.session, kept.session).Scan(&sessions, &keptSessions)
	if sessions != 0 || keptSessions != 1 {
		t.Errorf("sessions left: deleted account %d, other %d", sessions, keptSessions)
	}
	// The ledger keeps every amount and key; the books still balance.
	var entries int
	var sum, cached int64
	_ = pool.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(amount_cents), 0), (SELECT cached_balance_cents FROM accounts WHERE id = $1)
		FROM transactions WHERE account_id = $1`, gone.account).Scan(&entries, &sum, &cached)
	if entries != 2 || sum != 990 || cached != 990 {
		t.Errorf("ledger: %d entries summing %d, cached %d; want 2, 990, 990", entries, sum, cached)
	}
	r, err := ledger.New(pool).Verify(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("ledger verify: %+v %v", r.Problems, err)
	}
	// The same number reads the same erased value; its country stays.
	var erased, country string
	_ = pool.QueryRow(ctx, `SELECT phone_number, destination_country FROM calls WHERE id = $1`, gone.callID).Scan(&erased, &country)
	if !strings.HasPrefix(erased, "erased:") || len(erased) != len("erased:")+64 || country != "GB" {
		t.Errorf("erased call: %q %q", erased, country)
	}
	// Nobody signs in: not with the old email, nor with the erased one
	// (its hash is well formed and matches nothing).
	svc, err := accounts.New(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{gone.email, "deleted-" + gone.id.String() + "@deleted.invalid"} {
		if _, err := svc.SignIn(ctx, email, "x", "127.0.0.1"); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Errorf("sign in as %s: %v, want bad credentials", email, err)
		}
	}
	var deletedAt, erasedAt bool
	_ = pool.QueryRow(ctx, `SELECT u.deleted_at IS NOT NULL, d.erased_at IS NOT NULL FROM users u JOIN account_deletions d ON d.user_id = u.id WHERE u.id = $1`, gone.id).Scan(&deletedAt, &erasedAt)
	if !deletedAt || !erasedAt {
		t.Errorf("deleted_at %v, erased_at %v", deletedAt, erasedAt)
	}
}

func TestAccountDeletionRefusals(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	a := activities.New(pool)
	a.Payments, a.Carrier = &deleteGateway{}, &callerIDCarrier{}
	for _, tc := range []struct {
		tag, reason string
		open        func(p person)
	}{
		{"3331", workflows.DeletionRefusedOpenCall, func(p person) {
			mustExec(t, pool, `INSERT INTO calls (user_id, account_id, phone_number, destination_country, client_identity, status)
				VALUES ($1, $2, '+447700900999', 'GB', 'c', 'created')`, p.id, p.account)
		}},
		{"3332", workflows.DeletionRefusedOpenCall, func(p person) { // ended, not yet billed
			mustExec(t, pool, `UPDATE calls SET billing_state = 'stuck' WHERE id = $1`, p.callID)
		}},
		{"3333", workflows.DeletionRefusedOpenTopUp, func(p person) {
			mustExec(t, pool, `INSERT INTO topups (user_id, account_id, package_code, amount_cents, status) VALUES ($1, $2, 'usd-5', 500, 'processing')`, p.id, p.account)
		}},
		{"3334", workflows.DeletionRefusedNegativeBalance, func(p person) {
			if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "refund:" + p.topUpID.String(), AccountID: p.account, Kind: ledger.Refund, AmountCents: -1000, TopUpID: &p.topUpID}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		p := newPerson(t, pool, tc.tag)
		tc.open(p)
		_, err := a.BeginAccountDeletion(ctx, workflows.AccountDeletionInput{UserID: p.id.String()})
		if got := refusal(err); got != tc.reason {
			t.Errorf("%s: refusal %q (%v), want %q", tc.tag, got, err, tc.reason)
		}
		var deleting, autoOn bool
		var sessions int
		_ = pool.QueryRow(ctx, `SELECT deleting_at IS NOT NULL, (SELECT enabled FROM auto_topups WHERE user_id = $1),
			(SELECT count(*) FROM sessions WHERE token = $2) FROM users WHERE id = $1`, p.id, p.session).Scan(&deleting, &autoOn, &sessions)
		if deleting || !autoOn || sessions != 1 {
			t.Errorf("%s: after a refusal deleting %v, auto top-up on %v, sessions %d", tc.tag, deleting, autoOn, sessions)
		}
		for _, n := range p.needles() {
			if len(findEverywhere(t, pool, n)) == 0 {
				t.Errorf("%s: refused, yet %q was erased", tc.tag, n)
			}
		}
	}
}

// A deleting account gets no new top-up and no call authorization, in the
// statements that create and authorize them.
func TestDeletingAccountStartsNothing(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	a := activities.New(pool)
	p := newPerson(t, pool, "4441")
	if _, err := a.BeginAccountDeletion(ctx, workflows.AccountDeletionInput{UserID: p.id.String()}); err != nil {
		t.Fatal(err)
	}
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1 AND password_changed_at > created_at AND deleting_at IS NOT NULL`, p.id).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("not marked: %d %v", n, err)
	}
	row, err := db.New(pool).GetCallToAuthorize(ctx, p.callID)
	if err != nil || !row.UserDisabled {
		t.Errorf("authorization sees the account as usable: %+v %v", row.UserDisabled, err)
	}
	if _, err := db.New(pool).CreateTopUp(ctx, db.CreateTopUpParams{UserID: p.id, AccountID: p.account, PackageCode: "usd-5", AmountCents: 500}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a top-up for a deleting account: %v, want none created", err)
	}
}
