package readapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/internal/retrieval"
	"agentdesk/readstore"
)

// MaxRetrieveK is the most passages one Retrieve returns.
const MaxRetrieveK = 100

// RetrieverConfig configures a Retriever. Zero values mean the defaults.
type RetrieverConfig struct {
	// Reads holds the knowledge_chunks read model and, when the chunks
	// have been embedded, knowledge_vectors.
	Reads readstore.Store
	// Logger receives the warnings of a retrieval that fell back to
	// words alone; default slog.Default().
	Logger *slog.Logger
	// MaxChunks bounds the chunks, and separately the vectors, held for
	// one agent; default 20,000. An agent with more has only its most
	// recently updated MaxChunks searched. An agent's index takes about
	// 3 KB per chunk of 100 to 200 words (its text and its postings),
	// plus dimension × 4 bytes per vector: 29 MB for 10,000 chunks, and
	// 10 MB more with 256-dimension vectors (BenchmarkRetrieve), 61 MB
	// more with 1,536-dimension ones.
	MaxChunks int
	// MaxAgents bounds the agents whose index is kept between requests,
	// the least recently used dropped first; default 256. Memory is
	// bounded by MaxAgents indexes of at most MaxChunks chunks each.
	MaxAgents int
	// Candidates is how many of each ranking (words, vectors) are fused;
	// default 50, and never fewer than the passages asked for.
	Candidates int
	// Applied, when set, returns the position key up to which the named
	// read model's projection has applied the log ("" if unknown). A
	// refresh then reads nothing while the projection has not moved, and
	// never reads a batch half written. Without it each request asks the
	// store what changed.
	Applied func(readModel string) string
}

// Validate reports every problem with c, joined.
func (c RetrieverConfig) Validate() error {
	var errs []error
	if c.Reads == nil {
		errs = append(errs, errors.New("retriever: Reads is required"))
	}
	for name, v := range map[string]int{"MaxChunks": c.MaxChunks, "MaxAgents": c.MaxAgents, "Candidates": c.Candidates} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("retriever: %s %d is negative", name, v))
		}
	}
	return errors.Join(errs...)
}

func (c RetrieverConfig) withDefaults() RetrieverConfig {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxChunks == 0 {
		c.MaxChunks = 20000
	}
	if c.MaxAgents == 0 {
		c.MaxAgents = 256
	}
	if c.Candidates == 0 {
		c.Candidates = 50
	}
	return c
}

// RetrieveRequest asks for the chunks of one agent that best answer a
// query.
type RetrieveRequest struct {
	// CompanyID and AgentID name the agent; only chunks of that company
	// and that agent are ever returned, whatever the agent id.
	CompanyID, AgentID string
	Query              string
	// K is how many passages to return, at most MaxRetrieveK; 0 means 5.
	K int
	// Embed, when set, embeds the query, returning the vector and the
	// model that made it; chunk vectors of that model are then fused
	// with the word ranking. nil means words alone.
	Embed func(ctx context.Context, text string) (vector []float32, model string, err error)
}

// Passage is a retrieved chunk.
type Passage struct {
	ChunkID    string
	Title      string
	Content    string
	TokenCount int
	// Score is the fused score (Reciprocal Rank Fusion, see
	// retrieval.Fuse) when vectors took part, the BM25 score otherwise;
	// it orders passages of one answer and means nothing across answers.
	Score float64
	// LexicalRank and VectorRank are the chunk's places (from 1) in the
	// word and the vector ranking; 0 means not among that ranking's
	// candidates.
	LexicalRank, VectorRank int
}

// Retriever finds the knowledge chunks of an agent that answer a query:
// BM25 over the chunks' words always, fused with the cosine similarity
// of their vectors when the chunks have vectors of the query's model.
//
// It keeps an index per agent in memory between requests, and brings it
// up to date at the start of each request. Every document of both read
// models carries its position (the log position of its last change):
// while the projection has not applied anything new (RetrieverConfig
// Applied) a refresh reads nothing; when it has, it reads the agent's
// documents changed since (an index on company_id, agent_id, position)
// and the agent's count of them, a total the read store keeps. A count
// that differs from what the index holds means a deletion (or a chunk
// moved to another agent), and the agent is loaded again in full.
// knowledge_vectors is followed the same way, and is optional: until it
// exists, retrieval is by words alone.
// Requests for one agent that arrive while it is being refreshed wait
// for that refresh rather than run their own.
//
// A Retriever is safe for concurrent use.
type Retriever struct {
	cfg    RetrieverConfig
	mu     sync.Mutex // serializes finding or adding an agent's index
	agents *lru.Cache[agentKey, *agentIndex]
}

