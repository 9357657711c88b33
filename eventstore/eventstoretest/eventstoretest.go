// Package eventstoretest is the acceptance suite of the eventstore.Store
// contract: every implementation (the embedded SQLite store, the
// EventStoreDB adapter) runs it from its own tests. It lives apart from
// eventstore so that the server binary never links package testing.
package eventstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/eventstore"
)

// OpenFunc opens an eventstore.Store for Run. It returns the store and a
// reopen function that closes that store and opens the same data again, as
// a process restart would, returning the new store.
//
// The opener owns cleanup: it must close whatever it opened when t ends
// (t.Cleanup), and Close must tolerate being called again, because the
// suite closes some stores itself. The suite calls reopen from the test's
// goroutine, sometimes while other goroutines still have calls in flight
// on the old store: those may fail, and count as of unknown outcome.
type OpenFunc func(t *testing.T) (store eventstore.Store, reopen func() eventstore.Store)

// acceptanceTimeout bounds every wait of the suite, so a lost event or a
// Next that never returns fails the test instead of hanging it.
const acceptanceTimeout = 10 * time.Second

// Run runs the behaviour every eventstore.Store must have, one subtest per
// property. Each subtest opens its own store with open, and uses fresh
// random stream ids, categories, types and company ids, and positions
// relative to the head it finds, so the suite also passes against a store
// that already holds other data (a shared server).
//
// Positions are only required to increase strictly; contiguity is a
// property of particular stores, tested by them. Global uniqueness of event
// ids across streams is also not required (EventStoreDB does not enforce
// it); stores that give it test it themselves.
//
// When ctx given to Subscribe ends, the suite accepts Next returning either
// ctx's error or eventstore.ErrClosed.
//
// The Linearizability subtest checks appends and stream reads by 16
// concurrent clients, across a reopen, against a sequential model of the
// log (see linearizability.go).
func Run(t *testing.T, open OpenFunc) {
	t.Run("AppendAssignsRevisionsAndPositions", func(t *testing.T) { testAppendOrdering(t, open) })
	t.Run("ExpectedRevision", func(t *testing.T) { testExpectedRevision(t, open) })
	t.Run("ConcurrentAppendsAtSameRevision", func(t *testing.T) { testConcurrentSameRevision(t, open) })
	t.Run("IdempotentRetry", func(t *testing.T) { testIdempotentRetry(t, open) })
	t.Run("InvalidEvents", func(t *testing.T) { testInvalidEvents(t, open) })
	t.Run("ReadStream", func(t *testing.T) { testReadStream(t, open) })
	t.Run("ReadStreamBackward", func(t *testing.T) { testReadStreamBackward(t, open) })
	t.Run("SubscribeAll", func(t *testing.T) { testSubscribeAll(t, open) })
	t.Run("SubscribeFilters", func(t *testing.T) { testSubscribeFilters(t, open) })
	t.Run("CaughtUp", func(t *testing.T) { testCaughtUp(t, open) })
	t.Run("CheckpointPassesFilteredEvents", func(t *testing.T) { testCheckpointAdvances(t, open) })
	t.Run("Head", func(t *testing.T) { testHead(t, open) })
	t.Run("SubscribeCatchUpThenLive", func(t *testing.T) { testSubscribeCatchUpThenLive(t, open) })
	t.Run("SubscribeFiltered", func(t *testing.T) { testSubscribeFiltered(t, open) })
	t.Run("SubscriptionContextCancel", func(t *testing.T) { testSubscriptionContextCancel(t, open) })
	t.Run("SubscriptionClose", func(t *testing.T) { testSubscriptionClose(t, open) })
	t.Run("StoreClose", func(t *testing.T) { testStoreClose(t, open) })
	t.Run("LargeEvent", func(t *testing.T) { testLargeEvent(t, open) })
	t.Run("ReopenKeepsEverything", func(t *testing.T) { testReopen(t, open) })
	t.Run("Linearizability", func(t *testing.T) { testLinearizability(t, open) })
	t.Run("HashChain", func(t *testing.T) { testHashChain(t, open) })
}

func testAppendOrdering(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("order")
	first := []eventstore.EventData{newEvent("acc.created", company), newEvent("acc.renamed", company), newEvent("acc.renamed", company)}
	second := []eventstore.EventData{newEvent("acc.renamed", company), newEvent("acc.closed", company)}

	r1 := mustAppend(ctx, t, store, stream, eventstore.NoStream, first...)
	if r1.NextRevision != 2 {
		t.Fatalf("first append: NextRevision = %d, want 2", r1.NextRevision)
	}
	r2 := mustAppend(ctx, t, store, stream, eventstore.Exact(r1.NextRevision), second...)
	if r2.NextRevision != 4 {
		t.Fatalf("second append: NextRevision = %d, want 4", r2.NextRevision)
	}
	if r2.Position.Compare(r1.Position) <= 0 {
		t.Fatalf("second append: Position = %s, want > first append's %s", r2.Position, r1.Position)
	}

	got := mustReadStream(ctx, t, store, stream, 0, 0)
	want := append(append([]eventstore.EventData{}, first...), second...)
	assertEvents(t, got, stream, 0, want)
	for _, ev := range got {
		if !ev.Position.IsZero() {
			t.Fatalf("stream read reported position %s for %s; stream reads carry no global position", ev.Position, ev.ID)
		}
	}

	all := readAll(ctx, t, store, eventstore.Start, eventstore.Filter{CompanyID: company}, 0)
	assertEvents(t, all, stream, 0, want)
	assertIncreasingPositions(t, all)
	if all[2].Position != r1.Position || all[4].Position != r2.Position {
		t.Fatalf("positions of last events = %s, %s; want the appends' results %s, %s",
			all[2].Position, all[4].Position, r1.Position, r2.Position)
	}
	for _, ev := range all {
		back, err := eventstore.ParseKey(ev.Position.Key())
		if err != nil || back != ev.Position {
			t.Fatalf("position %s: key %q parses as %s, %v", ev.Position, ev.Position.Key(), back, err)
		}
	}
}

