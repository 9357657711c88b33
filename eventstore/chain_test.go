package eventstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// chainFixture is an SQLite event log of two interleaved streams, a (4
// events) and b (3 events), closed so that a test can tamper with the
// file and open it again.
type chainFixture struct {
	path    string
	company string
	a, b    string
}

func newChainFixture(t *testing.T) chainFixture {
	t.Helper()
	f := chainFixture{path: filepath.Join(t.TempDir(), "events.db"), company: uuid.NewString(),
		a: newStream("ticket"), b: newStream("ticket")}
	store := openChainStore(t, f.path)
	ctx := t.Context()
	mustAppend(ctx, t, store, f.a, NoStream, newEvents(2, "ticket.opened", f.company)...)
	mustAppend(ctx, t, store, f.b, NoStream, newEvent("ticket.opened", f.company))
	mustAppend(ctx, t, store, f.a, Exact(1), newEvent("ticket.commented", f.company))
	mustAppend(ctx, t, store, f.b, Exact(0), newEvents(2, "ticket.commented", f.company)...)
	mustAppend(ctx, t, store, f.a, Exact(2), newEvent("ticket.closed", f.company))
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

func openChainStore(t *testing.T, path string) *SQLiteStore {
	t.Helper()
	store, err := OpenSQLite(SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// tamper runs statements on the database file behind the store's back,
// as someone with access to the file could.
func (f chainFixture) tamper(t *testing.T, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, st := range statements {
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

// verify opens the store and verifies the fixture's company.
func (f chainFixture) verify(t *testing.T) ChainReport {
	t.Helper()
	store := openChainStore(t, f.path)
	report, err := VerifyChain(t.Context(), store, Filter{CompanyID: f.company})
	if err != nil {
		t.Fatalf("verify chain: %v", err)
	}
	return report
}

// The SQLite store's hashes survive its file; every kind of tampering
// with the file is reported at the first broken link.
func TestVerifyChainFindsTampering(t *testing.T) {
	intact := newChainFixture(t)
	if r := intact.verify(t); !r.Intact() || r.Events != 7 || r.Streams != 2 || r.Unchained != 0 {
		t.Fatalf("untouched log: %+v (broken: %v); want 7 events in 2 streams, intact", r, r.Broken)
	}

	cases := []struct {
		name     string
		tamper   func(f chainFixture) []string
		stream   func(f chainFixture) string
		revision uint64
		problem  ChainProblem
		detail   string
	}{
		{
			name: "data edited",
			tamper: func(f chainFixture) []string {
				return []string{`UPDATE events SET data = '{"title":"edited"}' WHERE stream_id = '` + f.a + `' AND revision = 1`}
			},
			stream: func(f chainFixture) string { return f.a }, revision: 1, problem: HashMismatch,
		},
		{
			name: "metadata edited",
			tamper: func(f chainFixture) []string {
				return []string{`UPDATE events SET metadata = CAST(json_set(CAST(metadata AS TEXT), '$.actor_id', 'someone-else') AS BLOB) WHERE stream_id = '` + f.b + `' AND revision = 2`}
			},
			stream: func(f chainFixture) string { return f.b }, revision: 2, problem: HashMismatch,
		},
		{
			name: "event deleted",
			tamper: func(f chainFixture) []string {
				return []string{`DELETE FROM events WHERE stream_id = '` + f.a + `' AND revision = 1`}
			},
			stream: func(f chainFixture) string { return f.a }, revision: 2, problem: RevisionGap, detail: "revision 1 is missing",
		},
		{
			name: "first event deleted",
			tamper: func(f chainFixture) []string {
				return []string{`DELETE FROM events WHERE stream_id = '` + f.b + `' AND revision = 0`}
			},
			stream: func(f chainFixture) string { return f.b }, revision: 1, problem: RevisionGap, detail: "revision 0 is missing",
		},
		{
			// Revision 1 (position 2) and revision 2 (position 4) of a
			// trade places: revision 2 now comes first.
			name: "events reordered",
			tamper: func(f chainFixture) []string {
				return []string{
					`UPDATE events SET position = -1 WHERE stream_id = '` + f.a + `' AND revision = 1`,
					`UPDATE events SET position = 2 WHERE stream_id = '` + f.a + `' AND revision = 2`,
					`UPDATE events SET position = 4 WHERE stream_id = '` + f.a + `' AND revision = 1`,
				}
			},
			stream: func(f chainFixture) string { return f.a }, revision: 2, problem: RevisionOutOfOrder, detail: "comes before revision 1",
		},
		{
			name: "hash removed",
			tamper: func(f chainFixture) []string {
				return []string{`UPDATE events SET metadata = CAST(json_remove(CAST(metadata AS TEXT), '$.hash') AS BLOB) WHERE stream_id = '` + f.a + `' AND revision = 2`}
			},
			stream: func(f chainFixture) string { return f.a }, revision: 2, problem: MissingHash,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newChainFixture(t)
			f.tamper(t, c.tamper(f)...)
			r := f.verify(t)
			if r.Intact() {
				t.Fatalf("verify: intact (%+v), want a broken link", r)
			}
			b := r.Broken
			if b.StreamID != c.stream(f) || b.Revision != c.revision || b.Problem != c.problem {
				t.Fatalf("first broken link: %s; want stream %s, revision %d, %s", b, c.stream(f), c.revision, c.problem)
			}
			if !strings.Contains(b.Detail, c.detail) {
				t.Errorf("detail %q, want it to say %q", b.Detail, c.detail)
			}
			if r.BrokenStreams != 1 {
				t.Errorf("%d broken streams, want 1", r.BrokenStreams)
			}
		})
	}
}

// Events stored before hashing are counted as unchained, not broken, and
// the store chains a stream's next event to genesis.
func TestVerifyChainUnchainedEvents(t *testing.T) {
	f := newChainFixture(t)
	f.tamper(t, `UPDATE events SET metadata = CAST(json_remove(CAST(metadata AS TEXT), '$.hash') AS BLOB) WHERE stream_id = '`+f.b+`'`)
	r := f.verify(t)
	if !r.Intact() || r.Unchained != 3 || r.Events != 7 || r.LastUnchained != seq(6) {
		t.Fatalf("log with an unhashed stream: %+v (broken: %v); want intact, 3 unchained, the last at 6", r, r.Broken)
	}

	store := openChainStore(t, f.path)
	mustAppend(t.Context(), t, store, f.b, Exact(2), newEvent("ticket.closed", f.company))
	events := mustReadStream(t.Context(), t, store, f.b)
	if got, want := events[3].Metadata.Hash, EventHash(GenesisHash, events[3]); got != want {
		t.Fatalf("first hashed event after unhashed ones: hash %s, want %s (chained to genesis)", got, want)
	}
	r, err := VerifyChain(t.Context(), store, Filter{CompanyID: f.company})
	if err != nil || !r.Intact() || r.Unchained != 3 || r.Events != 8 {
		t.Fatalf("after an append: %+v, %v (broken: %v); want intact, 3 unchained of 8", r, err, r.Broken)
	}
}

// Appends gathered into one group commit chain to each other: the writer
// carries a stream's hash from one append of the batch to the next.
func TestChainAcrossGroupCommit(t *testing.T) {
	store := openChainStore(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := t.Context()
	company := uuid.NewString()
	streams := []string{newStream("ticket"), newStream("ticket"), newStream("ticket")}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustAppend(ctx, t, store, streams[i%len(streams)], Any, newEvents(1+i%3, "ticket.commented", company)...)
		}()
	}
	wg.Wait()
	r, err := VerifyChain(ctx, store, Filter{CompanyID: company})
	if err != nil || !r.Intact() || r.Events != 120 || r.Streams != 3 {
		t.Fatalf("verify: %+v, %v (broken: %v); want 120 events in 3 streams, intact", r, err, r.Broken)
	}
	if store.commits.Load() >= 60 {
		t.Logf("no two appends shared a commit (%d commits): the test did not exercise group commit this time", store.commits.Load())
	}
}

// EventHash is what the store writes; a retry keeps it; fastMetadata
// reads the hash key.
func TestEventHashMatchesStore(t *testing.T) {
	store := openChainStore(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := context.Background()
	ev := newEvent("ticket.opened", uuid.NewString())
	ev.Metadata.ActorID = "bad\xffutf8"
	stream := newStream("ticket")
	mustAppend(ctx, t, store, stream, NoStream, ev)
	got := mustReadStream(ctx, t, store, stream)[0]
	if want := EventHash(GenesisHash, got); got.Metadata.Hash != want {
		t.Fatalf("stored hash %s, want %s", got.Metadata.Hash, want)
	}
	var m Metadata
	raw := []byte(`{"company_id":"c","hash":"` + got.Metadata.Hash + `"}`)
	if !fastMetadata(raw, string(raw), &m) || m.Hash != got.Metadata.Hash {
		t.Fatalf("fastMetadata(%s) = %+v", raw, m)
	}
	if h := storedHash(raw); hex.EncodeToString(h[:]) != got.Metadata.Hash {
		t.Fatalf("storedHash of metadata with the hash not last: %x", h)
	}
}

// BenchmarkEventHash measures what hashing adds to the SQLite writer per
// event: the chained SHA-256 of an event the size of the append
// benchmarks'.
func BenchmarkEventHash(b *testing.B) {
	ev := newEvent("ticket.opened", uuid.NewString())
	ev.Data = []byte(benchEventData)
	head := canonicalHead(ev.ID, ev.Type, 1, len(ev.Data))
	tail := canonicalTail(ev.Metadata)
	var c chainHasher
	var prev [32]byte
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		prev = c.sum(prev, "ticket-"+ev.ID, 7, head, ev.Data, tail)
	}
}

func TestGenesisHash(t *testing.T) {
	if raw, err := hex.DecodeString(GenesisHash); err != nil || len(raw) != 32 || strings.Trim(GenesisHash, "0") != "" {
		t.Fatalf("GenesisHash %q is not 32 zero bytes in hex", GenesisHash)
	}
}
