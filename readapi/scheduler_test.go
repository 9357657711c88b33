package readapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSchedulerTakesTurns: with every slot busy, freed slots go to the
// waiting companies in turn, never two in a row to the company with the
// longer queue; a company never runs more than its cap; a waiter that
// gives up leaves no trace.
func TestSchedulerTakesTurns(t *testing.T) {
	s := newScheduler(1, 2)
	ctx := context.Background()
	first, err := s.acquire(ctx, "heavy")
	if err != nil {
		t.Fatal(err)
	}
	type grant struct {
		company string
		release func()
	}
	granted := make(chan grant, 16)
	wait := func(company string) {
		go func() {
			release, err := s.acquire(ctx, company)
			if err != nil {
				t.Error(err)
				return
			}
			granted <- grant{company, release}
		}()
	}
	queued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s.mu.Lock()
			got := 0
			for _, q := range s.waiting {
				got += len(q)
			}
			s.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiters; want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for range 4 {
		wait("heavy")
	}
	queued(4)
	wait("quiet")
	queued(5)
	wait("quiet")
	queued(6)

	// A waiter that gives up is forgotten.
	gone, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(gone, "other"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiter past its deadline: %v", err)
	}
	queued(6)

	first()
	var order []string
	for range 6 {
		g := <-granted
		order = append(order, g.company)
		g.release()
	}
	// heavy's queue came first, then quiet's: turns alternate while both
	// wait.
	want := []string{"heavy", "quiet", "heavy", "quiet", "heavy", "heavy"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("turns %v; want %v", order, want)
		}
	}
	if s.free != 1 || len(s.running) != 0 || len(s.waiting) != 0 || len(s.turn) != 0 {
		t.Fatalf("after every release: free %d, running %v, waiting %v, turn %v", s.free, s.running, s.waiting, s.turn)
	}

	// The per-company cap holds even with free slots.
	s = newScheduler(3, 2)
	a, _ := s.acquire(ctx, "a")
	b, _ := s.acquire(ctx, "a")
	short, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	if _, err := s.acquire(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third query of a company capped at 2: %v; want to wait", err)
	}
	c, err := s.acquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	a()
	b()
	c()
}
