package esdbtest_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"agentdesk/eventstore/esdb/esdbtest"
)

// The tests drive the double through the real client, so they check the
// protocol as the client sees it.

func connect(t *testing.T, srv *esdbtest.Server) *esdb.Client {
	t.Helper()
	conf, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newEvent(typ string) esdb.EventData {
	id := uuid.New()
	return esdb.EventData{
		EventID:     id,
		EventType:   typ,
		ContentType: esdb.ContentTypeJson,
		Data:        []byte(`{"id":"` + id.String() + `"}`),
		Metadata:    []byte(`{"by":"test"}`),
	}
}

func newEvents(n int, typ string) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = newEvent(typ)
	}
	return out
}

func mustAppend(ctx context.Context, t *testing.T, c *esdb.Client, stream string, expected esdb.ExpectedRevision, events ...esdb.EventData) *esdb.WriteResult {
	t.Helper()
	res, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expected}, events...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func readStream(ctx context.Context, t *testing.T, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) ([]*esdb.RecordedEvent, error) {
	t.Helper()
	rs, err := c.ReadStream(ctx, stream, opts, count)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev.Event)
	}
}

func readAll(ctx context.Context, t *testing.T, c *esdb.Client, opts esdb.ReadAllOptions, count uint64) []*esdb.RecordedEvent {
	t.Helper()
	rs, err := c.ReadAll(ctx, opts, count)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Event)
	}
}

func ids(events []*esdb.RecordedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return out
}

func dataIDs(events []esdb.EventData) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return out
}

func sameIDs(got, want []uuid.UUID) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestAppendAndReadStream(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	stream := "order-" + uuid.NewString()
	events := newEvents(3, "order.placed")
	before := time.Now()
	res := mustAppend(ctx, t, c, stream, esdb.NoStream{}, events...)
	if res.NextExpectedVersion != 2 {
		t.Fatalf("NextExpectedVersion = %d, want 2", res.NextExpectedVersion)
	}

	got, err := readStream(ctx, t, c, stream, esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !sameIDs(ids(got), dataIDs(events)) {
		t.Fatalf("read %v, want %v", ids(got), dataIDs(events))
	}
	for i, ev := range got {
		if ev.EventNumber != uint64(i) || ev.StreamID != stream || ev.EventType != "order.placed" {
			t.Errorf("event %d: number %d stream %s type %s", i, ev.EventNumber, ev.StreamID, ev.EventType)
		}
		if ev.ContentType != "application/json" || string(ev.Data) != string(events[i].Data) || string(ev.UserMetadata) != `{"by":"test"}` {
			t.Errorf("event %d: content type %q, data %s, metadata %s", i, ev.ContentType, ev.Data, ev.UserMetadata)
		}
		ticks, err := strconv.ParseInt(ev.SystemMetadata["created"], 10, 64)
		if err != nil {
			t.Fatalf("event %d: created %q: %v", i, ev.SystemMetadata["created"], err)
		}
		created := time.Unix(0, ticks*100)
		if created.Before(before.Add(-time.Second)) || created.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d: created %s, want about now", i, created)
		}
		if ev.SystemMetadata["type"] != "order.placed" || ev.SystemMetadata["content-type"] != "application/json" {
			t.Errorf("event %d: system metadata %v", i, ev.SystemMetadata)
		}
	}

	cases := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
		want  []int
	}{
		{"forwards from a revision", esdb.ReadStreamOptions{From: esdb.Revision(1)}, 10, []int{1, 2}},
		{"forwards with a count", esdb.ReadStreamOptions{From: esdb.Start{}}, 2, []int{0, 1}},
		{"forwards past the end", esdb.ReadStreamOptions{From: esdb.Revision(7)}, 10, nil},
		{"backwards from the end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10, []int{2, 1, 0}},
		{"backwards from a revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1)}, 10, []int{1, 0}},
		{"backwards past the end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(9)}, 2, []int{2, 1}},
	}
	for _, tc := range cases {
		got, err := readStream(ctx, t, c, stream, tc.opts, tc.count)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var want []uuid.UUID
		for _, i := range tc.want {
			want = append(want, events[i].EventID)
		}
		if !sameIDs(ids(got), want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids(got), want)
		}
	}

	_, err = readStream(ctx, t, c, "missing-"+uuid.NewString(), esdb.ReadStreamOptions{}, 10)
	var esErr *esdb.Error
	if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("reading a missing stream: err = %v, want ErrorCodeResourceNotFound", err)
	}
}

