// Package readstoretest is the acceptance suite of the readstore.Store
// contract. Every implementation runs it from its own tests:
//
//	func TestAcceptance(t *testing.T) {
//		readstoretest.Run(t, func(t *testing.T) readstore.Store { return open(t) })
//	}
//
// It lives in a package of its own so that the server binary, which
// imports readstore, never links the testing package.
package readstoretest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"agentdesk/readstore"
)

// Run runs the Store contract's tests, each as a subtest. open must
// return a new, empty store each time it is called; the suite closes it.
// The data stays at a few hundred documents per test, and nothing relies
// on transactions, so that slow backends without them (FerretDB) can run
// it. Guarantees only some backends give, such as a batch landing
// atomically, belong in those backends' own tests.
//
// Beyond the interface comments, the suite pins down these behaviours:
//   - versions and checkpoints compare byte by byte, "" lowest;
//   - ties in a sort are broken by id in the direction of the last sort
//     key (id ascending without sort keys);
//   - a missing or null field sorts before every value (first ascending,
//     last descending), and Ne matches documents that lack the field;
//   - Eq nil matches documents whose field is missing or null, Ne nil
//     those whose field has a value (an empty list is a value);
//   - Text matches word prefixes, every word of the search in some text
//     field, folding case beyond ASCII; a search without words (empty,
//     or only punctuation) matches everything;
//   - sorting on a StringList field is ErrInvalidQuery;
//   - Query refuses exactly what readstore.Check refuses, with its error;
//   - a checkpoint never moves backwards;
//   - a batch cut short between its writes and its checkpoint, then
//     applied again, ends as if it had been applied once;
//   - generations are independent collections, and switching changes
//     what the plain name serves, nothing else;
//   - Drop of a collection that does not exist is not an error.
func Run(t *testing.T, open func(t *testing.T) readstore.Store) {
	t.Run("EnsureIdempotent", func(t *testing.T) { accEnsure(t, open) })
	t.Run("PutGet", func(t *testing.T) { accPutGet(t, open) })
	t.Run("VersionGuard", func(t *testing.T) { accVersionGuard(t, open) })
	t.Run("VersionOrder", func(t *testing.T) { accVersionOrder(t, open) })
	t.Run("DeleteTombstone", func(t *testing.T) { accDelete(t, open) })
	t.Run("Operators", func(t *testing.T) { accOperators(t, open) })
	t.Run("NullFilters", func(t *testing.T) { accNull(t, open) })
	t.Run("Sort", func(t *testing.T) { accSort(t, open) })
	t.Run("Enum", func(t *testing.T) { accEnum(t, open) })
	t.Run("PagingAndCount", func(t *testing.T) { accPaging(t, open) })
	t.Run("UnknownField", func(t *testing.T) { accUnknownField(t, open) })
	t.Run("InvalidQuery", func(t *testing.T) { accInvalidQuery(t, open) })
	t.Run("ApplyError", func(t *testing.T) { accApplyError(t, open) })
	t.Run("CrashBeforeCheckpoint", func(t *testing.T) { accCrash(t, open) })
	t.Run("Checkpoint", func(t *testing.T) { accCheckpoint(t, open) })
	t.Run("Generations", func(t *testing.T) { accGenerations(t, open) })
	t.Run("Drop", func(t *testing.T) { accDrop(t, open) })
	t.Run("ConcurrentQueryDuringApply", func(t *testing.T) { accConcurrent(t, open) })
	t.Run("Closed", func(t *testing.T) { accClosed(t, open) })
	t.Run("CountsAgree", func(t *testing.T) { accCounts(t, open) })
}

// ver is a version or position as projections write them: the global
// position as 32 hex digits, so that byte order is numeric order.
func ver(n int) string { return fmt.Sprintf("%032x", n) }

const accName = "acc_items"

func accCollection() readstore.Collection {
	return readstore.Collection{
		Name: accName,
		Fields: []readstore.Field{
			{Name: "title", Type: readstore.String},
			{Name: "owner", Type: readstore.String},
			{Name: "score", Type: readstore.Number},
			{Name: "active", Type: readstore.Bool},
			{Name: "created_at", Type: readstore.Time},
			{Name: "tags", Type: readstore.StringList},
		},
		Indexes:    [][]string{{"owner", "created_at"}, {"score"}, {"owner", "tags"}},
		TextFields: []string{"title", "owner"},
		Counts:     [][]string{{"owner"}, {"owner", "active"}, {"owner", "tags"}},
	}
}

// accOpen opens a store with the acceptance collection ensured.
func accOpen(t *testing.T, open func(t *testing.T) readstore.Store) (readstore.Store, context.Context) {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return s, ctx
}

func accDoc(tb testing.TB, id string, version string, fields map[string]any) readstore.Doc {
	tb.Helper()
	m := map[string]any{"id": id}
	for k, v := range fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatalf("marshal %s: %v", id, err)
	}
	return readstore.Doc{ID: id, Version: version, Data: data}
}

