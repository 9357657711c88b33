package eventstore

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
)

// OpenFunc opens a Store for RunAcceptance. It returns the store and a
// reopen function that closes that store and opens the same data again, as
// a process restart would, returning the new store.
//
// The opener owns cleanup: it must close whatever it opened when t ends
// (t.Cleanup), and Close must tolerate being called again, because the
// suite closes some stores itself.
type OpenFunc func(t *testing.T) (store Store, reopen func() Store)

// acceptanceTimeout bounds every wait of the suite, so a lost event or a
// Next that never returns fails the test instead of hanging it.
const acceptanceTimeout = 10 * time.Second

// RunAcceptance runs the behaviour every Store must have, one subtest per
// property. Each subtest opens its own store with open, and uses fresh
// random stream ids, categories, types and company ids, and positions
// relative to the head it finds, so the suite also passes against a store
// that already holds other data (a shared server).
//
// Positions are only required to increase strictly; contiguity is a
// property of particular stores, tested by them.
//
// When ctx given to Subscribe ends, the suite accepts Next returning either
// ctx's error or ErrClosed.
func RunAcceptance(t *testing.T, open OpenFunc) {
	t.Run("AppendAssignsRevisionsAndPositions", func(t *testing.T) { testAppendOrdering(t, open) })
	t.Run("ExpectedRevision", func(t *testing.T) { testExpectedRevision(t, open) })
	t.Run("ConcurrentAppendsAtSameRevision", func(t *testing.T) { testConcurrentSameRevision(t, open) })
	t.Run("IdempotentRetry", func(t *testing.T) { testIdempotentRetry(t, open) })
	t.Run("InvalidEvents", func(t *testing.T) { testInvalidEvents(t, open) })
	t.Run("ReadStream", func(t *testing.T) { testReadStream(t, open) })
	t.Run("ReadStreamBackward", func(t *testing.T) { testReadStreamBackward(t, open) })
	t.Run("ReadAll", func(t *testing.T) { testReadAll(t, open) })
	t.Run("ReadAllFilters", func(t *testing.T) { testReadAllFilters(t, open) })
	t.Run("Head", func(t *testing.T) { testHead(t, open) })
	t.Run("SubscribeCatchUpThenLive", func(t *testing.T) { testSubscribeCatchUpThenLive(t, open) })
	t.Run("SubscribeFiltered", func(t *testing.T) { testSubscribeFiltered(t, open) })
	t.Run("SubscriptionContextCancel", func(t *testing.T) { testSubscriptionContextCancel(t, open) })
	t.Run("SubscriptionClose", func(t *testing.T) { testSubscriptionClose(t, open) })
	t.Run("StoreClose", func(t *testing.T) { testStoreClose(t, open) })
	t.Run("LargeEvent", func(t *testing.T) { testLargeEvent(t, open) })
	t.Run("ReopenKeepsEverything", func(t *testing.T) { testReopen(t, open) })
}

func testAppendOrdering(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("order")
	first := []EventData{newEvent("acc.created", company), newEvent("acc.renamed", company), newEvent("acc.renamed", company)}
	second := []EventData{newEvent("acc.renamed", company), newEvent("acc.closed", company)}

	r1 := mustAppend(ctx, t, store, stream, NoStream, first...)
	if r1.NextRevision != 2 {
		t.Fatalf("first append: NextRevision = %d, want 2", r1.NextRevision)
	}
	r2 := mustAppend(ctx, t, store, stream, Exact(r1.NextRevision), second...)
	if r2.NextRevision != 4 {
		t.Fatalf("second append: NextRevision = %d, want 4", r2.NextRevision)
	}
	if r2.Position <= r1.Position {
		t.Fatalf("second append: Position = %d, want > first append's %d", r2.Position, r1.Position)
	}

	got := mustReadStream(ctx, t, store, stream, 0, 0)
	want := append(append([]EventData{}, first...), second...)
	assertEvents(t, got, stream, 0, want)
	assertIncreasingPositions(t, got)
	if got[2].Position != r1.Position || got[4].Position != r2.Position {
		t.Fatalf("positions of last events = %d, %d; want the appends' results %d, %d",
			got[2].Position, got[4].Position, r1.Position, r2.Position)
	}

	all := readAllPages(ctx, t, store, Start, Filter{CompanyID: company})
	assertSamePositions(t, all, got)
}

