package readapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/readstore"
)

// vectorsCollection is knowledge_vectors as its writer declares it.
var vectorsCollection = readstore.Collection{
	Name: decl.KnowledgeVectorsCollection,
	Fields: []readstore.Field{
		{Name: "company_id", Type: readstore.String}, {Name: "agent_id", Type: readstore.String},
		{Name: "model", Type: readstore.String}, {Name: "updated_at", Type: readstore.Time},
		{Name: "position", Type: readstore.String},
	},
	Indexes: [][]string{{"company_id", "agent_id", "position"}, {"company_id", "agent_id"}},
	Counts:  [][]string{{"company_id", "agent_id"}},
}

// chunksCollection is the knowledge_chunks read model as its projection
// declares it.
func chunksCollection() readstore.Collection {
	r := decl.KnowledgeChunks
	kinds := map[decl.Kind]readstore.FieldType{decl.Text: readstore.String, decl.Number: readstore.Number, decl.Bool: readstore.Bool,
		decl.Time: readstore.Time, decl.TextList: readstore.StringList, decl.Enum: readstore.Enum}
	c := readstore.Collection{Name: r.CollectionName(), Indexes: r.Indexes, TextFields: r.SearchFields(), Counts: r.Counts}
	for _, f := range r.Fields {
		c.Fields = append(c.Fields, readstore.Field{Name: f.Name, Type: kinds[f.Kind], Values: f.Values})
	}
	return c
}

// knowledge is a read store holding knowledge chunks (and, once
// embedded, their vectors), written the way their projections write.
type knowledge struct {
	tb      testing.TB
	reads   *loadCountingReads
	version atomic.Int64
	clock   time.Time
}