func accPut(tb testing.TB, s readstore.Store, docs ...readstore.Doc) {
	tb.Helper()
	b := readstore.Batch{}
	for _, d := range docs {
		b.Writes = append(b.Writes, readstore.Write{Collection: accName, Doc: d})
	}
	if err := s.Apply(context.Background(), b); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

func accDelete(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	del := func(id string, version string) {
		t.Helper()
		err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: accName, Doc: readstore.Doc{ID: id, Version: version}, Delete: true}}})
		if err != nil {
			t.Fatalf("Apply delete %s@%q: %v", id, version, err)
		}
	}
	accPut(t, s, accDoc(t, "d1", ver(5), map[string]any{"owner": "ann"}), accDoc(t, "d2", ver(5), map[string]any{"owner": "ann"}))

	del("d1", ver(6))
	accWantMissing(t, s, "d1")
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "ann"}}, Count: true}, "d2")
	accWantIDs(t, s, readstore.Query{Count: true}, "d2")

	accPut(t, s, accDoc(t, "d1", ver(6), map[string]any{"owner": "ann"}))
	accWantMissing(t, s, "d1") // equal version after delete
	accPut(t, s, accDoc(t, "d1", ver(4), map[string]any{"owner": "ann"}))
	accWantMissing(t, s, "d1") // stale write after delete
	accPut(t, s, accDoc(t, "d1", ver(8), map[string]any{"owner": "bob"}))
	accWantVersion(t, s, "d1", ver(8)) // a newer write brings it back

	del("d2", ver(3)) // a stale delete is ignored
	accWantVersion(t, s, "d2", ver(5))

	del("d9", ver(10)) // deleting an unknown document still guards it
	accPut(t, s, accDoc(t, "d9", ver(9), nil))
	accWantMissing(t, s, "d9")

	// A deletion may carry the document as it was (for whoever is told
	// of the write) and Created: the stores ignore both.
	err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: accName, Delete: true, Created: true,
		Doc: readstore.Doc{ID: "d1", Version: ver(9), Data: []byte(`{"id":"d1","owner":"bob"}`)}}}})
	if err != nil {
		t.Fatalf("Apply a delete with data: %v", err)
	}
	accWantMissing(t, s, "d1")
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "bob"}}, Count: true})
}

func accWantMissing(tb testing.TB, s readstore.Store, id string) {
	tb.Helper()
	accWantMissingIn(tb, s, accName, id)
}

func accWantMissingIn(tb testing.TB, s readstore.Store, collection, id string) {
	tb.Helper()
	if d, err := s.Get(context.Background(), collection, id); !errors.Is(err, readstore.ErrNotFound) {
		tb.Fatalf("Get %s %s = %+v, %v; want ErrNotFound", collection, id, d, err)
	}
}

func accWantVersion(tb testing.TB, s readstore.Store, id string, version string) readstore.Doc {
	tb.Helper()
	return accWantVersionIn(tb, s, accName, id, version)
}

func accWantVersionIn(tb testing.TB, s readstore.Store, collection, id string, version string) readstore.Doc {
	tb.Helper()
	d, err := s.Get(context.Background(), collection, id)
	if err != nil {
		tb.Fatalf("Get %s %s: %v", collection, id, err)
	}
	if d.ID != id || d.Version != version {
		tb.Fatalf("Get %s %s = id %q version %q; want id %q version %q", collection, id, d.ID, d.Version, id, version)
	}
	return d
}

// accWantIDs runs q and checks the ids in order and, if q.Count, the total.
func accWantIDs(tb testing.TB, s readstore.Store, q readstore.Query, want ...string) {
	tb.Helper()
	accWantIDsIn(tb, s, accName, q, want...)
}

func accWantIDsIn(tb testing.TB, s readstore.Store, collection string, q readstore.Query, want ...string) {
	tb.Helper()
	docs, total, err := s.Query(context.Background(), collection, q)
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

func accIDs(docs []readstore.Doc) []string {
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

func accEnsure(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	accPut(t, s, accDoc(t, "d1", ver(1), map[string]any{"owner": "ann", "extra": "x", "rank": 5}))
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure with data: %v", err)
	}
	accWantVersion(t, s, "d1", ver(1))

	// A field declared later is queryable for documents stored before.
	wider := accCollection()
	wider.Fields = append(wider.Fields, readstore.Field{Name: "extra", Type: readstore.String}, readstore.Field{Name: "rank", Type: readstore.Number})
	wider.Indexes = append(wider.Indexes, []string{"extra", "rank"})
	if err := s.Ensure(ctx, wider); err != nil {
		t.Fatalf("Ensure with a new field: %v", err)
	}
	accPut(t, s, accDoc(t, "d2", ver(1), map[string]any{"owner": "bob", "extra": "y", "rank": 7}))
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "extra", Op: readstore.Eq, Value: "x"}}}, "d1")
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "rank", Op: readstore.Gte, Value: 5}}, Sort: []readstore.Sort{{Field: "rank", Desc: true}}}, "d2", "d1")
	if err := s.Ensure(ctx, wider); err != nil {
		t.Fatalf("Ensure wider again: %v", err)
	}

	// Going back to the narrower declaration forgets the field.
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure narrower: %v", err)
	}
	if _, _, err := s.Query(ctx, accName, readstore.Query{Where: []readstore.Condition{{Field: "extra", Op: readstore.Eq, Value: "x"}}}); !errors.Is(err, readstore.ErrUnknownField) {
		t.Fatalf("Query on a field no longer declared: err = %v; want ErrUnknownField", err)
	}
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "bob"}}}, "d2")

	if err := s.Ensure(ctx, readstore.Collection{Name: "Bad Name"}); err == nil {
		t.Fatal("Ensure of an invalid collection: err = nil; want an error")
	}
	if _, err := s.Get(ctx, "acc_other", "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get on a collection never ensured: err = %v; want ErrUnknownCollection", err)
	}
	if _, _, err := s.Query(ctx, "acc_other", readstore.Query{}); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Query on a collection never ensured: err = %v; want ErrUnknownCollection", err)
	}
}

func accPutGet(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	want := accDoc(t, "d1", ver(42), map[string]any{
		"title": "Ünïcode \"quoted\" \\ title", "score": 1.5, "active": true,
		"created_at": "2026-03-04T05:06:07.123456789Z", "tags": []string{"x", "y"},
		"nested": map[string]any{"a": []any{1, "two", nil}},
	})
	accPut(t, s, want)
	got := accWantVersion(t, s, "d1", ver(42))
	accJSONEqual(t, got.Data, want.Data)

	docs, _, err := s.Query(ctx, accName, readstore.Query{})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(docs) != 1 || docs[0].ID != "d1" || docs[0].Version != ver(42) {
		t.Fatalf("Query = %+v; want d1 at version 42", docs)
	}
	accJSONEqual(t, docs[0].Data, want.Data)
	accWantMissing(t, s, "nope")
}

