package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Step is one event of an aggregate's stream with the document it left:
// the read model's record as it was right after the event.
type Step struct {
	Event eventstore.RecordedEvent
	// Doc is the record after the event; nil when there was none (the
	// aggregate was deleted).
	Doc json.RawMessage
}

// Replayer is a projector whose documents are one per aggregate stream;
// the audit endpoints replay its streams.
type Replayer interface {
	Projector
	// Stream names the stream of aggregate id.
	Stream(id string) string
	// Replay folds events (one aggregate's, in revision order) onto the
	// document doc (nil for none) and returns the document after each
	// event from events[from] on (encoding a document costs more than
	// folding an event, so only those asked for are encoded).
	Replay(ctx context.Context, doc json.RawMessage, events []eventstore.RecordedEvent, from int) ([]json.RawMessage, error)
}

// Stream implements Replayer.
func (d *Def[D]) Stream(id string) string { return d.Categories[0] + "-" + id }

// Replay implements Replayer.
func (d *Def[D]) Replay(ctx context.Context, doc json.RawMessage, events []eventstore.RecordedEvent, from int) ([]json.RawMessage, error) {
	var cur *D
	if doc != nil {
		cur = new(D)
		if err := json.Unmarshal(doc, cur); err != nil {
			return nil, fmt.Errorf("decode %s document: %w", d.Spec.Name, err)
		}
	}
	var out []json.RawMessage
	emit := func() error {
		if cur == nil {
			out = append(out, nil)
			return nil
		}
		raw, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		out = append(out, raw)
		return nil
	}
	for i, ev := range events {
		if cur != nil || d.Totals || slices.Contains(d.Creates, ev.Type) {
			if d.Open != nil {
				var err error
				if ev, err = d.Open(ctx, ev); err != nil {
					return nil, eventError(ev, err)
				}
			}
			next, err := d.Project(ev, cur)
			if err != nil {
				return nil, eventError(ev, err)
			}
			cur = next
		}
		if i >= from {
			if err := emit(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Snapshots cache aggregate states in the read store, so that replaying
// a long stream starts from the nearest one instead of the first event.
// They are a cache: dropping them changes no answer. A snapshot is keyed
// by the collection, the projector version and the aggregate, and taken
// every SnapshotEvery events of a stream replayed from further back.
type Snapshots struct {
	reads readstore.Store
	every uint64
}

// snapshotCollection holds the snapshots.
const snapshotCollection = "aggregate_snapshots"

// SnapshotEvery is how many events apart snapshots are taken.
const SnapshotEvery = 500

var snapshotSpec = readstore.Collection{
	Name: snapshotCollection,
	Fields: []readstore.Field{
		{Name: "key", Type: readstore.String}, {Name: "revision", Type: readstore.Number}, {Name: "recorded_at", Type: readstore.Time},
	},
	Indexes: [][]string{{"key", "revision"}, {"key", "recorded_at"}},
}

// snapshot is a stored snapshot: the document after event Revision,
// recorded at RecordedAt.
type snapshot struct {
	ID         string          `json:"id"`
	Key        string          `json:"key"`
	Revision   uint64          `json:"revision"`
	RecordedAt time.Time       `json:"recorded_at"`
	Doc        json.RawMessage `json:"doc"`
}

// NewSnapshots returns the snapshot cache in reads.
func NewSnapshots(ctx context.Context, reads readstore.Store) (*Snapshots, error) {
	if err := reads.Ensure(ctx, snapshotSpec); err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	return &Snapshots{reads: reads, every: SnapshotEvery}, nil
}

func snapshotKey(r Replayer, id string) string {
	return fmt.Sprintf("%s.v%d.%s", r.Collection().Name, r.Version(), id)
}

// Until says where a replay stops: after revision Revision (when set),
// and at events recorded at or before AsOf (when not zero).
type Until struct {
	Revision *uint64
	AsOf     time.Time
}

func (u Until) includes(ev eventstore.RecordedEvent) bool {
	if u.Revision != nil && ev.Revision > *u.Revision {
		return false
	}
	return u.AsOf.IsZero() || !ev.Metadata.RecordedAt.After(u.AsOf)
}

// ErrNoState means the aggregate had no events by then.
var ErrNoState = errors.New("no such state")

// StateAt replays aggregate id of r up to until and returns its record
// then (nil if it was deleted) and the last event applied. It answers
// ErrNoState when the aggregate had no event by then. Snapshots, when
// given, shorten the replay and are taken on the way.
func StateAt(ctx context.Context, es eventstore.Store, snaps *Snapshots, r Replayer, id string, until Until) (json.RawMessage, eventstore.RecordedEvent, error) {
	var from uint64
	var doc json.RawMessage
	var last eventstore.RecordedEvent
	have := false
	if snaps != nil {
		if s, ok := snaps.nearest(ctx, snapshotKey(r, id), until); ok {
			from, doc, have = s.Revision+1, s.Doc, true
			last = eventstore.RecordedEvent{Revision: s.Revision, Metadata: eventstore.Metadata{RecordedAt: s.RecordedAt}}
		}
	}
	// Read no further than needed: to the revision asked for, or chunk by
	// chunk until an event past the time asked for.
	var events []eventstore.RecordedEvent
	for {
		limit := 1024
		if until.Revision != nil {
			if *until.Revision < from {
				break
			}
			limit = int(min(*until.Revision-from+1, 1<<20))
		}
		chunk, err := es.ReadStream(ctx, r.Stream(id), from, limit)
		if err != nil {
			return nil, last, err
		}
		n := 0
		for n < len(chunk) && until.includes(chunk[n]) {
			n++
		}
		events = append(events, chunk[:n]...)
		if n < len(chunk) || len(chunk) < limit || until.Revision != nil {
			break
		}
		from = chunk[len(chunk)-1].Revision + 1
	}
	if len(events) == 0 {
		if !have {
			return nil, last, ErrNoState
		}
		return doc, last, nil
	}
	// Snapshot on the way when the replay was long.
	if snaps != nil && uint64(len(events)) >= snaps.every {
		docs, err := r.Replay(ctx, doc, events, 0)
		if err != nil {
			return nil, last, err
		}
		snaps.take(ctx, snapshotKey(r, id), events, docs)
		return docs[len(docs)-1], events[len(events)-1], nil
	}
	docs, err := r.Replay(ctx, doc, events, len(events)-1)
	if err != nil {
		return nil, last, err
	}
	return docs[0], events[len(events)-1], nil
}

// nearest returns the latest snapshot of key within until.
func (s *Snapshots) nearest(ctx context.Context, key string, until Until) (snapshot, bool) {
	q := readstore.Query{Where: []readstore.Condition{{Field: "key", Op: readstore.Eq, Value: key}},
		Sort: []readstore.Sort{{Field: "revision", Desc: true}}, Limit: 1}
	if until.Revision != nil {
		q.Where = append(q.Where, readstore.Condition{Field: "revision", Op: readstore.Lte, Value: float64(*until.Revision)})
	}
	if !until.AsOf.IsZero() {
		q.Where = append(q.Where, readstore.Condition{Field: "recorded_at", Op: readstore.Lte, Value: until.AsOf.UTC().Format(time.RFC3339Nano)})
	}
	docs, _, err := s.reads.Query(ctx, snapshotCollection, q)
	if err != nil || len(docs) == 0 {
		return snapshot{}, false // a cache: a miss replays from further back
	}
	var snap snapshot
	if json.Unmarshal(docs[0].Data, &snap) != nil {
		return snapshot{}, false
	}
	return snap, true
}

// take stores a snapshot every s.every revisions of events, whose
// documents after each are docs. Failures are ignored: it is a cache.
func (s *Snapshots) take(ctx context.Context, key string, events []eventstore.RecordedEvent, docs []json.RawMessage) {
	var writes []readstore.Write
	for i, ev := range events {
		if (ev.Revision+1)%s.every != 0 || docs[i] == nil {
			continue
		}
		snap := snapshot{ID: fmt.Sprintf("%s.%d", key, ev.Revision), Key: key, Revision: ev.Revision, RecordedAt: ev.Metadata.RecordedAt.UTC(), Doc: docs[i]}
		raw, err := json.Marshal(snap)
		if err != nil {
			return
		}
		writes = append(writes, readstore.Write{Collection: snapshotCollection, Doc: readstore.Doc{ID: snap.ID, Version: "1", Data: raw}})
	}
	if len(writes) > 0 {
		_ = s.reads.Apply(ctx, readstore.Batch{Writes: writes})
	}
}

// Entry is one event of an aggregate's history with the record before
// and after it (nil where there was none).
type Entry struct {
	Event         eventstore.RecordedEvent
	Before, After json.RawMessage
}

// HistoryPage returns a page of aggregate id's history, newest first
// when newestFirst, skipping skip entries and keeping at most limit, and
// how many events it has in all. Only the page's records are encoded.
func HistoryPage(ctx context.Context, es eventstore.Store, snaps *Snapshots, r Replayer, id string, newestFirst bool, skip, limit int) ([]Entry, int, error) {
	tail, err := es.ReadStreamBackward(ctx, r.Stream(id), eventstore.End, 1)
	if err != nil || len(tail) == 0 {
		return []Entry{}, 0, err
	}
	total := int(tail[0].Revision) + 1 // revisions count from 0 without gaps
	if skip >= total || limit <= 0 {
		return []Entry{}, total, nil
	}
	lo, hi := skip, min(total, skip+limit) // revisions of the page, in log order
	if newestFirst {
		lo, hi = total-hi, total-skip
	}
	// The record before events[lo] is the one after events[lo-1]; the
	// replay starts from the nearest snapshot before that.
	from := max(lo-1, 0)
	start := 0
	var base json.RawMessage
	if snaps != nil && from > 0 {
		rev := uint64(from - 1)
		if s, ok := snaps.nearest(ctx, snapshotKey(r, id), Until{Revision: &rev}); ok {
			start, base = int(s.Revision)+1, s.Doc
		}
	}
	events, err := es.ReadStream(ctx, r.Stream(id), uint64(start), hi-start)
	if err != nil {
		return nil, 0, err
	}
	if len(events) != hi-start {
		return nil, 0, fmt.Errorf("history of %s: read %d events, want %d", r.Stream(id), len(events), hi-start)
	}
	docs, err := r.Replay(ctx, base, events, from-start)
	if err != nil {
		return nil, 0, err
	}
	if snaps != nil && from-start >= int(snaps.every) {
		// A long way from the last snapshot: take some for next time.
		all, err := r.Replay(ctx, base, events[:from-start], 0)
		if err == nil {
			snaps.take(ctx, snapshotKey(r, id), events[:from-start], all)
		}
	}
	at := func(i int) eventstore.RecordedEvent { return events[i-start] }
	after := func(i int) json.RawMessage { return docs[i-from] }
	out := make([]Entry, 0, hi-lo)
	for i := lo; i < hi; i++ {
		e := Entry{Event: at(i), After: after(i)}
		if i > 0 {
			e.Before = after(i - 1)
		}
		out = append(out, e)
	}
	if newestFirst {
		slices.Reverse(out)
	}
	return out, total, nil
}

// ReplayerOf returns the projector that replays the streams behind
// collection, if its documents are one per aggregate stream; opts are
// All's (WithPII, so that replayed records show personal data as the
// read model does).
func ReplayerOf(collection string, opts ...Option) (Replayer, bool) {
	for _, p := range All(opts...) {
		if r, ok := p.(Replayer); ok && p.Collection().Name == collection && len(categoriesOf(p)) == 1 {
			return r, true
		}
	}
	return nil, false
}

func categoriesOf(p Projector) []string { return p.Filter().Categories }

// EntityID returns the aggregate id of a stream, given its category.
func EntityID(stream string) string {
	if i := strings.IndexByte(stream, '-'); i >= 0 {
		return stream[i+1:]
	}
	return stream
}
