// Package syncrun is the Syncs aggregate: the runs that copy an agent's
// shop products and site pages into its knowledge chunks. One stream per
// agent holds the runs of all its integrations, so that starting a run
// can see, in the same state it appends to, whether one of that
// integration is still running and where the last finished one stopped.
// Each run is a record of its own in the read model.
package syncrun

import (
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"agentdesk/domain"
)

// Status is where a run stands.
type Status string

// Statuses, in domain order.
const (
	StatusRunning  Status = "running"
	StatusFinished Status = "finished"
	StatusFailed   Status = "failed"
)

// Statuses lists the statuses in domain order.
var Statuses = []Status{StatusRunning, StatusFinished, StatusFailed}

// MaxRunTime is the longest a run may take: a run still running after it
// was abandoned (its process died and nothing took it over), and the
// next start fails it.
const MaxRunTime = time.Hour

// MaxReason is the longest failure reason kept, in characters.
const MaxReason = 2000

// Syncs is the state of one agent's sync runs, rebuilt from its events.
// Apply never changes a map in place, so a copy of a state stays as it
// was.
type Syncs struct {
	AgentID   string
	CompanyID string
	// Integrations holds each integration's sync state, by integration
	// id.
	Integrations map[string]Integration
	// Runs maps each run id to its integration id.
	Runs map[string]string
	// Version is the number of events applied.
	Version uint64
}

// Integration is the sync state of one integration.
type Integration struct {
	// Running is the id of the run in progress, "" when none is, and
	// RunningSince when it started.
	Running      string
	RunningSince time.Time
	// Mark is where the last finished run stopped.
	Mark string
	// Known holds the remote ids of the items that have a chunk.
	Known map[string]bool
	// Added, Updated and Removed are the remote ids the running run
	// recorded.
	Added, Updated, Removed map[string]bool
}

// Run returns the state of the integration runID belongs to, and whether
// that run is the one in progress.
func (s *Syncs) Run(runID string) (Integration, bool) {
	it := s.Integrations[s.Runs[runID]]
	return it, runID != "" && it.Running == runID
}

// Apply evolves s by one event.
func (s *Syncs) Apply(e domain.Event) {
	s.Version++
	switch e := e.(type) {
	case *Started:
		s.AgentID, s.CompanyID = e.AgentID, e.CompanyID
		s.Runs = maps.Clone(s.Runs)
		if s.Runs == nil {
			s.Runs = map[string]string{}
		}
		s.Runs[e.RunID] = e.IntegrationID
		it := s.Integrations[e.IntegrationID]
		it.Running, it.RunningSince = e.RunID, e.At
		it.Added, it.Updated, it.Removed = map[string]bool{}, map[string]bool{}, map[string]bool{}
		s.set(e.IntegrationID, it)
	case *ItemsRecorded:
		id := s.Runs[e.RunID]
		it := s.Integrations[id]
		it.Known = cloneSet(it.Known)
		it.Added, it.Updated, it.Removed = cloneSet(it.Added), cloneSet(it.Updated), cloneSet(it.Removed)
		for _, r := range e.Added {
			it.Added[r], it.Known[r] = true, true
		}
		for _, r := range e.Updated {
			it.Updated[r] = true
		}
		for _, r := range e.Removed {
			it.Removed[r] = true
			delete(it.Known, r)
		}
		s.set(id, it)
	case *Finished:
		id := s.Runs[e.RunID]
		it := s.Integrations[id]
		it.Running, it.Mark = "", e.Mark
		it.Added, it.Updated, it.Removed = nil, nil, nil
		s.set(id, it)
	case *Failed:
		id := s.Runs[e.RunID]
		it := s.Integrations[id]
		it.Running = ""
		it.Added, it.Updated, it.Removed = nil, nil, nil
		s.set(id, it)
	}
}

// cloneSet returns a copy of set that may be written to (never nil).
func cloneSet(set map[string]bool) map[string]bool {
	if set == nil {
		return map[string]bool{}
	}
	return maps.Clone(set)
}

func (s *Syncs) set(id string, it Integration) {
	s.Integrations = maps.Clone(s.Integrations)
	if s.Integrations == nil {
		s.Integrations = map[string]Integration{}
	}
	s.Integrations[id] = it
}

