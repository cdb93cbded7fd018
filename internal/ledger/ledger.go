// Package ledger is the only code that changes a balance. Every change is
// one append-only entry in the transactions table, posted exactly once per
// idempotency key, with the wallet's cached balance moved in the same
// Postgres statement.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mobayilo/mobayilo/db"
)

// Kind is what an entry is for. Each kind has a fixed sign and a fixed
// house account on the other side; the database checks both too.
type Kind string

const (
	Purchase   Kind = "purchase"    // a paid top-up: wallet +, stripe
	CallCharge Kind = "call_charge" // a call's cost: wallet -, call_revenue
	Refund     Kind = "refund"      // a refunded top-up: wallet -, stripe
	Dispute    Kind = "dispute"     // a disputed top-up: wallet -, stripe
	Bonus      Kind = "bonus"       // a promotion: wallet +, promotions
	Adjustment Kind = "adjustment"  // a staff correction, either sign: adjustments
	// DisputeReversal gives back a dispute's debit when the dispute is won:
	// wallet +, stripe.
	DisputeReversal Kind = "dispute_reversal"
	// RefundFailure gives back a refund's debit when the refund fails after
	// it was posted: wallet +, stripe.
	RefundFailure Kind = "refund_failure"
)

// House names the house accounts that are counter-parties of entries.
type House string

const (
	HouseStripe      House = "stripe"
	HouseCallRevenue House = "call_revenue"
	HousePromotions  House = "promotions"
	HouseAdjustments House = "adjustments"
)

type kindRule struct {
	house         House
	sign          int // +1 credit only, -1 debit only, 0 either
	allowNegative bool
	needsCall     bool
	needsTopUp    bool
}

// A call charge may go below zero: a connected call is charged in full
// whatever happened to the balance during the call (a refund, a dispute, a
// staff debit), since the carrier has been paid and the user owes it. The
// debt refuses new calls (rating.Rules.Authorize), never the bill.
var kindRules = map[Kind]kindRule{
	Purchase:   {house: HouseStripe, sign: +1, needsTopUp: true},
	CallCharge: {house: HouseCallRevenue, sign: -1, allowNegative: true, needsCall: true},
	Refund:     {house: HouseStripe, sign: -1, allowNegative: true, needsTopUp: true},
	Dispute:    {house: HouseStripe, sign: -1, allowNegative: true, needsTopUp: true},
	Bonus:      {house: HousePromotions, sign: +1},
	Adjustment: {house: HouseAdjustments, sign: 0},

	DisputeReversal: {house: HouseStripe, sign: +1, needsTopUp: true},
	RefundFailure:   {house: HouseStripe, sign: +1, needsTopUp: true},
}

// Counterparty is the house account on the other side of an entry of kind k.
func (k Kind) Counterparty() House { return kindRules[k].house }

// AllowsNegative reports whether an entry of kind k may take a balance below
// zero (a refund or dispute reverses money the user may have spent; a call
// charge bills a call the carrier already connected).
func (k Kind) AllowsNegative() bool { return kindRules[k].allowNegative }

var (
	// ErrInsufficientFunds: a debit would take the balance below zero.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrIdempotencyConflict: the key was posted before with other content.
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused with different content")
	// ErrAccountNotFound: no wallet has that id.
	ErrAccountNotFound = errors.New("ledger: wallet not found")
	// ErrInvalidEntry: the entry breaks a rule of its kind.
	ErrInvalidEntry = errors.New("ledger: invalid entry")
	// ErrAlreadyPosted: the call was already charged, or the top-up already
	// credited, under another idempotency key.
	ErrAlreadyPosted = errors.New("ledger: already posted under another key")
)

// InsufficientFundsError says how much was there and how much was asked.
type InsufficientFundsError struct {
	AccountID    uuid.UUID
	BalanceCents int64
	AmountCents  int64 // the (negative) amount that was refused
}

func (e *InsufficientFundsError) Error() string {
	return fmt.Sprintf("ledger: insufficient funds in %s: balance %d cents, debit %d cents",
		e.AccountID, e.BalanceCents, -e.AmountCents)
}

func (e *InsufficientFundsError) Unwrap() error { return ErrInsufficientFunds }

// Entry is a request to move money into (positive) or out of (negative) a
// wallet.
type Entry struct {
	Key         string // idempotency key from our own ids, e.g. call:<id>:charge
	AccountID   uuid.UUID
	Kind        Kind
	AmountCents int64
	CallID      *uuid.UUID
	TopUpID     *uuid.UUID
	Memo        string
}

// Posted is an entry as stored.
type Posted struct {
	ID                int64
	Key               string
	AccountID         uuid.UUID
	Kind              Kind
	Counterparty      House
	AmountCents       int64
	BalanceAfterCents int64
	CallID            *uuid.UUID
	TopUpID           *uuid.UUID
	Memo              string
	CreatedAt         time.Time
	// Replayed is true when the key had been posted before and this call
	// changed nothing.
	Replayed bool
}

// Ledger posts entries. It holds a pool or a transaction (db.DBTX); each
// Post is one statement, so it is atomic on either.
type Ledger struct {
	conn db.DBTX
	q    *db.Queries
}

// New returns a Ledger over conn (a *pgxpool.Pool, or a pgx.Tx).
func New(conn db.DBTX) *Ledger {
	return &Ledger{conn: conn, q: db.New(conn)}
}

