// Package esdb implements eventstore.Store on EventStoreDB / KurrentDB
// through its gRPC client, github.com/EventStore/EventStore-Client-Go/v4.
//
// Events are written as JSON events whose id is our event id and whose
// custom metadata is a JSON object holding our Metadata fields
// (company_id, actor_id, actor_role, correlation_id, causation_id,
// command_id, recorded_at, request_id, hash) and schema_version.
// Subscriptions are catch-up subscriptions to $all with a server-side
// filter.
//
// The hash chains each event to the previous one of its stream (see
// eventstore.EventHash), so before an append to a stream that may exist
// the adapter reads the event it chains to: with an exact expected
// revision, the event at that revision (the append stays guarded by it,
// so a concurrent append still makes it fail, and a retry computes the
// same hashes as its first attempt); with Any, the stream's last event.
// That read is one more round trip per append. Two concurrent appends
// with Any to one stream may both chain to the same event, a fork that
// eventstore.VerifyChain reports; the command pipeline always appends
// with an expected revision.
//
// Where it differs from the embedded SQLite store:
//   - Event ids are not unique across the store. The server only refuses an
//     id where its retry check sees one: appending events whose first id is
//     already in the stream, but not as an exact retry, is refused
//     (ErrDuplicateEvent here); any other reuse of an id, in another stream
//     or at the end of the same one, is written.
//   - Positions are the server's commit/prepare pairs: strictly increasing,
//     never contiguous. Each event of an append has its own position (the
//     server writes every event as its own committed record), and the
//     append reports the last one.
//   - Stream reads leave Position zero as the contract says, although the
//     server sends one.
//   - Events of system streams and system event types (names starting with
//     "$") are never delivered and may not be appended. Head, read
//     backwards from the end of $all, does count them.
//   - A checkpoint passes events the server's filter skipped (categories,
//     or types when no categories are given) only when the server sends one:
//     every FilterWindow × CheckpointInterval events it scans, and at the
//     end of a catch-up. Events skipped here (other companies, types when
//     categories are given too, system events, events not written by this
//     package) move the checkpoint at once.
//   - "Caught up" comes from the server's caught-up message, which servers
//     send since EventStoreDB 23.10. Before that, it comes from reaching
//     the head read when the subscription started; when the server's
//     filter skips the head event, that happens only once a server
//     checkpoint passes it, possibly long after the catch-up ended. Use
//     23.10 or later.
//   - Size: an event's data, custom metadata and twice its type may take at
//     most MaxEventSize bytes; the server's MaxAppendSize bounds one append
//     (256 MiB by default since KurrentDB 26.0, 1 MiB before: raise it
//     with --max-append-size on older servers), and its refusal is
//     reported as ErrInvalidEvent.
//   - The user in the URL needs read access to $all (by default, an admin).
package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	segjson "github.com/segmentio/encoding/json"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"agentdesk/eventstore"
)

// Defaults of Config.
const (
	// DefaultConnectTimeout is how long Open waits for the server.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultFilterWindow is the client's default search window: how many
	// events the server scans per page of a filtered catch-up.
	DefaultFilterWindow = 32
	// DefaultCheckpointInterval is the client's default multiplier of the
	// window between two server checkpoints.
	DefaultCheckpointInterval = 1
)

// MaxEventSize is the most bytes an event's data, custom metadata and
// twice its type may take: the server's largest log record (16 MiB) less
// its record overhead (10,000 bytes) and room for the gRPC message around
// the event.
const MaxEventSize = 16<<20 - 10000 - 6000

