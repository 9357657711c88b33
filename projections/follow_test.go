package projections_test

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/projections"
)

// TestFollowerWaitsOnTheStore: a runner that follows another process's
// (here, another runner on the same stores) sees its progress from the
// stored checkpoints, answers Wait from them, and hands a rebuild request
// over to the runner that runs the projections.
func TestFollowerWaitsOnTheStore(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	_, last := openTickets(t, s.es, 20, "lead")
	leader, stop := run(t, s, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}, Shared: true})
	defer stop()
	waitFor(t, leader, last)

	var followed, switched atomic.Int32
	var lastFollowed atomic.Value // projections.Followed
	follower, err := projections.New(context.Background(), projections.Config{Events: s.es, Reads: s.rs,
		Projectors: []projections.Projector{projections.TicketsProjector()}, Logger: slog.New(slog.DiscardHandler),
		OnFollowed: func(f projections.Followed) {
			if f.Projection == projections.Tickets && f.Collection == projections.Tickets && f.To.Compare(f.From) > 0 {
				followed.Add(1)
				lastFollowed.Store(f)
			}
		},
		OnSwitched: func(name, _ string) {
			if name == projections.Tickets {
				switched.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- follower.Follow(ctx) }()
	defer func() { cancel(); <-done }()

	_, last = openTickets(t, s.es, 5, "more")
	start := time.Now()
	waitFor(t, follower, last)
	t.Logf("the follower saw the leader's write after %s", time.Since(start).Round(time.Millisecond))
	poll(t, "the follower to be ready", follower.Ready)
	// What a follower has instead of OnApplied: the checkpoint moved.
	poll(t, "the follower to hear that tickets moved", func() bool { return followed.Load() > 0 })
	// Whose records moved: the companies of the events applied.
	f := lastFollowed.Load().(projections.Followed)
	if companies, ok, err := follower.Companies(context.Background(), f, 1000); err != nil || !ok || !slices.Equal(companies, []string{"c1"}) {
		t.Fatalf("companies of %+v: %v %v %v; want [c1]", f, companies, ok, err)
	}
	// Past the limit, the answer is "any".
	whole := projections.Followed{Projection: projections.Tickets, Collection: projections.Tickets, To: last}
	if companies, ok, err := follower.Companies(context.Background(), whole, 3); err != nil || ok || companies != nil {
		t.Fatalf("companies of the whole log, at most 3 events: %v %v %v; want not ok", companies, ok, err)
	}

	poll(t, "the follower to take the request", func() bool {
		return follower.Rebuild(context.Background(), projections.Tickets, "asked on the follower") == nil
	})
	poll(t, "the leader to rebuild and the follower to see it", func() bool {
		return statusOf(follower, projections.Tickets).Generation == 2 && statusOf(leader, projections.Tickets).Generation == 2
	})
	poll(t, "the follower to hear of the switch", func() bool { return switched.Load() == 1 })
	if err := follower.Resume(projections.Tickets); err == nil {
		t.Fatal("resuming a projection that is not halted, on the follower: no error")
	}
}

// TestLeaseTakeover: one holder at a time; a holder that stops renewing
// (as if killed) is taken over once its lease has expired, and a released
// lease at once.
func TestLeaseTakeover(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, err := projections.NewLease(ctx, s.rs, "projections", "a", 1500*time.Millisecond, log)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := projections.NewLease(ctx, s.rs, "projections", "b", 1500*time.Millisecond, log)
	actx, kill := context.WithCancel(ctx)
	heldA, err := a.Hold(actx)
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(ctx, 1200*time.Millisecond)
	if _, err := b.Hold(bctx); err == nil {
		t.Fatal("b took a live lease")
	}
	bcancel()
	if holder, _, _ := b.Current(ctx); holder != "a" {
		t.Fatalf("holder %q, want a", holder)
	}
	kill() // a dies: no renewal, no release
	<-heldA.Done()
	start := time.Now()
	bctx, stopB := context.WithCancel(ctx)
	heldB, err := b.Hold(bctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took > 3*time.Second {
		t.Fatalf("takeover took %s, more than two lease times", took)
	}
	t.Logf("takeover after the holder died: %s", took.Round(time.Millisecond))
	// A graceful stop: b stops its work, then releases; c need not wait.
	stopB()
	<-heldB.Done()
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := projections.NewLease(ctx, s.rs, "projections", "c", 1500*time.Millisecond, log)
	cctx, ccancel := context.WithTimeout(ctx, time.Second)
	defer ccancel()
	if _, err := c.Hold(cctx); err != nil {
		t.Fatalf("a released lease was not free: %v", err)
	}
}
