package load

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/workflows"
)

// Problem kinds Check reports, besides the ledger's own.
const (
	ProblemDoubleCharge     = "double_charge"     // more than one entry references a call that costs money
	ProblemMissingCharge    = "missing_charge"    // a call that costs money has no entry
	ProblemWrongAmount      = "wrong_amount"      // one entry, of another amount or kind
	ProblemUnexpectedCharge = "unexpected_charge" // a call that costs nothing has an entry
	ProblemMissingCall      = "missing_call"      // the call is not in the calls table
	ProblemBillingState     = "billing_state"     // the calls row disagrees with the ledger
	ProblemMissingCredit    = "missing_credit"    // a paid top-up has no entry
	ProblemDoubleCredit     = "double_credit"     // a paid top-up has more than one entry
	ProblemWrongCredit      = "wrong_credit"      // one entry, of another amount or kind
	ProblemUnexpectedCredit = "unexpected_credit" // an unpaid top-up has an entry
	ProblemMissingTopUp     = "missing_topup"     // the top-up is not in the topups table
	ProblemTopUpState       = "topup_state"       // the topups row disagrees with what was paid
	ProblemLedger           = "ledger"            // ledger.Verify: the books do not add up
	ProblemStuck            = "stuck"             // a call's billing is stuck
	ProblemWorkflowRunning  = "workflow_running"  // a workflow of the run has not finished
	ProblemDuplicateRecord  = "duplicate_record"  // the tool recorded one call twice, or one top-up with two amounts
)

// CheckOptions tune the check.
type CheckOptions struct {
	// Running lists the IDs of workflows still running (Temporal
	// visibility); nil skips the workflow checks.
	Running func(ctx context.Context) ([]string, error)
	// Adjustments is how many manual credits and debits the tool posted
	// through the support console (billing faults); the sweep expects
	// exactly that many adjustment entries.
	Adjustments int
	// AllowStuck: billing faults were injected and left unretried on purpose.
	// A call whose billing_state is stuck is then neither a `stuck` problem,
	// nor a `missing_charge` (its charge is missing on purpose), nor a
	// `workflow_running` one (its workflow waits for support's retry).
	// Anything else about it (a charge it should not have) is still reported.
	AllowStuck bool
}

// Check compares the ledger with what the tool did and returns every
// problem found (none: the promise held), naming the call or top-up.
//
// It reads the books with its own SQL, not the app's queries, in one
// read-only Repeatable Read transaction: the calls and topups rows, every
// entry that references them and ledger.Verify all see the same snapshot, so
// a charge committed while Check runs never looks half-done. Each table is
// read once for all the run's ids (= ANY($1::uuid[])), so 10,000 calls cost a
// few queries, not 10,000.
func Check(ctx context.Context, pool *pgxpool.Pool, calls []CallRecord, topups []TopUpRecord, opts CheckOptions) ([]Problem, error) {
	var running []string
	if opts.Running != nil {
		var err error
		if running, err = opts.Running(ctx); err != nil {
			return nil, fmt.Errorf("check: list running workflows: %w", err)
		}
	}

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("check: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	c := &checker{opts: opts}
	if err := c.checkCalls(ctx, tx, calls); err != nil {
		return nil, err
	}
	if err := c.checkTopUps(ctx, tx, topups); err != nil {
		return nil, err
	}
	if err := c.checkLedger(ctx, tx); err != nil {
		return nil, err
	}
	if err := c.sweep(ctx, tx, calls, topups, opts.Adjustments); err != nil {
		return nil, err
	}
	if opts.Running != nil {
		c.checkWorkflows(running)
	}

	slices.SortFunc(c.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Message, b.Message))
	})
	return c.problems, nil
}

type checker struct {
	opts     CheckOptions
	problems []Problem

	// What the workflow checks need from the books.
	callRows  map[uuid.UUID]callRow
	callRecs  map[uuid.UUID]CallRecord
	topUpRows map[uuid.UUID]topUpRow
	topUpRecs map[uuid.UUID]TopUpRecord
}

func (c *checker) add(kind, id, format string, args ...any) {
	c.problems = append(c.problems, Problem{Kind: kind, ID: id, Message: fmt.Sprintf(format, args...)})
}

