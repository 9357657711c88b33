package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// OnApplied, if set, hears of every batch of documents a projection
	// wrote, after the read store has them and before Wait returns for
	// their events, so a cache of those documents can drop them in time
	// for a writer's next read. It must be quick; it runs on the
	// projection's goroutine.
	OnApplied func(projection string, writes []readstore.Write)
	// MaxLag is how long a projection may stay behind a head of the
	// event log before Ready says no; default 10s.
	MaxLag time.Duration
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
	onApplied  func(string, []readstore.Write)
	maxLag     time.Duration
	tracks     map[string]*track
	order      []*track
	// running is true while Run runs: a runner that stopped serves no
	// read model as current.
	running atomic.Bool
}

// track is one projection's live progress.
type track struct {
	p Projector

	mu       sync.Mutex
	position eventstore.Position // everything up to here is applied
	stored   time.Time           // when the checkpoint was last stored
	advanced chan struct{}       // closed and replaced when position moves
	caughtUp bool                // finished the catch-up from its checkpoint
	lastErr  error
	// caughtUpAt is when follow saw it catch up, for the log line; only
	// follow's goroutine touches it.
	caughtUpAt time.Time
	// target is a head of the log seen at targetAt that position had not
	// reached then; lagging is set once it stays unreached for maxLag.
	target   eventstore.Position
	targetAt time.Time
	lagging  bool
	// finishBulk, when set, builds the indexes of a collection loaded
	// from scratch; it runs once the projection has caught up.
	finishBulk func(context.Context) error
}

// bulkLoader is a read store that loads an empty collection faster with
// its indexes built at the end (readstore.SQLiteStore).
type bulkLoader interface {
	BeginBulk(ctx context.Context, collection string) (finish func(context.Context) error, err error)
}

// checkpointEvery bounds how often a checkpoint that carries no documents
// (its subscription only skipped events) is stored: losing one costs a
// rescan of the skipped events after a restart, nothing more.
const checkpointEvery = 5 * time.Second

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
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = 10 * time.Second
	}
	r := &Runner{events: cfg.Events, reads: cfg.Reads, log: cfg.Logger, retryDelay: cfg.RetryDelay, batchSize: cfg.BatchSize,
		onApplied: cfg.OnApplied, maxLag: cfg.MaxLag, tracks: map[string]*track{}}
	for _, p := range cfg.Projectors {
		if err := cfg.Reads.Ensure(ctx, p.Collection()); err != nil {
			return nil, fmt.Errorf("ensure %s: %w", p.Collection().Name, err)
		}
		key, err := cfg.Reads.Checkpoint(ctx, p.Name())
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", p.Name(), err)
		}
		pos, err := eventstore.ParseKey(key)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", p.Name(), err)
		}
		t := &track{p: p, position: pos, stored: time.Now(), advanced: make(chan struct{})}
		r.tracks[p.Name()] = t
		r.order = append(r.order, t)
	}
	return r, nil
}

// Run projects until ctx is done, one goroutine per projection, and
// returns once they have all stopped. Each projection follows one
// subscription from its checkpoint: catch-up, then live. A failing batch
// is logged and retried from the checkpoint; it never skips events.
func (r *Runner) Run(ctx context.Context) error {
	r.running.Store(true)
	defer r.running.Store(false)
	var wg sync.WaitGroup
	for _, t := range r.order {
		wg.Go(func() { r.runOne(ctx, t) })
	}
	wg.Go(func() { r.watchLag(ctx) })
	wg.Wait()
	return nil
}

// lagCheckEvery is how often the log's head is compared with every
// projection's position.
const lagCheckEvery = time.Second