// Post records e exactly once. A repeat of the same key with the same
// content returns the first result with Replayed set and changes nothing; the
// same key with different content is ErrIdempotencyConflict. A debit that
// would take the balance below zero is an *InsufficientFundsError unless the
// kind allows it.
func (l *Ledger) Post(ctx context.Context, e Entry) (Posted, error) {
	if err := e.validate(); err != nil {
		return Posted{}, err
	}
	hash := e.hash()
	row, err := l.q.PostEntry(ctx, db.PostEntryParams{
		AccountID:      e.AccountID,
		Counterparty:   string(e.Kind.Counterparty()),
		Kind:           string(e.Kind),
		AmountCents:    e.AmountCents,
		IdempotencyKey: e.Key,
		RequestHash:    hash[:],
		CallID:         e.CallID,
		TopUpID:        e.TopUpID,
		Memo:           e.Memo,
		AllowNegative:  e.Kind.AllowsNegative(),
	})
	if err == nil {
		return posted(db.Transaction(row), false), nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" &&
		(pgErr.ConstraintName == "transactions_one_charge_per_call" || pgErr.ConstraintName == "transactions_one_purchase_per_topup") {
		return Posted{}, fmt.Errorf("%w: %s (%s)", ErrAlreadyPosted, e.Key, pgErr.ConstraintName)
	}
	if errors.As(err, &pgErr) && pgErr.Code == "23514" {
		// A CHECK of the schema refused it: no retry of the same entry passes.
		return Posted{}, fmt.Errorf("%w: %s: the database refused it (%s)", ErrInvalidEntry, e.Key, pgErr.ConstraintName)
	}
	if !errors.Is(err, db.ErrNotFound) {
		return Posted{}, fmt.Errorf("ledger: post %s: %w", e.Key, err)
	}

	// No row: the key exists, the wallet does not, or the debit was refused.
	prev, err := l.q.GetEntryByKey(ctx, e.Key)
	switch {
	case err == nil:
		if string(prev.RequestHash) != string(hash[:]) {
			return Posted{}, fmt.Errorf("%w: %s", ErrIdempotencyConflict, e.Key)
		}
		return posted(prev, true), nil
	case !errors.Is(err, db.ErrNotFound):
		return Posted{}, fmt.Errorf("ledger: post %s: read existing entry: %w", e.Key, err)
	}
	balance, err := l.q.GetWalletBalance(ctx, e.AccountID)
	if errors.Is(err, db.ErrNotFound) {
		return Posted{}, fmt.Errorf("%w: %s", ErrAccountNotFound, e.AccountID)
	}
	if err != nil {
		return Posted{}, fmt.Errorf("ledger: post %s: read balance: %w", e.Key, err)
	}
	return Posted{}, &InsufficientFundsError{AccountID: e.AccountID, BalanceCents: balance, AmountCents: e.AmountCents}
}

// Balance returns a wallet's cached balance in cents.
func (l *Ledger) Balance(ctx context.Context, accountID uuid.UUID) (int64, error) {
	b, err := l.q.GetWalletBalance(ctx, accountID)
	if errors.Is(err, db.ErrNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrAccountNotFound, accountID)
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: balance of %s: %w", accountID, err)
	}
	return b, nil
}

func (e Entry) validate() error {
	rule, ok := kindRules[e.Kind]
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidEntry, e.Kind)
	case e.Key == "" || len(e.Key) > 200:
		return fmt.Errorf("%w: idempotency key must be 1 to 200 bytes", ErrInvalidEntry)
	case e.AccountID == uuid.Nil:
		return fmt.Errorf("%w: %s: no account", ErrInvalidEntry, e.Key)
	case e.AmountCents == 0:
		return fmt.Errorf("%w: %s: zero amount", ErrInvalidEntry, e.Key)
	case rule.sign > 0 && e.AmountCents < 0, rule.sign < 0 && e.AmountCents > 0:
		return fmt.Errorf("%w: %s: %s amount has the wrong sign", ErrInvalidEntry, e.Key, e.Kind)
	case rule.needsCall && e.CallID == nil:
		return fmt.Errorf("%w: %s: %s needs a call", ErrInvalidEntry, e.Key, e.Kind)
	case rule.needsTopUp && e.TopUpID == nil:
		return fmt.Errorf("%w: %s: %s needs a top-up", ErrInvalidEntry, e.Key, e.Kind)
	}
	return nil
}

// hash fingerprints everything that makes two posts of one key the same
// request, so a reused key with other content is caught.
func (e Entry) hash() [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	optional := func(id *uuid.UUID) {
		if id == nil {
			field(nil)
			return
		}
		field(id[:])
	}
	var amount [8]byte
	binary.BigEndian.PutUint64(amount[:], uint64(e.AmountCents))
	field([]byte(e.Key))
	field(e.AccountID[:])
	field([]byte(e.Kind))
	field(amount[:])
	optional(e.CallID)
	optional(e.TopUpID)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func posted(t db.Transaction, replayed bool) Posted {
	return Posted{
		ID:                t.ID,
		Key:               t.IdempotencyKey,
		AccountID:         t.AccountID,
		Kind:              Kind(t.Kind),
		Counterparty:      House(t.Counterparty),
		AmountCents:       t.AmountCents,
		BalanceAfterCents: t.BalanceAfterCents,
		CallID:            t.CallID,
		TopUpID:           t.TopUpID,
		Memo:              t.Memo,
		CreatedAt:         t.CreatedAt,
		Replayed:          replayed,
	}
}
