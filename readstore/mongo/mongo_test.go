package mongo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/readstore"
	"agentdesk/readstore/mongo/mongotest"
	"agentdesk/readstore/readstoretest"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// opener opens stores on one server.
type opener struct {
	uri   string
	admin *mongo.Client // drops the test databases; nil for FerretDB, whose data is in a temp dir
}

var dbSeq atomic.Int64

// open opens a store on database db, or on a database of its own when db
// is "". The store is closed, and on a real MongoDB its database dropped,
// when the test ends.
func (o opener) open(t *testing.T, db string) *Store {
	t.Helper()
	if db == "" {
		db = fmt.Sprintf("readstore_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	}
	if o.admin != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := o.admin.Database(db).Drop(ctx); err != nil {
				t.Errorf("drop test database %s: %v", db, err)
			}
		})
	}
	s, err := Open(t.Context(), Config{URI: o.uri, Database: db, GenerationRefresh: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs f against FerretDB, always, and against the MongoDB
// server at $MONGO_URI when it is set.
func forEachBackend(t *testing.T, f func(t *testing.T, o opener)) {
	t.Run("FerretDB", func(t *testing.T) {
		f(t, opener{uri: mongotest.Start(t)})
	})
	t.Run("MongoDB", func(t *testing.T) {
		uri := os.Getenv("MONGO_URI")
		if uri == "" {
			t.Skip("MONGO_URI is not set: NOT testing against a real MongoDB server")
		}
		admin, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Fatalf("connect to $MONGO_URI: %v", err)
		}
		t.Cleanup(func() { admin.Disconnect(context.Background()) })
		f(t, opener{uri: uri, admin: admin})
	})
}

func TestAcceptance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		readstoretest.Run(t, func(t *testing.T) readstore.Store { return o.open(t, "") })
	})
}

func ver(n int) string { return fmt.Sprintf("%032x", n) }

var testCollection = readstore.Collection{
	Name:    "items",
	Fields:  []readstore.Field{{Name: "owner", Type: readstore.String}, {Name: "n", Type: readstore.Number}},
	Indexes: [][]string{{"owner", "n"}},
}

func ensured(t *testing.T, o opener, db string) *Store {
	t.Helper()
	s := o.open(t, db)
	if err := s.Ensure(t.Context(), testCollection); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return s
}

func write(id string, version int, owner string) readstore.Write {
	data := fmt.Sprintf(`{"id":%q,"owner":%q,"n":%d}`, id, owner, version)
	return readstore.Write{Collection: testCollection.Name, Doc: readstore.Doc{ID: id, Version: ver(version), Data: json.RawMessage(data)}}
}

// model applies writes to a map the way the contract says, and counts.
type model struct {
	docs             map[string]readstore.Write
	written, skipped int
}

func (m *model) apply(ws ...readstore.Write) {
	for _, w := range ws {
		if old, ok := m.docs[w.Doc.ID]; ok && w.Doc.Version <= old.Doc.Version {
			m.skipped++
			continue
		}
		m.docs[w.Doc.ID] = w
		m.written++
	}
}

// wantState checks that the collection holds exactly the model's
// documents, versions and data.
func wantState(t *testing.T, s *Store, m *model) {
	t.Helper()
	docs, total, err := s.Query(t.Context(), testCollection.Name, readstore.Query{Count: true})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if total != int64(len(m.docs)) || len(docs) != len(m.docs) {
		t.Fatalf("Query: %d docs, total %d; want %d", len(docs), total, len(m.docs))
	}
	for _, d := range docs {
		w, ok := m.docs[d.ID]
		if !ok {
			t.Fatalf("unexpected document %s", d.ID)
		}
		if d.Version != w.Doc.Version || !bytes.Equal(d.Data, w.Doc.Data) {
			t.Fatalf("doc %s = version %s data %s; want version %s data %s", d.ID, d.Version, d.Data, w.Doc.Version, w.Doc.Data)
		}
	}
}

