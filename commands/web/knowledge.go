package web

import (
	"context"
	"encoding/json"

	"agentdesk/commands"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
)

// Knowledge chunks
//
//	POST   /api/knowledge_chunks
//	PUT    /api/knowledge_chunks/{id}
//	DELETE /api/knowledge_chunks/{id}
//
// token_count is estimated from the content by the domain, position is
// the log position of the chunk's last change, and document_id the
// knowledge document the chunk was split from: records carry them,
// writes ignore them.

// knowledgeBody is what create and update read.
type knowledgeBody struct {
	CompanyID *string           `json:"company_id"`
	AgentID   json.RawMessage   `json:"agent_id"` // a UUID; null is refused by the domain
	Title     *string           `json:"title"`
	Content   *string           `json:"content"`
	Source    *knowledge.Source `json:"source"`
	Tags      *[]string         `json:"tags"`
}

// knowledgeReadOnly are the fields of a chunk record no write sets directly.
type knowledgeReadOnly struct {
	TokenCount json.RawMessage `json:"token_count"`
	Position   json.RawMessage `json:"position"`
	// DocumentID is set by a document's upload only, RemoteID by a sync
	// only.
	DocumentID json.RawMessage `json:"document_id"`
	RemoteID   json.RawMessage `json:"remote_id"`
}

// createKnowledgeBody is what POST /api/knowledge_chunks reads.
type createKnowledgeBody struct {
	knowledgeBody
	readOnly
	knowledgeReadOnly
}

func (h *Handler) createKnowledgeChunk(c *call) (outcome, error) {
	var b createKnowledgeBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	in := commands.CreateKnowledgeChunk{CompanyID: deref(b.CompanyID), Title: deref(b.Title), Content: deref(b.Content),
		Source: deref(b.Source)}
	if b.AgentID != nil {
		var err error
		if in.AgentID, err = optionalID(b.AgentID, "agent_id"); err != nil {
			return outcome{}, err
		}
	}
	if b.Tags != nil {
		in.Tags = *b.Tags
	}
	res, err := h.app.CreateKnowledgeChunk(c.r.Context(), c.meta, in)
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateKnowledgeBody is what PUT /api/knowledge_chunks/{id} reads.
type updateKnowledgeBody struct {
	knowledgeBody
	recordFields
	knowledgeReadOnly
}

func (h *Handler) updateKnowledgeChunk(c *call) (outcome, error) {
	var b updateKnowledgeBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	in := commands.UpdateKnowledgeChunk{
		UpdateCmd: knowledge.UpdateCmd{Title: b.Title, Content: b.Content, Source: b.Source, Tags: b.Tags},
		Fixed:     commands.Fixed{"company_id": b.CompanyID},
	}
	if b.AgentID != nil {
		// null is passed on as "" for the domain to refuse: a chunk
		// always belongs to an agent.
		a, err := optionalID(b.AgentID, "agent_id")
		if err != nil {
			return outcome{}, err
		}
		in.AgentID = &a
	}
	return done(h.app.UpdateKnowledgeChunk(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteKnowledgeChunk(c *call) (outcome, error) {
	return h.deleteWith(c, resource.KnowledgeChunks.Name, func(ctx context.Context, m commands.Meta, id string) (commands.Result, error) {
		return h.app.DeleteKnowledgeChunk(ctx, m, id, nil) // If-Match reaches it as m.IfRevision
	})
}
