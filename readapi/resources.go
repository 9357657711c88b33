package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	segjson "github.com/segmentio/encoding/json"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// resource is a declared resource as the query API serves it.
type resource struct {
	*decl.Resource
	name    string // URL segment
	filters []string
	sorts   []string
}

// resources lists what the query API serves, from the declarations.
var resources = func() []*resource {
	var out []*resource
	for _, r := range decl.All() {
		out = append(out, &resource{Resource: r, name: r.Name, filters: r.Filters(), sorts: r.Sorts()})
	}
	return out
}()

func resourceNamed(name string) (*resource, bool) {
	for _, r := range resources {
		if r.name == name {
			return r, true
		}
	}
	return nil, false
}

// scope returns the conditions that restrict p to what it may list of
// res, or ErrForbidden.
func (res *resource) scope(p domain.Principal) ([]readstore.Condition, error) {
	s := res.Scope(p)
	if s.Denied {
		return nil, domain.ErrForbidden
	}
	where := make([]readstore.Condition, len(s.Where))
	for i, m := range s.Where {
		where[i] = readstore.Condition{Field: m.Field, Op: readstore.Eq, Value: m.Value}
	}
	return where, nil
}

// visible reports whether p may read the document data of res.
func (res *resource) visible(p domain.Principal, data json.RawMessage) (bool, error) {
	s := res.Scope(p)
	if s.Denied {
		return false, nil
	}
	if len(s.Where) == 0 {
		return true, nil
	}
	if scopeFieldsKnown(s) {
		// Decoding into a struct of the few fields scopes name skips the
		// rest of the document without allocating it: a third of a GET
		// by id went into decoding the whole document into a map.
		// segmentio's decoder (as the projections use it) skips the rest
		// several times faster than encoding/json, which took 3.7 µs of
		// every GET by id and create's answer (BenchmarkVisible: 1.0 µs
		// now); FuzzScopeFields holds the two to the same answers.
		var f scopeFields
		if err := segjson.Unmarshal(data, &f); err != nil {
			return false, fmt.Errorf("decode %s document: %w", res.name, err)
		}
		return s.Allows(f.get), nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return false, fmt.Errorf("decode %s document: %w", res.name, err)
	}
	return s.Allows(func(name string) string {
		var v string
		_ = json.Unmarshal(fields[name], &v) // null or missing reads as ""
		return v
	}), nil
}

// scopeFields are the fields read scopes match on; a null or missing one
// reads as "".
type scopeFields struct {
	ID          *string `json:"id"`
	CompanyID   *string `json:"company_id"`
	RequesterID *string `json:"requester_id"`
	Status      *string `json:"status"`
	UserID      *string `json:"user_id"`
}

func (f scopeFields) get(name string) string {
	var v *string
	switch name {
	case "id":
		v = f.ID
	case "company_id":
		v = f.CompanyID
	case "requester_id":
		v = f.RequesterID
	case "status":
		v = f.Status
	case "user_id":
		v = f.UserID
	}
	if v == nil {
		return ""
	}
	return *v
}

// scopeFieldsKnown reports whether scopeFields holds every field s
// matches on.
func scopeFieldsKnown(s domain.ReadScope) bool {
	for _, m := range s.Where {
		switch m.Field {
		case "id", "company_id", "requester_id", "status", "user_id":
		default:
			return false
		}
	}
	return true
}

// list answers GET /api/{resource} with {data, total}.
func (a *API) list(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		scope, err := res.scope(p)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.current(res); err != nil {
			a.fail(w, r, err)
			return
		}
		q, err := parseListQuery(r.URL.Query(), res)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if res.Parent != nil {
			if err := a.checkParent(r.Context(), p, res, q.Where); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if err := res.checkRequired(scope, q.Where); err != nil {
			a.fail(w, r, err)
			return
		}
		q.Where = append(scope, q.Where...)
		docs, total, err := a.query(r.Context(), p, res.CollectionName(), q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data := make([]json.RawMessage, len(docs))
		for i, d := range docs {
			data[i] = d.Data
		}
		w.Header().Set("Content-Range", contentRange(res.name, q.Skip, len(docs), total))
		WriteJSON(w, http.StatusOK, struct {
			Data  []json.RawMessage `json:"data"`
			Total int64             `json:"total"`
		}{data, total})
	}
}

// get answers GET /api/{resource}/{id} with the record itself.
func (a *API) get(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.stateAt(w, r, res) {
			return
		}
		p, _ := PrincipalFrom(r.Context())
		id := chi.URLParam(r, "id")
		if _, err := res.scope(p); err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.current(res); err != nil {
			a.fail(w, r, err)
			return
		}
		data, err := a.lookup(r.Context(), p, res, id)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var rec struct {
			Revision *uint64 `json:"revision"`
		}
		if json.Unmarshal(data, &rec) == nil && rec.Revision != nil {
			w.Header().Set("ETag", fmt.Sprintf(`"%d"`, *rec.Revision))
		}
		writeRaw(w, http.StatusOK, data)
	}
}

