package eventstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The SQLite store's own tests need its internals, so they live in package
// eventstore and cannot import eventstoretest (which imports eventstore);
// these are the few helpers they share.

// testTimeout bounds the waits of a test.
const testTimeout = 10 * time.Second

func newStream(category string) string { return category + "-" + uuid.NewString() }

func newEvent(typ, company string) EventData {
	id := uuid.NewString()
	return EventData{ID: id, Type: typ, SchemaVersion: 1, Data: []byte(fmt.Sprintf(`{"id":%q}`, id)),
		Metadata: Metadata{CompanyID: company, CommandID: uuid.NewString(), RecordedAt: time.Now().UTC().Truncate(time.Millisecond)}}
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

func mustReadStream(ctx context.Context, tb testing.TB, store Store, stream string) []RecordedEvent {
	tb.Helper()
	events, err := store.ReadStream(ctx, stream, 0, 0)
	if err != nil {
		tb.Fatalf("read stream %s: %v", stream, err)
	}
	return events
}

func assertStreamLen(ctx context.Context, tb testing.TB, store Store, stream string, want int) {
	tb.Helper()
	if got := len(mustReadStream(ctx, tb, store, stream)); got != want {
		tb.Fatalf("stream %s has %d events, want %d", stream, got, want)
	}
}

// collect reads sub until it has delivered n events.
func collect(ctx context.Context, tb testing.TB, sub Subscription, n int) []RecordedEvent {
	tb.Helper()
	var got []RecordedEvent
	for len(got) < n {
		b, err := sub.Next(ctx, 0)
		if err != nil {
			tb.Fatalf("subscription after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, b.Events...)
	}
	if len(got) > n {
		tb.Fatalf("subscription delivered %d events, want %d", len(got), n)
	}
	return got
}

// readAll returns every event after `after` that passes filter.
func readAll(ctx context.Context, tb testing.TB, store Store, after Position, filter Filter) []RecordedEvent {
	tb.Helper()
	var all []RecordedEvent
	drain(ctx, tb, store, after, filter, 0, func(events []RecordedEvent) { all = append(all, events...) })
	return all
}

// drain subscribes after `after` with filter and hands each batch of at
// most max events (0: the store's default) to each, until caught up.
func drain(ctx context.Context, tb testing.TB, store Store, after Position, filter Filter, max int, each func([]RecordedEvent)) {
	tb.Helper()
	sub, err := store.Subscribe(ctx, after, filter)
	if err != nil {
		tb.Fatal(err)
	}
	defer sub.Close()
	for {
		b, err := sub.Next(ctx, max)
		if err != nil {
			tb.Fatal(err)
		}
		each(b.Events)
		if b.CaughtUp {
			return
		}
	}
}

func assertSameEvents(tb testing.TB, got, want []RecordedEvent) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Position != w.Position || g.StreamID != w.StreamID || g.Revision != w.Revision ||
			g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			tb.Fatalf("event %d is %s %s@%d at %s, want %s %s@%d at %s", i, g.ID, g.StreamID, g.Revision, g.Position, w.ID, w.StreamID, w.Revision, w.Position)
		}
	}
}
