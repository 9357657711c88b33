package eventstore

// Tamper evidence (see the package doc): the hash chain of each stream,
// and VerifyChain, which recomputes it from the log.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"
	"unicode/utf8"
)

// GenesisHash is the previous hash of a stream's first event: 32 zero
// bytes, hex-encoded.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// EventHash returns the hash of ev chained to prev (hex; GenesisHash for
// a stream's first event): SHA-256 of prev's bytes followed by the
// canonical encoding of ev. The encoding is each of these fields preceded
// by its length as an 8-byte big-endian number: stream id, revision (8
// bytes, big-endian), event id, type, schema version (8 bytes,
// big-endian), the data exactly as stored, and the metadata company_id,
// actor_id, actor_role, correlation_id, causation_id, command_id,
// recorded_at (RFC 3339 with nanoseconds, UTC) and request_id.
// ev.Metadata.Hash and ev.Position are not part of it. A prev that is not
// 64 hex digits hashes as it is, so it never matches a real chain.
func EventHash(prev string, ev RecordedEvent) string {
	var p [sha256.Size]byte
	if n, err := hex.Decode(p[:], []byte(prev)); err != nil || n != len(p) {
		h := sha256.Sum256([]byte(prev))
		p = h
	}
	var c chainHasher
	sum := c.sum(p, ev.StreamID, ev.Revision, canonicalHead(ev.ID, ev.Type, ev.SchemaVersion, len(ev.Data)), ev.Data,
		canonicalTail(ev.Metadata))
	return hex.EncodeToString(sum[:])
}

// chainHasher computes chained hashes with one reused SHA-256 state and
// scratch buffer; the SQLite store's writer keeps one.
type chainHasher struct {
	h       hash.Hash
	scratch []byte
}

// sum returns SHA-256(prev ‖ stream ‖ revision ‖ head ‖ data ‖ tail),
// where head and tail are the length-prefixed fields canonicalHead and
// canonicalTail encode; stream and revision are added here because only
// the appender that knows the stream's head knows the revision.
func (c *chainHasher) sum(prev [sha256.Size]byte, stream string, revision uint64, head, data, tail []byte) [sha256.Size]byte {
	if c.h == nil {
		c.h = sha256.New()
	}
	c.h.Reset()
	b := append(c.scratch[:0], prev[:]...)
	b = appendField(b, stream)
	b = binary.BigEndian.AppendUint64(b, 8)
	b = binary.BigEndian.AppendUint64(b, revision)
	b = append(b, head...)
	c.h.Write(b)
	c.h.Write(data)
	c.h.Write(tail)
	c.scratch = b
	var out [sha256.Size]byte
	c.h.Sum(out[:0])
	return out
}

// canonicalHead encodes the event id, type and schema version, and the
// length prefix of the data that follows them.
func canonicalHead(id, typ string, schemaVersion, dataLen int) []byte {
	b := make([]byte, 0, 8*5+len(id)+len(typ))
	b = appendField(b, id)
	b = appendField(b, typ)
	b = binary.BigEndian.AppendUint64(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(schemaVersion))
	return binary.BigEndian.AppendUint64(b, uint64(dataLen))
}

// canonicalTail encodes the metadata fields, as a store gives them back:
// a string that is not valid UTF-8 comes back from its JSON with U+FFFD
// in place of the bad bytes, and the time comes back in UTC.
func canonicalTail(m Metadata) []byte {
	fields := [...]string{m.CompanyID, m.ActorID, m.ActorRole, m.CorrelationID, m.CausationID, m.CommandID,
		m.RecordedAt.UTC().Format(time.RFC3339Nano), m.RequestID}
	n := 0
	for _, f := range fields {
		n += 8 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		if !utf8.ValidString(f) {
			f = jsonValidUTF8(f)
		}
		b = appendField(b, f)
	}
	return b
}