func testExpectedRevision(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("expect")

	steps := []struct {
		name     string
		expected eventstore.ExpectedRevision
		wantRev  uint64
		wantErr  error
	}{
		{"exact on a missing stream", eventstore.Exact(0), 0, eventstore.ErrWrongExpectedRevision},
		{"no stream on a missing stream", eventstore.NoStream, 0, nil},
		{"no stream on an existing stream", eventstore.NoStream, 0, eventstore.ErrWrongExpectedRevision},
		{"exact at the last revision", eventstore.Exact(0), 1, nil},
		{"exact behind", eventstore.Exact(0), 0, eventstore.ErrWrongExpectedRevision},
		{"exact ahead", eventstore.Exact(7), 0, eventstore.ErrWrongExpectedRevision},
		{"any on an existing stream", eventstore.Any, 2, nil},
		{"exact after any", eventstore.Exact(2), 3, nil},
	}
	stored := 0
	for _, step := range steps {
		res, err := store.Append(ctx, stream, step.expected, []eventstore.EventData{newEvent("acc.happened", company)})
		if step.wantErr != nil {
			if !errors.Is(err, step.wantErr) {
				t.Fatalf("%s (%s): err = %v, want %v", step.name, step.expected, err, step.wantErr)
			}
		} else {
			if err != nil {
				t.Fatalf("%s (%s): %v", step.name, step.expected, err)
			}
			stored++
			if res.NextRevision != step.wantRev {
				t.Fatalf("%s (%s): NextRevision = %d, want %d", step.name, step.expected, res.NextRevision, step.wantRev)
			}
		}
		if n := len(mustReadStream(ctx, t, store, stream, 0, 0)); n != stored {
			t.Fatalf("after %s: stream has %d events, want %d", step.name, n, stored)
		}
	}

	res := mustAppend(ctx, t, store, newStream("expect"), eventstore.Any, newEvent("acc.happened", company))
	if res.NextRevision != 0 {
		t.Fatalf("any on a missing stream: NextRevision = %d, want 0", res.NextRevision)
	}
}

func testConcurrentSameRevision(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("race")
	mustAppend(ctx, t, store, stream, eventstore.NoStream, newEvent("acc.created", company))

	const writers = 50
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = store.Append(ctx, stream, eventstore.Exact(0), []eventstore.EventData{newEvent("acc.raced", company)})
		}()
	}
	close(start)
	wg.Wait()

	won, lost := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, eventstore.ErrWrongExpectedRevision):
			lost++
		default:
			t.Errorf("writer %d: unexpected error %v", i, err)
		}
	}
	if won != 1 || lost != writers-1 {
		t.Fatalf("got %d winners and %d ErrWrongExpectedRevision, want 1 and %d", won, lost, writers-1)
	}
	if n := len(mustReadStream(ctx, t, store, stream, 0, 0)); n != 2 {
		t.Fatalf("stream has %d events, want 2 (the first and the one winner)", n)
	}
}

func testIdempotentRetry(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("retry")
	a, b := newEvent("acc.created", company), newEvent("acc.renamed", company)

	original := mustAppend(ctx, t, store, stream, eventstore.NoStream, a, b)
	mustAppend(ctx, t, store, stream, eventstore.Exact(original.NextRevision), newEvent("acc.renamed", company))

	// A retry may arrive after the stream moved on: it succeeds, appends
	// nothing and tells where the events landed (a store that cannot tell
	// the position leaves it zero).
	for _, expected := range []eventstore.ExpectedRevision{eventstore.NoStream, eventstore.Any} {
		got, err := store.Append(ctx, stream, expected, []eventstore.EventData{a, b})
		if err != nil {
			t.Fatalf("retry with %s after the stream moved on: %v", expected, err)
		}
		if got.NextRevision != original.NextRevision || (!got.Position.IsZero() && got.Position != original.Position) {
			t.Fatalf("retry with %s: result %+v, want the original %+v", expected, got, original)
		}
	}
	assertStreamLen(ctx, t, store, stream, 3)

	// A retry of an append made with an exact revision.
	c := newEvent("acc.renamed", company)
	third := mustAppend(ctx, t, store, stream, eventstore.Exact(2), c)
	got, err := store.Append(ctx, stream, eventstore.Exact(2), []eventstore.EventData{c})
	if err != nil || got.NextRevision != third.NextRevision {
		t.Fatalf("retry with revision 2: got %+v, %v; want revision %d", got, err, third.NextRevision)
	}
	assertStreamLen(ctx, t, store, stream, 4)
}

