package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/go-chi/chi/v5"

	"agentdesk/eventstore"
	"agentdesk/internal/metrics"
	"agentdesk/readstore"
)

// headTimeout bounds the event-store head read of a scrape.
const headTimeout = 2 * time.Second

// routePattern is the chi route that served r ("/api/tickets/{id}"), or
// "" when none matched: the metrics' route label, never the raw path.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return rc.RoutePattern()
	}
	return ""
}

// projectionProgress reads the projections' progress for a scrape: their
// positions first, then the head, so the head is at or past each of them.
func (s *Server) projectionProgress() metrics.Progress {
	statuses := s.runner.Status()
	ctx, cancel := context.WithTimeout(context.Background(), headTimeout)
	defer cancel()
	head, err := s.events.Head(ctx)
	p := metrics.Progress{Head: head.Commit, HeadErr: err, Projections: make([]metrics.Projection, len(statuses))}
	for i, st := range statuses {
		p.Projections[i] = metrics.Projection{Name: st.Name, Position: st.At.Commit, CaughtUp: st.CaughtUp, Failing: st.Error != ""}
	}
	if s.reactions != nil {
		st, err := s.reactions.service.Load().Status(ctx)
		if err != nil {
			s.log.Warn("metrics: reactions' status", "err", err)
		}
		for _, r := range st {
			pos, _ := eventstore.ParseKey(r.Checkpoint)
			p.Reactions = append(p.Reactions, metrics.Reaction{
				Projection: metrics.Projection{Name: r.Name, Position: pos.Commit, CaughtUp: r.CaughtUp, Failing: r.LastError != ""},
				LagSeconds: r.LagSeconds, Parked: r.Parked,
			})
		}
	}
	return p
}

// debugHandler serves DEBUG_ADDR: the runtime profiles of net/http/pprof
// and the metrics. It is never mounted on the API's listener.
func debugHandler(metricsHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs, …
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/metrics", metricsHandler)
	return mux
}

// observedEvents times the appends of an event store.
type observedEvents struct {
	eventstore.Store
	m *metrics.Metrics
}

// Append implements eventstore.Store.
func (o observedEvents) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := o.Store.Append(ctx, stream, expected, events)
	outcome := "ok"
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedRevision):
		outcome = "conflict"
	case err != nil:
		outcome = "error"
	}
	o.m.Appended(len(events), outcome, time.Since(start))
	return res, err
}

// observedReads times the gets and queries of a read store.
type observedReads struct {
	readstore.Store
	m *metrics.Metrics
}

// Get implements readstore.Store.
func (o observedReads) Get(ctx context.Context, collection, id string) (readstore.Doc, error) {
	start := time.Now()
	doc, err := o.Store.Get(ctx, collection, id)
	o.m.Read(collection, "get", time.Since(start))
	return doc, err
}

// Query implements readstore.Store. A query that asks for its total is
// a "count": counting the matches is most of its cost.
func (o observedReads) Query(ctx context.Context, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	op := "query"
	if q.Count {
		op = "count"
	}
	start := time.Now()
	docs, total, err := o.Store.Query(ctx, collection, q)
	o.m.Read(collection, op, time.Since(start))
	return docs, total, err
}