// jsonValidUTF8 replaces what encoding/json replaces when it encodes s:
// every byte that starts no valid UTF-8 sequence becomes U+FFFD.
func jsonValidUTF8(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r) // range yields utf8.RuneError (U+FFFD) per bad byte
	}
	return string(out)
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// decodeHash parses a hex hash; ok is false for anything else (no hash,
// or not one this package wrote).
func decodeHash(s string) (h [sha256.Size]byte, ok bool) {
	n, err := hex.Decode(h[:], []byte(s))
	return h, err == nil && n == len(h) && len(s) == 2*len(h)
}

// ChainProblem is what is wrong with a link of a stream's chain.
type ChainProblem string

// The problems VerifyChain reports.
const (
	// HashMismatch: the event's hash is not the hash of its contents
	// chained to the previous event; the event (or one before it that the
	// chain ran through) was changed after it was written.
	HashMismatch ChainProblem = "hash mismatch"
	// RevisionGap: revisions are missing before this event; events were
	// deleted.
	RevisionGap ChainProblem = "revision gap"
	// RevisionOutOfOrder: a revision comes at a position before an earlier
	// revision of its stream, or twice; events were reordered.
	RevisionOutOfOrder ChainProblem = "revision out of order"
	// PositionOutOfOrder: positions do not increase; the log was reordered.
	PositionOutOfOrder ChainProblem = "position out of order"
	// MissingHash: a stream's chain has started but this event has no hash
	// (or not a well-formed one).
	MissingHash ChainProblem = "missing hash"
)

// ChainBreak is a broken link: the event at which a stream's chain stops
// verifying.
type ChainBreak struct {
	StreamID string
	Revision uint64
	Position Position
	EventID  string
	Problem  ChainProblem
	// Detail says what was found, for people.
	Detail string
}

// String describes b for people.
func (b ChainBreak) String() string {
	return fmt.Sprintf("stream %s, revision %d, position %s, event %s: %s: %s",
		b.StreamID, b.Revision, b.Position, b.EventID, b.Problem, b.Detail)
}

// ChainReport is what VerifyChain found.
type ChainReport struct {
	// Events and Streams are how many events and streams were read.
	Events, Streams int
	// Unchained counts events stored before hashes were written: events
	// without a hash ahead of the first hashed event of their stream. They
	// are not checked. LastUnchained is the position of the last of them;
	// on a log that existed before hashing it should be older than the
	// upgrade.
	Unchained     int
	LastUnchained Position
	// Broken is the first broken link in position order, nil when every
	// chain verifies. BrokenStreams counts the streams with a broken link;
	// a stream is not checked past its first one.
	Broken        *ChainBreak
	BrokenStreams int
	// Head is the position of the last event read.
	Head Position
}

// Intact reports whether no link is broken.
func (r ChainReport) Intact() bool { return r.Broken == nil }

// VerifyChain reads every event of store that passes filter, in position
// order, and recomputes each stream's hash chain. It also checks that
// each stream starts at revision 0, that no revision is missing or out of
// order, and that positions increase. A broken link is reported in the
// ChainReport, not as an error; the error is for a failing read.
//
// filter must select whole streams: a type filter would leave holes in
// every stream, so it is refused. A company filter selects whole streams
// because the command pipeline stamps every event of a stream with the
// stream's company. It keeps a few dozen bytes per stream in memory.
func VerifyChain(ctx context.Context, store Store, filter Filter) (ChainReport, error) {
	if len(filter.Types) > 0 {
		return ChainReport{}, errors.New("verify chain: a type filter would break every stream's chain; filter by company or category")
	}
	sub, err := store.Subscribe(ctx, Start, filter)
	if err != nil {
		return ChainReport{}, fmt.Errorf("verify chain: %w", err)
	}
	defer sub.Close()
	v := chainVerifier{streams: map[string]*streamChain{}}
	for {
		b, err := sub.Next(ctx, 0)
		if err != nil {
			return ChainReport{}, fmt.Errorf("verify chain: after %d events: %w", v.report.Events, err)
		}
		for _, ev := range b.Events {
			v.check(ev)
		}
		if b.CaughtUp {
			v.report.Streams = len(v.streams)
			return v.report, nil
		}
	}
}