func TestExpectedRevision(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	stream := "expect-" + uuid.NewString()
	steps := []struct {
		name     string
		expected esdb.ExpectedRevision
		wantNext uint64
		wantErr  string // "" for success, else the client's message
	}{
		{"stream exists on a missing stream", esdb.StreamExists{}, 0, "expecting 'stream_exists' but got 'no_stream'"},
		{"exact on a missing stream", esdb.Revision(0), 0, "expecting '0' but got 'no_stream'"},
		{"no stream on a missing stream", esdb.NoStream{}, 0, ""},
		{"no stream on an existing stream", esdb.NoStream{}, 0, "expecting 'no_stream' but got '0'"},
		{"exact at the end", esdb.Revision(0), 1, ""},
		{"exact ahead", esdb.Revision(5), 0, "expecting '5' but got '1'"},
		{"exact behind", esdb.Revision(0), 0, "expecting '0' but got '1'"},
		{"stream exists", esdb.StreamExists{}, 2, ""},
		{"any", esdb.Any{}, 3, ""},
	}
	for _, s := range steps {
		res, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: s.expected}, newEvent("x.happened"))
		if s.wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if res.NextExpectedVersion != s.wantNext {
				t.Fatalf("%s: NextExpectedVersion = %d, want %d", s.name, res.NextExpectedVersion, s.wantNext)
			}
			continue
		}
		var esErr *esdb.Error
		if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeWrongExpectedVersion {
			t.Fatalf("%s: err = %v, want ErrorCodeWrongExpectedVersion", s.name, err)
		}
		if !strings.Contains(err.Error(), s.wantErr) {
			t.Fatalf("%s: err = %v, want it to say %q", s.name, err, s.wantErr)
		}
	}
	got, err := readStream(ctx, t, c, stream, esdb.ReadStreamOptions{}, 100)
	if err != nil || len(got) != 4 {
		t.Fatalf("stream has %d events (err %v), want the 4 accepted", len(got), err)
	}
}

func TestIdempotentAppend(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	stream := "retry-" + uuid.NewString()
	a, b := newEvent("x.created"), newEvent("x.renamed")
	original := mustAppend(ctx, t, c, stream, esdb.NoStream{}, a, b)
	mustAppend(ctx, t, c, stream, esdb.Revision(1), newEvent("x.renamed"))

	for _, expected := range []esdb.ExpectedRevision{esdb.NoStream{}, esdb.Any{}, esdb.StreamExists{}} {
		got := mustAppend(ctx, t, c, stream, expected, a, b)
		if *got != *original {
			t.Fatalf("retry expecting %T: %+v, want the original %+v", expected, *got, *original)
		}
	}
	// A retry of the second event alone lands where it is too.
	if got := mustAppend(ctx, t, c, stream, esdb.Revision(0), b); *got != *original {
		t.Fatalf("retry of b at revision 1: %+v, want %+v", *got, *original)
	}

	d := newEvent("x.renamed")
	conflicts := []struct {
		name     string
		expected esdb.ExpectedRevision
		events   []esdb.EventData
	}{
		{"known then new, exact behind", esdb.Revision(0), []esdb.EventData{b, d}},
		{"known then new, any", esdb.Any{}, []esdb.EventData{a, d}},
		{"known ids in another order", esdb.NoStream{}, []esdb.EventData{b, a}},
	}
	for _, cf := range conflicts {
		_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: cf.expected}, cf.events...)
		var esErr *esdb.Error
		if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeWrongExpectedVersion {
			t.Fatalf("%s: err = %v, want a wrong expected version", cf.name, err)
		}
	}
	// As on the real server, a new first event makes an "any" append
	// write everything, known ids included.
	mustAppend(ctx, t, c, stream, esdb.Any{}, d, a)
	got, err := readStream(ctx, t, c, stream, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[3].EventID != d.EventID || got[4].EventID != a.EventID {
		t.Fatalf("stream holds %v, want the 3 first events then d and a again", ids(got))
	}
}

