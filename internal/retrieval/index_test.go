package retrieval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// bm25 is the textbook formula, written out to check the index against.
func bm25(n, df, tf, dl int, avg float64) float64 {
	idf := math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
	return idf * float64(tf) * (K1 + 1) / (float64(tf) + K1*(1-B+B*float64(dl)/avg))
}

func TestSearchScoresAreBM25(t *testing.T) {
	x := NewIndex()
	x.Upsert(Doc{ID: "a", Content: "refund refund window"})        // length 3
	x.Upsert(Doc{ID: "b", Content: "refund policy for gift card"}) // refund policy gift card: 4
	x.Upsert(Doc{ID: "c", Content: "gift wrapping"})               // 2
	avg := 9.0 / 3
	if got := x.AverageLength(); got != avg {
		t.Fatalf("average length %v, want %v", got, avg)
	}
	if got := x.DocumentFrequency("refund"); got != 2 {
		t.Fatalf("df(refund) = %d, want 2", got)
	}
	got := x.Search("refund gift", 10)
	want := map[string]float64{
		"a": bm25(3, 2, 2, 3, avg),
		"b": bm25(3, 2, 1, 4, avg) + bm25(3, 2, 1, 4, avg),
		"c": bm25(3, 2, 1, 2, avg),
	}
	if len(got) != 3 {
		t.Fatalf("got %d hits %v, want 3", len(got), got)
	}
	for _, h := range got {
		if math.Abs(h.Score-want[h.ID]) > 1e-12 {
			t.Errorf("score of %s: got %v, want %v", h.ID, h.Score, want[h.ID])
		}
	}
	if !slices.IsSortedFunc(got, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		return 1
	}) {
		t.Errorf("hits not best first: %v", got)
	}
}

