package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"agentdesk/commands"
	"agentdesk/eventstore"
	"agentdesk/internal/config"
	"agentdesk/reactions"
	"agentdesk/readapi"
	"agentdesk/readstore"
)

// reactionSet is the reactions of a server: the Watermill service, the
// campaign scheduler, and what they run on.
type reactionSet struct {
	events    eventstore.Store
	scheduler *reactions.Scheduler
	// syncs starts the periodic knowledge syncs; nil without
	// SYNC_INTERVAL.
	syncs   *reactions.SyncScheduler
	parking *readParking
	// build makes the service and its pub/sub afresh: a Watermill router
	// runs once, so the service is rebuilt after a failure (a broker
	// that was down at start).
	build   func() (*reactions.Service, *reactions.PubSub, error)
	service atomic.Pointer[reactions.Service]
	// failure is why the service last stopped, shown until it runs again.
	failure atomic.Pointer[string]
}

// newReactions builds the reactions on the server's stores and commands;
// the embeddings reaction, with embed, only when LLM_EMBEDDING_MODEL is
// set.
func newReactions(ctx context.Context, cfg config.Config, events eventstore.Store, reads readstore.Store, app *commands.App, embed reactions.Embedder, sw syncWiring, log *slog.Logger) (*reactionSet, error) {
	parking := &readParking{reads: reads}
	if err := reads.Ensure(ctx, parkedCollection); err != nil {
		return nil, fmt.Errorf("reactions: %w", err)
	}
	syncs, err := reactions.Syncs(reactions.SyncConfig{Commands: app, Opener: sw.opener, Sources: sw.sources(), Logger: log})
	if err != nil {
		return nil, err
	}
	list := []reactions.Reaction{
		reactions.Notifications(app),
		reactions.Offboarding(events, app),
		syncs,
	}
	names := []string{reactions.NotificationsName, reactions.OffboardingName, reactions.SyncsName, reactions.SchedulerName}
	// Integration events are for other systems, which read them from a
	// broker: on the in-process GoChannel nothing outside the process
	// could, and nothing inside does, so they are published only on one.
	// Publishing them for nobody took 6 % of the CPU under concurrent
	// creates, and storing the forwarder's checkpoint 7-9 % of the read
	// store's writer (creates over HTTP in-process +7 %, three
	// alternating 12 s runs).
	integration := cfg.NATSURL != ""
	if integration {
		names = append(names, reactions.IntegrationName)
	}
	if cfg.LLMEmbeddingModel != "" {
		list = append(list, reactions.Embeddings(cfg.LLMEmbeddingModel, embed, app))
		names = append(names, reactions.EmbeddingsName)
	}
	build := func() (*reactions.Service, *reactions.PubSub, error) {
		ps := reactions.NewGoChannel(log)
		if cfg.NATSURL != "" {
			var err error
			if ps, err = reactions.NewNATS(reactions.NATSConfig{URL: cfg.NATSURL, Group: cfg.NATSGroup}, log); err != nil {
				return nil, nil, err
			}
		}
		svc, err := reactions.New(reactions.Config{
			Events: events, Checkpoints: readCheckpoints{reads}, Parking: parking, PubSub: ps, Logger: log,
			MaxRetries: cfg.ReactionRetries,
			Reactions:  withIntegration(list, integration, ps, cfg.IntegrationTopic),
		})
		if err != nil {
			ps.Close()
			return nil, nil, err
		}
		return svc, ps, nil
	}
	sched, err := reactions.NewScheduler(reactions.SchedulerConfig{Events: events, Campaigns: app, Logger: log})
	if err != nil {
		return nil, err
	}
	rs := &reactionSet{events: events, scheduler: sched, parking: parking, build: build}
	if cfg.SyncInterval > 0 {
		if rs.syncs, err = reactions.NewSyncScheduler(reactions.SyncSchedulerConfig{Events: events, Syncs: app, Interval: cfg.SyncInterval, Logger: log}); err != nil {
			return nil, err
		}
		names = append(names, reactions.SyncSchedulerName)
	}
	// Built once now, so that a bad configuration stops the start.
	svc, ps, err := build()
	if err != nil {
		return nil, err
	}
	ps.Close()
	rs.service.Store(svc)
	transport := "in-process GoChannel"
	if cfg.NATSURL != "" {
		transport = "NATS JetStream at " + redactURL(cfg.NATSURL)
	}
	log.Info("reactions: "+transport, "reactions", names)
	return rs, nil
}

