package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/conversation"
	"agentdesk/domain/resource"
	"agentdesk/domain/usage"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// spend appends a usage record of companyID ("" for none) at at.
func spend(t *testing.T, es eventstore.Store, companyID, agentID string, at time.Time, prompt, completion int) eventstore.AppendResult {
	t.Helper()
	return appendAt(t, es, usage.Stream(uuid.NewString()), eventstore.NoStream, companyID, at, &usage.Recorded{
		CompanyID: companyID, UserID: "u1", AgentID: agentID, Model: "gpt-4o-mini", Kind: usage.Completion,
		PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion})
}

// usageEvents appends a month's worth of spending: completions on two
// days and across a month's end, an agent's conversation (whose user
// messages cost nothing), another company's and a superadmin's own.
func usageEvents(t *testing.T, es eventstore.Store, co, other, agentID string) eventstore.AppendResult {
	t.Helper()
	day := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	spend(t, es, co, "", day, 10, 5)
	spend(t, es, co, "", day.Add(14*time.Hour+59*time.Minute), 20, 10) // 23:59 UTC
	spend(t, es, co, "", day.Add(15*time.Hour), 1, 1)                  // 00:00 on December 1st
	spend(t, es, other, "", day, 100, 100)
	spend(t, es, "", "", day, 7, 7)
	conv := conversation.Stream(uuid.NewString())
	appendAt(t, es, conv, eventstore.NoStream, co, day,
		&conversation.Started{ConversationID: "c", CompanyID: co, AgentID: agentID, UserID: "u2", Title: "Parcel"},
		&conversation.MessagePosted{MessageID: "m1", Seq: 1, AgentID: agentID, Role: conversation.User, Content: "Where is it?"},
		&conversation.MessagePosted{MessageID: "m2", Seq: 2, AgentID: agentID, Role: conversation.Assistant, Content: "On its way.",
			Model: "gpt-4o-mini", Usage: &conversation.Usage{PromptTokens: 300, CompletionTokens: 20, TotalTokens: 320}})
	return spend(t, es, co, agentID, day.Add(time.Hour), 4, 4)
}