func newKnowledge(tb testing.TB) *knowledge {
	tb.Helper()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(tb.TempDir(), "reads.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rs.Close() })
	if err := rs.Ensure(context.Background(), chunksCollection()); err != nil {
		tb.Fatal(err)
	}
	return &knowledge{tb: tb, reads: &loadCountingReads{Store: rs}, clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// tick returns the next update time, a second after the last.
func (k *knowledge) tick() time.Time {
	k.clock = k.clock.Add(time.Second)
	return k.clock
}

// apply writes a batch, each write a version above the last, which is
// also the document's position, as the projections write them.
func (k *knowledge) apply(ws ...readstore.Write) {
	k.tb.Helper()
	for i := range ws {
		ws[i].Doc.Version = fmt.Sprintf("%012d", k.version.Add(1))
		if ws[i].Delete {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(ws[i].Doc.Data, &doc); err != nil {
			k.tb.Fatal(err)
		}
		doc["position"] = ws[i].Doc.Version
		ws[i].Doc.Data, _ = json.Marshal(doc)
	}
	if err := k.reads.Apply(context.Background(), readstore.Batch{Writes: ws}); err != nil {
		k.tb.Fatal(err)
	}
}

func (k *knowledge) chunk(id, company, agent, title, content string, at time.Time) {
	k.tb.Helper()
	k.apply(chunkWrite(id, company, agent, title, content, at))
}

// chunkWrite writes a knowledge_chunks document as its projection does.
func chunkWrite(id, company, agent, title, content string, at time.Time) readstore.Write {
	data, _ := json.Marshal(map[string]any{"id": id, "company_id": company, "agent_id": agent, "title": title, "content": content,
		"source": "manual", "tags": []string{}, "token_count": len(strings.Fields(content)), "created_at": at, "updated_at": at})
	return readstore.Write{Collection: decl.KnowledgeChunks.CollectionName(), Doc: readstore.Doc{ID: id, Data: data}}
}

func (k *knowledge) deleteChunk(id string) {
	k.tb.Helper()
	k.apply(readstore.Write{Collection: decl.KnowledgeChunks.CollectionName(), Doc: readstore.Doc{ID: id}, Delete: true})
}

func (k *knowledge) vector(id, company, agent, model string, v []float32, at time.Time) {
	k.tb.Helper()
	k.apply(vectorWrite(id, company, agent, model, v, at))
}

// vectorWrite writes a knowledge_vectors document as its writer does.
func vectorWrite(id, company, agent, model string, v []float32, at time.Time) readstore.Write {
	data, _ := json.Marshal(map[string]any{"id": id, "company_id": company, "agent_id": agent, "model": model, "dimension": len(v),
		"vector": encodeVector(v), "content_sha256": "", "updated_at": at.Format(time.RFC3339Nano)})
	return readstore.Write{Collection: decl.KnowledgeVectorsCollection, Doc: readstore.Doc{ID: id, Data: data}}
}

func encodeVector(v []float32) string {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// loadCountingReads counts the full loads of each collection (the queries
// sorted newest first).
type loadCountingReads struct {
	readstore.Store
	mu    sync.Mutex
	loads map[string]int
}

func (c *loadCountingReads) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	if len(q.Sort) == 1 && q.Sort[0].Desc {
		c.mu.Lock()
		if c.loads == nil {
			c.loads = map[string]int{}
		}
		c.loads[collection]++
		c.mu.Unlock()
	}
	return c.Store.Query(ctx, collection, q)
}

func (c *loadCountingReads) loadCount(collection string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads[collection]
}

const (
	acme, globex    = "company-acme", "company-globex"
	support, salesA = "agent-support", "agent-sales"
)

func newRetriever(tb testing.TB, cfg RetrieverConfig) *Retriever {
	tb.Helper()
	r, err := NewRetriever(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func retrieve(tb testing.TB, r *Retriever, req RetrieveRequest) []Passage {
	tb.Helper()
	got, err := r.Retrieve(context.Background(), req)
	if err != nil {
		tb.Fatalf("retrieve %q: %v", req.Query, err)
	}
	return got
}

func chunkIDs(ps []Passage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ChunkID
	}
	return out
}

func TestRetrieveStaysWithinTheAgent(t *testing.T) {
	k := newKnowledge(t)
	k.chunk("acme-reset", acme, support, "Resetting your password", "Choose Forgot password on the sign-in page.", k.tick())
	k.chunk("acme-ship", acme, support, "Shipping times", "Parcels arrive in 3 to 5 days.", k.tick())
	k.chunk("acme-sales-reset", acme, salesA, "Password resets for sales", "Sales staff reset passwords in the CRM.", k.tick())
	// Another company's chunk under the same agent id, as if guessed.
	k.chunk("globex-reset", globex, support, "Password reset", "Globex resets passwords by phone.", k.tick())
	r := newRetriever(t, RetrieverConfig{Reads: k.reads})

	got := retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "reset my password", K: 10})
	if ids := chunkIDs(got); !slices.Equal(ids, []string{"acme-reset"}) {
		t.Fatalf("acme's support agent got %v, want [acme-reset]", ids)
	}
	p := got[0]
	if p.Title != "Resetting your password" || p.Content != "Choose Forgot password on the sign-in page." || p.TokenCount != 7 ||
		p.LexicalRank != 1 || p.VectorRank != 0 || p.Score <= 0 {
		t.Errorf("passage %+v: want the chunk's title, content and token count, lexical rank 1, a positive BM25 score", p)
	}
	if ids := chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: globex, AgentID: support, Query: "reset my password shipping"})); !slices.Equal(ids, []string{"globex-reset"}) {
		t.Fatalf("globex under acme's agent id got %v, want [globex-reset]", ids)
	}
	if ids := chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: globex, AgentID: salesA, Query: "password"})); len(ids) != 0 {
		t.Fatalf("globex under acme's sales agent id got %v, want nothing", ids)
	}
}

