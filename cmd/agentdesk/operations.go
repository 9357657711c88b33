package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/reactions"
)

// operatorLine is one line of the operator status: a projection or a
// reaction, as GET /api/admin/projections and `agentdesk projections
// status` show it.
type operatorLine struct {
	// ID is the projection's name, or "reaction:" and the reaction's
	// (a projection and a reaction may share a name: notifications).
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Version and Generation are a projection's projector version and
	// live generation.
	Version    int    `json:"version,omitempty"`
	Generation int    `json:"generation,omitempty"`
	Checkpoint string `json:"checkpoint"`
	Head       string `json:"head"`
	// LagEvents is how far the checkpoint is behind the head: events in
	// the embedded store, bytes of log in EventStoreDB.
	LagEvents       uint64                     `json:"lag_events"`
	LagSeconds      float64                    `json:"lag_seconds"`
	EventsPerSecond float64                    `json:"events_per_second"`
	State           string                     `json:"state"`
	Error           string                     `json:"error,omitempty"`
	ErrorPosition   string                     `json:"error_position,omitempty"`
	Parked          int                        `json:"parked"`
	SkipFailing     bool                       `json:"skip_failing,omitempty"`
	Rebuild         *projections.RebuildStatus `json:"rebuild,omitempty"`
	// RunBy names the process that runs it (host/pid/…), on shared
	// stores where one process at a time does.
	RunBy string `json:"run_by,omitempty"`
}

// Kinds of operator lines.
const (
	kindProjection = "projection"
	kindReaction   = "reaction"
)

// operatorStatus reads every projection's and reaction's status.
func (s *Server) operatorStatus(ctx context.Context) ([]operatorLine, error) {
	head, err := s.events.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the event store's head: %w", err)
	}
	lag := func(at eventstore.Position) uint64 {
		if head.Commit > at.Commit {
			return head.Commit - at.Commit
		}
		return 0
	}
	runBy := ""
	if s.lease != nil {
		if runBy, _, err = s.lease.Current(ctx); err != nil {
			return nil, fmt.Errorf("read the lease: %w", err)
		}
		if runBy == "" {
			runBy = "(nobody: the lease is being taken over)"
		}
	}
	var out []operatorLine
	defer func() {
		for i := range out {
			out[i].RunBy = runBy
		}
	}()
	for _, st := range s.runner.Status() {
		out = append(out, operatorLine{ID: st.Name, Kind: kindProjection, Name: st.Name, Version: st.Version, Generation: st.Generation,
			Checkpoint: st.Checkpoint, Head: head.Key(), LagEvents: lag(st.At), LagSeconds: st.LagSeconds, EventsPerSecond: st.EventsPerSecond,
			State: st.State, Error: st.Error, ErrorPosition: st.ErrorPosition, Parked: st.Parked, SkipFailing: st.SkipFailing, Rebuild: st.Rebuild})
	}
	if s.reactions == nil {
		return out, nil
	}
	svc := s.reactions.service.Load()
	st, err := svc.Status(ctx)
	if err != nil {
		return nil, err
	}
	why := s.reactions.failure.Load()
	for _, r := range append(st, s.reactions.scheduler.Status()) {
		line := operatorLine{ID: "reaction:" + r.Name, Kind: kindReaction, Name: r.Name, Checkpoint: r.Checkpoint, Head: head.Key(),
			LagSeconds: r.LagSeconds, EventsPerSecond: r.EventsPerSecond, Error: r.LastError, Parked: r.Parked, State: projections.StateRunning}
		if r.Name != reactions.SchedulerName {
			at, _ := eventstore.ParseKey(r.Checkpoint)
			line.LagEvents = lag(at)
		}
		switch {
		case !svc.Running() && r.Name != reactions.SchedulerName:
			line.State = "stopped"
			if why != nil && line.Error == "" {
				line.Error = *why
			}
		case !r.CaughtUp:
			line.State = projections.StateCatchingUp
		}
		out = append(out, line)
	}
	return out, nil
}

// operatorOps serves the operator endpoints for projections.
type operatorOps struct{ s *Server }

// ProjectionStatus implements readapi.Projections.
func (o operatorOps) ProjectionStatus(ctx context.Context) ([]json.RawMessage, error) {
	lines, err := o.s.operatorStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(lines))
	for i, l := range lines {
		if out[i], err = json.Marshal(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// line returns the status line of projection name.
func (o operatorOps) line(ctx context.Context, name string) (json.RawMessage, error) {
	lines, err := o.s.operatorStatus(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if l.Kind == kindProjection && l.Name == name {
			return json.Marshal(l)
		}
	}
	return nil, fmt.Errorf("%w: no projection %q", domain.ErrNotFound, name)
}

// RebuildProjection implements readapi.Projections.
func (o operatorOps) RebuildProjection(ctx context.Context, name string) (json.RawMessage, error) {
	if err := o.s.runner.Rebuild(ctx, name, "asked for by an operator"); err != nil {
		return nil, operationError(err)
	}
	return o.line(ctx, name)
}

// ResumeProjection implements readapi.Projections.
func (o operatorOps) ResumeProjection(ctx context.Context, name string) (json.RawMessage, error) {
	if err := o.s.runner.Resume(name); err != nil {
		return nil, operationError(err)
	}
	return o.line(ctx, name)
}

// VerifyProjection implements readapi.Projections.
func (o operatorOps) VerifyProjection(ctx context.Context, name string) (json.RawMessage, error) {
	res, err := o.s.runner.Verify(ctx, name, 10)
	if err != nil {
		return nil, operationError(err)
	}
	return json.Marshal(res)
}

// ListProjectionParked implements readapi.Projections.
func (o operatorOps) ListProjectionParked(ctx context.Context, projection string, skip, limit int) ([]json.RawMessage, int, error) {
	page, total, err := o.s.runner.Parked(ctx, projection, skip, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]json.RawMessage, len(page))
	for i, p := range page {
		if out[i], err = json.Marshal(p); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// operationError maps the runner's errors to the API's.
func operationError(err error) error {
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		return fmt.Errorf("%w: %v", domain.ErrNotFound, err)
	case errors.Is(err, projections.ErrRebuildRunning), errors.Is(err, projections.ErrNotHalted):
		return fmt.Errorf("%w: %v", domain.ErrConflict, err)
	case errors.Is(err, projections.ErrNotRunning):
		return unavailable{err}
	}
	return err
}
