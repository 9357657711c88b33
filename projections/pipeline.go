package projections

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// A rebuild behind the head, and a projection catching up after a start
// until it first reaches the head, fold a batch while the one before it
// is written: folding (decoding events, encoding documents) and writing
// (the read store's inserts) each took about half of a rebuild's load,
// one after the other on one goroutine, with the second core mostly
// idle. The fold of batch k+1 must see what batch k wrote, so the
// documents folded but not yet written are kept in memory (at most three
// batches of them: one being written, one waiting, one being handed
// over) and a fold reads them there first (see overlay).

// folded is a batch folded and waiting to be written; a batch with a
// flush channel writes nothing and closes it once everything before it
// is written.
type folded struct {
	writes []readstore.Write
	cp     *readstore.Checkpoint
	last   eventstore.Position
	flush  chan struct{}
}

// writeBehind writes folded batches in order on a goroutine of its own.
type writeBehind struct {
	reads      readstore.Store
	collection string // the collection pending holds, as writes name it
	in         chan folded
	done       chan struct{}
	wrote      func(folded) // after each batch is written

	mu      sync.Mutex
	pending map[string]readstore.Write // by document id: the newest folded write not yet written
	err     error                      // the first write that failed: nothing after it is written
}

// startWriteBehind starts the writer. collection is the one whose
// documents folds read back, as the writes name it (the plain name, or a
// rebuilt generation's). stop must be called once folding ends.
func startWriteBehind(ctx context.Context, reads readstore.Store, collection string, wrote func(folded)) *writeBehind {
	w := &writeBehind{reads: reads, collection: collection, in: make(chan folded, 1), done: make(chan struct{}),
		wrote: wrote, pending: map[string]readstore.Write{}}
	go w.run(ctx)
	return w
}

func (w *writeBehind) run(ctx context.Context) {
	defer close(w.done)
	for f := range w.in {
		if f.flush != nil {
			close(f.flush)
			continue
		}
		if w.failed() != nil {
			continue // a later batch must not land past a failed one
		}
		err := w.reads.Apply(ctx, readstore.Batch{Writes: f.writes, Checkpoint: f.cp})
		w.mu.Lock()
		if err != nil {
			w.err = fmt.Errorf("apply batch ending at %s: %w", f.last, err)
		} else {
			for _, wr := range f.writes {
				if p, ok := w.pending[wr.Doc.ID]; ok && wr.Collection == w.collection && p.Doc.Version == wr.Doc.Version {
					delete(w.pending, wr.Doc.ID)
				}
			}
		}
		w.mu.Unlock()
		if err == nil {
			w.wrote(f)
		}
	}
}

// failed returns the error of the write that failed, if one did.
func (w *writeBehind) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// send hands a folded batch over, after noting its documents as
// pending; it blocks while the batch before the last is being written.
func (w *writeBehind) send(ctx context.Context, f folded) error {
	w.mu.Lock()
	for _, wr := range f.writes {
		if wr.Collection == w.collection {
			w.pending[wr.Doc.ID] = wr
		}
	}
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case w.in <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush waits until every batch sent is written, and returns the error
// of a write that failed.
func (w *writeBehind) flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case w.in <- folded{flush: ch}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.failed()
}

// stop ends the writer once what was sent is written (or given up).
func (w *writeBehind) stop() {
	close(w.in)
	<-w.done
}

// lookup returns the pending write of a document, if one is pending.
func (w *writeBehind) lookup(id string) (readstore.Write, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wr, ok := w.pending[id]
	return wr, ok
}

// foldAhead folds b, a batch behind the head, with p (t's projector, or
// one retargeted at a rebuild's generation) through view, counts its
// events in applied, and hands its writes, with a checkpoint named cp,
// to view's writer, which stores them and then moves the position.
// *foldedTo is the end of what was folded.
func foldAhead(ctx context.Context, t *track, p Projector, b eventstore.Batch, view overlay, cp string, applied *atomic.Uint64, foldedTo *eventstore.Position) error {
	last := batchEnd(b)
	if last.Compare(*foldedTo) <= 0 {
		return nil
	}
	var writes []readstore.Write
	if events := t.unskipped(b.Events); len(events) > 0 {
		var err error
		if writes, err = p.Fold(ctx, view, events); err != nil {
			return err
		}
		applied.Add(uint64(len(events)))
	}
	*foldedTo = last
	return view.w.send(ctx, folded{writes: writes, cp: &readstore.Checkpoint{Name: cp, Position: last.Key()}, last: last})
}

// overlay is the store a fold reads while writeBehind writes: the
// documents of collection it has pending are read from memory, as the
// store will hold them. A projector's lookup by ids (Def's) is answered
// from both; any other query of collection first waits until every
// pending write is stored.
type overlay struct {
	readstore.Store
	collection string // as the projector names it
	w          *writeBehind
}

// Get implements readstore.Store.
func (o overlay) Get(ctx context.Context, collection, id string) (readstore.Doc, error) {
	if collection == o.collection {
		if wr, ok := o.w.lookup(id); ok {
			if wr.Delete {
				return readstore.Doc{}, fmt.Errorf("%w: %s %q", readstore.ErrNotFound, collection, id)
			}
			return wr.Doc, nil
		}
	}
	return o.Store.Get(ctx, collection, id)
}

// Query implements readstore.Store.
func (o overlay) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	if collection != o.collection {
		return o.Store.Query(ctx, collection, q)
	}
	ids, ok := idLookup(q)
	if !ok {
		if err := o.w.flush(ctx); err != nil {
			return nil, 0, err
		}
		return o.Store.Query(ctx, collection, q)
	}
	var docs []readstore.Doc
	rest := make([]string, 0, len(ids))
	for _, id := range ids {
		wr, ok := o.w.lookup(id)
		switch {
		case !ok:
			rest = append(rest, id)
		case !wr.Delete:
			docs = append(docs, wr.Doc)
		}
	}
	if len(rest) > 0 {
		stored, _, err := o.Store.Query(ctx, collection, readstore.Query{Where: []readstore.Condition{{Field: "id", Op: readstore.In, Value: rest}}})
		if err != nil {
			return nil, 0, err
		}
		docs = append(docs, stored...)
	}
	return docs, -1, nil
}

// idLookup returns the ids of a query that only asks for documents by
// id, in no order and without a total: the query Def.Fold makes.
func idLookup(q readstore.Query) ([]string, bool) {
	if len(q.Where) != 1 || q.Count || len(q.Sort) > 0 || q.Limit != 0 || q.Skip != 0 {
		return nil, false
	}
	c := q.Where[0]
	if c.Field != "id" || c.Op != readstore.In {
		return nil, false
	}
	ids, ok := c.Value.([]string)
	return ids, ok
}
