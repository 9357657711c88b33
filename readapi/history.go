package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Audit answers from the event log, not from the read models: an
// entity's history and its state at a time or revision. Records are the
// read model's, as they were.
type Audit interface {
	// History returns a page of the history of collection's entity id,
	// newest first when newestFirst, and how many events it has in all
	// (0: no such entity).
	History(ctx context.Context, collection, id string, newestFirst bool, skip, limit int) ([]HistoryEntry, int, error)
	// StateAt returns the record of collection's entity id at asOf (zero:
	// any time) or after revision (nil: any), or an error that errors.Is
	// domain.ErrNotFound when it did not exist then.
	StateAt(ctx context.Context, collection, id string, asOf time.Time, revision *uint64) (json.RawMessage, error)
	// LastState returns the last record the entity had, deleted since or
	// not, for deciding who may read its past; domain.ErrNotFound if it
	// never existed.
	LastState(ctx context.Context, collection, id string) (json.RawMessage, error)
	// ChildHistory returns, oldest first, every event of parent entity
	// parentID (of parentCollection) that changed child record id of
	// collection, with the record before and after: a ticket's comment's
	// history is in its ticket's stream.
	ChildHistory(ctx context.Context, collection, id, parentCollection, parentID string) ([]HistoryEntry, error)
	// ChildStateAt is StateAt for a child record; revision is the parent
	// stream's.
	ChildStateAt(ctx context.Context, collection, id, parentCollection, parentID string, asOf time.Time, revision *uint64) (json.RawMessage, error)
	// Redact returns an event's data as histories and exports show it:
	// secrets redacted, personal data opened or erased.
	Redact(ctx context.Context, ev eventstore.RecordedEvent) json.RawMessage
	// ExportStates writes every entity of company that existed at asOf,
	// as it was then, one JSON line each; progress hears of each.
	ExportStates(ctx context.Context, w io.Writer, company string, asOf time.Time, progress func()) (int, error)
}

// HistoryEntry is one event of an entity's history.
type HistoryEntry struct {
	// ID is the event's id.
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Revision uint64    `json:"revision"`
	Position string    `json:"position,omitempty"`
	Time     time.Time `json:"time"`
	Actor    Actor     `json:"actor"`
	// CorrelationID and CausationID tie it to what caused it.
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	// Data is the event's data, secrets and erased personal data
	// redacted.
	Data json.RawMessage `json:"data"`
	// Changes are the record's fields the event changed, before → after.
	Changes map[string]Change `json:"changes"`
}

// Actor is who caused an event: their id, their username at that time
// and their role.
type Actor struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
}

// Change is one field's value before and after an event (null: absent).
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// mountAudit mounts GET /api/{resource}/{id}/history for every resource
// that has its own stream.
func (a *API) mountAudit(r chi.Router) {
	if a.audit == nil {
		return
	}
	for _, res := range resources {
		if res.Derived {
			continue // no record of many streams has a history of its own
		}
		r.Get("/api/"+res.name+"/{id}/history", a.history(res))
	}
}

// childParent returns the parent id of child record id, which p must be
// able to read now (a child's past is found through its parent).
func (a *API) childParent(ctx context.Context, p domain.Principal, res *resource, id string) (string, error) {
	raw, err := a.lookup(ctx, p, res, id)
	if err != nil {
		return "", err
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", err
	}
	var parentID string
	_ = json.Unmarshal(rec[res.ParentField], &parentID)
	return parentID, nil
}