// streamChain is a stream's state during VerifyChain.
type streamChain struct {
	next    uint64            // the revision expected next
	prev    [sha256.Size]byte // hash of the last event checked
	chained bool              // a hashed event was seen
	// broken is the stream's first broken link; gapEnd, for a gap, is the
	// revision after the missing ones, so that a missing revision turning
	// up later shows the gap was a reordering.
	broken *ChainBreak
	gapEnd uint64
}

type chainVerifier struct {
	streams map[string]*streamChain
	report  ChainReport
	hasher  chainHasher
}

func (v *chainVerifier) check(ev RecordedEvent) {
	r := &v.report
	r.Events++
	if r.Events > 1 && ev.Position.Compare(r.Head) <= 0 {
		v.breakAt(nil, ev, PositionOutOfOrder, fmt.Sprintf("position %s follows position %s", ev.Position, r.Head))
	}
	r.Head = ev.Position
	s := v.streams[ev.StreamID]
	if s == nil {
		s = &streamChain{}
		v.streams[ev.StreamID] = s
	}
	if s.broken != nil {
		if s.broken.Problem == RevisionGap && ev.Revision >= s.next && ev.Revision < s.gapEnd {
			s.broken.Problem = RevisionOutOfOrder
			s.broken.Detail = fmt.Sprintf("revision %d at position %s comes before revision %d at position %s",
				s.broken.Revision, s.broken.Position, ev.Revision, ev.Position)
		}
		return
	}
	switch {
	case ev.Revision > s.next:
		missing := fmt.Sprintf("revision %d is missing", s.next)
		if ev.Revision > s.next+1 {
			missing = fmt.Sprintf("revisions %d to %d are missing", s.next, ev.Revision-1)
		}
		v.breakAt(s, ev, RevisionGap, missing)
		s.gapEnd = ev.Revision
		return
	case ev.Revision < s.next:
		v.breakAt(s, ev, RevisionOutOfOrder, fmt.Sprintf("revision %d follows revision %d", ev.Revision, s.next-1))
		return
	}
	s.next++
	if ev.Metadata.Hash == "" && !s.chained {
		r.Unchained++
		r.LastUnchained = ev.Position
		return
	}
	got, ok := decodeHash(ev.Metadata.Hash)
	if !ok {
		v.breakAt(s, ev, MissingHash, fmt.Sprintf("the stream's chain started before it, but the event has no hash (%q)", ev.Metadata.Hash))
		return
	}
	if !s.chained {
		// Events before the first hashed one were written before hashing
		// existed, and the store chained the first hashed one to genesis.
		s.chained, s.prev = true, [sha256.Size]byte{}
	}
	want := v.hasher.sum(s.prev, ev.StreamID, ev.Revision, canonicalHead(ev.ID, ev.Type, ev.SchemaVersion, len(ev.Data)),
		ev.Data, canonicalTail(ev.Metadata))
	if got != want {
		v.breakAt(s, ev, HashMismatch, fmt.Sprintf("stored hash %s, its contents chained to the previous event hash to %s: the event was changed, or the previous event's hash rewritten",
			ev.Metadata.Hash, hex.EncodeToString(want[:])))
		return
	}
	s.prev = want
}

// breakAt records a broken link of s (nil for a problem of the log as a
// whole) at ev.
func (v *chainVerifier) breakAt(s *streamChain, ev RecordedEvent, problem ChainProblem, detail string) {
	b := &ChainBreak{StreamID: ev.StreamID, Revision: ev.Revision, Position: ev.Position, EventID: ev.ID,
		Problem: problem, Detail: detail}
	if s != nil {
		s.broken = b
		v.report.BrokenStreams++
	}
	if v.report.Broken == nil {
		v.report.Broken = b
	}
}
