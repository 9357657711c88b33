package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"agentdesk/domain/resource"
	"agentdesk/domain/syncrun"
	"agentdesk/eventstore"
)

// SyncRuns is the name of the sync_runs read model and of its projection.
var SyncRuns = resource.SyncRuns.CollectionName()

// SyncRun is a document of the sync_runs read model: one run.
type SyncRun struct {
	ID            string `json:"id"`
	CompanyID     string `json:"company_id"`
	AgentID       string `json:"agent_id"`
	IntegrationID string `json:"integration_id"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	// Since is the mark the run read changes after; empty for a full
	// run. Mark is where the next run reads from, once finished.
	Since   string `json:"since"`
	Mark    string `json:"mark"`
	Added   int    `json:"added"`
	Updated int    `json:"updated"`
	Removed int    `json:"removed"`
	// Error says why a failed run stopped.
	Error      string     `json:"error"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// Revision is the revision of the agent's sync stream at the run's
	// last event.
	Revision uint64 `json:"revision"`
}

// SyncRunsProjector builds the sync_runs read model: each run of an
// agent's sync stream is its own document, named by its run id.
func SyncRunsProjector() Projector {
	return &Def[SyncRun]{
		ProjectionName: SyncRuns,
		Spec:           collectionOf(resource.SyncRuns),
		Categories:     []string{syncrun.Category},
		DocID:          syncRunID,
		Creates:        []string{syncrun.TypeStarted},
		Project:        projectSyncRun,
	}
}

// syncRunID is the run id every sync event carries.
func syncRunID(ev eventstore.RecordedEvent) string {
	var v struct {
		RunID string `json:"run_id"`
	}
	if json.Unmarshal(ev.Data, &v) != nil {
		return ""
	}
	return v.RunID
}

func projectSyncRun(ev eventstore.RecordedEvent, cur *SyncRun) (*SyncRun, error) {
	e, err := decode(syncrun.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	if e, ok := e.(*syncrun.Started); ok {
		return &SyncRun{ID: e.RunID, CompanyID: e.CompanyID, AgentID: e.AgentID, IntegrationID: e.IntegrationID,
			Type: e.Type, Status: string(syncrun.StatusRunning), Since: e.Since, StartedAt: at, UpdatedAt: at, Revision: ev.Revision}, nil
	}
	if cur == nil {
		return nil, fmt.Errorf("%s of a run that never started", ev.Type)
	}
	next := *cur
	switch e := e.(type) {
	case *syncrun.ItemsRecorded:
		next.Added += len(e.Added)
		next.Updated += len(e.Updated)
		next.Removed += len(e.Removed)
	case *syncrun.Finished:
		next.Status, next.Mark, next.FinishedAt = string(syncrun.StatusFinished), e.Mark, &at
		next.Added, next.Updated, next.Removed = e.Added, e.Updated, e.Removed
	case *syncrun.Failed:
		next.Status, next.Error, next.FinishedAt = string(syncrun.StatusFailed), e.Reason, &at
	default:
		return nil, fmt.Errorf("unexpected sync event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}
