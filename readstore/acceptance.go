package readstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// RunAcceptance runs the Store contract's tests. open must return a new,
// empty store for each subtest; the suite closes it. The data stays at a
// few hundred documents so that slow backends (FerretDB) can run it.
//
// Beyond the interface comments, the suite pins down these behaviours:
//   - ties in a sort are broken by id in the direction of the last sort
//     key (id ascending without sort keys);
//   - a missing field sorts before every value (first ascending, last
//     descending), and Ne matches documents that lack the field;
//   - Eq nil matches documents that lack the field, Ne nil those that have it;
//   - an empty Text search matches everything; Text escapes % and _;
//   - sorting on a StringList field is ErrInvalidQuery;
//   - a checkpoint never moves backwards;
//   - Drop of a collection that does not exist is not an error.
func RunAcceptance(t *testing.T, open func(t *testing.T) Store) {
	t.Run("EnsureIdempotent", func(t *testing.T) { accEnsure(t, open) })
	t.Run("PutGet", func(t *testing.T) { accPutGet(t, open) })
	t.Run("VersionGuard", func(t *testing.T) { accVersionGuard(t, open) })
	t.Run("DeleteTombstone", func(t *testing.T) { accDelete(t, open) })
	t.Run("Operators", func(t *testing.T) { accOperators(t, open) })
	t.Run("Sort", func(t *testing.T) { accSort(t, open) })
	t.Run("PagingAndCount", func(t *testing.T) { accPaging(t, open) })
	t.Run("UnknownField", func(t *testing.T) { accUnknownField(t, open) })
	t.Run("InvalidQuery", func(t *testing.T) { accInvalidQuery(t, open) })
	t.Run("ApplyAtomic", func(t *testing.T) { accApplyAtomic(t, open) })
	t.Run("Checkpoint", func(t *testing.T) { accCheckpoint(t, open) })
	t.Run("Drop", func(t *testing.T) { accDrop(t, open) })
	t.Run("ConcurrentQueryDuringApply", func(t *testing.T) { accConcurrent(t, open) })
	t.Run("Closed", func(t *testing.T) { accClosed(t, open) })
}

const accName = "acc_items"

func accCollection() Collection {
	return Collection{
		Name: accName,
		Fields: []Field{
			{Name: "title", Type: String},
			{Name: "owner", Type: String},
			{Name: "score", Type: Number},
			{Name: "active", Type: Bool},
			{Name: "created_at", Type: Time},
			{Name: "tags", Type: StringList},
		},
		Indexes:    [][]string{{"owner", "created_at"}, {"score"}},
		TextFields: []string{"title", "owner"},
	}
}

// accOpen opens a store with the acceptance collection ensured.
func accOpen(t *testing.T, open func(t *testing.T) Store) (Store, context.Context) {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return s, ctx
}

func accDoc(tb testing.TB, id string, version uint64, fields map[string]any) Doc {
	tb.Helper()
	m := map[string]any{"id": id}
	for k, v := range fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatalf("marshal %s: %v", id, err)
	}
	return Doc{ID: id, Version: version, Data: data}
}

func accPut(tb testing.TB, s Store, docs ...Doc) {
	tb.Helper()
	b := Batch{}
	for _, d := range docs {
		b.Writes = append(b.Writes, Write{Collection: accName, Doc: d})
	}
	if err := s.Apply(context.Background(), b); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

func accDelete(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	del := func(id string, version uint64) {
		t.Helper()
		err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: Doc{ID: id, Version: version}, Delete: true}}})
		if err != nil {
			t.Fatalf("Apply delete %s@%d: %v", id, version, err)
		}
	}
	accPut(t, s, accDoc(t, "d1", 5, map[string]any{"owner": "ann"}), accDoc(t, "d2", 5, map[string]any{"owner": "ann"}))

	del("d1", 6)
	accWantMissing(t, s, "d1")
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "ann"}}, Count: true}, "d2")
	accWantIDs(t, s, Query{Count: true}, "d2")

	accPut(t, s, accDoc(t, "d1", 6, map[string]any{"owner": "ann"}))
	accWantMissing(t, s, "d1") // equal version after delete
	accPut(t, s, accDoc(t, "d1", 4, map[string]any{"owner": "ann"}))
	accWantMissing(t, s, "d1") // stale write after delete
	accPut(t, s, accDoc(t, "d1", 8, map[string]any{"owner": "bob"}))
	accWantVersion(t, s, "d1", 8) // a newer write brings it back

	del("d2", 3) // a stale delete is ignored
	accWantVersion(t, s, "d2", 5)

	del("d9", 10) // deleting an unknown document still guards it
	accPut(t, s, accDoc(t, "d9", 9, nil))
	accWantMissing(t, s, "d9")
}