func TestPositions(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	s1, s2 := "pos-"+uuid.NewString(), "pos-"+uuid.NewString()
	r1 := mustAppend(ctx, t, c, s1, esdb.NoStream{}, newEvents(3, "x.happened")...)
	r2 := mustAppend(ctx, t, c, s2, esdb.NoStream{}, newEvents(2, "x.happened")...)

	all := readAll(ctx, t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 100)
	if len(all) != 5 {
		t.Fatalf("$all holds %d events, want 5", len(all))
	}
	for i, ev := range all {
		if ev.Position.Commit != ev.Position.Prepare {
			t.Errorf("event %d: position %+v, want commit = prepare (one implicit transaction per event)", i, ev.Position)
		}
		if i > 0 && ev.Position.Commit <= all[i-1].Position.Commit {
			t.Errorf("event %d: position %+v not after %+v", i, ev.Position, all[i-1].Position)
		}
		if ev.Position.Commit == 0 {
			t.Errorf("event %d at position 0, which clients read as the start", i)
		}
	}
	if r1.CommitPosition != all[2].Position.Commit || r1.PreparePosition != all[2].Position.Prepare {
		t.Errorf("first append at %d/%d, want its last event's position %+v", r1.CommitPosition, r1.PreparePosition, all[2].Position)
	}
	if r2.CommitPosition != all[4].Position.Commit {
		t.Errorf("second append at %d, want %d", r2.CommitPosition, all[4].Position.Commit)
	}

	// Stream reads carry the positions too.
	got, err := readStream(ctx, t, c, s1, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Position != all[1].Position {
		t.Errorf("stream read position %+v, want %+v", got[1].Position, all[1].Position)
	}

	head := readAll(ctx, t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if len(head) != 1 || head[0].EventID != all[4].EventID {
		t.Fatalf("backwards read of 1 from the end: %v, want the last event", ids(head))
	}
	from := readAll(ctx, t, c, esdb.ReadAllOptions{From: all[2].Position}, 100)
	if !sameIDs(ids(from), ids(all[2:])) {
		t.Errorf("forwards from event 2's position: %v, want events 2 to 4", ids(from))
	}
	before := readAll(ctx, t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: all[2].Position}, 100)
	if !sameIDs(ids(before), []uuid.UUID{all[1].EventID, all[0].EventID}) {
		t.Errorf("backwards from event 2's position: %v, want events 1 and 0", ids(before))
	}
}

func TestSizeLimits(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{MaxAppendSize: 1000, MaxAppendEventSize: 600}))
	big := newEvent("x.happened")
	big.Data = []byte(`"` + strings.Repeat("a", 700) + `"`)
	_, err := c.AppendToStream(ctx, "size-"+uuid.NewString(), esdb.AppendToStreamOptions{}, big)
	if err == nil || !strings.Contains(err.Error(), "exceeds Maximum Append Event Size of 600") {
		t.Fatalf("oversized event: err = %v, want the server's size error", err)
	}
	half := newEvent("x.happened")
	half.Data = []byte(`"` + strings.Repeat("a", 500) + `"`)
	half2 := newEvent("x.happened")
	half2.Data = half.Data
	_, err = c.AppendToStream(ctx, "size-"+uuid.NewString(), esdb.AppendToStreamOptions{}, half, half2)
	if err == nil || !strings.Contains(err.Error(), "Maximum Append Size of 1000 Exceeded") {
		t.Fatalf("oversized append: err = %v, want the server's size error", err)
	}
}

// subEvent is what a subscription reported, flattened for assertions.
type subEvent struct {
	id         uuid.UUID
	pos        esdb.Position
	checkpoint bool
	caughtUp   bool
}

