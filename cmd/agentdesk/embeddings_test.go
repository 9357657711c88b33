package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"agentdesk/domain/knowledge"
	"agentdesk/internal/llm/llmtest"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// vectorOf returns chunk id's knowledge_vectors document, read from the
// read store itself (no endpoint serves it); ok is false if there is
// none.
func vectorOf(tb testing.TB, ts *testServer, id string) (doc projections.KnowledgeVector, ok bool) {
	tb.Helper()
	d, err := ts.srv.reads.Get(context.Background(), projections.KnowledgeVectors, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return doc, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		tb.Fatal(err)
	}
	return doc, true
}

// waitVector waits for chunk id's vector of content and returns it.
func waitVector(tb testing.TB, ts *testServer, id, content string) projections.KnowledgeVector {
	tb.Helper()
	var doc projections.KnowledgeVector
	waitFor(tb, "the vector of "+id, func() bool {
		var ok bool
		doc, ok = vectorOf(tb, ts, id)
		return ok && doc.ContentSHA256 == knowledge.ContentSHA256(content)
	})
	return doc
}

// TestKnowledgeEmbeddings drives the embeddings reaction end to end over
// a server speaking OpenAI's embeddings wire format: a chunk written over
// HTTP gets its vector, recorded in the log and projected; a new content
// drops the old vector and brings a new one, through a 429; an edit at a
// revision read before the embedding is no conflict; and a rebuild of
// knowledge_vectors reproduces the vectors without a single request to
// the provider.
func TestKnowledgeEmbeddings(t *testing.T) {
	fake := llmtest.New(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey, cfg.LLMEmbeddingModel = fake.URL, "sk-e2e", "text-embedding-3-small"
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Embed")
	admin := co.users["company_admin"].with(t)
	agentID := agentOf(t, co, true)

	title, content := "Returns", "Returns are free within 30 days of buying."
	rec := admin.must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentID, "title": title, "content": content}).Map(t)
	id := rec["id"].(string)
	v := waitVector(t, ts, id, content)
	if v.ID != id || v.CompanyID != co.id || v.AgentID != agentID || v.Model != "text-embedding-3-small" || v.Dimension != llmtest.DefaultDimensions {
		t.Fatalf("got %+v", v)
	}
	got, err := projections.DecodeVector(v.Vector)
	if err != nil || !slices.Equal(got, llmtest.Embed(title+"\n\n"+content, llmtest.DefaultDimensions)) {
		t.Fatalf("vector %v (%v), want the provider's vector of the title and content", got, err)
	}
	calls := fake.Embeddings()
	if len(calls) != 1 {
		t.Fatalf("%d embeddings requests, want 1", len(calls))
	}
	if in, _ := calls[0].Body.Texts(); !slices.Equal(in, []string{title + "\n\n" + content}) || calls[0].Body.Model != "text-embedding-3-small" ||
		calls[0].Header.Get("Authorization") != "Bearer sk-e2e" {
		t.Fatalf("the provider got %+v", calls[0])
	}

	// The log holds the event; the chunk's history shows it, by the
	// reaction, changing nothing of the record but its revision.
	var hist struct {
		Data []struct {
			Type    string         `json:"type"`
			Actor   map[string]any `json:"actor"`
			Changes map[string]any `json:"changes"`
			Data    map[string]any `json:"data"`
		} `json:"data"`
		Total int `json:"total"`
	}
	admin.must(http.StatusOK, "GET", "/api/knowledge_chunks/"+id+"/history", nil).JSON(t, &hist)
	if hist.Total != 2 || hist.Data[0].Type != knowledge.TypeEmbedded || hist.Data[0].Actor["id"] != "system:embeddings" || hist.Data[0].Actor["role"] != "system" {
		t.Fatalf("history: %+v", hist)
	}
	if _, ok := hist.Data[0].Changes["revision"]; !ok || len(hist.Data[0].Changes) != 1 || hist.Data[0].Data["dimension"] != float64(llmtest.DefaultDimensions) {
		t.Fatalf("the embedding's history entry: changes %v, data %v; want the revision alone changed", hist.Data[0].Changes, hist.Data[0].Data)
	}
	// The reaction's event is in the log; its view may apply it a moment
	// later (a write by someone else is not the reader's own).
	var now map[string]any
	waitFor(t, "the chunk's view to apply the embedding", func() bool {
		now = admin.must(http.StatusOK, "GET", "/api/knowledge_chunks/"+id, nil).Map(t)
		return now["revision"] == float64(1)
	})
	if now["revision"] != float64(1) || now["updated_at"] != rec["updated_at"] || now["content"] != content {
		t.Fatalf("record after the embedding: %v, want revision 1, updated_at as created", now)
	}

	// A new content, sent with the revision read before the embedding
	// (no conflict), while the provider answers 429 once: the old vector
	// goes at once, the new one comes after the provider's Retry-After.
	fake.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	newContent := "Returns are free within 60 days, with the receipt."
	admin.must(http.StatusOK, "PUT", "/api/knowledge_chunks/"+id, map[string]any{"content": newContent, "revision": 0})
	waitFor(t, "the stale vector to go while the provider makes us wait", func() bool { _, ok := vectorOf(t, ts, id); return !ok })
	v = waitVector(t, ts, id, newContent)
	if got, _ := projections.DecodeVector(v.Vector); !slices.Equal(got, llmtest.Embed(title+"\n\n"+newContent, llmtest.DefaultDimensions)) {
		t.Fatalf("new vector %v", got)
	}
	if n := len(fake.Embeddings()); n != 3 {
		t.Fatalf("%d embeddings requests, want 3 (the first chunk, a 429, its retry)", n)
	}

	// A new title and tags keep the vector: nobody is asked.
	admin.must(http.StatusOK, "PUT", "/api/knowledge_chunks/"+id, map[string]any{"title": "Returns policy", "tags": []string{"faq"}})
	second := admin.must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentID, "title": "Shipping", "content": "Free over 50 euros."}).Map(t)["id"].(string)
	waitVector(t, ts, second, "Free over 50 euros.")
	if n := len(fake.Embeddings()); n != 4 {
		t.Fatalf("%d embeddings requests, want 4: the title change asked nobody", n)
	}
	var reacts listResult
	root.must(http.StatusOK, "GET", "/api/admin/reactions", nil).JSON(t, &reacts)
	if !slices.ContainsFunc(reacts.Data, func(r map[string]any) bool { return r["id"] == "embeddings" && r["parked"] == float64(0) }) {
		t.Fatalf("reactions %v: want embeddings, nothing parked", reacts.Data)
	}

	// A rebuild reads the vectors from the log: the provider hears
	// nothing.
	before := []projections.KnowledgeVector{waitVector(t, ts, id, newContent), waitVector(t, ts, second, "Free over 50 euros.")}
	asked := len(fake.Embeddings()) + len(fake.Requests())
	root.must(http.StatusAccepted, "POST", "/api/admin/projections/knowledge_vectors/rebuild", nil)
	waitFor(t, "generation 2 of knowledge_vectors to go live", func() bool {
		l := projectionLine(t, root, projections.KnowledgeVectors)
		return l.Generation == 2 && l.Rebuild == nil
	})
	for i, chunkID := range []string{id, second} {
		if after, ok := vectorOf(t, ts, chunkID); !ok || after != before[i] {
			t.Errorf("after the rebuild: %+v, want %+v", after, before[i])
		}
	}
	var res projections.VerifyResult
	root.must(http.StatusOK, "POST", "/api/admin/projections/knowledge_vectors/verify", nil).JSON(t, &res)
	if len(res.Differences) != 0 || res.More {
		t.Fatalf("verify after the rebuild: %+v", res.Differences)
	}
	if n := len(fake.Embeddings()) + len(fake.Requests()); n != asked {
		t.Fatalf("the rebuild sent %d requests to the provider, want none", n-asked)
	}

	// Deleted: its vector goes.
	admin.must(http.StatusOK, "DELETE", "/api/knowledge_chunks/"+second, nil)
	waitFor(t, "the deleted chunk's vector to go", func() bool { _, ok := vectorOf(t, ts, second); return !ok })
}

// TestKnowledgeEmbeddingsOff: without LLM_EMBEDDING_MODEL no reaction
// embeds anything, and a claude embeddings model stops the start.
func TestKnowledgeEmbeddingsOff(t *testing.T) {
	fake := llmtest.New(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.OpenAIBaseURL = fake.URL
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "NoEmbed")
	id := chunkOf(t, co)
	var reacts listResult
	root.must(http.StatusOK, "GET", "/api/admin/reactions", nil).JSON(t, &reacts)
	for _, r := range reacts.Data {
		if r["id"] == "embeddings" {
			t.Fatal("the embeddings reaction runs without LLM_EMBEDDING_MODEL")
		}
	}
	if _, ok := vectorOf(t, ts, id); ok || len(fake.Embeddings()) != 0 {
		t.Fatalf("a vector, or %d requests, without an embeddings model", len(fake.Embeddings()))
	}

	bad := testConfig(t, t.TempDir())
	bad.OpenAIBaseURL, bad.LLMEmbeddingModel = fake.URL, "claude-haiku-4-5"
	if _, err := Open(context.Background(), bad, quietLogger(t)); err == nil {
		t.Fatal("a server started with a claude embeddings model")
	}
}