func accWantMissing(tb testing.TB, s Store, id string) {
	tb.Helper()
	if d, err := s.Get(context.Background(), accName, id); !errors.Is(err, ErrNotFound) {
		tb.Fatalf("Get %s = %+v, %v; want ErrNotFound", id, d, err)
	}
}

func accWantVersion(tb testing.TB, s Store, id string, version uint64) Doc {
	tb.Helper()
	d, err := s.Get(context.Background(), accName, id)
	if err != nil {
		tb.Fatalf("Get %s: %v", id, err)
	}
	if d.ID != id || d.Version != version {
		tb.Fatalf("Get %s = id %q version %d; want id %q version %d", id, d.ID, d.Version, id, version)
	}
	return d
}

// accWantIDs runs q and checks the ids in order and, if q.Count, the total.
func accWantIDs(tb testing.TB, s Store, q Query, want ...string) {
	tb.Helper()
	docs, total, err := s.Query(context.Background(), accName, q)
	if err != nil {
		tb.Fatalf("Query %+v: %v", q, err)
	}
	got := accIDs(docs)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		tb.Fatalf("Query %+v ids = %v; want %v", q, got, want)
	}
	if q.Count && total != int64(len(want)) {
		tb.Fatalf("Query %+v total = %d; want %d", q, total, len(want))
	}
}

func accIDs(docs []Doc) []string {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

func accJSONEqual(tb testing.TB, got, want []byte) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("stored data %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		tb.Fatalf("want %s is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Fatalf("data = %s; want %s", got, want)
	}
}

func accEnsure(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	accPut(t, s, accDoc(t, "d1", 1, map[string]any{"owner": "ann", "extra": "x", "rank": 5}))
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure with data: %v", err)
	}
	accWantVersion(t, s, "d1", 1)

	// A field declared later is queryable for documents stored before.
	wider := accCollection()
	wider.Fields = append(wider.Fields, Field{Name: "extra", Type: String}, Field{Name: "rank", Type: Number})
	wider.Indexes = append(wider.Indexes, []string{"extra", "rank"})
	if err := s.Ensure(ctx, wider); err != nil {
		t.Fatalf("Ensure with a new field: %v", err)
	}
	accPut(t, s, accDoc(t, "d2", 1, map[string]any{"owner": "bob", "extra": "y", "rank": 7}))
	accWantIDs(t, s, Query{Where: []Condition{{Field: "extra", Op: Eq, Value: "x"}}}, "d1")
	accWantIDs(t, s, Query{Where: []Condition{{Field: "rank", Op: Gte, Value: 5}}, Sort: []Sort{{Field: "rank", Desc: true}}}, "d2", "d1")
	if err := s.Ensure(ctx, wider); err != nil {
		t.Fatalf("Ensure wider again: %v", err)
	}

	// Going back to the narrower declaration forgets the field.
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure narrower: %v", err)
	}
	if _, _, err := s.Query(ctx, accName, Query{Where: []Condition{{Field: "extra", Op: Eq, Value: "x"}}}); !errors.Is(err, ErrUnknownField) {
		t.Fatalf("Query on a field no longer declared: err = %v; want ErrUnknownField", err)
	}
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "bob"}}}, "d2")

	if err := s.Ensure(ctx, Collection{Name: "Bad Name"}); err == nil {
		t.Fatal("Ensure of an invalid collection: err = nil; want an error")
	}
	if _, err := s.Get(ctx, "acc_other", "d1"); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Get on a collection never ensured: err = %v; want ErrUnknownCollection", err)
	}
	if _, _, err := s.Query(ctx, "acc_other", Query{}); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Query on a collection never ensured: err = %v; want ErrUnknownCollection", err)
	}
}

func accPutGet(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	want := accDoc(t, "d1", 42, map[string]any{
		"title": "Ünïcode \"quoted\" \\ title", "score": 1.5, "active": true,
		"created_at": "2026-03-04T05:06:07.123456789Z", "tags": []string{"x", "y"},
		"nested": map[string]any{"a": []any{1, "two", nil}},
	})
	accPut(t, s, want)
	got := accWantVersion(t, s, "d1", 42)
	accJSONEqual(t, got.Data, want.Data)

	docs, _, err := s.Query(ctx, accName, Query{})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(docs) != 1 || docs[0].ID != "d1" || docs[0].Version != 42 {
		t.Fatalf("Query = %+v; want d1 at version 42", docs)
	}
	accJSONEqual(t, docs[0].Data, want.Data)
	accWantMissing(t, s, "nope")
}

