package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"agentdesk/eventstore"
)

// The linearizability check runs concurrent clients that append (with an
// exact expected revision, "no stream" or "any") and read whole streams,
// closes and reopens the store under them halfway through, and asks
// porcupine for an order of the operations, consistent with their real-time
// order, in which each result is the one a single in-memory log would give.
// Unlike the hand-picked races of the other subtests, it catches any read
// that misses an acknowledged append, any append accepted against a
// revision the stream had already left, and any write lost or duplicated
// across the reopen.

const (
	// linClients and linOpsPerClient make a few hundred operations: enough
	// for conflicts on every stream, and checked in milliseconds.
	linClients      = 16
	linOpsPerClient = 20
	// linStreams is small so that clients collide often.
	linStreams = 3
	// linMaxDelay spreads the clients' operations so they interleave in
	// more ways than a tight loop (where the fastest client dominates).
	linMaxDelay = 2 * time.Millisecond
	// linTimeout bounds the run against a hang. It is looser than
	// acceptanceTimeout: the run takes under a second on an idle machine
	// but five on a loaded one, and slowness is not what it checks.
	linTimeout = time.Minute
	// linCheckTimeout bounds porcupine, whose search is exponential at
	// worst; a history it cannot decide in time fails the test.
	linCheckTimeout = 10 * time.Second
)

// linInput is one operation of the history: an append of events, named by
// labels, with an expected revision, or a read of a whole stream.
type linInput struct {
	stream   int
	read     bool
	expected eventstore.ExpectedRevision
	// labels are the appended events' labels, each followed by a space,
	// so that a stream's labels are the concatenation of its appends'.
	labels string
	count  int
}

// linOutput is what an operation returned.
type linOutput struct {
	// unknown marks an append that failed while the store was closing:
	// it may or may not have taken effect. Its return is put at the end
	// of the history, so porcupine may place it anywhere after its call,
	// including after everything (never applied).
	unknown       bool
	wrongRevision bool
	// revision is the NextRevision of an append that succeeded.
	revision uint64
	// labels is what a read returned, in the form of linInput.labels.
	labels string
}

// linState is the sequential model of one stream: the labels of its
// events in revision order, and how many there are. It is comparable, so
// porcupine's default equality applies.
type linState struct {
	labels string
	count  int
}

// linModel is the event store as one sequential log per stream. Streams
// are independent, so the history is checked stream by stream.
var linModel = porcupine.Model{
	Partition: partitionByStream,
	Init:      func() any { return linState{} },
	Step:      linStep,
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(state.(linState).labels))
		return h.Sum64()
	},
	DescribeOperation: describeLinOperation,
	DescribeState: func(state any) string {
		return "[" + strings.TrimSpace(state.(linState).labels) + "]"
	},
}

// linStep is the contract of Append and ReadStream on one stream.
func linStep(state, input, output any) (bool, any) {
	st, in, out := state.(linState), input.(linInput), output.(linOutput)
	if in.read {
		return out.labels == st.labels, st
	}
	// Spelled out rather than taken from ExpectedRevision.Matches, which
	// the stores use: a bug there must not be in the model too.
	var matches bool
	if r, exact := in.expected.Revision(); exact {
		matches = st.count > 0 && r == uint64(st.count-1)
	} else {
		matches = in.expected.IsAny() || st.count == 0
	}
	next := st
	if matches {
		next = linState{labels: st.labels + in.labels, count: st.count + in.count}
	}
	switch {
	case out.unknown:
		return true, next
	case out.wrongRevision:
		return !matches, st
	default:
		return matches && out.revision == uint64(next.count-1), next
	}
}

func partitionByStream(history []porcupine.Operation) [][]porcupine.Operation {
	byStream := make(map[int][]porcupine.Operation)
	for _, op := range history {
		s := op.Input.(linInput).stream
		byStream[s] = append(byStream[s], op)
	}
	var parts [][]porcupine.Operation
	for _, s := range slices.Sorted(maps.Keys(byStream)) {
		parts = append(parts, byStream[s])
	}
	return parts
}

