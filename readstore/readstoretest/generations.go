package readstoretest

import (
	"errors"
	"testing"

	"agentdesk/readstore"
)

// accGenerations walks through a rebuild: generation 2 is built while
// generation 1 serves, the two take writes independently, the switch
// moves the plain name to generation 2, and generation 1 is dropped.
func accGenerations(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, ctx := accOpen(t, open)
	gen1, gen2 := readstore.Generation(accName, 1), readstore.Generation(accName, 2)
	wantLive := func(want int) {
		t.Helper()
		got, err := s.LiveGeneration(ctx, accName)
		if err != nil || got != want {
			t.Fatalf("LiveGeneration = %d, %v; want %d", got, err, want)
		}
	}
	eq := func(field string, v any) readstore.Query {
		return readstore.Query{Where: []readstore.Condition{{Field: field, Op: readstore.Eq, Value: v}}, Count: true}
	}
	put := func(collection string, docs ...readstore.Doc) {
		t.Helper()
		var b readstore.Batch
		for _, d := range docs {
			b.Writes = append(b.Writes, readstore.Write{Collection: collection, Doc: d})
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatalf("Apply to %s: %v", collection, err)
		}
	}

	wantLive(1)
	if got, err := s.LiveGeneration(ctx, "acc_never_switched"); err != nil || got != 1 {
		t.Fatalf("LiveGeneration of a collection never switched = %d, %v; want 1", got, err)
	}
	accPut(t, s, accDoc(t, "d1", ver(10), map[string]any{"owner": "ann"}))
	// Generation 1 is the plain name's collection, under a name of its own.
	accWantVersionIn(t, s, gen1, "d1", ver(10))
	if _, err := s.Get(ctx, gen2, "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get %s before Ensure: err = %v; want ErrUnknownCollection", gen2, err)
	}
	if err := s.SwitchGeneration(ctx, accName, 2); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("SwitchGeneration to a generation never ensured: err = %v; want ErrUnknownCollection", err)
	}
	wantLive(1)

	// Build generation 2 while generation 1 serves.
	next := accCollection()
	next.Name = gen2
	if err := s.Ensure(ctx, next); err != nil {
		t.Fatalf("Ensure %s: %v", gen2, err)
	}
	wantLive(1)
	// Independent version guards: a lower version lands in generation 2.
	put(gen2, accDoc(t, "d1", ver(5), map[string]any{"owner": "bob"}), accDoc(t, "d2", ver(5), map[string]any{"owner": "bob"}))
	accPut(t, s, accDoc(t, "d3", ver(11), map[string]any{"owner": "ann"})) // the plain name still writes generation 1
	accWantVersion(t, s, "d1", ver(10))
	accWantMissing(t, s, "d2")
	accWantIDs(t, s, eq("owner", "ann"), "d1", "d3")
	accWantIDs(t, s, eq("owner", "bob"))
	accWantVersionIn(t, s, gen2, "d1", ver(5))
	accWantMissingIn(t, s, gen2, "d3")
	accWantIDsIn(t, s, gen2, eq("owner", "bob"), "d1", "d2")
	accWantIDsIn(t, s, gen2, readstore.Query{Where: []readstore.Condition{{Op: readstore.Text, Value: "BOB"}}, Count: true}, "d1", "d2")
	if _, _, err := s.Query(ctx, gen2, eq("nope", "x")); !errors.Is(err, readstore.ErrUnknownField) {
		t.Fatalf("Query %s on an undeclared field: err = %v; want ErrUnknownField", gen2, err)
	}

	// Switch: the plain name now reads and writes generation 2.
	if err := s.SwitchGeneration(ctx, accName, 2); err != nil {
		t.Fatalf("SwitchGeneration: %v", err)
	}
	wantLive(2)
	accWantVersion(t, s, "d1", ver(5))
	accWantIDs(t, s, eq("owner", "bob"), "d1", "d2")
	accWantIDs(t, s, eq("owner", "ann"))
	accPut(t, s, accDoc(t, "d4", ver(6), map[string]any{"owner": "cid"}))
	accWantVersionIn(t, s, gen2, "d4", ver(6))
	accWantMissingIn(t, s, gen1, "d4")
	accWantIDsIn(t, s, gen1, eq("owner", "ann"), "d1", "d3")
	if err := s.SwitchGeneration(ctx, accName, 2); err != nil {
		t.Fatalf("SwitchGeneration to the live generation: %v", err)
	}
	// Ensure under the plain name now means generation 2, and keeps it.
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatalf("Ensure after the switch: %v", err)
	}
	accWantIDs(t, s, eq("owner", "bob"), "d1", "d2")

	// Drop generation 1; the plain name keeps serving generation 2.
	if err := s.Drop(ctx, gen1); err != nil {
		t.Fatalf("Drop %s: %v", gen1, err)
	}
	if _, err := s.Get(ctx, gen1, "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get %s after Drop: err = %v; want ErrUnknownCollection", gen1, err)
	}
	accWantIDs(t, s, readstore.Query{Count: true}, "d1", "d2", "d4")
	wantLive(2)
	if err := s.SwitchGeneration(ctx, accName, 1); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("SwitchGeneration to a dropped generation: err = %v; want ErrUnknownCollection", err)
	}
	wantLive(2)

	// Switching back works the same way: a fresh generation 1 this time.
	back := accCollection()
	back.Name = gen1
	if err := s.Ensure(ctx, back); err != nil {
		t.Fatalf("Ensure %s again: %v", gen1, err)
	}
	accWantIDsIn(t, s, gen1, readstore.Query{Count: true})
	if err := s.SwitchGeneration(ctx, accName, 1); err != nil {
		t.Fatalf("SwitchGeneration back to 1: %v", err)
	}
	wantLive(1)
	accWantIDs(t, s, readstore.Query{Count: true})
	accWantIDsIn(t, s, gen2, readstore.Query{Count: true}, "d1", "d2", "d4")

	for _, bad := range []struct {
		name string
		gen  int
	}{{gen2, 3}, {"Bad Name", 2}, {accName, 0}} {
		if err := s.SwitchGeneration(ctx, bad.name, bad.gen); err == nil {
			t.Errorf("SwitchGeneration(%q, %d) = nil; want an error", bad.name, bad.gen)
		}
	}
	if _, err := s.LiveGeneration(ctx, gen2); err == nil {
		t.Errorf("LiveGeneration(%q) = nil error; want an error for a generation name", gen2)
	}
}
