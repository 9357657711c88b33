package projections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/document"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// TestKnowledgeDocumentsReadModel: a document's record follows its
// versions and ingestion (status, chunk count, error), and goes with its
// deletion.
func TestKnowledgeDocumentsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.KnowledgeDocumentsProjector())
	defer stop()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id := uuid.NewString()
	stream := document.Stream(id)
	get := func(res eventstore.AppendResult) projections.KnowledgeDocument {
		t.Helper()
		waitForProjection(t, r, projections.KnowledgeDocuments, res.Position)
		return mustDoc[projections.KnowledgeDocument](t, s.rs, resource.KnowledgeDocuments, id)
	}
	sha1, sha2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	file := func(sha string, size int64) document.File {
		return document.File{Filename: "guide.md", ContentType: "text/markdown", Size: size, SHA256: sha, BlobKey: "c1/documents/" + id + "/" + sha}
	}
	chunks := []document.ChunkRef{{ID: uuid.NewString(), SHA256: sha1}, {ID: uuid.NewString(), SHA256: sha2}}

	got := get(appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0), &document.Uploaded{
		DocumentID: id, CompanyID: "c1", AgentID: "a1", Title: "Guide", File: file(sha1, 10), Chunks: chunks}))
	if got.ID != id || got.CompanyID != "c1" || got.AgentID != "a1" || got.Title != "Guide" || got.Filename != "guide.md" || got.Size != 10 ||
		got.SHA256 != sha1 || got.Status != "uploaded" || got.ChunkCount != 0 || got.Error != nil || !got.CreatedAt.Equal(at(0)) {
		t.Fatalf("uploaded: got %+v", got)
	}
	got = get(appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at(1), &document.Ingested{ChunkCount: 2}))
	if got.Status != "ingested" || got.ChunkCount != 2 || got.Revision != 1 || !got.UpdatedAt.Equal(at(1)) {
		t.Fatalf("ingested: got %+v", got)
	}
	got = get(appendAt(t, s.es, stream, eventstore.Exact(1), "c1", at(2), &document.Replaced{Title: "Guide 2", File: file(sha2, 20), Chunks: chunks[:1]}))
	if got.Status != "uploaded" || got.Title != "Guide 2" || got.Size != 20 || got.SHA256 != sha2 || got.ChunkCount != 2 {
		t.Fatalf("replaced: got %+v, want the new version, uploaded, its old count kept until ingested", got)
	}
	got = get(appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at(3), &document.Failed{Reason: "disk full"}))
	if got.Status != "failed" || got.Error == nil || *got.Error != "disk full" {
		t.Fatalf("failed: got %+v", got)
	}
	got = get(appendAt(t, s.es, stream, eventstore.Exact(3), "c1", at(4), &document.Ingested{ChunkCount: 1}))
	if got.Status != "ingested" || got.ChunkCount != 1 || got.Error != nil {
		t.Fatalf("ingested again: got %+v", got)
	}
	res := appendAt(t, s.es, stream, eventstore.Exact(4), "c1", at(5), &document.Deleted{})
	waitForProjection(t, r, projections.KnowledgeDocuments, res.Position)
	if _, err := s.rs.Get(ctx, projections.KnowledgeDocuments, id); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("deleted: got %v, want ErrNotFound", err)
	}
}
