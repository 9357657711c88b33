package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
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
	// MaxRetries is how many times a failing batch is tried again, with a
	// pause from RetryDelay doubling up to a minute, before the
	// projection halts (or, under its skip policy, parks the failing
	// event); default 5.
	MaxRetries int
	// SkipFailing names the projections whose events that still fail
	// after the retries are parked and skipped instead of halting the
	// projection ("*": all). Only an event the projector cannot decode
	// or project is ever skipped; a failing store halts.
	SkipFailing []string
	// OnSwitched, if set, hears that a rebuilt generation of a
	// projection's collection became the live one (on a process that
	// follows, once it has seen so).
	OnSwitched func(projection, collection string)
	// DropGrace is how long a generation replaced by a rebuild is kept
	// after the switch: readers that resolved it just before (a query in
	// flight here; in another process, until it reads which generation
	// is live again) still read it meanwhile. Default 10s; a stop drops
	// it at once.
	DropGrace time.Duration
	// OnFollowed, if set, hears on a process that follows (Follow) that
	// another process applied more of a projection: its stored checkpoint
	// moved, so documents of its collection may have changed. It is what
	// a follower has instead of OnApplied (Runner.Companies tells whose).
	// It must be quick.
	OnFollowed func(Followed)
	// Shared says other processes may follow this one (Follow), on
	// stores they share: they see a projection's progress only through
	// its stored checkpoint, so every batch stores it (even one that
	// skipped every event), and their rebuild and resume requests are
	// carried out.
	Shared bool
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
	onSwitched func(string, string)
	onFollowed func(Followed)
	dropGrace  time.Duration
	maxLag     time.Duration
	maxRetries int
	// shared is Config.Shared.
	shared bool
	tracks map[string]*track
	order  []*track
	states *states
	// running is true while Run or Follow runs: a runner that stopped
	// serves no read model as current. following is true while Follow
	// runs: another process runs the projections.
	running   atomic.Bool
	following atomic.Bool
	// runCtx is Run's context, for the rebuilds started while it runs;
	// rebuilds counts them, so that Run returns after them.
	mu       sync.Mutex
	runCtx   context.Context
	rebuilds sync.WaitGroup
}