func accVersionGuard(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, _ := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", ver(5), map[string]any{"owner": "v5"}))

	accPut(t, s, accDoc(t, "d1", ver(3), map[string]any{"owner": "v3"}))
	accJSONEqual(t, accWantVersion(t, s, "d1", ver(5)).Data, accDoc(t, "d1", ver(5), map[string]any{"owner": "v5"}).Data)
	accPut(t, s, accDoc(t, "d1", ver(5), map[string]any{"owner": "v5 again"}))
	accJSONEqual(t, accWantVersion(t, s, "d1", ver(5)).Data, accDoc(t, "d1", ver(5), map[string]any{"owner": "v5"}).Data)
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "v3"}}})

	accPut(t, s, accDoc(t, "d1", ver(7), map[string]any{"owner": "v7"}))
	accWantVersion(t, s, "d1", ver(7))
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "v7"}}}, "d1")
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "v5"}}})

	// Within one batch the guard applies write by write.
	accPut(t, s,
		accDoc(t, "d2", ver(2), map[string]any{"owner": "b2"}),
		accDoc(t, "d2", ver(4), map[string]any{"owner": "b4"}),
		accDoc(t, "d2", ver(3), map[string]any{"owner": "b3"}))
	accWantVersion(t, s, "d2", ver(4))
	accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "b4"}}}, "d2")
}

// accOperatorDocs is a small set where every operator on every type
// gives a distinct answer; d5 lacks most fields.
func accOperatorDocs(tb testing.TB) []readstore.Doc {
	return []readstore.Doc{
		accDoc(tb, "d1", ver(1), map[string]any{"title": "Alpha report", "owner": "ann", "score": 1, "active": true, "created_at": "2026-01-01T00:00:00Z", "tags": []string{"a", "b"}}),
		accDoc(tb, "d2", ver(1), map[string]any{"title": "beta 100% done", "owner": "bob", "score": 2.5, "active": false, "created_at": "2026-01-02T00:00:00Z", "tags": []string{"b"}}),
		accDoc(tb, "d3", ver(1), map[string]any{"title": "gamma_ray", "owner": "ann", "score": -3, "active": true, "created_at": "2026-01-03T12:00:00.5Z", "tags": []string{}}),
		accDoc(tb, "d4", ver(1), map[string]any{"title": "Delta éclair", "owner": "cid", "score": 10, "active": false, "created_at": "2025-12-31T23:59:59Z", "tags": []string{"c"}}),
		accDoc(tb, "d5", ver(1), map[string]any{"title": "alphabet soup", "owner": "bob"}),
		accDoc(tb, "d6", ver(1), map[string]any{"title": "100 percent", "score": 2.5, "active": true, "created_at": "2026-01-02T00:00:00+02:00", "tags": []string{"a"}}),
	}
}

