package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"agentdesk/domain"
)

// Reactions is what the operator endpoints for reactions need. Its values
// are answered as JSON as they are.
type Reactions interface {
	// ReactionStatus lists every reaction's status.
	ReactionStatus(ctx context.Context) ([]json.RawMessage, error)
	// ListParked returns a page of parked messages, newest first, of one
	// reaction or (reaction empty) all, and how many there are.
	ListParked(ctx context.Context, reaction string, skip, limit int) (page []json.RawMessage, total int, err error)
	// ReplayParked publishes a parked message again; an unknown id is an
	// error that errors.Is ErrParkedNotFound.
	ReplayParked(ctx context.Context, id string) (any, error)
}

// ErrParkedNotFound is what a Reactions answers for an unknown parked
// message.
var ErrParkedNotFound = errors.New("no such parked message")

// Projections is what the operator endpoints for projections need. Its
// errors map to statuses through ErrorStatus (an unknown projection is a
// domain.ErrNotFound, a rebuild already running a domain.ErrConflict).
type Projections interface {
	// ProjectionStatus lists every projection's status and every
	// reaction's, each with an id (its name).
	ProjectionStatus(ctx context.Context) ([]json.RawMessage, error)
	// RebuildProjection starts a rebuild and answers the projection's
	// status.
	RebuildProjection(ctx context.Context, name string) (json.RawMessage, error)
	// ResumeProjection resumes a halted projection and answers its status.
	ResumeProjection(ctx context.Context, name string) (json.RawMessage, error)
	// VerifyProjection replays the log into a scratch generation and
	// compares it with the live read model; it answers what it found.
	VerifyProjection(ctx context.Context, name string) (json.RawMessage, error)
	// ListProjectionParked returns a page of the events projections
	// parked under their skip policy, newest first, of one projection or
	// all, and how many there are.
	ListProjectionParked(ctx context.Context, projection string, skip, limit int) (page []json.RawMessage, total int, err error)
}

// Operator mounts the superadmin's operator endpoints under /api/admin:
// the projections' and reactions' status, rebuilding and resuming a
// projection, parked events and messages, and replaying a message. It
// needs an authenticated router, like Authenticated.
func (a *API) Operator(r chi.Router, reactions Reactions, projections Projections) {
	r.Route("/api/admin", func(r chi.Router) {
		r.Use(a.superadminOnly)
		r.Get("/projections", a.statusList("projections", projections.ProjectionStatus))
		r.Get("/projections/parked", a.parkedList("projection", projections.ListProjectionParked))
		r.Get("/projections/{name}", func(w http.ResponseWriter, r *http.Request) {
			st, err := projections.ProjectionStatus(r.Context())
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			name := chi.URLParam(r, "name")
			for _, line := range st {
				var id struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(line, &id) == nil && id.ID == name {
					WriteJSON(w, http.StatusOK, line)
					return
				}
			}
			WriteError(a.log, w, r, fmt.Errorf("%w: no projection %q (or reaction, as reaction:NAME)", domain.ErrNotFound, name))
		})
		r.Post("/projections/{name}/rebuild", func(w http.ResponseWriter, r *http.Request) {
			st, err := projections.RebuildProjection(r.Context(), chi.URLParam(r, "name"))
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			WriteJSON(w, http.StatusAccepted, st)
		})
		r.Post("/projections/{name}/verify", func(w http.ResponseWriter, r *http.Request) {
			res, err := projections.VerifyProjection(r.Context(), chi.URLParam(r, "name"))
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, res)
		})
		r.Post("/projections/{name}/resume", func(w http.ResponseWriter, r *http.Request) {
			st, err := projections.ResumeProjection(r.Context(), chi.URLParam(r, "name"))
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, st)
		})
		r.Get("/reactions", a.statusList("reactions", reactions.ReactionStatus))
		r.Get("/reactions/parked", a.parkedList("reaction", reactions.ListParked))
		r.Post("/reactions/parked/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
			id := chi.URLParam(r, "id")
			if id == "" || len(id) > 200 || strings.ContainsAny(id, "/\x00") {
				WriteError(a.log, w, r, domain.ErrNotFound)
				return
			}
			res, err := reactions.ReplayParked(r.Context(), id)
			if errors.Is(err, ErrParkedNotFound) {
				err = domain.ErrNotFound
			}
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, res)
		})
	})
}

// statusList answers a status as a React Admin list of every line.
func (a *API) statusList(name string, status func(context.Context) ([]json.RawMessage, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := status(r.Context())
		if err != nil {
			WriteError(a.log, w, r, err)
			return
		}
		w.Header().Set("Content-Range", contentRange(name, 0, len(st), int64(len(st))))
		WriteJSON(w, http.StatusOK, map[string]any{"data": st, "total": len(st)})
	}
}

// parkedList answers a page of parked items, filtered on field (a name).
func (a *API) parkedList(field string, list func(ctx context.Context, name string, skip, limit int) ([]json.RawMessage, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		skip, limit, name, err := parkedQuery(r, field)
		if err != nil {
			WriteError(a.log, w, r, err)
			return
		}
		page, total, err := list(r.Context(), name, skip, limit)
		if err != nil {
			WriteError(a.log, w, r, err)
			return
		}
		if page == nil {
			page = []json.RawMessage{}
		}
		w.Header().Set("Content-Range", contentRange("parked", skip, len(page), int64(total)))
		WriteJSON(w, http.StatusOK, map[string]any{"data": page, "total": total})
	}
}

// parkedQuery reads a parked list's page and its one filter, field (a
// name).
func parkedQuery(r *http.Request, field string) (skip, limit int, name string, err error) {
	if skip, limit, err = parsePage(r.URL.Query()); err != nil {
		return 0, 0, "", err
	}
	if f := r.URL.Query().Get("filter"); f != "" && f != "{}" {
		var filter map[string]any
		if err := json.Unmarshal([]byte(f), &filter); err != nil {
			return 0, 0, "", badRequestf("filter must be a JSON object")
		}
		for k, v := range filter {
			s, ok := v.(string)
			if k != field || !ok {
				return 0, 0, "", badRequestf("parked lists filter on %s (a name) only", field)
			}
			name = s
		}
	}
	return skip, limit, name, nil
}

// superadminOnly answers 403 to anyone but a superadmin.
func (a *API) superadminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok || p.Role != domain.Superadmin {
			WriteError(a.log, w, r, domain.ErrForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
