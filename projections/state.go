package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// The runner keeps what it must remember about each projection across
// restarts in the read store itself, beside the read models, so that it
// lives wherever they do (SQLite or MongoDB) and needs no transaction.
const (
	// stateCollection holds one document per projection: the projector
	// version its live generation was built with, and the rebuild in
	// progress, if any.
	stateCollection = "projection_state"
	// parkedCollection holds the events a projection skipped under its
	// skip policy, one document each.
	parkedCollection = "projection_parked"
)

var (
	stateSpec  = readstore.Collection{Name: stateCollection}
	parkedSpec = readstore.Collection{
		Name:    parkedCollection,
		Fields:  []readstore.Field{{Name: "projection", Type: readstore.String}, {Name: "parked_at", Type: readstore.Time}},
		Indexes: [][]string{{"parked_at"}, {"projection", "parked_at"}},
	}
)

// projectionState is a projection's stored state.
type projectionState struct {
	ID string `json:"id"` // the projection's name
	// Version is the projector version the live generation was built
	// with.
	Version int `json:"version"`
	// Rebuild is the rebuild in progress, if any.
	Rebuild *rebuildState `json:"rebuild,omitempty"`
	// Halted says the projection halted, with its error and where, for
	// the processes that do not run it to show.
	Halted *haltedState `json:"halted,omitempty"`
	// Handled is the Seq of the last request carried out.
	Handled int64 `json:"handled,omitempty"`
	// Replaced are the generations a switch replaced, which are dropped
	// a grace period later: a crash before that leaves them to the next
	// start to drop.
	Replaced []int `json:"replaced,omitempty"`
	// ver is the stored document's version, as loaded.
	ver string
}

// haltedState is a halted projection's failure.
type haltedState struct {
	Error    string `json:"error"`
	Position string `json:"position"`
}

// requests are what a process that does not run the projections asks of
// the one that does. They live in a document of their own
// ("<projection>#requests"), so that the two never write the same one:
// each request raises Seq, and the runner records the last Seq it carried
// out in the projection's state (Handled).
type requests struct {
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	Rebuild string `json:"rebuild,omitempty"` // a reason
	Resume  bool   `json:"resume,omitempty"`
	ver     string
}

func requestsID(projection string) string { return projection + "#requests" }

// rebuildState is a rebuild in progress: generation Generation of the
// collection is being built from the start of the log, to replace
// generation From, with projector version Version.
type rebuildState struct {
	Generation int       `json:"generation"`
	From       int       `json:"from"`
	Version    int       `json:"version"`
	Reason     string    `json:"reason"`
	StartedAt  time.Time `json:"started_at"`
	// Total is the head of the log when it started (a position key): how
	// far it had to go then.
	Total string `json:"total"`
}

// checkpointName is the checkpoint of a rebuild's generation.
func (b *rebuildState) checkpointName(projection string) string {
	return fmt.Sprintf("%s@g%d", projection, b.Generation)
}

