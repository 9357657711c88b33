package reactions_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/knowledge"
	"agentdesk/eventstore"
	"agentdesk/reactions"
)

const embeddingModel = "text-embedding-3-small"

// fakeEmbedder makes a vector of each text's length, fails as told
// first, and calls during (if set) inside each call, as a concurrent
// edit would happen while the provider thinks.
type fakeEmbedder struct {
	mu     sync.Mutex
	texts  []string
	fail   int
	during func(call int)
}

func (f *fakeEmbedder) Embed(_ context.Context, model, text string) ([]float32, int, error) {
	f.mu.Lock()
	f.texts = append(f.texts, text)
	call, during := len(f.texts), f.during
	failing := f.fail > 0
	if failing {
		f.fail--
	}
	f.mu.Unlock()
	if model != embeddingModel {
		return nil, 0, errors.New("unknown model " + model)
	}
	if during != nil {
		during(call)
	}
	if failing {
		return nil, 0, errors.New("429 Too Many Requests")
	}
	return []float32{float32(len(text)), 1, 0}, len(strings.Fields(text)), nil
}

func (f *fakeEmbedder) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.texts...)
}

// chunkWorld is a company with an agent, whose admin writes chunks.
type chunkWorld struct {
	*world
	admin   commands.Meta
	agentID string
}

func newChunkWorld(t *testing.T) *chunkWorld {
	t.Helper()
	w := newWorld(t)
	_, admin := w.company(t, "acme")
	a, err := w.app.CreateAgent(context.Background(), admin, commands.CreateAgent{Name: "Support", Model: "gpt-4o-mini"})
	if err != nil {
		t.Fatal(err)
	}
	return &chunkWorld{world: w, admin: admin, agentID: a.ID}
}