// recvUntil reads the subscription until done says stop, or fails the test
// after the timeout.
func recvUntil(t *testing.T, sub *esdb.Subscription, done func([]subEvent) bool) []subEvent {
	t.Helper()
	var got []subEvent
	result := make(chan error, 1)
	go func() {
		for !done(got) {
			e := sub.Recv()
			switch {
			case e.EventAppeared != nil:
				got = append(got, subEvent{id: e.EventAppeared.Event.EventID, pos: e.EventAppeared.Event.Position})
			case e.CheckPointReached != nil:
				got = append(got, subEvent{pos: *e.CheckPointReached, checkpoint: true})
			case e.CaughtUp != nil:
				got = append(got, subEvent{caughtUp: true})
			case e.SubscriptionDropped != nil:
				result <- e.SubscriptionDropped.Error
				return
			}
		}
		result <- nil
	}()
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("subscription dropped: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = sub.Close()
		<-result
		t.Fatalf("timed out; got %d messages", len(got))
	}
	return got
}

func eventsOf(got []subEvent) []uuid.UUID {
	var out []uuid.UUID
	for _, e := range got {
		if !e.checkpoint && !e.caughtUp {
			out = append(out, e.id)
		}
	}
	return out
}

func countEvents(n int) func([]subEvent) bool {
	return func(got []subEvent) bool { return len(eventsOf(got)) >= n }
}

func less(p, q esdb.Position) bool {
	return p.Commit < q.Commit || p.Commit == q.Commit && p.Prepare < q.Prepare
}

func TestSubscribeToAllCatchUpThenLive(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	c := connect(t, srv)
	stored := newEvents(40, "x.stored")
	for i := 0; i < len(stored); i += 4 {
		mustAppend(ctx, t, c, "sub-"+uuid.NewString(), esdb.NoStream{}, stored[i:i+4]...)
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Appends racing with the catch-up must be delivered once, in order.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := "sub-" + uuid.NewString()
			for i := 0; i < 10; i++ {
				if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, newEvent("x.live")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := recvUntil(t, sub, countEvents(80))
	wg.Wait()

	all := readAll(ctx, t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 1000)
	if !sameIDs(eventsOf(got), ids(all)) {
		t.Fatalf("subscription delivered %d events not matching the %d in $all", len(eventsOf(got)), len(all))
	}
	caughtUp := -1
	for i, e := range got {
		if e.checkpoint {
			t.Fatalf("an unfiltered subscription sent a checkpoint")
		}
		if e.caughtUp {
			if caughtUp >= 0 {
				t.Fatalf("caught up twice")
			}
			caughtUp = i
		}
	}
	if caughtUp < len(stored) {
		t.Fatalf("caught up after %d events, want after the %d stored first", caughtUp, len(stored))
	}

	// From a position: only what follows it.
	mid, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: all[9].Position})
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	rest := recvUntil(t, mid, countEvents(len(all)-10))
	if !sameIDs(eventsOf(rest), ids(all[10:])) {
		t.Fatalf("subscription after event 9 delivered %v..., want event 10 first", eventsOf(rest)[:1])
	}

	// From the end: caught up at once, then only new events.
	end, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.End{}})
	if err != nil {
		t.Fatal(err)
	}
	defer end.Close()
	if first := recvUntil(t, end, func(g []subEvent) bool { return len(g) > 0 }); !first[0].caughtUp {
		t.Fatalf("subscription from the end: first message %+v, want caught up", first[0])
	}
	ev := newEvent("x.new")
	mustAppend(ctx, t, c, "sub-"+uuid.NewString(), esdb.NoStream{}, ev)
	if got := recvUntil(t, end, countEvents(1)); eventsOf(got)[0] != ev.EventID {
		t.Fatalf("subscription from the end delivered %v, want %v", eventsOf(got), ev.EventID)
	}
}

