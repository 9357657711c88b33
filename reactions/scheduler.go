package reactions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/campaign"
	"agentdesk/eventstore"
)

// Clock tells the time and wakes a waiter; tests move a fake one by hand.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// CampaignCommands is what the scheduler needs of the command side.
type CampaignCommands interface {
	ChangeCampaignStatus(ctx context.Context, m commands.Meta, id string, in commands.ChangeCampaignStatus) (commands.Result, error)
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Events is the event log; required.
	Events eventstore.Store
	// Campaigns runs the status changes; required.
	Campaigns CampaignCommands
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// SchedulerName is the name the scheduler's commands are issued under.
const SchedulerName = "campaign_scheduler"

// Scheduler is the campaign scheduler: a time-driven process manager that
// makes a scheduled campaign active at its start time and a running
// (active or paused) one completed at its end time.
//
// Its state, each campaign's status and window, is rebuilt from the
// campaign events at every start and kept current from the live log, so
// it survives restarts with nothing stored of its own. A transition fires
// at most once: the command carries an id derived from the campaign, the
// transition and its due time, and the campaign's state refuses or
// ignores a second one (an active campaign is not activated again). Two
// schedulers (two processes) may run at once for the same reason.
type Scheduler struct {
	cfg SchedulerConfig
	log *slog.Logger

	mu      sync.Mutex
	plans   map[string]*plan
	ready   bool // caught up with the log
	wake    chan struct{}
	fired   uint64
	lastErr string
}

// plan is what the scheduler knows of one campaign.
type plan struct {
	id, companyID    string
	status           campaign.Status
	startsAt, endsAt *time.Time
	// cause is the id of the last event that changed the plan: the
	// causation of the command it leads to.
	cause, correlation string
	// retryAt holds a transition back after a failure.
	retryAt time.Time
	backoff time.Duration
}

// NewScheduler returns a Scheduler for cfg.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	var errs []error
	if cfg.Events == nil {
		errs = append(errs, errors.New("scheduler: Events is required"))
	}
	if cfg.Campaigns == nil {
		errs = append(errs, errors.New("scheduler: Campaigns is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger, plans: map[string]*plan{}, wake: make(chan struct{}, 1)}, nil
}

// Run follows the campaign events from the start of the log and fires the
// transitions that come due, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.cfg.Events.Subscribe(ctx, eventstore.Start, eventstore.Filter{Categories: []string{eventstore.Category(campaign.Stream(""))}})
	if err != nil {
		return fmt.Errorf("scheduler: subscribe: %w", err)
	}
	defer sub.Close()
	readErr := make(chan error, 1)
	go func() {
		for {
			b, err := sub.Next(ctx, 1024)
			if err != nil {
				readErr <- err
				return
			}
			s.observe(b.Events, b.CaughtUp)
		}
	}()
	for {
		wait := s.fireDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("scheduler: read: %w", err)
		case <-s.wake:
		case <-s.cfg.Clock.After(wait):
		}
	}
}

// observe folds campaign events into the plans.
func (s *Scheduler) observe(events []eventstore.RecordedEvent, caughtUp bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range events {
		e, err := campaign.Events.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err != nil {
			s.log.Error("scheduler: undecodable campaign event skipped", "event_id", rec.ID, "type", rec.Type, "err", err)
			continue
		}
		id := rec.StreamID[len(campaign.Stream("")):]
		p := s.plans[id]
		if p == nil {
			p = &plan{id: id, companyID: rec.Metadata.CompanyID}
		}
		switch e := e.(type) {
		case *campaign.Created:
			p.status, p.startsAt, p.endsAt = campaign.Draft, e.StartsAt, e.EndsAt
		case *campaign.Updated:
			if e.Window != nil {
				p.startsAt, p.endsAt = e.Window.StartsAt, e.Window.EndsAt
			}
		case *campaign.StatusChanged:
			p.status = e.To
		case *campaign.Deleted:
			delete(s.plans, id)
			continue
		default:
			continue // content changes do not move the plan
		}
		p.cause, p.correlation = rec.ID, rec.Metadata.CorrelationID
		p.retryAt, p.backoff = time.Time{}, 0
		if p.status == campaign.Completed || p.status == campaign.Archived {
			delete(s.plans, id)
			continue
		}
		s.plans[id] = p
	}
	s.ready = s.ready || caughtUp
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// transition is one status change that has come due.
type transition struct {
	p     plan
	to    campaign.Status
	dueAt time.Time
}

// due returns the transitions due at now and how long until the next one
// (an hour at most, so that a clock that jumps is noticed).
func (s *Scheduler) due(now time.Time) ([]transition, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := time.Hour
	if !s.ready {
		return nil, next
	}
	var out []transition
	for _, p := range s.plans {
		var to campaign.Status
		var at *time.Time
		switch p.status {
		case campaign.Scheduled:
			to, at = campaign.Active, p.startsAt
		case campaign.Active, campaign.Paused:
			to, at = campaign.Completed, p.endsAt
		}
		if at == nil {
			continue
		}
		when := *at
		if p.retryAt.After(when) {
			when = p.retryAt
		}
		if !when.After(now) {
			out = append(out, transition{p: *p, to: to, dueAt: *at})
			continue
		}
		next = min(next, when.Sub(now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dueAt.Before(out[j].dueAt) })
	return out, next
}

// fireDue fires every due transition and returns how long to wait for the
// next.
func (s *Scheduler) fireDue(ctx context.Context) time.Duration {
	due, next := s.due(s.cfg.Clock.Now())
	for _, t := range due {
		if ctx.Err() != nil {
			return next
		}
		err := s.fire(ctx, t)
		s.mu.Lock()
		p := s.plans[t.p.id]
		switch {
		case err == nil, errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrInvalidTransition):
			// Done, or nothing left to do: the campaign moved on, or is
			// gone. Its next event updates the plan; until then it is not
			// tried again.
			if p != nil && p.status == t.p.status {
				p.retryAt = farFuture
			}
			s.fired++
			s.lastErr = ""
		default:
			s.lastErr = err.Error()
			if p != nil {
				p.backoff = min(max(2*p.backoff, time.Second), 5*time.Minute)
				p.retryAt = s.cfg.Clock.Now().Add(p.backoff)
				next = min(next, p.backoff)
			}
			s.log.Error("scheduler: campaign transition failed; trying again", "campaign_id", t.p.id, "to", t.to, "err", err)
		}
		s.mu.Unlock()
	}
	return next
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// fire issues the status change of t.
func (s *Scheduler) fire(ctx context.Context, t transition) error {
	commandID := commands.DeriveID(t.p.id, fmt.Sprintf("reaction/%s/%s/%s", SchedulerName, t.to, t.dueAt.UTC().Format(time.RFC3339Nano)))
	m := commands.Meta{
		Principal:     domain.SystemPrincipal(SchedulerName, t.p.companyID),
		CommandID:     commandID,
		CorrelationID: t.p.correlation,
		CausationID:   t.p.cause,
	}
	_, err := s.cfg.Campaigns.ChangeCampaignStatus(ctx, m, t.p.id, commands.ChangeCampaignStatus{To: t.to})
	if err == nil {
		s.log.Info("campaign moved on schedule", "campaign_id", t.p.id, "to", t.to, "due_at", t.dueAt)
	}
	return err
}

// Status reports the scheduler beside the reactions: caught up once it
// has read the log, Handled counting the transitions it fired (or found
// done already) since the start. It parks nothing: a failing transition
// is tried again with backoff, and LastError says why.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Name: SchedulerName, CaughtUp: s.ready, Handled: s.fired, LastError: s.lastErr}
}
