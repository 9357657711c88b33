package reactions_test

import (
	"context"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain/agent"
	"agentdesk/domain/syncrun"
	"agentdesk/reactions"
)

// TestSyncSchedulerStartsEachInterval: at each multiple of the interval
// a run of every integration of every active agent starts, once even
// with two schedulers; a run still going is left alone, an inactive
// agent is skipped.
func TestSyncSchedulerStartsEachInterval(t *testing.T) {
	w := newSyncWorld(t)
	ctx := context.Background()
	idle, err := w.app.CreateAgent(ctx, w.admin, commands.CreateAgent{Name: "Idle", Model: "gpt-4o-mini",
		Integrations: []agent.IntegrationInput{{Type: agent.WordPress, SiteURL: "https://blog.example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.DeactivateAgent(ctx, w.admin, idle.ID, nil); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	for range 2 {
		s, err := reactions.NewSyncScheduler(reactions.SyncSchedulerConfig{Events: w.events, Syncs: w.app, Interval: 10 * time.Minute, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- s.Run(runCtx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
	// The clock starts at 09:00: both schedulers wait for 09:10.
	eventually(t, "both schedulers waiting", func() bool {
		w.clock.mu.Lock()
		defer w.clock.mu.Unlock()
		return len(w.clock.waiters) == 2
	})
	w.clock.Advance(10 * time.Minute)
	eventually(t, "a run started", func() bool { return w.count(t, syncrun.TypeStarted) == 1 })
	eventually(t, "both schedulers waiting again", func() bool {
		w.clock.mu.Lock()
		defer w.clock.mu.Unlock()
		return len(w.clock.waiters) == 2
	})
	if got := w.count(t, syncrun.TypeStarted); got != 1 {
		t.Fatalf("got %d runs started, want 1 (the inactive agent skipped, the two schedulers one run)", got)
	}
	// The run is still going at the next interval: nothing new starts.
	w.clock.Advance(10 * time.Minute)
	eventually(t, "both schedulers waiting a third time", func() bool {
		w.clock.mu.Lock()
		defer w.clock.mu.Unlock()
		return len(w.clock.waiters) == 2
	})
	if got := w.count(t, syncrun.TypeStarted); got != 1 {
		t.Fatalf("got %d runs started, want still 1", got)
	}
	started := w.find(t, syncrun.TypeStarted)[0]
	if started.Metadata.ActorID != "system:"+reactions.SyncSchedulerName {
		t.Fatalf("started by %q, want the scheduler", started.Metadata.ActorID)
	}
}
