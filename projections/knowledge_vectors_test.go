package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
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

// vectorDoc returns the knowledge_vectors document of chunk id and its
// JSON; ok is false if there is none.
func vectorDoc(tb testing.TB, rs readstore.Store, id string) (doc projections.KnowledgeVector, raw map[string]any, ok bool) {
	tb.Helper()
	d, err := rs.Get(context.Background(), projections.KnowledgeVectors, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return doc, nil, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(d.Data, &raw); err != nil {
		tb.Fatal(err)
	}
	return doc, raw, true
}

func embeddedOf(content, agentID string, v ...float32) *knowledge.Embedded {
	return &knowledge.Embedded{Model: "text-embedding-3-small", Dimension: len(v), Vector: v, ContentSHA256: knowledge.ContentSHA256(content),
		AgentID: agentID, PromptTokens: 7}
}

func TestKnowledgeVectorsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.KnowledgeVectorsProjector(), projections.KnowledgeChunksProjector())
	defer stop()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id := uuid.NewString()
	stream := knowledge.Stream(id)
	wait := func(res eventstore.AppendResult) {
		t.Helper()
		waitForProjection(t, r, projections.KnowledgeVectors, res.Position)
		waitForProjection(t, r, projections.KnowledgeChunks, res.Position)
	}

	// Created: no vector yet.
	wait(appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0), &knowledge.Created{
		ChunkID: id, CompanyID: "c1", AgentID: "a1", Title: "Returns", Content: "30 days", Source: knowledge.Manual, TokenCount: 2,
	}))
	if _, _, ok := vectorDoc(t, s.rs, id); ok {
		t.Fatal("a vector before any embedding")
	}

	// Embedded: the vector, in base64 of little-endian float32s.
	vec := []float32{0.5, -0.25, 1e-7, float32(math.Pi)}
	embedded := appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at(1), embeddedOf("30 days", "a1", vec...))
	wait(embedded)
	got, raw, ok := vectorDoc(t, s.rs, id)
	if !ok {
		t.Fatal("no vector after knowledge.embedded")
	}
	want := projections.KnowledgeVector{ID: id, CompanyID: "c1", AgentID: "a1", Model: "text-embedding-3-small", Dimension: 4,
		// As Python writes it: base64.b64encode(struct.pack("<4f", 0.5, -0.25, 1e-7, math.pi)).
		Vector: "AAAAPwAAgL6Vv9Yz2w9JQA==", ContentSHA256: knowledge.ContentSHA256("30 days"), UpdatedAt: at(1),
		Position: embedded.Position.Key()}
	if got != want {
		t.Fatalf("embedded: got %+v, want %+v", got, want)
	}
	if back, err := projections.DecodeVector(raw["vector"].(string)); err != nil || !slices.Equal(back, vec) {
		t.Fatalf("decoded %v, %v, want %v", back, err, vec)
	}
	for _, field := range []string{"id", "company_id", "agent_id", "model", "dimension", "vector", "content_sha256", "updated_at", "position"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("document %v has no %s", raw, field)
		}
	}
	// The chunk's record is no edit: only its revision follows the stream.
	chunk := mustDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, id)
	if chunk.Revision != 1 || !chunk.UpdatedAt.Equal(at(0)) || chunk.Content != "30 days" {
		t.Fatalf("chunk after the embedding: got %+v, want revision 1, updated_at unchanged", chunk)
	}

	// Moved to another agent: the vector moves along. A title change
	// keeps it as it is.
	wait(appendAt(t, s.es, stream, eventstore.Exact(1), "c1", at(2), &knowledge.Updated{AgentID: domaintest.Ptr("a2")}, &knowledge.Updated{Title: domaintest.Ptr("Returns policy")}))
	if got, _, _ := vectorDoc(t, s.rs, id); got.AgentID != "a2" || got.Vector != want.Vector || !got.UpdatedAt.Equal(at(2)) {
		t.Fatalf("moved: got %+v", got)
	}
	docs, _, err := s.rs.Query(context.Background(), projections.KnowledgeVectors, readstore.Query{Where: []readstore.Condition{
		{Field: "company_id", Op: readstore.Eq, Value: "c1"}, {Field: "agent_id", Op: readstore.Eq, Value: "a2"}}})
	if err != nil || len(docs) != 1 || docs[0].ID != id {
		t.Fatalf("query by company and agent: got %d documents, %v", len(docs), err)
	}

	// A new content: the vector is stale and goes, until the new content
	// is embedded.
	wait(appendAt(t, s.es, stream, eventstore.Exact(3), "c1", at(3), &knowledge.Updated{Content: domaintest.Ptr("60 days"), TokenCount: domaintest.Ptr(2)}))
	if _, _, ok := vectorDoc(t, s.rs, id); ok {
		t.Fatal("a stale vector kept after a new content")
	}
	wait(appendAt(t, s.es, stream, eventstore.Exact(4), "c1", at(4), embeddedOf("60 days", "a2", 1, 0)))
	if got, _, ok := vectorDoc(t, s.rs, id); !ok || got.Dimension != 2 || got.ContentSHA256 != knowledge.ContentSHA256("60 days") || got.AgentID != "a2" {
		t.Fatalf("embedded again: got %+v, %v", got, ok)
	}
	if chunk := mustDoc[projections.KnowledgeChunk](t, s.rs, resource.KnowledgeChunks, id); chunk.Revision != 5 || !chunk.UpdatedAt.Equal(at(3)) {
		t.Fatalf("chunk: got revision %d, updated_at %v", chunk.Revision, chunk.UpdatedAt)
	}

	// Deleted: gone.
	wait(appendAt(t, s.es, stream, eventstore.Exact(5), "c1", at(5), &knowledge.Deleted{}))
	if _, _, ok := vectorDoc(t, s.rs, id); ok {
		t.Fatal("the vector of a deleted chunk is kept")
	}
}