// history answers a page of an entity's history, newest first unless
// order=ASC (or sort=["revision","ASC"]).
func (a *API) history(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		id := chi.URLParam(r, "id")
		var parentID string
		var err error
		if res.Parent != nil {
			parentID, err = a.childParent(r.Context(), p, res, id)
		} else {
			err = a.mayReadPast(r.Context(), p, res, id)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		skip, limit, err := parsePage(r.URL.Query())
		if err != nil {
			a.fail(w, r, err)
			return
		}
		newestFirst := true
		order := r.URL.Query().Get("order")
		if s := r.URL.Query().Get("sort"); strings.HasPrefix(s, "[") {
			var pair []string
			if json.Unmarshal([]byte(s), &pair) == nil && len(pair) == 2 {
				s, order = pair[0], pair[1]
			}
			if s != "revision" && s != "time" {
				a.fail(w, r, badRequestf("history sorts by revision (or time) only"))
				return
			}
		} else if s != "" && s != "revision" && s != "time" {
			a.fail(w, r, badRequestf("history sorts by revision (or time) only"))
			return
		}
		switch strings.ToUpper(order) {
		case "", "DESC":
		case "ASC":
			newestFirst = false
		default:
			a.fail(w, r, badRequestf("order must be ASC or DESC"))
			return
		}
		var page []HistoryEntry
		var total int
		if res.Parent != nil {
			var all []HistoryEntry
			all, err = a.audit.ChildHistory(r.Context(), res.CollectionName(), id, res.Parent.CollectionName(), parentID)
			if newestFirst {
				slices.Reverse(all)
			}
			total = len(all)
			page = all[min(skip, total):min(skip+limit, total)]
		} else {
			page, total, err = a.audit.History(r.Context(), res.CollectionName(), id, newestFirst, skip, limit)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if page == nil {
			page = []HistoryEntry{}
		}
		w.Header().Set("Content-Range", contentRange("history", skip, len(page), int64(total)))
		WriteJSON(w, http.StatusOK, map[string]any{"data": page, "total": total})
	}
}

// mayReadPast checks that p may read entity id's past: p may read its
// record now or, for an entity deleted since, its last record.
func (a *API) mayReadPast(ctx context.Context, p domain.Principal, res *resource, id string) error {
	if _, err := res.scope(p); err != nil {
		return err
	}
	if !domain.ValidID(id) {
		return domain.ErrNotFound
	}
	_, err := a.lookup(ctx, p, res, id)
	if !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, readstore.ErrNotFound) {
		return err
	}
	last, lerr := a.audit.LastState(ctx, res.CollectionName(), id)
	if lerr != nil {
		return errors.Join(lerr, domain.ErrNotFound)
	}
	if ok, verr := res.visible(p, last); verr != nil || !ok {
		return errors.Join(verr, domain.ErrNotFound)
	}
	return nil
}

// parseAsOf reads an as_of parameter. The stores take the zero time for
// "now", so a time before 1970, before anything was recorded, is read as
// the first instant of 1970: Go's zero time (0001-01-01T00:00:00Z)
// answered the current state.
func parseAsOf(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequestf("as_of must be an RFC 3339 time, such as 2026-11-30T09:00:00Z")
	}
	if epoch := time.Unix(0, 0).UTC(); t.Before(epoch) {
		return epoch, nil
	}
	return t, nil
}

// stateAt answers GET /api/{resource}/{id}?as_of=…|revision=…: the
// record replayed from the log; ok is false when neither is asked for.
func (a *API) stateAt(w http.ResponseWriter, r *http.Request, res *resource) (ok bool) {
	q := r.URL.Query()
	if !q.Has("as_of") && !q.Has("revision") {
		return false
	}
	if a.audit == nil || res.Derived {
		a.fail(w, r, badRequestf("as_of and revision are not served for %s", res.name))
		return true
	}
	var asOf time.Time
	var rev *uint64
	if q.Has("as_of") {
		t, err := parseAsOf(q.Get("as_of"))
		if err != nil {
			a.fail(w, r, err)
			return true
		}
		asOf = t
	}
	if q.Has("revision") {
		n, err := strconv.ParseUint(q.Get("revision"), 10, 64)
		if err != nil {
			a.fail(w, r, badRequestf("revision must be a non-negative integer"))
			return true
		}
		rev = &n
	}
	p, _ := PrincipalFrom(r.Context())
	id := chi.URLParam(r, "id")
	var doc json.RawMessage
	var err error
	if res.Parent != nil {
		var parentID string
		if parentID, err = a.childParent(r.Context(), p, res, id); err == nil {
			doc, err = a.audit.ChildStateAt(r.Context(), res.CollectionName(), id, res.Parent.CollectionName(), parentID, asOf, rev)
		}
	} else if err = a.mayReadPast(r.Context(), p, res, id); err == nil {
		doc, err = a.audit.StateAt(r.Context(), res.CollectionName(), id, asOf, rev)
	}
	if err != nil {
		a.fail(w, r, err)
		return true
	}
	if doc == nil {
		a.fail(w, r, fmt.Errorf("%w: %s %s was deleted by then", domain.ErrNotFound, res.name, id))
		return true
	}
	var rec struct {
		Revision *uint64 `json:"revision"`
	}
	if json.Unmarshal(doc, &rec) == nil && rec.Revision != nil {
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, *rec.Revision))
	}
	writeRaw(w, http.StatusOK, doc)
	return true
}