// TestApplyManyWrites applies 250 writes in one batch, more than two
// chunks, with stale and equal versions interleaved and ids written twice
// across a chunk boundary.
func TestApplyManyWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		m := &model{docs: map[string]readstore.Write{}}
		var before readstore.Batch
		for i := 0; i < 200; i += 3 {
			before.Writes = append(before.Writes, write(fmt.Sprintf("p%03d", i), 10, "before"))
		}
		if err := s.Apply(t.Context(), before); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		m.apply(before.Writes...)
		m.written, m.skipped = 0, 0

		b := readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: "many", Position: ver(30)}}
		for i := range 230 {
			v := 20 // lands
			switch i % 6 {
			case 0:
				v = 5 // below a stored 10: stale
			case 3:
				v = 10 // equal to the stored 10: stale
			}
			b.Writes = append(b.Writes, write(fmt.Sprintf("p%03d", i), v, "batch"))
		}
		for i := 90; i < 110; i++ { // chunk 1 wrote these; chunk 3 meets them again
			b.Writes = append(b.Writes, write(fmt.Sprintf("p%03d", i), 20+i%2, "again"))
		}
		m.apply(b.Writes...)
		if len(b.Writes) != 250 || m.skipped < 50 {
			t.Fatalf("test data: %d writes, %d stale; want 250 writes and many stale", len(b.Writes), m.skipped)
		}

		start := time.Now()
		stats, err := s.apply(t.Context(), b)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		t.Logf("250 writes, %d stale: %s", m.skipped, time.Since(start))
		if stats.written != m.written || stats.skipped != m.skipped {
			t.Errorf("written %d, skipped %d; want %d, %d", stats.written, stats.skipped, m.written, m.skipped)
		}
		wantState(t, s, m)
		if got, err := s.Checkpoint(t.Context(), "many"); err != nil || got != ver(30) {
			t.Errorf("Checkpoint = %q, %v; want %q", got, err, ver(30))
		}

		// Applied again, every write is stale.
		stats, err = s.apply(t.Context(), b)
		if err != nil {
			t.Fatalf("Apply again: %v", err)
		}
		if stats.written != 0 || stats.skipped != len(b.Writes) {
			t.Errorf("again: written %d, skipped %d; want 0, %d", stats.written, stats.skipped, len(b.Writes))
		}
		wantState(t, s, m)
	})
}

// TestApplyInterleaved applies a batch that alternates between two
// collections and between two names of one generation: the writes are
// grouped per generation, and the order per document still holds.
func TestApplyInterleaved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		other := testCollection
		other.Name = "others"
		if err := s.Ensure(t.Context(), other); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		items, others := &model{docs: map[string]readstore.Write{}}, &model{docs: map[string]readstore.Write{}}
		var b readstore.Batch
		for i := range 120 {
			w := write(fmt.Sprintf("i%02d", i%40), 1+i%7, "items")
			if i%2 == 0 {
				w.Collection = readstore.Generation(testCollection.Name, 1) // the live generation by its own name
			}
			o := write(fmt.Sprintf("o%02d", i%30), 100-i, "others")
			o.Collection = other.Name
			b.Writes = append(b.Writes, w, o)
			items.apply(w)
			others.apply(o)
		}
		stats, err := s.apply(t.Context(), b)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if want := items.written + others.written; stats.written != want {
			t.Errorf("written %d; want %d", stats.written, want)
		}
		wantState(t, s, items)
		docs, _, err := s.Query(t.Context(), other.Name, readstore.Query{})
		if err != nil || len(docs) != len(others.docs) {
			t.Fatalf("Query %s = %d docs, %v; want %d", other.Name, len(docs), err, len(others.docs))
		}
		for _, d := range docs {
			if want := others.docs[d.ID].Doc.Version; d.Version != want {
				t.Errorf("%s %s version %s; want %s", other.Name, d.ID, d.Version, want)
			}
		}
	})
}