func accOperators(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, _ := accOpen(t, open)
	accPut(t, s, accOperatorDocs(t)...)
	c := func(field string, op readstore.Op, v any) readstore.Condition {
		return readstore.Condition{Field: field, Op: op, Value: v}
	}
	date := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name  string
		where []readstore.Condition
		want  []string
	}{
		{"string eq", []readstore.Condition{c("owner", readstore.Eq, "ann")}, []string{"d1", "d3"}},
		{"string ne includes missing", []readstore.Condition{c("owner", readstore.Ne, "ann")}, []string{"d2", "d4", "d5", "d6"}},
		{"string in", []readstore.Condition{c("owner", readstore.In, []any{"bob", "cid"})}, []string{"d2", "d4", "d5"}},
		{"string in typed slice", []readstore.Condition{c("owner", readstore.In, []string{"cid"})}, []string{"d4"}},
		{"string in empty", []readstore.Condition{c("owner", readstore.In, []any{})}, nil},
		{"string gt", []readstore.Condition{c("owner", readstore.Gt, "ann")}, []string{"d2", "d4", "d5"}},
		{"string gte", []readstore.Condition{c("owner", readstore.Gte, "bob")}, []string{"d2", "d4", "d5"}},
		{"string lt", []readstore.Condition{c("owner", readstore.Lt, "bob")}, []string{"d1", "d3"}},
		{"string lte", []readstore.Condition{c("owner", readstore.Lte, "bob")}, []string{"d1", "d2", "d3", "d5"}},
		{"string eq nil is missing", []readstore.Condition{c("owner", readstore.Eq, nil)}, []string{"d6"}},
		{"string ne nil is present", []readstore.Condition{c("owner", readstore.Ne, nil)}, []string{"d1", "d2", "d3", "d4", "d5"}},
		{"id eq", []readstore.Condition{c("id", readstore.Eq, "d3")}, []string{"d3"}},
		{"id ne", []readstore.Condition{c("id", readstore.Ne, "d1")}, []string{"d2", "d3", "d4", "d5", "d6"}},
		{"id in", []readstore.Condition{c("id", readstore.In, []string{"d1", "d5", "zz"})}, []string{"d1", "d5"}},
		{"id gt", []readstore.Condition{c("id", readstore.Gt, "d4")}, []string{"d5", "d6"}},

		{"number eq", []readstore.Condition{c("score", readstore.Eq, 2.5)}, []string{"d2", "d6"}},
		{"number eq string", []readstore.Condition{c("score", readstore.Eq, "2.5")}, []string{"d2", "d6"}},
		{"number eq int", []readstore.Condition{c("score", readstore.Eq, 10)}, []string{"d4"}},
		{"number eq int64", []readstore.Condition{c("score", readstore.Eq, int64(-3))}, []string{"d3"}},
		{"number ne includes missing", []readstore.Condition{c("score", readstore.Ne, 2.5)}, []string{"d1", "d3", "d4", "d5"}},
		{"number in mixed", []readstore.Condition{c("score", readstore.In, []any{1, "10"})}, []string{"d1", "d4"}},
		{"number in empty", []readstore.Condition{c("score", readstore.In, []any{})}, nil},
		{"number gt", []readstore.Condition{c("score", readstore.Gt, 1)}, []string{"d2", "d4", "d6"}},
		{"number gte", []readstore.Condition{c("score", readstore.Gte, 1)}, []string{"d1", "d2", "d4", "d6"}},
		{"number lt", []readstore.Condition{c("score", readstore.Lt, 0)}, []string{"d3"}},
		{"number lte", []readstore.Condition{c("score", readstore.Lte, 2.5)}, []string{"d1", "d2", "d3", "d6"}},
		{"number gt negative", []readstore.Condition{c("score", readstore.Gt, "-3.5")}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"number eq nil is missing", []readstore.Condition{c("score", readstore.Eq, nil)}, []string{"d5"}},

		{"bool eq", []readstore.Condition{c("active", readstore.Eq, true)}, []string{"d1", "d3", "d6"}},
		{"bool eq string", []readstore.Condition{c("active", readstore.Eq, "false")}, []string{"d2", "d4"}},
		{"bool ne includes missing", []readstore.Condition{c("active", readstore.Ne, true)}, []string{"d2", "d4", "d5"}},
		{"bool in", []readstore.Condition{c("active", readstore.In, []any{false})}, []string{"d2", "d4"}},
		{"bool in both", []readstore.Condition{c("active", readstore.In, []bool{true, false})}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"bool in empty", []readstore.Condition{c("active", readstore.In, []bool{})}, nil},
		{"bool gt", []readstore.Condition{c("active", readstore.Gt, false)}, []string{"d1", "d3", "d6"}},
		{"bool gte", []readstore.Condition{c("active", readstore.Gte, false)}, []string{"d1", "d2", "d3", "d4", "d6"}},
		{"bool lt", []readstore.Condition{c("active", readstore.Lt, "true")}, []string{"d2", "d4"}},
		{"bool lte", []readstore.Condition{c("active", readstore.Lte, false)}, []string{"d2", "d4"}},

		{"time eq", []readstore.Condition{c("created_at", readstore.Eq, "2026-01-02T00:00:00Z")}, []string{"d2"}},
		{"time eq other zone", []readstore.Condition{c("created_at", readstore.Eq, "2026-01-02T00:00:00+02:00")}, []string{"d6"}},
		{"time eq time.Time", []readstore.Condition{c("created_at", readstore.Eq, date("2026-01-01T22:00:00Z"))}, []string{"d6"}},
		{"time ne includes missing", []readstore.Condition{c("created_at", readstore.Ne, "2026-01-02T00:00:00Z")}, []string{"d1", "d3", "d4", "d5", "d6"}},
		{"time in", []readstore.Condition{c("created_at", readstore.In, []any{"2026-01-01T00:00:00Z", date("2025-12-31T23:59:59Z")})}, []string{"d1", "d4"}},
		{"time in empty", []readstore.Condition{c("created_at", readstore.In, []string{})}, nil},
		{"time gt", []readstore.Condition{c("created_at", readstore.Gt, "2026-01-01T00:00:00Z")}, []string{"d2", "d3", "d6"}},
		{"time gte", []readstore.Condition{c("created_at", readstore.Gte, "2026-01-01T00:00:00Z")}, []string{"d1", "d2", "d3", "d6"}},
		{"time lt", []readstore.Condition{c("created_at", readstore.Lt, date("2026-01-01T00:00:00Z"))}, []string{"d4"}},
		{"time lte", []readstore.Condition{c("created_at", readstore.Lte, "2026-01-01T22:00:00Z")}, []string{"d1", "d4", "d6"}},
		{"time fractional gt", []readstore.Condition{c("created_at", readstore.Gt, "2026-01-03T12:00:00Z")}, []string{"d3"}},
		{"time fractional lt", []readstore.Condition{c("created_at", readstore.Lt, "2026-01-03T12:00:00.6Z")}, []string{"d1", "d2", "d3", "d4", "d6"}},

		{"list eq any element", []readstore.Condition{c("tags", readstore.Eq, "b")}, []string{"d1", "d2"}},
		{"list eq none", []readstore.Condition{c("tags", readstore.Eq, "zz")}, nil},
		{"list ne includes missing and empty", []readstore.Condition{c("tags", readstore.Ne, "b")}, []string{"d3", "d4", "d5", "d6"}},
		{"list in", []readstore.Condition{c("tags", readstore.In, []any{"c", "a"})}, []string{"d1", "d4", "d6"}},
		{"list in empty", []readstore.Condition{c("tags", readstore.In, []string{})}, nil},

		{"text case-insensitive", []readstore.Condition{c("", readstore.Text, "ALPHA")}, []string{"d1", "d5"}},
		{"text word prefix only", []readstore.Condition{c("", readstore.Text, "lpha")}, nil},
		{"text every word", []readstore.Condition{c("", readstore.Text, "rep al")}, []string{"d1"}},
		{"text punctuation separates", []readstore.Condition{c("", readstore.Text, "100%")}, []string{"d2", "d6"}},
		{"text no words matches all", []readstore.Condition{c("", readstore.Text, "%")}, []string{"d1", "d2", "d3", "d4", "d5", "d6"}},
		{"text underscore separates", []readstore.Condition{c("", readstore.Text, "ray gam")}, []string{"d3"}},
		{"text words across fields", []readstore.Condition{c("", readstore.Text, "gamma ann")}, []string{"d3"}},
		{"text any text field", []readstore.Condition{c("", readstore.Text, "BoB")}, []string{"d2", "d5"}},
		{"text non-ASCII folds", []readstore.Condition{c("", readstore.Text, "ÉCLAIR")}, []string{"d4"}},
		{"text empty matches all", []readstore.Condition{c("", readstore.Text, "")}, []string{"d1", "d2", "d3", "d4", "d5", "d6"}},
		{"text and eq", []readstore.Condition{c("", readstore.Text, "alpha"), c("owner", readstore.Eq, "bob")}, []string{"d5"}},

		{"two conditions", []readstore.Condition{c("owner", readstore.Eq, "ann"), c("active", readstore.Eq, true)}, []string{"d1", "d3"}},
		{"range", []readstore.Condition{c("score", readstore.Gte, 1), c("score", readstore.Lt, 10)}, []string{"d1", "d2", "d6"}},
		{"no conditions", nil, []string{"d1", "d2", "d3", "d4", "d5", "d6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accWantIDs(t, s, readstore.Query{Where: tt.where, Sort: []readstore.Sort{{Field: "id"}}, Count: true}, tt.want...)
		})
	}
}

