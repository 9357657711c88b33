package esdbtest

import (
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// record is one event in the transaction log. The double writes every
// event as the real server's writer does since implicit transactions: one
// prepare record flagged IsCommitted per event, so an event's $all position
// is its own log position for both commit and prepare
// (KurrentDB AllReader.ReadAllEventsForwardInternal adds a
// CommitEventRecord(eventRecord, prepare.LogPosition) for such records).
type record struct {
	id       uuid.UUID
	stream   string
	revision uint64
	// pos is the log position of the record, post the position right after
	// it, which is where the next record starts.
	pos, post uint64
	typ       string
	json      bool
	// created is the server's write time in .NET ticks (100 ns) since the
	// Unix epoch, the unit of the "created" metadata key.
	created int64
	data    []byte
	meta    []byte
}

// tfPos is the real server's TFPos: a commit/prepare pair of signed log
// positions, where {-1, -1} (headOfTF) means "no position yet".
type tfPos struct{ commit, prepare int64 }

var (
	headOfTF        = tfPos{-1, -1}
	firstRecordOfTF = tfPos{0, 0}
)

func (p tfPos) less(q tfPos) bool {
	return p.commit < q.commit || p.commit == q.commit && p.prepare < q.prepare
}

func (p tfPos) lessEq(q tfPos) bool { return !q.less(p) }

// at returns the $all position of r.
func (r *record) at() tfPos { return tfPos{int64(r.pos), int64(r.pos)} }

const (
	// logStart is where the double's first event goes. A real log starts
	// with an epoch record and system events, so no event of a real server
	// is ever at position 0 (which clients use as "the start").
	logStart = 256
	// recordOverhead approximates the bytes a version-2 prepare record
	// takes besides its stream name, type, data and metadata (length
	// prefix and suffix, flags, positions, event and correlation ids,
	// expected version, timestamp, field lengths). Only the spacing of
	// positions depends on it.
	recordOverhead = 90
)

// eventLog is the double's whole database, in memory.
type eventLog struct {
	mu      sync.RWMutex
	records []*record
	streams map[string][]*record
	// ids plays the real server's committed-events cache used by the
	// idempotency check of appends that expect any revision: event id →
	// the latest record written with it. The real cache is bounded
	// (ESConsts.CommittedEventsMemCacheLimit); this one is not.
	ids map[uuid.UUID]*record
	end uint64
	// grew is closed and replaced by every append that writes, waking the
	// subscriptions that wait for live events.
	grew chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{
		streams: make(map[string][]*record),
		ids:     make(map[uuid.UUID]*record),
		end:     logStart,
		grew:    make(chan struct{}),
	}
}

// Expected versions as the real server encodes them (ExpectedVersion.cs):
// a revision is >= 0, the rest are negative markers.
const (
	expectAny          int64 = -2
	expectNoStream     int64 = -1
	expectStreamExists int64 = -4
)

// proposed is an event of an append request.
type proposed struct {
	id   uuid.UUID
	typ  string
	json bool
	data []byte
	meta []byte
}

// appendResult is the outcome of an append: written (or found already
// written, idempotent) with the revision and position of its last event,
// or refused with the stream's current revision (-1: no stream).
type appendResult struct {
	ok         bool
	idempotent bool
	last       int64
	pos        uint64
	current    int64
}

// append decides and, when allowed, writes events to stream. The decision
// follows KurrentDB's IndexWriter.CheckCommit for streams that were never
// deleted (the double has no deletes):
//   - expected any or stream-exists: "weak" idempotency. If the first event's
//     id was written to this stream, every event of the request must have
//     been (then nothing is written and the request succeeds with the
//     revision and position of the last of them) or the request fails as a
//     wrong expected version (corrupted idempotency). If the first id is new,
//     the events are written whatever the others are.
//   - expected revision (or no stream) behind the stream's end: "strong"
//     idempotency. The events must already sit in the stream right after
//     the expected revision, else wrong expected version.
//   - expected revision after the end: wrong expected version.
//   - expected revision at the end: written.
func (l *eventLog) append(stream string, expected int64, events []proposed, now time.Time) appendResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	existing := l.streams[stream]
	current := int64(len(existing)) - 1
	fail := appendResult{current: current}

	if expected == expectStreamExists && current < 0 {
		return fail
	}
	if expected == expectAny || expected == expectStreamExists {
		var first, last *record
		for i, ev := range events {
			if r := l.ids[ev.id]; r != nil && r.stream == stream {
				if first == nil {
					first = r
				}
				last = r
				continue
			}
			if i > 0 {
				return fail // corrupted idempotency
			}
			return l.write(stream, events, now)
		}
		if last == nil {
			return l.write(stream, events, now) // no events: nothing to check
		}
		return appendResult{ok: true, idempotent: true, last: int64(last.revision), pos: last.pos, current: current}
	}
	if expected < current {
		if len(events) == 0 {
			return fail
		}
		n := expected
		var last *record
		for _, ev := range events {
			n++
			if n > current || existing[n].id != ev.id {
				// Wherever the mismatch is, the answer is the same: the
				// first unwritten event means a wrong expected version,
				// a later one corrupted idempotency, which the server
				// also reports as a wrong expected version.
				return fail
			}
			last = existing[n]
		}
		return appendResult{ok: true, idempotent: true, last: int64(last.revision), pos: last.pos, current: current}
	}
	if expected > current {
		return fail
	}
	return l.write(stream, events, now)
}