func accVersionGuard(t *testing.T, open func(t *testing.T) Store) {
	s, _ := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", 5, map[string]any{"owner": "v5"}))

	accPut(t, s, accDoc(t, "d1", 3, map[string]any{"owner": "v3"}))
	accJSONEqual(t, accWantVersion(t, s, "d1", 5).Data, accDoc(t, "d1", 5, map[string]any{"owner": "v5"}).Data)
	accPut(t, s, accDoc(t, "d1", 5, map[string]any{"owner": "v5 again"}))
	accJSONEqual(t, accWantVersion(t, s, "d1", 5).Data, accDoc(t, "d1", 5, map[string]any{"owner": "v5"}).Data)
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "v3"}}})

	accPut(t, s, accDoc(t, "d1", 7, map[string]any{"owner": "v7"}))
	accWantVersion(t, s, "d1", 7)
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "v7"}}}, "d1")
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "v5"}}})

	// Within one batch the guard applies write by write.
	accPut(t, s,
		accDoc(t, "d2", 2, map[string]any{"owner": "b2"}),
		accDoc(t, "d2", 4, map[string]any{"owner": "b4"}),
		accDoc(t, "d2", 3, map[string]any{"owner": "b3"}))
	accWantVersion(t, s, "d2", 4)
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "b4"}}}, "d2")
}

// accOperatorDocs is a small set where every operator on every type
// gives a distinct answer; d5 lacks most fields.
func accOperatorDocs(tb testing.TB) []Doc {
	return []Doc{
		accDoc(tb, "d1", 1, map[string]any{"title": "Alpha report", "owner": "ann", "score": 1, "active": true, "created_at": "2026-01-01T00:00:00Z", "tags": []string{"a", "b"}}),
		accDoc(tb, "d2", 1, map[string]any{"title": "beta 100% done", "owner": "bob", "score": 2.5, "active": false, "created_at": "2026-01-02T00:00:00Z", "tags": []string{"b"}}),
		accDoc(tb, "d3", 1, map[string]any{"title": "gamma_ray", "owner": "ann", "score": -3, "active": true, "created_at": "2026-01-03T12:00:00.5Z", "tags": []string{}}),
		accDoc(tb, "d4", 1, map[string]any{"title": "Delta", "owner": "cid", "score": 10, "active": false, "created_at": "2025-12-31T23:59:59Z", "tags": []string{"c"}}),
		accDoc(tb, "d5", 1, map[string]any{"title": "alphabet soup", "owner": "bob"}),
		accDoc(tb, "d6", 1, map[string]any{"title": "100 percent", "score": 2.5, "active": true, "created_at": "2026-01-02T00:00:00+02:00", "tags": []string{"a"}}),
	}
}

