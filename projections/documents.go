package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/document"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
)

// KnowledgeDocuments is the name of the knowledge_documents read model
// and of its projection.
var KnowledgeDocuments = resource.KnowledgeDocuments.CollectionName()

// KnowledgeDocument is a document of the knowledge_documents read
// model: an uploaded file, its ingestion status and its chunk count.
type KnowledgeDocument struct {
	ID          string `json:"id"`
	CompanyID   string `json:"company_id"`
	AgentID     string `json:"agent_id"`
	Title       string `json:"title"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Status      string `json:"status"`
	// ChunkCount is the number of chunks of the current version once
	// ingested; 0 before.
	ChunkCount int `json:"chunk_count"`
	// Error is why the last ingestion failed; null otherwise.
	Error     *string   `json:"error"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Revision  uint64    `json:"revision"`
}

// KnowledgeDocumentsProjector builds the knowledge_documents read model.
func KnowledgeDocumentsProjector() Projector {
	return &Def[KnowledgeDocument]{
		ProjectionName: KnowledgeDocuments,
		Spec:           collectionOf(resource.KnowledgeDocuments),
		Categories:     []string{document.Category},
		DocID:          streamID(document.Category),
		Creates:        []string{document.TypeUploaded},
		Project:        projectKnowledgeDocument,
	}
}

func projectKnowledgeDocument(ev eventstore.RecordedEvent, cur *KnowledgeDocument) (*KnowledgeDocument, error) {
	e, err := decode(document.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	switch e := e.(type) {
	case *document.Uploaded:
		return &KnowledgeDocument{
			ID: e.DocumentID, CompanyID: e.CompanyID, AgentID: e.AgentID, Title: e.Title, Filename: e.Filename,
			ContentType: e.ContentType, Size: e.Size, SHA256: e.SHA256, Status: string(document.StatusUploaded),
			CreatedAt: at, UpdatedAt: at, Revision: ev.Revision,
		}, nil
	case *document.Deleted:
		return nil, nil
	}
	if cur == nil {
		// Deleted already: a batch applied again after its deletion.
		return nil, nil
	}
	next := *cur
	switch e := e.(type) {
	case *document.Replaced:
		next.Title, next.Filename, next.ContentType, next.Size, next.SHA256 = e.Title, e.Filename, e.ContentType, e.Size, e.SHA256
		next.Status, next.Error = string(document.StatusUploaded), nil
	case *document.Ingested:
		next.Status, next.ChunkCount, next.Error = string(document.StatusIngested), e.ChunkCount, nil
	case *document.Failed:
		reason := e.Reason
		next.Status, next.Error = string(document.StatusFailed), &reason
	default:
		return nil, fmt.Errorf("unexpected knowledge document event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}