// entry is one ledger entry referencing a call or a top-up.
type entry struct {
	id     int64
	kind   string
	amount int64
	key    string
}

func (e entry) String() string {
	return fmt.Sprintf("%s of %s (entry %d, key %s)", e.kind, signedCents(e.amount), e.id, e.key)
}

// nEntries says "1 entry", "2 entries".
func nEntries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

func describeEntries(es []entry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, "; ")
}

func signedCents(n int64) string {
	if n > 0 {
		return fmt.Sprintf("+%d cents", n)
	}
	return fmt.Sprintf("%d cents", n)
}

// entriesBy reads every entry whose column (call_id or topup_id) is one of
// ids, whatever its kind, grouped by that id in posting order.
func entriesBy(ctx context.Context, tx pgx.Tx, column string, ids []uuid.UUID) (map[uuid.UUID][]entry, error) {
	rows, err := tx.Query(ctx, `
		SELECT `+column+`, id, kind, amount_cents, idempotency_key
		FROM transactions
		WHERE `+column+` = ANY($1::uuid[])
		ORDER BY `+column+`, id`, pgIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("check: read entries by %s: %w", column, err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID][]entry)
	for rows.Next() {
		var ref pgtype.UUID
		var e entry
		if err := rows.Scan(&ref, &e.id, &e.kind, &e.amount, &e.key); err != nil {
			return nil, fmt.Errorf("check: read entries by %s: %w", column, err)
		}
		out[ref.Bytes] = append(out[ref.Bytes], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check: read entries by %s: %w", column, err)
	}
	return out, nil
}

// pgIDs passes ids in pgx's own UUID type: uuid.UUID goes through its
// driver.Valuer (a string each), several times slower on 10,000 ids.
func pgIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}

// ---- calls -----------------------------------------------------------------

type callRow struct {
	status, billingState string
	costCents            *int64
	billingError         *string
	email, number        string
}

// who names a call for a person: its id, its user's email and the number,
// from the tool's record or, where it has none, the calls row.
func (c *checker) callWho(id uuid.UUID) string {
	rec, row := c.callRecs[id], c.callRows[id]
	email, number := cmp.Or(rec.UserEmail, row.email), cmp.Or(rec.Number, row.number)
	var known []string
	for _, s := range []string{email, number} {
		if s != "" {
			known = append(known, s)
		}
	}
	if len(known) == 0 {
		return "call " + id.String()
	}
	return fmt.Sprintf("call %s (%s)", id, strings.Join(known, ", "))
}

func (c *checker) checkCalls(ctx context.Context, tx pgx.Tx, records []CallRecord) error {
	c.callRecs = make(map[uuid.UUID]CallRecord, len(records))
	ids := make([]uuid.UUID, 0, len(records))
	for _, r := range records {
		if r.CallID == "" {
			continue // POST /calls created nothing: nothing to find in the books
		}
		id, err := uuid.Parse(r.CallID)
		if err != nil {
			c.add(ProblemMissingCall, r.CallID, "call %q (%s, %s, %s) is not a call id the app could have given: the tool recorded something else.",
				r.CallID, r.UserEmail, r.Number, r.Outcome)
			continue
		}
		if prev, ok := c.callRecs[id]; ok {
			// POST /calls creates a new row every time: one id twice is the
			// tool's bug, and which expectation holds is unknown.
			c.add(ProblemDuplicateRecord, id.String(), "call %s was recorded twice by the tool (%s expecting %d cents, and %s expecting %d cents); it is checked against the first.",
				id, prev.Outcome, prev.ExpectedCents, r.Outcome, r.ExpectedCents)
			continue
		}
		c.callRecs[id] = r
		ids = append(ids, id)
	}

	c.callRows = make(map[uuid.UUID]callRow, len(ids))
	rows, err := tx.Query(ctx, `
		SELECT c.id, c.status, c.billing_state, c.cost_cents, c.billing_error, u.email, c.phone_number
		FROM calls c JOIN users u ON u.id = c.user_id
		WHERE c.id = ANY($1::uuid[])`, pgIDs(ids))
	if err != nil {
		return fmt.Errorf("check: read calls: %w", err)
	}
	for rows.Next() {
		var id pgtype.UUID
		var r callRow
		if err := rows.Scan(&id, &r.status, &r.billingState, &r.costCents, &r.billingError, &r.email, &r.number); err != nil {
			rows.Close()
			return fmt.Errorf("check: read calls: %w", err)
		}
		c.callRows[id.Bytes] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check: read calls: %w", err)
	}

	entries, err := entriesBy(ctx, tx, "call_id", ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c.checkCall(id, entries[id])
	}
	return nil
}

