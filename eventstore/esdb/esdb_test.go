package esdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"agentdesk/eventstore"
	"agentdesk/eventstore/esdb"
	"agentdesk/eventstore/esdb/esdbtest"
	"agentdesk/eventstore/eventstoretest"
)

// TestAcceptanceDouble runs the shared suite against the protocol double,
// which behaves like a default KurrentDB 26.1 node. The suite's reopen
// restarts the double on its data under the calls in flight, then the
// client, as a restart of both processes would.
func TestAcceptanceDouble(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) (eventstore.Store, func() eventstore.Store) {
		srv := esdbtest.MustStart(t, esdbtest.Config{})
		store, reopenClient := openStore(t, esdb.Config{URL: srv.URL()})
		return store, func() eventstore.Store {
			restarted, err := srv.Restart()
			if err != nil {
				t.Fatalf("restart the double: %v", err)
			}
			t.Cleanup(restarted.Close)
			srv = restarted
			return reopenClient()
		}
	})
}

// TestAcceptanceRealServer runs the suite against the server EVENTSTORE_URL
// names (for example esdb://127.0.0.1:2113?tls=false). The suite uses fresh
// ids, so the server may hold other data.
func TestAcceptanceRealServer(t *testing.T) {
	url := os.Getenv("EVENTSTORE_URL")
	if url == "" {
		t.Skip("EVENTSTORE_URL is not set: the suite ran against the protocol double only (TestAcceptanceDouble); " +
			"set EVENTSTORE_URL to run it against a real EventStoreDB/KurrentDB")
	}
	eventstoretest.Run(t, func(t *testing.T) (eventstore.Store, func() eventstore.Store) {
		return openStore(t, esdb.Config{URL: url})
	})
}