func TestSearchRanking(t *testing.T) {
	cases := []struct {
		name  string
		docs  []Doc
		query string
		want  []string
	}{
		{"a rare term outweighs a common one",
			[]Doc{{ID: "1", Content: "order order status"}, {ID: "2", Content: "order tracking number"}, {ID: "3", Content: "order history"}, {ID: "4", Content: "order cancel"}},
			"order tracking", []string{"2", "1", "3", "4"}},
		{"a shorter document ranks above a longer one with the same count",
			[]Doc{{ID: "long", Content: "invoice download from the billing page with many other words about accounts settings"}, {ID: "short", Content: "invoice download"}},
			"invoice", []string{"short", "long"}},
		{"a title counts more than content",
			[]Doc{{ID: "body", Title: "Account", Content: "how to change your email"}, {ID: "title", Title: "Email", Content: "how to change your account"}},
			"email", []string{"title", "body"}},
		{"ties are broken by id",
			[]Doc{{ID: "b", Content: "coupon"}, {ID: "a", Content: "coupon"}, {ID: "c", Content: "coupon"}},
			"coupon", []string{"a", "b", "c"}},
		{"stems meet", []Doc{{ID: "1", Content: "We shipped it"}, {ID: "2", Content: "we sell it"}}, "shipping", []string{"1"}},
		{"no shared term, no hit", []Doc{{ID: "1", Content: "alpha"}}, "beta", []string{}},
		{"stop words alone find nothing", []Doc{{ID: "1", Content: "the alpha"}}, "the", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := NewIndex()
			for _, d := range c.docs {
				x.Upsert(d)
			}
			if got := ids(x.Search(c.query, 10)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSearchK(t *testing.T) {
	x := NewIndex()
	for i := range 20 {
		x.Upsert(Doc{ID: fmt.Sprintf("%02d", i), Content: strings.Repeat("parcel ", i+1) + "tracking"})
	}
	all := x.Search("parcel", 100)
	if len(all) != 20 {
		t.Fatalf("got %d hits, want 20", len(all))
	}
	for _, k := range []int{0, 1, 3, 20} {
		if got := x.Search("parcel", k); !reflect.DeepEqual(got, all[:k:k]) && !(k == 0 && got == nil) {
			t.Errorf("k=%d: got %v, want the first %d of %v", k, got, k, all)
		}
	}
}

// words is a small vocabulary for generated documents.
var words = strings.Fields(`refund return shipping parcel courier invoice billing card password reset
	account email login token key webhook order cancel address warehouse gift voucher coupon tax
	receipt subscription plan upgrade downgrade export report label customs delay damaged`)

func randomDoc(r *rand.Rand, id string) Doc {
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	return Doc{ID: id, Title: text(1 + r.IntN(4)), Content: text(5 + r.IntN(40))}
}

// TestRemoveIsExact: an index that saw documents added, replaced and
// removed ranks exactly like a fresh index of what is left, down to the
// last bit of every score.
func TestRemoveIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	churned, final := NewIndex(), map[string]Doc{}
	for i := range 300 {
		id := fmt.Sprintf("d%03d", r.IntN(120))
		switch op := r.IntN(10); {
		case op < 6:
			d := randomDoc(r, id)
			churned.Upsert(d)
			final[id] = d
		case op < 9:
			churned.Remove(id)
			delete(final, id)
		default:
			if _, ok := final[id]; ok {
				churned.SetVector(id, []float32{float32(i), 1})
			}
		}
	}
	fresh := NewIndex()
	for _, d := range final {
		fresh.Upsert(d)
	}
	if churned.Len() != fresh.Len() || churned.AverageLength() != fresh.AverageLength() {
		t.Fatalf("churned: %d docs of average length %v; fresh: %d, %v", churned.Len(), churned.AverageLength(), fresh.Len(), fresh.AverageLength())
	}
	if len(churned.terms) != len(fresh.terms) {
		t.Fatalf("churned index keeps %d terms, fresh %d", len(churned.terms), len(fresh.terms))
	}
	for term := range fresh.terms {
		if a, b := churned.DocumentFrequency(term), fresh.DocumentFrequency(term); a != b {
			t.Errorf("df(%s): churned %d, fresh %d", term, a, b)
		}
	}
	for i := range 200 {
		q := randomDoc(r, "").Title
		if a, b := churned.Search(q, 15), fresh.Search(q, 15); !reflect.DeepEqual(a, b) {
			t.Fatalf("query %d %q: churned %v, fresh %v", i, q, a, b)
		}
	}
	for id := range churned.vecDim {
		if _, ok := final[id]; !ok {
			t.Errorf("vector %s outlived its removal", id)
		}
	}
}

func TestUpsertReplaces(t *testing.T) {
	x := NewIndex()
	x.Upsert(Doc{ID: "1", Content: "passwords"})
	x.Upsert(Doc{ID: "1", Content: "invoices"})
	if x.Len() != 1 || x.DocumentFrequency("password") != 0 || x.DocumentFrequency("invoic") != 1 {
		t.Fatalf("after a replace: %d docs, df(password) %d, df(invoic) %d; want 1, 0, 1", x.Len(), x.DocumentFrequency("password"), x.DocumentFrequency("invoic"))
	}
	if got := x.Search("password", 5); len(got) != 0 {
		t.Fatalf("the replaced text still matches: %v", got)
	}
}

func TestNearest(t *testing.T) {
	x := NewIndex()
	x.SetVector("east", []float32{1, 0})
	x.SetVector("north", []float32{0, 5}) // normalised at insert
	x.SetVector("northeast", []float32{3, 3})
	x.SetVector("other-dim", []float32{1, 0, 0})
	x.SetVector("zero", []float32{0, 0})
	x.SetVector("nan", []float32{float32(math.NaN()), 1})
	if x.VectorLen() != 4 {
		t.Fatalf("%d vectors, want 4 (zero and NaN have no direction)", x.VectorLen())
	}
	got := x.Nearest([]float32{2, 0.5}, 10)
	if want := []string{"east", "northeast", "north"}; !slices.Equal(ids(got), want) {
		t.Fatalf("got %v, want %v (the 3-dimensional vector skipped)", ids(got), want)
	}
	if math.Abs(got[0].Score-2/math.Sqrt(4.25)) > 1e-6 {
		t.Errorf("cosine to east %v, want %v", got[0].Score, 2/math.Sqrt(4.25))
	}
	if got := x.Nearest([]float32{1, 0, 0}, 1); !slices.Equal(ids(got), []string{"other-dim"}) {
		t.Errorf("a 3-dimensional query found %v, want other-dim", ids(got))
	}
	if got := x.Nearest([]float32{0, 0}, 3); got != nil {
		t.Errorf("a zero query found %v", got)
	}
	x.SetVector("other-dim", []float32{0, 1}) // a new dimension moves it
	if got := x.Nearest([]float32{1, 0, 0}, 1); got != nil || x.VectorLen() != 4 {
		t.Errorf("after a change of dimension: a 3-dimensional query found %v among %d vectors, want nothing among 4", got, x.VectorLen())
	}
	x.Remove("other-dim")
	x.SetVector("north", []float32{0, 0}) // a vector without direction removes the old one
	x.Remove("east")
	if got := ids(x.Nearest([]float32{1, 0}, 10)); !slices.Equal(got, []string{"northeast"}) {
		t.Errorf("after removals: %v, want [northeast]", got)
	}
	x.SetVector("b", []float32{1, 1})
	x.SetVector("a", []float32{2, 2})
	if got := ids(x.Nearest([]float32{1, 1}, 10)); !slices.Equal(got, []string{"a", "b", "northeast"}) {
		t.Errorf("equal similarities: %v, want ordered by id", got)
	}
}

func TestFuse(t *testing.T) {
	lexical := []Hit{{ID: "a", Score: 9}, {ID: "b", Score: 5}, {ID: "c", Score: 1}}
	vector := []Hit{{ID: "c", Score: 0.9}, {ID: "b", Score: 0.8}, {ID: "d", Score: 0.7}}
	got := Fuse(10, lexical, vector)
	rrf := func(ranks ...int) float64 {
		var s float64
		for _, r := range ranks {
			s += 1 / float64(RRFConstant+r)
		}
		return s
	}
	want := []Hit{{ID: "c", Score: rrf(3, 1)}, {ID: "b", Score: rrf(2, 2)}, {ID: "a", Score: rrf(1)}, {ID: "d", Score: rrf(3)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := Fuse(2, lexical, vector); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("k=2: got %v, want %v", got, want[:2])
	}
	if got := Fuse(3, lexical); !reflect.DeepEqual(ids(got), ids(lexical)) {
		t.Errorf("one list: got %v, want its order %v", ids(got), ids(lexical))
	}
	if got := Fuse(3, []Hit{{ID: "x"}, {ID: "x"}}); len(got) != 1 || got[0].Score != rrf(1) {
		t.Errorf("a repeated id: got %v, want it once at rank 1", got)
	}
	if got := Fuse(0, lexical); got != nil {
		t.Errorf("k=0: got %v", got)
	}
}

// TestConcurrentUse runs searches beside changes; the race detector
// watches.
func TestConcurrentUse(t *testing.T) {
	x := NewIndex()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 300 {
				id := fmt.Sprintf("d%d", r.IntN(50))
				switch i % 4 {
				case 0:
					x.Upsert(randomDoc(r, id))
				case 1:
					x.SetVector(id, []float32{r.Float32(), r.Float32()})
				case 2:
					x.Search("refund parcel", 5)
					x.Nearest([]float32{1, 1}, 5)
				case 3:
					x.Remove(id)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkNearest(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := NewIndex()
	v := make([]float32, 256)
	for i := range 10000 {
		for j := range v {
			v[j] = r.Float32() - 0.5
		}
		x.SetVector(fmt.Sprint(i), v)
	}
	for b.Loop() {
		x.Nearest(v, 50)
	}
}

func BenchmarkSearch(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := NewIndex()
	for i := range 10000 {
		x.Upsert(randomDoc(r, fmt.Sprint(i)))
	}
	for b.Loop() {
		x.Search("refund for a damaged parcel", 50)
	}
}
