package readapi

import (
	"context"
	"encoding/json"
	"errors"
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

// Operator mounts the superadmin's operator endpoints under /api/admin:
// the reactions' status, their parked messages, and replaying one. It
// needs an authenticated router, like Authenticated.
func (a *API) Operator(r chi.Router, reactions Reactions) {
	r.Route("/api/admin", func(r chi.Router) {
		r.Use(a.superadminOnly)
		r.Get("/reactions", func(w http.ResponseWriter, r *http.Request) {
			st, err := reactions.ReactionStatus(r.Context())
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			w.Header().Set("Content-Range", contentRange("reactions", 0, len(st), int64(len(st))))
			WriteJSON(w, http.StatusOK, map[string]any{"data": st, "total": len(st)})
		})
		r.Get("/reactions/parked", func(w http.ResponseWriter, r *http.Request) {
			skip, limit, err := parsePage(r.URL.Query())
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			reaction := ""
			if f := r.URL.Query().Get("filter"); f != "" && f != "{}" {
				var filter map[string]any
				if err := json.Unmarshal([]byte(f), &filter); err != nil {
					WriteError(a.log, w, r, badRequestf("filter must be a JSON object"))
					return
				}
				for k, v := range filter {
					s, ok := v.(string)
					if k != "reaction" || !ok {
						WriteError(a.log, w, r, badRequestf("parked messages filter on reaction (a name) only"))
						return
					}
					reaction = s
				}
			}
			page, total, err := reactions.ListParked(r.Context(), reaction, skip, limit)
			if err != nil {
				WriteError(a.log, w, r, err)
				return
			}
			if page == nil {
				page = []json.RawMessage{}
			}
			w.Header().Set("Content-Range", contentRange("parked", skip, len(page), int64(total)))
			WriteJSON(w, http.StatusOK, map[string]any{"data": page, "total": total})
		})
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
