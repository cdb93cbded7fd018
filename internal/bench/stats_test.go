package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func msDurations(xs ...int) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentilesByNearestRank(t *testing.T) {
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name               string
		xs                 []time.Duration
		p50, p95, p99, max float64
	}{
		{"1..100", hundred, 50, 95, 99, 100},
		{"one sample", msDurations(7), 7, 7, 7, 7},
		{"ten samples: p95 and p99 are the largest", msDurations(10, 1, 9, 2, 8, 3, 7, 4, 6, 5), 5, 10, 10, 10},
		{"two samples", msDurations(3, 1), 1, 3, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := summarize(tc.xs)
			if r.N != len(tc.xs) || r.P50 != tc.p50 || r.P95 != tc.p95 || r.P99 != tc.p99 || r.Max != tc.max {
				t.Fatalf("got n=%d p50=%v p95=%v p99=%v max=%v, want %v %v %v %v", r.N, r.P50, r.P95, r.P99, r.Max, tc.p50, tc.p95, tc.p99, tc.max)
			}
		})
	}
	if r := summarize(nil); r.N != 0 || r.P99 != 0 {
		t.Fatalf("empty sample: %+v", r)
	}
	// Sub-millisecond precision survives.
	if r := summarize([]time.Duration{1500 * time.Microsecond}); r.P50 != 1.5 {
		t.Fatalf("1.5 ms reads %v", r.P50)
	}
}

func TestRecorderCountsEveryErrorBesideTheLatencies(t *testing.T) {
	rec := newRecorder()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case i%10 == 0:
				rec.fail("503")
			case i%25 == 1:
				rec.fail("timeout")
			default:
				rec.ok(time.Duration(i) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	row := rec.row("k", "name")
	if row.Errors != 14 || row.ErrorKinds["503"] != 10 || row.ErrorKinds["timeout"] != 4 || row.N != 86 || rec.count() != 100 {
		t.Fatalf("row %+v, count %d", row, rec.count())
	}
	if row.Key != "k" || row.Name != "name" {
		t.Fatalf("row named %q %q", row.Key, row.Name)
	}
}

func TestRatioDividesEachPercentileAndLeavesMissingOnesOut(t *testing.T) {
	floor := Row{Key: "floor", N: 10, P50: 100, P95: 200, P99: 400}
	app := Row{Key: "app", N: 10, P50: 130, P95: 300, P99: 600, Errors: 3}
	x := ratio("app/floor", app, floor)
	if x.P50 != 1.3 || x.P95 != 1.5 || x.P99 != 1.5 || x.Row != "app" || x.Floor != "floor" || x.RowErrors != 3 || x.FloorErrors != 0 {
		t.Fatalf("ratio %+v", x)
	}
	if x := ratio("none", app, Row{}); x.P50 != 0 || x.P99 != 0 {
		t.Fatalf("ratio to an empty floor %+v", x)
	}
	if x := ratio("none", Row{}, floor); x.P50 != 0 {
		t.Fatalf("ratio of an empty row %+v", x)
	}
}

func TestScheduleSpacesRequestsEvenlyAndInterleaves(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := schedule(start, 50, 4, 0)
	b := schedule(start, 50, 4, 0.5)
	for i := range 4 {
		if want := start.Add(time.Duration(i) * 20 * time.Millisecond); !a[i].Equal(want) {
			t.Fatalf("a[%d] = %v, want %v", i, a[i].Sub(start), want.Sub(start))
		}
		if want := start.Add(time.Duration(i)*20*time.Millisecond + 10*time.Millisecond); !b[i].Equal(want) {
			t.Fatalf("b[%d] = %v, want %v", i, b[i].Sub(start), want.Sub(start))
		}
	}
	at := append(a, b...)
	order := interleave(at, 4)
	want := []int{0, 4, 1, 5, 2, 6, 3, 7}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	for i := 1; i < len(order); i++ {
		if at[order[i]].Before(at[order[i-1]]) {
			t.Fatalf("interleaved times not sorted: %v", order)
		}
	}
	// 100/s for 500 requests spans 4.99 s.
	if s := schedule(start, 100, 500, 0); s[499].Sub(s[0]) != 4990*time.Millisecond {
		t.Fatalf("span %v", s[499].Sub(s[0]))
	}
}

// laggingClock is a dispatcher that wakes late: each send leaves lag after
// its scheduled time, as on a loaded machine.
type laggingClock struct{ lag time.Duration }

func (c laggingClock) Now() time.Time { return time.Now() }

func (c laggingClock) SleepUntil(ctx context.Context, t time.Time) {
	realClock{}.SleepUntil(ctx, t.Add(c.lag))
}

// The open loop counts each latency from the scheduled time, not from when
// the request left: a late dispatcher shows in the latency (sleeps last at
// least as long as asked, so these bounds hold on any machine).
func TestOpenLoopCountsFromTheScheduledTime(t *testing.T) {
	const lag, service = 30 * time.Millisecond, 20 * time.Millisecond
	at := schedule(time.Now(), 1000, 5, 0)
	var mu sync.Mutex
	took := map[int]time.Duration{}
	openLoop(context.Background(), laggingClock{lag: lag}, at, func(ctx context.Context, i int) error {
		time.Sleep(service)
		return nil
	}, func(i int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		took[i] = d
	})
	if len(took) != 5 {
		t.Fatalf("%d sends reported, want 5", len(took))
	}
	for i, d := range took {
		if d < lag+service {
			t.Fatalf("send %d took %v from its schedule; it left %v late and ran %v", i, d, lag, service)
		}
	}
}

// Open loop: a slow request does not hold back the next; all are in
// flight at once. Closed loop: never more than its workers.
func TestOpenLoopDoesNotWaitForAnswersAndClosedLoopDoes(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	send := func(ctx context.Context, i int) error {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		return errors.New("refused")
	}
	var errs atomic.Int64
	done := make(chan struct{})
	go func() {
		openLoop(context.Background(), realClock{}, schedule(time.Now(), 1000, 8, 0), send,
			func(i int, d time.Duration, err error) {
				if err != nil {
					errs.Add(1)
				}
			})
		close(done)
	}()
	for peak.Load() < 8 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-done
	if errs.Load() != 8 {
		t.Fatalf("%d errors reported, want 8", errs.Load())
	}

	inFlight.Store(0)
	peak.Store(0)
	var ran atomic.Int64
	closedLoop(context.Background(), 3, jobs(20), func(ctx context.Context, worker, job int) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		ran.Add(1)
		inFlight.Add(-1)
	})
	if ran.Load() != 20 || peak.Load() > 3 {
		t.Fatalf("closed loop ran %d jobs with %d at once, want 20 with at most 3", ran.Load(), peak.Load())
	}
}

func TestJobsWhileStopsWhenTold(t *testing.T) {
	var left atomic.Int64
	left.Store(5)
	next := jobsWhile(func() bool { return left.Add(-1) >= 0 })
	n := 0
	for {
		if _, ok := next(); !ok {
			break
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d jobs, want 5", n)
	}
}
