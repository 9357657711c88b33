package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// DocHistory replays stream's events, one at a time, through projector p
// into a scratch in-memory store and returns the events that changed
// document docID of p's collection, each with the document before and
// after. It serves the history of records that are not aggregates of
// their own (a ticket's comment, a campaign's content item): their
// projectors fold their parent's stream and read back what they wrote.
// It stops after the last event until includes.
func DocHistory(ctx context.Context, es eventstore.Store, p Projector, stream, docID string, until Until) ([]Entry, error) {
	events, err := es.ReadStream(ctx, stream, 0, 0)
	if err != nil {
		return nil, err
	}
	mem := &memReads{docs: map[string]map[string]readstore.Doc{}}
	coll := p.Collection().Name
	filter := p.Filter()
	var prev json.RawMessage
	var out []Entry
	for _, ev := range events {
		if !until.includes(ev) {
			break
		}
		if !filter.Match(ev) {
			continue // as its subscription would
		}
		// Within one stream, revision order is log order: it stands in
		// for the position a stream read leaves out, so that the
		// projector's version guards work as they do on the log.
		folded := ev
		folded.Position = eventstore.Position{Commit: ev.Revision + 1, Prepare: ev.Revision + 1}
		writes, err := p.Fold(ctx, mem, []eventstore.RecordedEvent{folded})
		if err != nil {
			return nil, err
		}
		mem.apply(writes)
		cur := mem.data(coll, docID)
		if !bytes.Equal(cur, prev) {
			out = append(out, Entry{Event: ev, Before: prev, After: cur})
			prev = cur
		}
	}
	return out, nil
}

// memReads is a scratch read store holding the documents one replay
// writes; it answers the lookups projectors make (by id, and by equality
// on a field), and nothing else.
type memReads struct {
	readstore.Store
	docs  map[string]map[string]readstore.Doc
	order []string // ids in the order first written, for stable pages
}

func (m *memReads) apply(writes []readstore.Write) {
	for _, w := range writes {
		c := m.docs[w.Collection]
		if c == nil {
			c = map[string]readstore.Doc{}
			m.docs[w.Collection] = c
		}
		old, ok := c[w.Doc.ID]
		if ok && w.Doc.Version <= old.Version {
			continue
		}
		if !ok {
			m.order = append(m.order, w.Doc.ID)
		}
		d := w.Doc
		if w.Delete {
			d.Data = nil // a tombstone keeps its version
		}
		c[w.Doc.ID] = d
	}
}

func (m *memReads) data(collection, id string) json.RawMessage {
	return m.docs[collection][id].Data
}

// Get implements readstore.Store.
func (m *memReads) Get(_ context.Context, collection, id string) (readstore.Doc, error) {
	d, ok := m.docs[collection][id]
	if !ok || d.Data == nil {
		return readstore.Doc{}, fmt.Errorf("%w: %s %q", readstore.ErrNotFound, collection, id)
	}
	return d, nil
}

// Query implements readstore.Store for equality and "in" conditions on
// top-level fields, in the order documents were first written.
func (m *memReads) Query(_ context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	var out []readstore.Doc
	for _, id := range m.order {
		d, ok := m.docs[collection][id]
		if !ok || d.Data == nil {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(d.Data, &fields); err != nil {
			return nil, 0, err
		}
		fields["id"] = d.ID
		match := true
		for _, c := range q.Where {
			switch c.Op {
			case readstore.Eq:
				match = match && fmt.Sprint(fields[c.Field]) == fmt.Sprint(c.Value)
			case readstore.In:
				in := false
				switch vs := c.Value.(type) {
				case []string:
					for _, v := range vs {
						in = in || fields[c.Field] == v
					}
				case []any:
					for _, v := range vs {
						in = in || fmt.Sprint(fields[c.Field]) == fmt.Sprint(v)
					}
				}
				match = match && in
			default:
				return nil, 0, fmt.Errorf("replay store: %s conditions are not served", c.Op)
			}
		}
		if match {
			out = append(out, d)
		}
	}
	total := int64(len(out))
	if q.Skip > 0 {
		out = out[min(q.Skip, len(out)):]
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, total, nil
}

// ProjectorOf returns the projector that builds collection.
func ProjectorOf(collection string, opts ...Option) (Projector, bool) {
	for _, p := range All(opts...) {
		if p.Collection().Name == collection {
			return p, true
		}
	}
	return nil, false
}
