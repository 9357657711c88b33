package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Config configures a Runner.
type Config struct {
	Events     eventstore.Store
	Reads      readstore.Store
	Projectors []Projector
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// RetryDelay is the pause after a failed batch before it is retried;
	// default 1s.
	RetryDelay time.Duration
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("projections: Events is required"))
	}
	if c.Reads == nil {
		errs = append(errs, errors.New("projections: Reads is required"))
	}
	seen := map[string]bool{}
	for _, p := range c.Projectors {
		if seen[p.Name()] {
			errs = append(errs, fmt.Errorf("projections: %q registered twice", p.Name()))
		}
		seen[p.Name()] = true
		if err := p.Collection().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("projections: %s: %w", p.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Runner keeps projections up to date. Run drives it; Wait and Status
// may be called from any goroutine.
type Runner struct {
	events     eventstore.Store
	reads      readstore.Store
	log        *slog.Logger
	retryDelay time.Duration
	tracks     map[string]*track
	order      []*track
}

// track is one projection's live progress.
type track struct {
	p Projector

	mu       sync.Mutex
	position uint64        // checkpoint stored with the last applied batch
	advanced chan struct{} // closed and replaced when position moves
	caughtUp bool          // reached the head seen at start
	lastErr  error
}

// New returns a Runner; it ensures every projector's collection exists.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	r := &Runner{events: cfg.Events, reads: cfg.Reads, log: cfg.Logger, retryDelay: cfg.RetryDelay, tracks: map[string]*track{}}
	for _, p := range cfg.Projectors {
		if err := cfg.Reads.Ensure(ctx, p.Collection()); err != nil {
			return nil, fmt.Errorf("ensure %s: %w", p.Collection().Name, err)
		}
		pos, err := cfg.Reads.Checkpoint(ctx, p.Name())
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", p.Name(), err)
		}
		t := &track{p: p, position: pos, advanced: make(chan struct{})}
		r.tracks[p.Name()] = t
		r.order = append(r.order, t)
	}
	return r, nil
}

// Run projects until ctx is done, one goroutine per projection, and
// returns once they have all stopped. A failing batch is logged and
// retried; it never skips events.
func (r *Runner) Run(ctx context.Context) error {
	head, err := r.events.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: head: %w", err)
	}
	var wg sync.WaitGroup
	for _, t := range r.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runOne(ctx, t, head)
		}()
	}
	wg.Wait()
	return nil
}

func (r *Runner) runOne(ctx context.Context, t *track, head uint64) {
	name := t.p.Name()
	start := time.Now()
	from := t.pos()
	if from >= head {
		t.markCaughtUp()
	}
	for ctx.Err() == nil {
		err := r.follow(ctx, t, head, start)
		if err == nil || ctx.Err() != nil {
			return
		}
		t.setErr(err)
		r.log.Error("projection failed; retrying", "projection", name, "position", t.pos(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.retryDelay):
		}
	}
}

// follow subscribes from the checkpoint and applies batches until ctx
// ends or a batch fails.
func (r *Runner) follow(ctx context.Context, t *track, head uint64, start time.Time) error {
	sub, err := r.events.Subscribe(ctx, t.pos(), t.p.Filter())
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	from := t.pos()
	for {
		// Once nothing stored is left below the start-up head, the
		// projection counts as caught up even if no event matched.
		if !t.isCaughtUp() {
			if last, err := r.lastMatching(ctx, t, head); err == nil && last <= t.pos() {
				t.markCaughtUp()
				r.log.Info("projection caught up", "projection", t.p.Name(), "from", from, "position", t.pos(), "took", time.Since(start).Round(time.Millisecond))
			}
		}
		evs, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("next: %w", err)
		}
		if err := r.apply(ctx, t, evs); err != nil {
			return err
		}
	}
}

// lastMatching returns the position of the last event at or below head
// that the projection consumes (0 if none). It reads backward cheaply by
// asking for events after the current checkpoint, one at a time.
func (r *Runner) lastMatching(ctx context.Context, t *track, head uint64) (uint64, error) {
	evs, err := r.events.ReadAll(ctx, t.pos(), 1, t.p.Filter())
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 || evs[0].Position > head {
		return t.pos(), nil
	}
	return evs[0].Position, nil
}

// apply folds one batch and stores it with its checkpoint in one transaction.
func (r *Runner) apply(ctx context.Context, t *track, evs []eventstore.RecordedEvent) error {
	if len(evs) == 0 {
		return nil
	}
	writes, err := t.p.Fold(ctx, r.reads, evs)
	if err != nil {
		return err
	}
	last := evs[len(evs)-1].Position
	if err := r.reads.Apply(ctx, readstore.Batch{Writes: writes, Checkpoint: &readstore.Checkpoint{Name: t.p.Name(), Position: last}}); err != nil {
		return fmt.Errorf("apply batch ending at %d: %w", last, err)
	}
	t.advance(last)
	return nil
}

// Wait blocks until projection name has applied every event up to
// position, or ctx ends.
func (r *Runner) Wait(ctx context.Context, name string, position uint64) error {
	t, ok := r.tracks[name]
	if !ok {
		return fmt.Errorf("projections: unknown projection %q", name)
	}
	for {
		t.mu.Lock()
		pos, ch := t.position, t.advanced
		t.mu.Unlock()
		if pos >= position {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projection %s at %d, waiting for %d: %w", name, pos, position, ctx.Err())
		}
	}
}

// Status is a projection's progress.
type Status struct {
	Name       string `json:"name"`
	Collection string `json:"collection"`
	Position   uint64 `json:"position"`
	CaughtUp   bool   `json:"caught_up"`
	Error      string `json:"error,omitempty"`
}

// Status returns every projection's progress, in registration order.
func (r *Runner) Status() []Status {
	out := make([]Status, 0, len(r.order))
	for _, t := range r.order {
		t.mu.Lock()
		s := Status{Name: t.p.Name(), Collection: t.p.Collection().Name, Position: t.position, CaughtUp: t.caughtUp}
		if t.lastErr != nil {
			s.Error = t.lastErr.Error()
		}
		t.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// Ready reports whether every projection has caught up with the events
// stored when Run started.
func (r *Runner) Ready() bool {
	for _, t := range r.order {
		if !t.isCaughtUp() {
			return false
		}
	}
	return true
}

func (t *track) pos() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.position
}

func (t *track) isCaughtUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.caughtUp
}

func (t *track) markCaughtUp() {
	t.mu.Lock()
	t.caughtUp = true
	t.mu.Unlock()
}

func (t *track) setErr(err error) {
	t.mu.Lock()
	t.lastErr = err
	t.mu.Unlock()
}

func (t *track) advance(pos uint64) {
	t.mu.Lock()
	t.position, t.lastErr = pos, nil
	close(t.advanced)
	t.advanced = make(chan struct{})
	t.mu.Unlock()
}