func accOperators(t *testing.T, open func(t *testing.T) Store) {
	s, _ := accOpen(t, open)
	accPut(t, s, accOperatorDocs(t)...)
	c := func(field string, op Op, v any) Condition { return Condition{Field: field, Op: op, Value: v} }
	date := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name  string
		where []Condition
		want  []string
	}{
		{"string eq", []Condition{c("owner", Eq, "ann")}, []string{"d1", "d3"}},
		{"string ne includes missing", []Condition{c("owner", Ne, "ann")}, []string{"d2", "d4", "d5", "d6"}},
		{"string in", []Condition{c("owner", In, []any{"bob", "cid"})}, []string{"d2", "d4", "d5"}},
		{"string in typed slice", []Condition{c("owner", In, []string{"cid"})}, []string{"d4"}},
		{"string in empty", []Condition{c("owner", In, []any{})}, nil},
		{"string gt", []Condition{c("owner", Gt, "ann")}, []string{"d2", "d4", "d5"}},
		{"string gte", []Condition{c("owner", Gte, "bob")}, []string{"d2", "d4", "d5"}},
		{"string lt", []Condition{c("owner", Lt, "bob")}, []string{"d1", "d3"}},
		{"string lte", []Condition{c("owner", Lte, "bob")}, []string{"d1", "d2", "d3", "d5"}},
		{"string eq nil is missing", []Condition{c("owner", Eq, nil)}, []string{"d6"}},
		{"string ne nil is present", []Condition{c("owner", Ne, nil)}, []string{"d1", "d2", "d3", "d4", "d5"}},
		{"id eq", []Condition{c("id", Eq, "d3")}, []string{"d3"}},
		{"id ne", []Condition{c("id", Ne, "d1")}, []string{"d2", "d3", "d4", "d5", "d6"}},
		{"id in", []Condition{c("id", In, []string{"d1", "d5", "zz"})}, []string{"d1", "d5"}},
		{"id gt", []Condition{c("id", Gt, "d4")}, []string{"d5", "d6"}},

		{"number eq", []Condition{c("score", Eq, 2.5)}, []string{"d2", "d6"}},
		{"number eq string", []Condition{c("score", Eq, "2.5")}, []string{"d2", "d6"}},
		{"number eq int", []Condition{c("score", Eq, 10)}, []string{"d4"}},
		{"number eq int64", []Condition{c("score", Eq, int64(-3))}, []string{"d3"}},
		{"number ne includes missing", []Condition{c("score", Ne, 2.5)}, []string{"d1", "d3", "d4", "d5"}},
		{"number in mixed", []Condition{c("score", In, []any{1, "10"})}, []string{"d1", "d4"}},
		{"number in empty", []Condition{c("score", In, []any{})}, nil},
		{"number gt", []Condition{c("score", Gt, 1)}, []string{"d2", "d4", "d6"}},
		{"number gte", []Condition{c("score", Gte, 1)}, []string{"d1", "d2", "d4", "d6"}},
		{"number lt", []Condition{c("score", Lt, 0)}, []string{"d3"}},
		{"number lte", []Condition{c("score", Lte, 2.5)}, []string{"d1", "d2", "d3", "d6"}},
		{"number gt negative", []Condition{c("score", Gt, "-3.5")}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"number eq nil is missing", []Condition{c("score", Eq, nil)}, []string{"d5"}},

		{"bool eq", []Condition{c("active", Eq, true)}, []string{"d1", "d3", "d6"}},
		{"bool eq string", []Condition{c("active", Eq, "false")}, []string{"d2", "d4"}},
		{"bool ne includes missing", []Condition{c("active", Ne, true)}, []string{"d2", "d4", "d5"}},
		{"bool in", []Condition{c("active", In, []any{false})}, []string{"d2", "d4"}},
		{"bool in both", []Condition{c("active", In, []bool{true, false})}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"bool in empty", []Condition{c("active", In, []bool{})}, nil},
		{"bool gt", []Condition{c("active", Gt, false)}, []string{"d1", "d3", "d6"}},
		{"bool gte", []Condition{c("active", Gte, false)}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"bool lt", []Condition{c("active", Lt, "true")}, []string{"d2", "d4"}},
		{"bool lte", []Condition{c("active", Lte, false)}, []string{"d2", "d4"}},

		{"time eq", []Condition{c("created_at", Eq, "2026-01-02T00:00:00Z")}, []string{"d2"}},
		{"time eq other zone", []Condition{c("created_at", Eq, "2026-01-02T00:00:00+02:00")}, []string{"d6"}},
		{"time eq time.Time", []Condition{c("created_at", Eq, date("2026-01-01T22:00:00Z"))}, []string{"d6"}},
		{"time ne includes missing", []Condition{c("created_at", Ne, "2026-01-02T00:00:00Z")}, []string{"d1", "d3", "d4", "d5", "d6"}},
		{"time in", []Condition{c("created_at", In, []any{"2026-01-01T00:00:00Z", date("2025-12-31T23:59:59Z")})}, []string{"d1", "d4"}},
		{"time in empty", []Condition{c("created_at", In, []string{})}, nil},
		{"time gt", []Condition{c("created_at", Gt, "2026-01-01T00:00:00Z")}, []string{"d2", "d3", "d6"}},
		{"time gte", []Condition{c("created_at", Gte, "2026-01-01T00:00:00Z")}, []string{"d1", "d2", "d3", "d6"}},
		{"time lt", []Condition{c("created_at", Lt, date("2026-01-01T00:00:00Z"))}, []string{"d4"}},
		{"time lte", []Condition{c("created_at", Lte, "2026-01-01T22:00:00Z")}, []string{"d1", "d4", "d6"}},
		{"time fractional gt", []Condition{c("created_at", Gt, "2026-01-03T12:00:00Z")}, []string{"d3"}},
		{"time fractional lt", []Condition{c("created_at", Lt, "2026-01-03T12:00:00.6Z")}, []string{"d1", "d2", "d3", "d4", "d6"}},

		{"list eq any element", []Condition{c("tags", Eq, "b")}, []string{"d1", "d2"}},
		{"list eq none", []Condition{c("tags", Eq, "zz")}, nil},
		{"list ne includes missing and empty", []Condition{c("tags", Ne, "b")}, []string{"d3", "d4", "d5", "d6"}},
		{"list in", []Condition{c("tags", In, []any{"c", "a"})}, []string{"d1", "d4", "d6"}},
		{"list in empty", []Condition{c("tags", In, []string{})}, nil},

		{"text case-insensitive", []Condition{c("", Text, "ALPHA")}, []string{"d1", "d5"}},
		{"text percent is literal", []Condition{c("", Text, "100%")}, []string{"d2"}},
		{"text only percent", []Condition{c("", Text, "%")}, []string{"d2"}},
		{"text underscore is literal", []Condition{c("", Text, "a_r")}, []string{"d3"}},
		{"text any text field", []Condition{c("", Text, "BoB")}, []string{"d2", "d5"}},
		{"text empty matches all", []Condition{c("", Text, "")}, []string{"d1", "d2", "d3", "d4", "d5", "d6"}},
		{"text and eq", []Condition{c("", Text, "alpha"), c("owner", Eq, "bob")}, []string{"d5"}},

		{"two conditions", []Condition{c("owner", Eq, "ann"), c("active", Eq, true)}, []string{"d1", "d3"}},
		{"range", []Condition{c("score", Gte, 1), c("score", Lt, 10)}, []string{"d1", "d2", "d6"}},
		{"no conditions", nil, []string{"d1", "d2", "d3", "d4", "d5", "d6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accWantIDs(t, s, Query{Where: tt.where, Sort: []Sort{{Field: "id"}}, Count: true}, tt.want...)
		})
	}
}

