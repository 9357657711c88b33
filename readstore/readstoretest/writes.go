package readstoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"agentdesk/readstore"
)

// accVersionOrder checks that versions compare as strings, byte by byte,
// with "" lowest: not as numbers, not by length, not folding case.
func accVersionOrder(t *testing.T, open func(t *testing.T) readstore.Store) {
	s, _ := accOpen(t, open)
	var version, owner string // what is stored
	for _, step := range []struct {
		version, owner string
		lands          bool
	}{
		{"", "empty", true}, // nothing stored: any version lands
		{"", "empty again", false},
		{"9", "nine", true},
		{"10", "ten", false}, // "10" < "9"
		{"9", "nine again", false},
		{"90", "ninety", true}, // a longer string with the same prefix is above
		{"B", "upper b", true}, // 'B' is above '9'
		{"a", "lower a", true}, // 'a' is above 'B': no case folding
		{"A", "upper a", false},
	} {
		accPut(t, s, accDoc(t, "d1", step.version, map[string]any{"owner": step.owner}))
		if step.lands {
			version, owner = step.version, step.owner
		}
		d := accWantVersion(t, s, "d1", version)
		accJSONEqual(t, d.Data, accDoc(t, "d1", version, map[string]any{"owner": owner}).Data)
	}
}

// accState is everything a reader can see of the acceptance collection
// and one checkpoint.
type accState struct {
	Docs       map[string]accStateDoc
	Checkpoint string
}

type accStateDoc struct {
	Version string
	Data    any
}

func accReadState(tb testing.TB, s readstore.Store, checkpoint string) accState {
	tb.Helper()
	ctx := context.Background()
	docs, total, err := s.Query(ctx, accName, readstore.Query{Count: true})
	if err != nil {
		tb.Fatalf("Query: %v", err)
	}
	if total != int64(len(docs)) {
		tb.Fatalf("Query: %d docs, total %d", len(docs), total)
	}
	st := accState{Docs: map[string]accStateDoc{}}
	for _, d := range docs {
		var data any
		if err := json.Unmarshal(d.Data, &data); err != nil {
			tb.Fatalf("doc %s: %v", d.ID, err)
		}
		st.Docs[d.ID] = accStateDoc{Version: d.Version, Data: data}
	}
	if st.Checkpoint, err = s.Checkpoint(ctx, checkpoint); err != nil {
		tb.Fatalf("Checkpoint: %v", err)
	}
	return st
}

// accCrash checks that a process dying between a batch's writes and its
// checkpoint is harmless: the runner applies the whole batch again from
// the old checkpoint, and whatever prefix of the writes had landed, the
// outcome equals one clean application. Older and equal versions are
// skipped, and a delete that had landed is not undone by the batch's
// earlier write to the same document.
func accCrash(t *testing.T, open func(t *testing.T) readstore.Store) {
	put := func(id string, v int, owner string) readstore.Write {
		return readstore.Write{Collection: accName, Doc: accDoc(t, id, ver(v), map[string]any{"owner": owner})}
	}
	del := func(id string, v int) readstore.Write {
		return readstore.Write{Collection: accName, Doc: readstore.Doc{ID: id, Version: ver(v)}, Delete: true}
	}
	first := readstore.Batch{
		Writes:     []readstore.Write{put("c1", 10, "ann"), put("c2", 10, "ann"), put("c3", 10, "bob")},
		Checkpoint: &readstore.Checkpoint{Name: "acc", Position: ver(10)},
	}
	second := readstore.Batch{
		Writes: []readstore.Write{
			put("c2", 15, "bea"), // updated, then deleted by this batch
			put("c1", 20, "cid"),
			del("c2", 20),
			put("c4", 20, "dee"),
			put("c3", 5, "stale"), // below the stored version
			put("c4", 25, "eve"),  // one document twice in a batch
			del("c5", 25),         // a document never written
		},
		Checkpoint: &readstore.Checkpoint{Name: "acc", Position: ver(25)},
	}

	clean, ctx := accOpen(t, open)
	for _, b := range []readstore.Batch{first, second} {
		if err := clean.Apply(ctx, b); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	want := accReadState(t, clean, "acc")
	// The clean outcome itself, spelled out.
	accWantVersion(t, clean, "c1", ver(20))
	accWantMissing(t, clean, "c2")
	accWantVersion(t, clean, "c3", ver(10))
	accJSONEqual(t, accWantVersion(t, clean, "c4", ver(25)).Data, accDoc(t, "c4", ver(25), map[string]any{"owner": "eve"}).Data)
	accWantMissing(t, clean, "c5")
	accWantIDs(t, clean, readstore.Query{Sort: []readstore.Sort{{Field: "owner"}}, Count: true}, "c3", "c1", "c4")
	accWantCheckpoint(t, clean, "acc", ver(25))

	// Applying the batch a second time changes nothing.
	if err := clean.Apply(ctx, second); err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	if got := accReadState(t, clean, "acc"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after applying the batch twice: %+v; want %+v", got, want)
	}

	// Cut after the first write, after the delete (so the replay meets a
	// tombstone before the write it deleted), before the last write, and
	// after every write.
	for _, cut := range []int{1, 3, len(second.Writes) - 1, len(second.Writes)} {
		t.Run(fmt.Sprintf("after %d writes", cut), func(t *testing.T) {
			s, ctx := accOpen(t, open)
			if err := s.Apply(ctx, first); err != nil {
				t.Fatalf("Apply first: %v", err)
			}
			if err := s.Apply(ctx, readstore.Batch{Writes: second.Writes[:cut]}); err != nil {
				t.Fatalf("Apply the writes that landed: %v", err)
			}
			accWantCheckpoint(t, s, "acc", ver(10))
			if err := s.Apply(ctx, second); err != nil {
				t.Fatalf("Apply again from the checkpoint: %v", err)
			}
			if got := accReadState(t, s, "acc"); !reflect.DeepEqual(got, want) {
				t.Fatalf("state = %+v; want %+v", got, want)
			}
			// The tombstones still guard: nothing below them comes back.
			accPut(t, s, accDoc(t, "c2", ver(20), nil), accDoc(t, "c5", ver(24), nil))
			accWantMissing(t, s, "c2")
			accWantMissing(t, s, "c5")
		})
	}
}