func testExpectedRevision(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("expect")

	steps := []struct {
		name     string
		expected ExpectedRevision
		wantRev  uint64
		wantErr  error
	}{
		{"exact on a missing stream", Exact(0), 0, ErrWrongExpectedRevision},
		{"no stream on a missing stream", NoStream, 0, nil},
		{"no stream on an existing stream", NoStream, 0, ErrWrongExpectedRevision},
		{"exact at the last revision", Exact(0), 1, nil},
		{"exact behind", Exact(0), 0, ErrWrongExpectedRevision},
		{"exact ahead", Exact(7), 0, ErrWrongExpectedRevision},
		{"any on an existing stream", Any, 2, nil},
		{"exact after any", Exact(2), 3, nil},
	}
	stored := 0
	for _, step := range steps {
		res, err := store.Append(ctx, stream, step.expected, []EventData{newEvent("acc.happened", company)})
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

	res := mustAppend(ctx, t, store, newStream("expect"), Any, newEvent("acc.happened", company))
	if res.NextRevision != 0 {
		t.Fatalf("any on a missing stream: NextRevision = %d, want 0", res.NextRevision)
	}
}

func testConcurrentSameRevision(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	stream := newStream("race")
	mustAppend(ctx, t, store, stream, NoStream, newEvent("acc.created", company))

	const writers = 50
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = store.Append(ctx, stream, Exact(0), []EventData{newEvent("acc.raced", company)})
		}()
	}
	close(start)
	wg.Wait()

	won, lost := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrWrongExpectedRevision):
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

	original := mustAppend(ctx, t, store, stream, NoStream, a, b)
	mustAppend(ctx, t, store, stream, Exact(original.NextRevision), newEvent("acc.renamed", company))

	for _, expected := range []ExpectedRevision{NoStream, Any} {
		got, err := store.Append(ctx, stream, expected, []EventData{a, b})
		if err != nil {
			t.Fatalf("retry with %s after the stream moved on: %v", expected, err)
		}
		if got != original {
			t.Fatalf("retry with %s: result %+v, want the original %+v", expected, got, original)
		}
	}
	assertStreamLen(ctx, t, store, stream, 3)

	d := newEvent("acc.renamed", company)
	conflicts := []struct {
		name     string
		stream   string
		expected ExpectedRevision
		events   []EventData
	}{
		{"partial overlap", stream, Exact(2), []EventData{b, d}},
		{"same ids in another order", stream, Any, []EventData{b, a}},
		{"known id after a new one", stream, Exact(2), []EventData{d, a}},
		{"ids reused in another stream", newStream("retry"), NoStream, []EventData{a, b}},
		{"one id reused in another stream", newStream("retry"), Any, []EventData{b}},
	}
	for _, c := range conflicts {
		if _, err := store.Append(ctx, c.stream, c.expected, c.events); !errors.Is(err, ErrDuplicateEvent) {
			t.Fatalf("%s: err = %v, want ErrDuplicateEvent", c.name, err)
		}
		if c.stream != stream {
			assertStreamLen(ctx, t, store, c.stream, 0)
		}
	}
	assertStreamLen(ctx, t, store, stream, 3)

	// d was refused with the conflicting appends, so it is still free.
	res := mustAppend(ctx, t, store, stream, Exact(2), d)
	if res.NextRevision != 3 {
		t.Fatalf("append after refused duplicates: NextRevision = %d, want 3", res.NextRevision)
	}
}