// Config configures Open.
type Config struct {
	// URL is the client's connection string, for example
	// "esdb://admin:changeit@db.example:2113" or
	// "esdb://127.0.0.1:2113?tls=false". Errors never repeat its password.
	URL string
	// ConnectTimeout bounds how long Open waits for the server to answer;
	// zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// FilterWindow is the server's search window for filtered
	// subscriptions; zero means DefaultFilterWindow.
	FilterWindow int
	// CheckpointInterval is how many windows of scanned events pass
	// between two server checkpoints; zero means DefaultCheckpointInterval.
	CheckpointInterval int
	// MaxAppendSize, when not zero, is the server's --max-append-size:
	// larger appends are refused with ErrInvalidEvent before anything is
	// sent. The server refuses them anyway, but may end the call while
	// the client still sends, and the client then reports only "EOF".
	MaxAppendSize int
	// Logger receives the client library's log lines; nil discards them.
	// Its errors arrive as warnings: it reports every subscription ended
	// by Close as an error.
	Logger *slog.Logger
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url is empty"))
	} else if _, err := esdb.ParseConnectionString(c.URL); err != nil {
		errs = append(errs, urlError(c.URL, err))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("connect timeout must be >= 0, got %s", c.ConnectTimeout))
	}
	if c.FilterWindow < 0 {
		errs = append(errs, fmt.Errorf("filter window must be >= 0, got %d", c.FilterWindow))
	}
	if c.CheckpointInterval < 0 {
		errs = append(errs, fmt.Errorf("checkpoint interval must be >= 0, got %d", c.CheckpointInterval))
	}
	if c.MaxAppendSize < 0 {
		errs = append(errs, fmt.Errorf("max append size must be >= 0, got %d", c.MaxAppendSize))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.FilterWindow == 0 {
		c.FilterWindow = DefaultFilterWindow
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	return c
}

// urlError describes why raw is not a connection string without showing
// its password: net/url's errors quote the whole URL, so only their reason
// is kept.
func urlError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("url: %s", ue.Err)
	}
	return fmt.Errorf("url %s: %s", redact(raw), strings.ReplaceAll(err.Error(), raw, redact(raw)))
}

// redact returns raw with its password hidden.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	return u.Redacted()
}

// Store is an eventstore.Store on an EventStoreDB server. It is safe for
// concurrent use.
type Store struct {
	cfg  Config
	conf esdb.Configuration // template for (re)creating the client
	host string

	// mu is held shared by calls in flight and exclusively by Close, so
	// that appends in flight finish before the connection closes.
	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed by Close

	clientMu sync.Mutex
	client   *esdb.Client
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to the server and checks that it answers within
// cfg.ConnectTimeout; if it does not, the error names the host (never the
// credentials).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("esdb: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("esdb: %w", urlError(cfg.URL, err))
	}
	conf.Logger = clientLogger(cfg.Logger)
	s := &Store{cfg: cfg, conf: *conf, host: hostOf(conf), done: make(chan struct{})}
	client, err := s.newClient()
	if err != nil {
		return nil, err
	}

	// The client connects lazily and its connection step takes no
	// context, so the first call runs aside and Open stops waiting at the
	// deadline; the call then ends on its own, bounded by the client's
	// discovery attempts, and closes the client.
	waitCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		_, err := head(waitCtx, client)
		answered <- err
	}()
	select {
	case err := <-answered:
		if err != nil {
			_ = client.Close()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("esdb: connect to %s: %w", s.host, ctx.Err())
			}
			return nil, fmt.Errorf("esdb: connect to %s: %w", s.host, err)
		}
	case <-waitCtx.Done():
		go func() {
			<-answered
			_ = client.Close()
		}()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("esdb: connect to %s: %w", s.host, ctx.Err())
		}
		return nil, fmt.Errorf("esdb: connect to %s: no answer within %s", s.host, cfg.ConnectTimeout)
	}
	s.client = client
	return s, nil
}

func (s *Store) newClient() (*esdb.Client, error) {
	conf := s.conf
	client, err := esdb.NewClient(&conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: client for %s: %w", s.host, err)
	}
	return client, nil
}

// hostOf names the server(s) of conf for error messages.
func hostOf(conf *esdb.Configuration) string {
	if len(conf.GossipSeeds) == 0 {
		return conf.Address
	}
	seeds := make([]string, len(conf.GossipSeeds))
	for i, seed := range conf.GossipSeeds {
		seeds[i] = seed.String()
	}
	return strings.Join(seeds, ",")
}

// clientLogger routes the client library's log lines to l.
func clientLogger(l *slog.Logger) esdb.LoggingFunc {
	if l == nil {
		return esdb.NoopLogging()
	}
	return func(level esdb.LogLevel, format string, args ...any) {
		lvl := slog.LevelDebug
		if level == esdb.LogWarn || level == esdb.LogError {
			lvl = slog.LevelWarn
		}
		l.Log(context.Background(), lvl, fmt.Sprintf(format, args...), "component", "esdb-client")
	}
}

// acquire returns the client for one call and a release function, or
// ErrClosed. Close waits for every release.
func (s *Store) acquire(op string) (*esdb.Client, func(), error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, nil, fmt.Errorf("%s: %w", op, eventstore.ErrClosed)
	}
	s.clientMu.Lock()
	client := s.client
	s.clientMu.Unlock()
	return client, s.mu.RUnlock, nil
}

