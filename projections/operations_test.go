package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// tweaked wraps a projector: a version of its own, a pause per batch, and
// an event it fails on while failOn is set.
type tweaked struct {
	projections.Projector
	version int
	pause   time.Duration
	failOn  atomic.Value // string: an event id
}

func (p *tweaked) Version() int {
	if p.version > 0 {
		return p.version
	}
	return p.Projector.Version()
}

func (p *tweaked) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	if id, _ := p.failOn.Load().(string); id != "" {
		for _, ev := range evs {
			if ev.ID == id {
				return nil, &projections.EventError{Event: ev, Err: errors.New("cannot project this one")}
			}
		}
	}
	time.Sleep(p.pause)
	return p.Projector.Fold(ctx, rs, evs)
}

// run starts a runner with cfg's projectors on s until stop.
func run(t *testing.T, s stores, cfg projections.Config) (*projections.Runner, func()) {
	t.Helper()
	cfg.Events, cfg.Reads = s.es, s.rs
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := projections.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var once sync.Once
	return r, func() { once.Do(func() { cancel(); <-done }) }
}

// openTickets appends n opened tickets, returning their ids and the last
// append's position.
func openTickets(t *testing.T, es eventstore.Store, n int, prefix string) ([]string, eventstore.Position) {
	t.Helper()
	ids := make([]string, n)
	var last eventstore.Position
	for i := range ids {
		ids[i] = uuid.NewString()
		res := appendTicket(t, es, ids[i], eventstore.NoStream, &ticket.Opened{TicketID: ids[i], CompanyID: "c1", Title: fmt.Sprintf("%s %d", prefix, i), Priority: ticket.Normal, RequesterID: "u1", Tags: []string{"t"}})
		last = res.Position
	}
	return ids, last
}