// accRow is a generated document kept in Go to compute expected orders.
type accRow struct {
	id      string
	title   string
	owner   *string
	score   *float64
	active  *bool
	created *time.Time
}

// accRows builds n documents with many ties and some missing fields.
func accRows(tb testing.TB, n int) ([]accRow, []Doc) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	owners := []string{"ann", "bob", "cid", "dee"}
	rows := make([]accRow, n)
	docs := make([]Doc, n)
	for i := range n {
		// Ids are a permutation (37 is prime to the sizes used) so
		// that id order is not insertion order.
		r := accRow{id: fmt.Sprintf("p%03d", (i*37)%n), title: fmt.Sprintf("t%02d", i%13)}
		fields := map[string]any{"title": r.title, "tags": []string{owners[i%4]}}
		if i%9 != 0 {
			o := owners[i%4]
			r.owner = &o
			fields["owner"] = o
		}
		if i%7 != 3 {
			sc := float64(i%5) - 1.5
			r.score = &sc
			fields["score"] = sc
		}
		if i%6 != 5 {
			a := i%3 == 0
			r.active = &a
			fields["active"] = a
		}
		if i%8 != 1 {
			// Half the times carry a zone offset and a fraction: the
			// order must be by instant, not by the text.
			at := base.Add(time.Duration(i%11)*90*time.Minute + time.Duration(i%3)*250*time.Millisecond)
			r.created = &at
			if i%2 == 0 {
				fields["created_at"] = at.In(time.FixedZone("", 3*3600)).Format(time.RFC3339Nano)
			} else {
				fields["created_at"] = at.Format(time.RFC3339Nano)
			}
		}
		rows[i] = r
		docs[i] = accDoc(tb, r.id, 1, fields)
	}
	return rows, docs
}

// accCompare compares two rows on one field, a missing value first.
func accCompare(a, b accRow, field string) int {
	switch field {
	case "id":
		return cmp.Compare(a.id, b.id)
	case "title":
		return cmp.Compare(a.title, b.title)
	case "owner":
		return accCompareMissing(a.owner, b.owner, cmp.Compare[string])
	case "score":
		return accCompareMissing(a.score, b.score, cmp.Compare[float64])
	case "active":
		return accCompareMissing(a.active, b.active, func(x, y bool) int {
			return cmp.Compare(boolInt(x), boolInt(y))
		})
	case "created_at":
		return accCompareMissing(a.created, b.created, time.Time.Compare)
	}
	panic("accCompare: unknown field " + field)
}

func accCompareMissing[T any](a, b *T, compare func(T, T) int) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return compare(*a, *b)
}