// retry runs f with client. A client gives up its connection for good
// when a rediscovery fails (a server down for longer than its discovery
// attempts), and from then on fails every call at once with
// ErrorCodeConnectionClosed, having sent nothing; retry then replaces it
// and runs f once more with the new one. It returns the client f last ran
// with.
func (s *Store) retry(client *esdb.Client, f func(*esdb.Client) error) (*esdb.Client, error) {
	err := f(client)
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeConnectionClosed {
		client = s.replaceClient(client)
		err = f(client)
	}
	return client, err
}

// fail wraps err from the client for op.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	select {
	case <-s.done:
		return fmt.Errorf("%s: %w", op, eventstore.ErrClosed)
	default:
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%v)", op, ctx.Err(), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// replaceClient replaces old, unless another call did already, and
// returns the client to use. Calls in flight hold s.mu, so Close waits.
func (s *Store) replaceClient(old *esdb.Client) *esdb.Client {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	if s.client != old {
		return s.client
	}
	fresh, err := s.newClient()
	if err != nil {
		return old // the configuration was valid once; keep the old client
	}
	_ = old.Close()
	s.client = fresh
	return fresh
}

// Close closes the connection after the calls in flight. Subscriptions
// end with ErrClosed. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("esdb: close: %w", err)
	}
	return nil
}

// customMetadata is the JSON of an event's custom metadata.
type customMetadata struct {
	eventstore.Metadata
	SchemaVersion int `json:"schema_version"`
}

// Append implements eventstore.Store. The events are checked before
// anything is sent.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	op := "append to " + stream
	client, release, err := s.acquire(op)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	defer release()
	proposed, size, err := encodeEvents(stream, events)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("%s: %w", op, err)
	}
	client, err = s.chain(ctx, client, stream, expected, events, proposed)
	if err != nil {
		return eventstore.AppendResult{}, s.fail(ctx, op, err)
	}
	if s.cfg.MaxAppendSize > 0 && size > s.cfg.MaxAppendSize {
		return eventstore.AppendResult{}, fmt.Errorf("%s: %w: %d bytes, more than the server's max append size %d",
			op, eventstore.ErrInvalidEvent, size, s.cfg.MaxAppendSize)
	}
	opts := esdb.AppendToStreamOptions{ExpectedRevision: toExpected(expected)}
	var res *esdb.WriteResult
	client, err = s.retry(client, func(c *esdb.Client) (err error) {
		res, err = c.AppendToStream(ctx, stream, opts, proposed...)
		return err
	})
	if err != nil {
		if errors.Is(err, io.EOF) && ctx.Err() == nil {
			// gRPC hides the server's status from a sender cut short.
			return eventstore.AppendResult{}, fmt.Errorf("%s: the server ended the call before it had all %d events (%d bytes; over its max append size?): %w",
				op, len(events), size, err)
		}
		return eventstore.AppendResult{}, s.appendError(ctx, op, client, stream, expected, events, err)
	}
	return eventstore.AppendResult{
		NextRevision: res.NextExpectedVersion,
		Position:     eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}, nil
}

func toExpected(e eventstore.ExpectedRevision) esdb.ExpectedRevision {
	if r, ok := e.Revision(); ok {
		return esdb.Revision(r)
	}
	if e.IsNoStream() {
		return esdb.NoStream{}
	}
	return esdb.Any{}
}

// appendError maps the server's refusal of an append. The server answers
// a wrong expected version also for a request that starts like a retry
// but is not one ("corrupted idempotency"): with expected revision any that
// is the only cause, and with a revision it is told apart by reading the
// event the retry would have found first.
func (s *Store) appendError(ctx context.Context, op string, client *esdb.Client, stream string,
	expected eventstore.ExpectedRevision, events []eventstore.EventData, err error) error {
	var esErr *esdb.Error
	if !errors.As(err, &esErr) {
		return s.fail(ctx, op, err)
	}
	switch esErr.Code() {
	case esdb.ErrorCodeWrongExpectedVersion:
		server := strings.TrimPrefix(fmt.Sprint(esErr.Err()), "wrong expected version: ")
		if expected.IsAny() {
			return fmt.Errorf("%s: %w: the first event's id is in the stream but the others are not where a retry would find them (server: %s)",
				op, eventstore.ErrDuplicateEvent, server)
		}
		at := uint64(0)
		if r, ok := expected.Revision(); ok {
			at = r + 1
		}
		if found, _ := s.readStream(ctx, client, stream, esdb.ReadStreamOptions{From: esdb.Revision(at)}, 1); len(found) == 1 {
			if id, perr := uuid.Parse(events[0].ID); perr == nil && found[0].ID == id.String() {
				return fmt.Errorf("%s: %w: the events are not an exact retry of the append at revision %d (server: %s)",
					op, eventstore.ErrDuplicateEvent, at, server)
			}
		}
		return fmt.Errorf("%s: %w: expected %s, server: %s", op, eventstore.ErrWrongExpectedRevision, expected, server)
	case esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%s: stream is deleted: %w", op, err)
	}
	if st, ok := status.FromError(esErr.Err()); ok && st.Code() == codes.InvalidArgument {
		// The server's size limits, or anything else it finds wrong
		// with the events themselves.
		return fmt.Errorf("%s: %w: server refused the events: %s", op, eventstore.ErrInvalidEvent, st.Message())
	}
	return s.fail(ctx, op, err)
}