// lookup reads one document p may see; anything else is not found.
func (a *API) lookup(ctx context.Context, p domain.Principal, res *resource, id string) (json.RawMessage, error) {
	if !res.ValidID(id) {
		return nil, domain.ErrNotFound
	}
	doc, err := a.getDoc(ctx, res.CollectionName(), id)
	if err != nil {
		return nil, err
	}
	ok, err := res.visible(p, doc.Data)
	if err != nil || !ok {
		return nil, errors.Join(err, domain.ErrNotFound)
	}
	if res.Parent != nil {
		var parent map[string]json.RawMessage
		if err := json.Unmarshal(doc.Data, &parent); err != nil {
			return nil, fmt.Errorf("decode %s/%s: %w", res.name, id, err)
		}
		var parentID string
		_ = json.Unmarshal(parent[res.ParentField], &parentID)
		pres, _ := resourceNamed(res.Parent.Name)
		if _, err := a.lookup(ctx, p, pres, parentID); err != nil {
			return nil, err
		}
	}
	return doc.Data, nil
}

// checkParent requires a list of a child resource to name one parent, by
// equality on the parent field, that p may read.
func (a *API) checkParent(ctx context.Context, p domain.Principal, res *resource, where []readstore.Condition) error {
	for _, c := range where {
		if id, ok := c.Value.(string); ok && c.Field == res.ParentField && c.Op == readstore.Eq {
			pres, _ := resourceNamed(res.Parent.Name)
			_, err := a.lookup(ctx, p, pres, id)
			return err
		}
	}
	return oneAtATime(res.name, res.ParentField)
}

// oneAtATime is the error of a list that must name one value of field
// (a ticket's comments: one ticket_id).
func oneAtATime(resource, field string) error {
	return badRequestf("list %s of one %s at a time: filter by %s (an equality, such as {\"%s\": \"<id>\"})",
		resource, strings.TrimSuffix(field, "_id"), field, field)
}

// checkRequired requires a list of a resource that declares
// RequireFilter to narrow that field to one value (null included), by
// the read scope or by the filter.
func (res *resource) checkRequired(scope, where []readstore.Condition) error {
	if res.RequireFilter == "" {
		return nil
	}
	for _, c := range append(scope, where...) {
		if c.Field == res.RequireFilter && c.Op == readstore.Eq {
			return nil
		}
	}
	return oneAtATime(res.name, res.RequireFilter)
}