// withIntegration returns list, and the reaction that publishes
// integration events on ps when on is set.
func withIntegration(list []reactions.Reaction, on bool, ps *reactions.PubSub, topic string) []reactions.Reaction {
	if !on {
		return list
	}
	return append(slices.Clip(list), reactions.Integration(ps.Publisher, topic))
}

// run runs the reactions until ctx ends. The service starts again after
// a failure, with a pause that doubles up to 30 s, from the checkpoints.
func (rs *reactionSet) run(ctx context.Context, log *slog.Logger) {
	var wg sync.WaitGroup
	wg.Go(func() { rs.keep(ctx, log, (*reactions.Service).Run) })
	wg.Go(func() {
		// The scheduler starts again after a failure (the event store
		// was unreachable), rebuilding its plan from the log.
		for pause := time.Second; ctx.Err() == nil; pause = min(2*pause, 30*time.Second) {
			err := rs.scheduler.Run(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			log.Error("campaign scheduler failed; starting again", "err", err, "in", pause)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
			}
		}
	})
	if rs.syncs != nil {
		wg.Go(func() {
			for pause := time.Second; ctx.Err() == nil; pause = min(2*pause, 30*time.Second) {
				err := rs.syncs.Run(ctx)
				if err == nil || ctx.Err() != nil {
					return
				}
				log.Error("sync scheduler failed; starting again", "err", err, "in", pause)
				select {
				case <-time.After(pause):
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Wait()
}

// handle runs only the reactions' handlers until ctx ends: on a broker,
// a process that does not hold the lease handles its share of the
// messages the holder's forwarders publish.
func (rs *reactionSet) handle(ctx context.Context, log *slog.Logger) {
	rs.keep(ctx, log, (*reactions.Service).RunHandlers)
}

// keep runs the service with runFn until ctx ends, building it afresh
// after a failure.
func (rs *reactionSet) keep(ctx context.Context, log *slog.Logger, runFn func(*reactions.Service, context.Context) error) {
	for pause := time.Second; ctx.Err() == nil; pause = min(2*pause, 30*time.Second) {
		svc, ps, err := rs.build()
		if err == nil {
			rs.service.Store(svc)
			err = runFn(svc, ctx)
			ps.Close()
		}
		if ctx.Err() != nil {
			return
		}
		why := err.Error()
		rs.failure.Store(&why)
		log.Error("reactions stopped; starting again from their checkpoints", "err", err, "in", pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
}

// reactionStatus is one line of GET /api/admin/reactions: a React Admin
// record, with an id.
type reactionStatus struct {
	ID string `json:"id"`
	reactions.Status
	// Lag is how far its checkpoint is behind the event store's head:
	// events in the embedded store, bytes of log in EventStoreDB (as
	// agentdesk_reaction_lag). Null for the scheduler, which keeps none.
	Lag *uint64 `json:"lag"`
}

// ReactionStatus implements readapi.Reactions.
func (rs *reactionSet) ReactionStatus(ctx context.Context) ([]json.RawMessage, error) {
	svc := rs.service.Load()
	st, err := svc.Status(ctx)
	if err != nil {
		return nil, err
	}
	if why := rs.failure.Load(); why != nil && !svc.Running() {
		for i := range st {
			st[i].LastError = *why
		}
	}
	head, err := rs.events.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the event store's head: %w", err)
	}
	st = append(st, rs.scheduler.Status())
	out := make([]json.RawMessage, 0, len(st))
	for _, s := range st {
		line := reactionStatus{ID: s.Name, Status: s}
		if s.Name != reactions.SchedulerName {
			pos, _ := eventstore.ParseKey(s.Checkpoint)
			lag := uint64(0)
			if head.Commit > pos.Commit {
				lag = head.Commit - pos.Commit
			}
			line.Lag = &lag
		}
		raw, err := json.Marshal(line)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// ListParked implements readapi.Reactions.
func (rs *reactionSet) ListParked(ctx context.Context, reaction string, skip, limit int) ([]json.RawMessage, int, error) {
	return rs.parking.list(ctx, reaction, skip, limit)
}

// ReplayParked implements readapi.Reactions.
func (rs *reactionSet) ReplayParked(ctx context.Context, id string) (any, error) {
	res, err := rs.service.Load().Replay(ctx, id)
	switch {
	case errors.Is(err, reactions.ErrNotParked):
		return nil, fmt.Errorf("%w: %s", readapi.ErrParkedNotFound, id)
	case errors.Is(err, reactions.ErrNotRunning):
		return nil, unavailable{err}
	}
	return res, err
}

// unavailable answers 503: the error passes.
type unavailable struct{ error }

// HTTPStatus implements readapi.StatusError.
func (unavailable) HTTPStatus() int { return http.StatusServiceUnavailable }

// readCheckpoints keeps the forwarders' checkpoints beside the
// projections' in the read store.
type readCheckpoints struct{ reads readstore.Store }

func (c readCheckpoints) LoadCheckpoint(ctx context.Context, name string) (eventstore.Position, error) {
	key, err := c.reads.Checkpoint(ctx, name)
	if err != nil || key == "" {
		return eventstore.Start, err
	}
	return eventstore.ParseKey(key)
}

func (c readCheckpoints) SaveCheckpoint(ctx context.Context, name string, pos eventstore.Position) error {
	return c.reads.Apply(ctx, readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: name, Position: pos.Key()}})
}

// parkedCollection holds the parked messages, one document each.
var parkedCollection = readstore.Collection{
	Name:    "reactions_parked",
	Fields:  []readstore.Field{{Name: "reaction", Type: readstore.String}, {Name: "parked_at", Type: readstore.Time}},
	Indexes: [][]string{{"parked_at"}, {"reaction", "parked_at"}},
}

// readParking keeps parked messages in the read store, where they live
// wherever the read models do.
type readParking struct {
	reads readstore.Store

	mu   sync.Mutex
	last int64 // the last version written, so versions only grow
}

// version returns a version above every earlier one of this process:
// the time in nanoseconds, bumped past the last one.
func (p *readParking) version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = max(p.last+1, time.Now().UnixNano())
	return fmt.Sprintf("%020d", p.last)
}

func (p *readParking) Park(ctx context.Context, m reactions.Parked) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return p.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: parkedCollection.Name, Doc: readstore.Doc{ID: m.ID, Version: p.version(), Data: data}}}})
}

