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
	// BatchSize is the most events read and applied in one read-store
	// transaction while catching up; default 16384. Larger batches fold
	// more events of one document into one write.
	BatchSize int
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
	batchSize  int
	tracks     map[string]*track
	order      []*track
}

// track is one projection's live progress.
type track struct {
	p Projector

	mu       sync.Mutex
	position uint64        // checkpoint stored with the last applied batch
	advanced chan struct{} // closed and replaced when position moves
	caughtUp bool          // finished the catch-up from its checkpoint
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
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 16384
	}
	r := &Runner{events: cfg.Events, reads: cfg.Reads, log: cfg.Logger, retryDelay: cfg.RetryDelay, batchSize: cfg.BatchSize, tracks: map[string]*track{}}
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
// returns once they have all stopped. Each projection first catches up
// from its checkpoint, then follows a live subscription. A failing batch
// is logged and retried; it never skips events.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range r.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runOne(ctx, t)
		}()
	}
	wg.Wait()
	return nil
}

func (r *Runner) runOne(ctx context.Context, t *track) {
	for ctx.Err() == nil {
		err := r.follow(ctx, t)
		if err == nil || ctx.Err() != nil {
			return
		}
		t.setErr(err)
		r.log.Error("projection failed; retrying", "projection", t.p.Name(), "position", t.pos(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.retryDelay):
		}
	}
}

// follow catches up from the checkpoint, then applies live events as they
// are appended, until ctx ends or a batch fails.
func (r *Runner) follow(ctx context.Context, t *track) error {
	if !t.isCaughtUp() {
		start, from := time.Now(), t.pos()
		if err := r.catchUp(ctx, t); err != nil {
			return err
		}
		t.markCaughtUp()
		r.log.Info("projection caught up", "projection", t.p.Name(), "from", from, "position", t.pos(), "took", time.Since(start).Round(time.Millisecond))
	}
	sub, err := r.events.Subscribe(ctx, t.pos(), t.p.Filter())
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	for {
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

// catchUp applies everything stored after the checkpoint in large
// batches. A reader goroutine fetches the next batch while the current one
// is folded and written, so reading and writing overlap.
func (r *Runner) catchUp(ctx context.Context, t *track) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []eventstore.RecordedEvent, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		after := t.pos()
		for {
			evs, err := r.events.ReadAll(ctx, after, r.batchSize, t.p.Filter())
			if err != nil {
				readErr <- fmt.Errorf("read after %d: %w", after, err)
				return
			}
			if len(evs) == 0 {
				return
			}
			select {
			case batches <- evs:
			case <-ctx.Done():
				return
			}
			if len(evs) < r.batchSize {
				return
			}
			after = evs[len(evs)-1].Position
		}
	}()
	var applyErr error
	for evs := range batches {
		if applyErr == nil {
			if applyErr = r.apply(ctx, t, evs); applyErr != nil {
				cancel() // stop the reader; the loop drains what it sent
			}
		}
	}
	if applyErr != nil {
		return applyErr
	}
	select {
	case err := <-readErr:
		return err
	default:
		return ctx.Err()
	}
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

// Ready reports whether every projection has finished catching up from
// its checkpoint.
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