// ParkedEvent is an event a projection skipped after it failed past its
// retries, under the projection's skip policy.
type ParkedEvent struct {
	ID         string    `json:"id"` // "<projection>.<event id>"
	Projection string    `json:"projection"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	StreamID   string    `json:"stream_id"`
	Revision   uint64    `json:"revision"`
	Position   string    `json:"position"`
	Error      string    `json:"error"`
	ParkedAt   time.Time `json:"parked_at"`
}

// states reads and writes projection states and parked events.
type states struct {
	reads readstore.Store

	mu   sync.Mutex
	last int64 // the last document version written, so versions only grow
}

// version returns a document version above every earlier one of this
// process: the time in nanoseconds, bumped past the last one.
func (s *states) version() string { return s.next("") }

// next returns a version above stored (a document's version as read) and
// above every earlier one of this process. Several processes write the
// same documents over time, their clocks apart: reading the stored
// version and going past it keeps versions rising whatever the clocks.
func (s *states) next(stored string) string {
	var n int64
	fmt.Sscanf(stored, "%d", &n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(s.last+1, n+1, time.Now().UnixNano())
	return fmt.Sprintf("%020d", s.last)
}

func (s *states) ensure(ctx context.Context) error {
	if err := s.reads.Ensure(ctx, stateSpec); err != nil {
		return err
	}
	return s.reads.Ensure(ctx, parkedSpec)
}

// load returns the state of projection name; found is false when none is
// stored.
func (s *states) load(ctx context.Context, name string) (st projectionState, found bool, err error) {
	doc, err := s.reads.Get(ctx, stateCollection, name)
	if errors.Is(err, readstore.ErrNotFound) {
		return projectionState{ID: name}, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("load state of %s: %w", name, err)
	}
	if err := json.Unmarshal(doc.Data, &st); err != nil {
		return st, false, fmt.Errorf("decode state of %s: %w", name, err)
	}
	st.ver = doc.Version
	return st, true, nil
}

func (s *states) save(ctx context.Context, st projectionState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w := readstore.Write{Collection: stateCollection, Doc: readstore.Doc{ID: st.ID, Version: s.next(st.ver), Data: raw}}
	if err := s.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
		return fmt.Errorf("save state of %s: %w", st.ID, err)
	}
	return nil
}

// request records a request for projection.
func (s *states) request(ctx context.Context, projection string, rebuild string, resume bool) error {
	rq, err := s.requests(ctx, projection)
	if err != nil {
		return err
	}
	rq.Seq++
	rq.Rebuild, rq.Resume = rebuild, resume
	raw, err := json.Marshal(rq)
	if err != nil {
		return err
	}
	w := readstore.Write{Collection: stateCollection, Doc: readstore.Doc{ID: rq.ID, Version: s.next(rq.ver), Data: raw}}
	return s.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{w}})
}

// requests returns projection's last request.
func (s *states) requests(ctx context.Context, projection string) (requests, error) {
	rq := requests{ID: requestsID(projection)}
	doc, err := s.reads.Get(ctx, stateCollection, rq.ID)
	if errors.Is(err, readstore.ErrNotFound) {
		return rq, nil
	}
	if err != nil {
		return rq, err
	}
	if err := json.Unmarshal(doc.Data, &rq); err != nil {
		return rq, err
	}
	rq.ver = doc.Version
	return rq, nil
}

// park stores ev as skipped by projection.
func (s *states) park(ctx context.Context, projection string, ev eventstore.RecordedEvent, cause error) (ParkedEvent, error) {
	p := ParkedEvent{
		ID: projection + "." + ev.ID, Projection: projection, EventID: ev.ID, EventType: ev.Type,
		StreamID: ev.StreamID, Revision: ev.Revision, Position: ev.Position.Key(), Error: cause.Error(), ParkedAt: time.Now().UTC(),
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return p, err
	}
	w := readstore.Write{Collection: parkedCollection, Doc: readstore.Doc{ID: p.ID, Version: s.version(), Data: raw}}
	if err := s.reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
		return p, fmt.Errorf("park event %s of %s: %w", ev.ID, projection, err)
	}
	return p, nil
}

// parked lists parked events, newest first, of one projection or (empty)
// all, a page at a time, with their total.
func (s *states) parked(ctx context.Context, projection string, skip, limit int) ([]ParkedEvent, int, error) {
	q := readstore.Query{Sort: []readstore.Sort{{Field: "parked_at", Desc: true}}, Skip: skip, Limit: limit, Count: true}
	if projection != "" {
		q.Where = []readstore.Condition{{Field: "projection", Op: readstore.Eq, Value: projection}}
	}
	docs, total, err := s.reads.Query(ctx, parkedCollection, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]ParkedEvent, 0, len(docs))
	for _, d := range docs {
		var p ParkedEvent
		if err := json.Unmarshal(d.Data, &p); err != nil {
			return nil, 0, fmt.Errorf("decode parked event %s: %w", d.ID, err)
		}
		out = append(out, p)
	}
	return out, int(total), nil
}

// skipped returns the ids of the events projection skipped.
func (s *states) skipped(ctx context.Context, projection string) (map[string]bool, error) {
	out := map[string]bool{}
	for skip := 0; ; skip += 1000 {
		page, _, err := s.parked(ctx, projection, skip, 1000)
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			out[p.EventID] = true
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}
