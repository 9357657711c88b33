// Package reactions runs the work that follows from events: process
// managers that read the event log and issue commands (notifications,
// campaign scheduling, company offboarding, knowledge syncs) and the
// integration events published for other systems.
//
// The event log is the outbox. For each reaction a forwarder follows the
// log through a checkpointed subscription, as a projection does, and
// publishes every event it selects as a Watermill message whose UUID is
// the event id; the checkpoint moves only once the messages are handed
// over (on the in-process GoChannel: once they are handled). Handlers run
// on Watermill's router behind Recoverer, Retry with exponential backoff,
// CorrelationID and a PoisonQueue: a message that still fails after its
// retries is parked, listed for operators and can be replayed.
//
// Delivery is at least once: a crash between a command and its
// acknowledgement delivers the message again. Effects are idempotent
// instead, because every command a reaction issues carries a command id
// derived from the triggering event, so a redelivery appends nothing
// twice.
package reactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/eventstore"
)

// Reaction is work that follows from events.
type Reaction struct {
	// Name names the reaction: its checkpoint, its topics, the system
	// principal its commands run as, and its status line.
	Name string
	// Filter selects the events it reacts to.
	Filter eventstore.Filter
	// Handle does the work for one event. An error is retried with
	// backoff and, past the retries, parks the message. Handle must be
	// idempotent: the same event may come more than once (use Meta).
	Handle func(ctx context.Context, ev eventstore.RecordedEvent) error
}

// Meta returns the metadata of a command that reaction name issues
// because of ev: the system principal naming the reaction in the event's
// company, ev as the causation, ev's correlation id, and a command id
// derived from the event id and purpose, so that handling ev again issues
// the same command, which appends nothing new.
func Meta(name string, ev eventstore.RecordedEvent, purpose string) commands.Meta {
	return commands.Meta{
		Principal:     domain.SystemPrincipal(name, ev.Metadata.CompanyID),
		CommandID:     commands.DeriveID(ev.ID, "reaction/"+name+"/"+purpose),
		CorrelationID: ev.Metadata.CorrelationID,
		CausationID:   ev.ID,
	}
}

// Checkpoints keeps each forwarder's position in the event log.
// Implementations are safe for concurrent use.
type Checkpoints interface {
	// LoadCheckpoint returns the position stored under name, or
	// eventstore.Start when there is none.
	LoadCheckpoint(ctx context.Context, name string) (eventstore.Position, error)
	// SaveCheckpoint stores pos under name; it never moves one back.
	SaveCheckpoint(ctx context.Context, name string, pos eventstore.Position) error
}

