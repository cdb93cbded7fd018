package fault_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/fault"
)

func TestCopies(t *testing.T) {
	if n := fault.Copies(0, false); n != 1 {
		t.Fatalf("no copies asked: %d, want 1", n)
	}
	if n := fault.Copies(3, false); n != 3 {
		t.Fatalf("3 copies: %d", n)
	}
	seen := map[int]bool{}
	for range 500 {
		n := fault.Copies(3, true)
		if n < 1 || n > 3 {
			t.Fatalf("random copies out of 1..3: %d", n)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Fatalf("random copies took only %v", seen)
	}
}

func TestRepeatKeepsEveryCopy(t *testing.T) {
	got := fault.Repeat([]string{"a", "b"}, 2, false, false)
	if !slices.Equal(got, []string{"a", "a", "b", "b"}) {
		t.Fatalf("in order: %v", got)
	}
	items := []int{1, 2, 3, 4, 5, 6, 7, 8}
	reordered := false
	for range 50 {
		got := fault.Repeat(items, 3, false, true)
		if len(got) != 24 {
			t.Fatalf("shuffled: %d items, want 24", len(got))
		}
		sorted := slices.Sorted(slices.Values(got))
		for i, v := range sorted {
			if v != items[i/3] {
				t.Fatalf("shuffled copies are not 3 of each: %v", got)
			}
		}
		reordered = reordered || !slices.IsSorted(got)
	}
	if !reordered {
		t.Fatal("50 shuffles kept the order")
	}
}

func TestPauseStopsWithItsContext(t *testing.T) {
	if err := fault.Pause(context.Background(), 0); err != nil {
		t.Fatalf("no pause: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fault.Pause(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pause: %v", err)
	}
}
