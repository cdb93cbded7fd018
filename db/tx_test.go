package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// A query of one row that finds none is db.ErrNotFound, however the error
// is wrapped on its way up, and InTx hands it back unchanged.
func TestNoRowIsErrNotFound(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	_, err := db.New(pool).GetCall(ctx, uuid.New())
	if !errors.Is(fmt.Errorf("web: load: %w", err), db.ErrNotFound) {
		t.Fatalf("a missing call: %v, want db.ErrNotFound", err)
	}
	err = db.InTx(ctx, pool, func(q *db.Queries) error {
		_, err := q.GetTopUp(ctx, uuid.New())
		return err
	})
	if !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("in a transaction: %v, want db.ErrNotFound", err)
	}
	if _, err := db.New(pool).CountRates(ctx); errors.Is(err, db.ErrNotFound) || err != nil {
		t.Fatalf("a query that finds its row: %v", err)
	}
}
