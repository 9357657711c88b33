package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/pii"
	"agentdesk/projections"
	"agentdesk/readapi"
)

// auditor serves the query API's history and as-of answers from the
// event log, through the projectors that build the read models: a past
// record is what the read model held then.
type auditor struct {
	events eventstore.Store
	snaps  *projections.Snapshots
	// pii opens the personal values sealed in events; nil when none are.
	pii *pii.Codec
}

// snapsFor returns the snapshot cache for collection: none for the users,
// whose records hold personal data that a forgotten user's snapshot must
// not keep.
func (a *auditor) snapsFor(collection string) *projections.Snapshots {
	if collection == projections.Users {
		return nil
	}
	return a.snaps
}

// options are the projectors' options the audit replays with.
func (a *auditor) options() []projections.Option {
	if a.pii == nil {
		return nil
	}
	return []projections.Option{projections.WithPII(a.pii)}
}

func (a *auditor) replayer(collection string) (projections.Replayer, error) {
	r, ok := projections.ReplayerOf(collection, a.options()...)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no history of its own", domain.ErrNotFound, collection)
	}
	return r, nil
}

// History implements readapi.Audit.
func (a *auditor) History(ctx context.Context, collection, id string, newestFirst bool, skip, limit int) ([]readapi.HistoryEntry, int, error) {
	r, err := a.replayer(collection)
	if err != nil {
		return nil, 0, err
	}
	page, total, err := projections.HistoryPage(ctx, a.events, a.snapsFor(collection), r, id, newestFirst, skip, limit)
	if err != nil {
		return nil, 0, err
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("%w: %s %s", domain.ErrNotFound, collection, id)
	}
	names := map[string]string{} // actor id + time → username, for this page
	out := make([]readapi.HistoryEntry, len(page))
	for i, e := range page {
		out[i] = a.entry(ctx, names, e)
	}
	return out, total, nil
}

// entry turns a replayed step into a history entry.
func (a *auditor) entry(ctx context.Context, names map[string]string, e projections.Entry) readapi.HistoryEntry {
	ev := e.Event
	h := readapi.HistoryEntry{
		ID: ev.ID, Type: ev.Type, Revision: ev.Revision, Time: ev.Metadata.RecordedAt,
		Actor:         readapi.Actor{ID: ev.Metadata.ActorID, Role: ev.Metadata.ActorRole, Username: a.usernameAt(ctx, names, ev.Metadata.ActorID, ev.Metadata.RecordedAt)},
		CorrelationID: ev.Metadata.CorrelationID, CausationID: ev.Metadata.CausationID,
		Data:    a.Redact(ctx, ev),
		Changes: changes(e.Before, e.After),
	}
	if !ev.Position.IsZero() {
		h.Position = ev.Position.Key()
	}
	return h
}

// childSteps replays child record id of collection from its parent's
// stream, up to until.
func (a *auditor) childSteps(ctx context.Context, collection, id, parentCollection, parentID string, until projections.Until) ([]projections.Entry, error) {
	parent, err := a.replayer(parentCollection)
	if err != nil {
		return nil, err
	}
	p, ok := projections.ProjectorOf(collection, a.options()...)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no projector", domain.ErrNotFound, collection)
	}
	return projections.DocHistory(ctx, a.events, p, parent.Stream(parentID), id, until)
}

// ChildHistory implements readapi.Audit.
func (a *auditor) ChildHistory(ctx context.Context, collection, id, parentCollection, parentID string) ([]readapi.HistoryEntry, error) {
	steps, err := a.childSteps(ctx, collection, id, parentCollection, parentID, projections.Until{})
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := make([]readapi.HistoryEntry, len(steps))
	for i, e := range steps {
		out[i] = a.entry(ctx, names, e)
	}
	return out, nil
}

// ChildStateAt implements readapi.Audit.
func (a *auditor) ChildStateAt(ctx context.Context, collection, id, parentCollection, parentID string, asOf time.Time, revision *uint64) (json.RawMessage, error) {
	steps, err := a.childSteps(ctx, collection, id, parentCollection, parentID, projections.Until{AsOf: asOf, Revision: revision})
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("%w: %s %s did not exist then", domain.ErrNotFound, collection, id)
	}
	return steps[len(steps)-1].After, nil
}

// StateAt implements readapi.Audit.
func (a *auditor) StateAt(ctx context.Context, collection, id string, asOf time.Time, revision *uint64) (json.RawMessage, error) {
	r, err := a.replayer(collection)
	if err != nil {
		return nil, err
	}
	doc, _, err := projections.StateAt(ctx, a.events, a.snapsFor(collection), r, id, projections.Until{AsOf: asOf, Revision: revision})
	if errors.Is(err, projections.ErrNoState) {
		return nil, fmt.Errorf("%w: %s %s did not exist then", domain.ErrNotFound, collection, id)
	}
	return doc, err
}

