package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// BenchmarkPostHotAccount posts distinct entries to one wallet from
// GOMAXPROCS*4 goroutines: every posting waits for the wallet's row lock.
func BenchmarkPostHotAccount(b *testing.B) {
	pool := testdb.New(b)
	l := ledger.New(pool)
	f := newWallet(b, pool)
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, err := l.Post(context.Background(), ledger.Entry{
				Key: fmt.Sprintf("bench:hot:%d", n), AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 1,
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "postings/s")
}

// BenchmarkPostManyAccounts spreads the same load over 1,000 wallets, so
// postings rarely wait for each other's locks.
func BenchmarkPostManyAccounts(b *testing.B) {
	pool := testdb.New(b)
	l := ledger.New(pool)
	wallets := make([]fixture, 1000)
	for i := range wallets {
		wallets[i] = newWallet(b, pool)
	}
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, err := l.Post(context.Background(), ledger.Entry{
				Key: fmt.Sprintf("bench:many:%d", n), AccountID: wallets[n%int64(len(wallets))].accountID, Kind: ledger.Bonus, AmountCents: 1,
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "postings/s")
}

// BenchmarkPostReplay measures a repeated key: the no-op path.
func BenchmarkPostReplay(b *testing.B) {
	pool := testdb.New(b)
	l := ledger.New(pool)
	f := newWallet(b, pool)
	e := ledger.Entry{Key: "bench:replay", AccountID: f.accountID, Kind: ledger.Bonus, AmountCents: 1}
	if _, err := l.Post(context.Background(), e); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Post(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "postings/s")
}