// snapshot reads every document of collection, by id.
func snapshot(t *testing.T, rs readstore.Store, collection string) map[string]string {
	t.Helper()
	docs, _, err := rs.Query(context.Background(), collection, readstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range docs {
		out[d.ID] = string(d.Data)
	}
	return out
}

// freshReplay projects the whole log into a new read store and returns
// its tickets.
func freshReplay(t *testing.T, es eventstore.Store) map[string]string {
	t.Helper()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "fresh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	r, stop := run(t, stores{es, rs}, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}})
	defer stop()
	head, err := es.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitForProjection(t, r, projections.Tickets, head)
	return snapshot(t, rs, projections.Tickets)
}

func statusOf(r *projections.Runner, name string) projections.Status {
	for _, s := range r.Status() {
		if s.Name == name {
			return s
		}
	}
	return projections.Status{}
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRebuildUnderLoad: a rebuild runs while writers append and readers
// query; no query fails, writes stay visible to their writers, and the
// rebuilt read model equals a fresh replay of the log.
func TestRebuildUnderLoad(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	_, last := openTickets(t, s.es, 500, "before")
	p := &tweaked{Projector: projections.TicketsProjector(), pause: time.Millisecond}
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{p}, BatchSize: 50, DropGrace: 2 * time.Second})
	defer stop()
	waitFor(t, r, last)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var queries, writes atomic.Int64
	errs := make(chan error, 100)
	wg.Go(func() { // a writer that reads its own writes
		for i := 0; ctx.Err() == nil; i++ {
			id := uuid.NewString()
			res := appendTicket(t, s.es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: fmt.Sprintf("during %d", i), Priority: ticket.High, RequesterID: "u1"})
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := r.Wait(wctx, projections.Tickets, res.Position)
			wcancel()
			if err == nil {
				_, err = s.rs.Get(context.Background(), projections.Tickets, id)
			}
			if err != nil {
				errs <- fmt.Errorf("write %d: %w", i, err)
				return
			}
			writes.Add(1)
		}
	})
	for range 2 {
		wg.Go(func() { // readers: a page with its total
			for ctx.Err() == nil {
				_, total, err := s.rs.Query(context.Background(), projections.Tickets, readstore.Query{
					Where: []readstore.Condition{{Field: "company_id", Op: readstore.Eq, Value: "c1"}},
					Sort:  []readstore.Sort{{Field: "created_at", Desc: true}}, Limit: 25, Count: true})
				if err == nil && total < 500 {
					err = fmt.Errorf("total %d, want at least 500", total)
				}
				if err != nil {
					errs <- fmt.Errorf("query: %w", err)
					return
				}
				queries.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := r.Rebuild(context.Background(), projections.Tickets, "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.Rebuild(context.Background(), projections.Tickets, "again"); !errors.Is(err, projections.ErrRebuildRunning) {
		t.Fatalf("a second rebuild: %v, want ErrRebuildRunning", err)
	}
	if st := statusOf(r, projections.Tickets); st.State != projections.StateRebuilding || st.Rebuild == nil || st.Rebuild.Generation != 2 {
		t.Fatalf("status during the rebuild: %+v", st)
	}
	waitRebuilt(t, r, projections.Tickets)
	if _, _, err := s.rs.Query(context.Background(), readstore.Generation(projections.Tickets, 1), readstore.Query{Limit: 1}); err != nil {
		t.Errorf("the old generation was dropped at the switch, under readers that may have resolved it: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // traffic on the new generation
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("during the rebuild: %d writes read back, %d queries", writes.Load(), queries.Load())
	st := statusOf(r, projections.Tickets)
	if st.Generation != 2 || st.State != projections.StateRunning || st.Rebuild != nil {
		t.Fatalf("status after the rebuild: %+v", st)
	}
	if gen, _ := s.rs.LiveGeneration(context.Background(), projections.Tickets); gen != 2 {
		t.Fatalf("live generation %d, want 2", gen)
	}
	// The old generation outlives the switch by DropGrace, for readers
	// that resolved it just before, then goes.
	poll(t, "the old generation to be dropped", func() bool {
		_, _, err := s.rs.Query(context.Background(), readstore.Generation(projections.Tickets, 1), readstore.Query{Limit: 1})
		return err != nil
	})
	head, _ := s.es.Head(context.Background())
	waitFor(t, r, head)
	got, want := snapshot(t, s.rs, projections.Tickets), freshReplay(t, s.es)
	if len(got) != len(want) {
		t.Fatalf("rebuilt %d tickets, a fresh replay %d", len(got), len(want))
	}
	for id, doc := range want {
		if got[id] != doc {
			t.Fatalf("ticket %s: rebuilt %s, fresh replay %s", id, got[id], doc)
		}
	}
}

// TestVersionBumpRebuilds: a projector whose version went up rebuilds its
// read model on start, into a new generation, and records the version.
func TestVersionBumpRebuilds(t *testing.T) {
	dir := t.TempDir()
	s := openStores(t, dir)
	_, last := openTickets(t, s.es, 50, "v1")
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}})
	waitFor(t, r, last)
	if st := statusOf(r, projections.Tickets); st.Version != 1 || st.Generation != 1 {
		t.Fatalf("first start: %+v", st)
	}
	stop()
	s.close()

	s = openStores(t, dir)
	defer s.close()
	r, stop = run(t, s, projections.Config{Projectors: []projections.Projector{&tweaked{Projector: projections.TicketsProjector(), version: 2}}})
	defer stop()
	poll(t, "the rebuild for version 2", func() bool {
		st := statusOf(r, projections.Tickets)
		return st.Version == 2 && st.Generation == 2 && st.State == projections.StateRunning
	})
	if got := len(snapshot(t, s.rs, projections.Tickets)); got != 50 {
		t.Fatalf("%d tickets after the rebuild, want 50", got)
	}
}

// TestRebuildResumesAfterCrash: a runner stopped halfway through a rebuild
// goes on from where the rebuild was, not from the start.
func TestRebuildResumesAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStores(t, dir)
	_, last := openTickets(t, s.es, 600, "crash")
	slow := &tweaked{Projector: projections.TicketsProjector(), pause: 5 * time.Millisecond}
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{slow}, BatchSize: 20})
	waitFor(t, r, last)
	if err := r.Rebuild(context.Background(), projections.Tickets, "test"); err != nil {
		t.Fatal(err)
	}
	poll(t, "the rebuild to be under way", func() bool {
		st := statusOf(r, projections.Tickets)
		return st.Rebuild != nil && st.Rebuild.Done >= 200
	})
	stop() // as if killed: the next start finds the rebuild recorded
	s.close()

	s = openStores(t, dir)
	defer s.close()
	counter := &counting{Projector: projections.TicketsProjector()}
	r, stop = run(t, s, projections.Config{Projectors: []projections.Projector{counter}, BatchSize: 20})
	defer stop()
	if st := statusOf(r, projections.Tickets); st.Rebuild == nil || st.Rebuild.Done < 200 {
		t.Fatalf("after the restart: %+v, want the rebuild resumed past 200", st.Rebuild)
	}
	waitRebuilt(t, r, projections.Tickets)
	if n := counter.events.Load(); n >= 600 {
		t.Fatalf("the resumed rebuild folded %d events: it started over", n)
	}
	if got := len(snapshot(t, s.rs, projections.Tickets)); got != 600 {
		t.Fatalf("%d tickets after the rebuild, want 600", got)
	}
}