// track is one projection's live progress.
type track struct {
	p Projector
	// applyMu is held while a batch is applied to the live generation; a
	// rebuild takes it to switch generations between two batches.
	applyMu sync.Mutex
	// skipFailing is the projection's skip policy.
	skipFailing bool
	// applied counts the events applied, for the rate.
	applied atomic.Uint64
	// waiters counts the Waits in progress; a follower polls the stored
	// checkpoint often only while somebody waits.
	waiters atomic.Int32

	mu       sync.Mutex
	position eventstore.Position // everything up to here is applied
	stored   time.Time           // when the checkpoint was last stored
	// storedPos is the position the stored checkpoint holds, as far as
	// this runner knows.
	storedPos eventstore.Position
	advanced  chan struct{} // closed and replaced when position moves
	caughtUp  bool          // finished the catch-up from its checkpoint
	lastErr   error
	// errAt is the position of the event that failed, when known (an
	// *EventError), else where the projection stood.
	errAt eventstore.Position
	// halted is set once a failure outlasted the retries; resume wakes
	// the projection up again.
	halted bool
	resume chan struct{}
	// skip holds the ids of the events parked under the skip policy.
	skip map[string]bool
	// version and gen are the projector version and generation of the
	// live read model.
	version, gen int
	// rebuild is the rebuild in progress, if any.
	rebuild *rebuild
	// replaced are generations a switch replaced that are still to be
	// dropped (the process stopped within the grace): Run drops them.
	replaced []int
	// rate samples applied, for the recent events a second.
	rate rate
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
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 5
	}
	if cfg.DropGrace <= 0 {
		cfg.DropGrace = 10 * time.Second
	}
	r := &Runner{events: cfg.Events, reads: cfg.Reads, log: cfg.Logger, retryDelay: cfg.RetryDelay, batchSize: cfg.BatchSize,
		onApplied: cfg.OnApplied, onSwitched: cfg.OnSwitched, onFollowed: cfg.OnFollowed, dropGrace: cfg.DropGrace, maxLag: cfg.MaxLag, maxRetries: cfg.MaxRetries, shared: cfg.Shared,
		tracks: map[string]*track{}, states: &states{reads: cfg.Reads}}
	if err := r.states.ensure(ctx); err != nil {
		return nil, fmt.Errorf("projections: %w", err)
	}
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
		gen, err := cfg.Reads.LiveGeneration(ctx, p.Collection().Name)
		if err != nil {
			return nil, fmt.Errorf("live generation of %s: %w", p.Collection().Name, err)
		}
		skip, err := r.states.skipped(ctx, p.Name())
		if err != nil {
			return nil, fmt.Errorf("parked events of %s: %w", p.Name(), err)
		}
		t := &track{p: p, position: pos, stored: time.Now(), storedPos: pos, advanced: make(chan struct{}), resume: make(chan struct{}, 1),
			skip: skip, gen: gen, skipFailing: slices.Contains(cfg.SkipFailing, p.Name()) || slices.Contains(cfg.SkipFailing, "*")}
		if err := r.restore(ctx, t, pos); err != nil {
			return nil, err
		}
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
	r.mu.Lock()
	r.runCtx = ctx
	r.mu.Unlock()
	r.running.Store(true)
	defer r.running.Store(false)
	for _, t := range r.order {
		if err := r.planVersion(ctx, t); err != nil {
			r.log.Error("could not start the rebuild a projector's new version needs; it will be tried at the next start", "projection", t.p.Name(), "err", err)
		}
	}
	for _, t := range r.order {
		t.mu.Lock()
		replaced := t.replaced
		t.replaced = nil
		t.mu.Unlock()
		for _, gen := range replaced {
			r.dropLater(ctx, t, gen)
		}
	}
	var wg sync.WaitGroup
	for _, t := range r.order {
		wg.Go(func() { r.runOne(ctx, t) })
		t.mu.Lock()
		rb := t.rebuild
		t.mu.Unlock()
		if rb != nil {
			r.startRebuild(ctx, t, rb)
		}
	}
	wg.Go(func() { r.watchLag(ctx) })
	wg.Wait()
	r.rebuilds.Wait()
	r.mu.Lock()
	r.runCtx = nil
	r.mu.Unlock()
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
		if r.shared {
			r.handleRequests(ctx)
		}
		head, err := r.events.Head(ctx)
		if err != nil {
			continue // a failing store shows in the projections' errors
		}
		r.markLag(time.Now(), head)
	}
}