// write appends events at the end of stream; l.mu is held.
func (l *eventLog) write(stream string, events []proposed, now time.Time) appendResult {
	existing := l.streams[stream]
	if len(events) == 0 {
		// An empty write succeeds without a record the double could
		// point at; the real server writes an empty prepare instead.
		return appendResult{ok: true, last: int64(len(existing)) - 1, pos: l.end, current: int64(len(existing)) - 1}
	}
	created := ticksSinceEpoch(now)
	for _, ev := range events {
		r := &record{
			id:       ev.id,
			stream:   stream,
			revision: uint64(len(existing)),
			pos:      l.end,
			typ:      ev.typ,
			json:     ev.json,
			created:  created,
			data:     ev.data,
			meta:     ev.meta,
		}
		r.post = r.pos + uint64(recordOverhead+len(stream)+len(ev.typ)+len(ev.data)+len(ev.meta))
		l.end = r.post
		existing = append(existing, r)
		l.records = append(l.records, r)
		l.ids[ev.id] = r
	}
	l.streams[stream] = existing
	close(l.grew)
	l.grew = make(chan struct{})
	last := existing[len(existing)-1]
	return appendResult{ok: true, last: int64(last.revision), pos: last.pos, current: int64(last.revision)}
}

// ticksSinceEpoch converts t to .NET ticks since the Unix epoch, as
// KurrentDB's EpochExtensions.ToTicksSinceEpoch does.
func ticksSinceEpoch(t time.Time) int64 { return t.UnixNano() / 100 }

// readStream returns up to count events of stream starting at revision
// from (forwards: from and after; backwards: from and before, a from past
// the end meaning the last event), and whether the stream exists.
func (l *eventLog) readStream(stream string, from uint64, count uint64, forwards bool) ([]*record, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	existing, ok := l.streams[stream]
	if !ok {
		return nil, false
	}
	var out []*record
	if forwards {
		for i := from; i < uint64(len(existing)) && uint64(len(out)) < count; i++ {
			out = append(out, existing[i])
		}
		return out, true
	}
	if len(existing) == 0 {
		return nil, true
	}
	// The real server pages backwards from min(from, last): a start past
	// the end reads from the last event (IndexReader, nextEventNumber).
	i := int64(min(from, uint64(len(existing)-1)))
	for ; i >= 0 && uint64(len(out)) < count; i-- {
		out = append(out, existing[i])
	}
	return out, true
}

// lastRevision returns the revision of the stream's last event, or -1.
func (l *eventLog) lastRevision(stream string) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return int64(len(l.streams[stream])) - 1
}

// firstAtOrAfter returns the index of the first record whose $all position
// is at or after p; l.mu is held.
func (l *eventLog) firstAtOrAfter(p tfPos) int {
	return sort.Search(len(l.records), func(i int) bool { return p.lessEq(l.records[i].at()) })
}

// readAllForwards returns up to count records allowed by allow whose
// position is at or after from (inclusive, as the real forward read is).
func (l *eventLog) readAllForwards(from tfPos, count uint64, allow func(*record) bool) []*record {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []*record
	for i := l.firstAtOrAfter(from); i < len(l.records) && uint64(len(out)) < count; i++ {
		if allow(l.records[i]) {
			out = append(out, l.records[i])
		}
	}
	return out
}

// readAllBackwards returns up to count records allowed by allow that end at
// or before from, newest first: the real backward read takes a record when
// (post, post) <= from, so reading backwards from an event's position
// starts with the event before it.
func (l *eventLog) readAllBackwards(from tfPos, count uint64, allow func(*record) bool) []*record {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.records), func(i int) bool {
		post := l.records[i].post
		return !(tfPos{int64(post), int64(post)}).lessEq(from)
	})
	var out []*record
	for i--; i >= 0 && uint64(len(out)) < count; i-- {
		if allow(l.records[i]) {
			out = append(out, l.records[i])
		}
	}
	return out
}

// page reads forwards from index i: the records a subscription considers
// next (at most max), and the channel that closes when the log grows past
// them. It never blocks.
func (l *eventLog) page(i int, max int) ([]*record, <-chan struct{}) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if i >= len(l.records) {
		return nil, l.grew
	}
	n := min(len(l.records)-i, max)
	return append([]*record(nil), l.records[i:i+n]...), l.grew
}

// index returns the index of the first record whose position is at or after p.
func (l *eventLog) index(p tfPos) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.firstAtOrAfter(p)
}

// lastPosition returns the position after the last record, the real
// server's "last indexed position" a subscription starting at the end uses.
func (l *eventLog) lastPosition() tfPos {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.records) == 0 {
		return tfPos{0, 0}
	}
	p := l.records[len(l.records)-1].pos
	return tfPos{int64(p), int64(p)}
}

// defaultAllFilter is KurrentDB's EventFilter.DefaultAllFilterStrategy:
// reads and subscriptions of $all show every event except those of a few
// internal system streams. Other system streams ("$…") are shown.
func defaultAllFilter(r *record) bool {
	s := r.stream
	if !strings.HasPrefix(s, "$") {
		return true
	}
	if s == "$epoch-information" {
		return false
	}
	const psub = "$persistentsubscription-$all::"
	if strings.HasPrefix(s, psub) && (strings.HasSuffix(s, "-checkpoint") || strings.HasSuffix(s, "-parked")) {
		return false
	}
	return true
}

// maxRevision is the largest revision the real server accepts (it stores
// revisions as signed 64-bit numbers).
const maxRevision = math.MaxInt64