func TestUsageReadModels(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.UsageProjector(), projections.UsageMonthlyProjector())
	defer stop()
	ctx := context.Background()
	co, other, agentID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	res := usageEvents(t, s.es, co, other, agentID)
	waitForProjection(t, r, projections.Usage, res.Position)
	waitForProjection(t, r, projections.UsageMonthly, res.Position)
	nov30 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

	day := mustDoc[projections.DailyUsage](t, s.rs, resource.Usage, usage.DayKey(co, nov30, ""))
	if day.CompanyID == nil || *day.CompanyID != co || day.AgentID != nil || day.Day != "2026-11-30" || day.Month != "2026-11" ||
		day.PromptTokens != 30 || day.CompletionTokens != 15 || day.TotalTokens != 45 || day.Requests != 2 ||
		!day.UpdatedAt.Equal(time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)) {
		t.Errorf("the company's day without agent: got %+v", day)
	}
	agent := mustDoc[projections.DailyUsage](t, s.rs, resource.Usage, usage.DayKey(co, nov30, agentID))
	if agent.AgentID == nil || *agent.AgentID != agentID || agent.TotalTokens != 328 || agent.PromptTokens != 304 || agent.Requests != 2 {
		t.Errorf("the agent's day (a reply and a record; the user's message costs nothing): got %+v", agent)
	}
	dec1 := mustDoc[projections.DailyUsage](t, s.rs, resource.Usage, usage.DayKey(co, nov30.Add(24*time.Hour), ""))
	if dec1.Day != "2026-12-01" || dec1.Month != "2026-12" || dec1.TotalTokens != 2 || dec1.Requests != 1 {
		t.Errorf("midnight UTC is the next day: got %+v", dec1)
	}
	platform := mustDoc[projections.DailyUsage](t, s.rs, resource.Usage, usage.DayKey("", nov30, ""))
	if platform.CompanyID != nil || platform.TotalTokens != 14 {
		t.Errorf("a superadmin's own calls: got %+v, want company_id null", platform)
	}
	_, total, err := s.rs.Query(ctx, projections.Usage, readstore.Query{Count: true,
		Where: []readstore.Condition{{Field: "company_id", Op: readstore.Eq, Value: co}, {Field: "day", Op: readstore.Lte, Value: "2026-11-30"}}})
	if err != nil || total != 2 {
		t.Errorf("the company's November days by day_lte: got %d (%v), want 2", total, err)
	}

	month := func(companyID string, at time.Time) (projections.MonthlyUsage, bool) {
		t.Helper()
		d, err := s.rs.Get(ctx, projections.UsageMonthly, usage.MonthKey(companyID, at))
		if errors.Is(err, readstore.ErrNotFound) {
			return projections.MonthlyUsage{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		var m projections.MonthlyUsage
		if err := json.Unmarshal(d.Data, &m); err != nil {
			t.Fatal(err)
		}
		return m, true
	}
	if m, _ := month(co, nov30); m.CompanyID != co || m.Month != "2026-11" || m.TotalTokens != 45+328 || m.PromptTokens != 334 || m.Requests != 4 {
		t.Errorf("the company's November: got %+v", m)
	}
	if m, _ := month(co, nov30.Add(24*time.Hour)); m.TotalTokens != 2 {
		t.Errorf("the company's December: got %+v", m)
	}
	if m, _ := month(other, nov30); m.TotalTokens != 200 {
		t.Errorf("the other company's November: got %+v", m)
	}
	if m, ok := month("", nov30); ok {
		t.Errorf("a superadmin's own calls count against a month: %+v", m)
	}
}

// A batch applied twice counts nothing twice: each document's version is
// the position of the last event summed into it. Replayed alone, the
// store's version guard would also stop a double count; replayed with
// new events after it (a batch whose writes landed but whose checkpoint
// did not, read again with more), only Fold's guard does.
func TestUsageReplayCountsOnce(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	usageEvents(t, s.es, uuid.NewString(), uuid.NewString(), uuid.NewString())
	for _, p := range []projections.Projector{projections.UsageProjector(), projections.UsageMonthlyProjector()} {
		for _, from := range []int{0, 3} {
			replayTail(t, s, p, from)
		}
		evs := readAll(t, s.es, p.Filter())
		fresh := openStores(t, t.TempDir())
		defer fresh.close()
		fold := func(st stores, evs []eventstore.RecordedEvent) {
			t.Helper()
			if err := st.rs.Ensure(ctx, p.Collection()); err != nil {
				t.Fatal(err)
			}
			writes, err := p.Fold(ctx, st.rs, evs)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
				t.Fatal(err)
			}
		}
		// All but the last, then all but the first: the agent's day and the
		// company's month have events on both sides of the cut.
		fold(fresh, evs[:len(evs)-1])
		fold(fresh, evs[1:])
		once := openStores(t, t.TempDir())
		defer once.close()
		fold(once, evs)
		got, want := snapshot(t, fresh.rs, p.Collection().Name), snapshot(t, once.rs, p.Collection().Name)
		if len(got) != len(want) || len(want) < 3 {
			t.Fatalf("%s: got %d documents, want %d (and at least 3)", p.Name(), len(got), len(want))
		}
		for id, doc := range want {
			if got[id] != doc {
				t.Errorf("%s: events applied twice: %s is %s, want %s", p.Name(), id, got[id], doc)
			}
		}
	}
}

// readAll reads every event that passes filter.
func readAll(t *testing.T, es eventstore.Store, filter eventstore.Filter) []eventstore.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := es.Subscribe(ctx, eventstore.Start, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var out []eventstore.RecordedEvent
	for {
		b, err := sub.Next(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Events...)
		if b.CaughtUp {
			return out
		}
	}
}

// An event that cannot be decoded stops the projection, naming it,
// rather than being left out of the totals unseen.
func TestUsageUndecodable(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	p := projections.UsageProjector()
	if err := s.rs.Ensure(ctx, p.Collection()); err != nil {
		t.Fatal(err)
	}
	ev := eventstore.RecordedEvent{ID: uuid.NewString(), StreamID: usage.Stream(uuid.NewString()), Type: usage.TypeRecorded, SchemaVersion: 1,
		Data: json.RawMessage(`{"total_tokens":"many"}`), Metadata: eventstore.Metadata{CompanyID: uuid.NewString(), RecordedAt: time.Now()}}
	ev.Position = eventstore.Position{Commit: 1, Prepare: 1}
	_, err := p.Fold(ctx, s.rs, []eventstore.RecordedEvent{ev})
	var ee *projections.EventError
	if !errors.As(err, &ee) || ee.Event.ID != ev.ID {
		t.Fatalf("got %v, want an EventError naming the event", err)
	}
}
