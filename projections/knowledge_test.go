package projections_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/domaintest"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

func TestKnowledgeChunksReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.KnowledgeChunksProjector())
	defer stop()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id, tagged := uuid.NewString(), uuid.NewString()
	stream := knowledge.Stream(id)
	get := func(res eventstore.AppendResult) (projections.KnowledgeChunk, string) {
		t.Helper()
		waitForProjection(t, r, projections.KnowledgeChunks, res.Position)
		raw, err := s.rs.Get(ctx, projections.KnowledgeChunks, id)
		if err != nil {
			t.Fatal(err)
		}
		return mustDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, id), string(raw.Data)
	}

	// No tags is an empty list, never null.
	got, raw := get(appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0), &knowledge.Created{
		ChunkID: id, CompanyID: "c1", AgentID: "a1", Title: "Returns", Content: "30 days", Source: knowledge.Manual, TokenCount: 2,
	}))
	if got.ID != id || got.CompanyID != "c1" || got.AgentID != "a1" || got.Title != "Returns" || got.Content != "30 days" ||
		got.Source != "manual" || got.TokenCount != 2 || !got.CreatedAt.Equal(at(0)) || !got.UpdatedAt.Equal(at(0)) || got.Revision != 0 {
		t.Fatalf("created: got %+v", got)
	}
	if !strings.Contains(raw, `"tags":[]`) {
		t.Fatalf("created without tags: got %s, want tags []", raw)
	}

	got, _ = get(appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at(1), &knowledge.Updated{
		Content: domaintest.Ptr("thirty days, receipt needed"), TokenCount: domaintest.Ptr(7),
		Tags: &[]string{"policy", "returns"}, Source: domaintest.Ptr(knowledge.URL), AgentID: domaintest.Ptr("a2"),
	}))
	if got.Content != "thirty days, receipt needed" || got.TokenCount != 7 || !slices.Equal(got.Tags, []string{"policy", "returns"}) ||
		got.Source != "url" || got.AgentID != "a2" || got.Title != "Returns" || !got.UpdatedAt.Equal(at(1)) || !got.CreatedAt.Equal(at(0)) || got.Revision != 1 {
		t.Fatalf("updated: got %+v", got)
	}

	// Tags are filtered as a list: the read store finds the chunk by any of them.
	appendAt(t, s.es, knowledge.Stream(tagged), eventstore.NoStream, "c1", at(1), &knowledge.Created{
		ChunkID: tagged, CompanyID: "c1", AgentID: "a1", Title: "Shipping", Content: "free", Source: knowledge.Upload, Tags: []string{"shipping"}, TokenCount: 1,
	})
	got, _ = get(appendAt(t, s.es, stream, eventstore.Exact(1), "c1", at(2), &knowledge.Updated{Title: domaintest.Ptr("Returns policy")}))
	docs, _, err := s.rs.Query(ctx, projections.KnowledgeChunks, readstore.Query{Where: []readstore.Condition{{Field: "tags", Op: readstore.Eq, Value: "returns"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].ID != id {
		t.Fatalf("filter tags=returns: got %d documents, want only %s", len(docs), id)
	}
	if got.Title != "Returns policy" || !slices.Equal(got.Tags, []string{"policy", "returns"}) || got.TokenCount != 7 || got.Revision != 2 {
		t.Fatalf("title updated: got %+v", got)
	}

	// Tags cleared: an empty list again.
	got, raw = get(appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at(3), &knowledge.Updated{Tags: &[]string{}}))
	if !strings.Contains(raw, `"tags":[]`) || len(got.Tags) != 0 || got.Revision != 3 {
		t.Fatalf("tags cleared: got %s", raw)
	}

	res := appendAt(t, s.es, stream, eventstore.Exact(3), "c1", at(4), &knowledge.Deleted{})
	waitForProjection(t, r, projections.KnowledgeChunks, res.Position)
	if _, ok := readDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, id); ok {
		t.Fatal("deleted chunk still in the read model")
	}
	if other := mustDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, tagged); other.Source != "upload" || !slices.Equal(other.Tags, []string{"shipping"}) {
		t.Fatalf("other chunk: got %+v", other)
	}
}

// A batch cut short after a chunk's deletion landed is applied again
// without error, and the chunk stays gone.
func TestKnowledgeChunksReplayAfterDeletion(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	id := uuid.NewString()
	appendAt(t, s.es, knowledge.Stream(id), eventstore.NoStream, "c1", time.Now().UTC(),
		&knowledge.Created{ChunkID: id, CompanyID: "c1", AgentID: "a1", Title: "t", Content: "c", Source: knowledge.Manual, TokenCount: 1},
		&knowledge.Updated{Title: domaintest.Ptr("t2")}, &knowledge.Deleted{})
	replayTail(t, s, projections.KnowledgeChunksProjector(), 1)
	if _, ok := readDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, id); ok {
		t.Fatal("deleted chunk came back after a replay")
	}
}