// openStore opens a store that closes when t ends, and a reopen function
// that closes it and opens another on the same server.
func openStore(t *testing.T, cfg esdb.Config) (*esdb.Store, func() eventstore.Store) {
	t.Helper()
	open := func() *esdb.Store {
		store, err := esdb.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		return store
	}
	store := open()
	return store, func() eventstore.Store {
		if err := store.Close(); err != nil {
			t.Fatalf("close before reopen: %v", err)
		}
		store = open()
		return store
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawClient connects the client library itself to srv, to see or write
// what the adapter does not.
func rawClient(t *testing.T, srv *esdbtest.Server) *esdbclient.Client {
	t.Helper()
	conf, err := esdbclient.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdbclient.NoopLogging()
	c, err := esdbclient.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newEvent(typ, company string) eventstore.EventData {
	id := uuid.NewString()
	return eventstore.EventData{
		ID:            id,
		Type:          typ,
		SchemaVersion: 1,
		Data:          json.RawMessage(`{"id":"` + id + `"}`),
		Metadata:      eventstore.Metadata{CompanyID: company, RecordedAt: time.Now().UTC().Truncate(time.Millisecond)},
	}
}

func mustAppend(ctx context.Context, t *testing.T, s eventstore.Store, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctx, stream, expected, events)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

// next calls sub.Next, failing the test if it takes more than 5 s.
func next(ctx context.Context, t *testing.T, sub eventstore.Subscription) eventstore.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := sub.Next(ctx, 0)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return b
}

func TestMetadataRoundTrip(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})
	paris := time.FixedZone("Paris", 3600)
	ev := eventstore.EventData{
		ID:            strings.ToUpper(uuid.NewString()),
		Type:          "ticket.opened",
		SchemaVersion: 3,
		Data:          json.RawMessage(`{"title":"Printer on fire","priority":2}`),
		Metadata: eventstore.Metadata{
			CompanyID:     uuid.NewString(),
			ActorID:       uuid.NewString(),
			ActorRole:     "company_admin",
			CorrelationID: uuid.NewString(),
			CausationID:   uuid.NewString(),
			CommandID:     uuid.NewString(),
			RecordedAt:    time.Date(2026, 3, 4, 5, 6, 7, 123456789, paris),
		},
	}
	stream := "ticket-" + uuid.NewString()
	res := mustAppend(ctx, t, store, stream, eventstore.NoStream, ev)

	check := func(where string, got eventstore.RecordedEvent) {
		t.Helper()
		if got.ID != strings.ToLower(ev.ID) || got.StreamID != stream || got.Revision != 0 || got.Type != ev.Type ||
			got.SchemaVersion != 3 || string(got.Data) != string(ev.Data) {
			t.Errorf("%s: got %+v", where, got)
		}
		m, want := got.Metadata, ev.Metadata
		if !m.RecordedAt.Equal(want.RecordedAt) {
			t.Errorf("%s: recorded_at %s, want %s", where, m.RecordedAt, want.RecordedAt)
		}
		// The hash is over the event as stored: the id in canonical form,
		// the time in UTC.
		want.Hash = eventstore.EventHash(eventstore.GenesisHash, got)
		m.RecordedAt, want.RecordedAt = time.Time{}, time.Time{}
		if m != want {
			t.Errorf("%s: metadata %+v, want %+v", where, m, want)
		}
	}
	got, err := store.ReadStream(ctx, stream, 0, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("read stream: %d events, %v", len(got), err)
	}
	check("stream read", got[0])
	if !got[0].Position.IsZero() {
		t.Errorf("stream read: position %s, want zero", got[0].Position)
	}

	sub, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: ev.Metadata.CompanyID})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var delivered []eventstore.RecordedEvent
	for len(delivered) == 0 {
		delivered = append(delivered, next(ctx, t, sub).Events...)
	}
	check("subscription", delivered[0])
	if delivered[0].Position != res.Position {
		t.Errorf("subscription: position %s, want the append's %s", delivered[0].Position, res.Position)
	}

	// What the server holds: our id, JSON content, our metadata keys (the
	// hash among them, carried through unchanged).
	rs, err := rawClient(t, srv).ReadStream(ctx, stream, esdbclient.ReadStreamOptions{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	raw, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if raw.Event.EventID.String() != strings.ToLower(ev.ID) || raw.Event.ContentType != "application/json" || raw.Event.EventType != ev.Type {
		t.Errorf("stored as id %s, content type %s, type %s", raw.Event.EventID, raw.Event.ContentType, raw.Event.EventType)
	}
	var keys map[string]any
	if err := json.Unmarshal(raw.Event.UserMetadata, &keys); err != nil {
		t.Fatalf("custom metadata %s: %v", raw.Event.UserMetadata, err)
	}
	for _, k := range []string{"company_id", "actor_id", "actor_role", "correlation_id", "causation_id", "command_id", "recorded_at", "schema_version", "hash"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("custom metadata %s lacks %q", raw.Event.UserMetadata, k)
		}
	}
	if keys["hash"] != got[0].Metadata.Hash {
		t.Errorf("custom metadata holds hash %v, the store read %s", keys["hash"], got[0].Metadata.Hash)
	}
}

