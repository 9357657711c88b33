package commands

import (
	"context"
	"errors"
	"fmt"

	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/syncrun"
)

// StartSync starts a knowledge sync of the agent's integration of type
// typ, for staff who may manage the agent: an agent they cannot see is
// not found, an agent without such an integration is a validation error,
// and a run of that integration still in progress is a domain.ErrConflict.
// The result names the new run; the syncs reaction does the work.
func (a *App) StartSync(ctx context.Context, m Meta, agentID string, typ agent.IntegrationType) (Result, error) {
	if !domain.ValidID(agentID) {
		return Result{}, domain.ErrNotFound
	}
	l, err := load[agent.Agent](ctx, a, agent.Events, agent.Stream(agentID))
	if err != nil {
		return Result{}, err
	}
	ag := l.state
	if !ag.Exists() || !domain.CanAgent(m.Principal, domain.Read, ag.Ref()) {
		return Result{}, domain.ErrNotFound
	}
	if !domain.CanAgent(m.Principal, domain.Update, ag.Ref()) {
		return Result{}, domain.ErrForbidden
	}
	var it *agent.Integration
	for i := range ag.Integrations {
		if ag.Integrations[i].Type == typ {
			it = &ag.Integrations[i]
			break
		}
	}
	if it == nil {
		msg := "must be one of shopify, wordpress"
		if typ.Valid() {
			msg = fmt.Sprintf("the agent has no %s integration", typ)
		}
		return Result{}, &domain.ValidationError{Fields: map[string]string{"type": msg}}
	}
	runID := newID(m, "sync")
	return execute(ctx, a, m, syncrun.Events, syncrun.Stream(agentID), runID,
		func(s *syncrun.Syncs) (string, []domain.Event, error) {
			if _, ok := s.Runs[runID]; ok {
				return ag.CompanyID, nil, nil // a retry of this start
			}
			evs, err := s.Start(syncrun.StartCmd{RunID: runID, AgentID: agentID, CompanyID: ag.CompanyID,
				IntegrationID: it.ID, Type: string(it.Type), Now: a.now()})
			return ag.CompanyID, evs, err
		})
}

// SyncState returns the state of an agent's sync runs, read from its
// stream (empty when it never synced). It is for the platform's
// processes: it checks no principal.
func (a *App) SyncState(ctx context.Context, agentID string) (syncrun.Syncs, error) {
	if !domain.ValidID(agentID) {
		return syncrun.Syncs{}, domain.ErrNotFound
	}
	l, err := load[syncrun.Syncs](ctx, a, syncrun.Events, syncrun.Stream(agentID))
	return l.state, err
}

// Agent returns the current state of agent id, sealed credentials
// included, read from its stream; domain.ErrNotFound if it does not
// exist. It is for the platform's processes: it checks no principal.
func (a *App) Agent(ctx context.Context, id string) (agent.Agent, error) {
	if !domain.ValidID(id) {
		return agent.Agent{}, domain.ErrNotFound
	}
	l, err := load[agent.Agent](ctx, a, agent.Events, agent.Stream(id))
	if err != nil {
		return agent.Agent{}, err
	}
	if !l.state.Exists() {
		return agent.Agent{}, domain.ErrNotFound
	}
	return l.state, nil
}

// RecordSyncItems records what a running run did to chunks; the
// platform's processes only.
func (a *App) RecordSyncItems(ctx context.Context, m Meta, agentID string, in syncrun.RecordCmd) (Result, error) {
	return a.onSyncs(ctx, m, agentID, in.RunID, func(s *syncrun.Syncs) ([]domain.Event, error) { return s.Record(in) })
}

// FinishSync records the end of a running run, with the mark the next
// run reads changes from; the platform's processes only.
func (a *App) FinishSync(ctx context.Context, m Meta, agentID, runID, mark string) (Result, error) {
	return a.onSyncs(ctx, m, agentID, runID, func(s *syncrun.Syncs) ([]domain.Event, error) { return s.Finish(runID, mark) })
}

// FailSync records the failure of a running run; the platform's
// processes only.
func (a *App) FailSync(ctx context.Context, m Meta, agentID, runID, reason string) (Result, error) {
	return a.onSyncs(ctx, m, agentID, runID, func(s *syncrun.Syncs) ([]domain.Event, error) { return s.Fail(runID, reason) })
}