type agentKey struct{ company, agent string }

// NewRetriever returns a Retriever, or the problems with cfg.
func NewRetriever(cfg RetrieverConfig) (*Retriever, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	agents, err := lru.New[agentKey, *agentIndex](cfg.MaxAgents)
	if err != nil {
		return nil, fmt.Errorf("retriever: %w", err)
	}
	return &Retriever{cfg: cfg, agents: agents}, nil
}

// Retrieve returns up to K passages of the agent's chunks for the query,
// best first. A request without CompanyID or AgentID, or with K out of
// range, is a *domain.ValidationError; a query with no words (after stop
// words) and no vector finds nothing. A failure to read the chunks is
// returned; a failure to embed the query, or to read the vectors, is
// logged as a warning and the answer comes from the words alone, so that
// a chat still gets its context.
func (r *Retriever) Retrieve(ctx context.Context, req RetrieveRequest) ([]Passage, error) {
	arrived := time.Now()
	problems := domain.Problems{}
	if req.CompanyID == "" {
		problems.Add("company_id", "is required")
	}
	if req.AgentID == "" {
		problems.Add("agent_id", "is required")
	}
	if req.K < 0 || req.K > MaxRetrieveK {
		problems.Add("k", fmt.Sprintf("must be between 1 and %d (0 for 5)", MaxRetrieveK))
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Query) == "" {
		return nil, nil
	}
	k := req.K
	if k == 0 {
		k = 5
	}
	a := r.agent(agentKey{req.CompanyID, req.AgentID})
	if err := a.refresh(ctx, r, arrived); err != nil {
		return nil, err
	}
	var query []float32
	var model string
	if req.Embed != nil && a.hasVectors() {
		v, m, err := req.Embed(ctx, req.Query)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			r.cfg.Logger.WarnContext(ctx, "retrieval by words alone: the query could not be embedded",
				"company_id", req.CompanyID, "agent_id", req.AgentID, "error", err)
		default:
			query, model = v, m
		}
	}
	return a.search(req.Query, k, max(k, r.cfg.Candidates), query, model), nil
}

// agent returns the index of an agent, new and empty if it has none.
func (r *Retriever) agent(key agentKey) *agentIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.agents.Get(key); ok {
		return a
	}
	a := &agentIndex{
		key:      key,
		turn:     make(chan struct{}, 1),
		chunks:   mirror[chunkDoc]{collection: decl.KnowledgeChunks.CollectionName(), decode: decodeChunk},
		vectors:  mirror[vectorDoc]{collection: decl.KnowledgeVectorsCollection, decode: decodeVector},
		text:     retrieval.NewIndex(),
		passages: map[string]chunkDoc{},
		byModel:  map[string]*retrieval.Index{},
		vecModel: map[string]string{},
	}
	r.agents.Add(key, a)
	return a
}

// agentIndex is what the Retriever holds for one agent.
type agentIndex struct {
	key agentKey

	// turn is held by the one refresh running; refreshed is when the
	// last one began. Both mirrors belong to the holder of turn.
	turn      chan struct{}
	refreshed time.Time
	chunks    mirror[chunkDoc]
	vectors   mirror[vectorDoc]

	// mu guards what searches read; a refresh changes it in short
	// critical sections, and swaps in a whole new index after a full load.
	mu       sync.RWMutex
	text     *retrieval.Index
	passages map[string]chunkDoc
	// byModel holds the vectors of each embedding model, vecModel the
	// model of each chunk's vector, orphans how many vectors of each
	// model belong to no chunk held (a chunk beyond MaxChunks, or one
	// not projected yet).
	byModel  map[string]*retrieval.Index
	vecModel map[string]string
	orphans  map[string]int
}

