package reactions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/eventstore"
)

// SyncSchedulerName is the name the periodic syncs are started under.
const SyncSchedulerName = "sync_scheduler"

// SyncStarter starts knowledge syncs.
type SyncStarter interface {
	StartSync(ctx context.Context, m commands.Meta, agentID string, typ agent.IntegrationType) (commands.Result, error)
}

// SyncSchedulerConfig configures a SyncScheduler.
type SyncSchedulerConfig struct {
	// Events is the event log; required.
	Events eventstore.Store
	// Syncs starts the runs; required.
	Syncs SyncStarter
	// Interval is the time between two runs of an integration; at least
	// a minute.
	Interval time.Duration
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate reports every missing or invalid setting.
func (c SyncSchedulerConfig) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("sync scheduler: Events is required"))
	}
	if c.Syncs == nil {
		errs = append(errs, errors.New("sync scheduler: Syncs is required"))
	}
	if c.Interval < time.Minute {
		errs = append(errs, errors.New("sync scheduler: Interval must be at least a minute"))
	}
	return errors.Join(errs...)
}

// SyncScheduler starts a knowledge sync of every integration of every
// active agent once an interval, at the start of each interval (times
// that are multiples of it since the Unix epoch). The agents are read from
// the log at each start and followed live, so it stores nothing of its
// own. A start's command id is derived from the agent, the integration
// type and the interval, so two schedulers (two processes) start one run
// between them; an integration still running is left to finish.
type SyncScheduler struct {
	cfg SyncSchedulerConfig
	log *slog.Logger

	mu     sync.Mutex
	agents map[string]scheduledAgent
}

// scheduledAgent is what the scheduler knows of one agent.
type scheduledAgent struct {
	companyID string
	active    bool
	types     []agent.IntegrationType
}

// NewSyncScheduler returns a SyncScheduler for cfg.
func NewSyncScheduler(cfg SyncSchedulerConfig) (*SyncScheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &SyncScheduler{cfg: cfg, log: cfg.Logger, agents: map[string]scheduledAgent{}}, nil
}

// Run follows the agents from the start of the log and starts the syncs
// of each interval, until ctx ends.
func (s *SyncScheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.cfg.Events.Subscribe(ctx, eventstore.Start, eventstore.Filter{Categories: []string{agent.Category}})
	if err != nil {
		return fmt.Errorf("sync scheduler: subscribe: %w", err)
	}
	defer sub.Close()
	readErr := make(chan error, 1)
	caughtUp := make(chan struct{})
	go func() {
		var once sync.Once
		for {
			b, err := sub.Next(ctx, 1024)
			if err != nil {
				readErr <- err
				return
			}
			s.observe(b.Events)
			if b.CaughtUp {
				once.Do(func() { close(caughtUp) })
			}
		}
	}()
	select {
	case <-caughtUp:
	case <-ctx.Done():
		return nil
	case err := <-readErr:
		return fmt.Errorf("sync scheduler: read: %w", err)
	}
	for {
		now := s.cfg.Clock.Now()
		next := now.Truncate(s.cfg.Interval).Add(s.cfg.Interval)
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sync scheduler: read: %w", err)
		case <-s.cfg.Clock.After(next.Sub(now)):
			s.startAll(ctx, next)
		}
	}
}

// observe folds agent events into what the scheduler knows.
func (s *SyncScheduler) observe(events []eventstore.RecordedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range events {
		e, err := agent.Events.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err != nil {
			s.log.Error("sync scheduler: undecodable agent event skipped", "event_id", rec.ID, "type", rec.Type, "err", err)
			continue
		}
		id := strings.TrimPrefix(rec.StreamID, agent.Stream(""))
		a := s.agents[id]
		switch e := e.(type) {
		case *agent.Created:
			a = scheduledAgent{companyID: e.CompanyID, active: true, types: types(e.Integrations)}
		case *agent.Updated:
			if e.Integrations != nil {
				a.types = types(*e.Integrations)
			}
		case *agent.Activated:
			a.active = true
		case *agent.Deactivated:
			a.active = false
		case *agent.Deleted:
			delete(s.agents, id)
			continue
		}
		s.agents[id] = a
	}
}

func types(list []agent.Integration) []agent.IntegrationType {
	var out []agent.IntegrationType
	for _, it := range list {
		if !slices.Contains(out, it.Type) {
			out = append(out, it.Type)
		}
	}
	return out
}

// startAll starts the syncs of the interval that begins at slot.
func (s *SyncScheduler) startAll(ctx context.Context, slot time.Time) {
	type job struct {
		agentID, companyID string
		typ                agent.IntegrationType
	}
	var jobs []job
	s.mu.Lock()
	for id, a := range s.agents {
		if !a.active {
			continue
		}
		for _, t := range a.types {
			jobs = append(jobs, job{id, a.companyID, t})
		}
	}
	s.mu.Unlock()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].agentID+string(jobs[i].typ) < jobs[j].agentID+string(jobs[j].typ) })
	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		m := commands.Meta{
			Principal: domain.SystemPrincipal(SyncSchedulerName, j.companyID),
			CommandID: commands.DeriveID(j.agentID, fmt.Sprintf("reaction/%s/%s/%s", SyncSchedulerName, j.typ, slot.UTC().Format(time.RFC3339))),
		}
		_, err := s.cfg.Syncs.StartSync(ctx, m, j.agentID, j.typ)
		var invalid *domain.ValidationError
		switch {
		case err == nil, errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrNotFound), errors.As(err, &invalid):
			// Started, or still running from before, or gone since.
		default:
			s.log.Error("sync scheduler: start failed; the next interval tries again", "agent_id", j.agentID, "type", j.typ, "err", err)
		}
	}
}