func TestFilters(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	type appended struct {
		stream string
		ev     esdb.EventData
	}
	var log []appended
	for _, stream := range []string{"alpha-1", "alpha-2", "beta-1", "alphabet-1", "$system-1"} {
		for _, typ := range []string{"ticket.opened", "ticket.closed", "user.created"} {
			ev := newEvent(typ)
			mustAppend(ctx, t, c, stream, esdb.Any{}, ev)
			log = append(log, appended{stream, ev})
		}
	}
	cases := []struct {
		name   string
		filter esdb.SubscriptionFilter
		want   func(stream, typ string) bool
	}{
		{"stream prefixes", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"alpha-", "beta-"}},
			func(s, _ string) bool { return strings.HasPrefix(s, "alpha-") || strings.HasPrefix(s, "beta-") }},
		{"stream regex", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^(?:alpha|beta)(?:-|$)`},
			func(s, _ string) bool { return strings.HasPrefix(s, "alpha-") || strings.HasPrefix(s, "beta-") }},
		{"system streams excluded", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^[^$]`},
			func(s, _ string) bool { return !strings.HasPrefix(s, "$") }},
		{"event type prefix", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"ticket."}},
			func(_, typ string) bool { return strings.HasPrefix(typ, "ticket.") }},
		{"event type regex", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: `^(?:ticket\.closed|user\.created)$`},
			func(_, typ string) bool { return typ == "ticket.closed" || typ == "user.created" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []uuid.UUID
			for _, a := range log {
				if tc.want(a.stream, a.ev.EventType) {
					want = append(want, a.ev.EventID)
				}
			}
			f := tc.filter
			sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: &f})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			got := recvUntil(t, sub, func(g []subEvent) bool { return len(g) > 0 && g[len(g)-1].caughtUp })
			if !sameIDs(eventsOf(got), want) {
				t.Fatalf("delivered %d events, want %d: %v vs %v", len(eventsOf(got)), len(want), eventsOf(got), want)
			}
		})
	}
}

// TestCheckpoints checks the checkpoints of a filtered subscription: every
// window × multiplier events considered during the catch-up and once at
// its end, never behind an event already sent, and while live at the
// position of every window × multiplier-th event appended.
func TestCheckpoints(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	for i := range 40 {
		typ := "noise.happened"
		if i%10 == 3 {
			typ = "wanted.happened"
		}
		mustAppend(ctx, t, c, "ckpt-"+uuid.NewString(), esdb.NoStream{}, newEvent(typ))
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:               esdb.Start{},
		Filter:             &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"wanted."}},
		MaxSearchWindow:    4,
		CheckpointInterval: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := recvUntil(t, sub, func(g []subEvent) bool { return len(g) > 0 && g[len(g)-1].caughtUp })
	positions := readAll(ctx, t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 100)
	head := positions[len(positions)-1].Position

	checkpoints := 0
	var last esdb.Position
	for i, e := range got {
		if e.caughtUp {
			continue
		}
		if i > 0 && less(e.pos, last) {
			t.Fatalf("message %d at %+v goes back from %+v", i, e.pos, last)
		}
		if e.checkpoint {
			checkpoints++
			if less(head, e.pos) {
				t.Fatalf("checkpoint %+v after the head %+v", e.pos, head)
			}
		}
		last = e.pos
	}
	if n := len(eventsOf(got)); n != 4 {
		t.Fatalf("delivered %d events, want 4", n)
	}
	// 40 events considered in pages of 4, a checkpoint every 8: 5 during
	// the catch-up (the last one at its end).
	if checkpoints != 5 {
		t.Fatalf("got %d checkpoints in the catch-up, want 5: %+v", checkpoints, got)
	}

	// Live: a checkpoint at the 8th event appended, though none passes.
	var tail []*esdb.WriteResult
	for range 8 {
		tail = append(tail, mustAppend(ctx, t, c, "ckpt-"+uuid.NewString(), esdb.NoStream{}, newEvent("noise.happened")))
	}
	live := recvUntil(t, sub, func(g []subEvent) bool { return len(g) > 0 })
	want := esdb.Position{Commit: tail[7].CommitPosition, Prepare: tail[7].PreparePosition}
	if !live[0].checkpoint || live[0].pos != want {
		t.Fatalf("live: got %+v, want a checkpoint at %+v", live[0], want)
	}
}

func TestOmitCaughtUp(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{OmitCaughtUp: true}))
	mustAppend(ctx, t, c, "old-1", esdb.NoStream{}, newEvent("x.happened"))
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev := newEvent("x.happened")
	mustAppend(ctx, t, c, "old-2", esdb.NoStream{}, ev)
	got := recvUntil(t, sub, countEvents(2))
	for _, e := range got {
		if e.caughtUp {
			t.Fatalf("a server configured like one before 23.10 sent caught up")
		}
	}
}

