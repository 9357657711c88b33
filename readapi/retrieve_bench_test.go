package readapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"agentdesk/readstore"
)

const (
	benchChunks = 10000
	benchDims   = 256
	benchModel  = "bench-embed-256"
)

// benchVocabulary returns n made-up words after a handful of English
// function words: text drawn from it by a Zipf law has the shape of real
// prose (a few words everywhere, most words rare).
func benchVocabulary(n int) []string {
	words := strings.Fields("the and to of a in is for your you it on with can be this that are or from")
	syllables := strings.Fields("ka ro mi tesu na lo pe ri sha dun vel ter mon gra fi zo bal chen dor ux pli ost ren yam qua")
	r := rand.New(rand.NewPCG(11, 12))
	seen := map[string]bool{}
	for len(words) < n {
		var b strings.Builder
		for range 2 + r.IntN(2) {
			b.WriteString(syllables[r.IntN(len(syllables))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

// fillBenchAgent writes chunks of 100 to 200 words, and, when dims > 0,
// a vector of that dimension for each.
func fillBenchAgent(b testing.TB, k *knowledge, agent string, vocab []string, dims int) {
	r := rand.New(rand.NewPCG(21, uint64(len(agent))))
	zipf := rand.NewZipf(r, 1.07, 2, uint64(len(vocab)-1))
	text := func(n int) string {
		var sb strings.Builder
		for i := range n {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(vocab[zipf.Uint64()])
		}
		return sb.String()
	}
	var writes []readstore.Write
	for i := range benchChunks {
		id := fmt.Sprintf("%s-%05d", agent, i)
		at := k.tick()
		writes = append(writes, chunkWrite(id, acme, agent, text(3+r.IntN(4)), text(100+r.IntN(101)), at))
		if dims > 0 {
			v := make([]float32, dims)
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			writes = append(writes, vectorWrite(id, acme, agent, benchModel, v, at))
		}
		if len(writes) >= 1000 || i == benchChunks-1 {
			k.apply(writes...)
			writes = writes[:0]
		}
	}
}

// BenchmarkRetrieve measures Retrieve for an agent with 10,000 chunks in
// the embedded read store: by words alone (an agent without vectors),
// and fused with 256-dimension vectors (the query's embedding is given,
// as a provider would return it; its round trip is not counted). Each
// sub-benchmark reports the cold load of the agent (the first request,
// which reads and indexes everything) and the heap it holds, then times
// b.N requests with varied queries on the warm index, each one
// refreshing it from the store first.
//
//	go test -run '^$' -bench Retrieve -benchtime 2000x ./readapi/
func BenchmarkRetrieve(b *testing.B) {
	start := time.Now()
	k := newKnowledge(b)
	if err := k.reads.Ensure(context.Background(), vectorsCollection); err != nil {
		b.Fatal(err)
	}
	vocab := benchVocabulary(4000)
	fillBenchAgent(b, k, "agent-lexical", vocab, 0)
	fillBenchAgent(b, k, "agent-fused", vocab, benchDims)
	b.Logf("filled %d chunks, %d vectors in %s", 2*benchChunks, benchChunks, time.Since(start).Round(time.Millisecond))

	r := rand.New(rand.NewPCG(31, 32))
	queries := make([]string, 500)
	vectors := make([][]float32, len(queries))
	for i := range queries {
		words := make([]string, 3+r.IntN(4))
		for j := range words {
			words[j] = vocab[30+r.IntN(2000)]
		}
		queries[i] = strings.Join(words, " ")
		vectors[i] = make([]float32, benchDims)
		for j := range vectors[i] {
			vectors[i][j] = float32(r.NormFloat64())
		}
	}

	for _, c := range []struct {
		name, agent string
		fused       bool
	}{{"lexical", "agent-lexical", false}, {"fused", "agent-fused", true}} {
		b.Run(c.name, func(b *testing.B) {
			ret := newRetriever(b, RetrieverConfig{Reads: k.reads})
			request := func(i int) RetrieveRequest {
				req := RetrieveRequest{CompanyID: acme, AgentID: c.agent, Query: queries[i%len(queries)], K: 5}
				if c.fused {
					v := vectors[i%len(vectors)]
					req.Embed = func(context.Context, string) ([]float32, string, error) { return v, benchModel, nil }
				}
				return req
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			got, err := ret.Retrieve(context.Background(), request(0))
			cold := time.Since(t0)
			if err != nil || len(got) != 5 {
				b.Fatalf("cold request: %d passages, %v", len(got), err)
			}
			if c.fused && got[0].VectorRank == 0 && got[1].VectorRank == 0 {
				b.Fatalf("fused request without vector ranks: %+v", got[:2])
			}
			runtime.GC()
			runtime.ReadMemStats(&after)

			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t := time.Now()
				if _, err := ret.Retrieve(context.Background(), request(i+1)); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(took[len(took)*50/100]), "p50-ms")
			b.ReportMetric(ms(took[len(took)*99/100]), "p99-ms")
			b.ReportMetric(ms(cold), "cold-load-ms")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
			runtime.KeepAlive(ret)
		})
	}
}