func testInvalidEvents(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	valid := func(edit func(*eventstore.EventData)) []eventstore.EventData {
		ev := newEvent("acc.happened", company)
		edit(&ev)
		return []eventstore.EventData{ev}
	}
	cases := []struct {
		name   string
		events []eventstore.EventData
	}{
		{"no events", nil},
		{"empty id", valid(func(e *eventstore.EventData) { e.ID = "" })},
		{"id not a uuid", valid(func(e *eventstore.EventData) { e.ID = "order-42" })},
		{"empty type", valid(func(e *eventstore.EventData) { e.Type = "" })},
		{"data not json", valid(func(e *eventstore.EventData) { e.Data = []byte(`{"broken":`) })},
		{"no data", valid(func(e *eventstore.EventData) { e.Data = nil })},
		{"negative schema version", valid(func(e *eventstore.EventData) { e.SchemaVersion = -1 })},
		{"one bad event among good ones", append(valid(func(*eventstore.EventData) {}), valid(func(e *eventstore.EventData) { e.Type = "" })...)},
	}
	for _, c := range cases {
		stream := newStream("invalid")
		if _, err := store.Append(ctx, stream, eventstore.Any, c.events); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", c.name, err)
		}
		assertStreamLen(ctx, t, store, stream, 0)
	}

	stream := newStream("invalid")
	mustAppend(ctx, t, store, stream, eventstore.NoStream, valid(func(e *eventstore.EventData) { e.SchemaVersion = 0 })...)
	got := mustReadStream(ctx, t, store, stream, 0, 0)
	if len(got) != 1 || got[0].SchemaVersion != 1 {
		t.Fatalf("schema version 0 stored as %+v, want one event with schema version 1", got)
	}
}

func testReadStream(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("read")
	events := newEvents(10, "acc.happened", company)
	mustAppend(ctx, t, store, stream, eventstore.NoStream, events...)

	cases := []struct {
		name        string
		from        uint64
		limit       int
		wantFrom    int
		wantEntries int
	}{
		{"everything", 0, 0, 0, 10},
		{"from a revision", 4, 0, 4, 6},
		{"from a revision with a limit", 4, 3, 4, 3},
		{"limit beyond the end", 8, 5, 8, 2},
		{"from the last revision", 9, 0, 9, 1},
		{"past the end", 10, 0, 10, 0},
	}
	for _, c := range cases {
		got := mustReadStream(ctx, t, store, stream, c.from, c.limit)
		if len(got) != c.wantEntries {
			t.Fatalf("%s: got %d events, want %d", c.name, len(got), c.wantEntries)
		}
		assertEvents(t, got, stream, uint64(c.wantFrom), events[c.wantFrom:c.wantFrom+c.wantEntries])
	}
	if got := mustReadStream(ctx, t, store, newStream("read"), 0, 0); len(got) != 0 {
		t.Fatalf("missing stream: got %d events, want none", len(got))
	}
}

func testReadStreamBackward(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("back")
	events := newEvents(10, "acc.happened", company)
	mustAppend(ctx, t, store, stream, eventstore.NoStream, events...)

	cases := []struct {
		name     string
		from     uint64
		limit    int
		wantRevs []uint64
	}{
		{"from the end", eventstore.End, 0, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"from the end with a limit", eventstore.End, 3, []uint64{9, 8, 7}},
		{"from a revision with a limit", 5, 2, []uint64{5, 4}},
		{"from a revision", 2, 0, []uint64{2, 1, 0}},
		{"from the first revision", 0, 10, []uint64{0}},
	}
	for _, c := range cases {
		got, err := store.ReadStreamBackward(ctx, stream, c.from, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.wantRevs) {
			t.Fatalf("%s: got %d events, want %d", c.name, len(got), len(c.wantRevs))
		}
		for i, ev := range got {
			assertEvent(t, ev, stream, c.wantRevs[i], events[c.wantRevs[i]])
		}
	}
	got, err := store.ReadStreamBackward(ctx, newStream("back"), eventstore.End, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing stream: got %d events, err %v; want none, nil", len(got), err)
	}
}

func testSubscribeAll(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	before := mustHead(ctx, t, store)

	// Interleave three streams so that position order differs from
	// stream order.
	streams := []string{newStream("all"), newStream("all"), newStream("all")}
	var want []eventstore.EventData
	for i := range 6 {
		ev := newEvent("acc.happened", company)
		mustAppend(ctx, t, store, streams[i%3], eventstore.Any, ev)
		want = append(want, ev)
	}
	filter := eventstore.Filter{CompanyID: company}

	all := readAll(ctx, t, store, before, filter, 2)
	if len(all) != len(want) {
		t.Fatalf("subscription after head %s: got %d events, want %d", before, len(all), len(want))
	}
	for i, ev := range all {
		assertEvent(t, ev, streams[i%3], uint64(i/3), want[i])
	}
	assertIncreasingPositions(t, all)

	assertSamePositions(t, readAll(ctx, t, store, all[1].Position, filter, 0), all[2:])
	if rest := readAll(ctx, t, store, all[5].Position, filter, 0); len(rest) != 0 {
		t.Fatalf("subscription after the last event: got %d events, want none", len(rest))
	}

	// Unfiltered: other data may share the store, so only our events are
	// compared, but the order is checked on all.
	var ours []eventstore.RecordedEvent
	unfiltered := readAll(ctx, t, store, before, eventstore.Filter{}, 3)
	if len(unfiltered) == 0 || unfiltered[0].Position.Compare(before) <= 0 {
		t.Fatalf("unfiltered subscription after %s delivered %d events, the first not after it", before, len(unfiltered))
	}
	assertIncreasingPositions(t, unfiltered)
	for _, ev := range unfiltered {
		if ev.Metadata.CompanyID == company {
			ours = append(ours, ev)
		}
	}
	assertSamePositions(t, ours, all)
}

