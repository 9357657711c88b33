package syncrun

import (
	"strings"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	runID     = "11111111-1111-4111-8111-111111111111"
	run2ID    = "22222222-2222-4222-8222-222222222222"
	agentID   = "33333333-3333-4333-8333-333333333333"
	companyID = "44444444-4444-4444-8444-444444444444"
	itID      = "55555555-5555-4555-8555-555555555555"
	otherIt   = "66666666-6666-4666-8666-666666666666"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func started(id, integration string, at time.Time) *Started {
	return &Started{RunID: id, AgentID: agentID, CompanyID: companyID, IntegrationID: integration, Type: "shopify", At: at}
}

func start(id, integration string, at time.Time) func(*Syncs) ([]domain.Event, error) {
	return func(s *Syncs) ([]domain.Event, error) {
		return s.Start(StartCmd{RunID: id, AgentID: agentID, CompanyID: companyID, IntegrationID: integration, Type: "shopify", Now: at})
	}
}

func TestStart(t *testing.T) {
	done := []domain.Event{started(runID, itID, now), &ItemsRecorded{RunID: runID, Added: []string{"a"}}, &Finished{RunID: runID, Mark: "m1", Added: 1}}
	domaintest.Run(t, []domaintest.Spec[Syncs]{
		{Name: "first run reads everything", When: start(runID, itID, now), Want: []domain.Event{started(runID, itID, now)}},
		{Name: "next run reads from the last mark", Given: done, When: start(run2ID, itID, now),
			Want: []domain.Event{&Started{RunID: run2ID, AgentID: agentID, CompanyID: companyID, IntegrationID: itID, Type: "shopify", Since: "m1", At: now}}},
		{Name: "refused while one runs", Given: []domain.Event{started(runID, itID, now)}, When: start(run2ID, itID, now.Add(time.Minute)), WantErr: domain.ErrConflict},
		{Name: "another integration may run", Given: []domain.Event{started(runID, itID, now)}, When: start(run2ID, otherIt, now),
			Want: []domain.Event{started(run2ID, otherIt, now)}},
		{Name: "an abandoned run is failed first", Given: []domain.Event{started(runID, itID, now)}, When: start(run2ID, itID, now.Add(MaxRunTime)),
			Want: []domain.Event{&Failed{RunID: runID, Reason: "abandoned: still running 1h0m0s after it started"}, started(run2ID, itID, now.Add(MaxRunTime))}},
		{Name: "a failed run leaves the mark", Given: append(done, started(run2ID, itID, now), &Failed{RunID: run2ID, Reason: "x"}),
			When: start("77777777-7777-4777-8777-777777777777", itID, now),
			Want: []domain.Event{&Started{RunID: "77777777-7777-4777-8777-777777777777", AgentID: agentID, CompanyID: companyID, IntegrationID: itID, Type: "shopify", Since: "m1", At: now}}},
		{Name: "same run id twice", Given: done, When: start(runID, itID, now), WantErr: domain.ErrAlreadyExists},
		{Name: "invalid ids", When: func(s *Syncs) ([]domain.Event, error) { return s.Start(StartCmd{RunID: "x", Type: ""}) },
			WantFields: []string{"agent_id", "company_id", "integration_id", "run_id", "type"}},
	})
}

func TestRecordFinishFail(t *testing.T) {
	running := []domain.Event{
		started(runID, itID, now),
		&ItemsRecorded{RunID: runID, Added: []string{"a", "b"}, Updated: []string{"k"}},
	}
	domaintest.Run(t, []domaintest.Spec[Syncs]{
		{Name: "records new ids only, sorted", Given: running,
			When: func(s *Syncs) ([]domain.Event, error) {
				return s.Record(RecordCmd{RunID: runID, Added: []string{"c", "a", "c"}, Removed: []string{"z"}})
			},
			Want: []domain.Event{&ItemsRecorded{RunID: runID, Added: []string{"c"}, Removed: []string{"z"}}}},
		{Name: "recording again records nothing", Given: running,
			When: func(s *Syncs) ([]domain.Event, error) {
				return s.Record(RecordCmd{RunID: runID, Added: []string{"a", "b"}})
			}},
		{Name: "finish with totals", Given: running,
			When: func(s *Syncs) ([]domain.Event, error) { return s.Finish(runID, "m") },
			Want: []domain.Event{&Finished{RunID: runID, Mark: "m", Added: 2, Updated: 1}}},
		{Name: "finish twice", Given: append(running, &Finished{RunID: runID}),
			When: func(s *Syncs) ([]domain.Event, error) { return s.Finish(runID, "m") }, WantErr: domain.ErrInvalidTransition},
		{Name: "record on a finished run", Given: append(running, &Finished{RunID: runID}),
			When: func(s *Syncs) ([]domain.Event, error) { return s.Record(RecordCmd{RunID: runID, Added: []string{"x"}}) }, WantErr: domain.ErrInvalidTransition},
		{Name: "fail, reason cut", Given: running,
			When: func(s *Syncs) ([]domain.Event, error) { return s.Fail(runID, strings.Repeat("é", MaxReason+5)) },
			Want: []domain.Event{&Failed{RunID: runID, Reason: strings.Repeat("é", MaxReason)}}},
		{Name: "fail an unknown run", When: func(s *Syncs) ([]domain.Event, error) { return s.Fail(runID, "x") }, WantErr: domain.ErrInvalidTransition},
	})
}

// TestKnownFollowsTheRuns: the remote ids with chunks carry over from run
// to run, removed ones leave, and a copy of a state is not changed by
// applying events to another (the command cache shares states).
func TestKnownFollowsTheRuns(t *testing.T) {
	var s Syncs
	for _, e := range []domain.Event{started(runID, itID, now), &ItemsRecorded{RunID: runID, Added: []string{"a", "b"}}, &Finished{RunID: runID, Mark: "m"}} {
		s.Apply(e)
	}
	snapshot := s
	for _, e := range []domain.Event{started(run2ID, itID, now), &ItemsRecorded{RunID: run2ID, Added: []string{"c"}, Removed: []string{"a"}}} {
		s.Apply(e)
	}
	if got := s.Integrations[itID].Known; len(got) != 2 || !got["b"] || !got["c"] {
		t.Fatalf("known: got %v, want b and c", got)
	}
	if got := snapshot.Integrations[itID]; len(got.Known) != 2 || !got.Known["a"] || got.Running != "" {
		t.Fatalf("the earlier copy changed: got %+v", got)
	}
}

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		TypeStarted:       &Started{RunID: runID, AgentID: agentID, CompanyID: companyID, IntegrationID: itID, Type: "wordpress", Since: "2026-11-01T10:00:00Z", At: now},
		TypeItemsRecorded: &ItemsRecorded{RunID: runID, Added: []string{"a"}, Updated: []string{"b"}, Removed: []string{"c"}},
		TypeFinished:      &Finished{RunID: runID, Mark: "m", Added: 1, Updated: 2, Removed: 3},
		TypeFailed:        &Failed{RunID: runID, Reason: "no"},
	})
}