func (c *checker) checkCall(id uuid.UUID, es []entry) {
	rec := c.callRecs[id]
	row, ok := c.callRows[id]
	who := c.callWho(id)
	if !ok {
		// transactions.call_id references calls: no row, no entry either.
		c.add(ProblemMissingCall, id.String(), "%s, played as %s, is not in the calls table: POST /calls returned an id the app never stored.",
			who, rec.Outcome)
		return
	}
	stuckExcused := c.opts.AllowStuck && row.billingState == workflows.BillingStuck

	// The money: every entry that references the call, of any kind.
	want := rec.ExpectedCents
	switch {
	case want > 0 && len(es) == 0:
		if !stuckExcused {
			c.add(ProblemMissingCharge, id.String(), "%s, played as %s for %d s, was never charged: expected one call_charge of -%d cents, the ledger has none (status %s, billing_state %s).",
				who, rec.Outcome, rec.TalkSeconds, want, row.status, row.billingState)
		}
	case want > 0 && len(es) > 1:
		c.add(ProblemDoubleCharge, id.String(), "%s was charged more than once: %d ledger entries reference it, %s; expected one call_charge of -%d cents.",
			who, len(es), describeEntries(es), want)
	case want > 0 && (es[0].kind != "call_charge" || es[0].amount != -want):
		c.add(ProblemWrongAmount, id.String(), "%s, played as %s for %d s, was charged the wrong amount: expected a call_charge of -%d cents, got %s.",
			who, rec.Outcome, rec.TalkSeconds, want, es[0])
	case want <= 0 && len(es) > 0:
		c.add(ProblemUnexpectedCharge, id.String(), "%s, played as %s, should cost nothing, but the ledger has %s for it: %s.",
			who, rec.Outcome, nEntries(len(es)), describeEntries(es))
	}

	// The row. Only a row that contradicts the ledger is reported: billing
	// state charged exactly when a call_charge exists, at the cost the row
	// states. A row left pending with no charge (a call failed before its
	// workflow started keeps the default) contradicts nothing; if the call
	// should have cost money, missing_charge already says so, and an
	// unfinished workflow is the workflow check's business.
	var charge *entry
	for i := range es {
		if es[i].kind == "call_charge" {
			charge = &es[i] // at most one: transactions_one_charge_per_call
		}
	}
	switch {
	case row.billingState == workflows.BillingCharged && charge == nil:
		c.add(ProblemBillingState, id.String(), "%s: its row says billing_state charged (cost %s), but the ledger has no call_charge for it.",
			who, costText(row.costCents))
	case row.billingState != workflows.BillingCharged && charge != nil:
		c.add(ProblemBillingState, id.String(), "%s: the ledger has %s, but its row says billing_state %s.",
			who, charge, row.billingState)
	case charge != nil && (row.costCents == nil || *row.costCents != -charge.amount):
		c.add(ProblemBillingState, id.String(), "%s: its row says it cost %s, but the ledger charged %s.",
			who, costText(row.costCents), signedCents(charge.amount))
	}

	if row.billingState == workflows.BillingStuck && !c.opts.AllowStuck {
		why := "no reason recorded"
		if row.billingError != nil && *row.billingError != "" {
			why = *row.billingError
		}
		c.add(ProblemStuck, id.String(), "%s is stuck in billing (%s): fix the cause, then retry its billing at /admin/calls/%s.",
			who, why, id)
	}
}

func costText(cents *int64) string {
	if cents == nil {
		return "not set"
	}
	return fmt.Sprintf("%d cents", *cents)
}

// ---- top-ups ---------------------------------------------------------------