func testSubscribeFilters(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	companyA, companyB := uuid.NewString(), uuid.NewString()
	catX, catY := newCategory(), newCategory()
	typeP, typeQ := newType(), newType()

	var appended []eventstore.RecordedEvent // what each event should look like, in append order
	for _, company := range []string{companyA, companyB} {
		for _, cat := range []string{catX, catY} {
			stream := newStream(cat)
			for _, typ := range []string{typeP, typeQ, typeP} {
				ev := newEvent(typ, company)
				res := mustAppend(ctx, t, store, stream, eventstore.Any, ev)
				appended = append(appended, eventstore.RecordedEvent{ID: ev.ID, StreamID: stream, Type: typ, Position: res.Position, Metadata: ev.Metadata})
			}
		}
	}

	filters := []struct {
		name   string
		filter eventstore.Filter
	}{
		{"company", eventstore.Filter{CompanyID: companyA}},
		{"category", eventstore.Filter{Categories: []string{catX}}},
		{"categories", eventstore.Filter{CompanyID: companyB, Categories: []string{catX, catY}}},
		{"type", eventstore.Filter{Types: []string{typeQ}}},
		{"company, category and type", eventstore.Filter{CompanyID: companyA, Categories: []string{catY}, Types: []string{typeP}}},
		{"types", eventstore.Filter{Categories: []string{catY}, Types: []string{typeP, typeQ}}},
		{"nothing matches", eventstore.Filter{CompanyID: companyA, Categories: []string{newCategory()}}},
	}
	for _, f := range filters {
		var want []eventstore.RecordedEvent
		for _, ev := range appended {
			if f.filter.Match(ev) {
				want = append(want, ev)
			}
		}
		got := readAll(ctx, t, store, eventstore.Start, f.filter, 0)
		// Filters on category or type alone may also match other data on
		// a shared store; keep only ours before comparing.
		var ours []eventstore.RecordedEvent
		for _, ev := range got {
			if !f.filter.Match(ev) {
				t.Fatalf("filter %s returned %s event %s of stream %s (company %s), which it does not match",
					f.name, ev.Type, ev.ID, ev.StreamID, ev.Metadata.CompanyID)
			}
			if ev.Metadata.CompanyID == companyA || ev.Metadata.CompanyID == companyB {
				ours = append(ours, ev)
			}
		}
		if len(ours) != len(want) {
			t.Fatalf("filter %s: got %d events, want %d", f.name, len(ours), len(want))
		}
		for i := range want {
			if ours[i].ID != want[i].ID || ours[i].Position != want[i].Position {
				t.Fatalf("filter %s: event %d is %s at %s, want %s at %s",
					f.name, i, ours[i].ID, ours[i].Position, want[i].ID, want[i].Position)
			}
		}
	}
}

func testHead(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	before := mustHead(ctx, t, store)
	res := mustAppend(ctx, t, store, newStream("head"), eventstore.NoStream, newEvents(3, "acc.happened", company)...)
	if res.Position.Compare(before) <= 0 {
		t.Fatalf("append landed at %s, want after the previous head %s", res.Position, before)
	}
	// >= rather than ==: on a shared store someone else may append too.
	if head := mustHead(ctx, t, store); head.Compare(res.Position) < 0 {
		t.Fatalf("Head = %s, want >= %s, the position of the last append", head, res.Position)
	}
}

