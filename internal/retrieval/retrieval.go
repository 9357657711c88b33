// Package retrieval ranks an agent's knowledge chunks for a query: Okapi
// BM25 over the chunks' words, which needs nothing but the text; cosine
// similarity over their embeddings, when they have some; and Reciprocal
// Rank Fusion of the two rankings. It is pure and in memory: the caller
// loads the documents and vectors and keeps one Index per agent.
//
// The similarity search is brute force over float32 vectors: exact, and
// linear in the number of vectors (0.8 ms for 10,000 of 256
// dimensions). The caller bounds the vectors it keeps per agent.
package retrieval

import (
	"cmp"
	"slices"
)

// Hit is a ranked document: its id and its score in the ranking that
// produced it (BM25, cosine similarity or fused), higher first.
type Hit struct {
	ID    string
	Score float64
}

// RRFConstant is Reciprocal Rank Fusion's k: a document's fused score is
// the sum over the rankings holding it of 1/(RRFConstant + rank), rank
// counted from 1. Sixty is the value of the method's paper (Cormack,
// Clarke and Büttcher, SIGIR 2009): large enough that the first few ranks
// of one list do not drown a document that two lists agree on.
const RRFConstant = 60

// Fuse merges rankings by Reciprocal Rank Fusion and returns the best k,
// scored by their fused score, ties broken by id. Only ranks matter, so
// rankings of incomparable scores (BM25, cosine) fuse without tuning; a
// document missing from a list simply gains nothing from it. A list must
// not repeat an id (a repeat counts once, at its best rank).
func Fuse(k int, lists ...[]Hit) []Hit {
	if k <= 0 {
		return nil
	}
	scores := map[string]float64{}
	for _, list := range lists {
		seen := make(map[string]bool, len(list))
		for i, h := range list {
			if seen[h.ID] {
				continue
			}
			seen[h.ID] = true
			scores[h.ID] += 1 / float64(RRFConstant+i+1)
		}
	}
	top := newTopK(k)
	for id, s := range scores {
		top.offer(Hit{ID: id, Score: s})
	}
	return top.sorted()
}

// better orders hits: higher score first, then lower id, so that every
// ranking is deterministic.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// topK keeps the k best hits offered: a heap whose root is the worst
// kept, so a hit that cannot make the cut costs one comparison.
type topK struct {
	k    int
	heap []Hit
}

func newTopK(k int) *topK { return &topK{k: k, heap: make([]Hit, 0, min(k, 1024))} }

func (t *topK) offer(h Hit) {
	if len(t.heap) < t.k {
		t.heap = append(t.heap, h)
		t.up(len(t.heap) - 1)
		return
	}
	if !better(h, t.heap[0]) {
		return
	}
	t.heap[0] = h
	t.down(0)
}

func (t *topK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !better(t.heap[parent], t.heap[i]) {
			return
		}
		t.heap[parent], t.heap[i] = t.heap[i], t.heap[parent]
		i = parent
	}
}

func (t *topK) down(i int) {
	n := len(t.heap)
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < n && better(t.heap[worst], t.heap[l]) {
			worst = l
		}
		if r < n && better(t.heap[worst], t.heap[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		t.heap[i], t.heap[worst] = t.heap[worst], t.heap[i]
		i = worst
	}
}

// sorted returns the kept hits, best first.
func (t *topK) sorted() []Hit {
	out := t.heap
	slices.SortFunc(out, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(out) == 0 {
		return nil
	}
	return out
}
