package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is what a query of one row returns when there is none. It is
// pgx.ErrNoRows itself, not a mapping of it, so errors.Is(err, ErrNotFound)
// holds however the error was wrapped on its way up, and code outside db
// needs no pgx import to ask.
var ErrNotFound = pgx.ErrNoRows

// InTx runs fn in one Read Committed transaction: it commits when fn returns
// nil and rolls back otherwise. Nothing else begins transactions by hand.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(q *Queries) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return fn(New(tx))
	})
}

// UniqueViolation reports whether err is a unique-constraint violation and,
// if so, the name of the constraint (a name alone does not tell: a foreign
// key or a CHECK has one too).
func UniqueViolation(err error) (constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return OpenSized(ctx, url, 0)
}

// OpenSized is Open with a pool of at most maxConns connections (0: pgx's
// default, the larger of 4 and the CPU count).
func OpenSized(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	return OpenTraced(ctx, url, maxConns, nil)
}

// OpenTraced is OpenSized with every query reported to tracer (nil: none).
func OpenTraced(ctx context.Context, url string, maxConns int, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// DB returns the connection or transaction q runs on, for code (such as the
// ledger) that takes a DBTX inside a transaction begun by InTx.
func (q *Queries) DB() DBTX { return q.db }
