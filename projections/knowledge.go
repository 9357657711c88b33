package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
)

// KnowledgeChunks is the name of the knowledge_chunks read model and of
// its projection.
var KnowledgeChunks = resource.KnowledgeChunks.CollectionName()

// KnowledgeChunk is a document of the knowledge_chunks read model.
type KnowledgeChunk struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	AgentID   string `json:"agent_id"`
	Title     string `json:"title"`
	Content   string `json:"content"`
	Source    string `json:"source"`
	// Tags is never nil, so clients always get a list.
	Tags       []string `json:"tags"`
	TokenCount int      `json:"token_count"`
	// RemoteID names the shop's or site's item a synced chunk was made
	// of; empty for the others.
	RemoteID string `json:"remote_id"`
	// DocumentID is the document the chunk was split from; null for a
	// chunk written on its own.
	DocumentID *string   `json:"document_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Revision   uint64    `json:"revision"`
	// Position is the log position of the chunk's last change, a
	// position key: retrieval reads an agent's chunks changed since a
	// position it has seen.
	Position string `json:"position"`
}

// KnowledgeChunksProjector builds the knowledge_chunks read model.
func KnowledgeChunksProjector() Projector {
	return &Def[KnowledgeChunk]{
		ProjectionName: KnowledgeChunks,
		Spec:           collectionOf(resource.KnowledgeChunks),
		Categories:     []string{knowledge.Category},
		DocID:          streamID(knowledge.Category),
		Creates:        []string{knowledge.TypeCreated},
		Project:        projectKnowledgeChunk,
		// 2: documents carry their position; 3: and their document_id.
		ProjectorVersion: 3,
	}
}

func projectKnowledgeChunk(ev eventstore.RecordedEvent, cur *KnowledgeChunk) (*KnowledgeChunk, error) {
	e, err := decode(knowledge.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	switch e := e.(type) {
	case *knowledge.Created:
		return &KnowledgeChunk{
			ID: e.ChunkID, CompanyID: e.CompanyID, AgentID: e.AgentID, Title: e.Title, Content: e.Content,
			Source: string(e.Source), Tags: tagList(e.Tags), TokenCount: e.TokenCount, RemoteID: e.RemoteID,
			CreatedAt: at, UpdatedAt: at, Revision: ev.Revision, Position: ev.Position.Key(),
			DocumentID: optional(e.DocumentID),
		}, nil
	case *knowledge.Deleted:
		return nil, nil
	}
	if cur == nil {
		// The chunk is gone: this is a batch cut short after its deletion
		// landed and applied again (readstore.Batch), so it stays gone.
		return nil, nil
	}
	next := *cur
	switch e := e.(type) {
	case *knowledge.Embedded:
		// No edit: the record stays as it was, but its revision follows
		// the stream's, which an update's expected revision is read
		// against (the vector itself is in knowledge_vectors).
		next.Revision, next.Position = ev.Revision, ev.Position.Key()
		return &next, nil
	case *knowledge.Updated:
		if e.AgentID != nil {
			next.AgentID = *e.AgentID
		}
		if e.Title != nil {
			next.Title = *e.Title
		}
		if e.Content != nil {
			next.Content = *e.Content
		}
		if e.TokenCount != nil {
			next.TokenCount = *e.TokenCount
		}
		if e.Source != nil {
			next.Source = string(*e.Source)
		}
		if e.Tags != nil {
			next.Tags = tagList(*e.Tags)
		}
	default:
		return nil, fmt.Errorf("unexpected knowledge event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision, next.Position = at, ev.Revision, ev.Position.Key()
	return &next, nil
}

// tagList is tags, or an empty list for none.
func tagList(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}