type topUpRow struct {
	status string
	email  string
}

func (c *checker) topUpWho(id uuid.UUID) string {
	if email := cmp.Or(c.topUpRecs[id].UserEmail, c.topUpRows[id].email); email != "" {
		return fmt.Sprintf("top-up %s (%s)", id, email)
	}
	return "top-up " + id.String()
}

func (c *checker) checkTopUps(ctx context.Context, tx pgx.Tx, records []TopUpRecord) error {
	c.topUpRecs = make(map[uuid.UUID]TopUpRecord, len(records))
	ids := make([]uuid.UUID, 0, len(records))
	for _, r := range records {
		if r.TopUpID == "" {
			continue
		}
		id, err := uuid.Parse(r.TopUpID)
		if err != nil {
			c.add(ProblemMissingTopUp, r.TopUpID, "top-up %q (%s, %d cents, %s) is not a top-up id the app could have given: the tool recorded something else.",
				r.TopUpID, r.UserEmail, r.AmountCents, r.Outcome)
			continue
		}
		prev, ok := c.topUpRecs[id]
		if !ok {
			c.topUpRecs[id] = r
			ids = append(ids, id)
			continue
		}
		// A second purchase of the same package while the first is unpaid
		// returns the same top-up: one payment at most, whichever attempt
		// paid it.
		if prev.AmountCents != r.AmountCents {
			c.add(ProblemDuplicateRecord, id.String(), "top-up %s was recorded twice by the tool with two amounts (%d and %d cents); it is checked against the first.",
				id, prev.AmountCents, r.AmountCents)
		}
		if r.Paid && !prev.Paid {
			prev.Paid, prev.Outcome, prev.PaymentIntentID = true, r.Outcome, cmp.Or(r.PaymentIntentID, prev.PaymentIntentID)
			c.topUpRecs[id] = prev
		}
	}

	c.topUpRows = make(map[uuid.UUID]topUpRow, len(ids))
	rows, err := tx.Query(ctx, `
		SELECT t.id, t.status, u.email
		FROM topups t JOIN users u ON u.id = t.user_id
		WHERE t.id = ANY($1::uuid[])`, pgIDs(ids))
	if err != nil {
		return fmt.Errorf("check: read topups: %w", err)
	}
	for rows.Next() {
		var id pgtype.UUID
		var r topUpRow
		if err := rows.Scan(&id, &r.status, &r.email); err != nil {
			rows.Close()
			return fmt.Errorf("check: read topups: %w", err)
		}
		c.topUpRows[id.Bytes] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check: read topups: %w", err)
	}

	entries, err := entriesBy(ctx, tx, "topup_id", ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c.checkTopUp(id, entries[id])
	}
	return nil
}

func (c *checker) checkTopUp(id uuid.UUID, es []entry) {
	rec := c.topUpRecs[id]
	row, ok := c.topUpRows[id]
	who := c.topUpWho(id)
	pi := ""
	if rec.PaymentIntentID != "" {
		pi = ", PaymentIntent " + rec.PaymentIntentID
	}
	if !ok {
		c.add(ProblemMissingTopUp, id.String(), "%s%s, played as %s, is not in the topups table: POST /credits/purchase returned an id the app never stored.",
			who, pi, rec.Outcome)
		return
	}

	// The tool plays no refunds or disputes: a paid top-up has exactly its
	// purchase, an unpaid one nothing.
	if rec.Paid {
		switch {
		case len(es) == 0:
			c.add(ProblemMissingCredit, id.String(), "%s%s was paid (%s) but never credited: expected one purchase of +%d cents, the ledger has none (status %s).",
				who, pi, rec.Outcome, rec.AmountCents, row.status)
		case len(es) > 1:
			c.add(ProblemDoubleCredit, id.String(), "%s%s was credited more than once: %d ledger entries reference it, %s; expected one purchase of +%d cents.",
				who, pi, len(es), describeEntries(es), rec.AmountCents)
		case es[0].kind != "purchase" || es[0].amount != rec.AmountCents:
			c.add(ProblemWrongCredit, id.String(), "%s%s was credited wrongly: expected a purchase of +%d cents, got %s.",
				who, pi, rec.AmountCents, es[0])
		}
	} else if len(es) > 0 {
		c.add(ProblemUnexpectedCredit, id.String(), "%s%s was never paid (%s), but the ledger has %s for it: %s.",
			who, pi, rec.Outcome, nEntries(len(es)), describeEntries(es))
	}

	// The row: succeeded when paid; canceled, or failed when the run ended
	// before the payment timeout cancelled a declined one, when not.
	switch {
	case rec.Paid && row.status != workflows.TopUpSucceeded:
		c.add(ProblemTopUpState, id.String(), "%s%s was paid, but its row says %s, not succeeded.", who, pi, row.status)
	case !rec.Paid && row.status != workflows.TopUpCanceled && row.status != workflows.TopUpFailed:
		c.add(ProblemTopUpState, id.String(), "%s%s was never paid (%s), but its row says %s, not canceled or failed.", who, pi, rec.Outcome, row.status)
	}
}

