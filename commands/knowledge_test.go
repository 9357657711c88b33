package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/knowledge"
)

func TestKnowledgeChunk(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	admin := adminOf(company)
	agentID := newAgent(t, app, admin)
	writer := member(company, domain.ContentWriter)

	res, err := app.CreateKnowledgeChunk(ctx, writer, commands.CreateKnowledgeChunk{
		AgentID: agentID, Title: "Returns", Content: "Returns are free within 30 days of buying.", Tags: []string{"FAQ"},
	})
	if err != nil {
		t.Fatalf("writer creates: %v", err)
	}
	evs := readStream(t, es, knowledge.Stream(res.ID))
	var created knowledge.Created
	if err := json.Unmarshal(evs[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	if created.TokenCount != 11 || created.Source != knowledge.Manual || created.CompanyID != company || evs[0].Metadata.CompanyID != company {
		t.Fatalf("got %+v, want 11 tokens, manual source, company %s", created, company)
	}

	content := "Returns are free."
	if _, err := app.UpdateKnowledgeChunk(ctx, writer, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Content: &content}}); err != nil {
		t.Fatalf("writer updates: %v", err)
	}
	if _, err := app.DeleteKnowledgeChunk(ctx, writer, res.ID, nil); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("writer deletes: got %v, want forbidden", err)
	}
	client := member(company, domain.Client)
	if _, err := app.CreateKnowledgeChunk(ctx, client, commands.CreateKnowledgeChunk{AgentID: agentID, Title: "t", Content: "c"}); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("client creates: got %v, want forbidden", err)
	}
	if _, err := app.UpdateKnowledgeChunk(ctx, client, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Content: &content}}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("client updates: got %v, want not found", err)
	}
	if _, err := app.DeleteKnowledgeChunk(ctx, adminOf(uuid.NewString()), res.ID, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("admin of another company deletes: got %v, want not found", err)
	}
	if _, err := app.DeleteKnowledgeChunk(ctx, member(company, domain.ContentManager), res.ID, nil); err != nil {
		t.Fatalf("manager deletes: %v", err)
	}
	if got := len(readStream(t, es, knowledge.Stream(res.ID))); got != 3 {
		t.Fatalf("got %d events, want 3", got)
	}
}

func TestKnowledgeAgentReference(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	m := adminOf(company)
	foreign := newAgent(t, app, adminOf(uuid.NewString()))
	_, err := app.CreateKnowledgeChunk(ctx, m, commands.CreateKnowledgeChunk{AgentID: foreign, Title: "t", Content: "c"})
	wantFieldError(t, err, "agent_id", "no such agent in this company")
	_, err = app.CreateKnowledgeChunk(ctx, m, commands.CreateKnowledgeChunk{Title: "t", Content: "c"})
	wantFieldError(t, err, "agent_id", "is required")

	res, err := app.CreateKnowledgeChunk(ctx, m, commands.CreateKnowledgeChunk{AgentID: newAgent(t, app, m), Title: "t", Content: "c"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.UpdateKnowledgeChunk(ctx, m, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{AgentID: &foreign}})
	wantFieldError(t, err, "agent_id", "no such agent in this company")
	other := newAgent(t, app, m)
	if _, err := app.UpdateKnowledgeChunk(ctx, m, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{AgentID: &other}}); err != nil {
		t.Fatalf("move to another agent of the company: %v", err)
	}
}

func TestKnowledgeRevisionConflict(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	res, err := app.CreateKnowledgeChunk(ctx, m, commands.CreateKnowledgeChunk{AgentID: newAgent(t, app, m), Title: "t", Content: "c"})
	if err != nil {
		t.Fatal(err)
	}
	rev := func(n uint64) *uint64 { return &n }
	title := func(s string) knowledge.UpdateCmd { return knowledge.UpdateCmd{Title: &s} }
	if _, err := app.UpdateKnowledgeChunk(ctx, m, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: title("one"), ExpectedRevision: rev(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = app.UpdateKnowledgeChunk(ctx, m, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: title("two"), ExpectedRevision: rev(0)})
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "revision 1, you sent 0") {
		t.Fatalf("got %v, want a conflict", err)
	}
	if _, err := app.DeleteKnowledgeChunk(ctx, m, res.ID, rev(0)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("stale delete: got %v, want a conflict", err)
	}
	if got := len(readStream(t, es, knowledge.Stream(res.ID))); got != 2 {
		t.Fatalf("got %d events, want 2", got)
	}
}