// TestStaleUpsertSkipped checks the server-side guard: another writer
// stores newer versions between Apply's read of the versions and its
// bulk write, so the guarded upserts of those ids (and the inserts of
// the new ones) fail with a duplicate key. Apply counts them as skipped,
// goes on after them, and leaves the other writer's documents alone.
func TestStaleUpsertSkipped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		other := ensured(t, o, s.db.Name())
		m := &model{docs: map[string]readstore.Write{}}
		var before, b readstore.Batch
		for i := range 160 {
			id := fmt.Sprintf("r%03d", i)
			if i%2 == 0 { // even ids exist and get an upsert, odd ones an insert
				before.Writes = append(before.Writes, write(id, 10, "before"))
			}
			b.Writes = append(b.Writes, write(id, 20, "batch"))
		}
		if err := s.Apply(t.Context(), before); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		m.apply(before.Writes...)

		raced := map[string]bool{"r004": true, "r005": true, "r050": true, "r051": true, "r098": true, "r150": true}
		var hookCalls int
		s.testHookBeforeWrite = func(ctx context.Context, coll string, ids []string) {
			hookCalls++
			var rb readstore.Batch
			for _, id := range ids {
				if raced[id] {
					delete(raced, id) // race each id once
					rb.Writes = append(rb.Writes, write(id, 50, "other"))
				}
			}
			if len(rb.Writes) == 0 {
				return
			}
			if err := other.Apply(ctx, rb); err != nil {
				t.Errorf("other writer: Apply: %v", err)
			}
			m.apply(rb.Writes...)
		}
		stats, err := s.apply(t.Context(), b)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		m.written, m.skipped = 0, 0
		m.apply(b.Writes...)
		if len(raced) != 0 {
			t.Fatalf("ids never raced: %v", raced)
		}
		const chunks = 2
		if hookCalls <= chunks {
			t.Fatalf("%d bulk writes for %d chunks: the race never hit the server's guard", hookCalls, chunks)
		}
		// Exact on MongoDB; FerretDB reports a failed upsert at index 0,
		// so writes that landed before it may count as skipped.
		if stats.written+stats.skipped != len(b.Writes) || stats.skipped < m.skipped {
			t.Errorf("written %d, skipped %d; want %d writes in all, at least %d skipped", stats.written, stats.skipped, len(b.Writes), m.skipped)
		}
		wantState(t, s, m)
	})
}

func TestStaleCountedAsSkipped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		if err := s.Apply(t.Context(), readstore.Batch{Writes: []readstore.Write{write("d1", 5, "five")}}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		del := readstore.Write{Collection: testCollection.Name, Doc: readstore.Doc{ID: "d2", Version: ver(9)}, Delete: true}
		stats, err := s.apply(t.Context(), readstore.Batch{Writes: []readstore.Write{
			write("d1", 3, "three"), write("d1", 5, "five again"), del, write("d2", 8, "below the tombstone"), write("d1", 6, "six"),
		}})
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if stats.written != 2 || stats.skipped != 3 {
			t.Errorf("written %d, skipped %d; want 2, 3", stats.written, stats.skipped)
		}
		d, err := s.Get(t.Context(), testCollection.Name, "d1")
		if err != nil || d.Version != ver(6) {
			t.Errorf("Get d1 = %+v, %v; want version %s", d, err, ver(6))
		}
		if _, err := s.Get(t.Context(), testCollection.Name, "d2"); !errors.Is(err, readstore.ErrNotFound) {
			t.Errorf("Get d2: err = %v; want ErrNotFound", err)
		}
	})
}

