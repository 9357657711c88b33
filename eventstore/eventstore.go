// Package eventstore defines the append-only event log that is agentdesk's
// single source of truth: the Store contract, the envelope types it speaks
// in, and the embedded SQLite implementation.
//
// Streams are named "<category>-<id>" (for example "ticket-1b9d…"); the
// category is the part before the first dash. Every event belongs to one
// stream at a revision (0, 1, 2, … within the stream) and has a global
// Position, strictly increasing across the whole store in commit order.
// Positions are opaque: EventStoreDB's is a commit/prepare pair.
//
// Readers of the whole log subscribe: a Subscription catches up from a
// position, then follows new events, and reports checkpoints (how far it
// has looked, even past events its filter skips) and when it has caught
// up. The EventStoreDB adapter is in the subpackage esdb; the acceptance
// suite every implementation passes is in eventstoretest.
//
// # Tamper evidence
//
// Every event carries, in Metadata.Hash, a SHA-256 hash chained to the
// previous event of its stream (EventHash); a stream's first event chains
// to GenesisHash. The store computes it when it appends, and VerifyChain
// recomputes every chain from the log.
//
// The chain is per stream, not per company or over the global order:
// appends to different streams run concurrently, and the command pipeline
// already knows each stream's head through optimistic concurrency, so the
// previous hash costs no extra coordination. A per-company chain would
// serialize every append of a company behind one head, and EventStoreDB
// assigns the global order only when it commits, so a chain over that
// order cannot be computed before the append.
//
// What a per-stream chain does not catch: a stream's last events cut off
// (truncation), a whole stream removed, or events of different streams
// swapped in the global order. VerifyChain also checks that every stream
// starts at revision 0 with no revision missing, which tells events
// deleted from the start or the middle of a stream, and that positions
// increase. Nor does it stop someone who can
// write the log and recompute hashes: there is no secret in them, so a
// stream rewritten with fresh hashes from the edited event on verifies.
// It shows edits made behind the store's back, not a forger who knows the
// format.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors returned by every Store. Callers test them with errors.Is.
var (
	// ErrWrongExpectedRevision means the stream was not at the revision the
	// caller expected: somebody else appended first.
	ErrWrongExpectedRevision = errors.New("wrong expected revision")
	// ErrDuplicateEvent means an event id is already stored in a way that
	// does not match a retry of the same append (another stream or position).
	ErrDuplicateEvent = errors.New("duplicate event id")
	// ErrInvalidEvent means an event to append is malformed (no id, no type,
	// data that is not JSON).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrClosed is returned by a Store or Subscription used after Close.
	ErrClosed = errors.New("event store closed")
	// ErrNoSpace means the store ran out of disk (or quota): nothing was
	// appended, and appends fail until space is freed.
	ErrNoSpace = errors.New("event store out of space")
)

// ExpectedRevision is the optimistic-concurrency condition of an Append.
type ExpectedRevision struct {
	kind     expectKind
	revision uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExact
)

var (
	// Any appends whatever the stream's state.
	Any = ExpectedRevision{kind: expectAny}
	// NoStream appends only if the stream has no events yet.
	NoStream = ExpectedRevision{kind: expectNoStream}
)

// Exact appends only if the stream's last event has revision r.
func Exact(r uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, revision: r} }

// IsAny reports whether e places no condition on the stream.
func (e ExpectedRevision) IsAny() bool { return e.kind == expectAny }

// IsNoStream reports whether e requires the stream not to exist.
func (e ExpectedRevision) IsNoStream() bool { return e.kind == expectNoStream }

// Revision returns the exact revision expected and true, or 0 and false
// when e is Any or NoStream.
func (e ExpectedRevision) Revision() (uint64, bool) { return e.revision, e.kind == expectExact }

// Matches reports whether a stream whose last revision is last (exists
// false when the stream is empty) satisfies e.
func (e ExpectedRevision) Matches(last uint64, exists bool) bool {
	switch e.kind {
	case expectNoStream:
		return !exists
	case expectExact:
		return exists && last == e.revision
	default:
		return true
	}
}

