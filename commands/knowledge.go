package commands

import (
	"context"

	"agentdesk/domain"
	"agentdesk/domain/knowledge"
)

// CreateKnowledgeChunk is the input of the CreateKnowledgeChunk command.
type CreateKnowledgeChunk struct {
	// CompanyID is only read for a superadmin; everyone else creates
	// chunks in their own company.
	CompanyID string
	// AgentID must name an agent of the company.
	AgentID string
	Title   string
	Content string
	Source  knowledge.Source // empty means manual
	Tags    []string
}

// CreateKnowledgeChunk creates a knowledge chunk for an agent.
func (a *App) CreateKnowledgeChunk(ctx context.Context, m Meta, in CreateKnowledgeChunk) (Result, error) {
	companyID, err := a.companyForCreate(ctx, m.Principal, in.CompanyID, func(companyID string) bool {
		return domain.CanKnowledge(m.Principal, domain.Create, domain.KnowledgeRef{CompanyID: companyID})
	})
	if err != nil {
		return Result{}, err
	}
	id := newID(m, "knowledge")
	cmd := knowledge.CreateCmd{ChunkID: id, CompanyID: companyID, AgentID: in.AgentID, Title: in.Title,
		Content: in.Content, Source: in.Source, Tags: in.Tags}
	// Validate before looking the agent up, so that every problem of the
	// input is reported at once.
	var probe knowledge.Chunk
	if _, err := probe.Create(cmd); err != nil {
		return Result{}, err
	}
	if err := a.checkAgent(ctx, companyID, in.AgentID, "agent_id"); err != nil {
		return Result{}, err
	}
	return create(ctx, a, m, knowledge.Events, knowledge.Stream(id), id,
		func(c *knowledge.Chunk) (string, []domain.Event, error) {
			evs, err := c.Create(cmd)
			return companyID, evs, err
		})
}

// UpdateKnowledgeChunk is the input of UpdateKnowledgeChunk; nil fields
// stay as they are. A new agent must be an agent of the chunk's company.
type UpdateKnowledgeChunk struct {
	knowledge.UpdateCmd
	// ExpectedRevision, when set, is the chunk's revision the caller
	// edited; if the chunk has changed since, nothing is written and the
	// error is a domain.ErrConflict. Meta.IfRevision does the same.
	ExpectedRevision *uint64
	// Fixed holds company_id as sent back; changing it is a validation
	// error.
	Fixed Fixed
}

// UpdateKnowledgeChunk edits a knowledge chunk.
func (a *App) UpdateKnowledgeChunk(ctx context.Context, m Meta, id string, in UpdateKnowledgeChunk) (Result, error) {
	return a.onKnowledge(ctx, m, id, domain.Update, in.ExpectedRevision, func(c *knowledge.Chunk) ([]domain.Event, error) {
		if err := in.Fixed.check(func(string) string { return c.CompanyID }); err != nil {
			return nil, err
		}
		evs, err := c.Update(in.UpdateCmd)
		if err == nil && in.AgentID != nil && *in.AgentID != c.AgentID {
			if err := a.checkAgent(ctx, c.CompanyID, *in.AgentID, "agent_id"); err != nil {
				return nil, err
			}
		}
		return evs, err
	})
}

// DeleteKnowledgeChunk deletes a knowledge chunk; its history stays.
// expected is an optional expected revision, as in UpdateKnowledgeChunk.
func (a *App) DeleteKnowledgeChunk(ctx context.Context, m Meta, id string, expected *uint64) (Result, error) {
	return a.onKnowledge(ctx, m, id, domain.Delete, expected, (*knowledge.Chunk).Delete)
}

// onKnowledge runs a command on an existing chunk the actor can see; a
// chunk of another company is not found, and so is any chunk for a client.
func (a *App) onKnowledge(ctx context.Context, m Meta, id string, act domain.Action, expected *uint64, decide func(*knowledge.Chunk) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, knowledge.Events, knowledge.Stream(id), id,
		func(c *knowledge.Chunk) (string, []domain.Event, error) {
			if !c.Exists() || !domain.CanKnowledge(m.Principal, domain.Read, c.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanKnowledge(m.Principal, act, c.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			if err := checkRevision(expected, c.Version-1); err != nil {
				return "", nil, err
			}
			evs, err := decide(c)
			return c.CompanyID, evs, err
		})
}
