package projections

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"agentdesk/eventstore"
)

// Follow keeps this process's view of the projections current while
// another process runs them (it holds the lease): positions come from the
// checkpoints in the read store, so Wait — read-your-writes — waits on the
// read store, not on a signal of this process; the state documents tell
// the version, the generation, a rebuild's progress and a halt. Rebuild
// and Resume become requests that the running process carries out. It
// returns when ctx ends.
func (r *Runner) Follow(ctx context.Context) error {
	r.running.Store(true)
	r.following.Store(true)
	defer func() {
		r.following.Store(false)
		r.running.Store(false)
	}()
	fast := time.NewTicker(20 * time.Millisecond)
	defer fast.Stop()
	var polled, stated time.Time
	for {
		now := time.Now()
		waiting := false
		for _, t := range r.order {
			waiting = waiting || t.waiters.Load() > 0
		}
		if waiting || now.Sub(polled) >= time.Second {
			polled = now
			r.followCheckpoints(ctx)
		}
		if now.Sub(stated) >= time.Second {
			stated = now
			r.followStates(ctx)
			if h, err := r.events.Head(ctx); err == nil {
				r.markLag(now, h)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-fast.C:
		}
	}
}

// followCheckpoints moves each track to its stored checkpoint.
func (r *Runner) followCheckpoints(ctx context.Context) {
	for _, t := range r.order {
		key, err := r.reads.Checkpoint(ctx, t.p.Name())
		if err != nil {
			continue // the store is failing: the next poll tries again
		}
		pos, err := eventstore.ParseKey(key)
		if err != nil {
			continue
		}
		if from := t.pos(); pos.Compare(from) > 0 {
			t.advance(pos)
			if r.onFollowed != nil {
				r.onFollowed(Followed{Projection: t.p.Name(), Collection: t.p.Collection().Name, From: from, To: pos})
			}
		}
		// The process that runs it says whether it is current; here a
		// projection that stops moving shows as lagging (markLag).
		if !t.isCaughtUp() {
			t.markCaughtUp()
		}
	}
}

// followStates reads each projection's state document and generation.
func (r *Runner) followStates(ctx context.Context) {
	for _, t := range r.order {
		st, _, err := r.states.load(ctx, t.p.Name())
		if err != nil {
			continue
		}
		gen, _ := r.reads.LiveGeneration(ctx, t.p.Collection().Name)
		var rb *rebuild
		if st.Rebuild != nil {
			rb = newRebuild(*st.Rebuild)
			if key, err := r.reads.Checkpoint(ctx, st.Rebuild.checkpointName(t.p.Name())); err == nil {
				rb.position, _ = eventstore.ParseKey(key)
			}
		}
		t.mu.Lock()
		t.version, t.rebuild = st.Version, rb
		switched := gen > 0 && t.gen > 0 && gen != t.gen
		if gen > 0 {
			t.gen = gen
		}
		t.halted = st.Halted != nil
		if st.Halted != nil {
			t.lastErr = haltError(st.Halted.Error)
			t.errAt, _ = eventstore.ParseKey(st.Halted.Position)
		} else if _, was := t.lastErr.(haltError); was {
			t.lastErr = nil // resumed there
		}
		t.mu.Unlock()
		if switched && r.onSwitched != nil {
			r.onSwitched(t.p.Name(), t.p.Collection().Name)
		}
	}
}

// Followed is what a follower hears when another process applied more
// of a projection (Config.OnFollowed).
type Followed struct {
	Projection, Collection string
	// The projection's stored checkpoint moved from From to To: the
	// events of its filter in (From, To] were applied.
	From, To eventstore.Position
}

// Companies returns the companies of the events f says were applied: the
// tenants whose records of f's collection may have changed ("" stands
// for the platform's own events). It reads at most limit events, for at
// most a few seconds; past either, ok is false and the answer is "any".
func (r *Runner) Companies(ctx context.Context, f Followed, limit int) (companies []string, ok bool, err error) {
	t, found := r.tracks[f.Projection]
	if !found {
		return nil, false, fmt.Errorf("projections: unknown projection %q", f.Projection)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	sub, err := r.events.Subscribe(ctx, f.From, t.p.Filter())
	if err != nil {
		return nil, false, err
	}
	defer sub.Close()
	seen := map[string]bool{}
	read := 0
	for {
		b, err := sub.Next(ctx, min(256, limit+1))
		if err != nil {
			return nil, false, err
		}
		for _, ev := range b.Events {
			if ev.Position.Compare(f.To) > 0 {
				return slices.Sorted(maps.Keys(seen)), true, nil
			}
			if read++; read > limit {
				return nil, false, nil
			}
			seen[ev.Metadata.CompanyID] = true
		}
		if batchEnd(b).Compare(f.To) >= 0 || b.CaughtUp {
			return slices.Sorted(maps.Keys(seen)), true, nil
		}
	}
}

type haltError string

func (e haltError) Error() string { return string(e) }

// handleRequests carries out what other processes asked for.
func (r *Runner) handleRequests(ctx context.Context) {
	for _, t := range r.order {
		rq, err := r.states.requests(ctx, t.p.Name())
		if err != nil || rq.Seq == 0 {
			continue
		}
		st, _, err := r.states.load(ctx, t.p.Name())
		if err != nil || rq.Seq <= st.Handled {
			continue
		}
		st.Handled = rq.Seq
		if err := r.states.save(ctx, st); err != nil {
			continue
		}
		if rq.Rebuild != "" {
			if err := r.Rebuild(ctx, t.p.Name(), rq.Rebuild); err != nil {
				r.log.Warn("a rebuild asked for by another process was not started", "projection", t.p.Name(), "err", err)
			}
		}
		if rq.Resume {
			if err := r.Resume(t.p.Name()); err != nil {
				r.log.Warn("a resume asked for by another process was not carried out", "projection", t.p.Name(), "err", err)
			}
		}
	}
}

// saveHalted records t's halt (nil: resumed) for other processes.
func (r *Runner) saveHalted(ctx context.Context, t *track, h *haltedState) {
	st, _, err := r.states.load(ctx, t.p.Name())
	if err == nil {
		st.Halted = h
		err = r.states.save(ctx, st)
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("could not record the projection's halt for other processes", "projection", t.p.Name(), "err", err)
	}
}