// comments answers GET /api/tickets/{id}/comments: the ticket's comments,
// oldest first, paged by the store with skip/limit or range, as
// {data, total}. Whoever may read the ticket may read its comments.
func (a *API) comments(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	tickets, _ := resourceNamed(decl.Tickets.Name)
	skip, limit, err := parsePage(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	raw, err := a.lookup(r.Context(), p, tickets, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var tk struct {
		CompanyID string `json:"company_id"`
	}
	if err := json.Unmarshal(raw, &tk); err != nil {
		a.fail(w, r, fmt.Errorf("decode ticket %s: %w", id, err))
		return
	}
	docs, total, err := a.query(r.Context(), p, decl.Comments.CollectionName(), readstore.Query{
		Where: []readstore.Condition{
			{Field: "ticket_id", Op: readstore.Eq, Value: id},
			{Field: "company_id", Op: readstore.Eq, Value: tk.CompanyID},
		},
		Sort: []readstore.Sort{{Field: "seq"}}, Skip: skip, Limit: limit, Count: true,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		page[i] = d.Data
	}
	w.Header().Set("Content-Range", contentRange("comments", skip, len(page), total))
	WriteJSON(w, http.StatusOK, struct {
		Data  []json.RawMessage `json:"data"`
		Total int64             `json:"total"`
	}{page, total})
}

// UnreadNotifications returns the ids of p's own unread notifications
// whose ids sort after after ("" for the first), in id order, at most
// limit of them: pages keyed by id, which marking the listed ones read
// between two pages does not shift. It refuses, like a list, while the
// view is not current, so that none is missed.
func (a *API) UnreadNotifications(ctx context.Context, p domain.Principal, after string, limit int) ([]string, error) {
	res, _ := resourceNamed(decl.Notifications.Name)
	scope, err := res.scope(p)
	if err != nil {
		return nil, err
	}
	if err := a.current(res); err != nil {
		return nil, err
	}
	q := readstore.Query{
		Where: append(scope, readstore.Condition{Field: "read", Op: readstore.Eq, Value: false}),
		Sort:  []readstore.Sort{{Field: "id"}}, Limit: limit,
	}
	if after != "" {
		q.Where = append(q.Where, readstore.Condition{Field: "id", Op: readstore.Gt, Value: after})
	}
	docs, _, err := a.query(ctx, p, res.CollectionName(), q)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// Record returns the record a write produced, as the next GET will: it
// waits until the resource's projection has applied position, then reads
// the document. It is the read half of read-your-writes for the write
// endpoints.
func (a *API) Record(ctx context.Context, p domain.Principal, resourceName, id string, position eventstore.Position) (json.RawMessage, error) {
	if err := a.Await(ctx, resourceName, position); err != nil {
		return nil, err
	}
	res, _ := resourceNamed(resourceName) // Await checked the name
	return a.lookup(ctx, p, res, id)
}

// Await waits, for at most the configured write wait, until the
// resource's projection has applied position.
func (a *API) Await(ctx context.Context, resourceName string, position eventstore.Position) error {
	res, ok := resourceNamed(resourceName)
	if !ok {
		return fmt.Errorf("readapi: unknown resource %q", resourceName)
	}
	wctx, cancel := context.WithTimeout(ctx, a.writeWait)
	defer cancel()
	for _, name := range append([]string{res.CollectionName()}, res.Also...) {
		if err := a.progress.Wait(wctx, name, position); err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%w: the change was recorded but the %s view is behind; retry the read shortly", errNotReady, name)
			}
			return err
		}
	}
	return nil
}

// AwaitRevision waits, for at most the configured write wait, until the
// resource's document id shows stream revision at least revision. It
// serves writes that know no global position: a command that recorded
// nothing new (a retry, a change to the same value) knows only the
// revision its aggregate is at, because stream reads carry no position.
// It polls, with a growing pause, which is cheap for those rare writes.
func (a *API) AwaitRevision(ctx context.Context, resourceName, id string, revision uint64) error {
	res, ok := resourceNamed(resourceName)
	if !ok {
		return fmt.Errorf("readapi: unknown resource %q", resourceName)
	}
	deadline := time.Now().Add(a.writeWait)
	pause := time.Millisecond
	for {
		doc, err := a.reads.Get(ctx, res.name, id)
		if err != nil && !errors.Is(err, readstore.ErrNotFound) {
			return err
		}
		if err == nil {
			var v struct {
				Revision uint64 `json:"revision"`
			}
			if err := json.Unmarshal(doc.Data, &v); err != nil {
				return fmt.Errorf("decode %s/%s: %w", res.name, id, err)
			}
			if v.Revision >= revision {
				return nil
			}
		}
		if time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("%w: the %s view is behind; retry the read shortly", errNotReady, res.name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// contentRange is the Content-Range of a page: "items 0-24/42", or
// "items */42" for an empty page (before the first record or past the
// last), as RFC 9110 writes an unsatisfied range.
func contentRange(name string, skip, n int, total int64) string {
	if n == 0 {
		return fmt.Sprintf("%s */%d", name, total)
	}
	return fmt.Sprintf("%s %d-%d/%d", name, skip, skip+n-1, total)
}

// current refuses to serve a read model that is not current: while it is
// rebuilt from the start, or while its projection is failing, its lists
// would have partial totals and its records would be missing. The client
// gets a 503 with Retry-After rather than a wrong answer.
func (a *API) current(res *resource) error {
	if !a.progress.CaughtUp(res.CollectionName()) {
		return fmt.Errorf("%w: the %s view is catching up or failing; retry shortly", errNotReady, res.name)
	}
	return nil
}