// TestPoisonEventHaltsThenResumes: an event the projector cannot project
// is retried, then halts the projection (readiness says so, status names
// the event's position); after the fix, Resume goes on.
func TestPoisonEventHaltsThenResumes(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	p := &tweaked{Projector: projections.TicketsProjector()}
	ids, _ := openTickets(t, s.es, 3, "ok")
	evs, err := s.es.ReadStream(context.Background(), ticket.Stream(ids[1]), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.failOn.Store(evs[0].ID)
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{p}, MaxRetries: 2, RetryDelay: time.Millisecond, BatchSize: 1})
	defer stop()
	poll(t, "the projection to halt", func() bool { return statusOf(r, projections.Tickets).State == projections.StateHalted })
	st := statusOf(r, projections.Tickets)
	if !strings.Contains(st.Error, "cannot project this one") || st.ErrorPosition == "" {
		t.Fatalf("halted status %+v: want the error and its position", st)
	}
	if why := r.NotReady(); !strings.Contains(why, "halted") {
		t.Fatalf("NotReady %q: want halted", why)
	}
	if _, err := s.rs.Get(context.Background(), projections.Tickets, ids[2]); err == nil {
		t.Fatal("an event after the poison one was applied: something was skipped")
	}
	p.failOn.Store("")
	if err := r.Resume(projections.Tickets); err != nil {
		t.Fatal(err)
	}
	poll(t, "the projection to catch up", func() bool {
		_, err := s.rs.Get(context.Background(), projections.Tickets, ids[2])
		return err == nil
	})
	if err := r.Resume(projections.Tickets); !errors.Is(err, projections.ErrNotHalted) {
		t.Fatalf("resuming a running projection: %v", err)
	}
}

// TestSkipPolicyParks: under its skip policy a projection parks the event
// that keeps failing, goes on without it, and still skips it after a
// restart.
func TestSkipPolicyParks(t *testing.T) {
	dir := t.TempDir()
	s := openStores(t, dir)
	p := &tweaked{Projector: projections.TicketsProjector()}
	ids, last := openTickets(t, s.es, 3, "ok")
	evs, _ := s.es.ReadStream(context.Background(), ticket.Stream(ids[1]), 0, 0)
	p.failOn.Store(evs[0].ID)
	cfg := projections.Config{Projectors: []projections.Projector{p}, MaxRetries: 1, RetryDelay: time.Millisecond, SkipFailing: []string{projections.Tickets}}
	r, stop := run(t, s, cfg)
	waitFor(t, r, last)
	parked, total, err := r.Parked(context.Background(), "", 0, 10)
	if err != nil || total != 1 || parked[0].EventID != evs[0].ID || parked[0].Projection != projections.Tickets {
		t.Fatalf("parked %+v (%d), %v", parked, total, err)
	}
	got := snapshot(t, s.rs, projections.Tickets)
	keys := make([]string, 0, len(got))
	for id := range got {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	if len(got) != 2 || got[ids[1]] != "" {
		t.Fatalf("tickets %v: want all but the parked one's", keys)
	}
	if st := statusOf(r, projections.Tickets); st.Parked != 1 || st.State != projections.StateRunning {
		t.Fatalf("status %+v", st)
	}
	stop()
	s.close()
	s = openStores(t, dir)
	defer s.close()
	p.failOn.Store(evs[0].ID)
	r, stop = run(t, s, cfg)
	defer stop()
	poll(t, "the runner to run", func() bool {
		err := r.Rebuild(context.Background(), projections.Tickets, "after the park")
		if err != nil && !errors.Is(err, projections.ErrNotRunning) {
			t.Fatal(err)
		}
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.RebuildDone(ctx, projections.Tickets); err != nil {
		t.Fatalf("a rebuild meets the parked event again: %v", err)
	}
}

// TestVerifyCatchesTampering: verify finds nothing on a healthy read
// model, and names the document and field changed behind its back, and
// one deleted.
func TestVerifyCatchesTampering(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ids, last := openTickets(t, s.es, 120, "verify")
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}})
	defer stop()
	waitFor(t, r, last)
	ctx := context.Background()
	res, err := r.Verify(ctx, projections.Tickets, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Differences) != 0 || res.Documents != 120 {
		t.Fatalf("healthy: %+v", res)
	}
	doc, err := s.rs.Get(ctx, projections.Tickets, ids[7])
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(doc.Data), `"title":"verify 7"`, `"title":"tampered"`, 1)
	bump := strings.Repeat("f", 40) // above every stored version
	if err := s.rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{
		{Collection: projections.Tickets, Doc: readstore.Doc{ID: ids[7], Version: bump, Data: []byte(changed)}},
		{Collection: projections.Tickets, Doc: readstore.Doc{ID: ids[9], Version: bump}, Delete: true},
	}}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Verify(ctx, projections.Tickets, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Differences) != 2 {
		t.Fatalf("after tampering: %d differences, want 2: %+v", len(res.Differences), res)
	}
	byID := map[string]projections.Difference{}
	for _, d := range res.Differences {
		byID[d.ID] = d
	}
	if d := byID[ids[7]]; len(d.Fields) != 1 || d.Fields[0] != "title" {
		t.Fatalf("the changed ticket: %+v", d)
	}
	if d := byID[ids[9]]; string(d.Live) != "null" || len(d.Rebuilt) == 0 {
		t.Fatalf("the deleted ticket: %+v", d)
	}
	if _, _, err := s.rs.Query(ctx, readstore.Generation(projections.Tickets, 1_000_000), readstore.Query{Limit: 1}); err == nil {
		t.Fatal("the scratch generation was left behind")
	}
}