func testInvalidEvents(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	valid := func(edit func(*EventData)) []EventData {
		ev := newEvent("acc.happened", company)
		edit(&ev)
		return []EventData{ev}
	}
	cases := []struct {
		name   string
		events []EventData
	}{
		{"no events", nil},
		{"empty id", valid(func(e *EventData) { e.ID = "" })},
		{"id not a uuid", valid(func(e *EventData) { e.ID = "order-42" })},
		{"empty type", valid(func(e *EventData) { e.Type = "" })},
		{"data not json", valid(func(e *EventData) { e.Data = []byte(`{"broken":`) })},
		{"no data", valid(func(e *EventData) { e.Data = nil })},
		{"negative schema version", valid(func(e *EventData) { e.SchemaVersion = -1 })},
		{"one bad event among good ones", append(valid(func(*EventData) {}), valid(func(e *EventData) { e.Type = "" })...)},
	}
	for _, c := range cases {
		stream := newStream("invalid")
		if _, err := store.Append(ctx, stream, Any, c.events); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", c.name, err)
		}
		assertStreamLen(ctx, t, store, stream, 0)
	}

	stream := newStream("invalid")
	mustAppend(ctx, t, store, stream, NoStream, valid(func(e *EventData) { e.SchemaVersion = 0 })...)
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
	mustAppend(ctx, t, store, stream, NoStream, events...)

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
	mustAppend(ctx, t, store, stream, NoStream, events...)

	cases := []struct {
		name     string
		from     uint64
		limit    int
		wantRevs []uint64
	}{
		{"from the end", End, 0, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"from the end with a limit", End, 3, []uint64{9, 8, 7}},
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
			if i > 0 && ev.Position >= got[i-1].Position {
				t.Fatalf("%s: position %d after %d, want decreasing", c.name, ev.Position, got[i-1].Position)
			}
		}
	}
	got, err := store.ReadStreamBackward(ctx, newStream("back"), End, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing stream: got %d events, err %v; want none, nil", len(got), err)
	}
}

