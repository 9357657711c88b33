package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
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

// counting wraps a projector and counts the events it folds.
type counting struct {
	projections.Projector
	events atomic.Int64
}

func (c *counting) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	c.events.Add(int64(len(evs)))
	return c.Projector.Fold(ctx, rs, evs)
}

type stores struct {
	es eventstore.Store
	rs readstore.Store
}

func openStores(t *testing.T, dir string) stores {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(dir, "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	return stores{es, rs}
}

func (s stores) close() { s.es.Close(); s.rs.Close() }

// appendTicket appends domain events to a ticket's stream.
func appendTicket(t testing.TB, es eventstore.Store, id string, expected eventstore.ExpectedRevision, evs ...domain.Event) eventstore.AppendResult {
	t.Helper()
	data := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		data[i] = eventstore.EventData{ID: uuid.NewString(), Type: e.EventType(), SchemaVersion: domain.SchemaVersion(e), Data: raw,
			Metadata: eventstore.Metadata{CompanyID: "c1", ActorID: "u1", RecordedAt: time.Now().UTC()}}
	}
	res, err := es.Append(context.Background(), ticket.Stream(id), expected, data)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// startRunner runs the tickets projection until the returned stop is called.
func startRunner(t *testing.T, s stores, p projections.Projector) (*projections.Runner, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := projections.New(ctx, projections.Config{Events: s.es, Reads: s.rs, Projectors: []projections.Projector{p}, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	return r, func() { cancel(); <-done }
}

func waitFor(t *testing.T, r *projections.Runner, pos eventstore.Position) {
	t.Helper()
	waitForProjection(t, r, projections.Tickets, pos)
}

func waitForProjection(t *testing.T, r *projections.Runner, name string, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Wait(ctx, name, pos); err != nil {
		t.Fatal(err)
	}
}

func getTicket(t *testing.T, rs readstore.Store, id string) projections.Ticket {
	t.Helper()
	doc, err := rs.Get(context.Background(), projections.Tickets, id)
	if err != nil {
		t.Fatalf("get ticket %s: %v", id, err)
	}
	var tk projections.Ticket
	if err := json.Unmarshal(doc.Data, &tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestRunnerCatchesUpTailsAndResumes(t *testing.T) {
	dir := t.TempDir()
	s := openStores(t, dir)
	ids := []string{uuid.NewString(), uuid.NewString()}
	for _, id := range ids {
		appendTicket(t, s.es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"})
	}
	res := appendTicket(t, s.es, ids[0], eventstore.Exact(0),
		&ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "a"},
		&ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "b"},
		&ticket.StatusChanged{From: ticket.Open, To: ticket.InProgress})

	first := &counting{Projector: projections.TicketsProjector()}
	r, stop := startRunner(t, s, first)
	waitFor(t, r, res.Position) // catch-up, in batches of 3
	if got := getTicket(t, s.rs, ids[0]); got.CommentCount != 2 || got.Status != "in_progress" || got.Revision != 3 {
		t.Fatalf("after catch-up: got %+v", got)
	}
	if !r.Ready() {
		t.Fatal("not ready after catch-up")
	}
	// Live: an append wakes the runner.
	res = appendTicket(t, s.es, ids[1], eventstore.Exact(0), &ticket.Deleted{})
	waitFor(t, r, res.Position)
	if _, err := s.rs.Get(context.Background(), projections.Tickets, ids[1]); err == nil {
		t.Fatal("deleted ticket still in the read model")
	}
	stop()
	if got := first.events.Load(); got != 6 {
		t.Fatalf("first run folded %d events, want 6", got)
	}

	// A restart resumes from the checkpoint: only the new event is folded.
	res = appendTicket(t, s.es, ids[0], eventstore.Exact(3), &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "c"})
	s.close()
	s = openStores(t, dir)
	defer s.close()
	second := &counting{Projector: projections.TicketsProjector()}
	r, stop = startRunner(t, s, second)
	defer stop()
	if st := r.Status(); st[0].Position == eventstore.Start.String() {
		t.Fatalf("restarted from position 0: %+v", st)
	}
	waitFor(t, r, res.Position)
	if st := r.Status(); st[0].At.Compare(res.Position) < 0 || st[0].At.String() != st[0].Position {
		t.Fatalf("status after the restart's catch-up: got At %s and Position %s, want both at or past %s", st[0].At, st[0].Position, res.Position)
	}
	if got := second.events.Load(); got != 1 {
		t.Fatalf("second run folded %d events, want only the 1 new one", got)
	}
	if got := getTicket(t, s.rs, ids[0]); got.CommentCount != 3 {
		t.Fatalf("after restart: comment_count %d, want 3", got.CommentCount)
	}
}

// Folding events that were already applied changes nothing: versions
// guard every document, so a replayed batch is harmless.
func TestReplayedBatchChangesNothing(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	p := projections.TicketsProjector()
	if err := s.rs.Ensure(ctx, p.Collection()); err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	appendTicket(t, s.es, id, eventstore.NoStream,
		&ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"},
		&ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "a"})
	sub, err := s.es.Subscribe(ctx, eventstore.Start, p.Filter())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b, err := sub.Next(ctx, 0)
	if err != nil || len(b.Events) != 2 {
		t.Fatalf("read the ticket's events: %d events, %v", len(b.Events), err)
	}
	evs := b.Events
	fold := func(evs []eventstore.RecordedEvent) int {
		t.Helper()
		writes, err := p.Fold(ctx, s.rs, evs)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
			t.Fatal(err)
		}
		return len(writes)
	}
	fold(evs)
	before, err := s.rs.Get(ctx, projections.Tickets, id)
	if err != nil {
		t.Fatal(err)
	}
	// A replay that starts with the creation is not looked up (it cannot
	// exist below the checkpoint); the store's version guard ignores it.
	fold(evs)
	// A replay of later events is skipped by Fold itself.
	if n := fold(evs[1:]); n != 0 {
		t.Fatalf("replayed comment: %d writes, want none", n)
	}
	after, err := s.rs.Get(ctx, projections.Tickets, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || string(after.Data) != string(before.Data) {
		t.Fatalf("replay changed the document: got %s v%s, want %s v%s", after.Data, after.Version, before.Data, before.Version)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := startRunner(t, s, projections.TicketsProjector())
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Wait(ctx, projections.Tickets, eventstore.Position{Commit: 1_000_000, Prepare: 1_000_000}); err == nil {
		t.Fatal("Wait for a position never reached returned nil")
	}
	if err := r.Wait(context.Background(), "nope", eventstore.Start); err == nil {
		t.Fatal("Wait on an unknown projection returned nil")
	}
}

// A batch cut short after its deletion landed (the read store allows a
// batch's writes to land without its checkpoint) is applied again: the
// events after the creation find no document and change nothing, rather
// than stopping the projection.
func TestReplayAfterDeletion(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	ctx := context.Background()
	p := projections.TicketsProjector()
	if err := s.rs.Ensure(ctx, p.Collection()); err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	appendTicket(t, s.es, id, eventstore.NoStream,
		&ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"},
		&ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "a"},
		&ticket.Deleted{})
	sub, err := s.es.Subscribe(ctx, eventstore.Start, p.Filter())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b, err := sub.Next(ctx, 0)
	if err != nil || len(b.Events) != 3 {
		t.Fatalf("read the ticket's events: %d events, %v", len(b.Events), err)
	}
	apply := func(evs []eventstore.RecordedEvent) {
		t.Helper()
		writes, err := p.Fold(ctx, s.rs, evs)
		if err != nil {
			t.Fatalf("fold %d events: %v", len(evs), err)
		}
		if err := s.rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
			t.Fatal(err)
		}
	}
	apply(b.Events[:1]) // the first batch, with its checkpoint
	apply(b.Events[1:]) // the second: the deletion lands, the checkpoint does not
	apply(b.Events[1:]) // and the second again
	if _, err := s.rs.Get(ctx, projections.Tickets, id); err == nil {
		t.Fatal("the deleted ticket is back")
	}
}

// stalling folds nothing while stalled is set.
type stalling struct {
	projections.Projector
	stalled chan struct{} // closed to let it go on
}

func (s *stalling) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	select {
	case <-s.stalled:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Projector.Fold(ctx, rs, evs)
}

// TestReadinessFollowsLagAndStop: a projection that stays behind a head
// of the log for MaxLag makes the runner not ready, with the reason; it
// is ready again once it catches up, and not ready once Run has stopped.
func TestReadinessFollowsLagAndStop(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	p := &stalling{Projector: projections.TicketsProjector(), stalled: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := projections.New(ctx, projections.Config{Events: s.es, Reads: s.rs, Projectors: []projections.Projector{p}, MaxLag: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ready() {
		t.Fatal("ready before Run")
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s (ready %v: %q)", what, r.Ready(), r.NotReady())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	eventually("ready on an empty log", r.Ready)
	appendTicket(t, s.es, "01a22b3c-0000-7000-8000-0000000000aa", eventstore.NoStream,
		&ticket.Opened{TicketID: "01a22b3c-0000-7000-8000-0000000000aa", CompanyID: "c1", Title: "stuck", Priority: ticket.Normal, RequesterID: "u1"})
	eventually("lagging behind a head it does not reach", func() bool { return strings.Contains(r.NotReady(), "lagging") })
	if st := r.Status(); len(st) != 1 || !st[0].Lagging {
		t.Fatalf("status while lagging: %+v", st)
	}
	close(p.stalled)
	eventually("ready once caught up", r.Ready)
	cancel()
	<-done
	if why := r.NotReady(); !strings.Contains(why, "stopped") {
		t.Fatalf("after Run returned: NotReady %q; want stopped", why)
	}
}

// lingering is a projector that lingers at the head, and counts the
// batches it folds.
type lingering struct {
	projections.Projector
	batches atomic.Int64
}

func (l *lingering) Linger() time.Duration { return 300 * time.Millisecond }

func (l *lingering) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	l.batches.Add(1)
	return l.Projector.Fold(ctx, rs, evs)
}

// TestLingererGathersBatches: at the head, a projection that lingers
// applies the events that arrive one by one meanwhile in one batch.
func TestLingererGathersBatches(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	p := &lingering{Projector: projections.TicketsProjector()}
	r, stop := runProjectors(t, s, 0, p)
	defer stop()

	first := appendTicket(t, s.es, uuid.NewString(), eventstore.NoStream, &ticket.Opened{TicketID: "t", CompanyID: "c1", Title: "first", Priority: ticket.Normal})
	waitFor(t, r, first.Position)
	before := p.batches.Load()
	var last eventstore.AppendResult
	for i := range 5 {
		last = appendTicket(t, s.es, uuid.NewString(), eventstore.NoStream, &ticket.Opened{TicketID: "t", CompanyID: "c1", Title: fmt.Sprint(i), Priority: ticket.Normal})
	}
	waitFor(t, r, last.Position)
	if n := p.batches.Load() - before; n != 1 {
		t.Errorf("5 events appended one by one while it lingered were folded in %d batches, want 1", n)
	}
}

// gatedLingering lingers like lingering, holds its first fold until gate
// closes, and records the size of every fold.
type gatedLingering struct {
	lingering
	gate  chan struct{}
	mu    sync.Mutex
	sizes []int
}

func (l *gatedLingering) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	l.mu.Lock()
	first := len(l.sizes) == 0
	l.sizes = append(l.sizes, len(evs))
	l.mu.Unlock()
	if first {
		<-l.gate
	}
	return l.Projector.Fold(ctx, rs, evs)
}

// TestLingererAppliesInChunks: a lingering projection's large batch is
// written in chunks of at most LingerChunk events, each with its
// checkpoint, and the chunks add up to the whole batch.
func TestLingererAppliesInChunks(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	p := &gatedLingering{lingering: lingering{Projector: projections.TicketsProjector()}, gate: make(chan struct{})}
	r, stop := runProjectors(t, s, 0, p)
	defer stop()

	// The first fold is held (and the projection lingers): the events
	// arrive meanwhile and come as large batches.
	first := appendTicket(t, s.es, uuid.NewString(), eventstore.NoStream, &ticket.Opened{TicketID: "first", CompanyID: "c1", Title: "first", Priority: ticket.Normal})
	n := 2*projections.LingerChunk + 10
	var last eventstore.AppendResult
	for i := range n {
		id := fmt.Sprintf("01a22b3c-0000-7000-8000-%012d", i)
		last = appendTicket(t, s.es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: fmt.Sprint(i), Priority: ticket.Normal})
	}
	close(p.gate)
	waitFor(t, r, last.Position)
	if cp, err := s.rs.Checkpoint(context.Background(), projections.Tickets); err != nil || cp != last.Position.Key() {
		t.Fatalf("checkpoint %q (%v), want %q", cp, err, last.Position.Key())
	}
	p.mu.Lock()
	sizes := slices.Clone(p.sizes)
	p.mu.Unlock()
	total := 0
	for _, size := range sizes {
		if size > projections.LingerChunk {
			t.Errorf("a fold of %d events; want at most %d (folds %v)", size, projections.LingerChunk, sizes)
		}
		total += size
	}
	if total != n+1 || len(sizes) < 3 {
		t.Errorf("folds %v: %d events, want %d in at least 3 chunks", sizes, total, n+1)
	}
	waitFor(t, r, first.Position)
	for _, i := range []int{0, n - 1} {
		id := fmt.Sprintf("01a22b3c-0000-7000-8000-%012d", i)
		if got := getTicket(t, s.rs, id); got.Title != fmt.Sprint(i) {
			t.Errorf("ticket %d: title %q", i, got.Title)
		}
	}
}

// ignoring wraps a projector and folds none of the events of one type,
// as a projection does with events it reads but has nothing to write for.
type ignoring struct {
	projections.Projector
	eventType string
}

func (g ignoring) Fold(ctx context.Context, rs readstore.Store, evs []eventstore.RecordedEvent) ([]readstore.Write, error) {
	kept := slices.DeleteFunc(slices.Clone(evs), func(ev eventstore.RecordedEvent) bool { return ev.Type == g.eventType })
	if len(kept) == 0 {
		return nil, nil
	}
	return g.Projector.Fold(ctx, rs, kept)
}

// A batch that writes nothing stores its checkpoint only now and then; a
// stop stores where the projection stands, so that the stored state (what
// the status shows with the server stopped) is not behind.
func TestStopStoresTheCheckpoint(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	id := uuid.NewString()
	opened := appendTicket(t, s.es, id, eventstore.NoStream, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"})
	r, stop := startRunner(t, s, ignoring{Projector: projections.TicketsProjector(), eventType: ticket.TypeCommented})
	waitFor(t, r, opened.Position)
	var last eventstore.AppendResult
	for i := range 3 {
		last = appendTicket(t, s.es, id, eventstore.Exact(uint64(i)), &ticket.Commented{CommentID: uuid.NewString(), AuthorID: "u1", Body: "quiet"})
	}
	waitFor(t, r, last.Position)
	if cp, err := s.rs.Checkpoint(context.Background(), projections.Tickets); err != nil || cp != opened.Position.Key() {
		t.Fatalf("checkpoint while running = %q, %v; want the last batch that wrote, %q", cp, err, opened.Position.Key())
	}
	stop()
	if cp, err := s.rs.Checkpoint(context.Background(), projections.Tickets); err != nil || cp != last.Position.Key() {
		t.Fatalf("checkpoint after the stop = %q, %v; want %q", cp, err, last.Position.Key())
	}
}