// markLag samples the rates and marks each projection lagging when a head
// of the log it has seen stays unreached for maxLag.
func (r *Runner) markLag(now time.Time, head eventstore.Position) {
	for _, t := range r.order {
		t.rate.sample(now, t.applied.Load())
		t.mu.Lock()
		if t.rebuild != nil {
			t.rebuild.rate.sample(now, t.rebuild.applied.Load())
		}
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

// runOne follows t's subscription until ctx ends. A failing batch is
// tried again after a pause that doubles from RetryDelay up to a minute;
// past MaxRetries failures in a row (with no progress between them) the
// projection parks the failing event under its skip policy, or halts
// until Resume. Nothing is ever skipped silently.
func (r *Runner) runOne(ctx context.Context, t *track) {
	failures := 0
	var failedAt eventstore.Position
	defer r.storeLast(t)
	for ctx.Err() == nil {
		err := r.follow(ctx, t)
		if err == nil || ctx.Err() != nil {
			return
		}
		if pos := t.pos(); pos.Compare(failedAt) > 0 || failures == 0 {
			failures, failedAt = 0, pos // it moved since the last failure
		}
		failures++
		at := t.pos()
		var ee *EventError
		if errors.As(err, &ee) {
			at = ee.Event.Position
		}
		t.setErr(err, at)
		if failures <= r.maxRetries {
			pause := min(r.retryDelay<<(failures-1), time.Minute)
			r.log.Error("projection failed; retrying", "projection", t.p.Name(), "position", at, "attempt", failures, "of", r.maxRetries+1, "in", pause, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		if t.skipFailing && ee != nil {
			p, perr := r.states.park(ctx, t.p.Name(), ee.Event, ee.Err)
			if perr == nil {
				t.mu.Lock()
				t.skip[ee.Event.ID] = true
				t.mu.Unlock()
				failures = 0
				r.log.Warn("projection parked an event that kept failing, and goes on without it", "projection", t.p.Name(),
					"event_id", p.EventID, "type", p.EventType, "stream", p.StreamID, "position", at, "err", ee.Err)
				continue
			}
			r.log.Error("projection could not park its failing event", "projection", t.p.Name(), "err", perr)
		}
		t.mu.Lock()
		t.halted = true
		t.mu.Unlock()
		r.saveHalted(ctx, t, &haltedState{Error: err.Error(), Position: at.Key()})
		r.log.Error("projection halted: it failed past its retries; fix the cause and resume it (agentdesk projections resume "+t.p.Name()+")",
			"projection", t.p.Name(), "position", at, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-t.resume:
		}
		t.mu.Lock()
		t.halted = false
		t.mu.Unlock()
		r.saveHalted(ctx, t, nil)
		failures = 0
		r.log.Info("projection resumed", "projection", t.p.Name(), "position", t.pos())
	}
}

// storeLast stores t's checkpoint at its position when that moved past
// the stored one: batches that write nothing store theirs only every
// checkpointEvery, and a stop leaves the stored checkpoint where the
// projection stood, so that the status read with the server stopped shows
// no lag and the next start rescans nothing. A follower stores nothing:
// the lease holder does.
func (r *Runner) storeLast(t *track) {
	if r.following.Load() {
		return
	}
	t.applyMu.Lock()
	defer t.applyMu.Unlock()
	t.mu.Lock()
	pos, stored, halted := t.position, t.storedPos, t.halted
	t.mu.Unlock()
	if halted || pos.Compare(stored) <= 0 {
		return
	}
	// The run's context has ended: the store gets a few seconds of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.reads.Apply(ctx, readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: t.p.Name(), Position: pos.Key()}}); err != nil {
		r.log.Warn("projection could not store its checkpoint at stop; the next start reads again from the one stored before", "projection", t.p.Name(), "position", pos, "err", err)
		return
	}
	t.markStored(pos)
}

// ErrNotHalted is returned by Resume for a projection that is not halted.
var ErrNotHalted = errors.New("projection is not halted")

// ErrUnknownProjection is returned for a projection name the runner does
// not have.
var ErrUnknownProjection = errors.New("no such projection")

// Resume wakes a halted projection up: it tries its failing batch again,
// with a fresh set of retries.
func (r *Runner) Resume(name string) error {
	t, ok := r.tracks[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	if r.following.Load() {
		t.mu.Lock()
		halted := t.halted
		t.mu.Unlock()
		if !halted {
			return fmt.Errorf("%w: %s", ErrNotHalted, name)
		}
		// Another process runs it: ask that one.
		return r.states.request(context.Background(), name, "", true)
	}
	// Cleared here rather than when the track wakes: the status read
	// right after a resume must not still say halted, and a second resume
	// before the retry must be refused rather than leave a wake-up behind
	// that would resume the next halt unasked.
	t.mu.Lock()
	halted := t.halted
	t.halted = false
	t.mu.Unlock()
	if !halted {
		return fmt.Errorf("%w: %s", ErrNotHalted, name)
	}
	select {
	case t.resume <- struct{}{}:
	default:
	}
	return nil
}

// follow subscribes from the checkpoint and applies what the subscription
// delivers until ctx ends or a batch fails. A reader goroutine asks for
// the next batch while the current one is folded and written, so reading
// and writing overlap during catch-up.
func (r *Runner) follow(ctx context.Context, t *track) error {
	start, from := time.Now(), t.pos()
	if bl, ok := r.reads.(bulkLoader); ok && from == eventstore.Start && t.finishBulk == nil && !t.isCaughtUp() {
		finish, err := bl.BeginBulk(ctx, t.p.Collection().Name)
		if err != nil {
			return err
		}
		t.finishBulk = finish
	}
	// Until it first reaches the head, batches are folded ahead of their
	// writes (see writeBehind); from then on, one at a time, and the
	// writer is stopped: a live batch is not handed to another goroutine.
	var behind *writeBehind
	if !t.isCaughtUp() {
		behind = startWriteBehind(ctx, r.reads, t.p.Collection().Name, func(f folded) {
			t.markStored(f.last)
			if r.onApplied != nil && len(f.writes) > 0 {
				r.onApplied(t.p.Name(), f.writes)
			}
			t.advance(f.last)
		})
		defer func() {
			if behind != nil {
				behind.stop()
			}
		}()
	}
	view := overlay{Store: r.reads, collection: t.p.Collection().Name, w: behind}
	foldedTo := from
	return r.consume(ctx, from, t.p.Filter(), lingerOf(t.p), func(ctx context.Context, b eventstore.Batch) error {
		if behind != nil && !b.CaughtUp && !t.isCaughtUp() {
			// The apply lock marks the projection's batches, as apply's
			// does: a rebuild's switch comes between two of them.
			t.applyMu.Lock()
			defer t.applyMu.Unlock()
			return foldAhead(ctx, t, t.p, b, view, t.p.Name(), &t.applied, &foldedTo)
		}
		if behind != nil {
			err := behind.flush(ctx)
			behind.stop()
			behind = nil
			if err != nil {
				return err
			}
		}
		if err := r.applyChunks(ctx, t, b); err != nil {
			return err
		}
		if b.CaughtUp && t.caughtUpAt.IsZero() {
			t.caughtUpAt = time.Now()
			r.log.Info("projection caught up", "projection", t.p.Name(), "from", from, "position", t.pos(), "took", time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
}

// lingerChunk is the most events of a lingering projection (see
// Lingerer) applied in one transaction. Its batches gather hundreds of
// events; written at once, each held the read store's one writer for
// 15–25 ms, and the writes waiting on the tickets view waited with it.
// Smaller chunks cost more commits, each rewriting the pages its indexes
// touch, and the writer is the bottleneck of creates over HTTP. With 64
// clients on loopback, same hour: unchunked, p99 39.4 ms in-process and
// 2,490–2,600 creates/s with the real binary; 128, p99 35 ms and the
// same rate; 64, p99 33 ms but 4.5 % fewer creates.
const lingerChunk = 128

// applyChunks applies b; a lingering projection's in chunks of at most
// lingerChunk events, each with its checkpoint, yielding between them
// so that another projection's batch can take the read store's writer.
// Only the last chunk carries the batch's checkpoint and caught-up mark.
func (r *Runner) applyChunks(ctx context.Context, t *track, b eventstore.Batch) error {
	if lingerOf(t.p) > 0 {
		for len(b.Events) > lingerChunk {
			if err := r.apply(ctx, t, eventstore.Batch{Events: b.Events[:lingerChunk]}); err != nil {
				return err
			}
			b.Events = b.Events[lingerChunk:]
			runtime.Gosched()
		}
	}
	return r.apply(ctx, t, b)
}

// Lingerer is a Projector that no write waits on (the audit log), which
// may apply its events late. At the head of the log the runner waits
// Linger after each batch before it reads the next, so that under load
// the projection applies a few large batches rather than many small
// ones, each costing the read store's one writer a transaction and its
// count rows a rewrite, while the writes that wait on other projections
// are being served.
type Lingerer interface {
	Linger() time.Duration
}

// lingerOf returns p's linger, or 0.
func lingerOf(p Projector) time.Duration {
	if l, ok := p.(Lingerer); ok {
		return max(0, l.Linger())
	}
	return 0
}

// errStop ends consume without an error.
var errStop = errors.New("stop")

// consume subscribes from from and hands each batch to apply until ctx
// ends, apply fails (errStop: ends cleanly) or the subscription does. At
// the head of the log it waits linger after each batch (see Lingerer).
func (r *Runner) consume(ctx context.Context, from eventstore.Position, filter eventstore.Filter, linger time.Duration, apply func(context.Context, eventstore.Batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := r.events.Subscribe(ctx, from, filter)
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
				if linger > 0 {
					// A projection nobody waits on gathers the events of
					// a while into one batch, and leaves the writer to
					// the ones writes wait on meanwhile.
					select {
					case <-time.After(linger):
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	for b := range batches {
		if err := apply(ctx, b); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		if len(b.Events) < r.batchSize {
			applied <- struct{}{}
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
	t.applyMu.Lock()
	defer t.applyMu.Unlock()
	last := batchEnd(b)
	if last.Compare(t.pos()) <= 0 {
		return r.caughtUp(ctx, t, b)
	}
	var writes []readstore.Write
	if events := t.unskipped(b.Events); len(events) > 0 {
		var err error
		if writes, err = t.p.Fold(ctx, r.reads, events); err != nil {
			return err
		}
		t.applied.Add(uint64(len(events)))
	}
	if len(writes) > 0 || r.shared || time.Since(t.storedAt()) >= checkpointEvery {
		cp := &readstore.Checkpoint{Name: t.p.Name(), Position: last.Key()}
		if err := r.reads.Apply(ctx, readstore.Batch{Writes: writes, Checkpoint: cp}); err != nil {
			return fmt.Errorf("apply batch ending at %s: %w", last, err)
		}
		t.markStored(last)
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

// batchEnd is the position a batch brings its reader to.
func batchEnd(b eventstore.Batch) eventstore.Position {
	last := b.Checkpoint
	if n := len(b.Events); n > 0 && last.Compare(b.Events[n-1].Position) < 0 {
		last = b.Events[n-1].Position
	}
	return last
}

// unskipped returns events without those parked under the skip policy.
func (t *track) unskipped(events []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.skip) == 0 {
		return events
	}
	out := make([]eventstore.RecordedEvent, 0, len(events))
	for _, ev := range events {
		if !t.skip[ev.ID] {
			out = append(out, ev)
		}
	}
	return out
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
	t.waiters.Add(1)
	defer t.waiters.Add(-1)
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
	// Version is the projector version the live generation was built
	// with, and Generation that generation.
	Version    int `json:"version"`
	Generation int `json:"generation"`
	// Checkpoint is the position applied up to, as a position key;
	// Position the same, readable.
	Checkpoint string `json:"checkpoint"`
	Position   string `json:"position"`
	// State is running, catching up, rebuilding or halted.
	State    string `json:"state"`
	CaughtUp bool   `json:"caught_up"`
	// Lagging says a head of the log it saw stayed unreached for longer
	// than the runner's MaxLag; LagSeconds is how long the oldest head it
	// has not reached has waited.
	Lagging    bool    `json:"lagging"`
	LagSeconds float64 `json:"lag_seconds"`
	// EventsPerSecond is the recent rate of events applied (about the
	// last 10 s).
	EventsPerSecond float64 `json:"events_per_second"`
	// Error is the last failure, at ErrorPosition (the failing event's
	// position when the projector failed on one); cleared by the next
	// batch that goes through.
	Error         string `json:"error,omitempty"`
	ErrorPosition string `json:"error_position,omitempty"`
	// SkipFailing is the projection's skip policy; Parked counts the
	// events it skipped under it.
	SkipFailing bool `json:"skip_failing"`
	Parked      int  `json:"parked"`
	// Rebuild is the rebuild in progress, if any.
	Rebuild *RebuildStatus `json:"rebuild,omitempty"`
	// At is Position as a value, to compare with the event store's head.
	At eventstore.Position `json:"-"`
}

// RebuildStatus is a rebuild's progress.
type RebuildStatus struct {
	Generation int       `json:"generation"`
	Version    int       `json:"version"`
	Reason     string    `json:"reason"`
	StartedAt  time.Time `json:"started_at"`
	Position   string    `json:"position"`
	// Done and Total are its position and the log's head when it
	// started, in the log's unit (events in the embedded store, bytes of
	// log in EventStoreDB). Done passes Total when events were appended
	// while it ran: it follows the log to its head before it switches.
	Done            uint64  `json:"done"`
	Total           uint64  `json:"total"`
	CaughtUp        bool    `json:"caught_up"`
	EventsPerSecond float64 `json:"events_per_second"`
	Error           string  `json:"error,omitempty"`
}

// Projection state names.
const (
	StateRunning    = "running"
	StateCatchingUp = "catching up"
	StateRebuilding = "rebuilding"
	StateHalted     = "halted"
)

// Status returns every projection's progress, in registration order.
func (r *Runner) Status() []Status {
	out := make([]Status, 0, len(r.order))
	now := time.Now()
	for _, t := range r.order {
		t.mu.Lock()
		s := Status{Name: t.p.Name(), Collection: t.p.Collection().Name, Version: t.version, Generation: t.gen,
			Checkpoint: t.position.Key(), Position: t.position.String(), CaughtUp: t.caughtUp, Lagging: t.lagging, At: t.position,
			SkipFailing: t.skipFailing, Parked: len(t.skip)}
		if t.position.Compare(t.target) < 0 && !t.targetAt.IsZero() {
			s.LagSeconds = now.Sub(t.targetAt).Seconds()
		}
		if t.lastErr != nil {
			s.Error, s.ErrorPosition = t.lastErr.Error(), t.errAt.Key()
		}
		rb := t.rebuild
		switch {
		case t.halted:
			s.State = StateHalted
		case rb != nil:
			s.State = StateRebuilding
		case !t.caughtUp:
			s.State = StateCatchingUp
		default:
			s.State = StateRunning
		}
		t.mu.Unlock()
		s.EventsPerSecond = t.rate.perSecond()
		if rb != nil {
			rb.mu.Lock()
			s.Rebuild = &RebuildStatus{Generation: rb.state.Generation, Version: rb.state.Version, Reason: rb.state.Reason, StartedAt: rb.state.StartedAt,
				Position: rb.position.String(), Done: rb.position.Commit, Total: rb.total.Commit, CaughtUp: rb.caughtUp}
			if rb.lastErr != nil {
				s.Rebuild.Error = rb.lastErr.Error()
			}
			rb.mu.Unlock()
			s.Rebuild.EventsPerSecond = rb.rate.perSecond()
		}
		out = append(out, s)
	}
	return out
}

// Parked lists the events parked under the skip policy, newest first, of
// one projection or (empty) all, a page at a time, with their total.
func (r *Runner) Parked(ctx context.Context, projection string, skip, limit int) ([]ParkedEvent, int, error) {
	return r.states.parked(ctx, projection, skip, limit)
}

// Applied returns the position up to which projection name has applied
// the log (for a follower, as its holder last stored it), and false for
// a projection the runner does not know.
func (r *Runner) Applied(name string) (eventstore.Position, bool) {
	t, ok := r.tracks[name]
	if !ok {
		return eventstore.Position{}, false
	}
	return t.pos(), true
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
		t.mu.Lock()
		halted := t.halted
		t.mu.Unlock()
		switch {
		case halted:
			return fmt.Sprintf("projection %s is halted: %v", t.p.Name(), err)
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

func (t *track) setErr(err error, at eventstore.Position) {
	t.mu.Lock()
	t.lastErr, t.errAt = err, at
	t.mu.Unlock()
}

func (t *track) storedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stored
}

// markStored records that the checkpoint at pos was just stored.
func (t *track) markStored(pos eventstore.Position) {
	t.mu.Lock()
	t.stored = time.Now()
	if pos.Compare(t.storedPos) > 0 {
		t.storedPos = pos
	}
	t.mu.Unlock()
}

// advance moves t to pos, never back: after a rebuild switched
// generations, the live subscription may deliver events the new
// generation already holds.
func (t *track) advance(pos eventstore.Position) {
	t.mu.Lock()
	if pos.Compare(t.position) > 0 {
		t.position = pos
	}
	t.lastErr = nil
	close(t.advanced)
	t.advanced = make(chan struct{})
	t.mu.Unlock()
}