// testCaughtUp checks that a subscription says it has caught up only once
// it has delivered what was stored when it started, and then keeps saying so.
func testCaughtUp(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	filter := eventstore.Filter{CompanyID: company}
	before := mustHead(ctx, t, store)
	const stored = 20
	for range stored {
		mustAppend(ctx, t, store, newStream("caught"), eventstore.NoStream, newEvent("acc.happened", company))
	}
	sub, err := store.Subscribe(ctx, before, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	delivered := 0
	for {
		b, err := nextWithin(ctx, t, sub, 3)
		if err != nil {
			t.Fatalf("after %d events: %v", delivered, err)
		}
		if len(b.Events) > 3 {
			t.Fatalf("Next(max 3) returned %d events", len(b.Events))
		}
		delivered += len(b.Events)
		if b.CaughtUp {
			if delivered < stored {
				t.Fatalf("caught up after %d of the %d stored events", delivered, stored)
			}
			break
		}
	}
	ev := newEvent("acc.happened", company)
	mustAppend(ctx, t, store, newStream("caught"), eventstore.NoStream, ev)
	for {
		b, err := nextWithin(ctx, t, sub, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !b.CaughtUp {
			t.Fatalf("a batch after catching up says it is not caught up")
		}
		if len(b.Events) > 0 {
			if b.Events[0].ID != ev.ID {
				t.Fatalf("live event %s, want %s", b.Events[0].ID, ev.ID)
			}
			break
		}
	}

	// A subscription with nothing to deliver catches up too.
	empty, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	for {
		b, err := nextWithin(ctx, t, empty, 0)
		if err != nil {
			t.Fatalf("empty subscription: %v", err)
		}
		if len(b.Events) > 0 {
			t.Fatalf("empty subscription delivered %d events", len(b.Events))
		}
		if b.CaughtUp {
			break
		}
	}
}

// testCheckpointAdvances checks that a subscription whose filter skips
// what is appended still reports checkpoints past it, so a subscriber can
// tell it has seen a position without an event of its own there.
func testCheckpointAdvances(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company, other := uuid.NewString(), uuid.NewString()
	sub, err := store.Subscribe(ctx, mustHead(ctx, t, store), eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	skipped := mustAppend(ctx, t, store, newStream("ckpt"), eventstore.NoStream, newEvent("acc.happened", other))
	for {
		b, err := nextWithin(ctx, t, sub, 0)
		if err != nil {
			t.Fatalf("waiting for a checkpoint past %s: %v", skipped.Position, err)
		}
		if len(b.Events) > 0 {
			t.Fatalf("filtered subscription delivered %d events of another company", len(b.Events))
		}
		if b.Checkpoint.Compare(skipped.Position) >= 0 {
			break
		}
	}
	// Resuming from a checkpoint misses nothing that follows.
	ev := newEvent("acc.happened", company)
	res := mustAppend(ctx, t, store, newStream("ckpt"), eventstore.NoStream, ev)
	got := collect(ctx, t, sub, 1)
	if got[0].ID != ev.ID || got[0].Position != res.Position {
		t.Fatalf("after the checkpoint: got %s at %s, want %s at %s", got[0].ID, got[0].Position, ev.ID, res.Position)
	}
	resumed, err := store.Subscribe(ctx, skipped.Position, eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if again := collect(ctx, t, resumed, 1); again[0].ID != ev.ID {
		t.Fatalf("resumed from the checkpoint: got %s, want %s", again[0].ID, ev.ID)
	}
}

func testSubscribeCatchUpThenLive(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	filter := eventstore.Filter{CompanyID: company}
	before := mustHead(ctx, t, store)

	// Stored before subscribing: delivered by catch-up.
	const stored = 30
	for i := range stored {
		mustAppend(ctx, t, store, newStream("sub"), eventstore.Any, newEvent(fmt.Sprintf("acc.stored%d", i%3), company))
	}
	sub, err := store.Subscribe(ctx, before, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Appended while the subscription catches up and then tails: the
	// handover between the two must lose and repeat nothing.
	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := newStream("sub")
			expected := eventstore.NoStream
			for i := 0; i < perWriter; {
				n := min(1+i%3, perWriter-i) // batches of 1, 2 and 3 events
				res, err := store.Append(ctx, stream, expected, newEvents(n, "acc.live", company))
				if err != nil {
					errs <- err
					return
				}
				expected = eventstore.Exact(res.NextRevision)
				i += n
			}
		}()
	}

	got := collect(ctx, t, sub, stored+writers*perWriter)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	assertIncreasingPositions(t, got)
	assertSamePositions(t, got, readAll(ctx, t, store, before, filter, 7))

	// A subscription from the middle starts right after that position.
	mid, err := store.Subscribe(ctx, got[9].Position, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	if rest := collect(ctx, t, mid, len(got)-10); rest[0].ID != got[10].ID {
		t.Fatalf("subscription after position %s starts with %s, want %s", got[9].Position, rest[0].ID, got[10].ID)
	}
}

func testSubscribeFiltered(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company, other := uuid.NewString(), uuid.NewString()
	catX, catY := newCategory(), newCategory()
	typeP, typeQ := newType(), newType()
	filter := eventstore.Filter{CompanyID: company, Categories: []string{catX}, Types: []string{typeP}}
	before := mustHead(ctx, t, store)

	appendMix := func() int {
		matching := 0
		for _, c := range []string{company, other} {
			for _, cat := range []string{catX, catY} {
				for _, typ := range []string{typeP, typeQ} {
					ev := newEvent(typ, c)
					mustAppend(ctx, t, store, newStream(cat), eventstore.NoStream, ev)
					if c == company && cat == catX && typ == typeP {
						matching++
					}
				}
			}
		}
		return matching
	}
	want := appendMix() // caught up
	sub, err := store.Subscribe(ctx, before, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := collect(ctx, t, sub, want)
	want += appendMix() // live
	got := append(first, collect(ctx, t, sub, want-len(first))...)

	for _, ev := range got {
		if !filter.Match(ev) {
			t.Fatalf("filtered subscription delivered %s of stream %s (company %s), which the filter does not match",
				ev.Type, ev.StreamID, ev.Metadata.CompanyID)
		}
	}
	assertIncreasingPositions(t, got)
	assertSamePositions(t, got, readAll(ctx, t, store, before, filter, 0))
}

func testSubscriptionContextCancel(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	head := mustHead(ctx, t, store)

	sub, err := store.Subscribe(ctx, head, eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Cancelling Next's context ends that call, not the subscription.
	nextCtx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(20*time.Millisecond, cancel)
	defer timer.Stop()
	for {
		b, err := nextWithin(nextCtx, t, sub, 0)
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil || len(b.Events) > 0 {
			t.Fatalf("Next after its context was cancelled: %d events, err = %v, want context.Canceled", len(b.Events), err)
		}
	}
	ev := newEvent("acc.happened", company)
	mustAppend(ctx, t, store, newStream("cancel"), eventstore.NoStream, ev)
	got := collect(ctx, t, sub, 1)
	if got[0].ID != ev.ID {
		t.Fatalf("Next after an earlier Next was cancelled: got %s, want the one appended", got[0].ID)
	}

	// Cancelling Subscribe's context ends the subscription.
	subCtx, cancelSub := context.WithCancel(ctx)
	sub2, err := store.Subscribe(subCtx, got[0].Position, eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	timer2 := time.AfterFunc(20*time.Millisecond, cancelSub)
	defer timer2.Stop()
	if err := nextError(ctx, t, sub2); !errors.Is(err, context.Canceled) && !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Next after Subscribe's context was cancelled: err = %v, want context.Canceled or ErrClosed", err)
	}
}

func testSubscriptionClose(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	sub, err := store.Subscribe(ctx, mustHead(ctx, t, store), eventstore.Filter{CompanyID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Millisecond, func() { _ = sub.Close() })
	defer timer.Stop()
	if err := nextError(ctx, t, sub); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("blocked Next when the subscription closed: err = %v, want ErrClosed", err)
	}
	if _, err := nextWithin(ctx, t, sub, 0); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Next after Close: err = %v, want ErrClosed", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func testStoreClose(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("closing")
	mustAppend(ctx, t, store, stream, eventstore.NoStream, newEvent("acc.happened", company))

	sub, err := store.Subscribe(ctx, mustHead(ctx, t, store), eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	timer := time.AfterFunc(20*time.Millisecond, func() { _ = store.Close() })
	defer timer.Stop()
	if err := nextError(ctx, t, sub); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("blocked Next when the store closed: err = %v, want ErrClosed", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := store.Append(ctx, stream, eventstore.Any, []eventstore.EventData{newEvent("acc.happened", company)}); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Append after Close: err = %v, want ErrClosed", err)
	}
	if _, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
}

func testLargeEvent(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("large")

	blob := make([]byte, 3<<18) // base64 turns 768 KiB into exactly 1 MiB
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	ev := newEvent("acc.uploaded", company)
	ev.Data = []byte(`{"blob":"` + base64.StdEncoding.EncodeToString(blob) + `"}`)
	if len(ev.Data) < 1<<20 {
		t.Fatalf("test data is %d bytes, want at least 1 MiB", len(ev.Data))
	}
	small := newEvent("acc.happened", company)
	mustAppend(ctx, t, store, stream, eventstore.NoStream, ev, small)

	got := mustReadStream(ctx, t, store, stream, 0, 0)
	assertEvents(t, got, stream, 0, []eventstore.EventData{ev, small})
	all := readAll(ctx, t, store, eventstore.Start, eventstore.Filter{CompanyID: company, Types: []string{"acc.uploaded"}}, 0)
	if len(all) != 1 || !bytes.Equal(all[0].Data, ev.Data) {
		t.Fatalf("a filtered subscription did not return the 1 MiB event byte for byte")
	}
	sub, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	delivered := collect(ctx, t, sub, 2)
	if !bytes.Equal(delivered[0].Data, ev.Data) {
		t.Fatalf("subscription did not deliver the 1 MiB event byte for byte")
	}
}

func testReopen(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, reopen := open(t)
	company := uuid.NewString()
	s1, s2 := newStream("reopen"), newStream("reopen")
	first := newEvents(3, "acc.happened", company)
	r1 := mustAppend(ctx, t, store, s1, eventstore.NoStream, first...)
	mustAppend(ctx, t, store, s2, eventstore.NoStream, newEvents(2, "acc.happened", company)...)
	wantS1 := mustReadStream(ctx, t, store, s1, 0, 0)
	wantS2 := mustReadStream(ctx, t, store, s2, 0, 0)
	wantAll := readAll(ctx, t, store, eventstore.Start, eventstore.Filter{CompanyID: company}, 0)
	wantHead := mustHead(ctx, t, store)

	old := store
	store = reopen()
	if _, err := old.Append(ctx, s1, eventstore.Any, []eventstore.EventData{newEvent("acc.happened", company)}); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Append to the store closed by reopen: err = %v, want ErrClosed", err)
	}

	assertSameEvents(t, mustReadStream(ctx, t, store, s1, 0, 0), wantS1)
	assertSameEvents(t, mustReadStream(ctx, t, store, s2, 0, 0), wantS2)
	assertSameEvents(t, readAll(ctx, t, store, eventstore.Start, eventstore.Filter{CompanyID: company}, 0), wantAll)
	if head := mustHead(ctx, t, store); head.Compare(wantHead) < 0 {
		t.Fatalf("Head after reopen = %s, want >= %s", head, wantHead)
	}

	if _, err := store.Append(ctx, s1, eventstore.Exact(1), []eventstore.EventData{newEvent("acc.happened", company)}); !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("stale expected revision after reopen: err = %v, want ErrWrongExpectedRevision", err)
	}
	if _, err := store.Append(ctx, s2, eventstore.NoStream, []eventstore.EventData{newEvent("acc.happened", company)}); !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("no stream on an existing stream after reopen: err = %v, want ErrWrongExpectedRevision", err)
	}
	if retry, err := store.Append(ctx, s1, eventstore.NoStream, first); err != nil || retry.NextRevision != r1.NextRevision {
		t.Fatalf("retry after reopen: got %+v, %v; want %+v, nil", retry, err, r1)
	}
	next := mustAppend(ctx, t, store, s1, eventstore.Exact(2), newEvent("acc.happened", company))
	if next.NextRevision != 3 || next.Position.Compare(wantHead) <= 0 {
		t.Fatalf("append after reopen: got %+v, want revision 3 at a position after %s", next, wantHead)
	}
}

// acceptanceContext bounds a subtest, so that a missing event fails it
// with a deadline error rather than hanging the run.
func acceptanceContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), acceptanceTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// newStream returns a stream id no other test uses.
func newStream(category string) string { return category + "-" + uuid.NewString() }

// newCategory returns a category no other test uses; it has no dash,
// since the category ends at the first one.
func newCategory() string { return "cat" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] }

// newType returns an event type no other test uses.
func newType() string {
	return "acc" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + ".happened"
}

func newEvent(typ, company string) eventstore.EventData {
	id := uuid.NewString()
	return eventstore.EventData{
		ID:            id,
		Type:          typ,
		SchemaVersion: 1,
		Data:          []byte(fmt.Sprintf(`{"id":%q,"n":1}`, id)),
		Metadata: eventstore.Metadata{
			CompanyID:     company,
			ActorID:       "user-" + id[:8],
			ActorRole:     "company_admin",
			CorrelationID: uuid.NewString(),
			CausationID:   uuid.NewString(),
			CommandID:     uuid.NewString(),
			// Milliseconds survive every store's timestamp encoding.
			RecordedAt: time.Now().UTC().Truncate(time.Millisecond),
		},
	}
}

func newEvents(n int, typ, company string) []eventstore.EventData {
	events := make([]eventstore.EventData, n)
	for i := range events {
		events[i] = newEvent(typ, company)
	}
	return events
}

func mustAppend(ctx context.Context, tb testing.TB, store eventstore.Store, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) eventstore.AppendResult {
	tb.Helper()
	res, err := store.Append(ctx, stream, expected, events)
	if err != nil {
		tb.Fatalf("append %d events to %s (expected %s): %v", len(events), stream, expected, err)
	}
	return res
}

func mustReadStream(ctx context.Context, tb testing.TB, store eventstore.Store, stream string, from uint64, limit int) []eventstore.RecordedEvent {
	tb.Helper()
	events, err := store.ReadStream(ctx, stream, from, limit)
	if err != nil {
		tb.Fatalf("read stream %s from %d: %v", stream, from, err)
	}
	return events
}

func mustHead(ctx context.Context, tb testing.TB, store eventstore.Store) eventstore.Position {
	tb.Helper()
	head, err := store.Head(ctx)
	if err != nil {
		tb.Fatalf("head: %v", err)
	}
	return head
}

func assertStreamLen(ctx context.Context, tb testing.TB, store eventstore.Store, stream string, want int) {
	tb.Helper()
	if got := len(mustReadStream(ctx, tb, store, stream, 0, 0)); got != want {
		tb.Fatalf("stream %s has %d events, want %d", stream, got, want)
	}
}

// readAllPages reads everything after `after` that passes filter, in pages
// of 7 so that paging is exercised too.
// readAll subscribes after `after` with filter and returns what the
// subscription delivers until it says it has caught up, asking for at most
// max events a time (0: the store's choice).
func readAll(ctx context.Context, tb testing.TB, store eventstore.Store, after eventstore.Position, filter eventstore.Filter, max int) []eventstore.RecordedEvent {
	tb.Helper()
	sub, err := store.Subscribe(ctx, after, filter)
	if err != nil {
		tb.Fatalf("subscribe after %s: %v", after, err)
	}
	defer sub.Close()
	var all []eventstore.RecordedEvent
	for {
		b, err := nextWithin(ctx, tb, sub, max)
		if err != nil {
			tb.Fatalf("read all after %s: %v", after, err)
		}
		if max > 0 && len(b.Events) > max {
			tb.Fatalf("Next(max %d) returned %d events", max, len(b.Events))
		}
		all = append(all, b.Events...)
		if b.CaughtUp {
			return all
		}
	}
}

// collect reads sub until it has delivered exactly n events, failing on a
// duplicate or out-of-order position as soon as one arrives.
// collect reads sub until it has delivered exactly n events, failing on a
// duplicate or out-of-order position as soon as one arrives, or on a
// checkpoint that goes back.
func collect(ctx context.Context, tb testing.TB, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	tb.Helper()
	var got []eventstore.RecordedEvent
	var checkpoint eventstore.Position
	for len(got) < n {
		b, err := nextWithin(ctx, tb, sub, 0)
		if err != nil {
			tb.Fatalf("subscription after %d of %d events: %v", len(got), n, err)
		}
		if len(b.Events) == 0 && b.Checkpoint.IsZero() && !b.CaughtUp {
			tb.Fatalf("Next returned an empty batch and no error")
		}
		for _, ev := range b.Events {
			if len(got) > 0 && ev.Position.Compare(got[len(got)-1].Position) <= 0 {
				tb.Fatalf("subscription delivered position %s after %s: duplicate or out of order", ev.Position, got[len(got)-1].Position)
			}
			if ev.Position.Compare(checkpoint) <= 0 {
				tb.Fatalf("subscription delivered position %s after reporting checkpoint %s", ev.Position, checkpoint)
			}
			got = append(got, ev)
		}
		if !b.Checkpoint.IsZero() {
			if b.Checkpoint.Compare(checkpoint) < 0 {
				tb.Fatalf("checkpoint went back from %s to %s", checkpoint, b.Checkpoint)
			}
			if len(b.Events) > 0 && b.Checkpoint.Compare(b.Events[len(b.Events)-1].Position) < 0 {
				tb.Fatalf("checkpoint %s is before the batch's last event %s", b.Checkpoint, b.Events[len(b.Events)-1].Position)
			}
			checkpoint = b.Checkpoint
		}
	}
	if len(got) > n {
		tb.Fatalf("subscription delivered %d events, want %d", len(got), n)
	}
	return got
}

// nextWithin runs sub.Next(ctx) and fails the test if it does not return
// within acceptanceTimeout, so a Next that ignores cancellation is caught
// even if it also ignores ctx's deadline.
// nextWithin runs sub.Next(ctx, max) and fails the test if it does not
// return within acceptanceTimeout, so a Next that ignores cancellation is
// caught even if it also ignores ctx's deadline.
func nextWithin(ctx context.Context, tb testing.TB, sub eventstore.Subscription, max int) (eventstore.Batch, error) {
	tb.Helper()
	type result struct {
		b   eventstore.Batch
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := sub.Next(ctx, max)
		done <- result{b, err}
	}()
	timer := time.NewTimer(acceptanceTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.b, r.err
	case <-timer.C:
		tb.Fatalf("Next did not return within %s", acceptanceTimeout)
		return eventstore.Batch{}, nil
	}
}

// nextError calls Next until it fails and returns the error; it fails the
// test if an event arrives first (the callers expect none).
func nextError(ctx context.Context, tb testing.TB, sub eventstore.Subscription) error {
	tb.Helper()
	for {
		b, err := nextWithin(ctx, tb, sub, 0)
		if err != nil {
			return err
		}
		if len(b.Events) > 0 {
			tb.Fatalf("got %d events, want Next to fail", len(b.Events))
		}
	}
}

func assertEvents(tb testing.TB, got []eventstore.RecordedEvent, stream string, firstRevision uint64, want []eventstore.EventData) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		assertEvent(tb, got[i], stream, firstRevision+uint64(i), want[i])
	}
}