// String describes e for error messages.
func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectExact:
		return fmt.Sprintf("revision %d", e.revision)
	default:
		return "any"
	}
}

// Metadata is stamped on every event by the command pipeline from the
// authenticated principal, never from a request body.
type Metadata struct {
	CompanyID     string    `json:"company_id"`
	ActorID       string    `json:"actor_id"`
	ActorRole     string    `json:"actor_role"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"`
	CommandID     string    `json:"command_id"`
	RecordedAt    time.Time `json:"recorded_at"`
	// RequestID is the id of the HTTP request that caused the event, as
	// its logs show it; empty for events of no request.
	RequestID string `json:"request_id,omitempty"`
	// Hash chains the event to the previous one of its stream (see
	// EventHash). The store sets it when it appends, replacing whatever
	// the caller passed; it is empty on events stored before hashing.
	Hash string `json:"hash,omitempty"`
}

// EventData is an event to append.
type EventData struct {
	// ID is a UUID chosen by the caller. Appending the same ids again to the
	// same stream at the same revisions is a no-op (an idempotent retry).
	ID string
	// Type is a stable, past-tense, namespaced name such as "ticket.opened".
	Type string
	// SchemaVersion is the version of Data's schema, starting at 1.
	SchemaVersion int
	// Data is the event's JSON payload.
	Data json.RawMessage
	// Metadata describes who caused the event and when.
	Metadata Metadata
}

// Position is an event's place in the global order of the whole store (the
// "$all" stream). It is opaque to callers: compare positions with Compare,
// store them with Key and ParseKey. EventStoreDB's position is a
// commit/prepare pair and is carried whole; the SQLite store numbers its
// events 1, 2, 3, … and sets both parts to that number.
//
// The zero Position, Start, is the start of the log, before every event.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event: subscribe from Start to
// see everything.
var Start = Position{}

// Compare returns -1, 0 or +1 as p is before, at or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Commit < q.Commit:
		return -1
	case p.Commit > q.Commit:
		return 1
	case p.Prepare < q.Prepare:
		return -1
	case p.Prepare > q.Prepare:
		return 1
	}
	return 0
}

// IsZero reports whether p is Start.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p for people: "commit/prepare", or just the number when
// both parts are equal (every SQLite position).
func (p Position) String() string {
	if p.Commit == p.Prepare {
		return strconv.FormatUint(p.Commit, 10)
	}
	return strconv.FormatUint(p.Commit, 10) + "/" + strconv.FormatUint(p.Prepare, 10)
}

// keyLen is the length of a Key: two 16-digit hex numbers.
const keyLen = 32