// accNull checks null filters for every field type: a field set to JSON
// null is "not set", exactly like a missing one, while an empty string,
// zero, false and an empty list are values. Null also sorts like missing.
func accNull(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, _ := accOpen(t, open)
	doc := func(id string, data string) readstore.Doc {
		return readstore.Doc{ID: id, Version: ver(1), Data: json.RawMessage(data)}
	}
	accPut(t, s,
		doc("n1", `{"owner":"ann","score":1,"active":true,"created_at":"2026-01-01T00:00:00Z","tags":["a"]}`),
		doc("n2", `{"owner":null,"score":null,"active":null,"created_at":null,"tags":null}`),
		doc("n3", `{"title":"nothing set"}`),
		doc("n4", `{"owner":"","score":0,"active":false,"created_at":"0001-01-01T00:00:00Z","tags":[]}`),
	)
	for _, field := range []string{"owner", "score", "active", "created_at", "tags"} {
		t.Run(field, func(t *testing.T) {
			accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: field, Op: readstore.Eq, Value: nil}}, Count: true}, "n2", "n3")
			accWantIDs(t, s, readstore.Query{Where: []readstore.Condition{{Field: field, Op: readstore.Ne, Value: nil}}, Count: true}, "n1", "n4")
		})
	}
	c := func(field string, op readstore.Op, v any) []readstore.Condition {
		return []readstore.Condition{{Field: field, Op: op, Value: v}}
	}
	accWantIDs(t, s, readstore.Query{Where: c("owner", readstore.Ne, "ann")}, "n2", "n3", "n4")
	accWantIDs(t, s, readstore.Query{Where: c("owner", readstore.In, []string{"ann", ""})}, "n1", "n4")
	accWantIDs(t, s, readstore.Query{Where: c("tags", readstore.Ne, "a")}, "n2", "n3", "n4")
	accWantIDs(t, s, readstore.Query{Where: c("score", readstore.Lte, 0)}, "n4")
	accWantIDs(t, s, readstore.Query{Where: c("active", readstore.Eq, false)}, "n4")
	accWantIDs(t, s, readstore.Query{Sort: []readstore.Sort{{Field: "owner"}}}, "n2", "n3", "n4", "n1")
	accWantIDs(t, s, readstore.Query{Sort: []readstore.Sort{{Field: "score", Desc: true}}}, "n1", "n4", "n3", "n2")
	accWantIDs(t, s, readstore.Query{Sort: []readstore.Sort{{Field: "created_at"}}}, "n2", "n3", "n4", "n1")
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
func accRows(tb testing.TB, n int) ([]accRow, []readstore.Doc) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	owners := []string{"ann", "bob", "cid", "dee"}
	rows := make([]accRow, n)
	docs := make([]readstore.Doc, n)
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
		docs[i] = accDoc(tb, r.id, ver(1), fields)
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
			return cmp.Compare(accBoolInt(x), accBoolInt(y))
		})
	case "created_at":
		return accCompareMissing(a.created, b.created, time.Time.Compare)
	}
	panic("accCompare: unknown field " + field)
}

func accBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
func accOrder(rows []accRow, sorts []readstore.Sort) []string {
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

func accSort(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, _ := accOpen(t, open)
	rows, docs := accRows(t, 120)
	accPut(t, s, docs...)
	sorts := [][]readstore.Sort{nil}
	for _, f := range []string{"id", "title", "owner", "score", "active", "created_at"} {
		sorts = append(sorts, []readstore.Sort{{Field: f}}, []readstore.Sort{{Field: f, Desc: true}})
	}
	sorts = append(sorts,
		[]readstore.Sort{{Field: "owner"}, {Field: "score", Desc: true}},
		[]readstore.Sort{{Field: "active", Desc: true}, {Field: "created_at"}},
		[]readstore.Sort{{Field: "score"}, {Field: "id", Desc: true}})
	for _, srt := range sorts {
		t.Run(fmt.Sprint(srt), func(t *testing.T) {
			accWantIDs(t, s, readstore.Query{Sort: srt}, accOrder(rows, srt)...)
		})
	}
}

func accPaging(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	rows, docs := accRows(t, 150)
	accPut(t, s, docs...)

	for _, tc := range []struct {
		name  string
		where []readstore.Condition
		sort  []readstore.Sort
	}{
		{"all by score desc", nil, []readstore.Sort{{Field: "score", Desc: true}}},
		{"owner by created_at", []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "ann"}}, []readstore.Sort{{Field: "created_at"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all, total, err := s.Query(ctx, accName, readstore.Query{Where: tc.where, Sort: tc.sort, Count: true})
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
				page, pageTotal, err := s.Query(ctx, accName, readstore.Query{Where: tc.where, Sort: tc.sort, Skip: skip, Limit: limit, Count: true})
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
			rest, noTotal, err := s.Query(ctx, accName, readstore.Query{Where: tc.where, Sort: tc.sort, Skip: 5})
			if err != nil {
				t.Fatalf("Query skip 5: %v", err)
			}
			if noTotal != -1 {
				t.Fatalf("total without Count = %d; want -1", noTotal)
			}
			if !slices.Equal(accIDs(rest), accIDs(all)[min(5, len(all)):]) {
				t.Fatalf("skip 5 = %v; want %v", accIDs(rest), accIDs(all)[5:])
			}
			beyond, beyondTotal, err := s.Query(ctx, accName, readstore.Query{Where: tc.where, Sort: tc.sort, Skip: len(all) + 10, Limit: limit, Count: true})
			if err != nil || len(beyond) != 0 || beyondTotal != total {
				t.Fatalf("Query beyond the end = %d docs, total %d, %v; want 0 docs, total %d", len(beyond), beyondTotal, err, total)
			}
		})
	}
}

func accUnknownField(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	for _, q := range []readstore.Query{
		{Where: []readstore.Condition{{Field: "nope", Op: readstore.Eq, Value: "x"}}},
		{Where: []readstore.Condition{{Field: "nope", Op: readstore.In, Value: []string{}}}},
		{Where: []readstore.Condition{{Field: "nope", Op: readstore.Eq, Value: nil}}},
		{Where: []readstore.Condition{{Field: "data", Op: readstore.Eq, Value: "x"}}},
		{Where: []readstore.Condition{{Field: "version", Op: readstore.Gt, Value: "x"}}},
		{Sort: []readstore.Sort{{Field: "nope"}}},
	} {
		_, _, err := s.Query(ctx, accName, q)
		if !errors.Is(err, readstore.ErrUnknownField) {
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
		if _, checkErr := readstore.Check(accCollection(), q); !errors.Is(checkErr, readstore.ErrUnknownField) {
			t.Errorf("Check %+v: err = %v; want ErrUnknownField, as Query said", q, checkErr)
		}
	}
}

func accInvalidQuery(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accOperatorDocs(t)...)
	c := func(field string, op readstore.Op, v any) readstore.Query {
		return readstore.Query{Where: []readstore.Condition{{Field: field, Op: op, Value: v}}}
	}
	for name, q := range map[string]readstore.Query{
		"number from text":    c("score", readstore.Eq, "abc"),
		"number from bool":    c("score", readstore.Gt, true),
		"number not finite":   c("score", readstore.Lt, "Inf"),
		"number in bad":       c("score", readstore.In, []any{1, "x"}),
		"time from text":      c("created_at", readstore.Gt, "yesterday"),
		"time from number":    c("created_at", readstore.Eq, 5),
		"bool from text":      c("active", readstore.Eq, "maybe"),
		"string from number":  c("owner", readstore.Eq, 3),
		"in without list":     c("owner", readstore.In, "ann"),
		"in with bytes":       c("owner", readstore.In, []byte("ann")),
		"range on list":       c("tags", readstore.Gt, "a"),
		"range on nil":        c("score", readstore.Gt, nil),
		"in nil":              c("score", readstore.In, nil),
		"unknown operator":    c("owner", readstore.Op("like"), "a"),
		"text not string":     c("", readstore.Text, 5),
		"sort on list":        {Sort: []readstore.Sort{{Field: "tags"}}},
		"negative skip":       {Skip: -1},
		"negative limit":      {Limit: -1},
		"list from number":    c("tags", readstore.Eq, 1),
		"in with nil element": c("owner", readstore.In, []any{"ann", nil}),
	} {
		if _, _, err := s.Query(ctx, accName, q); !errors.Is(err, readstore.ErrInvalidQuery) {
			t.Errorf("%s: Query %+v: err = %v; want ErrInvalidQuery", name, q, err)
		}
		if _, err := readstore.Check(accCollection(), q); !errors.Is(err, readstore.ErrInvalidQuery) {
			t.Errorf("%s: Check %+v: err = %v; want ErrInvalidQuery, as Query said", name, q, err)
		}
	}

	// A collection without text fields refuses a text search.
	plain := readstore.Collection{Name: "acc_plain", Fields: []readstore.Field{{Name: "owner", Type: readstore.String}}}
	if err := s.Ensure(ctx, plain); err != nil {
		t.Fatalf("Ensure %s: %v", plain.Name, err)
	}
	q := c("", readstore.Text, "ann")
	if _, _, err := s.Query(ctx, plain.Name, q); !errors.Is(err, readstore.ErrInvalidQuery) {
		t.Errorf("text search without text fields: err = %v; want ErrInvalidQuery", err)
	}
}