// TestForeignAndSystemEvents checks that events this package did not write
// (system streams, other applications) are neither delivered nor block
// the checkpoint, and that $-names are refused on append.
func TestForeignAndSystemEvents(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})
	raw := rawClient(t, srv)
	company := uuid.NewString()
	mine := newEvent("ticket.opened", company)
	mustAppend(ctx, t, store, "ticket-1", eventstore.NoStream, mine)
	foreign := []struct{ stream, typ, meta string }{
		{"$stats-127.0.0.1:2113", "$statsCollected", `{}`},
		{"ticket-2", "$metadata", `{}`},
		{"legacy-1", "legacy.thing", `not json`},
	}
	var last *esdbclient.WriteResult
	for _, f := range foreign {
		var err error
		last, err = raw.AppendToStream(ctx, f.stream, esdbclient.AppendToStreamOptions{}, esdbclient.EventData{
			EventID: uuid.New(), EventType: f.typ, ContentType: esdbclient.ContentTypeJson,
			Data: []byte(`{}`), Metadata: []byte(f.meta),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lastPos := eventstore.Position{Commit: last.CommitPosition, Prepare: last.PreparePosition}
	if head, err := store.Head(ctx); err != nil || head != lastPos {
		t.Fatalf("Head = %s, %v; want the last event written, %s", head, err, lastPos)
	}

	sub, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var got []eventstore.RecordedEvent
	for {
		b := next(ctx, t, sub)
		got = append(got, b.Events...)
		if b.Checkpoint.Compare(lastPos) >= 0 {
			break
		}
	}
	if len(got) != 1 || got[0].ID != mine.ID {
		t.Fatalf("unfiltered subscription delivered %+v, want only our event", got)
	}
	if _, err := store.ReadStream(ctx, "legacy-1", 0, 0); err == nil || !strings.Contains(err.Error(), "custom metadata is not ours") {
		t.Fatalf("reading a stream another application wrote: err = %v, want a decoding error", err)
	}

	for _, c := range []struct{ stream, typ string }{{"$system-1", "x.happened"}, {"ticket-3", "$x"}} {
		if _, err := store.Append(ctx, c.stream, eventstore.Any, []eventstore.EventData{newEvent(c.typ, company)}); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("append of type %q to %q: err = %v, want ErrInvalidEvent", c.typ, c.stream, err)
		}
	}
}

// TestFilterCombinations checks each shape of filter (what the server
// filters, what the adapter filters) on the same mixed log.
func TestFilterCombinations(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})
	companies := []string{uuid.NewString(), uuid.NewString()}
	// "tick" is a prefix of "ticket" and "ticket.open" of "ticket.opened":
	// names are matched whole.
	categories := []string{"ticket", "tick", "user"}
	types := []string{"ticket.opened", "ticket.open", "user.created"}
	var all []eventstore.RecordedEvent
	for _, company := range companies {
		for _, cat := range categories {
			for _, typ := range types {
				ev := newEvent(typ, company)
				stream := cat + "-" + uuid.NewString()
				res := mustAppend(ctx, t, store, stream, eventstore.NoStream, ev)
				all = append(all, eventstore.RecordedEvent{ID: ev.ID, StreamID: stream, Type: typ, Position: res.Position, Metadata: ev.Metadata})
			}
		}
	}
	filters := map[string]eventstore.Filter{
		"none":                            {},
		"company":                         {CompanyID: companies[0]},
		"category":                        {Categories: []string{"tick"}},
		"two categories":                  {Categories: []string{"ticket", "user"}},
		"type":                            {Types: []string{"ticket.open"}},
		"two types and a company":         {CompanyID: companies[1], Types: []string{"ticket.opened", "user.created"}},
		"category and type":               {Categories: []string{"ticket"}, Types: []string{"ticket.opened"}},
		"company, categories and types":   {CompanyID: companies[0], Categories: []string{"tick", "user"}, Types: []string{"ticket.open", "user.created"}},
		"a category no event has":         {Categories: []string{"nothing"}},
		"a category with regexp metachar": {Categories: []string{"tick.t"}},
	}
	for name, f := range filters {
		var want []string
		for _, ev := range all {
			if f.Match(ev) {
				want = append(want, ev.ID)
			}
		}
		sub, err := store.Subscribe(ctx, eventstore.Start, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			b := next(ctx, t, sub)
			for _, ev := range b.Events {
				got = append(got, ev.ID)
			}
			if b.CaughtUp {
				break
			}
		}
		_ = sub.Close()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("filter %s: got %d events %v, want %d %v", name, len(got), got, len(want), want)
		}
	}
}