func (a *App) onSyncs(ctx context.Context, m Meta, agentID, runID string, decide func(*syncrun.Syncs) ([]domain.Event, error)) (Result, error) {
	if m.Principal.Role != domain.System {
		return Result{}, domain.ErrForbidden
	}
	if !domain.ValidID(agentID) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, syncrun.Events, syncrun.Stream(agentID), runID,
		func(s *syncrun.Syncs) (string, []domain.Event, error) {
			if _, ok := s.Runs[runID]; !ok {
				return "", nil, domain.ErrNotFound
			}
			evs, err := decide(s)
			return s.CompanyID, evs, err
		})
}

// SyncedChunk is a remote item as a sync makes it a knowledge chunk.
type SyncedChunk struct {
	CompanyID string
	AgentID   string
	// RemoteID names the item (see knowledge.Created.RemoteID).
	RemoteID string
	Title    string
	Content  string
	Source   knowledge.Source
}

// SyncOutcome tells what SyncKnowledgeChunk did.
type SyncOutcome string

// Sync outcomes.
const (
	SyncAdded     SyncOutcome = "added"
	SyncUpdated   SyncOutcome = "updated"
	SyncUnchanged SyncOutcome = "unchanged"
)

// SyncKnowledgeChunk creates or updates the agent's chunk of a remote
// item; the platform's processes only. The chunk's id is derived from the
// agent and the remote id, so a sync never makes two chunks of one item;
// an item whose chunk was deleted gets a new one (the next id in its
// line).
func (a *App) SyncKnowledgeChunk(ctx context.Context, m Meta, in SyncedChunk) (SyncOutcome, Result, error) {
	if m.Principal.Role != domain.System {
		return "", Result{}, domain.ErrForbidden
	}
	id, err := a.syncedChunkID(ctx, in.AgentID, in.RemoteID)
	if err != nil {
		return "", Result{}, err
	}
	var out SyncOutcome
	res, err := execute(ctx, a, m, knowledge.Events, knowledge.Stream(id), id,
		func(c *knowledge.Chunk) (string, []domain.Event, error) {
			if !c.Exists() {
				out = SyncAdded
				evs, err := c.Create(knowledge.CreateCmd{ChunkID: id, CompanyID: in.CompanyID, AgentID: in.AgentID,
					Title: in.Title, Content: in.Content, Source: in.Source, RemoteID: in.RemoteID})
				return in.CompanyID, evs, err
			}
			evs, err := c.Update(knowledge.UpdateCmd{Title: &in.Title, Content: &in.Content, Source: &in.Source})
			out = SyncUpdated
			if len(evs) == 0 {
				out = SyncUnchanged
			}
			return c.CompanyID, evs, err
		})
	if err != nil {
		return "", Result{}, err
	}
	return out, res, nil
}

// RemoveSyncedChunk deletes the agent's chunk of a remote item that is
// gone; removed is false when it has none. The platform's processes only.
func (a *App) RemoveSyncedChunk(ctx context.Context, m Meta, agentID, remoteID string) (removed bool, err error) {
	if m.Principal.Role != domain.System {
		return false, domain.ErrForbidden
	}
	id, err := a.syncedChunkID(ctx, agentID, remoteID)
	if err != nil {
		return false, err
	}
	_, err = execute(ctx, a, m, knowledge.Events, knowledge.Stream(id), id,
		func(c *knowledge.Chunk) (string, []domain.Event, error) {
			evs, err := c.Delete()
			return c.CompanyID, evs, err
		})
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// maxSyncedLine bounds the chunks of one remote item that were deleted
// and made again.
const maxSyncedLine = 100

// syncedChunkID returns the id of the agent's live chunk of a remote item,
// or the id its next chunk takes: the first of the item's line of derived
// ids that is not deleted.
func (a *App) syncedChunkID(ctx context.Context, agentID, remoteID string) (string, error) {
	if !domain.ValidID(agentID) || remoteID == "" {
		return "", &domain.ValidationError{Fields: map[string]string{"remote_id": "an agent and a remote id are required"}}
	}
	id := DeriveID(agentID, "knowledge/remote/"+remoteID)
	for range maxSyncedLine {
		l, err := load[knowledge.Chunk](ctx, a, knowledge.Events, knowledge.Stream(id))
		if err != nil {
			return "", err
		}
		if !l.state.Deleted {
			return id, nil
		}
		id = DeriveID(id, "again")
	}
	return "", fmt.Errorf("remote item %s: its chunk was deleted %d times", remoteID, maxSyncedLine)
}