// watchLag marks a projection lagging when a head of the log it has seen
// stays unreached for maxLag: a projection that keeps up with a busy log
// is always a little behind the newest head, never behind an old one.
func (r *Runner) watchLag(ctx context.Context) {
	tick := time.NewTicker(lagCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		head, err := r.events.Head(ctx)
		if err != nil {
			continue // a failing store shows in the projections' errors
		}
		now := time.Now()
		for _, t := range r.order {
			t.mu.Lock()
			switch {
			case t.position.Compare(t.target) >= 0:
				// Reached the last target: watch the new head.
				t.target, t.targetAt, t.lagging = head, now, false
			case now.Sub(t.targetAt) >= r.maxLag:
				if !t.lagging {
					r.log.Warn("projection lagging", "projection", t.p.Name(), "position", t.position, "head_seen", t.target, "since", t.targetAt)
				}
				t.lagging = true
			}
			t.mu.Unlock()
		}
	}
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

// follow subscribes from the checkpoint and applies what the subscription
// delivers until ctx ends or a batch fails. A reader goroutine asks for
// the next batch while the current one is folded and written, so reading
// and writing overlap during catch-up.
func (r *Runner) follow(ctx context.Context, t *track) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start, from := time.Now(), t.pos()
	if bl, ok := r.reads.(bulkLoader); ok && from == eventstore.Start && t.finishBulk == nil && !t.isCaughtUp() {
		finish, err := bl.BeginBulk(ctx, t.p.Collection().Name)
		if err != nil {
			return err
		}
		t.finishBulk = finish
	}
	sub, err := r.events.Subscribe(ctx, from, t.p.Filter())
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	batches := make(chan eventstore.Batch, 1)
	defer func() {
		// End the reader and wait for it: it closes batches on its way out.
		cancel()
		_ = sub.Close()
		for range batches {
		}
	}()
	readErr := make(chan error, 1)
	// Behind the head, the reader reads the next full batch while this one
	// is applied. At the head it waits for the apply to finish instead:
	// what was appended meanwhile then goes into the next batch whole,
	// rather than a sliver read at the apply's start leaving the rest for
	// the batch after it. That took one apply off a live write's wait and
	// made live batches larger (cheaper per event). With the read store's
	// statement journals moved to memory, a create's wait for its view fell
	// from 17–18 ms to 7–9 ms at 64 connections.
	applied := make(chan struct{}, 1)
	go func() {
		defer close(batches)
		for {
			b, err := sub.Next(ctx, r.batchSize)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			if len(b.Events) < r.batchSize {
				select {
				case <-applied:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for b := range batches {
		if err := r.apply(ctx, t, b); err != nil {
			return err
		}
		if len(b.Events) < r.batchSize {
			applied <- struct{}{}
		}
		if b.CaughtUp && t.caughtUpAt.IsZero() {
			t.caughtUpAt = time.Now()
			r.log.Info("projection caught up", "projection", t.p.Name(), "from", from, "position", t.pos(), "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("subscription: %w", <-readErr)
}

// apply folds one batch's events and stores the writes, then the
// checkpoint. Checkpoints that carry no events are stored now and then
// only; the track's position moves with every batch.
func (r *Runner) apply(ctx context.Context, t *track, b eventstore.Batch) error {
	last := b.Checkpoint
	if n := len(b.Events); n > 0 && last.Compare(b.Events[n-1].Position) < 0 {
		last = b.Events[n-1].Position
	}
	if last.Compare(t.pos()) <= 0 {
		return r.caughtUp(ctx, t, b)
	}
	var writes []readstore.Write
	if len(b.Events) > 0 {
		var err error
		if writes, err = t.p.Fold(ctx, r.reads, b.Events); err != nil {
			return err
		}
	}
	if len(writes) > 0 || time.Since(t.storedAt()) >= checkpointEvery {
		cp := &readstore.Checkpoint{Name: t.p.Name(), Position: last.Key()}
		if err := r.reads.Apply(ctx, readstore.Batch{Writes: writes, Checkpoint: cp}); err != nil {
			return fmt.Errorf("apply batch ending at %s: %w", last, err)
		}
		t.markStored()
		if r.onApplied != nil && len(writes) > 0 {
			r.onApplied(t.p.Name(), writes)
		}
	}
	// Caught up before the position moves: whoever Waits for it finds
	// the read model built and current.
	if err := r.caughtUp(ctx, t, b); err != nil {
		return err
	}
	t.advance(last)
	return nil
}

// caughtUp marks t caught up when b says so, after building the indexes
// of a collection loaded from scratch.
func (r *Runner) caughtUp(ctx context.Context, t *track, b eventstore.Batch) error {
	if !b.CaughtUp || t.isCaughtUp() {
		return nil
	}
	if t.finishBulk != nil {
		built := time.Now()
		if err := t.finishBulk(ctx); err != nil {
			return err
		}
		t.finishBulk = nil
		r.log.Info("projection indexes built", "projection", t.p.Name(), "took", time.Since(built).Round(time.Millisecond))
	}
	t.markCaughtUp()
	return nil
}

// Wait blocks until projection name has applied every event up to
// position, or ctx ends.
func (r *Runner) Wait(ctx context.Context, name string, position eventstore.Position) error {
	t, ok := r.tracks[name]
	if !ok {
		return fmt.Errorf("projections: unknown projection %q", name)
	}
	for {
		t.mu.Lock()
		pos, ch := t.position, t.advanced
		t.mu.Unlock()
		if pos.Compare(position) >= 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projection %s at %s, waiting for %s: %w", name, pos, position, ctx.Err())
		}
	}
}

// Status is a projection's progress.
type Status struct {
	Name       string `json:"name"`
	Collection string `json:"collection"`
	Position   string `json:"position"`
	CaughtUp   bool   `json:"caught_up"`
	// Lagging says a head of the log it saw stayed unreached for longer
	// than the runner's MaxLag.
	Lagging bool   `json:"lagging,omitempty"`
	Error   string `json:"error,omitempty"`
	// At is Position as a value, to compare with the event store's head.
	At eventstore.Position `json:"-"`
}

// Status returns every projection's progress, in registration order.
func (r *Runner) Status() []Status {
	out := make([]Status, 0, len(r.order))
	for _, t := range r.order {
		t.mu.Lock()
		s := Status{Name: t.p.Name(), Collection: t.p.Collection().Name, Position: t.position.String(), CaughtUp: t.caughtUp, Lagging: t.lagging, At: t.position}
		if t.lastErr != nil {
			s.Error = t.lastErr.Error()
		}
		t.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// Ready reports whether the runner runs and every projection has
// finished catching up from its checkpoint, is not failing and is not
// lagging.
func (r *Runner) Ready() bool { return r.NotReady() == "" }

// NotReady says why the runner is not Ready, or "" when it is.
func (r *Runner) NotReady() string {
	if !r.running.Load() {
		return "projections are stopped"
	}
	for _, t := range r.order {
		t.mu.Lock()
		caughtUp, err, lagging := t.caughtUp, t.lastErr, t.lagging
		t.mu.Unlock()
		switch {
		case err != nil:
			return fmt.Sprintf("projection %s is failing: %v", t.p.Name(), err)
		case !caughtUp:
			return fmt.Sprintf("projection %s is catching up", t.p.Name())
		case lagging:
			return fmt.Sprintf("projection %s is lagging more than %s behind the event log", t.p.Name(), r.maxLag)
		}
	}
	return ""
}

// CaughtUp reports whether the named projection has caught up since the
// start and its last batch did not fail: whether its read model can be
// served as current.
func (r *Runner) CaughtUp(name string) bool {
	t, ok := r.tracks[name]
	return ok && t.ready()
}

func (t *track) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.caughtUp && t.lastErr == nil
}

func (t *track) pos() eventstore.Position {
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

func (t *track) storedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stored
}

func (t *track) markStored() {
	t.mu.Lock()
	t.stored = time.Now()
	t.mu.Unlock()
}

func (t *track) advance(pos eventstore.Position) {
	t.mu.Lock()
	t.position, t.lastErr = pos, nil
	close(t.advanced)
	t.advanced = make(chan struct{})
	t.mu.Unlock()
}