// TestCheckpointAfterServerFilteredEvents checks that events the server's
// filter skips move the checkpoint at the server's checkpoints: every
// FilterWindow × CheckpointInterval events.
func TestCheckpointAfterServerFilteredEvents(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	store, _ := openStore(t, esdb.Config{URL: srv.URL(), FilterWindow: 4, CheckpointInterval: 1})
	company := uuid.NewString()
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := store.Subscribe(ctx, head, eventstore.Filter{Categories: []string{"wanted"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var skipped []eventstore.AppendResult
	for range 8 {
		skipped = append(skipped, mustAppend(ctx, t, store, "other-"+uuid.NewString(), eventstore.NoStream, newEvent("x.happened", company)))
	}
	for {
		b := next(ctx, t, sub)
		if len(b.Events) > 0 {
			t.Fatalf("delivered %d events of another category", len(b.Events))
		}
		if b.Checkpoint.Compare(skipped[7].Position) >= 0 {
			break
		}
	}
	wanted := newEvent("x.happened", company)
	res := mustAppend(ctx, t, store, "wanted-1", eventstore.NoStream, wanted)
	b := next(ctx, t, sub)
	if len(b.Events) != 1 || b.Events[0].ID != wanted.ID || b.Checkpoint != res.Position {
		t.Fatalf("after the checkpoint: %+v, want the wanted event at %s", b, res.Position)
	}
}

// TestCaughtUpFallback checks "caught up" on a server that never says so
// (before 23.10): the adapter compares with the head it read when the
// subscription started.
func TestCaughtUpFallback(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{OmitCaughtUp: true})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})

	empty, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if b := next(ctx, t, empty); !b.CaughtUp || len(b.Events) > 0 {
		t.Fatalf("subscription to an empty store: %+v, want caught up at once", b)
	}

	company := uuid.NewString()
	const stored = 20
	for range stored {
		mustAppend(ctx, t, store, "fallback-"+uuid.NewString(), eventstore.NoStream, newEvent("x.happened", company))
	}
	mustAppend(ctx, t, store, "fallback-"+uuid.NewString(), eventstore.NoStream, newEvent("x.happened", uuid.NewString()))
	sub, err := store.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	delivered := 0
	for {
		b, err := sub.Next(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		delivered += len(b.Events)
		if b.CaughtUp {
			if delivered != stored {
				t.Fatalf("caught up after %d of %d events", delivered, stored)
			}
			break
		}
	}
	ev := newEvent("x.happened", company)
	mustAppend(ctx, t, store, "fallback-"+uuid.NewString(), eventstore.NoStream, ev)
	if b := next(ctx, t, sub); len(b.Events) != 1 || b.Events[0].ID != ev.ID || !b.CaughtUp {
		t.Fatalf("live batch %+v, want the new event, caught up", b)
	}
}

func TestDuplicateIDs(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})
	company := uuid.NewString()
	stream := "dup-" + uuid.NewString()
	a, b, c, d := newEvent("x.a", company), newEvent("x.b", company), newEvent("x.c", company), newEvent("x.d", company)
	mustAppend(ctx, t, store, stream, eventstore.NoStream, a, b, c)

	cases := []struct {
		name     string
		expected eventstore.ExpectedRevision
		events   []eventstore.EventData
		want     error
	}{
		{"known id, then a new one, any", eventstore.Any, []eventstore.EventData{a, d}, eventstore.ErrDuplicateEvent},
		{"retry that differs after its first event", eventstore.Exact(0), []eventstore.EventData{b, d}, eventstore.ErrDuplicateEvent},
		{"the same id twice in one append", eventstore.Exact(2), []eventstore.EventData{d, d}, eventstore.ErrDuplicateEvent},
		{"a new event behind the end", eventstore.Exact(0), []eventstore.EventData{d}, eventstore.ErrWrongExpectedRevision},
		{"a known id at the wrong place", eventstore.NoStream, []eventstore.EventData{b}, eventstore.ErrWrongExpectedRevision},
	}
	for _, tc := range cases {
		_, err := store.Append(ctx, stream, tc.expected, tc.events)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	_, err := store.Append(ctx, stream, eventstore.Exact(7), []eventstore.EventData{d})
	if err == nil || !strings.Contains(err.Error(), "expected revision 7") || !strings.Contains(err.Error(), "got '2'") {
		t.Errorf("wrong expected revision message %q, want it to say what was expected and found", err)
	}

	// What EventStoreDB does not refuse (unlike the SQLite store): an id
	// reused in another stream, or at the end of the same one.
	mustAppend(ctx, t, store, "dup-"+uuid.NewString(), eventstore.NoStream, a)
	if res := mustAppend(ctx, t, store, stream, eventstore.Exact(2), a); res.NextRevision != 3 {
		t.Fatalf("id reused at the end: NextRevision %d, want 3", res.NextRevision)
	}
}