// Config configures a Service.
type Config struct {
	// Events is the event log; required.
	Events eventstore.Store
	// Checkpoints keeps the forwarders' positions; required.
	Checkpoints Checkpoints
	// Parking keeps the messages that failed past their retries; required.
	Parking Parking
	// PubSub carries the messages; required (NewGoChannel, NewNATS).
	PubSub *PubSub
	// Reactions are the reactions to run.
	Reactions []Reaction
	// Shards is how many topics each reaction's messages are spread over,
	// by stream, so that handlers run in parallel while the events of one
	// stream keep their order; default 32 on the GoChannel, 16 on a broker.
	Shards int
	// MaxRetries is how many times a failing message is tried again before
	// it is parked; default 5. Retries wait RetryInterval, doubling up
	// to 10 s; default 100 ms.
	MaxRetries    int
	RetryInterval time.Duration
	// BatchSize is the most events a forwarder reads at once; default 256.
	BatchSize int
	// Logger logs; default slog.Default().
	Logger *slog.Logger
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Validate reports every missing or invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("reactions: Events is required"))
	}
	if c.Checkpoints == nil {
		errs = append(errs, errors.New("reactions: Checkpoints is required"))
	}
	if c.Parking == nil {
		errs = append(errs, errors.New("reactions: Parking is required"))
	}
	if c.PubSub == nil {
		errs = append(errs, errors.New("reactions: PubSub is required"))
	}
	if c.Shards < 0 || c.MaxRetries < 0 || c.RetryInterval < 0 || c.BatchSize < 0 {
		errs = append(errs, errors.New("reactions: Shards, MaxRetries, RetryInterval and BatchSize cannot be negative"))
	}
	seen := map[string]bool{}
	for i, r := range c.Reactions {
		switch {
		case r.Name == "" || !validName(r.Name):
			errs = append(errs, fmt.Errorf("reactions: reaction %d: name %q must be lower-case letters, digits and underscores", i, r.Name))
		case seen[r.Name]:
			errs = append(errs, fmt.Errorf("reactions: reaction %q is declared twice", r.Name))
		case r.Handle == nil:
			errs = append(errs, fmt.Errorf("reactions: reaction %q has no Handle", r.Name))
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Service runs the forwarders and the router. It is safe for concurrent
// use; Run runs once.
type Service struct {
	cfg    Config
	log    *slog.Logger
	router *message.Router
	tracks []*track
	// ready is closed once the router runs: a GoChannel drops what is
	// published to a topic nobody subscribes to yet.
	ready chan struct{}
}

// track is one reaction's forwarder state, for Status.
type track struct {
	r Reaction

	mu sync.Mutex
	// checkpoint is the position handed over up to; saved is the one
	// stored last, at savedAt. A batch with no events of the reaction's
	// types moves checkpoint but is stored at most once a second, so an
	// idle reaction's status still shows it at the head of the log.
	checkpoint eventstore.Position
	saved      eventstore.Position
	caughtUp   bool
	// oldest is when the oldest event still being handed over was
	// recorded; zero when none is.
	oldest  time.Time
	handled uint64
	lastErr string
	savedAt time.Time
	// recent counts the events handed over in each of the last seconds
	// (by Unix second modulo its length), for the rate.
	recent   [10]uint64
	recentAt [10]int64
}

// count adds n events handed over at now to the recent rate.
func (t *track) count(now time.Time, n int) {
	sec := now.Unix()
	i := int(sec % int64(len(t.recent)))
	if t.recentAt[i] != sec {
		t.recent[i], t.recentAt[i] = 0, sec
	}
	t.recent[i] += uint64(n)
}

// perSecond is the rate over the last 10 whole seconds.
func (t *track) perSecond(now time.Time) float64 {
	sec := now.Unix()
	var sum uint64
	for i := range t.recent {
		if at := t.recentAt[i]; at < sec && at >= sec-int64(len(t.recent)) {
			sum += t.recent[i]
		}
	}
	return float64(sum) / float64(len(t.recent))
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Shards == 0 {
		// In process a topic costs a goroutine; on a broker it is a stream
		// with its consumers. Measured (BenchmarkReactions): 8 → 32 topics
		// took the GoChannel from 2,480 to 3,600 events/s, and 8 → 16 took
		// NATS from 1,540 to 1,960.
		cfg.Shards = 32
		if cfg.PubSub != nil && cfg.PubSub.Kind != "gochannel" {
			cfg.Shards = 16
		}
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 100 * time.Millisecond
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermillLogger{cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.router = router
	// A message cut short by a shutdown is not poisoned: it is left
	// unacknowledged, and its forwarder does not move its checkpoint
	// past it, so it comes again after the restart.
	poison, err := middleware.PoisonQueueWithFilter(cfg.PubSub.Publisher, ParkedTopic, func(err error) bool {
		return !errors.Is(err, context.Canceled)
	})
	if err != nil {
		return nil, err
	}
	retry := middleware.Retry{
		MaxRetries:      cfg.MaxRetries,
		InitialInterval: cfg.RetryInterval,
		Multiplier:      2,
		MaxInterval:     10 * time.Second,
		// The message's context ends with the router; a retry must not
		// outlive it.
		ResetContextOnRetry: false,
		Logger:              watermillLogger{cfg.Logger},
	}
	for _, r := range cfg.Reactions {
		t := &track{r: r}
		s.tracks = append(s.tracks, t)
		for shard := range cfg.Shards {
			h := router.AddConsumerHandler(fmt.Sprintf("%s_%d", r.Name, shard), Topic(r.Name, shard), cfg.PubSub.Subscriber, s.handler(t))
			// Outermost first: a message that still fails after its
			// retries (a panic counts, through Recoverer) is parked.
			h.AddMiddleware(middleware.CorrelationID, poison, retry.Middleware, middleware.Recoverer)
		}
	}
	// Parking must not lose a message: it is retried until it succeeds.
	park := router.AddConsumerHandler("parked", ParkedTopic, cfg.PubSub.Subscriber, s.park)
	park.AddMiddleware(middleware.Retry{MaxRetries: 1 << 30, InitialInterval: cfg.RetryInterval, Multiplier: 2, MaxInterval: 10 * time.Second, Logger: watermillLogger{cfg.Logger}}.Middleware, middleware.Recoverer)
	return s, nil
}

// ParkedTopic is the topic the poison queue publishes failed messages to.
const ParkedTopic = "agentdesk_reactions_parked"

// Topic returns the topic of shard of reaction name. Topics use
// underscores only: NATS JetStream names a stream after its topic and
// allows no dots in it.
func Topic(name string, shard int) string {
	return fmt.Sprintf("agentdesk_reaction_%s_%d", name, shard)
}

// shardOf spreads streams over shards.
func shardOf(stream string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(stream))
	return int(h.Sum32() % uint32(shards))
}

// checkpointName is the name a reaction's checkpoint is stored under,
// apart from the projections'.
func checkpointName(reaction string) string { return "reaction:" + reaction }

// Metadata keys every forwarded message carries.
const (
	MetaEventType   = "event_type"
	MetaEventID     = "event_id"
	MetaStreamID    = "stream_id"
	MetaCompanyID   = "company_id"
	MetaCausationID = "causation_id"
	MetaReaction    = "reaction"
)

// Run starts the router and the forwarders and blocks until ctx ends or
// the router stops. A forwarder that fails (the event store or the
// broker is down) starts again from its checkpoint after a pause.
func (s *Service) Run(ctx context.Context) error { return s.run(ctx, true) }

// RunHandlers runs the router alone, without the forwarders: on a broker
// (NATS), a process that does not run the forwarders (another holds the
// lease) still handles its share of the messages. It blocks like Run.
func (s *Service) RunHandlers(ctx context.Context) error { return s.run(ctx, false) }

func (s *Service) run(ctx context.Context, forward bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	routerDone := make(chan error, 1)
	go func() { routerDone <- s.router.Run(ctx) }()
	select {
	case <-s.router.Running():
	case err := <-routerDone:
		return fmt.Errorf("reactions router: %w", err)
	}
	close(s.ready)
	var wg sync.WaitGroup
	for _, t := range s.tracks {
		if forward {
			wg.Go(func() { s.follow(ctx, t) })
		}
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-routerDone:
		cancel()
	}
	wg.Wait()
	if closeErr := s.router.Close(); closeErr != nil && err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("reactions router: %w", err)
	}
	return nil
}

// follow runs t's forwarder until ctx ends, starting it again after a
// failure with a pause that doubles up to 30 s.
func (s *Service) follow(ctx context.Context, t *track) {
	pause := time.Second
	for ctx.Err() == nil {
		err := s.forward(ctx, t)
		if ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		t.lastErr = err.Error()
		t.mu.Unlock()
		s.log.Error("reaction forwarder failed; starting again from its checkpoint", "reaction", t.r.Name, "err", err, "in", pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// forward publishes t's events from its checkpoint on, one batch at a
// time, and stores the checkpoint after each batch is handed over.
func (s *Service) forward(ctx context.Context, t *track) error {
	name := checkpointName(t.r.Name)
	from, err := s.cfg.Checkpoints.LoadCheckpoint(ctx, name)
	if err != nil {
		return fmt.Errorf("load checkpoint: %w", err)
	}
	sub, err := s.cfg.Events.Subscribe(ctx, from, t.r.Filter)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	t.mu.Lock()
	t.checkpoint, t.saved = from, from
	t.mu.Unlock()
	for {
		b, err := sub.Next(ctx, s.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(b.Events) > 0 {
			t.mu.Lock()
			t.oldest = b.Events[0].Metadata.RecordedAt
			t.mu.Unlock()
			if err := s.publish(ctx, t, b.Events); err != nil {
				return err
			}
			// A GoChannel that closes discards what it has not handled and
			// says nothing: past a shutdown, the batch is not done.
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cp := b.Checkpoint
		if cp.IsZero() && len(b.Events) > 0 {
			cp = b.Events[len(b.Events)-1].Position
		}
		t.mu.Lock()
		save := !cp.IsZero() && cp.Compare(t.saved) > 0 && (len(b.Events) > 0 || s.cfg.Now().Sub(t.savedAt) >= time.Second)
		t.mu.Unlock()
		if save {
			if err := s.cfg.Checkpoints.SaveCheckpoint(ctx, name, cp); err != nil {
				return fmt.Errorf("save checkpoint: %w", err)
			}
		}
		t.mu.Lock()
		if save {
			t.saved, t.savedAt = cp, s.cfg.Now()
		}
		if !cp.IsZero() && cp.Compare(t.checkpoint) > 0 {
			t.checkpoint = cp
		}
		t.caughtUp = t.caughtUp || b.CaughtUp
		t.oldest = time.Time{}
		t.handled += uint64(len(b.Events))
		t.count(s.cfg.Now(), len(b.Events))
		t.lastErr = ""
		t.mu.Unlock()
	}
}

// publish hands events over, each stream's in order on its shard's
// topic, the shards in parallel. It returns once every event is handed
// over (on GoChannel: handled or parked).
func (s *Service) publish(ctx context.Context, t *track, events []eventstore.RecordedEvent) error {
	byShard := map[int][]*message.Message{}
	for _, ev := range events {
		msg, err := newMessage(t.r.Name, ev)
		if err != nil {
			return err
		}
		shard := shardOf(ev.StreamID, s.cfg.Shards)
		byShard[shard] = append(byShard[shard], msg)
	}
	errs := make(chan error, len(byShard))
	for shard, msgs := range byShard {
		go func() {
			topic := Topic(t.r.Name, shard)
			for _, m := range msgs {
				if err := s.cfg.PubSub.Publisher.Publish(topic, m); err != nil {
					errs <- fmt.Errorf("publish to %s: %w", topic, err)
					return
				}
			}
			errs <- nil
		}()
	}
	var err error
	for range byShard {
		err = errors.Join(err, <-errs)
	}
	return err
}

// newMessage turns ev into the message reaction name handles: the
// recorded event as JSON, the event id as UUID.
func newMessage(reaction string, ev eventstore.RecordedEvent) (*message.Message, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	msg := message.NewMessage(ev.ID, payload)
	msg.Metadata.Set(MetaEventType, ev.Type)
	msg.Metadata.Set(MetaEventID, ev.ID)
	msg.Metadata.Set(MetaStreamID, ev.StreamID)
	msg.Metadata.Set(MetaCompanyID, ev.Metadata.CompanyID)
	msg.Metadata.Set(MetaCausationID, ev.Metadata.CausationID)
	msg.Metadata.Set(MetaReaction, reaction)
	middleware.SetCorrelationID(ev.Metadata.CorrelationID, msg)
	return msg, nil
}

// handler decodes a message and runs t's reaction on it.
func (s *Service) handler(t *track) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		var ev eventstore.RecordedEvent
		if err := json.Unmarshal(msg.Payload, &ev); err != nil {
			return fmt.Errorf("decode message %s: %w", msg.UUID, err)
		}
		if err := t.r.Handle(msg.Context(), ev); err != nil {
			return fmt.Errorf("%s on %s %s: %w", t.r.Name, ev.Type, ev.ID, err)
		}
		return nil
	}
}

// Running reports whether the router runs and the forwarders follow the
// log.
func (s *Service) Running() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// Status is where one reaction stands.
type Status struct {
	// Name is the reaction's name.
	Name string `json:"name"`
	// Checkpoint is the position its forwarder has handed over up to
	// (eventstore.Position.Key), empty before the first.
	Checkpoint string `json:"checkpoint"`
	// CaughtUp is true once it has handed over every event that was
	// stored when it started.
	CaughtUp bool `json:"caught_up"`
	// LagSeconds is how long ago the oldest event still being handed
	// over was recorded; 0 when it is idle.
	LagSeconds float64 `json:"lag_seconds"`
	// Handled counts the events handed over since the start, and
	// EventsPerSecond their recent rate (the last 10 s).
	Handled         uint64  `json:"handled"`
	EventsPerSecond float64 `json:"events_per_second"`
	// Parked counts its parked messages.
	Parked int `json:"parked"`
	// LastError is the forwarder's last failure, cleared by its next
	// batch.
	LastError string `json:"last_error,omitempty"`
}

// Status reports every reaction, by name.
func (s *Service) Status(ctx context.Context) ([]Status, error) {
	now := s.cfg.Now()
	out := make([]Status, 0, len(s.tracks))
	for _, t := range s.tracks {
		t.mu.Lock()
		st := Status{Name: t.r.Name, CaughtUp: t.caughtUp, Handled: t.handled, EventsPerSecond: t.perSecond(now), LastError: t.lastErr}
		if !t.checkpoint.IsZero() {
			st.Checkpoint = t.checkpoint.Key()
		}
		if !t.oldest.IsZero() {
			st.LagSeconds = max(0, now.Sub(t.oldest).Seconds())
		}
		t.mu.Unlock()
		n, err := s.cfg.Parking.CountParked(ctx, t.r.Name)
		if err != nil {
			return nil, fmt.Errorf("count parked: %w", err)
		}
		st.Parked = n
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// watermillLogger lets Watermill log through slog: its errors as errors,
// everything else at debug level.
type watermillLogger struct{ l *slog.Logger }

func (w watermillLogger) args(fields watermill.LogFields) []any {
	out := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		out = append(out, k, v)
	}
	return out
}

func (w watermillLogger) Error(msg string, err error, fields watermill.LogFields) {
	w.l.Error(msg, append(w.args(fields), "err", err)...)
}

// Info is logged at debug level: Watermill says "starting handler" and
// the like once per topic, which an operator does not need.
func (w watermillLogger) Info(msg string, fields watermill.LogFields) {
	w.l.Debug(msg, w.args(fields)...)
}
func (w watermillLogger) Debug(msg string, fields watermill.LogFields) {
	w.l.Debug(msg, w.args(fields)...)
}
func (w watermillLogger) Trace(msg string, fields watermill.LogFields) {
	w.l.Debug(msg, w.args(fields)...)
}
func (w watermillLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{w.l.With(w.args(fields)...)}
}