// StartCmd starts a run of one integration of an agent; the caller has
// checked that the agent has it.
type StartCmd struct {
	RunID         string
	AgentID       string
	CompanyID     string
	IntegrationID string
	Type          string
	// Now is the time of the start.
	Now time.Time
}

// Start decides starting a run: refused with domain.ErrConflict while a
// run of the same integration is in progress, unless that run started
// more than MaxRunTime ago: it was abandoned, and is failed first. The
// run reads changes after the last finished run's mark.
func (s *Syncs) Start(c StartCmd) ([]domain.Event, error) {
	p := domain.Problems{}
	for field, id := range map[string]string{"run_id": c.RunID, "agent_id": c.AgentID, "company_id": c.CompanyID, "integration_id": c.IntegrationID} {
		if !domain.ValidID(id) {
			p.Add(field, "must be a UUID")
		}
	}
	if c.Type == "" {
		p.Add("type", "is required")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if s.Version > 0 && (s.AgentID != c.AgentID || s.CompanyID != c.CompanyID) {
		return nil, fmt.Errorf("%w: these runs are of another agent", domain.ErrInvalidTransition)
	}
	if _, ok := s.Runs[c.RunID]; ok {
		return nil, domain.ErrAlreadyExists
	}
	it := s.Integrations[c.IntegrationID]
	var evs []domain.Event
	if it.Running != "" {
		if c.Now.Sub(it.RunningSince) < MaxRunTime {
			return nil, fmt.Errorf("%w: run %s of this integration is still running", domain.ErrConflict, it.Running)
		}
		evs = append(evs, &Failed{RunID: it.Running, Reason: fmt.Sprintf("abandoned: still running %s after it started", MaxRunTime)})
	}
	return append(evs, &Started{RunID: c.RunID, AgentID: c.AgentID, CompanyID: c.CompanyID,
		IntegrationID: c.IntegrationID, Type: c.Type, Since: it.Mark, At: c.Now.UTC()}), nil
}

// RecordCmd records what a run did to chunks, by remote id.
type RecordCmd struct {
	RunID                   string
	Added, Updated, Removed []string
}

// Record decides recording items of a running run. Ids the run already
// recorded under the same heading are left out, so recording the same
// items again (a redelivered run) records nothing.
func (s *Syncs) Record(c RecordCmd) ([]domain.Event, error) {
	it, running := s.Run(c.RunID)
	if !running {
		return nil, notRunning(c.RunID)
	}
	e := &ItemsRecorded{RunID: c.RunID, Added: fresh(c.Added, it.Added), Updated: fresh(c.Updated, it.Updated), Removed: fresh(c.Removed, it.Removed)}
	if len(e.Added)+len(e.Updated)+len(e.Removed) == 0 {
		return nil, nil
	}
	return []domain.Event{e}, nil
}

// Finish decides the end of a running run, with its totals; mark is
// where the next run reads changes from ("" keeps reading everything).
func (s *Syncs) Finish(runID, mark string) ([]domain.Event, error) {
	it, running := s.Run(runID)
	if !running {
		return nil, notRunning(runID)
	}
	return []domain.Event{&Finished{RunID: runID, Mark: mark, Added: len(it.Added), Updated: len(it.Updated), Removed: len(it.Removed)}}, nil
}

// Fail decides the failure of a running run, with its reason (cut to
// MaxReason characters).
func (s *Syncs) Fail(runID, reason string) ([]domain.Event, error) {
	if _, running := s.Run(runID); !running {
		return nil, notRunning(runID)
	}
	if utf8.RuneCountInString(reason) > MaxReason {
		reason = string([]rune(reason)[:MaxReason])
	}
	if reason == "" {
		reason = "failed"
	}
	return []domain.Event{&Failed{RunID: runID, Reason: reason}}, nil
}

func notRunning(runID string) error {
	return fmt.Errorf("%w: run %s is not running", domain.ErrInvalidTransition, runID)
}

// fresh returns the ids of in not in seen, sorted and without
// duplicates.
func fresh(in []string, seen map[string]bool) []string {
	var out []string
	for _, id := range in {
		if !seen[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