func TestRetrieveFollowsChanges(t *testing.T) {
	k := newKnowledge(t)
	k.chunk("c1", acme, support, "Returns", "Send items back within 30 days.", k.tick())
	k.chunk("c2", acme, support, "Gift cards", "Gift cards are valid for two years.", k.tick())
	k.chunk("c3", acme, support, "Invoices", "Download invoices from your account.", k.tick())
	r := newRetriever(t, RetrieverConfig{Reads: k.reads})
	ask := func(q string) []string {
		return chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: support, Query: q, K: 10}))
	}
	if got := ask("gift cards returns invoices"); len(got) != 3 {
		t.Fatalf("got %v, want all three", got)
	}

	// An update, and one stamped before the newest seen that lands after
	// it (a command that ran earlier but was stored later).
	newest := k.tick()
	k.chunk("c2", acme, support, "Gift vouchers", "Vouchers never expire.", newest)
	if got := ask("vouchers"); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("after an update: %v, want [c2]", got)
	}
	if got := ask("valid two years"); len(got) != 0 {
		t.Fatalf("the old text still matches: %v", got)
	}
	k.chunk("c3", acme, support, "Invoices", "Download receipts from your account.", newest.Add(-500*time.Millisecond))
	if got := ask("receipts"); !slices.Equal(got, []string{"c3"}) {
		t.Fatalf("after an update stamped earlier than the newest: %v, want [c3]", got)
	}

	k.deleteChunk("c1")
	if got := ask("gift vouchers returns invoices"); slices.Contains(got, "c1") || len(got) != 2 {
		t.Fatalf("after a deletion: %v, want c2 and c3", got)
	}
	// A deletion and a creation between two requests leave the count
	// as it was; the index must still notice.
	k.deleteChunk("c2")
	k.chunk("c4", acme, support, "Warranty", "Furniture has a five year warranty.", k.tick())
	if got := ask("vouchers warranty"); !slices.Equal(got, []string{"c4"}) {
		t.Fatalf("after a deletion and a creation: %v, want [c4]", got)
	}
	// A chunk moved to another agent leaves this one.
	k.chunk("c4", acme, salesA, "Warranty", "Furniture has a five year warranty.", k.tick())
	if got := ask("warranty"); len(got) != 0 {
		t.Fatalf("after a move to another agent: %v, want nothing", got)
	}
	if got := chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: salesA, Query: "warranty"})); !slices.Equal(got, []string{"c4"}) {
		t.Fatalf("the agent it moved to: %v, want [c4]", got)
	}
	if n := k.reads.loadCount(decl.KnowledgeChunks.CollectionName()); n != 5 {
		t.Errorf("%d full loads, want 5: the first, after each of the three removals, the sales agent's first", n)
	}
}