func testReadAll(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	before := mustHead(ctx, t, store)

	// Interleave three streams so that position order differs from
	// stream order.
	streams := []string{newStream("all"), newStream("all"), newStream("all")}
	var want []EventData
	for i := range 6 {
		ev := newEvent("acc.happened", company)
		mustAppend(ctx, t, store, streams[i%3], Any, ev)
		want = append(want, ev)
	}
	filter := Filter{CompanyID: company}

	all := readAllPages(ctx, t, store, before, filter)
	if len(all) != len(want) {
		t.Fatalf("ReadAll after head %d: got %d events, want %d", before, len(all), len(want))
	}
	for i, ev := range all {
		assertEvent(t, ev, streams[i%3], uint64(i/3), want[i])
	}
	assertIncreasingPositions(t, all)

	page, err := store.ReadAll(ctx, all[1].Position, 2, filter)
	if err != nil {
		t.Fatal(err)
	}
	assertSamePositions(t, page, all[2:4])
	if page, err = store.ReadAll(ctx, all[5].Position, 0, filter); err != nil || len(page) != 0 {
		t.Fatalf("ReadAll after the last event: got %d events, err %v; want none", len(page), err)
	}

	// Unfiltered reads: other data may share the store, so only our
	// events are compared, but the limit and the order are checked on all.
	page, err = store.ReadAll(ctx, before, 3, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 {
		t.Fatalf("unfiltered ReadAll with limit 3: got %d events", len(page))
	}
	if page[0].Position <= before {
		t.Fatalf("unfiltered ReadAll after %d returned position %d", before, page[0].Position)
	}
	assertIncreasingPositions(t, page)
	var ours []RecordedEvent
	for _, ev := range readAllPages(ctx, t, store, before, Filter{}) {
		if ev.Metadata.CompanyID == company {
			ours = append(ours, ev)
		}
	}
	assertSamePositions(t, ours, all)
}

func testReadAllFilters(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	companyA, companyB := uuid.NewString(), uuid.NewString()
	catX, catY := newCategory(), newCategory()
	typeP, typeQ := newType(), newType()

	var appended []RecordedEvent // what each event should look like, in append order
	for _, company := range []string{companyA, companyB} {
		for _, cat := range []string{catX, catY} {
			stream := newStream(cat)
			for _, typ := range []string{typeP, typeQ, typeP} {
				ev := newEvent(typ, company)
				res := mustAppend(ctx, t, store, stream, Any, ev)
				appended = append(appended, RecordedEvent{ID: ev.ID, StreamID: stream, Type: typ, Position: res.Position, Metadata: ev.Metadata})
			}
		}
	}

	filters := []struct {
		name   string
		filter Filter
	}{
		{"company", Filter{CompanyID: companyA}},
		{"category", Filter{Categories: []string{catX}}},
		{"categories", Filter{CompanyID: companyB, Categories: []string{catX, catY}}},
		{"type", Filter{Types: []string{typeQ}}},
		{"company, category and type", Filter{CompanyID: companyA, Categories: []string{catY}, Types: []string{typeP}}},
		{"types", Filter{Categories: []string{catY}, Types: []string{typeP, typeQ}}},
		{"nothing matches", Filter{CompanyID: companyA, Categories: []string{newCategory()}}},
	}
	for _, f := range filters {
		var want []RecordedEvent
		for _, ev := range appended {
			if f.filter.Match(ev) {
				want = append(want, ev)
			}
		}
		got := readAllPages(ctx, t, store, Start, f.filter)
		// Filters on category or type alone may also match other data on
		// a shared store; keep only ours before comparing.
		var ours []RecordedEvent
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
				t.Fatalf("filter %s: event %d is %s at %d, want %s at %d",
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
	res := mustAppend(ctx, t, store, newStream("head"), NoStream, newEvents(3, "acc.happened", company)...)
	if res.Position <= before {
		t.Fatalf("append landed at %d, want after the previous head %d", res.Position, before)
	}
	// >= rather than ==: on a shared store someone else may append too.
	if head := mustHead(ctx, t, store); head < res.Position {
		t.Fatalf("Head = %d, want >= %d, the position of the last append", head, res.Position)
	}
}

func testSubscribeCatchUpThenLive(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	filter := Filter{CompanyID: company}
	before := mustHead(ctx, t, store)

	// Stored before subscribing: delivered by catch-up.
	const stored = 30
	for i := range stored {
		mustAppend(ctx, t, store, newStream("sub"), Any, newEvent(fmt.Sprintf("acc.stored%d", i%3), company))
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
			expected := NoStream
			for i := 0; i < perWriter; {
				n := min(1+i%3, perWriter-i) // batches of 1, 2 and 3 events
				res, err := store.Append(ctx, stream, expected, newEvents(n, "acc.live", company))
				if err != nil {
					errs <- err
					return
				}
				expected = Exact(res.NextRevision)
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
	assertSamePositions(t, got, readAllPages(ctx, t, store, before, filter))

	// A subscription from the middle starts right after that position.
	mid, err := store.Subscribe(ctx, got[9].Position, filter)
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	first, err := mid.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].ID != got[10].ID {
		t.Fatalf("subscription after position %d starts with %s, want %s", got[9].Position, first[0].ID, got[10].ID)
	}
}

func testSubscribeFiltered(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company, other := uuid.NewString(), uuid.NewString()
	catX, catY := newCategory(), newCategory()
	typeP, typeQ := newType(), newType()
	filter := Filter{CompanyID: company, Categories: []string{catX}, Types: []string{typeP}}
	before := mustHead(ctx, t, store)

	appendMix := func() int {
		matching := 0
		for _, c := range []string{company, other} {
			for _, cat := range []string{catX, catY} {
				for _, typ := range []string{typeP, typeQ} {
					ev := newEvent(typ, c)
					mustAppend(ctx, t, store, newStream(cat), NoStream, ev)
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
	assertSamePositions(t, got, readAllPages(ctx, t, store, before, filter))
}

func testSubscriptionContextCancel(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	company := uuid.NewString()
	head := mustHead(ctx, t, store)

	sub, err := store.Subscribe(ctx, head, Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Cancelling Next's context ends that call, not the subscription.
	nextCtx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(20*time.Millisecond, cancel)
	defer timer.Stop()
	_, err = nextWithin(nextCtx, t, sub)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after its context was cancelled: err = %v, want context.Canceled", err)
	}
	ev := newEvent("acc.happened", company)
	mustAppend(ctx, t, store, newStream("cancel"), NoStream, ev)
	got, err := nextWithin(ctx, t, sub)
	if err != nil {
		t.Fatalf("Next after an earlier Next was cancelled: %v", err)
	}
	if len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("Next after an earlier Next was cancelled: got %d events, want the one appended", len(got))
	}

	// Cancelling Subscribe's context ends the subscription.
	subCtx, cancelSub := context.WithCancel(ctx)
	sub2, err := store.Subscribe(subCtx, got[0].Position, Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	timer2 := time.AfterFunc(20*time.Millisecond, cancelSub)
	defer timer2.Stop()
	if _, err = nextWithin(ctx, t, sub2); !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Subscribe's context was cancelled: err = %v, want context.Canceled or ErrClosed", err)
	}
}

func testSubscriptionClose(t *testing.T, open OpenFunc) {
	ctx := acceptanceContext(t)
	store, _ := open(t)
	sub, err := store.Subscribe(ctx, mustHead(ctx, t, store), Filter{CompanyID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Millisecond, func() { _ = sub.Close() })
	defer timer.Stop()
	if _, err := nextWithin(ctx, t, sub); !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Next when the subscription closed: err = %v, want ErrClosed", err)
	}
	if _, err := nextWithin(ctx, t, sub); !errors.Is(err, ErrClosed) {
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
	mustAppend(ctx, t, store, stream, NoStream, newEvent("acc.happened", company))

	sub, err := store.Subscribe(ctx, mustHead(ctx, t, store), Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	timer := time.AfterFunc(20*time.Millisecond, func() { _ = store.Close() })
	defer timer.Stop()
	if _, err := nextWithin(ctx, t, sub); !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Next when the store closed: err = %v, want ErrClosed", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := store.Append(ctx, stream, Any, []EventData{newEvent("acc.happened", company)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: err = %v, want ErrClosed", err)
	}
	if _, err := store.Subscribe(ctx, Start, Filter{}); !errors.Is(err, ErrClosed) {
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
	mustAppend(ctx, t, store, stream, NoStream, ev, small)

	got := mustReadStream(ctx, t, store, stream, 0, 0)
	assertEvents(t, got, stream, 0, []EventData{ev, small})
	all := readAllPages(ctx, t, store, Start, Filter{CompanyID: company, Types: []string{"acc.uploaded"}})
	if len(all) != 1 || !bytes.Equal(all[0].Data, ev.Data) {
		t.Fatalf("ReadAll did not return the 1 MiB event byte for byte")
	}
	sub, err := store.Subscribe(ctx, Start, Filter{CompanyID: company})
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
	r1 := mustAppend(ctx, t, store, s1, NoStream, first...)
	mustAppend(ctx, t, store, s2, NoStream, newEvents(2, "acc.happened", company)...)
	wantS1 := mustReadStream(ctx, t, store, s1, 0, 0)
	wantS2 := mustReadStream(ctx, t, store, s2, 0, 0)
	wantAll := readAllPages(ctx, t, store, Start, Filter{CompanyID: company})
	wantHead := mustHead(ctx, t, store)

	old := store
	store = reopen()
	if _, err := old.Append(ctx, s1, Any, []EventData{newEvent("acc.happened", company)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append to the store closed by reopen: err = %v, want ErrClosed", err)
	}

	assertSameEvents(t, mustReadStream(ctx, t, store, s1, 0, 0), wantS1)
	assertSameEvents(t, mustReadStream(ctx, t, store, s2, 0, 0), wantS2)
	assertSameEvents(t, readAllPages(ctx, t, store, Start, Filter{CompanyID: company}), wantAll)
	if head := mustHead(ctx, t, store); head < wantHead {
		t.Fatalf("Head after reopen = %d, want >= %d", head, wantHead)
	}

	if _, err := store.Append(ctx, s1, Exact(1), []EventData{newEvent("acc.happened", company)}); !errors.Is(err, ErrWrongExpectedRevision) {
		t.Fatalf("stale expected revision after reopen: err = %v, want ErrWrongExpectedRevision", err)
	}
	if _, err := store.Append(ctx, s2, NoStream, []EventData{newEvent("acc.happened", company)}); !errors.Is(err, ErrWrongExpectedRevision) {
		t.Fatalf("no stream on an existing stream after reopen: err = %v, want ErrWrongExpectedRevision", err)
	}
	if retry, err := store.Append(ctx, s1, NoStream, first); err != nil || retry != r1 {
		t.Fatalf("retry after reopen: got %+v, %v; want %+v, nil", retry, err, r1)
	}
	next := mustAppend(ctx, t, store, s1, Exact(2), newEvent("acc.happened", company))
	if next.NextRevision != 3 || next.Position <= wantHead {
		t.Fatalf("append after reopen: got %+v, want revision 3 at a position after %d", next, wantHead)
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

func newEvent(typ, company string) EventData {
	id := uuid.NewString()
	return EventData{
		ID:            id,
		Type:          typ,
		SchemaVersion: 1,
		Data:          []byte(fmt.Sprintf(`{"id":%q,"n":1}`, id)),
		Metadata: Metadata{
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

func newEvents(n int, typ, company string) []EventData {
	events := make([]EventData, n)
	for i := range events {
		events[i] = newEvent(typ, company)
	}
	return events
}

func mustAppend(ctx context.Context, tb testing.TB, store Store, stream string, expected ExpectedRevision, events ...EventData) AppendResult {
	tb.Helper()
	res, err := store.Append(ctx, stream, expected, events)
	if err != nil {
		tb.Fatalf("append %d events to %s (expected %s): %v", len(events), stream, expected, err)
	}
	return res
}

func mustReadStream(ctx context.Context, tb testing.TB, store Store, stream string, from uint64, limit int) []RecordedEvent {
	tb.Helper()
	events, err := store.ReadStream(ctx, stream, from, limit)
	if err != nil {
		tb.Fatalf("read stream %s from %d: %v", stream, from, err)
	}
	return events
}

func mustHead(ctx context.Context, tb testing.TB, store Store) uint64 {
	tb.Helper()
	head, err := store.Head(ctx)
	if err != nil {
		tb.Fatalf("head: %v", err)
	}
	return head
}

func assertStreamLen(ctx context.Context, tb testing.TB, store Store, stream string, want int) {
	tb.Helper()
	if got := len(mustReadStream(ctx, tb, store, stream, 0, 0)); got != want {
		tb.Fatalf("stream %s has %d events, want %d", stream, got, want)
	}
}

// readAllPages reads everything after `after` that passes filter, in pages
// of 7 so that paging is exercised too.
func readAllPages(ctx context.Context, tb testing.TB, store Store, after uint64, filter Filter) []RecordedEvent {
	tb.Helper()
	var all []RecordedEvent
	for {
		page, err := store.ReadAll(ctx, after, 7, filter)
		if err != nil {
			tb.Fatalf("read all after %d: %v", after, err)
		}
		if len(page) == 0 {
			return all
		}
		if len(page) > 7 {
			tb.Fatalf("read all with limit 7 returned %d events", len(page))
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// collect reads sub until it has delivered exactly n events, failing on a
// duplicate or out-of-order position as soon as one arrives.
func collect(ctx context.Context, tb testing.TB, sub Subscription, n int) []RecordedEvent {
	tb.Helper()
	var got []RecordedEvent
	for len(got) < n {
		batch, err := sub.Next(ctx)
		if err != nil {
			tb.Fatalf("subscription after %d of %d events: %v", len(got), n, err)
		}
		if len(batch) == 0 {
			tb.Fatalf("Next returned no events and no error")
		}
		for _, ev := range batch {
			if len(got) > 0 && ev.Position <= got[len(got)-1].Position {
				tb.Fatalf("subscription delivered position %d after %d: duplicate or out of order", ev.Position, got[len(got)-1].Position)
			}
			got = append(got, ev)
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
func nextWithin(ctx context.Context, tb testing.TB, sub Subscription) ([]RecordedEvent, error) {
	tb.Helper()
	type result struct {
		events []RecordedEvent
		err    error
	}
	done := make(chan result, 1)
	go func() {
		events, err := sub.Next(ctx)
		done <- result{events, err}
	}()
	timer := time.NewTimer(acceptanceTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.events, r.err
	case <-timer.C:
		tb.Fatalf("Next did not return within %s", acceptanceTimeout)
		return nil, nil
	}
}

func assertEvents(tb testing.TB, got []RecordedEvent, stream string, firstRevision uint64, want []EventData) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		assertEvent(tb, got[i], stream, firstRevision+uint64(i), want[i])
	}
}

func assertEvent(tb testing.TB, got RecordedEvent, stream string, revision uint64, want EventData) {
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

func sameMetadata(a, b Metadata) bool {
	at, bt := a.RecordedAt, b.RecordedAt
	a.RecordedAt, b.RecordedAt = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

// assertSameEvents checks that two reads returned the same stored events.
func assertSameEvents(tb testing.TB, got, want []RecordedEvent) {
	tb.Helper()
	assertSamePositions(tb, got, want)
	for i := range want {
		w := want[i]
		assertEvent(tb, got[i], w.StreamID, w.Revision, EventData{
			ID: w.ID, Type: w.Type, SchemaVersion: w.SchemaVersion, Data: w.Data, Metadata: w.Metadata,
		})
	}
}

func assertSamePositions(tb testing.TB, got, want []RecordedEvent) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			tb.Fatalf("event %d is %s at position %d, want %s at %d", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
}

func assertIncreasingPositions(tb testing.TB, events []RecordedEvent) {
	tb.Helper()
	for i := 1; i < len(events); i++ {
		if events[i].Position <= events[i-1].Position {
			tb.Fatalf("position %d follows %d, want strictly increasing", events[i].Position, events[i-1].Position)
		}
	}
}
