package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// resource is a read model served as a React Admin resource.
type resource struct {
	name string // URL segment, collection and projection name
	// also lists other projections a write must reach before it is
	// answered (users: sign-in reads credentials).
	also []string
	// filters and sorts are the allow-lists; id and q are always allowed.
	filters []string
	sorts   []string
	// scope returns the conditions that restrict p to what it may see, or
	// an error if p may not list the resource at all.
	scope func(p domain.Principal) ([]readstore.Condition, error)
	// visible reports whether p may read one document.
	visible func(p domain.Principal, d scopeDoc) bool
}

// scopeDoc holds the fields of a document that decide who may see it.
type scopeDoc struct {
	ID          string  `json:"id"`
	CompanyID   *string `json:"company_id"`
	RequesterID string  `json:"requester_id"`
	AssigneeID  *string `json:"assignee_id"`
	Role        string  `json:"role"`
}

func (d scopeDoc) company() string {
	if d.CompanyID == nil {
		return ""
	}
	return *d.CompanyID
}

func eq(field, value string) readstore.Condition {
	return readstore.Condition{Field: field, Op: readstore.Eq, Value: value}
}

// resources lists what the query API serves.
var resources = []*resource{
	{
		name:    "companies",
		filters: []string{"name", "created_at", "updated_at"},
		sorts:   []string{"name", "created_at", "updated_at"},
		scope: func(p domain.Principal) ([]readstore.Condition, error) {
			switch {
			case p.IsSuperadmin():
				return nil, nil
			case domain.CanCompany(p, domain.Read, p.CompanyID):
				return []readstore.Condition{eq("id", p.CompanyID)}, nil
			}
			return nil, domain.ErrForbidden
		},
		visible: func(p domain.Principal, d scopeDoc) bool { return domain.CanCompany(p, domain.Read, d.ID) },
	},
	{
		name:    "users",
		also:    []string{credentialsCollection},
		filters: []string{"company_id", "username", "email", "full_name", "role", "created_at", "updated_at"},
		sorts:   []string{"username", "email", "full_name", "role", "created_at", "updated_at"},
		scope: func(p domain.Principal) ([]readstore.Condition, error) {
			switch {
			case p.IsSuperadmin():
				return nil, nil
			case domain.CanListUsers(p):
				return []readstore.Condition{eq("company_id", p.CompanyID)}, nil
			}
			return []readstore.Condition{eq("company_id", p.CompanyID), eq("id", p.UserID)}, nil
		},
		visible: func(p domain.Principal, d scopeDoc) bool {
			return d.ID == p.UserID || domain.CanUser(p, domain.Read, domain.UserRef{ID: d.ID, CompanyID: d.company(), Role: domain.Role(d.Role)})
		},
	},
	{
		name: "tickets",
		also: []string{ticketCommentsCollection},
		filters: []string{"company_id", "title", "priority", "status", "requester_id", "assignee_id", "tags",
			"comment_count", "created_at", "updated_at", "last_activity_at"},
		sorts: []string{"title", "priority", "status", "comment_count", "created_at", "updated_at", "last_activity_at"},
		scope: func(p domain.Principal) ([]readstore.Condition, error) {
			switch {
			case p.IsSuperadmin():
				return nil, nil
			case domain.TicketsOwnOnly(p):
				return []readstore.Condition{eq("company_id", p.CompanyID), eq("requester_id", p.UserID)}, nil
			}
			return []readstore.Condition{eq("company_id", p.CompanyID)}, nil
		},
		visible: func(p domain.Principal, d scopeDoc) bool {
			ref := domain.TicketRef{CompanyID: d.company(), RequesterID: d.RequesterID}
			if d.AssigneeID != nil {
				ref.AssigneeID = *d.AssigneeID
			}
			return domain.CanTicket(p, domain.Read, ref)
		},
	},
}

func resourceNamed(name string) (*resource, bool) {
	for _, r := range resources {
		if r.name == name {
			return r, true
		}
	}
	return nil, false
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
		q, err := parseListQuery(r.URL.Query(), res)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		q.Where = append(scope, q.Where...)
		docs, total, err := a.reads.Query(r.Context(), res.name, q)
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
		p, _ := PrincipalFrom(r.Context())
		id := chi.URLParam(r, "id")
		if _, err := res.scope(p); err != nil {
			a.fail(w, r, err)
			return
		}
		data, err := a.lookup(r.Context(), p, res, id)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, data)
	}
}

// lookup reads one document p may see; anything else is not found.
func (a *API) lookup(ctx context.Context, p domain.Principal, res *resource, id string) (json.RawMessage, error) {
	if !domain.ValidID(id) {
		return nil, domain.ErrNotFound
	}
	doc, err := a.reads.Get(ctx, res.name, id)
	if err != nil {
		return nil, err
	}
	var sd scopeDoc
	if err := json.Unmarshal(doc.Data, &sd); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", res.name, id, err)
	}
	if !res.visible(p, sd) {
		return nil, domain.ErrNotFound
	}
	return doc.Data, nil
}

// ticketCommentsCollection holds one document per comment, with its
// ticket_id, company_id and seq (the order within the ticket): a read
// model contract, like usersCollection.
const ticketCommentsCollection = "ticket_comments"

// comments answers GET /api/tickets/{id}/comments: the ticket's comments,
// oldest first, paged by the store with skip/limit or range, as
// {data, total}. Whoever may read the ticket may read its comments.
func (a *API) comments(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	tickets, _ := resourceNamed("tickets")
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
	docs, total, err := a.reads.Query(r.Context(), ticketCommentsCollection, readstore.Query{
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
	for _, name := range append([]string{res.name}, res.also...) {
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
