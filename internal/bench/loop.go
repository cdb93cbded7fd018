package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Two ways to drive a target. Closed loop: N workers, each sending its next
// request when its last one answered (concurrency N; a slow target slows
// the load). Open loop: requests leave at fixed times whatever the earlier
// ones are doing, and each latency counts from its scheduled time, so a
// target (or a client) that falls behind shows as latency rather than
// silently sending less (coordinated omission).

// closedLoop runs workers goroutines; each takes the next job from next
// until it says stop, and runs do on it. It returns when all are done.
func closedLoop(ctx context.Context, workers int, next func() (int, bool), do func(ctx context.Context, worker, job int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				job, ok := next()
				if !ok {
					return
				}
				do(ctx, w, job)
			}
		}()
	}
	wg.Wait()
}

// jobs hands out 0..n-1, once each.
func jobs(n int) func() (int, bool) {
	var i atomic.Int64
	return func() (int, bool) {
		j := int(i.Add(1) - 1)
		return j, j < n
	}
}

// jobsWhile hands out 0, 1, 2, ... while more() holds.
func jobsWhile(more func() bool) func() (int, bool) {
	var i atomic.Int64
	return func() (int, bool) {
		return int(i.Add(1) - 1), more()
	}
}

// schedule is n send times at rate per second from start, shifted by
// phase (0 to 1) of an interval: two schedules of one rate with phases 0
// and 0.5 interleave evenly.
func schedule(start time.Time, rate float64, n int, phase float64) []time.Time {
	out := make([]time.Time, n)
	interval := float64(time.Second) / rate
	for i := range out {
		out[i] = start.Add(time.Duration((float64(i) + phase) * interval))
	}
	return out
}

// clock is the open loop's time: the real one, or a test's.
type clock interface {
	Now() time.Time
	SleepUntil(ctx context.Context, t time.Time)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// openLoop starts send(i) at at[i] (sorted), each in its own goroutine,
// and reports to done how long each took from at[i], its scheduled start,
// to the moment send returned. It returns when every send has.
func openLoop(ctx context.Context, c clock, at []time.Time, send func(ctx context.Context, i int) error, done func(i int, took time.Duration, err error)) {
	var wg sync.WaitGroup
	for i, t := range at {
		c.SleepUntil(ctx, t)
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := send(ctx, i)
			done(i, c.Now().Sub(t), err)
		}()
	}
	wg.Wait()
}