// TestServerRestart checks that the store works again once its server is
// back, although the client gives up its connection for good when the
// server stays away longer than its discovery attempts.
func TestServerRestart(t *testing.T) {
	ctx := testContext(t)
	first := esdbtest.MustStart(t, esdbtest.Config{})
	addr := first.Addr()
	store, _ := openStore(t, esdb.Config{URL: "esdb://" + addr + "?tls=false&maxDiscoverAttempts=2&discoveryInterval=20"})
	company := uuid.NewString()
	mustAppend(ctx, t, store, "restart-"+uuid.NewString(), eventstore.NoStream, newEvent("x.happened", company))

	first.Close()
	for i := range 3 { // enough for the client to give up its connection
		if _, err := store.Append(ctx, "restart-"+uuid.NewString(), eventstore.NoStream, []eventstore.EventData{newEvent("x.happened", company)}); err == nil {
			t.Fatalf("append %d succeeded with the server down", i)
		}
	}

	esdbtest.MustStart(t, esdbtest.Config{Addr: addr})
	ev := newEvent("x.happened", company)
	stream := "restart-" + uuid.NewString()
	var err error
	for range 20 {
		if _, err = store.Append(ctx, stream, eventstore.NoStream, []eventstore.EventData{ev}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("append after the server came back: %v", err)
	}
	if got, err := store.ReadStream(ctx, stream, 0, 0); err != nil || len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("read after the server came back: %d events, %v", len(got), err)
	}
}

func TestAppendTooLarge(t *testing.T) {
	ctx := testContext(t)
	srv := esdbtest.MustStart(t, esdbtest.Config{MaxAppendSize: 4096})
	store, _ := openStore(t, esdb.Config{URL: srv.URL()})
	company := uuid.NewString()
	sized := func(n int) eventstore.EventData {
		ev := newEvent("x.happened", company)
		ev.Data = json.RawMessage(`"` + strings.Repeat("x", n) + `"`)
		return ev
	}

	if _, err := store.Append(ctx, "big-1", eventstore.Any, []eventstore.EventData{sized(esdb.MaxEventSize)}); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("event over MaxEventSize: err = %v, want ErrInvalidEvent", err)
	}
	// Under the event limit, over this server's append limit with the
	// last event: the server's refusal arrives whole, as ErrInvalidEvent.
	_, err := store.Append(ctx, "big-2", eventstore.Any, []eventstore.EventData{sized(1500), sized(2500)})
	if !errors.Is(err, eventstore.ErrInvalidEvent) || !strings.Contains(err.Error(), "Maximum Append Size of 4096") {
		t.Fatalf("append over the server's limit: err = %v, want ErrInvalidEvent with the server's reason", err)
	}
	// Told the server's limit, the adapter refuses before sending.
	limited, _ := openStore(t, esdb.Config{URL: srv.URL(), MaxAppendSize: 4096})
	_, err = limited.Append(ctx, "big-3", eventstore.Any, []eventstore.EventData{sized(1500), sized(2500), sized(10)})
	if !errors.Is(err, eventstore.ErrInvalidEvent) || !strings.Contains(err.Error(), "max append size 4096") {
		t.Fatalf("append over the configured limit: err = %v, want ErrInvalidEvent", err)
	}
	for _, stream := range []string{"big-1", "big-2", "big-3"} {
		if got, err := store.ReadStream(ctx, stream, 0, 0); err != nil || len(got) > 0 {
			t.Fatalf("%s: %d events, %v; want none written", stream, len(got), err)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	// A port nobody listens on: connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	_ = l.Close()

	// A port that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	for name, addr := range map[string]string{"refused": refused, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			const bound = 500 * time.Millisecond
			start := time.Now()
			store, err := esdb.Open(context.Background(), esdb.Config{
				URL:            "esdb://admin:s3cret@" + addr + "?tls=false",
				ConnectTimeout: bound,
			})
			elapsed := time.Since(start)
			if err == nil {
				_ = store.Close()
				t.Fatal("Open succeeded")
			}
			if elapsed > bound+time.Second {
				t.Errorf("Open took %s, want about %s", elapsed, bound)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the host %s", err, addr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	err := esdb.Config{ConnectTimeout: -1, FilterWindow: -1, CheckpointInterval: -1}.Validate()
	for _, want := range []string{"url is empty", "connect timeout", "filter window", "checkpoint interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	for _, url := range []string{"esdb://admin:s3cret@db:notaport", "http://admin:s3cret@db:2113", "esdb://admin:s3cret@db:2113/path"} {
		err := esdb.Config{URL: url}.Validate()
		if err == nil {
			t.Errorf("Validate(%s) = nil, want an error", url)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Validate error %q shows the password", err)
		}
		if _, err := esdb.Open(context.Background(), esdb.Config{URL: url}); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s): err = %v, want an error without the password", url, err)
		}
	}
	if err := (esdb.Config{URL: "esdb://127.0.0.1:2113?tls=false"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
