package reactions_test

import (
	"context"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain/campaign"
	"agentdesk/reactions"
)

// TestSchedulerAcrossRestart: a scheduled campaign becomes active at its
// start and completed at its end, each exactly once, with the scheduler
// stopped and started again between the two (its plan rebuilt from the
// log) and a second scheduler running beside it.
func TestSchedulerAcrossRestart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, admin := w.company(t, "acme")
	ag, err := w.app.CreateAgent(ctx, admin, commands.CreateAgent{Name: "Helper", Model: "gpt-4o-mini"})
	if err != nil {
		t.Fatal(err)
	}
	start, end := w.clock.Now().Add(time.Hour), w.clock.Now().Add(3*time.Hour)
	c, err := w.app.CreateCampaign(ctx, admin, commands.CreateCampaign{Name: "Spring", AgentID: ag.ID, Channel: campaign.Email, StartsAt: &start, EndsAt: &end})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.ChangeCampaignStatus(ctx, admin, c.ID, commands.ChangeCampaignStatus{To: campaign.Scheduled}); err != nil {
		t.Fatal(err)
	}
	status := func() campaign.Status {
		changes := w.find(t, campaign.TypeStatusChanged)
		e, err := campaign.Events.Decode(changes[len(changes)-1].Type, 1, changes[len(changes)-1].Data)
		if err != nil {
			t.Fatal(err)
		}
		return e.(*campaign.StatusChanged).To
	}
	run := func() (stop func()) {
		s, err := reactions.NewScheduler(reactions.SchedulerConfig{Events: w.events, Campaigns: w.app, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("scheduler: %v", err)
			}
		}
	}

	stopA, stopB := run(), run()
	time.Sleep(100 * time.Millisecond) // both have read the log
	if got := status(); got != campaign.Scheduled {
		t.Fatalf("before its start: got %s, want scheduled", got)
	}
	w.clock.Advance(61 * time.Minute)
	eventually(t, "the campaign to become active", func() bool { return status() == campaign.Active })
	stopA()
	stopB()

	// Restarted: the plan comes back from the log.
	stopC := run()
	defer stopC()
	time.Sleep(100 * time.Millisecond)
	w.clock.Advance(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if got := status(); got != campaign.Active {
		t.Fatalf("before its end: got %s, want active", got)
	}
	w.clock.Advance(time.Hour)
	eventually(t, "the campaign to complete", func() bool { return status() == campaign.Completed })
	time.Sleep(100 * time.Millisecond)

	changes := w.find(t, campaign.TypeStatusChanged)
	if len(changes) != 3 { // scheduled, active, completed
		t.Fatalf("got %d status changes, want 3 (each transition once)", len(changes))
	}
	for _, ev := range changes[1:] {
		if ev.Metadata.ActorID != "system:"+reactions.SchedulerName || ev.Metadata.ActorRole != "system" {
			t.Errorf("%s by %s (%s), want the scheduler", ev.Type, ev.Metadata.ActorID, ev.Metadata.ActorRole)
		}
		if ev.Metadata.CausationID == "" || ev.Metadata.CausationID == ev.Metadata.CommandID {
			t.Errorf("causation %q: want the event that set the plan", ev.Metadata.CausationID)
		}
	}
}
