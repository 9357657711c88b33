package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// A rebuild builds a new generation of a projection's collection from
// the start of the log while the live generation keeps serving and
// updating. Once the new generation has caught up with the log, the
// runner takes the live projection's apply lock between two of its
// batches, lets the new generation apply what the live one has seen
// beyond it, switches the live pointer (readers move atomically: a query
// already running finishes on the old generation) and drops the old
// generation. Its progress is a checkpoint of its own and the state
// document says it is under way, so a crash resumes it where it was.

// ErrRebuildRunning is returned when a projection is already being
// rebuilt.
var ErrRebuildRunning = errors.New("a rebuild of this projection is already running")

// ErrNotRunning is returned for what needs the runner running.
var ErrNotRunning = errors.New("projections are not running")

// rebuild is a rebuild in progress.
type rebuild struct {
	state   rebuildState
	applied atomic.Uint64

	mu         sync.Mutex
	position   eventstore.Position
	total      eventstore.Position
	caughtUp   bool
	finishBulk func(context.Context) error
	lastErr    error
	rate       rate
	// done is closed when the rebuild has switched or ended.
	done chan struct{}
	err  error
}

// restore loads t's stored state at New: its projector version, and a
// rebuild to resume or to start because the projector's version changed.
func (r *Runner) restore(ctx context.Context, t *track, checkpoint eventstore.Position) error {
	st, found, err := r.states.load(ctx, t.p.Name())
	if err != nil {
		return err
	}
	want := t.p.Version()
	// Generations a switch replaced that were not dropped before the
	// process stopped: the runner drops them when it runs, after the same
	// grace (on shared stores another process's readers may still be on
	// one).
	t.replaced = slices.DeleteFunc(slices.Clone(st.Replaced), func(gen int) bool {
		return gen == t.gen || (st.Rebuild != nil && gen == st.Rebuild.Generation)
	})
	if !found {
		// A read model from before versions were stored was built by
		// version 1; a new one is about to be built by this version.
		st.Version = 1
		if checkpoint.IsZero() {
			st.Version = want
		}
		if err := r.states.save(ctx, st); err != nil {
			return err
		}
	}
	t.version = st.Version
	if rb := st.Rebuild; rb != nil {
		if rb.Generation == t.gen {
			// Switched, but the crash came before the state said so.
			return r.finishSwitch(ctx, t, rb)
		}
		if rb.Version == want {
			t.rebuild = newRebuild(*rb)
			key, err := r.reads.Checkpoint(ctx, rb.checkpointName(t.p.Name()))
			if err != nil {
				return err
			}
			if t.rebuild.position, err = eventstore.ParseKey(key); err != nil {
				return err
			}
			r.log.Info("resuming a projection rebuild", "projection", t.p.Name(), "generation", rb.Generation, "position", t.rebuild.position)
			return nil
		}
		// A rebuild for another version: start over with this one.
		if err := r.reads.Drop(ctx, readstore.Generation(t.p.Collection().Name, rb.Generation)); err != nil {
			return fmt.Errorf("drop stale generation %d of %s: %w", rb.Generation, t.p.Collection().Name, err)
		}
	}
	return nil
}

// planVersion starts, when t's projector version differs from the one
// its live generation was built with, a rebuild for the new version (the
// runner is about to run it). The old generation serves meanwhile.
func (r *Runner) planVersion(ctx context.Context, t *track) error {
	t.mu.Lock()
	busy, version := t.rebuild != nil, t.version
	t.mu.Unlock()
	want := t.p.Version()
	if busy || version == want {
		return nil
	}
	st, _, err := r.states.load(ctx, t.p.Name())
	if err != nil {
		return err
	}
	rb, err := r.planRebuild(ctx, t, st, fmt.Sprintf("projector version %d → %d", version, want))
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.rebuild = newRebuild(rb)
	t.mu.Unlock()
	r.log.Info("projector version changed: rebuilding into a new generation while the old one serves", "projection", t.p.Name(),
		"from_version", version, "to_version", want, "generation", rb.Generation)
	return nil
}

func newRebuild(st rebuildState) *rebuild {
	total, _ := eventstore.ParseKey(st.Total)
	return &rebuild{state: st, total: total, done: make(chan struct{})}
}