func TestManySubscribersAndCancel(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	const subscribers, events = 20, 30
	var wg sync.WaitGroup
	results := make([][]uuid.UUID, subscribers)
	for i := range subscribers {
		subCtx, cancel := context.WithCancel(ctx)
		sub, err := c.SubscribeToAll(subCtx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			for len(results[i]) < events {
				e := sub.Recv()
				if e.SubscriptionDropped != nil {
					t.Errorf("subscriber %d dropped: %v", i, e.SubscriptionDropped.Error)
					return
				}
				if e.EventAppeared != nil {
					results[i] = append(results[i], e.EventAppeared.Event.EventID)
				}
			}
			cancel()
			if e := sub.Recv(); e.SubscriptionDropped == nil {
				t.Errorf("subscriber %d: after cancel got %+v, want dropped", i, e)
			}
		}()
	}
	want := newEvents(events, "x.happened")
	for _, ev := range want {
		mustAppend(ctx, t, c, "many-"+uuid.NewString(), esdb.NoStream{}, ev)
	}
	wg.Wait()
	for i, got := range results {
		if !sameIDs(got, dataIDs(want)) {
			t.Errorf("subscriber %d got %d events out of order or missing", i, len(got))
		}
	}
}

func TestSubscribeToStream(t *testing.T) {
	ctx := testContext(t)
	c := connect(t, esdbtest.MustStart(t, esdbtest.Config{}))
	stream := "one-" + uuid.NewString()
	first := newEvents(3, "x.happened")
	mustAppend(ctx, t, c, stream, esdb.NoStream{}, first...)
	mustAppend(ctx, t, c, "other-"+uuid.NewString(), esdb.NoStream{}, newEvent("x.happened"))
	sub, err := c.SubscribeToStream(ctx, stream, esdb.SubscribeToStreamOptions{From: esdb.Revision(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := newEvent("x.happened")
	mustAppend(ctx, t, c, stream, esdb.Revision(2), next)
	got := recvUntil(t, sub, countEvents(3))
	want := []uuid.UUID{first[1].EventID, first[2].EventID, next.EventID}
	if !sameIDs(eventsOf(got), want) {
		t.Fatalf("stream subscription after revision 0: %v, want %v", eventsOf(got), want)
	}
}

func TestServerClose(t *testing.T) {
	ctx := testContext(t)
	srv, err := esdbtest.Start(esdbtest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, srv)
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	recvUntil(t, sub, func(g []subEvent) bool { return len(g) > 0 }) // caught up
	srv.Close()
	srv.Close()
	done := make(chan *esdb.SubscriptionEvent, 1)
	go func() { done <- sub.Recv() }()
	select {
	case e := <-done:
		if e.SubscriptionDropped == nil {
			t.Fatalf("after Close: %+v, want dropped", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open 5 s after the server closed")
	}
	if !strings.HasPrefix(srv.URL(), "esdb://127.0.0.1:") || !strings.HasSuffix(srv.URL(), "?tls=false") {
		t.Errorf("URL %s", srv.URL())
	}
}

// TestRestartKeepsData checks that a restarted double serves what was
// written before, at the same address, and goes on from there.
func TestRestartKeepsData(t *testing.T) {
	ctx := testContext(t)
	first := esdbtest.MustStart(t, esdbtest.Config{})
	stream := "restart-" + uuid.NewString()
	before := newEvents(2, "x.happened")
	mustAppend(ctx, t, connect(t, first), stream, esdb.NoStream{}, before...)

	second, err := first.Restart()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	if second.Addr() != first.Addr() {
		t.Fatalf("restarted at %s, want the same address %s", second.Addr(), first.Addr())
	}
	c := connect(t, second)
	after := newEvent("x.happened")
	if res := mustAppend(ctx, t, c, stream, esdb.Revision(1), after); res.NextExpectedVersion != 2 {
		t.Fatalf("append after restart: next revision %d, want 2", res.NextExpectedVersion)
	}
	got, err := readStream(ctx, t, c, stream, esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := dataIDs(append(before, after)); !sameIDs(ids(got), want) {
		t.Fatalf("after restart: stream holds %v, want %v", ids(got), want)
	}
}
