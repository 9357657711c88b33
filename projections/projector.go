// Package projections turns the event log into read models. A Runner keeps
// one checkpoint per projection in the read store, catches up from it in
// batches (each batch and its checkpoint in one read-store transaction),
// then tails new events as the event store announces them.
//
// Projectors are pure: a Def's Project function maps (event, current
// document) to the new document; the runner owns loading, version guards,
// batching and checkpoints.
package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Projector is a read model the Runner keeps up to date.
type Projector interface {
	// Name identifies the projection and its checkpoint.
	Name() string
	// Collection declares the collection it writes.
	Collection() readstore.Collection
	// Filter selects the events it consumes.
	Filter() eventstore.Filter
	// Fold applies events, in position order, to the current documents
	// (read from rs) and returns the writes that bring them up to date.
	// An error that one event causes (it cannot be decoded or projected)
	// is an *EventError, so that the runner can say which, and park it.
	Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error)
	// Version is the projector's version, from 1. Raising it ships a
	// projector change: on start the runner rebuilds the read model into
	// a new generation while the old one keeps serving.
	Version() int
}

// EventError is a Fold failure caused by one event.
type EventError struct {
	Event eventstore.RecordedEvent
	Err   error
}

// Error implements error.
func (e *EventError) Error() string {
	return fmt.Sprintf("project %s@%d (%s) at %s: %v", e.Event.StreamID, e.Event.Revision, e.Event.Type, e.Event.Position, e.Err)
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

func eventError(ev eventstore.RecordedEvent, err error) error {
	return &EventError{Event: ev, Err: err}
}

// Def defines a projection with one document per aggregate, of type D
// (or, with Totals, one per key that events of many streams add up to).
type Def[D any] struct {
	// ProjectionName is the projection's name, also its checkpoint name.
	ProjectionName string
	// Spec declares the collection.
	Spec readstore.Collection
	// Categories are the stream categories consumed.
	Categories []string
	// Types, when set, are the only event types of those categories
	// consumed.
	Types []string
	// DocID returns the id of the document ev changes, or "" to skip ev.
	DocID func(ev eventstore.RecordedEvent) string
	// Creates lists the event types that start a document: a stream's
	// first event, or an event that makes the whole document whatever was
	// there before (knowledge_vectors' knowledge.embedded). A document
	// whose first event in a batch is one of them is not looked up: it
	// cannot exist yet (every stored document's version is at or below
	// the checkpoint, and every event of a batch is above it), or what it
	// was does not matter (a write a replayed batch repeats is stopped by
	// the store's version guard).
	Creates []string
	// Project returns the document after ev given the current one (nil if
	// there is none), or nil to delete it. It must be pure.
	Project func(ev eventstore.RecordedEvent, cur *D) (*D, error)
	// Open, when set, opens the personal data sealed in an event before
	// Project sees it (see WithPII): the one step that reads something
	// beside the event, a key store. Given the key store's state, the same
	// events still give the same documents.
	Open func(ctx context.Context, ev eventstore.RecordedEvent) (eventstore.RecordedEvent, error)
	// ProjectorVersion is Version; 0 means 1.
	ProjectorVersion int
	// Totals marks a read model whose documents sum the events of many
	// streams (a company's usage of a day) rather than follow one
	// aggregate: any event may start a document, so every document is
	// looked up, and none is ever deleted. The version guard still holds:
	// a document's version is the position of the last event summed into
	// it, so an event at or below it is never counted twice.
	Totals bool
}

// Name implements Projector.
func (d *Def[D]) Name() string { return d.ProjectionName }

// Version implements Projector.
func (d *Def[D]) Version() int { return max(1, d.ProjectorVersion) }

// Collection implements Projector.
func (d *Def[D]) Collection() readstore.Collection { return d.Spec }

// Document returns an empty document of the read model. Its type is the
// shape of the records the API answers, which the API's description
// (GET /openapi.json) is derived from.
func (d *Def[D]) Document() any { return new(D) }

// Filter implements Projector.
func (d *Def[D]) Filter() eventstore.Filter {
	return eventstore.Filter{Categories: d.Categories, Types: d.Types}
}

type slot[D any] struct {
	doc     *D
	version string          // the stored version: a position key
	stored  json.RawMessage // the stored document, nil for none
	touched bool
}

// maxInIDs bounds the ids looked up by one query.
const maxInIDs = 500

// Fold implements Projector. Events at or below a document's version were
// already applied and are skipped, so replaying a batch is harmless.
func (d *Def[D]) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	slots := make(map[string]*slot[D], len(events))
	order := make([]string, 0, len(events))
	var missing []string
	for i := range events {
		id := d.DocID(events[i])
		if id == "" {
			continue
		}
		if _, ok := slots[id]; !ok {
			slots[id] = &slot[D]{}
			order = append(order, id)
			if d.Totals || !slices.Contains(d.Creates, events[i].Type) {
				missing = append(missing, id)
			}
		}
	}
	for len(missing) > 0 {
		chunk := missing[:min(len(missing), maxInIDs)]
		missing = missing[len(chunk):]
		docs, _, err := rs.Query(ctx, d.Spec.Name, readstore.Query{Where: []readstore.Condition{{Field: "id", Op: readstore.In, Value: chunk}}})
		if err != nil {
			return nil, fmt.Errorf("load %s documents: %w", d.Spec.Name, err)
		}
		for _, doc := range docs {
			var v D
			if err := decodeDoc(doc.Data, &v); err != nil {
				return nil, fmt.Errorf("decode %s/%s: %w", d.Spec.Name, doc.ID, err)
			}
			s := slots[doc.ID]
			s.doc, s.version, s.stored = &v, doc.Version, doc.Data
		}
	}
	for i := range events {
		ev := events[i]
		id := d.DocID(ev)
		if id == "" {
			continue
		}
		s := slots[id]
		key := ev.Position.Key()
		if key <= s.version {
			continue
		}
		if s.doc == nil && !d.Totals && !slices.Contains(d.Creates, ev.Type) {
			// No document and an event that does not start one: the
			// document was deleted by a later event of a batch that is
			// being applied again (its writes landed, its checkpoint did
			// not, which the read store allows), and its tombstone is not
			// read back. Nothing is left to change.
			continue
		}
		if d.Open != nil {
			var err error
			if ev, err = d.Open(ctx, ev); err != nil {
				return nil, eventError(events[i], err)
			}
		}
		next, err := d.Project(ev, s.doc)
		if err != nil {
			return nil, eventError(ev, err)
		}
		s.doc, s.version, s.touched = next, key, true
	}
	writes := make([]readstore.Write, 0, len(order))
	for _, id := range order {
		s := slots[id]
		if !s.touched {
			continue
		}
		w := readstore.Write{Collection: d.Spec.Name, Doc: readstore.Doc{ID: id, Version: s.version}, Created: s.stored == nil}
		if s.doc == nil {
			// The document as it was goes along for whoever is told of
			// the deletion (the stores ignore it).
			w.Delete, w.Doc.Data = true, s.stored
		} else {
			raw, err := encodeDoc(s.doc)
			if err != nil {
				return nil, fmt.Errorf("encode %s/%s: %w", d.Spec.Name, id, err)
			}
			w.Doc.Data = raw
		}
		writes = append(writes, w)
	}
	return writes, nil
}