// encodeEvents checks events as the SQLite store does (plus the server's
// limits and reserved names) and converts them for the client. It also
// returns their size as the server measures it.
func encodeEvents(stream string, events []eventstore.EventData) ([]esdb.EventData, int, error) {
	if stream == "" {
		return nil, 0, fmt.Errorf("%w: empty stream id", eventstore.ErrInvalidEvent)
	}
	if strings.HasPrefix(stream, "$") {
		return nil, 0, fmt.Errorf("%w: stream id %q: names starting with $ are the server's", eventstore.ErrInvalidEvent, stream)
	}
	if len(events) == 0 {
		return nil, 0, fmt.Errorf("%w: no events", eventstore.ErrInvalidEvent)
	}
	out := make([]esdb.EventData, len(events))
	total := 0
	seen := make(map[uuid.UUID]bool, len(events))
	for i, ev := range events {
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: event %d: id %q is not a UUID", eventstore.ErrInvalidEvent, i, ev.ID)
		}
		if seen[id] {
			return nil, 0, fmt.Errorf("%w: event %d: id %s appears twice in one append", eventstore.ErrDuplicateEvent, i, id)
		}
		seen[id] = true
		switch {
		case ev.Type == "":
			return nil, 0, fmt.Errorf("%w: event %d (%s): empty type", eventstore.ErrInvalidEvent, i, id)
		case strings.HasPrefix(ev.Type, "$"):
			return nil, 0, fmt.Errorf("%w: event %d (%s): type %q: names starting with $ are the server's", eventstore.ErrInvalidEvent, i, id, ev.Type)
		case !segjson.Valid(ev.Data): // as the SQLite store checks it
			return nil, 0, fmt.Errorf("%w: event %d (%s): data is not valid JSON", eventstore.ErrInvalidEvent, i, id)
		}
		version := ev.SchemaVersion
		if version == 0 {
			version = 1
		}
		if version < 1 {
			return nil, 0, fmt.Errorf("%w: event %d (%s): schema version %d < 1", eventstore.ErrInvalidEvent, i, id, version)
		}
		md := ev.Metadata
		md.Hash = "" // set by chain
		meta, err := json.Marshal(customMetadata{Metadata: md, SchemaVersion: version})
		if err != nil {
			return nil, 0, fmt.Errorf("%w: event %d (%s): metadata: %v", eventstore.ErrInvalidEvent, i, id, err)
		}
		// The server's measure (Event.SizeOnDisk counts the type in UTF-16),
		// with the hash that chain adds to the metadata.
		size := len(ev.Data) + len(meta) + hashSize + 2*len(utf16.Encode([]rune(ev.Type)))
		if size > MaxEventSize {
			return nil, 0, fmt.Errorf("%w: event %d (%s): %d bytes, more than %d", eventstore.ErrInvalidEvent, i, id, size, MaxEventSize)
		}
		total += size
		out[i] = esdb.EventData{
			EventID:     id,
			EventType:   ev.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        ev.Data,
			Metadata:    meta,
		}
	}
	return out, total, nil
}

// hashSize is what a hash adds to an event's custom metadata:
// `,"hash":"<64 hex digits>"`.
const hashSize = len(`,"hash":""`) + 64

