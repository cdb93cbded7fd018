package ratedeck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// Store holds the current deck's in-memory index. Lookups never touch
// Postgres; the index is rebuilt when a replacement NOTIFYs rates_changed,
// and every few minutes in case a notification was missed.
type Store struct {
	pool *pgxpool.Pool
	log  zerolog.Logger
	cur  atomic.Pointer[indexed]
}

// indexed is one deck with its version, swapped together.
type indexed struct {
	deck    *rating.Deck
	version string
}

// NewStore loads the deck once. Run Watch to keep it current.
func NewStore(ctx context.Context, pool *pgxpool.Pool, log zerolog.Logger) (*Store, error) {
	s := &Store{pool: pool, log: log}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Deck is the current index.
func (s *Store) Deck() *rating.Deck { return s.cur.Load().deck }

// Version names the current deck's contents: it changes when a rate is
// added, removed, repriced, enabled or disabled, and only then (a periodic
// refresh of the same deck keeps it), so a client may cache what it built
// from the deck under it (the dialer's price list).
func (s *Store) Version() string { return s.cur.Load().version }

func (s *Store) set(d *rating.Deck) {
	h := sha256.New()
	for _, r := range d.Rates() {
		for _, f := range []string{r.Prefix, r.Country, r.Description, strconv.FormatInt(r.PerMinuteMicros, 10),
			strconv.FormatInt(r.ConnectionFeeMicros, 10), strconv.FormatBool(r.Enabled)} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	s.cur.Store(&indexed{deck: d, version: hex.EncodeToString(h.Sum(nil)[:8])})
}

// Refresh rebuilds the index from Postgres.
func (s *Store) Refresh(ctx context.Context) error {
	rates, err := Load(ctx, db.New(s.pool))
	if err != nil {
		return err
	}
	d, err := rating.NewDeck(rates)
	if err != nil {
		return fmt.Errorf("ratedeck: index: %w", err)
	}
	s.set(d)
	return nil
}

// Watch listens for rates_changed until ctx ends, refreshing on each
// notification and at least every interval. Connection losses are retried.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	for ctx.Err() == nil {
		err := s.listen(ctx, interval)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn().Err(err).Msg("rate deck: listen for changes; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, interval time.Duration) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN rates_changed"); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN rates_changed") }()
	// Changes made before LISTEN took effect would be missed: refresh now.
	if err := s.Refresh(ctx); err != nil {
		return err
	}
	for {
		waitCtx, cancel := context.WithTimeout(ctx, interval)
		_, err := conn.Conn().WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		if err := s.Refresh(ctx); err != nil {
			return err
		}
		s.log.Debug().Int("prefixes", s.Deck().Len()).Msg("rate deck refreshed")
	}
}

// NewFixedStore holds deck and never refreshes (tests, tools).
func NewFixedStore(deck *rating.Deck) *Store {
	s := &Store{}
	s.set(deck)
	return s
}
