// Package fault is how the simulators misbehave as Twilio and Stripe do:
// a delivery sent more than once, deliveries out of order, each held back
// a random moment. The carrier and payment simulators each keep their own
// Faults (what can go wrong differs: a lost final callback, an unrelated
// event) and take the copying, shuffling and waiting from here.
package fault

import (
	"context"
	"math/rand/v2"
	"time"
)

// Copies is how many times to deliver one message: copies (at least 1), or
// 1 to copies at random.
func Copies(copies int, random bool) int {
	n := max(copies, 1)
	if random {
		n = 1 + rand.IntN(n)
	}
	return n
}

// Repeat lists every item Copies(copies, random) times, each item's copies
// side by side, and shuffles the whole list when asked.
func Repeat[T any](items []T, copies int, random, shuffle bool) []T {
	var all []T
	for _, it := range items {
		for range Copies(copies, random) {
			all = append(all, it)
		}
	}
	if shuffle {
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	return all
}

// Pause waits a random moment shorter than upTo (not at all when upTo is
// not positive), or until ctx is done, whose error it then returns.
func Pause(ctx context.Context, upTo time.Duration) error {
	if upTo <= 0 {
		return nil
	}
	t := time.NewTimer(rand.N(upTo))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