// A batch applied again (its writes landed, its checkpoint did not)
// leaves the vectors as one clean application does, whichever event it
// starts from.
func TestKnowledgeVectorsReplay(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	kept, moved, gone := uuid.NewString(), uuid.NewString(), uuid.NewString()
	now := time.Now().UTC()
	created := func(id string) *knowledge.Created {
		return &knowledge.Created{ChunkID: id, CompanyID: "c1", AgentID: "a1", Title: "t", Content: "c", Source: knowledge.Manual, TokenCount: 1}
	}
	appendAt(t, s.es, knowledge.Stream(kept), eventstore.NoStream, "c1", now, created(kept), embeddedOf("c", "a1", 1, 0),
		&knowledge.Updated{Content: domaintest.Ptr("d")}, embeddedOf("d", "a1", 0, 1))
	appendAt(t, s.es, knowledge.Stream(moved), eventstore.NoStream, "c1", now, created(moved), embeddedOf("c", "a1", 1, 0),
		&knowledge.Updated{AgentID: domaintest.Ptr("a2")})
	appendAt(t, s.es, knowledge.Stream(gone), eventstore.NoStream, "c1", now, created(gone), embeddedOf("c", "a1", 1, 0), &knowledge.Deleted{})
	for from := 1; from < 10; from++ {
		replayTail(t, s, projections.KnowledgeVectorsProjector(), from)
	}
	if got, _, ok := vectorDoc(t, s.rs, kept); !ok || got.Vector != projections.EncodeVector([]float32{0, 1}) || got.ContentSHA256 != knowledge.ContentSHA256("d") {
		t.Fatalf("re-embedded chunk: got %+v, %v", got, ok)
	}
	if got, _, ok := vectorDoc(t, s.rs, moved); !ok || got.AgentID != "a2" {
		t.Fatalf("moved chunk: got %+v, %v", got, ok)
	}
	if _, _, ok := vectorDoc(t, s.rs, gone); ok {
		t.Fatal("deleted chunk's vector came back after a replay")
	}
}

// A rebuild reproduces the vectors from the log alone.
func TestKnowledgeVectorsRebuild(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 2, projections.KnowledgeVectorsProjector())
	defer stop()
	var last eventstore.AppendResult
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = uuid.NewString()
		last = appendAt(t, s.es, knowledge.Stream(ids[i]), eventstore.NoStream, "c1", time.Now().UTC(),
			&knowledge.Created{ChunkID: ids[i], CompanyID: "c1", AgentID: "a1", Title: "t", Content: "c", Source: knowledge.Manual, TokenCount: 1},
			embeddedOf("c", "a1", float32(i), 1))
	}
	waitForProjection(t, r, projections.KnowledgeVectors, last.Position)
	before := allDocs(t, s.rs, projections.KnowledgeVectors)
	if len(before) != len(ids) {
		t.Fatalf("got %d vectors, want %d", len(before), len(ids))
	}
	if err := r.Rebuild(context.Background(), projections.KnowledgeVectors, "test"); err != nil {
		t.Fatal(err)
	}
	waitRebuilt(t, r, projections.KnowledgeVectors)
	if gen, _ := s.rs.LiveGeneration(context.Background(), projections.KnowledgeVectors); gen != 2 {
		t.Fatalf("live generation %d, want 2", gen)
	}
	if after := allDocs(t, s.rs, projections.KnowledgeVectors); !slices.Equal(after, before) {
		t.Fatalf("after the rebuild: got %v, want %v", after, before)
	}
}

// allDocs returns the data of every document of collection, by id.
func allDocs(tb testing.TB, rs readstore.Store, collection string) []string {
	tb.Helper()
	docs, _, err := rs.Query(context.Background(), collection, readstore.Query{})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID + " " + string(d.Data)
	}
	return out
}

func TestVectorEncoding(t *testing.T) {
	for _, v := range [][]float32{{}, {0}, {1, -1, float32(math.Inf(1)), math.SmallestNonzeroFloat32, math.MaxFloat32}} {
		back, err := projections.DecodeVector(projections.EncodeVector(v))
		if err != nil || !slices.Equal(back, v) {
			t.Errorf("%v: decoded %v, %v", v, back, err)
		}
	}
	for _, bad := range []string{"AAA", "AAAAAAA=", "!!!!"} {
		if v, err := projections.DecodeVector(bad); err == nil {
			t.Errorf("DecodeVector(%q) = %v, want an error", bad, v)
		}
	}
}