// TestDataRoundTrip checks that Get and Query return the JSON bytes as
// written, not a re-encoding.
func TestDataRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		data := json.RawMessage("{ \"owner\" : \"\\u00e9t\\u00e9\",\n\t\"n\":1.50, \"z\":[ ], \"a\":{\"b\":null} }")
		w := readstore.Write{Collection: testCollection.Name, Doc: readstore.Doc{ID: "x", Version: "v", Data: data}}
		if err := s.Apply(t.Context(), readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		d, err := s.Get(t.Context(), testCollection.Name, "x")
		if err != nil || !bytes.Equal(d.Data, data) {
			t.Fatalf("Get = %s, %v; want %s", d.Data, err, data)
		}
		docs, _, err := s.Query(t.Context(), testCollection.Name, readstore.Query{Where: []readstore.Condition{
			{Field: "owner", Op: readstore.Eq, Value: "été"}, {Field: "n", Op: readstore.Eq, Value: 1.5},
		}})
		if err != nil || len(docs) != 1 || !bytes.Equal(docs[0].Data, data) {
			t.Fatalf("Query = %v, %v; want the document as written", docs, err)
		}
	})
}

// TestBadDocumentFailsBatch checks that a declared field of the wrong
// JSON type fails the batch before anything is written.
func TestBadDocumentFailsBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		for name, data := range map[string]string{
			"string as number": `{"owner":5}`,
			"number as string": `{"n":"5"}`,
			"array":            `[1]`,
			"null":             `null`,
			"not json":         `{"owner":`,
		} {
			b := readstore.Batch{
				Writes:     []readstore.Write{write("ok", 1, "fine"), {Collection: testCollection.Name, Doc: readstore.Doc{ID: "bad", Version: ver(1), Data: json.RawMessage(data)}}},
				Checkpoint: &readstore.Checkpoint{Name: "bad", Position: ver(1)},
			}
			if err := s.Apply(t.Context(), b); err == nil || !strings.Contains(err.Error(), `"bad"`) {
				t.Errorf("%s: Apply err = %v; want an error naming the document", name, err)
			}
		}
		if _, err := s.Get(t.Context(), testCollection.Name, "ok"); !errors.Is(err, readstore.ErrNotFound) {
			t.Errorf("Get ok: err = %v; want ErrNotFound (nothing written)", err)
		}
		if cp, err := s.Checkpoint(t.Context(), "bad"); err != nil || cp != "" {
			t.Errorf("Checkpoint = %q, %v; want \"\"", cp, err)
		}
	})
}

// TestIndexes checks the indexes Ensure manages: one per declaration,
// dropped when no longer declared, others left alone.
func TestIndexes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		s := ensured(t, o, "")
		ctx := t.Context()
		names := func() []string {
			t.Helper()
			specs, err := s.db.Collection(testCollection.Name).Indexes().ListSpecifications(ctx)
			if err != nil {
				t.Fatalf("list indexes: %v", err)
			}
			var names []string
			for _, spec := range specs {
				names = append(names, spec.Name)
			}
			slices.Sort(names)
			return names
		}
		if got, want := names(), []string{"_id_", "rsx__owner__n"}; !slices.Equal(got, want) {
			t.Fatalf("indexes = %v; want %v", got, want)
		}
		c := testCollection
		c.Indexes = [][]string{{"n"}, {"id", "owner"}}
		if err := s.Ensure(ctx, c); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		if got, want := names(), []string{"_id_", "rsx__id__owner", "rsx__n"}; !slices.Equal(got, want) {
			t.Fatalf("indexes = %v; want %v", got, want)
		}
		if err := s.Ensure(ctx, c); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
		if got, want := names(), []string{"_id_", "rsx__id__owner", "rsx__n"}; !slices.Equal(got, want) {
			t.Fatalf("indexes after a second Ensure = %v; want %v", got, want)
		}
	})
}