func assertEvent(tb testing.TB, got eventstore.RecordedEvent, stream string, revision uint64, want eventstore.EventData) {
	tb.Helper()
	wantVersion := want.SchemaVersion
	if wantVersion == 0 {
		wantVersion = 1
	}
	switch {
	case got.ID != want.ID:
		tb.Fatalf("event id = %s, want %s", got.ID, want.ID)
	case got.StreamID != stream:
		tb.Fatalf("event %s: stream = %s, want %s", got.ID, got.StreamID, stream)
	case got.Revision != revision:
		tb.Fatalf("event %s: revision = %d, want %d", got.ID, got.Revision, revision)
	case got.Type != want.Type:
		tb.Fatalf("event %s: type = %s, want %s", got.ID, got.Type, want.Type)
	case got.SchemaVersion != wantVersion:
		tb.Fatalf("event %s: schema version = %d, want %d", got.ID, got.SchemaVersion, wantVersion)
	case !bytes.Equal(got.Data, want.Data):
		tb.Fatalf("event %s: data differs (%d bytes, want %d)", got.ID, len(got.Data), len(want.Data))
	case !sameMetadata(got.Metadata, want.Metadata):
		tb.Fatalf("event %s: metadata = %+v, want %+v", got.ID, got.Metadata, want.Metadata)
	}
}

