package readstoretest

import (
	"context"
	"errors"
	"testing"

	"agentdesk/readstore"
)

// accEnum checks Enum fields: they sort and compare in the order of their
// values, not alphabetically; a filter value outside them is
// ErrInvalidQuery; a document holding one is refused.
func accEnum(t *testing.T, open func(t *testing.T) readstore.Store) {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	const name = "acc_enum"
	c := readstore.Collection{Name: name, Fields: []readstore.Field{
		{Name: "priority", Type: readstore.Enum, Values: []string{"low", "normal", "high", "urgent"}},
	}, Indexes: [][]string{{"priority"}}}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	var b readstore.Batch
	for _, d := range []struct{ id, priority string }{{"a", "urgent"}, {"b", "low"}, {"c", "high"}, {"d", "normal"}, {"e", "low"}} {
		b.Writes = append(b.Writes, readstore.Write{Collection: name, Doc: accDoc(t, d.id, ver(1), map[string]any{"priority": d.priority})})
	}
	b.Writes = append(b.Writes, readstore.Write{Collection: name, Doc: accDoc(t, "f", ver(1), map[string]any{})})
	if err := s.Apply(ctx, b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, tc := range []struct {
		name string
		q    readstore.Query
		want []string
	}{
		{"ascending in domain order", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Ne, Value: nil}}, Sort: []readstore.Sort{{Field: "priority"}}}, []string{"b", "e", "d", "c", "a"}},
		{"descending", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Ne, Value: nil}}, Sort: []readstore.Sort{{Field: "priority", Desc: true}}}, []string{"a", "c", "d", "e", "b"}},
		{"at least high", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Gte, Value: "high"}}, Sort: []readstore.Sort{{Field: "id"}}}, []string{"a", "c"}},
		{"below normal", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Lt, Value: "normal"}}, Sort: []readstore.Sort{{Field: "id"}}}, []string{"b", "e"}},
		{"equal", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Eq, Value: "normal"}}}, []string{"d"}},
		{"in", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.In, Value: []any{"low", "urgent"}}}, Sort: []readstore.Sort{{Field: "id"}}}, []string{"a", "b", "e"}},
		{"not set", readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Eq, Value: nil}}}, []string{"f"}},
	} {
		t.Run(tc.name, func(t *testing.T) { accWantIDsIn(t, s, name, tc.q, tc.want...) })
	}
	if _, _, err := s.Query(ctx, name, readstore.Query{Where: []readstore.Condition{{Field: "priority", Op: readstore.Eq, Value: "critical"}}}); !errors.Is(err, readstore.ErrInvalidQuery) {
		t.Fatalf("a value outside the enum: err = %v, want ErrInvalidQuery", err)
	}
	bad := readstore.Batch{Writes: []readstore.Write{{Collection: name, Doc: accDoc(t, "g", ver(2), map[string]any{"priority": "critical"})}}}
	if err := s.Apply(ctx, bad); err == nil {
		t.Fatal("a document with a value outside the enum was stored")
	}
	if _, err := s.Get(ctx, name, "g"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("the refused document: Get err = %v, want ErrNotFound", err)
	}
}