// ---- the ledger ------------------------------------------------------------

func (c *checker) checkLedger(ctx context.Context, tx pgx.Tx) error {
	report, err := ledger.New(tx).Verify(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if report.OK() {
		return nil
	}
	// Some problems carry the owner's email, some not: look them up.
	var accounts []uuid.UUID
	for _, p := range report.Problems {
		if p.AccountID != uuid.Nil && p.Email == "" {
			accounts = append(accounts, p.AccountID)
		}
	}
	emails := make(map[uuid.UUID]string)
	if len(accounts) > 0 {
		rows, err := tx.Query(ctx, `SELECT a.id, u.email FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.id = ANY($1::uuid[])`, accounts)
		if err != nil {
			return fmt.Errorf("check: read wallet owners: %w", err)
		}
		for rows.Next() {
			var id uuid.UUID
			var email string
			if err := rows.Scan(&id, &email); err != nil {
				rows.Close()
				return fmt.Errorf("check: read wallet owners: %w", err)
			}
			emails[id] = email
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check: read wallet owners: %w", err)
		}
	}
	for _, p := range report.Problems {
		if p.AccountID == uuid.Nil {
			c.add(ProblemLedger, "ledger", "The books do not add up: %s (`mobayilo ledger verify` shows the same).", p.What)
			continue
		}
		p.Email = cmp.Or(p.Email, emails[p.AccountID])
		c.add(ProblemLedger, p.AccountID.String(), "The books do not add up: %s (`mobayilo ledger verify` shows the same).", p)
	}
	return nil
}

// ---- workflows -------------------------------------------------------------

func (c *checker) checkWorkflows(running []string) {
	seen := make(map[string]bool, len(running))
	for _, wf := range running {
		if seen[wf] {
			continue
		}
		seen[wf] = true
		switch {
		case strings.HasPrefix(wf, "call-"):
			id, err := uuid.Parse(strings.TrimPrefix(wf, "call-"))
			if err != nil {
				continue
			}
			if _, ours := c.callRecs[id]; !ours {
				continue
			}
			row, stored := c.callRows[id]
			if stored && c.opts.AllowStuck && row.billingState == workflows.BillingStuck {
				continue // waits for support's retry-billing, on purpose
			}
			state := "not in the calls table"
			if stored {
				state = fmt.Sprintf("status %s, billing_state %s", row.status, row.billingState)
			}
			c.add(ProblemWorkflowRunning, id.String(), "%s: its workflow %s is still running (%s); a finished run leaves no call workflow behind.",
				c.callWho(id), wf, state)
		case strings.HasPrefix(wf, "topup-"):
			id, err := uuid.Parse(strings.TrimPrefix(wf, "topup-"))
			if err != nil {
				continue
			}
			if _, ours := c.topUpRecs[id]; !ours {
				continue
			}
			row, stored := c.topUpRows[id]
			if stored && workflows.IsSettled(row.status) {
				continue // lingers ~10 minutes for late events, on purpose
			}
			state := "not in the topups table"
			if stored {
				state = "status " + row.status
			}
			c.add(ProblemWorkflowRunning, id.String(), "%s: its workflow %s is still running and the top-up is not settled (%s).",
				c.topUpWho(id), wf, state)
		}
	}
}

// sweep reads every ledger entry of the run's database, not only those of
// the calls and top-ups the tool recorded: an entry for a call or top-up
// the tool did not record (a call refused without an id, one whose start
// failed half-way), an entry posted to another wallet than its call's or
// top-up's, or an adjustment the tool did not post, is a problem too.
func (c *checker) sweep(ctx context.Context, tx pgx.Tx, calls []CallRecord, topups []TopUpRecord, adjustments int) error {
	known := map[string]bool{}
	for _, r := range calls {
		if r.CallID != "" {
			known["call:"+r.CallID] = true
		}
	}
	for _, r := range topups {
		if r.TopUpID != "" {
			known["topup:"+r.TopUpID] = true
		}
	}
	rows, err := tx.Query(ctx, `
		SELECT t.id, t.kind, t.amount_cents, COALESCE(t.call_id::text, ''), COALESCE(t.topup_id::text, ''),
		       t.account_id = COALESCE(c.account_id, tp.account_id, t.account_id) AS same_wallet
		FROM transactions t
		LEFT JOIN calls c ON c.id = t.call_id
		LEFT JOIN topups tp ON tp.id = t.topup_id
		ORDER BY t.id`)
	if err != nil {
		return fmt.Errorf("check: sweep the ledger: %w", err)
	}
	defer rows.Close()
	seenAdjustments := 0
	for rows.Next() {
		var id, amount int64
		var kind, callID, topUpID string
		var sameWallet bool
		if err := rows.Scan(&id, &kind, &amount, &callID, &topUpID, &sameWallet); err != nil {
			return err
		}
		switch {
		case !sameWallet:
			c.add(ProblemLedger, fmt.Sprint(id), "ledger entry %d (%s %s) is posted to another wallet than its call's or top-up's", id, kind, signedCents(amount))
		case callID != "" && !known["call:"+callID]:
			c.add(ProblemUnexpectedCharge, callID, "ledger entry %d (%s %s) is for call %s, which the run never recorded (a call refused or failed at start must cost nothing)", id, kind, signedCents(amount), callID)
		case topUpID != "" && !known["topup:"+topUpID]:
			c.add(ProblemUnexpectedCredit, topUpID, "ledger entry %d (%s %s) is for top-up %s, which the run never recorded", id, kind, signedCents(amount), topUpID)
		case kind == "adjustment" && callID == "" && topUpID == "":
			seenAdjustments++
		case callID == "" && topUpID == "":
			c.add(ProblemLedger, fmt.Sprint(id), "ledger entry %d (%s %s) names no call or top-up, and the run posted no such entry", id, kind, signedCents(amount))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if seenAdjustments != adjustments {
		c.add(ProblemLedger, "adjustments", "the ledger holds %d manual adjustments; the run posted %d through the support console", seenAdjustments, adjustments)
	}
	return nil
}

// ---- the browser's hang-ups ------------------------------------------------

// ProblemHangUp: a call the browser said had ended was never charged, or
// still holds its user's call slot after the drain.
const ProblemHangUp = "browser_hangup"

// CheckHangUps checks every call the browser hung up (final callbacks
// lost), after the drain: a call that costs money has its charge (its
// amount, and that there is one only, are Check's business), and the
// user's slot is free. How long each took is a figure the report sets
// against hangUpTarget; it is not checked here.
func CheckHangUps(ctx context.Context, pool *pgxpool.Pool, calls []CallRecord) []Problem {
	var ids, billed []string
	for _, c := range calls {
		if c.BrowserHangUp {
			ids = append(ids, c.CallID)
			if c.ExpectedCents > 0 {
				billed = append(billed, c.CallID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	fail := func(err error) []Problem {
		return []Problem{{Kind: ProblemHangUp, ID: "run", Message: "the browser's hang-ups could not be checked: " + err.Error()}}
	}
	charged, err := chargeTimes(ctx, pool, billed)
	if err != nil {
		return fail(err)
	}
	free := make(map[string]bool, len(ids))
	rows, err := pool.Query(ctx, `SELECT id::text, `+slotFree+` FROM calls WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var id string
		var f bool
		if err := rows.Scan(&id, &f); err != nil {
			rows.Close()
			return fail(err)
		}
		free[id] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	var out []Problem
	for _, c := range calls {
		if !c.BrowserHangUp {
			continue
		}
		who := fmt.Sprintf("call %s (%s, %s, %s)", c.CallID, c.UserEmail, c.Number, c.Outcome)
		if !free[c.CallID] {
			out = append(out, Problem{Kind: ProblemHangUp, ID: c.CallID, Message: fmt.Sprintf(
				"%s: the browser hung up and the user's call slot is still held after the drain.", who)})
		}
		if _, ok := charged[c.CallID]; c.ExpectedCents > 0 && !ok {
			out = append(out, Problem{Kind: ProblemHangUp, ID: c.CallID, Message: fmt.Sprintf(
				"%s: the browser hung up and the call was never charged.", who)})
		}
	}
	return out
}

// nearFault reports whether a fault began within hangUpTarget of a
// hang-up at t (before or after it).
func nearFault(t time.Time, faults []time.Time) bool {
	for _, f := range faults {
		if !f.Before(t.Add(-hangUpTarget)) && f.Before(t.Add(hangUpTarget)) {
			return true
		}
	}
	return false
}

// chargeTimes reads when each call's charge was committed (the ledger's
// timestamp; the tool runs on the app's machine, so one clock).
func chargeTimes(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := pool.Query(ctx, `SELECT call_id::text, created_at FROM transactions WHERE kind = 'call_charge' AND call_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out[id] = at
	}
	return out, rows.Err()
}

// ---- billing faults --------------------------------------------------------

// debt is what the books say of a billing fault's call: the wallet was
// drained during the call, so the charge must post in full and leave the
// wallet below zero.
type debt struct {
	BillingState string
	Charged      bool  // a call_charge references the call
	ChargeCents  int64 // its amount (negative)
	// BalanceAfterCents is the wallet's balance right after the charge, as
	// the ledger row records it: the debt is judged there, not on the live
	// balance, which a credit posted since (a top-up, support's money back)
	// may have raised.
	BalanceAfterCents int64
	BalanceCents      int64 // the wallet now
}

// readDebt reads the billing state, the charge and the wallet of a call.
func readDebt(ctx context.Context, pool *pgxpool.Pool, callID string) (debt, error) {
	var d debt
	var charge, after *int64
	err := pool.QueryRow(ctx, `
		SELECT c.billing_state, t.amount_cents, t.balance_after_cents, a.cached_balance_cents
		FROM calls c
		JOIN accounts a ON a.id = c.account_id
		LEFT JOIN transactions t ON t.call_id = c.id AND t.kind = 'call_charge'
		WHERE c.id = $1`, callID).Scan(&d.BillingState, &charge, &after, &d.BalanceCents)
	if err != nil {
		return debt{}, fmt.Errorf("read the debt of call %s: %w", callID, err)
	}
	if charge != nil && after != nil {
		d.Charged, d.ChargeCents, d.BalanceAfterCents = true, *charge, *after
	}
	return d, nil
}

// problem says how the call falls short of being charged in full as a
// debt, or "" when it was: billing state charged, one call_charge of
// wantCents (the tool's own price of the call; 0: not known, not
// compared), the wallet below zero right after it. A charge the app
// refused (stuck, or none) or capped at the balance is a problem.
func (d debt) problem(wantCents int64) string {
	switch {
	case d.BillingState != workflows.BillingCharged || !d.Charged:
		return fmt.Sprintf("is %s with %s after its wallet was drained mid-call: a connected call must be charged in full",
			d.BillingState, map[bool]string{true: "a charge", false: "no charge"}[d.Charged])
	case wantCents > 0 && d.ChargeCents != -wantCents:
		return fmt.Sprintf("was charged %s after its wallet was drained mid-call, not the call's price of -%d cents: the charge was capped",
			signedCents(d.ChargeCents), wantCents)
	case d.BalanceAfterCents >= 0:
		return fmt.Sprintf("was charged %s, but the drained wallet held %d cents right after the charge, not a debt",
			signedCents(d.ChargeCents), d.BalanceAfterCents)
	}
	return ""
}