// accApplyError checks a batch that fails on a collection never ensured:
// the error says so and the checkpoint has not moved. Whether the writes
// before it landed is the backend's business; the batch applied again,
// corrected, ends as one clean application would.
func accApplyError(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	ok := readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: "acc", Position: ver(10)}}
	for _, id := range []string{"a1", "a2", "a3"} {
		ok.Writes = append(ok.Writes, readstore.Write{Collection: accName, Doc: accDoc(t, id, ver(10), nil)})
	}
	if err := s.Apply(ctx, ok); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		accWantVersion(t, s, id, ver(10))
	}
	accWantCheckpoint(t, s, "acc", ver(10))

	bad := readstore.Batch{
		Writes: []readstore.Write{
			{Collection: accName, Doc: accDoc(t, "a4", ver(20), nil)},
			{Collection: accName, Doc: accDoc(t, "a1", ver(20), map[string]any{"owner": "changed"})},
			{Collection: "acc_missing", Doc: accDoc(t, "x", ver(20), nil)},
		},
		Checkpoint: &readstore.Checkpoint{Name: "acc", Position: ver(20)},
	}
	if err := s.Apply(ctx, bad); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Apply with an unknown collection: err = %v; want ErrUnknownCollection", err)
	}
	accWantCheckpoint(t, s, "acc", ver(10))

	bad.Writes = bad.Writes[:2]
	if err := s.Apply(ctx, bad); err != nil {
		t.Fatalf("Apply the corrected batch: %v", err)
	}
	accWantVersion(t, s, "a4", ver(20))
	accJSONEqual(t, accWantVersion(t, s, "a1", ver(20)).Data, accDoc(t, "a1", ver(20), map[string]any{"owner": "changed"}).Data)
	accWantCheckpoint(t, s, "acc", ver(20))
}

func accWantCheckpoint(tb testing.TB, s readstore.Store, name string, want string) {
	tb.Helper()
	got, err := s.Checkpoint(context.Background(), name)
	if err != nil {
		tb.Fatalf("Checkpoint %s: %v", name, err)
	}
	if got != want {
		tb.Fatalf("Checkpoint %s = %q; want %q", name, got, want)
	}
}

func accCheckpoint(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	accWantCheckpoint(t, s, "never", "")
	for _, step := range []struct {
		name, pos, want string
	}{
		{"p", ver(5), ver(5)},
		{"p", ver(9), ver(9)},
		{"p", ver(7), ver(9)}, // never backwards
		{"q", ver(3), ver(3)},
		{"p", ver(1 << 40), ver(1 << 40)},
		{"p", "", ver(1 << 40)}, // "" is lowest
		// Byte order, not numeric order: positions are opaque.
		{"r", "9", "9"},
		{"r", "10", "9"},
		{"r", "9a", "9a"},
	} {
		if err := s.Apply(ctx, readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: step.name, Position: step.pos}}); err != nil {
			t.Fatalf("Apply checkpoint %s=%q: %v", step.name, step.pos, err)
		}
		accWantCheckpoint(t, s, step.name, step.want)
	}
	accWantCheckpoint(t, s, "q", ver(3))
	if err := s.Apply(ctx, readstore.Batch{}); err != nil {
		t.Fatalf("Apply of an empty batch: %v", err)
	}
}

func accDrop(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", ver(1), map[string]any{"owner": "ann"}))
	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if _, err := s.Get(ctx, accName, "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get after Drop: err = %v; want ErrUnknownCollection", err)
	}
	if _, _, err := s.Query(ctx, accName, readstore.Query{}); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Query after Drop: err = %v; want ErrUnknownCollection", err)
	}
	err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: accName, Doc: accDoc(t, "d2", ver(2), nil)}}})
	if !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Apply after Drop: err = %v; want ErrUnknownCollection", err)
	}
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure after Drop: %v", err)
	}
	accWantMissing(t, s, "d1")
	accWantIDs(t, s, readstore.Query{Count: true})
	accPut(t, s, accDoc(t, "d1", ver(1), map[string]any{"owner": "ann"})) // version 1 again: nothing remembers the old one
	accWantVersion(t, s, "d1", ver(1))

	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
	if err := s.Drop(ctx, accName); err != nil {
		t.Fatalf("Drop of a dropped collection: %v", err)
	}
	if err := s.Drop(ctx, "acc_never"); err != nil {
		t.Fatalf("Drop of a collection never ensured: %v", err)
	}
	if err := s.Drop(ctx, readstore.Generation(accName, 5)); err != nil {
		t.Fatalf("Drop of a generation never ensured: %v", err)
	}
	if err := s.Drop(ctx, "Bad Name"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Drop of an invalid name: err = %v; want ErrUnknownCollection", err)
	}
}

// accConcurrent queries while batches are applied. It checks what every
// implementation promises: no errors, a count that never goes backwards
// for one reader, and each applied batch visible once Apply returns.
func accConcurrent(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	const batches, perBatch, readers = 20, 10, 3
	done := make(chan struct{})
	errs := make(chan error, 8)
	// The writer starts once every reader has queried, so they overlap.
	var started sync.WaitGroup
	started.Add(readers)
	var wg sync.WaitGroup
	all := make([]readstore.Batch, batches)
	for b := range all {
		all[b].Checkpoint = &readstore.Checkpoint{Name: "acc", Position: ver(b + 1)}
		for i := range perBatch {
			id := fmt.Sprintf("c%02d%02d", b, i)
			all[b].Writes = append(all[b].Writes, readstore.Write{Collection: accName, Doc: accDoc(t, id, ver(b+1), map[string]any{
				"owner": "w", "score": i, "created_at": time.Date(2026, 1, 1, b, i, 0, 0, time.UTC).Format(time.RFC3339),
			})})
		}
	}
	wg.Go(func() {
		defer close(done)
		started.Wait()
		for b, batch := range all {
			if err := s.Apply(ctx, batch); err != nil {
				errs <- fmt.Errorf("apply batch %d: %w", b, err)
				return
			}
			last := batch.Writes[perBatch-1].Doc.ID
			if _, err := s.Get(ctx, accName, last); err != nil {
				errs <- fmt.Errorf("get %s right after its Apply: %w", last, err)
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
				q := readstore.Query{
					Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "w"}},
					Sort:  []readstore.Sort{{Field: "created_at", Desc: true}},
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
	accWantCheckpoint(t, s, "acc", ver(batches))
	_, total, err := s.Query(ctx, accName, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "w"}}, Count: true})
	if err != nil || total != batches*perBatch {
		t.Fatalf("final count = %d, %v; want %d", total, err, batches*perBatch)
	}
}