// chain sets the hash of every event of proposed, the encoded events, to
// chain after the event the append will follow: the event at the
// expected revision, the stream's last one for Any, none for NoStream.
// When that event is missing the append fails on its expected revision
// anyway. It returns the client it last ran with.
func (s *Store) chain(ctx context.Context, client *esdb.Client, stream string, expected eventstore.ExpectedRevision,
	events []eventstore.EventData, proposed []esdb.EventData) (*esdb.Client, error) {
	prev, next := eventstore.GenesisHash, uint64(0)
	if !expected.IsNoStream() {
		opts := esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}
		if r, ok := expected.Revision(); ok {
			opts = esdb.ReadStreamOptions{From: esdb.Revision(r)}
		}
		var found []eventstore.RecordedEvent
		var err error
		client, err = s.retry(client, func(c *esdb.Client) (err error) {
			found, err = s.readStream(ctx, c, stream, opts, 1)
			return err
		})
		if err != nil {
			return client, fmt.Errorf("read the event to chain to: %w", err)
		}
		if len(found) == 1 {
			// An event stored before hashing starts a new chain.
			if found[0].Metadata.Hash != "" {
				prev = found[0].Metadata.Hash
			}
			next = found[0].Revision + 1
		}
	}
	for i, ev := range events {
		rec := eventstore.RecordedEvent{
			ID:            proposed[i].EventID.String(),
			StreamID:      stream,
			Revision:      next + uint64(i),
			Type:          ev.Type,
			SchemaVersion: max(ev.SchemaVersion, 1),
			Data:          ev.Data,
			Metadata:      ev.Metadata,
		}
		prev = eventstore.EventHash(prev, rec)
		rec.Metadata.Hash = prev
		meta, err := json.Marshal(customMetadata{Metadata: rec.Metadata, SchemaVersion: rec.SchemaVersion})
		if err != nil {
			return client, err // encodeEvents marshalled the same metadata
		}
		proposed[i].Metadata = meta
	}
	return client, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	op := "read stream " + stream
	client, release, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer release()
	var events []eventstore.RecordedEvent
	_, err = s.retry(client, func(c *esdb.Client) (err error) {
		events, err = s.readStream(ctx, c, stream, esdb.ReadStreamOptions{From: esdb.Revision(from)}, limit)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return events, nil
}

// ReadStreamBackward implements eventstore.Store.
func (s *Store) ReadStreamBackward(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	op := "read stream " + stream + " backward"
	client, release, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer release()
	opts := esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(from)}
	if from == eventstore.End {
		opts.From = esdb.End{}
	}
	var events []eventstore.RecordedEvent
	_, err = s.retry(client, func(c *esdb.Client) (err error) {
		events, err = s.readStream(ctx, c, stream, opts, limit)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return events, nil
}

// readStream reads up to limit (<= 0: all) events; a missing stream reads
// as empty.
func (s *Store) readStream(ctx context.Context, client *esdb.Client, stream string, opts esdb.ReadStreamOptions, limit int) ([]eventstore.RecordedEvent, error) {
	count := uint64(math.MaxUint64)
	if limit > 0 {
		count = uint64(limit)
	}
	rs, err := client.ReadStream(ctx, stream, opts, count)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var events []eventstore.RecordedEvent
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		var esErr *esdb.Error
		if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeResourceNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		ev, err := decode(re.Event)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
}

// decode converts a stored event; Position is left zero.
func decode(ev *esdb.RecordedEvent) (eventstore.RecordedEvent, error) {
	if ev == nil {
		return eventstore.RecordedEvent{}, errors.New("read an unresolved link")
	}
	var meta customMetadata
	if err := json.Unmarshal(ev.UserMetadata, &meta); err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("event %s (revision %d of %s): custom metadata is not ours: %w",
			ev.EventID, ev.EventNumber, ev.StreamID, err)
	}
	if meta.SchemaVersion == 0 {
		meta.SchemaVersion = 1
	}
	return eventstore.RecordedEvent{
		ID:            ev.EventID.String(),
		StreamID:      ev.StreamID,
		Revision:      ev.EventNumber,
		Type:          ev.EventType,
		SchemaVersion: meta.SchemaVersion,
		Data:          json.RawMessage(ev.Data),
		Metadata:      meta.Metadata,
	}, nil
}

// Head implements eventstore.Store: the position of the last event in
// $all, system events included.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	client, release, err := s.acquire("head")
	if err != nil {
		return eventstore.Start, err
	}
	defer release()
	var p eventstore.Position
	_, err = s.retry(client, func(c *esdb.Client) (err error) {
		p, err = head(ctx, c)
		return err
	})
	if err != nil {
		return eventstore.Start, s.fail(ctx, "head", err)
	}
	return p, nil
}

func head(ctx context.Context, client *esdb.Client) (eventstore.Position, error) {
	rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return eventstore.Start, err
	}
	defer rs.Close()
	re, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Start, err
	}
	p := re.OriginalEvent().Position
	return eventstore.Position{Commit: p.Commit, Prepare: p.Prepare}, nil
}