// TestSwitchSeenByAnotherProcess checks that a store sees a switch made
// through another store within its refresh interval, and serves the new
// generation with the declaration stored by the store that ensured it.
func TestSwitchSeenByAnotherProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, o opener) {
		ctx := t.Context()
		a := ensured(t, o, "")
		b := ensured(t, o, a.db.Name())
		if err := a.Apply(ctx, readstore.Batch{Writes: []readstore.Write{write("old", 1, "ann")}}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		next := testCollection
		next.Name = readstore.Generation(testCollection.Name, 2)
		next.Fields = append(slices.Clone(next.Fields), readstore.Field{Name: "extra", Type: readstore.String})
		if err := a.Ensure(ctx, next); err != nil {
			t.Fatalf("Ensure generation 2: %v", err)
		}
		w := readstore.Write{Collection: next.Name, Doc: readstore.Doc{ID: "new", Version: ver(1), Data: json.RawMessage(`{"owner":"bob","extra":"x"}`)}}
		if err := a.Apply(ctx, readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
			t.Fatalf("Apply to generation 2: %v", err)
		}
		if err := a.SwitchGeneration(ctx, testCollection.Name, 2); err != nil {
			t.Fatalf("SwitchGeneration: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			gen, err := b.LiveGeneration(ctx, testCollection.Name)
			if err != nil {
				t.Fatalf("LiveGeneration: %v", err)
			}
			if gen == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("LiveGeneration = %d after 5s; want 2", gen)
			}
			time.Sleep(20 * time.Millisecond)
		}
		docs, _, err := b.Query(ctx, testCollection.Name, readstore.Query{Where: []readstore.Condition{{Field: "extra", Op: readstore.Eq, Value: "x"}}})
		if err != nil || len(docs) != 1 || docs[0].ID != "new" {
			t.Fatalf("Query generation 2 through the other store = %v, %v; want [new]", docs, err)
		}
	})
}

// TestOpenUnreachable checks that Open gives up within its bound and
// names the host but not the password.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, pw := range []string{"s3cretPW", "p%40ss%2Fw0rd"} {
		uri := "mongodb://agent:" + pw + "@" + addr + "/?authSource=admin"
		start := time.Now()
		s, err := Open(t.Context(), Config{URI: uri, Database: "x", ConnectTimeout: 500 * time.Millisecond})
		elapsed := time.Since(start)
		if err == nil {
			s.Close()
			t.Fatalf("Open of %s: err = nil; want an error", addr)
		}
		if elapsed > 3*time.Second {
			t.Errorf("Open took %s; want about the 500ms bound", elapsed)
		}
		msg := err.Error()
		if !strings.Contains(msg, addr) {
			t.Errorf("error %q does not name the host %s", msg, addr)
		}
		for _, secret := range []string{pw, "s3cretPW", "p@ss/w0rd", "p%40ss"} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows the password", msg)
			}
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("error does not wrap context.DeadlineExceeded: %v", err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{ConnectTimeout: -1}.Validate()
	for _, want := range []string{"a URI is required", "a Database is required", "ConnectTimeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to say %q", err, want)
		}
	}
	err = Config{URI: "http://u:hunter2@h", Database: "a.b"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "mongodb://") || !strings.Contains(err.Error(), "a.b") {
		t.Errorf("Validate() = %v; want the scheme and the database name refused", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v shows the password", err)
	}
	if err := (Config{URI: "mongodb://h1,h2:27018/?replicaSet=rs", Database: "agentdesk"}).Validate(); err != nil {
		t.Errorf("Validate() of a good config = %v", err)
	}
}

func TestParseURI(t *testing.T) {
	for _, tt := range []struct {
		uri, hosts string
		secrets    []string
	}{
		{"mongodb://localhost", "localhost", nil},
		{"mongodb://h1:1,h2:2/db?replicaSet=x", "h1:1,h2:2", nil},
		{"mongodb://user@h/db", "h", nil},
		{"mongodb+srv://u:p%40w@cluster.example.net/?retryWrites=true", "cluster.example.net", []string{"u:p%40w", "p%40w", "p@w"}},
		{"mongodb://u:pa/ss@h:1/db", "h:1", []string{"u:pa/ss", "pa/ss"}},
	} {
		hosts, secrets := parseURI(tt.uri)
		if hosts != tt.hosts || !slices.Equal(secrets, tt.secrets) {
			t.Errorf("parseURI(%q) = %q, %q; want %q, %q", tt.uri, hosts, secrets, tt.hosts, tt.secrets)
		}
	}
}