// slowApply is a read store whose writes take a while, so that a
// rebuild's fold runs batches ahead of its writes.
type slowApply struct {
	readstore.Store
	applies atomic.Int64
}

func (s *slowApply) Apply(ctx context.Context, b readstore.Batch) error {
	s.applies.Add(1)
	time.Sleep(3 * time.Millisecond)
	return s.Store.Apply(ctx, b)
}

// TestFoldsAheadOfWrites: behind the head, a projection catching up
// after its start and a rebuild fold the next batch while the last one
// is written; a ticket changed in every batch, its writes still pending,
// comes out as a fresh replay (one batch) has it. Also a ticket deleted
// while its last write is pending.
func TestFoldsAheadOfWrites(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ids, _ := openTickets(t, s.es, 6, "ahead")
	for round := range 12 {
		for i, id := range ids {
			title := fmt.Sprintf("round %d", round)
			evs := []domain.Event{&ticket.Edited{Title: &title}}
			if i%2 == 0 {
				evs = append(evs, &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: title})
			}
			appendTicket(t, s.es, id, eventstore.Any, evs...)
		}
	}
	appendTicket(t, s.es, ids[5], eventstore.Any, &ticket.Deleted{})
	head, err := s.es.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowApply{Store: s.rs}
	r, stop := run(t, stores{s.es, slow}, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}, BatchSize: 4, DropGrace: time.Millisecond})
	defer stop()
	waitFor(t, r, head)
	want := freshReplay(t, s.es)
	same := func(when string) {
		t.Helper()
		got := snapshot(t, s.rs, projections.Tickets)
		if len(got) != len(want) || len(want) != 5 {
			t.Fatalf("%s: %d tickets, a fresh replay %d; want 5", when, len(got), len(want))
		}
		for id, doc := range want {
			if got[id] != doc {
				t.Fatalf("%s: ticket %s is %s, in a fresh replay %s", when, id, got[id], doc)
			}
		}
	}
	same("caught up")
	if n := slow.applies.Load(); n < 20 {
		t.Fatalf("the catch-up wrote %d batches; want the log's %d events in batches of 4", n, head.Commit)
	}
	before := slow.applies.Load()
	if err := r.Rebuild(context.Background(), projections.Tickets, "test"); err != nil {
		t.Fatal(err)
	}
	waitRebuilt(t, r, projections.Tickets)
	if n := slow.applies.Load() - before; n < 20 {
		t.Fatalf("the rebuild wrote %d batches; want the log's %d events in batches of 4", n, head.Commit)
	}
	same("rebuilt")
}

// waitRebuilt waits up to 30 s for the rebuild of name to go live.
func waitRebuilt(t *testing.T, r *projections.Runner, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.RebuildDone(ctx, name); err != nil {
		t.Fatalf("rebuild of %s: %v", name, err)
	}
}

// TestReplacedGenerationDroppedAfterCrash: a process that dies within the
// grace period after a switch leaves the replaced generation behind; the
// next start drops it.
func TestReplacedGenerationDroppedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStores(t, dir)
	_, last := openTickets(t, s.es, 20, "g")
	r, stop := run(t, s, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}, DropGrace: time.Hour})
	waitFor(t, r, last)
	if err := r.Rebuild(context.Background(), projections.Tickets, "test"); err != nil {
		t.Fatal(err)
	}
	waitRebuilt(t, r, projections.Tickets)
	if !hasTable(t, dir, "rs_tickets") {
		t.Fatal("the replaced generation was dropped within its grace period")
	}
	// The process dies: the drop its stop would make finds the store gone.
	s.close()
	stop()
	if !hasTable(t, dir, "rs_tickets") {
		t.Fatal("the replaced generation was dropped by a stop that could not reach the store")
	}

	s = openStores(t, dir)
	defer s.close()
	_, stop = run(t, s, projections.Config{Projectors: []projections.Projector{projections.TicketsProjector()}, DropGrace: 10 * time.Millisecond})
	defer stop()
	poll(t, "the next run to drop the replaced generation", func() bool { return !hasTable(t, dir, "rs_tickets") })
	if got := len(snapshot(t, s.rs, projections.Tickets)); got != 20 {
		t.Fatalf("%d tickets in the live generation, want 20", got)
	}
}

// hasTable reports whether the read store in dir has the table.
func hasTable(t *testing.T, dir, table string) bool {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, "reads.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}