func TestRetrieveFusesVectors(t *testing.T) {
	k := newKnowledge(t)
	k.chunk("words", acme, support, "Password reset", "Choose Forgot password to reset your password.", k.tick())
	k.chunk("meaning", acme, support, "Locked out", "If you cannot sign in, we send a link by email.", k.tick())
	k.chunk("other", acme, support, "Shipping", "Parcels arrive in 3 to 5 days.", k.tick())
	var logs bytes.Buffer
	r := newRetriever(t, RetrieverConfig{Reads: k.reads, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	calls := 0
	embed := func(model string, err error) func(context.Context, string) ([]float32, string, error) {
		return func(context.Context, string) ([]float32, string, error) {
			calls++
			return []float32{0, 1, 0}, model, err
		}
	}
	ask := func(e func(context.Context, string) ([]float32, string, error)) []Passage {
		return retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "forgot my password", K: 3, Embed: e})
	}

	// No vectors yet (the collection does not even exist): words alone,
	// and the query is not embedded for nothing.
	if got := ask(embed("m1", nil)); !slices.Equal(chunkIDs(got), []string{"words"}) || calls != 0 {
		t.Fatalf("without vectors: %v after %d embeddings, want [words] after none", chunkIDs(got), calls)
	}

	if err := k.reads.Ensure(context.Background(), vectorsCollection); err != nil {
		t.Fatal(err)
	}
	k.vector("words", acme, support, "m1", []float32{1, 0.2, 0}, k.tick())
	k.vector("meaning", acme, support, "m1", []float32{0.1, 1, 0}, k.tick())
	k.vector("other", acme, support, "m1", []float32{0, 0, 1}, k.tick())
	// Another company's vector under the same agent, nearest of all.
	k.vector("globex-x", globex, support, "m1", []float32{0, 1, 0}, k.tick())

	got := ask(embed("m1", nil))
	// "meaning" shares no word with the query; its vector brings it in.
	if ids := chunkIDs(got); !slices.Equal(ids, []string{"words", "meaning", "other"}) {
		t.Fatalf("fused: %v, want [words meaning other]", ids)
	}
	want := []struct{ lexical, vector int }{{1, 2}, {0, 1}, {0, 3}}
	for i, p := range got {
		if p.LexicalRank != want[i].lexical || p.VectorRank != want[i].vector {
			t.Errorf("%s: lexical rank %d, vector rank %d; want %d, %d", p.ChunkID, p.LexicalRank, p.VectorRank, want[i].lexical, want[i].vector)
		}
	}
	if math.Abs(got[0].Score-(1.0/61+1.0/62)) > 1e-12 {
		t.Errorf("fused score of words %v, want 1/61 + 1/62", got[1].Score)
	}

	// Vectors of another model are not compared with this one's.
	if ids := chunkIDs(ask(embed("m2", nil))); !slices.Equal(ids, []string{"words"}) {
		t.Fatalf("a query of another model: %v, want [words]", ids)
	}
	// A chunk re-embedded by another model leaves m1's ranking.
	k.vector("meaning", acme, support, "m2", []float32{0, 1, 0}, k.tick())
	if ids := chunkIDs(ask(embed("m1", nil))); !slices.Equal(ids, []string{"words", "other"}) {
		t.Fatalf("after re-embedding with m2: %v, want [words other]", ids)
	}
	if ids := chunkIDs(ask(embed("m2", nil))); !slices.Equal(ids, []string{"meaning", "words"}) {
		t.Fatalf("an m2 query after re-embedding: %v, want [meaning words]", ids)
	}
	// A vector whose chunk is gone is not returned.
	k.deleteChunk("meaning")
	if ids := chunkIDs(ask(embed("m2", nil))); !slices.Equal(ids, []string{"words"}) {
		t.Fatalf("after deleting an embedded chunk: %v, want [words]", ids)
	}

	// The vectors dropped: words alone; embedded again: fused again.
	if err := k.reads.Drop(context.Background(), decl.KnowledgeVectorsCollection); err != nil {
		t.Fatal(err)
	}
	if got := ask(embed("m1", nil)); !slices.Equal(chunkIDs(got), []string{"words"}) || got[0].VectorRank != 0 {
		t.Fatalf("after the vectors were dropped: %+v, want [words] by words alone", got)
	}
	if err := k.reads.Ensure(context.Background(), vectorsCollection); err != nil {
		t.Fatal(err)
	}
	k.vector("other", acme, support, "m1", []float32{0, 1, 0}, k.tick())
	if ids := chunkIDs(ask(embed("m1", nil))); !slices.Equal(ids, []string{"other", "words"}) {
		t.Fatalf("embedded again: %v, want [other words]", ids)
	}

	// A failing embedder: words alone, and a warning.
	if got := ask(embed("m1", errors.New("provider down"))); !slices.Equal(chunkIDs(got), []string{"words"}) || got[0].VectorRank != 0 {
		t.Fatalf("with a failing embedder: %+v, want [words] by words alone", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "provider down") {
		t.Errorf("no warning logged for the failing embedder; logs: %s", logs.String())
	}
	// An embedder that fails because the caller went away ends the request.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := r.Retrieve(ctx, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "password",
		Embed: func(context.Context, string) ([]float32, string, error) { cancel(); return nil, "", context.Canceled }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("an embedder cancelled with the request: got %v, want context.Canceled", err)
	}
}