// accOrder returns the ids of rows in the order the contract promises.
func accOrder(rows []accRow, sorts []Sort) []string {
	rows = slices.Clone(rows)
	desc := len(sorts) > 0 && sorts[len(sorts)-1].Desc
	slices.SortFunc(rows, func(a, b accRow) int {
		for _, s := range sorts {
			c := accCompare(a, b, s.Field)
			if s.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := cmp.Compare(a.id, b.id)
		if desc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	return ids
}

func accSort(t *testing.T, open func(t *testing.T) Store) {
	s, _ := accOpen(t, open)
	rows, docs := accRows(t, 120)
	accPut(t, s, docs...)
	sorts := [][]Sort{nil}
	for _, f := range []string{"id", "title", "owner", "score", "active", "created_at"} {
		sorts = append(sorts, []Sort{{Field: f}}, []Sort{{Field: f, Desc: true}})
	}
	sorts = append(sorts,
		[]Sort{{Field: "owner"}, {Field: "score", Desc: true}},
		[]Sort{{Field: "active", Desc: true}, {Field: "created_at"}},
		[]Sort{{Field: "score"}, {Field: "id", Desc: true}})
	for _, srt := range sorts {
		t.Run(fmt.Sprint(srt), func(t *testing.T) {
			accWantIDs(t, s, Query{Sort: srt}, accOrder(rows, srt)...)
		})
	}
}

func accPaging(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	rows, docs := accRows(t, 150)
	accPut(t, s, docs...)

	for _, tc := range []struct {
		name  string
		where []Condition
		sort  []Sort
	}{
		{"all by score desc", nil, []Sort{{Field: "score", Desc: true}}},
		{"owner by created_at", []Condition{{Field: "owner", Op: Eq, Value: "ann"}}, []Sort{{Field: "created_at"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all, total, err := s.Query(ctx, accName, Query{Where: tc.where, Sort: tc.sort, Count: true})
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if int64(len(all)) != total {
				t.Fatalf("unpaged: %d docs, total %d", len(all), total)
			}
			if tc.where == nil {
				if want := accOrder(rows, tc.sort); !slices.Equal(accIDs(all), want) {
					t.Fatalf("unpaged ids = %v; want %v", accIDs(all), want)
				}
			}
			const limit = 7
			var paged []string
			seen := map[string]bool{}
			for skip := 0; ; skip += limit {
				page, pageTotal, err := s.Query(ctx, accName, Query{Where: tc.where, Sort: tc.sort, Skip: skip, Limit: limit, Count: true})
				if err != nil {
					t.Fatalf("Query skip %d: %v", skip, err)
				}
				if pageTotal != total {
					t.Fatalf("skip %d: total = %d; want %d", skip, pageTotal, total)
				}
				if len(page) > limit {
					t.Fatalf("skip %d: %d docs; want at most %d", skip, len(page), limit)
				}
				for _, d := range page {
					if seen[d.ID] {
						t.Fatalf("skip %d: %s seen on an earlier page", skip, d.ID)
					}
					seen[d.ID] = true
					paged = append(paged, d.ID)
				}
				if len(page) < limit {
					break
				}
			}
			if !slices.Equal(paged, accIDs(all)) {
				t.Fatalf("pages = %v; want %v", paged, accIDs(all))
			}

			// Skip without a limit returns the rest; Count false gives -1.
			rest, noTotal, err := s.Query(ctx, accName, Query{Where: tc.where, Sort: tc.sort, Skip: 5})
			if err != nil {
				t.Fatalf("Query skip 5: %v", err)
			}
			if noTotal != -1 {
				t.Fatalf("total without Count = %d; want -1", noTotal)
			}
			if !slices.Equal(accIDs(rest), accIDs(all)[min(5, len(all)):]) {
				t.Fatalf("skip 5 = %v; want %v", accIDs(rest), accIDs(all)[5:])
			}
			beyond, beyondTotal, err := s.Query(ctx, accName, Query{Where: tc.where, Sort: tc.sort, Skip: len(all) + 10, Limit: limit, Count: true})
			if err != nil || len(beyond) != 0 || beyondTotal != total {
				t.Fatalf("Query beyond the end = %d docs, total %d, %v; want 0 docs, total %d", len(beyond), beyondTotal, err, total)
			}
		})
	}
}

func accUnknownField(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	for _, q := range []Query{
		{Where: []Condition{{Field: "nope", Op: Eq, Value: "x"}}},
		{Where: []Condition{{Field: "nope", Op: In, Value: []string{}}}},
		{Where: []Condition{{Field: "data", Op: Eq, Value: "x"}}},
		{Sort: []Sort{{Field: "nope"}}},
	} {
		_, _, err := s.Query(ctx, accName, q)
		if !errors.Is(err, ErrUnknownField) {
			t.Errorf("Query %+v: err = %v; want ErrUnknownField", q, err)
			continue
		}
		name := "nope"
		if len(q.Where) > 0 {
			name = q.Where[0].Field
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Query %+v: error %q does not name the field %q", q, err, name)
		}
	}
}

func accInvalidQuery(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accOperatorDocs(t)...)
	c := func(field string, op Op, v any) Query {
		return Query{Where: []Condition{{Field: field, Op: op, Value: v}}}
	}
	for name, q := range map[string]Query{
		"number from text":    c("score", Eq, "abc"),
		"number from bool":    c("score", Gt, true),
		"number in bad":       c("score", In, []any{1, "x"}),
		"time from text":      c("created_at", Gt, "yesterday"),
		"time from number":    c("created_at", Eq, 5),
		"bool from text":      c("active", Eq, "maybe"),
		"string from number":  c("owner", Eq, 3),
		"in without list":     c("owner", In, "ann"),
		"range on list":       c("tags", Gt, "a"),
		"range on nil":        c("score", Gt, nil),
		"unknown operator":    c("owner", Op("like"), "a"),
		"text not string":     c("", Text, 5),
		"sort on list":        {Sort: []Sort{{Field: "tags"}}},
		"negative skip":       {Skip: -1},
		"negative limit":      {Limit: -1},
		"list from number":    c("tags", Eq, 1),
		"in with nil element": c("owner", In, []any{"ann", nil}),
	} {
		if _, _, err := s.Query(ctx, accName, q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: Query %+v: err = %v; want ErrInvalidQuery", name, q, err)
		}
	}
}

func accApplyAtomic(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	ok := Batch{Checkpoint: &Checkpoint{Name: "acc", Position: 10}}
	for _, id := range []string{"a1", "a2", "a3"} {
		ok.Writes = append(ok.Writes, Write{Collection: accName, Doc: accDoc(t, id, 10, nil)})
	}
	if err := s.Apply(ctx, ok); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		accWantVersion(t, s, id, 10)
	}
	accWantCheckpoint(t, s, "acc", 10)

	bad := Batch{
		Writes: []Write{
			{Collection: accName, Doc: accDoc(t, "a4", 20, nil)},
			{Collection: accName, Doc: accDoc(t, "a1", 20, map[string]any{"owner": "changed"})},
			{Collection: "acc_missing", Doc: accDoc(t, "x", 20, nil)},
		},
		Checkpoint: &Checkpoint{Name: "acc", Position: 20},
	}
	if err := s.Apply(ctx, bad); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Apply with an unknown collection: err = %v; want ErrUnknownCollection", err)
	}
	accWantMissing(t, s, "a4")
	accWantVersion(t, s, "a1", 10)
	accWantCheckpoint(t, s, "acc", 10)
}

func accWantCheckpoint(tb testing.TB, s Store, name string, want uint64) {
	tb.Helper()
	got, err := s.Checkpoint(context.Background(), name)
	if err != nil {
		tb.Fatalf("Checkpoint %s: %v", name, err)
	}
	if got != want {
		tb.Fatalf("Checkpoint %s = %d; want %d", name, got, want)
	}
}

func accCheckpoint(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	accWantCheckpoint(t, s, "never", 0)
	for _, step := range []struct {
		name      string
		pos, want uint64
	}{
		{"p", 5, 5},
		{"p", 9, 9},
		{"p", 7, 9}, // never backwards
		{"q", 3, 3},
		{"p", 1 << 40, 1 << 40},
	} {
		if err := s.Apply(ctx, Batch{Checkpoint: &Checkpoint{Name: step.name, Position: step.pos}}); err != nil {
			t.Fatalf("Apply checkpoint %s=%d: %v", step.name, step.pos, err)
		}
		accWantCheckpoint(t, s, step.name, step.want)
	}
	accWantCheckpoint(t, s, "q", 3)
	if err := s.Apply(ctx, Batch{}); err != nil {
		t.Fatalf("Apply of an empty batch: %v", err)
	}
}

func accDrop(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", 1, map[string]any{"owner": "ann"}))
	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if _, err := s.Get(ctx, accName, "d1"); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Get after Drop: err = %v; want ErrUnknownCollection", err)
	}
	if _, _, err := s.Query(ctx, accName, Query{}); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Query after Drop: err = %v; want ErrUnknownCollection", err)
	}
	err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: accDoc(t, "d2", 2, nil)}}})
	if !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Apply after Drop: err = %v; want ErrUnknownCollection", err)
	}
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure after Drop: %v", err)
	}
	accWantMissing(t, s, "d1")
	accWantIDs(t, s, Query{Count: true})
	accPut(t, s, accDoc(t, "d1", 1, map[string]any{"owner": "ann"})) // version 1 again: nothing remembers the old one
	accWantVersion(t, s, "d1", 1)

	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("Drop of a dropped collection: %v", err)
	}
	if err := s.Drop(ctx, "acc_never"); err != nil {
		t.Fatalf("Drop of a collection never ensured: %v", err)
	}
}

