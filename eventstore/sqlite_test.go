package eventstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSQLiteAcceptance(t *testing.T) {
	RunAcceptance(t, func(t *testing.T) (Store, func() Store) {
		path := filepath.Join(t.TempDir(), "events.db")
		store := openSQLite(t, path)
		reopen := func() Store {
			if err := store.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			store = openSQLite(t, path)
			return store
		}
		return store, reopen
	})
}

// openSQLite opens a store at path and closes it when tb ends.
func openSQLite(tb testing.TB, path string) *SQLiteStore {
	tb.Helper()
	store, err := OpenSQLite(SQLiteConfig{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return store
}

func TestSQLiteConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  SQLiteConfig
		want []string // substrings of the error; none means valid
	}{
		{"defaults", SQLiteConfig{Path: "events.db"}, nil},
		{"explicit sizes", SQLiteConfig{Path: "events.db", MaxBatch: 1, ReadConns: 1}, nil},
		{"no path", SQLiteConfig{}, []string{"path is required"}},
		{"in memory", SQLiteConfig{Path: ":memory:"}, []string{"in-memory"}},
		{"every problem at once", SQLiteConfig{MaxBatch: -1, ReadConns: -2},
			[]string{"path is required", "max batch must be >= 0, got -1", "read conns must be >= 0, got -2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
	if _, err := OpenSQLite(SQLiteConfig{}); err == nil {
		t.Fatal("OpenSQLite with an invalid config succeeded")
	}
}

// TestSQLiteDurabilitySettings guards the settings that make an
// acknowledged append survive a crash and let readers run beside the writer.
func TestSQLiteDurabilitySettings(t *testing.T) {
	store := openSQLite(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := t.Context()
	// The writer goroutine is idle until the first Append, so the test
	// may borrow its connection.
	var mode string
	var synchronous int
	if err := store.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := store.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || synchronous != 2 {
		t.Fatalf("journal_mode = %s, synchronous = %d; want wal, 2 (FULL)", mode, synchronous)
	}
	if _, err := store.readDB.ExecContext(ctx, "DELETE FROM events"); err == nil {
		t.Fatal("the read pool accepted a write, want it read-only")
	}
}

func TestSQLiteWrongRevisionMessage(t *testing.T) {
	store := openSQLite(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := t.Context()
	stream := newStream("msg")
	mustAppend(ctx, t, store, stream, NoStream, newEvent("acc.happened", "c1"))
	_, err := store.Append(ctx, stream, Exact(5), []EventData{newEvent("acc.happened", "c1")})
	if !errors.Is(err, ErrWrongExpectedRevision) {
		t.Fatalf("err = %v, want ErrWrongExpectedRevision", err)
	}
	for _, want := range []string{stream, "expected revision 5", "stream is at revision 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestSQLiteConcurrentAppends checks that appends from many goroutines to
// different streams all land, at contiguous positions that a concurrent
// subscription sees without a gap, and that group commit shares
// transactions between them.
func TestSQLiteConcurrentAppends(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), acceptanceTimeout)
	defer cancel()
	store := openSQLite(t, filepath.Join(t.TempDir(), "events.db"))
	const writers, perWriter = 32, 20
	const total = writers * perWriter

	// Small pages make the subscription alternate between full pages
	// (more may follow) and short ones (caught up) while appends race it.
	store.subscriptionPage = 16
	sub, err := store.Subscribe(ctx, Start, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Every other writer's events match, so the filtered subscription
	// also skips rows it must not deliver.
	odd, err := store.Subscribe(ctx, Start, Filter{CompanyID: "odd"})
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Close()

	streams := make([]string, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		streams[w] = newStream("many")
		wg.Add(1)
		go func() {
			defer wg.Done()
			expected := NoStream
			for range perWriter {
				res, err := store.Append(ctx, streams[w], expected, []EventData{newEvent("acc.happened", []string{"even", "odd"}[w%2])})
				if err != nil {
					errs <- err
					return
				}
				expected = Exact(res.NextRevision)
			}
		}()
	}

	// Single-writer commits make positions contiguous and visible in
	// order, so a reader racing the writer must see exactly 1, 2, 3, …
	got := collect(ctx, t, sub, total)
	for i, ev := range got {
		if ev.Position != uint64(i+1) {
			t.Fatalf("event %d has position %d, want %d", i, ev.Position, i+1)
		}
	}
	oddGot := collect(ctx, t, odd, total/2)
	var oddWant []RecordedEvent
	for _, ev := range got {
		if ev.Metadata.CompanyID == "odd" {
			oddWant = append(oddWant, ev)
		}
	}
	assertSamePositions(t, oddGot, oddWant)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	for _, stream := range streams {
		events := mustReadStream(ctx, t, store, stream, 0, 0)
		if len(events) != perWriter || events[perWriter-1].Revision != perWriter-1 {
			t.Fatalf("stream %s has %d events, want %d at revisions 0..%d", stream, len(events), perWriter, perWriter-1)
		}
	}
	if head := mustHead(ctx, t, store); head != total {
		t.Fatalf("Head = %d, want %d", head, total)
	}
	// 32 writers each waiting for their own commit queue up behind one
	// another, so at least one transaction must have carried two appends.
	if commits := store.commits.Load(); commits >= total {
		t.Fatalf("%d appends took %d transactions, want fewer (group commit)", total, commits)
	} else {
		t.Logf("%d appends in %d transactions", total, commits)
	}
}

// TestSQLiteBatchIsolatesFailures runs one batch by hand, since concurrent
// appends land in a shared transaction only by timing: a request that
// fails must be undone alone while the others commit.
func TestSQLiteBatchIsolatesFailures(t *testing.T) {
	store := openSQLite(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := t.Context()
	taken := newEvent("acc.happened", "c1")
	existing := newStream("batch")
	mustAppend(ctx, t, store, existing, NoStream, taken)

	request := func(stream string, expected ExpectedRevision, events ...EventData) *appendRequest {
		t.Helper()
		rows, err := encodeEvents(stream, events)
		if err != nil {
			t.Fatal(err)
		}
		return &appendRequest{ctx: ctx, stream: stream, expected: expected, rows: rows, reply: make(chan appendReply, 1)}
	}
	good1, good2 := newStream("batch"), newStream("batch")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	batch := []*appendRequest{
		request(good1, NoStream, newEvent("acc.happened", "c1"), newEvent("acc.happened", "c1")),
		request(existing, NoStream, newEvent("acc.happened", "c1")),                  // wrong revision
		request(newStream("batch"), NoStream, newEvent("acc.happened", "c1"), taken), // duplicate after a write
		request(newStream("batch"), Any, newEvent("acc.happened", "c1")),             // caller gave up
		request(good2, Exact(1), newEvent("acc.happened", "c1")),                     // good2 is empty: wrong revision
		request(good1, Exact(1), newEvent("acc.happened", "c1")),                     // sees request 0's events
	}
	batch[3].ctx = cancelled
	commitsBefore := store.commits.Load()
	// The writer goroutine is idle (no Append in flight), so the test may
	// drive the batch on its connection.
	store.commitBatch(batch)

	wantErrs := []error{nil, ErrWrongExpectedRevision, ErrDuplicateEvent, context.Canceled, ErrWrongExpectedRevision, nil}
	for i, req := range batch {
		r := <-req.reply
		if !errors.Is(r.err, wantErrs[i]) { // errors.Is(err, nil) means err == nil
			t.Errorf("request %d: err = %v, want %v", i, r.err, wantErrs[i])
		}
	}
	if n := store.commits.Load() - commitsBefore; n != 1 {
		t.Fatalf("batch took %d commits, want 1", n)
	}
	assertStreamLen(ctx, t, store, good1, 3)
	assertStreamLen(ctx, t, store, existing, 1)
	assertStreamLen(ctx, t, store, good2, 0)
	all := readAllPages(ctx, t, store, Start, Filter{})
	for i, ev := range all {
		if ev.Position != uint64(i+1) {
			t.Fatalf("after rolled-back requests, event %d has position %d, want %d (no holes)", i, ev.Position, i+1)
		}
	}
	if len(all) != 4 {
		t.Fatalf("store holds %d events, want 4", len(all))
	}
}

// TestSQLiteCloseFinishesQueuedAppends closes the store under load: every
// append must either be acknowledged and survive a reopen, or fail with
// ErrClosed and be absent.
func TestSQLiteCloseFinishesQueuedAppends(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), acceptanceTimeout)
	defer cancel()
	path := filepath.Join(t.TempDir(), "events.db")
	store, err := OpenSQLite(SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 16
	type outcome struct {
		id  string
		err error
	}
	outcomes := make(chan outcome, 4096)
	var acked atomic.Int64
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := newStream("closing")
			for {
				ev := newEvent("acc.happened", "c1")
				_, err := store.Append(ctx, stream, Any, []EventData{ev})
				outcomes <- outcome{ev.ID, err}
				if err != nil {
					return
				}
				if acked.Add(1) >= 50 {
					once.Do(func() { close(enough) })
				}
			}
		}()
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("appends did not get going")
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(outcomes)

	reopened := openSQLite(t, path)
	stored := map[string]bool{}
	for _, ev := range readAllPages(ctx, t, reopened, Start, Filter{}) {
		stored[ev.ID] = true
	}
	failed := 0
	for o := range outcomes {
		switch {
		case o.err == nil && !stored[o.id]:
			t.Errorf("acknowledged event %s is missing after reopen", o.id)
		case o.err != nil && !errors.Is(o.err, ErrClosed):
			t.Errorf("append during Close: err = %v, want ErrClosed", o.err)
		case o.err != nil && stored[o.id]:
			t.Errorf("event %s failed with %v but is stored", o.id, o.err)
		case o.err != nil:
			failed++
		}
	}
	if failed != writers {
		t.Fatalf("%d appends failed with ErrClosed, want one per writer (%d)", failed, writers)
	}
}

// TestSQLitePaths opens stores at a relative path and at a path with
// characters that mean something in a URI, since the store opens files
// through file: URIs.
func TestSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, path := range []string{"events.db", filepath.Join("a dir", "ev?x=1#frag%20.db")} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		store := openSQLite(t, path)
		mustAppend(t.Context(), t, store, newStream("path"), NoStream, newEvent("acc.happened", "c1"))
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		// The file must carry the literal name, not a URI-decoded one.
		if _, err := os.Stat(filepath.Join(dir, path)); err != nil {
			t.Fatalf("no database file at %q: %v", path, err)
		}
	}
}

func TestSQLiteEmptyStore(t *testing.T) {
	store := openSQLite(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := t.Context()
	if head := mustHead(ctx, t, store); head != 0 {
		t.Fatalf("Head of an empty store = %d, want 0", head)
	}
	res := mustAppend(ctx, t, store, newStream("first"), NoStream, newEvent("acc.happened", "c1"))
	if res.Position != 1 {
		t.Fatalf("first event at position %d, want 1", res.Position)
	}
}

// benchEventData is the payload of the benchmarks' events: a typical
// ticket.opened.
const benchEventData = `{"title":"Printer on the third floor is out of toner","priority":"normal","requester":"5b0c7c7e-4d1c-4b53-a0b5-8f1f1b8a3c11","tags":["hardware","office"]}`

// BenchmarkAppendSQLite measures single-event appends, each to the
// appending goroutine's own stream, at several levels of concurrency; more
// goroutines means more appends share each fsync.
func BenchmarkAppendSQLite(b *testing.B) {
	for _, goroutines := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			store := openSQLite(b, filepath.Join(b.TempDir(), "events.db"))
			ctx := context.Background()
			data := []byte(benchEventData)
			meta := newEvent("ticket.opened", uuid.NewString()).Metadata
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := newStream("ticket")
					expected := NoStream
					for next.Add(1) <= int64(b.N) {
						ev := EventData{ID: uuid.NewString(), Type: "ticket.opened", SchemaVersion: 1, Data: data, Metadata: meta}
						res, err := store.Append(ctx, stream, expected, []EventData{ev})
						if err != nil {
							b.Error(err)
							return
						}
						expected = Exact(res.NextRevision)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			// One event per append, so events/s compares directly with
			// BenchmarkRawInsert.
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/float64(max(store.commits.Load(), 1)), "appends/tx")
		})
	}
}

// BenchmarkRawInsert is the ceiling BenchmarkAppendSQLite is measured
// against: rows of the same size inserted into the store's schema, with
// its pragmas (WAL, synchronous=FULL), by one goroutine in transactions of
// 64 rows, one multi-row INSERT each, with none of the store's checks.
func BenchmarkRawInsert(b *testing.B) {
	const batch = 64
	ctx := context.Background()
	dsn, err := sqliteDSN(filepath.Join(b.TempDir(), "raw.db"), "_journal_mode=WAL", "_synchronous=FULL")
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		b.Fatal(err)
	}
	insert, err := db.PrepareContext(ctx, `INSERT INTO events
		(position, id, stream_id, revision, type, schema_version, company_id, category, data, metadata) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?),", batch), ","))
	if err != nil {
		b.Fatal(err)
	}
	defer insert.Close()
	// The same payload, metadata and spread over 64 streams as
	// BenchmarkAppendSQLite's events at 64 goroutines.
	data := []byte(benchEventData)
	m := newEvent("ticket.opened", uuid.NewString()).Metadata
	meta, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	streams := make([]string, batch)
	for i := range streams {
		streams[i] = newStream("ticket")
	}
	args := make([]any, 0, batch*10)
	var pos int64
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += batch {
		args = args[:0]
		for i := range batch {
			pos++
			args = append(args, pos, uuid.NewString(), streams[i], done/batch, "ticket.opened", 1, m.CompanyID, "ticket", data, meta)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, args...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(pos)/elapsed.Seconds(), "events/s")
}