// TestRetrieveKeepsTheNewestChunks: past MaxChunks, only the most
// recently updated chunks are searched, and stay so as chunks come and go.
func TestRetrieveKeepsTheNewestChunks(t *testing.T) {
	k := newKnowledge(t)
	for i := range 5 {
		k.chunk(fmt.Sprintf("c%d", i), acme, support, "Parcel", fmt.Sprintf("parcel note %d", i), k.tick())
	}
	r := newRetriever(t, RetrieverConfig{Reads: k.reads, MaxChunks: 3})
	ask := func() []string {
		got := chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "parcel", K: 10}))
		slices.Sort(got)
		return got
	}
	if got := ask(); !slices.Equal(got, []string{"c2", "c3", "c4"}) {
		t.Fatalf("got %v, want the newest three", got)
	}
	k.chunk("c5", acme, support, "Parcel", "parcel note 5", k.tick())
	if got := ask(); !slices.Equal(got, []string{"c3", "c4", "c5"}) {
		t.Fatalf("after a new chunk: %v, want the newest three", got)
	}
	k.chunk("c0", acme, support, "Parcel", "parcel note 0 again", k.tick()) // an old chunk updated is new again
	if got := ask(); !slices.Equal(got, []string{"c0", "c4", "c5"}) {
		t.Fatalf("after an old chunk's update: %v, want c0 c4 c5", got)
	}
	k.deleteChunk("c4")
	if got := ask(); !slices.Equal(got, []string{"c0", "c3", "c5"}) {
		t.Fatalf("after a deletion: %v, want c0 c3 c5", got)
	}
	loads := k.reads.loadCount(decl.KnowledgeChunks.CollectionName())
	k.deleteChunk("c1") // beyond the bound: nothing held changes
	ask()
	if n := k.reads.loadCount(decl.KnowledgeChunks.CollectionName()); n != loads {
		t.Errorf("deleting a chunk beyond the bound reloaded the agent (%d loads, want %d)", n, loads)
	}
}

// TestRetrieveLoadsOnce: requests for an agent that arrive together wait
// for one load rather than run one each.
func TestRetrieveLoadsOnce(t *testing.T) {
	k := newKnowledge(t)
	for i := range 200 {
		k.chunk(fmt.Sprintf("c%03d", i), acme, support, "Note", fmt.Sprintf("delivery note number %d about parcels", i), k.tick())
	}
	r := newRetriever(t, RetrieverConfig{Reads: k.reads})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if got, err := r.Retrieve(context.Background(), RetrieveRequest{CompanyID: acme, AgentID: support, Query: "parcels"}); err != nil || len(got) != 5 {
				t.Errorf("got %d passages, %v; want 5", len(got), err)
			}
		})
	}
	wg.Wait()
	if n := k.reads.loadCount(decl.KnowledgeChunks.CollectionName()); n != 1 {
		t.Fatalf("%d loads of one agent for 16 requests at once, want 1", n)
	}
}

func TestRetrieveValidates(t *testing.T) {
	r := newRetriever(t, RetrieverConfig{Reads: newKnowledge(t).reads})
	_, err := r.Retrieve(context.Background(), RetrieveRequest{Query: "x", K: MaxRetrieveK + 1})
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 3 {
		t.Fatalf("got %v, want a validation error on company_id, agent_id and k", err)
	}
	if got, err := r.Retrieve(context.Background(), RetrieveRequest{CompanyID: acme, AgentID: support, Query: "  "}); got != nil || err != nil {
		t.Fatalf("a blank query: %v, %v; want nothing", got, err)
	}
	if _, err := NewRetriever(RetrieverConfig{MaxChunks: -1}); err == nil || !strings.Contains(err.Error(), "Reads") || !strings.Contains(err.Error(), "MaxChunks") {
		t.Fatalf("a bad config: got %v, want both problems", err)
	}
}

// queryCountingReads counts every query.
type queryCountingReads struct {
	readstore.Store
	n atomic.Int64
}

func (c *queryCountingReads) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	c.n.Add(1)
	return c.Store.Query(ctx, collection, q)
}