func describeLinOperation(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	if in.read {
		return fmt.Sprintf("read() → [%s]", strings.TrimSpace(out.labels))
	}
	result := fmt.Sprintf("revision %d", out.revision)
	switch {
	case out.unknown:
		result = "unknown"
	case out.wrongRevision:
		result = "wrong expected revision"
	}
	return fmt.Sprintf("append([%s], %s) → %s", strings.TrimSpace(in.labels), in.expected, result)
}

// liveStore hands clients the store of the moment and holds them back
// while it is being reopened, so that only the operations already in
// flight meet the close.
type liveStore struct {
	mu      sync.Mutex
	store   eventstore.Store
	gen     int
	closing bool
	resumed chan struct{} // closed when the reopened store is published
}

// acquire returns the current store and its generation, waiting out a
// reopen.
func (l *liveStore) acquire(ctx context.Context) (eventstore.Store, int, error) {
	for {
		l.mu.Lock()
		store, gen, closing, resumed := l.store, l.gen, l.closing, l.resumed
		l.mu.Unlock()
		if !closing {
			return store, gen, nil
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// disturbed reports whether an operation begun on generation gen may have
// met the store closing, which excuses its failure.
func (l *liveStore) disturbed(gen int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing || gen != l.gen
}

func (l *liveStore) beginClose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	l.resumed = make(chan struct{})
}

func (l *liveStore) publish(store eventstore.Store) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.store = store
	l.gen++
	l.closing = false
	close(l.resumed)
}

// linAck is an acknowledged append: its events must be in the stream,
// ending at revision next.
type linAck struct {
	stream int
	ids    []string
	next   uint64
}

// linRecorder collects the history. Times are nanoseconds on the monotonic
// clock since start.
type linRecorder struct {
	start   time.Time
	streams []string
	// half is closed when half of the clients' operations are recorded.
	half     chan struct{}
	halfWay  int
	mu       sync.Mutex
	ops      []porcupine.Operation
	unknown  []int             // indexes in ops of appends of unknown outcome
	labels   map[string]string // event id → label
	acked    []linAck
	appended int
}

func (r *linRecorder) now() int64 { return time.Since(r.start).Nanoseconds() }

func (r *linRecorder) add(op porcupine.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op.Output.(linOutput).unknown {
		r.unknown = append(r.unknown, len(r.ops))
	}
	r.ops = append(r.ops, op)
	if len(r.ops) == r.halfWay {
		close(r.half)
	}
}

// label names new events for the history, shorter than their ids.
func (r *linRecorder) label(events []eventstore.EventData) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ev := range events {
		r.appended++
		l := fmt.Sprintf("e%d", r.appended)
		r.labels[ev.ID] = l
		b.WriteString(l + " ")
	}
	return b.String()
}

// labelsOf describes what a read of stream s returned, and checks that
// the events are of that stream at revisions 0, 1, 2, ….
func (r *linRecorder) labelsOf(tb testing.TB, s int, events []eventstore.RecordedEvent) string {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, ev := range events {
		if ev.StreamID != r.streams[s] || ev.Revision != uint64(i) {
			tb.Errorf("read of %s: event %d is %s at revision %d of %s", r.streams[s], i, ev.ID, ev.Revision, ev.StreamID)
		}
		l, ok := r.labels[ev.ID]
		if !ok {
			l = "?" + ev.ID // never appended by the check: no model state has it
		}
		b.WriteString(l + " ")
	}
	return b.String()
}

func (r *linRecorder) ack(s int, events []eventstore.EventData, next uint64) {
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked = append(r.acked, linAck{stream: s, ids: ids, next: next})
}

func (r *linRecorder) acknowledged() []linAck {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.acked)
}