func TestKnowledgeFixedAndIfRevision(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	m := adminOf(company)
	res, err := app.CreateKnowledgeChunk(ctx, m, commands.CreateKnowledgeChunk{AgentID: newAgent(t, app, m), Title: "t", Content: "c"})
	if err != nil {
		t.Fatal(err)
	}
	title, other := "new", uuid.NewString()
	_, err = app.UpdateKnowledgeChunk(ctx, m, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Title: &title}, Fixed: commands.Fixed{"company_id": &other}})
	wantFieldError(t, err, "company_id", "cannot be changed")
	stale := uint64(1)
	put := m
	put.IfRevision = &stale
	if _, err := app.UpdateKnowledgeChunk(ctx, put, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Title: &title}, Fixed: commands.Fixed{"company_id": &company}}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("got %v, want a conflict", err)
	}
	put.IfRevision = &res.Revision
	if _, err := app.UpdateKnowledgeChunk(ctx, put, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Title: &title}, Fixed: commands.Fixed{"company_id": &company}}); err != nil {
		t.Fatalf("at the current revision: %v", err)
	}
}

func TestRecordKnowledgeEmbedding(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	admin := adminOf(company)
	agentID := newAgent(t, app, admin)
	content := "Returns are free within 30 days of buying."
	res, err := app.CreateKnowledgeChunk(ctx, admin, commands.CreateKnowledgeChunk{AgentID: agentID, Title: "Returns", Content: content})
	if err != nil {
		t.Fatal(err)
	}
	system := commands.Meta{Principal: domain.SystemPrincipal("embeddings", company), CommandID: uuid.NewString()}
	in := commands.RecordKnowledgeEmbedding{Model: "text-embedding-3-small", Vector: []float32{0.6, 0.8}, ContentSHA256: knowledge.ContentSHA256(content), PromptTokens: 9}

	for _, m := range []commands.Meta{admin, superadminMeta()} {
		if _, err := app.RecordKnowledgeEmbedding(ctx, m, res.ID, in); !errors.Is(err, domain.ErrForbidden) {
			t.Fatalf("%s records an embedding: got %v, want forbidden", m.Principal.Role, err)
		}
	}
	got, err := app.RecordKnowledgeEmbedding(ctx, system, res.ID, in)
	if err != nil || !got.Changed || got.Revision != 1 {
		t.Fatalf("the platform records: got %+v, %v", got, err)
	}
	evs := readStream(t, es, knowledge.Stream(res.ID))
	var e knowledge.Embedded
	if err := json.Unmarshal(evs[1].Data, &e); err != nil {
		t.Fatal(err)
	}
	if evs[1].Type != knowledge.TypeEmbedded || e.Dimension != 2 || e.AgentID != agentID || e.Model != in.Model ||
		evs[1].Metadata.CompanyID != company || evs[1].Metadata.ActorID != "system:embeddings" {
		t.Fatalf("got %s %+v %+v", evs[1].Type, e, evs[1].Metadata)
	}
	// Again (a redelivery): nothing.
	if got, err := app.RecordKnowledgeEmbedding(ctx, system, res.ID, in); err != nil || got.Changed {
		t.Fatalf("again: got %+v, %v, want nothing recorded", got, err)
	}
	if _, err := app.RecordKnowledgeEmbedding(ctx, system, uuid.NewString(), in); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a chunk that does not exist: got %v, want not found", err)
	}

	// The embedding is no edit: a client that read revision 0 (before it)
	// or 1 (after it) edits without a conflict.
	title := "Returns policy"
	if _, err := app.UpdateKnowledgeChunk(ctx, admin, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Title: &title}, ExpectedRevision: domainRev(0)}); err != nil {
		t.Fatalf("update at the revision read before the embedding: %v", err)
	}
	put := admin
	put.IfRevision = domainRev(1)
	title = "Returns, again"
	_, err = app.UpdateKnowledgeChunk(ctx, put, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Title: &title}})
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "revision 2, you sent 1") {
		t.Fatalf("update at a revision before the last edit: got %v, want a conflict", err)
	}

	// A new content makes the old hash stale: nothing is recorded.
	newContent := "Returns are free."
	if _, err := app.UpdateKnowledgeChunk(ctx, admin, res.ID, commands.UpdateKnowledgeChunk{UpdateCmd: knowledge.UpdateCmd{Content: &newContent}}); err != nil {
		t.Fatal(err)
	}
	if got, err := app.RecordKnowledgeEmbedding(ctx, system, res.ID, in); err != nil || got.Changed {
		t.Fatalf("stale: got %+v, %v, want nothing recorded", got, err)
	}
	chunk, err := app.KnowledgeChunk(ctx, res.ID)
	if err != nil || chunk.Content != newContent || chunk.EmbeddedSHA != "" || chunk.Version != 4 {
		t.Fatalf("KnowledgeChunk: got %+v, %v", chunk, err)
	}
	if _, err := app.KnowledgeChunk(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("KnowledgeChunk of a bad id: got %v", err)
	}
}

func domainRev(n uint64) *uint64 { return &n }
