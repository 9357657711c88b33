// Package eventstore defines the append-only event log that is agentdesk's
// single source of truth: the Store contract, the envelope types it speaks
// in, an embedded SQLite implementation and an acceptance suite that every
// implementation passes.
//
// Streams are named "<category>-<id>" (for example "ticket-1b9d…"); the
// category is the part before the first dash. Every event belongs to one
// stream at a revision (0, 1, 2, … within the stream) and has a global
// position, strictly increasing across the whole store in commit order.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID            string          `json:"id"`
	StreamID      string          `json:"stream_id"`
	Revision      uint64          `json:"revision"`
	Position      uint64          `json:"position"`
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
	// Position is the global position of the last event appended.
	Position uint64
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

// Start is the position before the first event: read or subscribe from
// Start to see everything.
const Start uint64 = 0

// End, as the starting revision of ReadStreamBackward, means "from the last event".
const End uint64 = ^uint64(0)

// Store is an append-only event log. Implementations are safe for
// concurrent use.
type Store interface {
	// Append writes events atomically at the end of stream if the stream
	// satisfies expected, else it returns an error that errors.Is
	// ErrWrongExpectedRevision and writes nothing. Appending events whose
	// ids are all already stored in the stream, in the same order, is a
	// no-op that returns where they landed; any other reuse of an id is
	// ErrDuplicateEvent. When Append returns nil the events are durable.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events []EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream with revision >= from,
	// in revision order. A stream with no events reads as empty, not an error.
	// limit <= 0 means no limit.
	ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error)

	// ReadStreamBackward returns up to limit events of stream with revision
	// <= from, newest first; pass End to start at the last event.
	ReadStreamBackward(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error)

	// ReadAll returns up to limit events with position > after that pass
	// filter, in position order. limit <= 0 means an implementation-chosen
	// batch size.
	ReadAll(ctx context.Context, after uint64, limit int, filter Filter) ([]RecordedEvent, error)

	// Head returns the global position of the last event stored, or 0.
	Head(ctx context.Context) (uint64, error)

	// Subscribe delivers every event with position > after that passes
	// filter, in position order: first the stored ones (catch-up), then new
	// ones as they are appended (live), with no gap and no duplicate. The
	// subscription ends when ctx is done or it is closed.
	Subscribe(ctx context.Context, after uint64, filter Filter) (Subscription, error)

	// Close releases the store. Appends in flight finish first.
	Close() error
}

// Subscription is a stream of events from a Store. It is used by one
// goroutine at a time.
type Subscription interface {
	// Next blocks until at least one event is available and returns the
	// next events in position order (one or more), or an error when ctx is
	// done, the subscription is closed (ErrClosed) or the store fails.
	Next(ctx context.Context) ([]RecordedEvent, error)
	// Close ends the subscription; a blocked Next returns ErrClosed.
	Close() error
}