// accConcurrent queries while batches are applied. It checks what every
// implementation promises: no errors, a count that never goes backwards
// for one reader, and each applied batch visible once Apply returns.
func accConcurrent(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	const batches, perBatch, readers = 20, 10, 3
	done := make(chan struct{})
	errs := make(chan error, 8)
	// The writer starts once every reader has queried, so they overlap.
	var started sync.WaitGroup
	started.Add(readers)
	var wg sync.WaitGroup
	all := make([]Batch, batches)
	for b := range all {
		all[b].Checkpoint = &Checkpoint{Name: "acc", Position: uint64(b + 1)}
		for i := range perBatch {
			id := fmt.Sprintf("c%02d%02d", b, i)
			all[b].Writes = append(all[b].Writes, Write{Collection: accName, Doc: accDoc(t, id, uint64(b+1), map[string]any{
				"owner": "w", "score": i, "created_at": time.Date(2026, 1, 1, b, i, 0, 0, time.UTC).Format(time.RFC3339),
			})})
		}
	}
	wg.Go(func() {
		defer close(done)
		started.Wait()
		for b, batch := range all {
			if err := s.Apply(ctx, batch); err != nil {
				errs <- fmt.Errorf("Apply batch %d: %w", b, err)
				return
			}
			last := batch.Writes[perBatch-1].Doc.ID
			if _, err := s.Get(ctx, accName, last); err != nil {
				errs <- fmt.Errorf("Get %s right after its Apply: %w", last, err)
				return
			}
		}
	})
	for r := range readers {
		wg.Go(func() {
			markStarted := sync.OnceFunc(started.Done)
			defer markStarted() // a reader that fails early must not block the writer
			var prev int64
			for n := 0; ; n++ {
				if n == 1 {
					markStarted()
				}
				select {
				case <-done:
					return
				default:
				}
				q := Query{
					Where: []Condition{{Field: "owner", Op: Eq, Value: "w"}},
					Sort:  []Sort{{Field: "created_at", Desc: true}},
					Limit: 5, Count: true,
				}
				docs, total, err := s.Query(ctx, accName, q)
				if err != nil {
					errs <- fmt.Errorf("reader %d: Query: %w", r, err)
					return
				}
				if total < prev {
					errs <- fmt.Errorf("reader %d: total went from %d to %d", r, prev, total)
					return
				}
				prev = total
				if total > 0 && len(docs) == 0 {
					errs <- fmt.Errorf("reader %d: total %d but an empty page", r, total)
					return
				}
				if _, err := s.Checkpoint(ctx, "acc"); err != nil {
					errs <- fmt.Errorf("reader %d: Checkpoint: %w", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	accWantCheckpoint(t, s, "acc", batches)
	_, total, err := s.Query(ctx, accName, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "w"}}, Count: true})
	if err != nil || total != batches*perBatch {
		t.Fatalf("final count = %d, %v; want %d", total, err, batches*perBatch)
	}
}

func accClosed(t *testing.T, open func(t *testing.T) Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", 1, nil))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Get(ctx, accName, "d1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: err = %v; want ErrClosed", err)
	}
	if _, _, err := s.Query(ctx, accName, Query{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: err = %v; want ErrClosed", err)
	}
	if err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: accDoc(t, "d2", 1, nil)}}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close: err = %v; want ErrClosed", err)
	}
	if _, err := s.Checkpoint(ctx, "acc"); !errors.Is(err, ErrClosed) {
		t.Errorf("Checkpoint after Close: err = %v; want ErrClosed", err)
	}
	if err := s.Ensure(ctx, accCollection()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ensure after Close: err = %v; want ErrClosed", err)
	}
}
