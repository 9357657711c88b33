package retrieval

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"os"
	"testing"
)

// The corpus is a small help centre of a fictional home-goods shop, one
// chunk per article; each query names the chunk that must come first.
// Some queries are worded as customers write, not as the articles are
// ("the lamp arrived broken", "update the e-mail I sign in with").

type corpusQuery struct {
	Query string `json:"query"`
	Want  string `json:"want"`
}

func loadCorpus(tb testing.TB) ([]Doc, []corpusQuery) {
	tb.Helper()
	var docs []Doc
	var queries []corpusQuery
	for name, v := range map[string]any{"testdata/corpus.json": &docs, "testdata/queries.json": &queries} {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	known := map[string]bool{}
	for _, d := range docs {
		if d.ID == "" || known[d.ID] {
			tb.Fatalf("corpus: id %q empty or repeated", d.ID)
		}
		known[d.ID] = true
	}
	for _, q := range queries {
		if !known[q.Want] {
			tb.Fatalf("query %q wants %q, which is not in the corpus", q.Query, q.Want)
		}
	}
	if len(queries) < 24 {
		tb.Fatalf("%d queries, want at least 24", len(queries))
	}
	return docs, queries
}

// embed is a deterministic stand-in for an embedding model: the
// feature hashing of a text's terms and of their character trigrams
// (so that "e-mail" and "email", or "package" and "packaging", share
// something) into 256 signed dimensions.
func embed(text string) []float32 {
	const dims = 256
	v := make([]float32, dims)
	add := func(feature string, weight float32) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		sum := h.Sum64()
		if sum>>63 == 1 {
			weight = -weight
		}
		v[sum%dims] += weight
	}
	counts := map[string]int{}
	for _, term := range Tokenize(text) {
		counts[term]++
	}
	for term, n := range counts {
		// Sublinear in the count: a word repeated in an article says
		// what it is about, but not n times as loudly.
		weight := float32(1 + math.Log(float64(n)))
		add("w:"+term, weight)
		padded := []rune("^" + term + "$")
		for i := 0; i+3 <= len(padded); i++ {
			add("c:"+string(padded[i:i+3]), 0.3*weight)
		}
	}
	var norm float64
	for _, f := range v {
		norm += float64(f) * float64(f)
	}
	if norm > 0 {
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
	}
	return v
}

func corpusIndex(docs []Doc) *Index {
	x := NewIndex()
	for _, d := range docs {
		x.Upsert(d)
		x.SetVector(d.ID, embed(d.Title+"\n"+d.Content))
	}
	return x
}

// TestCorpusLexical: BM25 alone puts the right chunk first for every
// query.
func TestCorpusLexical(t *testing.T) {
	docs, queries := loadCorpus(t)
	x := corpusIndex(docs)
	for _, q := range queries {
		if got := x.Search(q.Query, 5); len(got) == 0 || got[0].ID != q.Want {
			t.Errorf("%q: got %v, want %s first", q.Query, ids(got), q.Want)
		}
	}
}

// TestCorpusFused: BM25 fused with vector similarity still puts the right
// chunk first for every query, and the vectors alone are right often
// enough for the fusion to mean something.
func TestCorpusFused(t *testing.T) {
	docs, queries := loadCorpus(t)
	x := corpusIndex(docs)
	vectorFirst := 0
	for _, q := range queries {
		lexical := x.Search(q.Query, 20)
		vector := x.Nearest(embed(q.Query), 20)
		if len(vector) > 0 && vector[0].ID == q.Want {
			vectorFirst++
		}
		if got := Fuse(5, lexical, vector); len(got) == 0 || got[0].ID != q.Want {
			t.Errorf("%q: got %v (lexical %v, vector %v), want %s first", q.Query, ids(got), ids(lexical[:min(3, len(lexical))]), ids(vector[:3]), q.Want)
		}
	}
	t.Logf("vectors alone put the right chunk first for %d of %d queries", vectorFirst, len(queries))
	if vectorFirst < len(queries)/2 {
		t.Errorf("vectors alone were right for %d of %d queries: the test embedder is too weak to test fusion", vectorFirst, len(queries))
	}
}