// read reads stream s whole and records the read; a failed read changes
// nothing, so it is left out of the history.
func (r *linRecorder) read(ctx context.Context, tb testing.TB, store eventstore.Store, client, s int) ([]eventstore.RecordedEvent, error) {
	tb.Helper()
	call := r.now()
	events, err := store.ReadStream(ctx, r.streams[s], 0, 0)
	ret := r.now()
	if err != nil {
		return nil, err
	}
	r.add(porcupine.Operation{
		ClientId: client,
		Input:    linInput{stream: s, read: true},
		Call:     call,
		Output:   linOutput{labels: r.labelsOf(tb, s, events)},
		Return:   ret,
	})
	return events, nil
}

// history returns the operations recorded, the appends of unknown outcome
// returning after everything else.
func (r *linRecorder) history() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.now()
	for _, i := range r.unknown {
		r.ops[i].Return = end
	}
	return slices.Clone(r.ops)
}

func testLinearizability(t *testing.T, open OpenFunc) {
	ctx, cancel := context.WithTimeout(t.Context(), linTimeout)
	defer cancel()
	store, reopen := open(t)
	company := uuid.NewString()
	rec := &linRecorder{
		start:   time.Now(),
		half:    make(chan struct{}),
		halfWay: linClients * linOpsPerClient / 2,
		labels:  make(map[string]string),
	}
	for range linStreams {
		rec.streams = append(rec.streams, newStream("lin"))
	}
	live := &liveStore{store: store}

	var wg sync.WaitGroup
	for c := range linClients {
		wg.Go(func() { runLinClient(ctx, t, live, rec, c, company) })
	}
	clientsDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(clientsDone)
	}()
	// A failure below must not leave clients running: they log to t.
	defer func() {
		cancel()
		<-clientsDone
	}()

	select {
	case <-rec.half:
	case <-clientsDone:
		t.Fatal("the clients ended before half of their operations")
	}
	// Operations in flight meet the close; the clients' next ones wait
	// for the reopened store.
	live.beginClose()
	reopenStart := time.Now()
	reopened := reopen()
	t.Logf("reopened in %s", time.Since(reopenStart).Round(time.Millisecond))
	assertAcked(ctx, t, reopened, rec, "after the reopen")
	live.publish(reopened)
	<-clientsDone
	if ctx.Err() != nil {
		t.Fatalf("the clients ran out of time: %v", ctx.Err())
	}

	// Final reads, in the history too: they pin down which appends of
	// unknown outcome took effect.
	for s := range linStreams {
		if _, err := rec.read(ctx, t, reopened, linClients, s); err != nil {
			t.Fatalf("final read of %s: %v", rec.streams[s], err)
		}
	}
	assertAcked(ctx, t, reopened, rec, "at the end")

	history := rec.history()
	var reads, acked, wrong, unknown int
	for _, op := range history {
		switch out := op.Output.(linOutput); {
		case op.Input.(linInput).read:
			reads++
		case out.unknown:
			unknown++
		case out.wrongRevision:
			wrong++
		default:
			acked++
		}
	}
	t.Logf("%d operations: %d reads, %d appends acknowledged, %d refused (wrong expected revision), %d of unknown outcome (met the close)",
		len(history), reads, acked, wrong, unknown)
	if acked == 0 || wrong == 0 {
		t.Fatal("no append succeeded or none was refused: the check proved little")
	}
	checkStart := time.Now()
	result, info := porcupine.CheckOperationsVerbose(linModel, history, linCheckTimeout)
	t.Logf("porcupine: %s in %s", result, time.Since(checkStart).Round(time.Millisecond))
	switch result {
	case porcupine.Ok:
	case porcupine.Illegal:
		path := filepath.Join(t.ArtifactDir(), "linearizability.html")
		if err := porcupine.VisualizePath(linModel, info, path); err != nil {
			t.Logf("visualization: %v", err)
		} else {
			t.Logf("visualization of the history: %s (kept with go test -artifacts)", path)
		}
		t.Fatalf("the history of %d operations is not linearizable", len(history))
	default:
		t.Fatalf("porcupine could not decide within %s: %s", linCheckTimeout, result)
	}
}