func (w *chunkWorld) chunk(t *testing.T, title, content string) string {
	t.Helper()
	res, err := w.app.CreateKnowledgeChunk(context.Background(), w.admin, commands.CreateKnowledgeChunk{AgentID: w.agentID, Title: title, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func (w *chunkWorld) update(t *testing.T, id string, cmd knowledge.UpdateCmd) {
	t.Helper()
	if _, err := w.app.UpdateKnowledgeChunk(context.Background(), w.admin, id, commands.UpdateKnowledgeChunk{UpdateCmd: cmd}); err != nil {
		t.Fatal(err)
	}
}

// embeddings returns the knowledge.embedded events of the log, decoded.
func (w *chunkWorld) embeddings(t *testing.T) ([]knowledge.Embedded, []eventstore.RecordedEvent) {
	t.Helper()
	evs := w.find(t, knowledge.TypeEmbedded)
	out := make([]knowledge.Embedded, len(evs))
	for i, ev := range evs {
		if err := json.Unmarshal(ev.Data, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out, evs
}

// TestEmbeddingsReaction: a new chunk is embedded and its vector
// recorded; an edit that keeps the content embeds nothing again, a new
// content is embedded anew, and a deleted chunk is left alone.
func TestEmbeddingsReaction(t *testing.T) {
	w := newChunkWorld(t)
	emb := &fakeEmbedder{}
	r := start(t, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: &memParking{}, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{reactions.Embeddings(embeddingModel, emb, w.app)}, RetryInterval: time.Millisecond})
	handled := func(n uint64) {
		t.Helper()
		eventually(t, "the reaction to handle the events", func() bool {
			st, err := r.svc.Status(context.Background())
			return err == nil && st[0].Handled >= n
		})
	}
	content := "Returns are free within 30 days of buying."
	id := w.chunk(t, "Returns", content)
	eventually(t, "the embedding", func() bool { return w.count(t, knowledge.TypeEmbedded) == 1 })
	got, evs := w.embeddings(t)
	if e := got[0]; e.Model != embeddingModel || e.Dimension != 3 || len(e.Vector) != 3 || e.Vector[0] != float32(len("Returns\n\n"+content)) ||
		e.ContentSHA256 != knowledge.ContentSHA256(content) || e.AgentID != w.agentID || e.PromptTokens != 9 {
		t.Fatalf("got %+v", e)
	}
	created := w.find(t, knowledge.TypeCreated)[0]
	if m := evs[0].Metadata; m.ActorID != "system:"+reactions.EmbeddingsName || m.ActorRole != string(domain.System) ||
		m.CausationID != created.ID || m.CorrelationID != created.Metadata.CorrelationID || m.CompanyID != w.admin.Principal.CompanyID {
		t.Fatalf("metadata %+v: want the reaction as the actor, the creation as the cause", m)
	}
	if calls := emb.calls(); len(calls) != 1 || calls[0] != "Returns\n\n"+content {
		t.Fatalf("embedded %q, want the title and content once", calls)
	}

	// A new title: the content is embedded already.
	w.update(t, id, knowledge.UpdateCmd{Title: domainPtr("Returns policy")})
	handled(2)
	if n := len(emb.calls()); n != 1 || w.count(t, knowledge.TypeEmbedded) != 1 {
		t.Fatalf("after a title change: %d calls, %d embeddings, want 1 and 1", n, w.count(t, knowledge.TypeEmbedded))
	}

	// A new content: embedded anew, with the title as it is now.
	w.update(t, id, knowledge.UpdateCmd{Content: domainPtr("Returns are free.")})
	eventually(t, "the new embedding", func() bool { return w.count(t, knowledge.TypeEmbedded) == 2 })
	got, _ = w.embeddings(t)
	if got[1].ContentSHA256 != knowledge.ContentSHA256("Returns are free.") || emb.calls()[1] != "Returns policy\n\nReturns are free." {
		t.Fatalf("got %+v after %q", got[1], emb.calls())
	}

	// Deleted before its update is handled: nothing to embed.
	other := w.chunk(t, "Shipping", "Free over 50 euros.")
	eventually(t, "the second chunk's embedding", func() bool { return w.count(t, knowledge.TypeEmbedded) == 3 })
	w.update(t, other, knowledge.UpdateCmd{Content: domainPtr("Free over 40 euros.")})
	if _, err := w.app.DeleteKnowledgeChunk(context.Background(), w.admin, other, nil); err != nil {
		t.Fatal(err)
	}
	handled(5)
	if len(parkedOf(t, r)) != 0 {
		t.Fatal("a message was parked")
	}
}

// TestEmbeddingsDropStale: a chunk's content changes while the provider
// embeds the old one; the stale vector is refused by the chunk, and the
// update's own handling embeds the new content. Handling an event again
// (a redelivery) calls nobody and appends nothing.
func TestEmbeddingsDropStale(t *testing.T) {
	w := newChunkWorld(t)
	id := w.chunk(t, "Returns", "Within 30 days.")
	emb := &fakeEmbedder{}
	emb.during = func(call int) {
		if call == 1 {
			w.update(t, id, knowledge.UpdateCmd{Content: domainPtr("Within 60 days.")})
		}
	}
	r := reactions.Embeddings(embeddingModel, emb, w.app)
	ctx := context.Background()
	created := w.find(t, knowledge.TypeCreated)[0]
	if err := r.Handle(ctx, created); err != nil {
		t.Fatal(err)
	}
	if n := w.count(t, knowledge.TypeEmbedded); n != 0 {
		t.Fatalf("%d embeddings recorded of a content changed meanwhile, want none", n)
	}
	updated := w.find(t, knowledge.TypeUpdated)[0]
	if err := r.Handle(ctx, updated); err != nil {
		t.Fatal(err)
	}
	got, _ := w.embeddings(t)
	if len(got) != 1 || got[0].ContentSHA256 != knowledge.ContentSHA256("Within 60 days.") {
		t.Fatalf("got %+v, want one embedding of the new content", got)
	}
	for _, ev := range []eventstore.RecordedEvent{created, updated} {
		if err := r.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n, calls := w.count(t, knowledge.TypeEmbedded), len(emb.calls()); n != 1 || calls != 2 {
		t.Fatalf("after redeliveries: %d embeddings and %d calls, want 1 and 2", n, calls)
	}
}

// TestEmbeddingsRetried: the provider's failures are errors the router
// retries with backoff; the embedding lands once it answers.
func TestEmbeddingsRetried(t *testing.T) {
	w := newChunkWorld(t)
	emb := &fakeEmbedder{fail: 2}
	direct := reactions.Embeddings(embeddingModel, emb, w.app)
	id := w.chunk(t, "Returns", "Within 30 days.")
	created := w.find(t, knowledge.TypeCreated)[0]
	if err := direct.Handle(context.Background(), created); err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), id) {
		t.Fatalf("got %v, want the provider's error, naming the chunk", err)
	}
	parking := &memParking{}
	start(t, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: parking, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{direct}, RetryInterval: time.Millisecond})
	eventually(t, "the embedding", func() bool { return w.count(t, knowledge.TypeEmbedded) == 1 })
	if n := len(emb.calls()); n != 3 {
		t.Errorf("%d calls, want 3 (two failures, then the answer)", n)
	}
	if ids := parking.ids(); len(ids) != 0 {
		t.Errorf("parked %v", ids)
	}
}

func TestEmbedText(t *testing.T) {
	if got := reactions.EmbedText("Title", "Body"); got != "Title\n\nBody" {
		t.Fatalf("got %q", got)
	}
	limit := reactions.MaxEmbedTokens * 4
	fits := strings.Repeat("x", limit-len("T\n\n"))
	if got := reactions.EmbedText("T", fits); got != "T\n\n"+fits {
		t.Fatalf("a text of exactly the bound was cut to %d bytes", len(got))
	}
	long := strings.Repeat("é", limit) // 2 bytes each: the bound falls inside one
	got := reactions.EmbedText("T", long)
	if len(got) > limit || len(got) < limit-4 || !utf8.ValidString(got) || !strings.HasPrefix(got, "T\n\né") {
		t.Fatalf("cut to %d bytes (valid UTF-8: %v), want at most %d, whole characters", len(got), utf8.ValidString(got), limit)
	}
}

func parkedOf(t *testing.T, r *running) []reactions.Status {
	t.Helper()
	st, err := r.svc.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []reactions.Status
	for _, s := range st {
		if s.Parked > 0 {
			out = append(out, s)
		}
	}
	return out
}

func domainPtr[T any](v T) *T { return &v }