func (p *readParking) Parked(ctx context.Context, id string) (reactions.Parked, error) {
	doc, err := p.reads.Get(ctx, parkedCollection.Name, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return reactions.Parked{}, fmt.Errorf("%w: %s", reactions.ErrNotParked, id)
	}
	if err != nil {
		return reactions.Parked{}, err
	}
	var m reactions.Parked
	if err := json.Unmarshal(doc.Data, &m); err != nil {
		return reactions.Parked{}, fmt.Errorf("parked %s: %w", id, err)
	}
	return m, nil
}

func (p *readParking) Unpark(ctx context.Context, id string) error {
	return p.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: parkedCollection.Name, Doc: readstore.Doc{ID: id, Version: p.version()}, Delete: true}}})
}

func (p *readParking) CountParked(ctx context.Context, reaction string) (int, error) {
	_, total, err := p.reads.Query(ctx, parkedCollection.Name, readstore.Query{Where: []readstore.Condition{{Field: "reaction", Op: readstore.Eq, Value: reaction}}, Limit: 1, Count: true})
	return int(total), err
}

func (p *readParking) list(ctx context.Context, reaction string, skip, limit int) ([]json.RawMessage, int, error) {
	q := readstore.Query{Sort: []readstore.Sort{{Field: "parked_at", Desc: true}}, Skip: skip, Limit: limit, Count: true}
	if reaction != "" {
		q.Where = []readstore.Condition{{Field: "reaction", Op: readstore.Eq, Value: reaction}}
	}
	docs, total, err := p.reads.Query(ctx, parkedCollection.Name, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		out[i] = d.Data
	}
	return out, int(total), nil
}

// redactURL drops the user information of a URL for the logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
