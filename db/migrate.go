package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations holds the SQL migrations, embedded in the binary. Files are
// applied in name order, each in its own transaction, and recorded in
// schema_migrations; a file once applied is never applied again.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// migrationLockID is the advisory lock that keeps two migrators (two web
// instances starting at once, or parallel test packages) from racing.
const migrationLockID = 7_361_552_001

// Migration is one embedded migration file.
type Migration struct {
	Version string // the file name without .sql, e.g. "0001_init"
	SQL     string
}

// LoadMigrations returns the embedded migrations in the order they apply.
func LoadMigrations() ([]Migration, error) {
	names, err := fs.Glob(Migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("db: list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		b, err := Migrations.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("db: read %s: %w", name, err)
		}
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		out = append(out, Migration{Version: version, SQL: string(b)})
	}
	return out, nil
}

// Migrate applies every embedded migration not yet recorded in
// schema_migrations and returns the versions it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	migrations, err := LoadMigrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("db: migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return nil, fmt.Errorf("db: migrate: take lock: %w", err)
	}
	defer func() {
		// A failed unlock leaves the lock to the session's end; the
		// connection is released right after, so nothing waits long.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("db: migrate: create schema_migrations: %w", err)
	}

	applied := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("db: migrate: read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("db: migrate: read schema_migrations: %w", err)
	}
	for _, v := range versions {
		applied[v] = true
	}

	var done []string
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("db: migrate %s: %w", m.Version, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}