// TestRetrieveFollowsAppliedPosition: with the projections' applied
// positions known, a refresh reads nothing while they stand still, and
// reads exactly up to them, so a batch whose later document landed
// before an earlier one is read whole once applied.
func TestRetrieveFollowsAppliedPosition(t *testing.T) {
	k := newKnowledge(t)
	k.chunk("c1", acme, support, "Returns", "Send items back within 30 days.", k.tick())
	k.chunk("c2", acme, support, "Gift cards", "Gift cards are valid for two years.", k.tick())
	var applied atomic.Value
	applied.Store(fmt.Sprintf("%012d", k.version.Load()))
	reads := &queryCountingReads{Store: k.reads}
	r := newRetriever(t, RetrieverConfig{Reads: reads, Applied: func(readModel string) string {
		if readModel != decl.KnowledgeChunks.CollectionName() {
			return ""
		}
		return applied.Load().(string)
	}})
	ask := func(q string) []string {
		return chunkIDs(retrieve(t, r, RetrieveRequest{CompanyID: acme, AgentID: support, Query: q, K: 10}))
	}
	if got := ask("returns gift"); len(got) != 2 {
		t.Fatalf("got %v, want both", got)
	}
	before := reads.n.Load()
	for range 5 {
		ask("returns")
	}
	// Only knowledge_vectors, whose position is unknown here, is asked.
	if n := reads.n.Load() - before; n > 5 {
		t.Errorf("5 requests with nothing applied ran %d chunk queries, want none", n-5)
	}

	// A batch of two writes whose second document lands first: until
	// the batch is applied, neither is read; then both are.
	k.version.Add(1) // the first write's position, written below
	k.chunk("c4", acme, support, "Warranty", "Furniture has a five year warranty.", k.tick())
	if got := ask("warranty"); len(got) != 0 {
		t.Fatalf("a document above the applied position was read: %v", got)
	}
	c3 := chunkWrite("c3", acme, support, "Invoices", "Download invoices from your account.", k.tick())
	c3.Doc.Version = fmt.Sprintf("%012d", k.version.Load()-1)
	var doc map[string]any
	_ = json.Unmarshal(c3.Doc.Data, &doc)
	doc["position"] = c3.Doc.Version
	c3.Doc.Data, _ = json.Marshal(doc)
	if err := k.reads.Apply(context.Background(), readstore.Batch{Writes: []readstore.Write{c3}}); err != nil {
		t.Fatal(err)
	}
	applied.Store(fmt.Sprintf("%012d", k.version.Load()))
	if got := ask("warranty invoices"); len(got) != 2 {
		t.Fatalf("after the batch was applied: %v, want c3 and c4", got)
	}
	k.deleteChunk("c1")
	applied.Store(fmt.Sprintf("%012d", k.version.Load()))
	if got := ask("returns warranty"); !slices.Equal(got, []string{"c4"}) {
		t.Fatalf("after a deletion: %v, want [c4]", got)
	}

	// A first load while a batch is being written holds what is stored of
	// it (a chunk the batch changes must not vanish meanwhile), reads it
	// again once it is applied, and loads once.
	k.chunk("c5", acme, support, "Kettles", "Descale kettles monthly.", k.tick())
	fresh := newRetriever(t, RetrieverConfig{Reads: k.reads, Applied: func(readModel string) string {
		if readModel != decl.KnowledgeChunks.CollectionName() {
			return ""
		}
		return applied.Load().(string)
	}})
	loads := k.reads.loadCount(decl.KnowledgeChunks.CollectionName())
	for range 3 {
		if got := chunkIDs(retrieve(t, fresh, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "kettles warranty", K: 10})); !slices.Equal(got, []string{"c5", "c4"}) {
			t.Fatalf("a first load during a batch: %v, want [c5 c4]", got)
		}
	}
	if n := k.reads.loadCount(decl.KnowledgeChunks.CollectionName()) - loads; n != 1 {
		t.Errorf("three requests loaded the agent %d times, want once", n)
	}
	applied.Store(fmt.Sprintf("%012d", k.version.Load()))
	if got := chunkIDs(retrieve(t, fresh, RetrieveRequest{CompanyID: acme, AgentID: support, Query: "kettles", K: 10})); !slices.Equal(got, []string{"c5"}) {
		t.Fatalf("after it was applied: %v, want [c5]", got)
	}
}