// runLinClient is one client: about linOpsPerClient reads and appends on
// random streams, after random pauses. Like a command handler, it reads a
// stream before appending to it when what it knew is stale, with no pause
// between the two, so that many exact appends can win.
func runLinClient(ctx context.Context, t *testing.T, live *liveStore, rec *linRecorder, client int, company string) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(client)))
	// known is the last revision this client saw of each stream (-1:
	// none); stale marks a stream to read before the next append.
	known := make([]int64, linStreams)
	for i := range known {
		known[i] = -1
	}
	stale := make([]bool, linStreams)
	read := func(store eventstore.Store, gen, s int) bool {
		events, err := rec.read(ctx, t, store, client, s)
		if err != nil {
			if ctx.Err() == nil && !live.disturbed(gen) {
				t.Errorf("read of %s: %v", rec.streams[s], err)
			}
			return false
		}
		known[s], stale[s] = int64(len(events))-1, false
		return true
	}
	for ops := 0; ops < linOpsPerClient; ops++ {
		pause := time.NewTimer(time.Duration(rng.Int64N(int64(linMaxDelay))))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			return
		}
		store, gen, err := live.acquire(ctx)
		if err != nil {
			return
		}
		s := rng.IntN(linStreams)
		if rng.IntN(10) < 2 {
			read(store, gen, s)
			continue
		}
		if stale[s] {
			if !read(store, gen, s) {
				continue
			}
			ops++
		}

		expected := linExpected(rng, known[s])
		events := newEvents(1+rng.IntN(2), "lin.appended", company)
		in := linInput{stream: s, expected: expected, labels: rec.label(events), count: len(events)}
		call := rec.now()
		res, err := store.Append(ctx, rec.streams[s], expected, events)
		op := porcupine.Operation{ClientId: client, Input: in, Call: call, Return: rec.now()}
		switch {
		case err == nil:
			op.Output = linOutput{revision: res.NextRevision}
			rec.ack(s, events, res.NextRevision)
			known[s] = int64(res.NextRevision)
		case errors.Is(err, eventstore.ErrWrongExpectedRevision):
			op.Output = linOutput{wrongRevision: true}
			stale[s] = true
		default:
			if ctx.Err() != nil {
				return
			}
			if !live.disturbed(gen) {
				t.Errorf("append to %s (expected %s): %v", rec.streams[s], expected, err)
			}
			op.Output = linOutput{unknown: true}
			stale[s] = true
		}
		rec.add(op)
	}
}

// linExpected picks an expected revision: mostly the last one the client
// saw (which others may have moved past), sometimes "no stream", "any" or
// an older revision.
func linExpected(rng *rand.Rand, known int64) eventstore.ExpectedRevision {
	switch n := rng.IntN(10); {
	case n < 6 && known >= 0:
		return eventstore.Exact(uint64(known))
	case n < 7:
		return eventstore.NoStream
	case n < 8:
		return eventstore.Exact(uint64(rng.Int64N(known + 2)))
	default:
		return eventstore.Any
	}
}

// assertAcked checks that every append acknowledged so far is in its
// stream, at the revisions it was given.
func assertAcked(ctx context.Context, t *testing.T, store eventstore.Store, rec *linRecorder, when string) {
	t.Helper()
	reads := make([][]eventstore.RecordedEvent, linStreams)
	for s := range reads {
		reads[s] = mustReadStream(ctx, t, store, rec.streams[s], 0, 0)
	}
	acked := rec.acknowledged()
	var missing []string
	for _, a := range acked {
		first := a.next + 1 - uint64(len(a.ids))
		for i, id := range a.ids {
			rev := first + uint64(i)
			if events := reads[a.stream]; rev >= uint64(len(events)) || events[rev].ID != id {
				missing = append(missing, fmt.Sprintf("%s at revision %d of %s (%d events)", id, rev, rec.streams[a.stream], len(events)))
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d events of %d acknowledged appends are missing or moved, among them:\n%s",
			when, len(missing), len(acked), strings.Join(missing[:min(len(missing), 5)], "\n"))
	}
}