// refresh brings the agent's index up to date with the read store. A
// refresh that began after the request arrived has seen everything this
// one would, so a request that waited for one does not run another.
func (a *agentIndex) refresh(ctx context.Context, r *Retriever, arrived time.Time) error {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.turn }()
	if a.refreshed.After(arrived) {
		return nil
	}
	began := time.Now()
	where := []readstore.Condition{
		{Field: "company_id", Op: readstore.Eq, Value: a.key.company},
		{Field: "agent_id", Op: readstore.Eq, Value: a.key.agent},
	}
	// What each mirror reports is applied even when its refresh failed
	// part way: it already holds those changes.
	applied := func(readModel string) string {
		if r.cfg.Applied == nil {
			return ""
		}
		return r.cfg.Applied(readModel)
	}
	cd, err := a.chunks.refresh(ctx, r.cfg, where, applied(a.chunks.collection))
	if err != nil {
		a.apply(cd, delta[vectorDoc]{})
		return fmt.Errorf("retrieve: read knowledge chunks: %w", err)
	}
	vd, err := a.vectors.refresh(ctx, r.cfg, where, applied(a.vectors.collection))
	switch {
	case errors.Is(err, readstore.ErrUnknownCollection):
		// Nothing has been embedded (or the embeddings are not
		// projected in this process, or no more): words alone.
		a.vectors.forget()
		vd = delta[vectorDoc]{reset: a.hasVectors()}
	case err != nil && ctx.Err() == nil:
		// The vectors held stay in use until a refresh succeeds.
		r.cfg.Logger.WarnContext(ctx, "retrieval: could not read knowledge vectors",
			"company_id", a.key.company, "agent_id", a.key.agent, "error", err)
	}
	a.apply(cd, vd)
	if err := ctx.Err(); err != nil {
		return err
	}
	a.refreshed = began
	return nil
}

// apply makes the changes a refresh found visible to searches.
func (a *agentIndex) apply(cd delta[chunkDoc], vd delta[vectorDoc]) {
	if cd.empty() && vd.empty() {
		return
	}
	var text *retrieval.Index
	if cd.reset {
		// Built aside: searches keep using the old index meanwhile.
		text = retrieval.NewIndex()
		for _, c := range cd.upserts {
			text.Upsert(retrieval.Doc{ID: c.id, Title: c.v.Title, Content: c.v.Content})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cd.reset {
		a.text, a.passages = text, make(map[string]chunkDoc, len(cd.upserts))
	} else {
		for _, c := range cd.upserts {
			a.text.Upsert(retrieval.Doc{ID: c.id, Title: c.v.Title, Content: c.v.Content})
		}
	}
	for _, c := range cd.upserts {
		a.passages[c.id] = c.v
	}
	for _, id := range cd.removes {
		a.text.Remove(id)
		delete(a.passages, id)
	}

	if vd.reset {
		a.byModel, a.vecModel = map[string]*retrieval.Index{}, map[string]string{}
	}
	for _, v := range vd.upserts {
		if old, ok := a.vecModel[v.id]; ok {
			a.byModel[old].Remove(v.id)
			delete(a.vecModel, v.id)
		}
		if v.v.vector == nil {
			continue
		}
		x := a.byModel[v.v.model]
		if x == nil {
			x = retrieval.NewIndex()
			a.byModel[v.v.model] = x
		}
		x.SetVector(v.id, v.v.vector)
		a.vecModel[v.id] = v.v.model
	}
	for _, id := range vd.removes {
		if old, ok := a.vecModel[id]; ok {
			a.byModel[old].Remove(id)
			delete(a.vecModel, id)
		}
	}
	a.orphans = map[string]int{}
	for id, model := range a.vecModel {
		if _, ok := a.passages[id]; !ok {
			a.orphans[model]++
		}
	}
}

func (a *agentIndex) hasVectors() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.vecModel) > 0
}

// search ranks the agent's chunks: the best candidates by words and, for
// a query vector, by similarity among the vectors of its model, fused.
func (a *agentIndex) search(text string, k, candidates int, query []float32, model string) []Passage {
	a.mu.RLock()
	defer a.mu.RUnlock()
	lexical := a.text.Search(text, candidates)
	var similar []retrieval.Hit
	if x := a.byModel[model]; query != nil && x != nil {
		// Vectors of chunks not held are skipped, so ask for as many more.
		for _, h := range x.Nearest(query, candidates+a.orphans[model]) {
			if _, ok := a.passages[h.ID]; ok && len(similar) < candidates {
				similar = append(similar, h)
			}
		}
	}
	ranked := lexical[:min(k, len(lexical))]
	if len(similar) > 0 {
		ranked = retrieval.Fuse(k, lexical, similar)
	}
	out := make([]Passage, len(ranked))
	for i, h := range ranked {
		c := a.passages[h.ID]
		out[i] = Passage{ChunkID: h.ID, Title: c.Title, Content: c.Content, TokenCount: c.TokenCount, Score: h.Score,
			LexicalRank: rankOf(lexical, h.ID), VectorRank: rankOf(similar, h.ID)}
	}
	return out
}