// planRebuild records a rebuild of t into a fresh generation and ensures
// its collection, empty.
func (r *Runner) planRebuild(ctx context.Context, t *track, st projectionState, reason string) (rebuildState, error) {
	gen := t.gen + 1
	if st.Rebuild != nil && st.Rebuild.Generation >= gen {
		gen = st.Rebuild.Generation + 1
	}
	name := t.p.Collection().Name
	target := readstore.Generation(name, gen)
	// Left over by an earlier attempt, perhaps: a rebuild starts empty.
	if err := r.reads.Drop(ctx, target); err != nil {
		return rebuildState{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	c := t.p.Collection()
	c.Name = target
	if err := r.reads.Ensure(ctx, c); err != nil {
		return rebuildState{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	head, err := r.events.Head(ctx)
	if err != nil {
		return rebuildState{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	rb := rebuildState{Generation: gen, From: t.gen, Version: t.p.Version(), Reason: reason, StartedAt: time.Now().UTC(), Total: head.Key()}
	st.Rebuild = &rb
	if err := r.states.save(ctx, st); err != nil {
		return rebuildState{}, err
	}
	return rb, nil
}

// Rebuild starts rebuilding projection name into a new generation, and
// returns at once; Status shows its progress and RebuildDone waits for
// it. It answers ErrRebuildRunning while one is under way, and
// ErrNotRunning when the runner does not run.
func (r *Runner) Rebuild(ctx context.Context, name, reason string) error {
	t, ok := r.tracks[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	r.mu.Lock()
	runCtx := r.runCtx
	r.mu.Unlock()
	if runCtx == nil && r.following.Load() {
		// Another process runs the projections: ask that one.
		t.mu.Lock()
		busy := t.rebuild != nil
		t.mu.Unlock()
		if busy {
			return fmt.Errorf("%w: %s", ErrRebuildRunning, name)
		}
		return r.states.request(ctx, name, reason, false)
	}
	if runCtx == nil {
		return ErrNotRunning
	}
	// The apply lock keeps a switch of another rebuild from running
	// under this one; the track's lock guards the slot.
	t.mu.Lock()
	if t.rebuild != nil {
		t.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrRebuildRunning, name)
	}
	placeholder := newRebuild(rebuildState{})
	t.rebuild = placeholder
	t.mu.Unlock()
	st, _, err := r.states.load(ctx, name)
	if err == nil {
		var rb rebuildState
		if rb, err = r.planRebuild(ctx, t, st, reason); err == nil {
			real := newRebuild(rb)
			t.mu.Lock()
			t.rebuild = real
			t.mu.Unlock()
			r.log.Info("projection rebuild started", "projection", name, "generation", rb.Generation, "reason", reason)
			r.startRebuild(runCtx, t, real)
			return nil
		}
	}
	t.mu.Lock()
	t.rebuild = nil
	t.mu.Unlock()
	return err
}

// RebuildDone blocks until the rebuild of name in progress has switched
// (nil) or ended otherwise, or ctx ends; with none in progress it returns
// nil at once.
func (r *Runner) RebuildDone(ctx context.Context, name string) error {
	t, ok := r.tracks[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	t.mu.Lock()
	rb := t.rebuild
	t.mu.Unlock()
	if rb == nil {
		return nil
	}
	select {
	case <-rb.done:
		return rb.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startRebuild runs rb in the background until it switches or ctx ends.
// A failing batch is retried with a pause doubling up to a minute.
func (r *Runner) startRebuild(ctx context.Context, t *track, rb *rebuild) {
	r.rebuilds.Add(1)
	go func() {
		defer r.rebuilds.Done()
		err := r.runRebuild(ctx, t, rb)
		rb.mu.Lock()
		rb.err = err
		rb.mu.Unlock()
		close(rb.done)
		t.mu.Lock()
		if t.rebuild == rb {
			t.rebuild = nil
		}
		t.mu.Unlock()
	}()
}

func (r *Runner) runRebuild(ctx context.Context, t *track, rb *rebuild) error {
	pause := r.retryDelay
	for {
		switched, err := r.followRebuild(ctx, t, rb)
		if switched {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rb.mu.Lock()
		rb.lastErr = err
		rb.mu.Unlock()
		r.log.Error("projection rebuild failed; retrying", "projection", t.p.Name(), "generation", rb.state.Generation, "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

// followRebuild applies the log to rb's generation from its checkpoint,
// and switches once it has caught up.
func (r *Runner) followRebuild(ctx context.Context, t *track, rb *rebuild) (switched bool, err error) {
	name := t.p.Collection().Name
	target := readstore.Generation(name, rb.state.Generation)
	cpName := rb.state.checkpointName(t.p.Name())
	key, err := r.reads.Checkpoint(ctx, cpName)
	if err != nil {
		return false, err
	}
	from, err := eventstore.ParseKey(key)
	if err != nil {
		return false, err
	}
	c := t.p.Collection()
	c.Name = target
	if err := r.reads.Ensure(ctx, c); err != nil {
		return false, err
	}
	rb.mu.Lock()
	rb.position = from
	// Resumed too: the store loads a generation that is not live yet
	// without its indexes, rows or none (see readstore.SQLiteStore.BeginBulk).
	bulk := rb.finishBulk == nil
	rb.mu.Unlock()
	if bl, ok := r.reads.(bulkLoader); ok && bulk {
		finish, err := bl.BeginBulk(ctx, target)
		if err != nil {
			return false, err
		}
		rb.mu.Lock()
		rb.finishBulk = finish
		rb.mu.Unlock()
	}
	p := retargeted{Projector: t.p, from: name, to: target}
	locked := false
	unlock := func() {
		if locked {
			t.applyMu.Unlock()
			locked = false
		}
	}
	defer unlock()
	// Behind the head, batches are folded ahead of their writes (see
	// writeBehind); from the batch that reaches the head on, one at a
	// time as before.
	behind := startWriteBehind(ctx, r.reads, target, func(f folded) {
		rb.mu.Lock()
		rb.position = f.last
		rb.mu.Unlock()
	})
	defer behind.stop()
	view := overlay{Store: renamed{Store: r.reads, from: name, to: target}, collection: name, w: behind}
	foldedTo := from
	err = r.consume(ctx, from, t.p.Filter(), 0, func(ctx context.Context, b eventstore.Batch) error {
		last := batchEnd(b)
		if !b.CaughtUp {
			return foldAhead(ctx, t, p, b, view, cpName, &rb.applied, &foldedTo)
		}
		if err := behind.flush(ctx); err != nil {
			return err
		}
		if last.Compare(rb.pos()) > 0 {
			var writes []readstore.Write
			if events := t.unskipped(b.Events); len(events) > 0 {
				var err error
				if writes, err = p.Fold(ctx, renamed{Store: r.reads, from: name, to: target}, events); err != nil {
					return err
				}
				rb.applied.Add(uint64(len(events)))
			}
			if err := r.reads.Apply(ctx, readstore.Batch{Writes: writes, Checkpoint: &readstore.Checkpoint{Name: cpName, Position: last.Key()}}); err != nil {
				return fmt.Errorf("apply batch ending at %s: %w", last, err)
			}
			rb.mu.Lock()
			rb.position = last
			rb.mu.Unlock()
		}
		if !b.CaughtUp {
			return nil
		}
		rb.mu.Lock()
		finish := rb.finishBulk
		rb.finishBulk, rb.caughtUp = nil, true
		rb.mu.Unlock()
		if finish != nil {
			// Indexes are built before the switch, outside the live
			// projection's lock: the live one keeps applying meanwhile.
			built := time.Now()
			if err := finish(ctx); err != nil {
				return err
			}
			r.log.Info("rebuilt generation's indexes built", "projection", t.p.Name(), "generation", rb.state.Generation, "took", time.Since(built).Round(time.Millisecond))
		}
		if !locked {
			// No live batch applies from here to the switch.
			t.applyMu.Lock()
			locked = true
		}
		if rb.pos().Compare(t.pos()) < 0 {
			return nil // the live one is ahead: the next batches bring this one level
		}
		if err := r.switchTo(ctx, t, rb); err != nil {
			return err
		}
		switched = true
		return errStop
	})
	unlock()
	if switched {
		// Outside the lock: dropping a large table takes a while, and the
		// live projection applies to the new generation meanwhile.
		r.dropLater(ctx, t, rb.state.From)
	}
	return switched, err
}

// dropLater drops a generation a switch replaced once dropGrace has
// passed, or at once when ctx ends (a stop: no reader is left). Until
// then the readers that resolved it before the switch (a query in flight
// here; another process until it reads which generation is live again)
// still find it: dropped at once, a MongoDB query in flight answered
// nothing, and FerretDB's failed. Run waits for it.
//
// The switch recorded gen among the state's Replaced generations, which
// the next Run drops should the process die before the grace is over;
// once dropped, gen leaves that list.
func (r *Runner) dropLater(ctx context.Context, t *track, gen int) {
	collection := readstore.Generation(t.p.Collection().Name, gen)
	r.rebuilds.Add(1)
	go func() {
		defer r.rebuilds.Done()
		select {
		case <-time.After(r.dropGrace):
		case <-ctx.Done():
		}
		ctx := context.WithoutCancel(ctx)
		if err := r.reads.Drop(ctx, collection); err != nil {
			// The new generation serves; the old one is only space.
			r.log.Warn("could not drop a replaced generation", "collection", collection, "err", err)
			return
		}
		// Best effort: a state saved meanwhile by another change wins,
		// and the next start drops gen again, which finds nothing.
		st, _, err := r.states.load(ctx, t.p.Name())
		if err == nil && slices.Contains(st.Replaced, gen) {
			st.Replaced = slices.DeleteFunc(st.Replaced, func(g int) bool { return g == gen })
			err = r.states.save(ctx, st)
		}
		if err != nil {
			r.log.Warn("could not record that a replaced generation was dropped; the next start drops it again", "collection", collection, "err", err)
		}
	}()
}

// switchTo makes rb's generation the live one. The caller holds t's
// apply lock, and rb has applied everything the live generation has.
func (r *Runner) switchTo(ctx context.Context, t *track, rb *rebuild) error {
	name := t.p.Collection().Name
	if err := r.reads.SwitchGeneration(ctx, name, rb.state.Generation); err != nil {
		return err
	}
	pos := rb.pos()
	if err := r.reads.Apply(ctx, readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: t.p.Name(), Position: pos.Key()}}); err != nil {
		return err
	}
	t.mu.Lock()
	t.gen, t.caughtUp = rb.state.Generation, true
	t.mu.Unlock()
	t.advance(pos)
	t.markStored(pos)
	if r.onSwitched != nil {
		r.onSwitched(t.p.Name(), name)
	}
	if err := r.recordSwitch(ctx, t, &rb.state); err != nil {
		return err
	}
	r.log.Info("projection rebuilt: the new generation is live", "projection", t.p.Name(), "generation", rb.state.Generation,
		"version", rb.state.Version, "position", pos, "took", time.Since(rb.state.StartedAt).Round(time.Millisecond))
	return nil
}

// finishSwitch records a switch to rb's generation that a crash
// interrupted, and drops the old generation.
func (r *Runner) finishSwitch(ctx context.Context, t *track, rb *rebuildState) error {
	if err := r.recordSwitch(ctx, t, rb); err != nil {
		return err
	}
	r.dropLater(ctx, t, rb.From)
	return nil
}

// recordSwitch records that rb's generation is live.
func (r *Runner) recordSwitch(ctx context.Context, t *track, rb *rebuildState) error {
	st, _, err := r.states.load(ctx, t.p.Name())
	if err != nil {
		return err
	}
	st.Version, st.Rebuild = rb.Version, nil
	if !slices.Contains(st.Replaced, rb.From) {
		st.Replaced = append(st.Replaced, rb.From)
	}
	if err := r.states.save(ctx, st); err != nil {
		return err
	}
	t.mu.Lock()
	t.version = rb.Version
	t.mu.Unlock()
	return nil
}

func (rb *rebuild) pos() eventstore.Position {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.position
}

// retargeted is a projector writing to another generation of its
// collection; renamed is a read store that reads it there too.
type retargeted struct {
	Projector
	from, to string
}

// Fold implements Projector.
func (p retargeted) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	writes, err := p.Projector.Fold(ctx, rs, events)
	for i := range writes {
		if writes[i].Collection == p.from {
			writes[i].Collection = p.to
		}
	}
	return writes, err
}

type renamed struct {
	readstore.Store
	from, to string
}

func (s renamed) name(c string) string {
	if c == s.from {
		return s.to
	}
	return c
}

// Get implements readstore.Store.
func (s renamed) Get(ctx context.Context, collection, id string) (readstore.Doc, error) {
	return s.Store.Get(ctx, s.name(collection), id)
}

// Query implements readstore.Store.
func (s renamed) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	return s.Store.Query(ctx, s.name(collection), q)
}

// rate estimates events a second over the last few samples.
type rate struct {
	mu      sync.Mutex
	at      [11]time.Time
	count   [11]uint64
	n, next int
}

// sample records the counter's value at now.
func (r *rate) sample(now time.Time, count uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at[r.next], r.count[r.next] = now, count
	r.next = (r.next + 1) % len(r.at)
	r.n = min(r.n+1, len(r.at))
}

// perSecond is the rate over the samples kept (about 10 s).
func (r *rate) perSecond() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n < 2 {
		return 0
	}
	newest := (r.next - 1 + len(r.at)) % len(r.at)
	oldest := (r.next - r.n + len(r.at)) % len(r.at)
	d := r.at[newest].Sub(r.at[oldest]).Seconds()
	if d <= 0 {
		return 0
	}
	// A tenth of an event a second is all a rate of ~10 s says.
	return math.Round(float64(r.count[newest]-r.count[oldest])/d*10) / 10
}
