package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/internal/jobs"
)

// TestRunStopsTheFrontBeforeTheLoops: when the context ends, every front
// job returns before any loop sees its context end, and Run returns only
// after all have returned.
func TestRunStopsTheFrontBeforeTheLoops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var frontDone, loopsDone atomic.Int32
	front := jobs.Job{Name: "front", Run: func(ctx context.Context) error {
		<-ctx.Done()
		frontDone.Add(1)
		return nil
	}}
	loop := jobs.Job{Name: "loop", Run: func(ctx context.Context) error {
		<-ctx.Done()
		if frontDone.Load() != 2 {
			t.Errorf("a loop stopped while %d of 2 front jobs were still running", 2-frontDone.Load())
		}
		loopsDone.Add(1)
		return nil
	}}
	done := make(chan error)
	go func() { done <- jobs.Run(ctx, []jobs.Job{front, front}, []jobs.Job{loop, loop, loop}) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if frontDone.Load() != 2 || loopsDone.Load() != 3 {
		t.Fatalf("Run returned with %d of 2 front jobs and %d of 3 loops returned", frontDone.Load(), loopsDone.Load())
	}
}

// TestAJobThatEndsStopsTheRole: one loop failing stops every job, and Run
// returns its error, named.
func TestAJobThatEndsStopsTheRole(t *testing.T) {
	wait := func(ctx context.Context) error { <-ctx.Done(); return nil }
	err := jobs.Run(context.Background(), []jobs.Job{{Name: "http", Run: wait}},
		[]jobs.Job{{Name: "idle", Run: wait}, {Name: "inbox", Run: func(context.Context) error { return errors.New("broken") }}})
	if err == nil || !strings.Contains(err.Error(), "inbox: broken") {
		t.Fatalf("Run: %v, want the inbox's error", err)
	}
}

// TestEveryRunsItsFirstPassAtStart: a job of a long interval runs its pass
// at once, so an instance restarted more often than the interval still
// does its work; it then waits out the interval, and stops with its ctx.
func TestEveryRunsItsFirstPassAtStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan struct{}, 4)
	j := jobs.Every("sweep", time.Hour, zerolog.Nop(), func(context.Context) error {
		passes <- struct{}{}
		return nil
	})
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	select {
	case <-passes:
	case <-time.After(10 * time.Second):
		t.Fatal("no pass at start of an hourly job")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(passes) != 0 {
		t.Fatalf("%d more passes before the interval", len(passes))
	}
}