// rankOf returns id's place in hits from 1, or 0.
func rankOf(hits []retrieval.Hit, id string) int {
	return slices.IndexFunc(hits, func(h retrieval.Hit) bool { return h.ID == id }) + 1
}

// chunkDoc is what retrieval reads of a knowledge_chunks document.
type chunkDoc struct {
	Title      string `json:"title"`
	Content    string `json:"content"`
	TokenCount int    `json:"token_count"`
	Position   string `json:"position"`
}

func decodeChunk(d readstore.Doc) (chunkDoc, string, error) {
	var c chunkDoc
	if err := json.Unmarshal(d.Data, &c); err != nil {
		return chunkDoc{}, "", fmt.Errorf("decode knowledge chunk %s: %w", d.ID, err)
	}
	return c, c.Position, nil
}

// vectorDoc is a knowledge_vectors document: the embedding of the chunk
// with the same id, by model, as dimension little-endian float32 values
// in standard base64. vector is nil when the stored one is malformed;
// such a chunk is ranked by its words alone.
type vectorDoc struct {
	model  string
	vector []float32
}

func decodeVector(d readstore.Doc) (vectorDoc, string, error) {
	var stored struct {
		Model     string `json:"model"`
		Dimension int    `json:"dimension"`
		Vector    string `json:"vector"`
		Position  string `json:"position"`
	}
	if err := json.Unmarshal(d.Data, &stored); err != nil {
		return vectorDoc{}, "", fmt.Errorf("decode knowledge vector %s: %w", d.ID, err)
	}
	raw, err := base64.StdEncoding.DecodeString(stored.Vector)
	if err != nil || stored.Dimension <= 0 || len(raw) != 4*stored.Dimension {
		return vectorDoc{model: stored.Model}, stored.Position, nil
	}
	v := make([]float32, stored.Dimension)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return vectorDoc{model: stored.Model, vector: v}, stored.Position, nil
}

// mirror follows one agent's documents in one read model by their
// position: the key of the log position of the event that last changed
// each, which the projections write into every document. Positions order
// changes exactly as the log does, so a refresh reads only the documents
// changed since the last one: those with a position above what it has
// seen and at most what the projection has applied (everything at or
// below that is stored, whatever order a batch's writes landed in). It
// then checks the count of what it should hold against what it does:
// uneven, something was deleted (or moved to another agent), and it loads
// everything again.
//
// It holds every document of the agent, or, past the limit, exactly
// those changed at or after floor (the most recently changed ones).
type mirror[T any] struct {
	collection string
	decode     func(readstore.Doc) (T, string, error)

	loaded bool
	held   map[string]string // id → position
	// seen is the position everything at or below has been read up to.
	seen  string
	floor string // "" when every document is held
}

// delta is a change to what a mirror holds: upserts then removes, or,
// when reset, everything held replaced by upserts.
type delta[T any] struct {
	reset   bool
	upserts []item[T]
	removes []string
}

type item[T any] struct {
	id string
	v  T
}

func (d delta[T]) empty() bool { return !d.reset && len(d.upserts) == 0 && len(d.removes) == 0 }