// Key encodes p as 32 lower-case hex digits whose byte order is the
// positions' order, so stores that only compare strings (a read model's
// version guard, a checkpoint) keep positions in order. Start is "", which
// sorts before every other key.
func (p Position) Key() string {
	if p.IsZero() {
		return ""
	}
	const hexDigits = "0123456789abcdef"
	var b [keyLen]byte
	for i, v := range [2]uint64{p.Commit, p.Prepare} {
		for j := 15; j >= 0; j-- {
			b[i*16+j] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	return string(b[:])
}

// ParseKey decodes a Key; "" is Start.
func ParseKey(key string) (Position, error) {
	if key == "" {
		return Start, nil
	}
	if len(key) != keyLen {
		return Position{}, fmt.Errorf("position key %q: want %d hex digits", key, keyLen)
	}
	c, err1 := strconv.ParseUint(key[:16], 16, 64)
	p, err2 := strconv.ParseUint(key[16:], 16, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Position{}, fmt.Errorf("position key %q: %w", key, err)
	}
	return Position{Commit: c, Prepare: p}, nil
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       string `json:"id"`
	StreamID string `json:"stream_id"`
	Revision uint64 `json:"revision"`
	// Position is the event's global position. It is set on events a
	// Subscription delivers; a stream read leaves it zero (not every
	// EventStoreDB version reports it there), so that no caller comes to
	// depend on it. Read-your-writes takes the position from AppendResult.
	Position      Position        `json:"position"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      Metadata        `json:"metadata"`
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// NextRevision is the revision of the last event appended: the value to
	// pass as Exact for the next append to the stream.
	NextRevision uint64
	// Position is the global position of the last event appended; a reader
	// that has reached it has seen the append (read-your-writes).
	Position Position
}

// Filter selects events when reading or subscribing to all streams. Empty
// fields select everything.
type Filter struct {
	// CompanyID keeps only events stamped with this company.
	CompanyID string
	// Categories keeps only events of streams in these categories.
	Categories []string
	// Types keeps only events of these types.
	Types []string
}

// Match reports whether ev passes f.
func (f Filter) Match(ev RecordedEvent) bool {
	if f.CompanyID != "" && ev.Metadata.CompanyID != f.CompanyID {
		return false
	}
	if len(f.Categories) > 0 && !contains(f.Categories, Category(ev.StreamID)) {
		return false
	}
	if len(f.Types) > 0 && !contains(f.Types, ev.Type) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Category returns the category of a stream: the part before the first dash.
func Category(stream string) string {
	if i := strings.IndexByte(stream, '-'); i >= 0 {
		return stream[:i]
	}
	return stream
}

// End, as the starting revision of ReadStreamBackward, means "from the last event".
const End uint64 = ^uint64(0)

// Store is an append-only event log. Implementations are safe for
// concurrent use.
type Store interface {
	// Append writes events atomically at the end of stream if the stream
	// satisfies expected, else it returns an error that errors.Is
	// ErrWrongExpectedRevision and writes nothing. Appending again events
	// whose ids are all already stored in the stream, in the same order,
	// with the expected revision of the first attempt (a retry), is a no-op
	// that returns their revision (and their position where the store can
	// tell it, else Start). A reuse of an id that is not a retry is refused
	// with ErrDuplicateEvent where the store detects it: the SQLite store
	// does everywhere, EventStoreDB does not (ids are only unique there as
	// far as its retry check goes). When Append returns nil the events are
	// durable. Append sets every event's Metadata.Hash, chaining it to the
	// stream's previous event (see EventHash); a retry's events keep the
	// hashes of the first attempt.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events []EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream with revision >= from,
	// in revision order. A stream with no events reads as empty, not an error.
	// limit <= 0 means no limit.
	ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error)

	// ReadStreamBackward returns up to limit events of stream with revision
	// <= from, newest first; pass End to start at the last event.
	ReadStreamBackward(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error)

	// Head returns the position of the last event stored, or Start.
	Head(ctx context.Context) (Position, error)

	// Subscribe delivers every event after position from (from Start: every
	// event) that passes filter, in position order: first the stored ones
	// (catch-up), then new ones as they are appended (live), with no gap
	// and no duplicate. The subscription ends when ctx is done or it is
	// closed.
	Subscribe(ctx context.Context, from Position, filter Filter) (Subscription, error)

	// Close releases the store. Appends in flight finish first.
	Close() error
}

// Subscription is a stream of events from a Store. It is used by one
// goroutine at a time.
type Subscription interface {
	// Next blocks until there is something to report and returns it: up to
	// max events (max <= 0: an implementation-chosen number), a checkpoint,
	// or both. It returns an error when ctx is done, the subscription is
	// closed (ErrClosed) or the store fails.
	Next(ctx context.Context, max int) (Batch, error)
	// Close ends the subscription; a blocked Next returns ErrClosed. It is
	// safe to call from another goroutine and more than once.
	Close() error
}

// Batch is what a Subscription reports at once.
type Batch struct {
	// Events are the next events, in position order; possibly none.
	Events []RecordedEvent
	// Checkpoint, when not Start, is a position at or after the last event
	// of Events up to which every event passing the filter has been
	// delivered: a subscription resumed from it misses nothing. It runs
	// ahead of the events when the filter skips some, so a sparse
	// subscriber still advances with the log.
	Checkpoint Position
	// CaughtUp is true once the subscription has delivered every event
	// stored when it started, and on every batch after.
	CaughtUp bool
}
