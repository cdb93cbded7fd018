// Package testdb gives tests a real, fresh Postgres database with every
// migration applied. Databases are cloned from a template that is migrated
// once per migration set, so a new database costs one CREATE DATABASE.
//
// The server is the one in TEST_DATABASE_URL, else DATABASE_URL, else the
// local server at 127.0.0.1:5432 as user postgres.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
)

// templateLockID serialises template creation across parallel test binaries.
const templateLockID = 7_361_552_002

// ServerURL is the URL of the Postgres server tests use.
func ServerURL() string {
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// New creates a fresh, migrated database, returns a pool on it and drops it
// when the test ends. It fails the test if Postgres cannot be reached.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewWithURL(t)
	return pool
}

// NewWithURL is New, also returning the database's URL (for code under
// test that opens its own connections).
func NewWithURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	server := ServerURL()
	admin, err := pgx.Connect(ctx, withDatabase(server, "postgres"))
	if err != nil {
		t.Fatalf("testdb: cannot reach Postgres at %s (run `make test`, which starts it, or set TEST_DATABASE_URL): %v",
			redacted(server), err)
	}
	defer admin.Close(context.Background())

	template, err := ensureTemplate(ctx, admin, server)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	name := "mobayilo_t_" + randomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template)); err != nil {
		t.Fatalf("testdb: create %s: %v", name, err)
	}
	dbURL := withDatabase(server, name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("testdb: connect %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, withDatabase(server, "postgres"))
		if err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
		}
	})
	return pool, dbURL
}

// ensureTemplate creates the migrated template for the current migration
// set, once, and returns its name.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, server string) (string, error) {
	migrations, err := db.LoadMigrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migrations {
		fmt.Fprintf(h, "%s\n%s\n", m.Version, m.SQL)
	}
	name := "mobayilo_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLockID); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, templateLockID) }()

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}

	// Templates of older migration sets are of no more use: drop them.
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'mobayilo\_tmpl\_%' AND datname <> $1`, name)
	if err != nil {
		return "", fmt.Errorf("list old templates: %w", err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list old templates: %w", err)
	}
	for _, o := range old {
		ident := pgx.Identifier{o}.Sanitize()
		_, _ = admin.Exec(ctx, `ALTER DATABASE `+ident+` WITH IS_TEMPLATE false`)
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`)
	}

	// Build under another name and rename when complete, so a run killed
	// half-way never leaves a half-migrated template behind.
	building := name + "_building"
	if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", fmt.Errorf("drop stale %s: %w", building, err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", fmt.Errorf("create %s: %w", building, err)
	}
	pool, err := pgxpool.New(ctx, withDatabase(server, building))
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", building, err)
	}
	_, err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", fmt.Errorf("rename template: %w", err)
	}
	// Nobody connects to a template (a stray session would block every
	// clone), and Postgres knows it is one.
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`, name)); err != nil {
		return "", fmt.Errorf("mark template: %w", err)
	}
	return name, nil
}

func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path = "/" + name
	return u.String()
}

func redacted(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