// refresh returns what changed since the last refresh, given upTo, the
// position the read model has applied ("" when unknown: then whatever is
// stored is read, and a document a batch is still writing may be read
// after a later one of that batch, and missed). With upTo unchanged since
// the last refresh nothing can have changed, and nothing is read. The
// delta is to be applied even with an error: the mirror holds it
// already, and stays consistent with an index that applied it.
func (m *mirror[T]) refresh(ctx context.Context, cfg RetrieverConfig, where []readstore.Condition, upTo string) (d delta[T], err error) {
	if !m.loaded {
		return m.load(ctx, cfg, where, upTo)
	}
	if upTo != "" && upTo <= m.seen {
		return d, nil
	}
	changed := append(slices.Clip(where), readstore.Condition{Field: "position", Op: readstore.Gt, Value: m.seen})
	if upTo != "" {
		changed = append(changed, readstore.Condition{Field: "position", Op: readstore.Lte, Value: upTo})
	}
	docs, _, err := cfg.Reads.Query(ctx, m.collection, readstore.Query{Where: changed, Sort: []readstore.Sort{{Field: "position"}}})
	if err != nil {
		return delta[T]{}, err
	}
	for _, doc := range docs {
		v, pos, err := m.decode(doc)
		if err != nil {
			return d, err
		}
		m.hold(doc.ID, pos)
		d.upserts = append(d.upserts, item[T]{doc.ID, v})
	}
	switch {
	case upTo != "":
		m.seen = max(m.seen, upTo)
	case len(docs) > 0:
		_, last, _ := m.decode(docs[len(docs)-1])
		m.seen = max(m.seen, last)
	}
	if len(m.held) > cfg.MaxChunks {
		d.removes = m.trim(cfg.MaxChunks)
	}
	count := slices.Clip(where)
	if m.floor != "" {
		count = append(count, readstore.Condition{Field: "position", Op: readstore.Gte, Value: m.floor})
	}
	_, total, err := cfg.Reads.Query(ctx, m.collection, readstore.Query{Where: count, Count: true, Limit: 1})
	if err != nil {
		return d, err
	}
	held := int64(len(m.held))
	if total != held && upTo != "" {
		// Documents of a batch being written above upTo count too: count
		// again up to it, which reads the index rather than a kept total,
		// against what is held up to it, before deciding that something
		// was deleted.
		count = append(count, readstore.Condition{Field: "position", Op: readstore.Lte, Value: upTo})
		if _, total, err = cfg.Reads.Query(ctx, m.collection, readstore.Query{Where: count, Count: true, Limit: 1}); err != nil {
			return d, err
		}
		held = 0
		for _, pos := range m.held {
			if pos <= upTo {
				held++
			}
		}
	}
	if total != held {
		// A deletion, or a chunk moved to another agent: a full load.
		full, err := m.load(ctx, cfg, where, upTo)
		if err != nil {
			return d, err
		}
		return full, nil
	}
	return d, nil
}

// load reads the agent's documents afresh, the most recently changed
// first, up to the limit.
func (m *mirror[T]) load(ctx context.Context, cfg RetrieverConfig, where []readstore.Condition, upTo string) (delta[T], error) {
	docs, _, err := cfg.Reads.Query(ctx, m.collection, readstore.Query{
		Where: where,
		Sort:  []readstore.Sort{{Field: "position", Desc: true}},
		Limit: cfg.MaxChunks + 1,
	})
	if err != nil {
		return delta[T]{}, err
	}
	d := delta[T]{reset: true, upserts: make([]item[T], 0, len(docs))}
	m.held, m.seen, m.floor = make(map[string]string, len(docs)), upTo, ""
	for _, doc := range docs {
		v, pos, err := m.decode(doc)
		if err != nil {
			return delta[T]{}, err
		}
		if len(m.held) == cfg.MaxChunks {
			break
		}
		d.upserts = append(d.upserts, item[T]{doc.ID, v})
		m.hold(doc.ID, pos)
		if upTo == "" || pos <= upTo {
			// Above upTo is a batch still being written: what is stored
			// of it is held (a chunk it changes would otherwise vanish
			// until the next refresh), and the next refresh reads it
			// whole.
			m.seen = max(m.seen, pos)
		}
		if len(m.held) == cfg.MaxChunks {
			m.floor = pos
		}
	}
	m.loaded = true
	return d, nil
}

// forget lets go of everything held, so that the next refresh loads in
// full.
func (m *mirror[T]) forget() {
	m.loaded, m.held, m.seen, m.floor = false, nil, "", ""
}

func (m *mirror[T]) hold(id, pos string) { m.held[id] = pos }

// trim lets go of the least recently changed documents until at most
// limit are held, and returns their ids.
func (m *mirror[T]) trim(limit int) []string {
	type held struct{ id, pos string }
	all := make([]held, 0, len(m.held))
	for id, pos := range m.held {
		all = append(all, held{id, pos})
	}
	slices.SortFunc(all, func(a, b held) int { return strings.Compare(a.pos, b.pos) })
	drop := len(all) - limit
	ids := make([]string, drop)
	for i, h := range all[:drop] {
		ids[i] = h.id
		delete(m.held, h.id)
	}
	m.floor = all[drop].pos
	return ids
}
