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
	// edited; if the chunk has been edited since, nothing is written and
	// the error is a domain.ErrConflict. Meta.IfRevision does the same.
	// Embeddings recorded since are no edit (see knowledge.Chunk.Current).
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

// RecordKnowledgeEmbedding is the input of RecordKnowledgeEmbedding.
type RecordKnowledgeEmbedding struct {
	// Model is the embeddings model, as configured.
	Model string
	// Vector is what the model made of the chunk's text; Dimension is
	// its length (0: len(Vector)).
	Vector    []float32
	Dimension int
	// ContentSHA256 is knowledge.ContentSHA256 of the content embedded.
	ContentSHA256 string
	// PromptTokens is what the provider reported the text cost.
	PromptTokens int
}

// RecordKnowledgeEmbedding records the vector an embeddings model made
// of a chunk, as the platform's own process only (domain.Embed). A stale
// vector (the content changed since it was read) or one already
// recorded records nothing, so a reaction may call it again.
func (a *App) RecordKnowledgeEmbedding(ctx context.Context, m Meta, chunkID string, in RecordKnowledgeEmbedding) (Result, error) {
	if in.Dimension == 0 {
		in.Dimension = len(in.Vector)
	}
	if a.cache != nil && domain.ValidID(chunkID) {
		// A stale cached state (another process changed the content)
		// would have the vector dropped as stale with no error, and so
		// never retried: decide on the stream as stored. One read is
		// nothing beside the model's call that made the vector.
		a.cache.Remove(knowledge.Stream(chunkID))
	}
	return a.onKnowledge(ctx, m, chunkID, domain.Embed, nil, func(c *knowledge.Chunk) ([]domain.Event, error) {
		return c.RecordEmbedding(knowledge.EmbedCmd{Model: in.Model, Dimension: in.Dimension, Vector: in.Vector,
			ContentSHA256: in.ContentSHA256, PromptTokens: in.PromptTokens})
	})
}

// KnowledgeChunk returns the current state of chunk id, read from its
// stream (not from a read model, which may lag); domain.ErrNotFound if
// it does not exist. It is for the platform's processes: it checks no
// principal.
func (a *App) KnowledgeChunk(ctx context.Context, id string) (knowledge.Chunk, error) {
	if !domain.ValidID(id) {
		return knowledge.Chunk{}, domain.ErrNotFound
	}
	l, err := load[knowledge.Chunk](ctx, a, knowledge.Events, knowledge.Stream(id))
	if err != nil {
		return knowledge.Chunk{}, err
	}
	if !l.state.Exists() {
		return knowledge.Chunk{}, domain.ErrNotFound
	}
	return l.state, nil
}

// onKnowledge runs a command on an existing chunk the actor can see; a
// chunk of another company is not found, and so is any chunk for a client.
// Its expected revisions, expected and m.IfRevision, are checked here
// with knowledge.Chunk.Current rather than against the stream's revision:
// an embedding recorded since the caller read the chunk is no conflict.
func (a *App) onKnowledge(ctx context.Context, m Meta, id string, act domain.Action, expected *uint64, decide func(*knowledge.Chunk) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	ifRevision := m.IfRevision
	m.IfRevision = nil
	return execute(ctx, a, m, knowledge.Events, knowledge.Stream(id), id,
		func(c *knowledge.Chunk) (string, []domain.Event, error) {
			if !c.Exists() || !domain.CanKnowledge(m.Principal, domain.Read, c.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanKnowledge(m.Principal, act, c.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			for _, want := range []*uint64{expected, ifRevision} {
				if want != nil && !c.Current(*want) {
					return "", nil, checkRevision(want, c.Version-1)
				}
			}
			evs, err := decide(c)
			return c.CompanyID, evs, err
		})
}