// sameMetadata compares metadata but not the hash, which the store sets
// (HashChain checks it).
func sameMetadata(a, b eventstore.Metadata) bool {
	at, bt := a.RecordedAt, b.RecordedAt
	a.RecordedAt, b.RecordedAt = time.Time{}, time.Time{}
	a.Hash, b.Hash = "", ""
	return a == b && at.Equal(bt)
}

// assertSameEvents checks that two reads returned the same stored events.
func assertSameEvents(tb testing.TB, got, want []eventstore.RecordedEvent) {
	tb.Helper()
	assertSamePositions(tb, got, want)
	for i := range want {
		w := want[i]
		assertEvent(tb, got[i], w.StreamID, w.Revision, eventstore.EventData{
			ID: w.ID, Type: w.Type, SchemaVersion: w.SchemaVersion, Data: w.Data, Metadata: w.Metadata,
		})
	}
}

func assertSamePositions(tb testing.TB, got, want []eventstore.RecordedEvent) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			tb.Fatalf("event %d is %s at position %s, want %s at %s", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
}

func assertIncreasingPositions(tb testing.TB, events []eventstore.RecordedEvent) {
	tb.Helper()
	for i := 1; i < len(events); i++ {
		if events[i].Position.Compare(events[i-1].Position) <= 0 {
			tb.Fatalf("position %s follows %s, want strictly increasing", events[i].Position, events[i-1].Position)
		}
	}
}