func accClosed(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	accPut(t, s, accDoc(t, "d1", ver(1), nil))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Get(ctx, accName, "d1"); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Get after Close: err = %v; want ErrClosed", err)
	}
	if _, _, err := s.Query(ctx, accName, readstore.Query{}); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Query after Close: err = %v; want ErrClosed", err)
	}
	if err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: accName, Doc: accDoc(t, "d2", ver(1), nil)}}}); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Apply after Close: err = %v; want ErrClosed", err)
	}
	if _, err := s.Checkpoint(ctx, "acc"); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Checkpoint after Close: err = %v; want ErrClosed", err)
	}
	if err := s.Ensure(ctx, accCollection()); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Ensure after Close: err = %v; want ErrClosed", err)
	}
	if _, err := s.LiveGeneration(ctx, accName); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("LiveGeneration after Close: err = %v; want ErrClosed", err)
	}
	if err := s.SwitchGeneration(ctx, accName, 1); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("SwitchGeneration after Close: err = %v; want ErrClosed", err)
	}
	if err := s.Drop(ctx, accName); !errors.Is(err, readstore.ErrClosed) {
		t.Errorf("Drop after Close: err = %v; want ErrClosed", err)
	}
}

// accCounts writes, moves and deletes documents at random and checks
// every counted query against a model of the documents: equalities on a
// Counts group (which a backend may answer from kept counts), list and
// text matches (which a backend may answer from derived indexes), and
// that the total agrees with the page.
func accCounts(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	rng := rand.New(rand.NewPCG(7, 7))
	owners := []any{"ann", "bob", nil}
	actives := []any{true, false, nil}
	titles := []string{"red apple", "green pear", "red pear", "blue"}
	tagSets := [][]string{{"a"}, {"a", "b"}, {}, {"b", "b"}}
	type doc struct {
		owner, active any
		title         string
		tags          []string
	}
	model := map[string]doc{}
	eq := func(f string, v any) readstore.Condition {
		return readstore.Condition{Field: f, Op: readstore.Eq, Value: v}
	}
	type query struct {
		where []readstore.Condition
		match func(doc) bool
	}
	var queries []query
	queries = append(queries, query{nil, func(doc) bool { return true }})
	for _, o := range owners {
		queries = append(queries, query{[]readstore.Condition{eq("owner", o)}, func(d doc) bool { return d.owner == o }})
		for _, a := range actives {
			queries = append(queries, query{[]readstore.Condition{eq("active", a), eq("owner", o)}, func(d doc) bool { return d.owner == o && d.active == a }})
		}
		queries = append(queries, query{[]readstore.Condition{eq("owner", o), eq("tags", "b")}, func(d doc) bool { return d.owner == o && slices.Contains(d.tags, "b") }})
	}
	queries = append(queries,
		query{[]readstore.Condition{eq("active", false)}, func(d doc) bool { return d.active == false }},
		query{[]readstore.Condition{eq("tags", "a")}, func(d doc) bool { return slices.Contains(d.tags, "a") }},
		query{[]readstore.Condition{{Field: "tags", Op: readstore.In, Value: []any{"a", "b"}}}, func(d doc) bool {
			return slices.Contains(d.tags, "a") || slices.Contains(d.tags, "b")
		}},
		query{[]readstore.Condition{{Op: readstore.Text, Value: "red"}}, func(d doc) bool { return strings.HasPrefix(d.title, "red") }},
		query{[]readstore.Condition{{Op: readstore.Text, Value: "pe re"}, eq("owner", "ann")}, func(d doc) bool { return d.title == "red pear" && d.owner == "ann" }},
	)

	version := 0
	for round := range 6 {
		var b readstore.Batch
		for range 40 {
			version++
			id := fmt.Sprintf("c%02d", rng.IntN(30))
			if rng.IntN(5) == 0 {
				b.Writes = append(b.Writes, readstore.Write{Collection: accName, Doc: readstore.Doc{ID: id, Version: ver(version)}, Delete: true})
				delete(model, id)
				continue
			}
			d := doc{owner: owners[rng.IntN(3)], active: actives[rng.IntN(3)], title: titles[rng.IntN(len(titles))], tags: tagSets[rng.IntN(len(tagSets))]}
			fields := map[string]any{"title": d.title, "tags": d.tags}
			if d.owner != nil {
				fields["owner"] = d.owner
			}
			if d.active != nil {
				fields["active"] = d.active
			}
			b.Writes = append(b.Writes, readstore.Write{Collection: accName, Doc: accDoc(t, id, ver(version), fields)})
			model[id] = d
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatalf("round %d: Apply: %v", round, err)
		}
		for _, q := range queries {
			var want []string
			for id, d := range model {
				if q.match(d) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			accWantIDs(t, s, readstore.Query{Where: q.where, Count: true}, want...)
			_, total, err := s.Query(ctx, accName, readstore.Query{Where: q.where, Count: true, Limit: 2})
			if err != nil || total != int64(len(want)) {
				t.Fatalf("round %d: Query %+v limit 2: total %d, %v; want %d", round, q.where, total, err, len(want))
			}
			// A page past the last row still carries the total.
			docs, total, err := s.Query(ctx, accName, readstore.Query{Where: q.where, Count: true, Limit: 2, Skip: 100})
			if err != nil || len(docs) != 0 || total != int64(len(want)) {
				t.Fatalf("round %d: Query %+v past the end: %d docs, total %d, %v; want none, total %d", round, q.where, len(docs), total, err, len(want))
			}
		}
	}
}