// LastState implements readapi.Audit.
func (a *auditor) LastState(ctx context.Context, collection, id string) (json.RawMessage, error) {
	r, err := a.replayer(collection)
	if err != nil {
		return nil, err
	}
	events, err := a.events.ReadStream(ctx, r.Stream(id), 0, 0)
	if err != nil {
		return nil, err
	}
	docs, err := r.Replay(ctx, nil, events, 0)
	if err != nil {
		return nil, err
	}
	for i := len(docs) - 1; i >= 0; i-- {
		if docs[i] != nil {
			return docs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s", domain.ErrNotFound, collection, id)
}

// usernameAt returns the username actorID had at t: the platform's own
// processes are named by their actor id ("system:notifications"), users
// by their record as the log had it then.
func (a *auditor) usernameAt(ctx context.Context, cache map[string]string, actorID string, t time.Time) string {
	if name, ok := strings.CutPrefix(actorID, "system:"); ok {
		return name
	}
	if actorID == "" || !domain.ValidID(actorID) {
		return actorID // the operator's command line, say
	}
	key := actorID + "@" + t.Format(time.RFC3339Nano)
	if name, ok := cache[key]; ok {
		return name
	}
	name := ""
	if r, ok := projections.ReplayerOf(projections.Users, a.options()...); ok {
		if doc, _, err := projections.StateAt(ctx, a.events, nil, r, actorID, projections.Until{AsOf: t}); err == nil && doc != nil {
			var u struct {
				Username string `json:"username"`
			}
			if json.Unmarshal(doc, &u) == nil {
				name = u.Username
			}
		}
	}
	cache[key] = name
	return name
}

// secretWords mark the fields whose values are never shown in a history:
// sealed credentials, password hashes, tokens.
var secretWords = []string{"password", "secret", "credential", "token", "hash", "api_key"}

// Redact implements readapi.Audit: an event's data with secrets replaced
// by "[redacted]" and sealed personal values opened, or "[erased]" when
// their key is gone (the subject is the stream's aggregate).
func (a *auditor) Redact(ctx context.Context, ev eventstore.RecordedEvent) json.RawMessage {
	subject := projections.EntityID(ev.StreamID)
	var v any
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		return json.RawMessage(`"[undecodable]"`)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				lower := strings.ToLower(k)
				secret := false
				for _, w := range secretWords {
					secret = secret || strings.Contains(lower, w)
				}
				if secret && val != nil && val != false {
					x[k] = "[redacted]"
					continue
				}
				x[k] = walk(val)
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		case string:
			if pii.IsSealed(x) {
				if a.pii != nil {
					if plain, err := a.pii.Open(ctx, subject, x); err == nil {
						return plain
					}
				}
				return domain.Erased
			}
			return x
		}
		return v
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return json.RawMessage(`"[undecodable]"`)
	}
	return out
}

// changes lists the top-level fields whose values differ between two
// records (nil: none).
func changes(before, after json.RawMessage) map[string]readapi.Change {
	var b, a map[string]any
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	out := map[string]readapi.Change{}
	for k, av := range a {
		if bv, ok := b[k]; !ok || !reflect.DeepEqual(av, bv) {
			out[k] = readapi.Change{Before: b[k], After: av}
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			out[k] = readapi.Change{Before: bv, After: nil}
		}
	}
	return out
}

// stateLine is one line of an export as of a time: an entity's record
// then.
type stateLine struct {
	Resource string          `json:"resource"`
	ID       string          `json:"id"`
	Revision uint64          `json:"revision"`
	Record   json.RawMessage `json:"record"`
}

// ExportStates implements readapi.Audit: it writes every entity of company that existed at asOf, as
// it was then, one JSON line each, in the order their streams began; it
// returns how many. progress, when set, hears of each line.
func (a *auditor) ExportStates(ctx context.Context, w io.Writer, company string, asOf time.Time, progress func()) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := a.events.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: company})
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	type entity struct {
		collection string
		r          projections.Replayer
		id         string
	}
	var entities []entity
	seen := map[string]bool{}
	byCategory := map[string]projections.Replayer{}
	// Only the API's resources: credentials (password hashes) share the
	// users' streams and are never exported.
	served := map[string]bool{}
	for _, r := range resource.All() {
		served[r.CollectionName()] = true
	}
	for _, p := range projections.All(a.options()...) {
		if r, ok := p.(projections.Replayer); ok && len(p.Filter().Categories) == 1 && served[p.Collection().Name] {
			byCategory[p.Filter().Categories[0]] = r
		}
	}
	for done := false; !done; {
		b, err := sub.Next(ctx, 4096)
		if err != nil {
			return 0, err
		}
		for _, ev := range b.Events {
			if seen[ev.StreamID] || ev.Metadata.RecordedAt.After(asOf) {
				continue
			}
			seen[ev.StreamID] = true
			if r, ok := byCategory[eventstore.Category(ev.StreamID)]; ok {
				entities = append(entities, entity{r.Collection().Name, r, projections.EntityID(ev.StreamID)})
			}
		}
		done = b.CaughtUp
	}
	enc := json.NewEncoder(w)
	n := 0
	for _, e := range entities {
		doc, last, err := projections.StateAt(ctx, a.events, a.snapsFor(e.collection), e.r, e.id, projections.Until{AsOf: asOf})
		if errors.Is(err, projections.ErrNoState) || (err == nil && doc == nil) {
			continue // not yet, or deleted by then
		}
		if err != nil {
			return n, err
		}
		if err := enc.Encode(stateLine{Resource: e.collection, ID: e.id, Revision: last.Revision, Record: doc}); err != nil {
			return n, err
		}
		n++
		if progress != nil {
			progress()
		}
	}
	return n, nil
}
