// Package web is the HTTP face of the write side: POST, PUT and DELETE on
// the React Admin resources and the ticket actions. Each endpoint decodes
// a strict JSON body, runs one command and answers with the resulting
// record as the next GET will return it. Writes carrying an
// Idempotency-Key are answered once and replayed after.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/blob"
	"agentdesk/internal/reqbody"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 1 << 20

// Records renders the record a write produced, as the next GET will.
type Records interface {
	// Record waits until the resource's read model has applied position
	// and returns the document p may see with that id.
	Record(ctx context.Context, p domain.Principal, resource, id string, position eventstore.Position) (json.RawMessage, error)
	// Await waits until the resource's read model has applied position.
	Await(ctx context.Context, resource string, position eventstore.Position) error
	// AwaitRevision waits until the resource's document id is at stream
	// revision at least revision.
	AwaitRevision(ctx context.Context, resource, id string, revision uint64) error
}

// Inbox lists a user's notifications as the read side holds them.
type Inbox interface {
	// UnreadNotifications returns the ids of p's own unread
	// notifications whose ids sort after after ("" for the first), in id
	// order, at most limit of them.
	UnreadNotifications(ctx context.Context, p domain.Principal, after string, limit int) ([]string, error)
}

// Config configures the write endpoints.
type Config struct {
	App     *commands.App
	Records Records
	// Inbox serves marking all of a user's notifications read.
	Inbox Inbox
	// Principal returns the authenticated principal of a request.
	Principal func(ctx context.Context) (domain.Principal, bool)
	// WriteError answers a request with an error (the API's one mapping).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// ErrorStatus, if set, is that mapping's status for an error; it tells
	// a view that is behind (503) from a failure worth a log line.
	ErrorStatus func(error) int
	// Sealer seals the integration credentials agent writes carry, before
	// any command sees them; required, since the agent endpoints are
	// always mounted.
	Sealer commands.Sealer
	// Chat, when set, serves agent chat (POST /api/agents/{id}/chat).
	Chat *commands.Chatter
	// Blobs, when set, serves the files of knowledge documents, whose
	// endpoints are mounted only then; it must be the store the App
	// writes them to.
	Blobs blob.Store
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.App == nil {
		errs = append(errs, errors.New("web: App is required"))
	}
	if c.Records == nil {
		errs = append(errs, errors.New("web: Records is required"))
	}
	if c.Inbox == nil {
		errs = append(errs, errors.New("web: Inbox is required"))
	}
	if c.Principal == nil {
		errs = append(errs, errors.New("web: Principal is required"))
	}
	if c.WriteError == nil {
		errs = append(errs, errors.New("web: WriteError is required"))
	}
	if c.Sealer == nil {
		errs = append(errs, errors.New("web: Sealer is required (agent integration credentials are sealed before they are stored)"))
	}
	return errors.Join(errs...)
}

// Handler serves the write endpoints.
type Handler struct {
	app       *commands.App
	records   Records
	inbox     Inbox
	principal func(ctx context.Context) (domain.Principal, bool)
	writeErr  func(w http.ResponseWriter, r *http.Request, err error)
	status    func(error) int
	sealer    commands.Sealer
	chatter   *commands.Chatter
	blobs     blob.Store
	log       *slog.Logger
	// keyLocks serializes requests that share an Idempotency-Key, so a
	// retry racing its original waits for it and replays its response
	// instead of deciding again on the state the original produced.
	keyLocks [64]sync.Mutex
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{app: cfg.App, records: cfg.Records, inbox: cfg.Inbox, principal: cfg.Principal, writeErr: cfg.WriteError, status: cfg.ErrorStatus, sealer: cfg.Sealer, chatter: cfg.Chat, blobs: cfg.Blobs, log: cfg.Logger}, nil
}

// Mount registers the write endpoints on r, which must authenticate.
func (h *Handler) Mount(r chi.Router) {
	r.Post("/api/companies", h.run(resource.Companies.Name, h.createCompany))
	r.Put("/api/companies/{id}", h.run(resource.Companies.Name, h.updateCompany))
	r.Delete("/api/companies/{id}", h.run(resource.Companies.Name, h.deleteCompany))
	r.Post("/api/companies/{id}/suspend", h.run(resource.Companies.Name, h.action(h.app.SuspendCompany)))
	r.Post("/api/companies/{id}/reactivate", h.run(resource.Companies.Name, h.action(h.app.ReactivateCompany)))

	r.Post("/api/users", h.run(resource.Users.Name, h.createUser))
	r.Put("/api/users/{id}", h.run(resource.Users.Name, h.updateUser))
	r.Delete("/api/users/{id}", h.run(resource.Users.Name, h.deleteUser))
	r.Post("/api/users/{id}/deactivate", h.run(resource.Users.Name, h.action(h.app.DeactivateUser)))
	r.Post("/api/users/{id}/reactivate", h.run(resource.Users.Name, h.action(h.app.ReactivateUser)))
	r.Post("/api/users/{id}/forget", h.run(resource.Users.Name, h.forgetUser))

	r.Post("/api/tickets", h.run(resource.Tickets.Name, h.openTicket))
	r.Put("/api/tickets/{id}", h.run(resource.Tickets.Name, h.updateTicket))
	r.Delete("/api/tickets/{id}", h.run(resource.Tickets.Name, h.deleteTicket))
	r.Post("/api/tickets/{id}/assign", h.run(resource.Tickets.Name, h.assignTicket))
	r.Post("/api/tickets/{id}/status", h.run(resource.Tickets.Name, h.ticketStatus))
	r.Post("/api/tickets/{id}/comments", h.run(resource.Tickets.Name, h.commentTicket))

	agents := "/api/" + resource.Agents.Name
	r.Post(agents, h.run(resource.Agents.Name, h.createAgent))
	r.Put(agents+"/{id}", h.run(resource.Agents.Name, h.updateAgent))
	r.Delete(agents+"/{id}", h.run(resource.Agents.Name, h.deleteAgent))
	r.Post(agents+"/{id}/activate", h.run(resource.Agents.Name, h.action(h.activateAgent)))
	r.Post(agents+"/{id}/deactivate", h.run(resource.Agents.Name, h.action(h.deactivateAgent)))
	if h.chatter != nil {
		r.Post(agents+"/{id}/chat", h.chat)
	}
	r.Post(agents+"/{id}/integrations/{type}/sync", h.run(resource.SyncRuns.Name, h.startSync))

	campaigns := "/api/" + resource.Campaigns.Name
	r.Post(campaigns, h.run(resource.Campaigns.Name, h.createCampaign))
	r.Put(campaigns+"/{id}", h.run(resource.Campaigns.Name, h.updateCampaign))
	r.Delete(campaigns+"/{id}", h.run(resource.Campaigns.Name, h.deleteCampaign))
	r.Post(campaigns+"/{id}/status", h.run(resource.Campaigns.Name, h.campaignStatus))
	// Content item commands answer the item as the campaign's child (see
	// contentOutcome); the item-level routes carry the campaign id.
	content := "/api/" + resource.CampaignContent.Name
	r.Post(campaigns+"/{id}/content", h.run(resource.Campaigns.Name, h.addContent))
	r.Post(content, h.run(resource.Campaigns.Name, h.addContent))
	r.Put(campaigns+"/{campaign_id}/content/{id}", h.run(resource.Campaigns.Name, h.editContent))
	r.Delete(campaigns+"/{campaign_id}/content/{id}", h.run(resource.Campaigns.Name, h.removeContent))
	r.Post(campaigns+"/{campaign_id}/content/{id}/approve", h.run(resource.Campaigns.Name, h.contentAction(h.app.ApproveCampaignContent)))
	r.Post(campaigns+"/{campaign_id}/content/{id}/publish", h.run(resource.Campaigns.Name, h.contentAction(h.app.PublishCampaignContent)))
	r.Put(content+"/{id}", h.contentMoved)
	r.Delete(content+"/{id}", h.contentMoved)

	chunks := "/api/" + resource.KnowledgeChunks.Name
	r.Post(chunks, h.run(resource.KnowledgeChunks.Name, h.createKnowledgeChunk))
	r.Put(chunks+"/{id}", h.run(resource.KnowledgeChunks.Name, h.updateKnowledgeChunk))
	r.Delete(chunks+"/{id}", h.run(resource.KnowledgeChunks.Name, h.deleteKnowledgeChunk))

	if h.blobs != nil {
		documents := "/api/" + resource.KnowledgeDocuments.Name
		r.Post(documents, h.runUpload(h.uploadDocument))
		r.Put(documents+"/{id}", h.runUpload(h.replaceDocument))
		r.Delete(documents+"/{id}", h.run(resource.KnowledgeDocuments.Name, h.deleteDocument))
		r.Get(documents+"/{id}/file", h.downloadDocument)

		r.Post("/api/tickets/{id}/attachments", h.attach)
		r.Delete("/api/tickets/{ticket_id}/attachments/{id}", h.run(resource.Tickets.Name, h.detach))
		r.Get("/api/tickets/{ticket_id}/attachments/{id}/file", h.downloadAttachment)
	}

	notifications := "/api/" + resource.Notifications.Name
	r.Post(notifications, h.notificationsCreatedByPlatform)
	r.Post(notifications+"/read_all", h.run(resource.Notifications.Name, h.readAllNotifications))
	r.Post(notifications+"/{id}/read", h.run(resource.Notifications.Name, h.action(h.app.MarkNotificationRead)))
}

// call is one write request being served.
type call struct {
	r    *http.Request
	meta commands.Meta
	id   string // the {id} path parameter
	body []byte
}

// decode reads the body strictly into v (see decodeBody).
func (c *call) decode(v any) error { return decodeBody(c.body, v) }

// outcome is what a command handler returns: the record to render.
type outcome struct {
	res commands.Result
	// child, when set, names the resource of res.ChildID: that record is
	// answered instead of the aggregate's (a new comment).
	child string
	// snapshot, when set, is answered instead of reading the record (a
	// deleted record cannot be read back).
	snapshot json.RawMessage
	status   int
	// location, when set, is where to read the outcome of a write that
	// answers no one record, if it is accepted before it can be read.
	location string
}

// run wraps a command handler: principal, body limit, idempotency, the
// command, then the read-your-writes response.
func (h *Handler) run(kind string, fn func(c *call) (outcome, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(r.Context())
		if !ok {
			h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
			return
		}
		body, err := reqbody.Read(w, r, MaxBody)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		if len(bytes.TrimSpace(body)) > 0 && !jsonContent(r.Header.Get("Content-Type")) {
			h.writeErr(w, r, &requestError{status: http.StatusUnsupportedMediaType, msg: "the body must be JSON: send Content-Type: application/json"})
			return
		}
		c := &call{r: r, id: chi.URLParam(r, "id"), body: body, meta: commands.Meta{
			Principal:     p,
			CorrelationID: headerID(r, "X-Correlation-ID"),
			CausationID:   headerID(r, "X-Causation-ID"),
			RequestID:     middleware.GetReqID(r.Context()),
		}}
		if c.meta.IfRevision, err = ifRevision(r, body); err != nil {
			h.writeErr(w, r, err)
			return
		}
		key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
		if key == "" {
			status, out, err := h.execute(c, kind, fn)
			h.answer(w, r, status, out, err)
			return
		}
		if len(key) > 255 {
			h.writeErr(w, r, &requestError{status: http.StatusBadRequest, msg: "Idempotency-Key must be at most 255 characters"})
			return
		}
		scope := p.CompanyID
		if scope == "" {
			scope = "platform"
		}
		k := commands.IdempotencyKey{Scope: scope, Key: key}
		hash := requestHash(r, p.UserID, body)
		lock := &h.keyLocks[fnv32(k.Scope+"\x00"+k.Key)%uint32(len(h.keyLocks))]
		lock.Lock()
		defer lock.Unlock()
		if first, ok, err := h.app.Lookup(r.Context(), k); err != nil || ok {
			if err == nil && first.RequestHash != hash {
				err = fmt.Errorf("%w: the Idempotency-Key was used for another request", domain.ErrConflict)
			}
			if err != nil {
				h.writeErr(w, r, err)
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			h.answer(w, r, first.Status, first.Body, nil)
			return
		}
		c.meta.CommandID = k.CommandID()
		status, out, err := h.execute(c, kind, fn)
		if err != nil {
			h.answer(w, r, 0, nil, err)
			return
		}
		saved, err := h.app.Remember(r.Context(), k, commands.Response{RequestHash: hash, Status: status, Body: out})
		if err != nil {
			h.answer(w, r, 0, nil, err)
			return
		}
		h.answer(w, r, saved.Status, saved.Body, nil)
	}
}

// execute runs the command and renders its record. Once the command is
// recorded the answer is never an error: a record that cannot be read
// back in time (its view is behind, or the read fails) is answered 202
// Accepted with what is known of the write and where to read it.
func (h *Handler) execute(c *call, kind string, fn func(c *call) (outcome, error)) (int, json.RawMessage, error) {
	out, err := fn(c)
	if err != nil {
		return 0, nil, err
	}
	status, rec, err := h.render(c, kind, out)
	if err != nil {
		if gone := c.r.Context().Err(); gone != nil {
			// The client went away: nobody reads the answer, and the
			// write is recorded. Its context's error, not err, is
			// answered, so that it maps to a gone client: err may be the
			// write wait ending at the same moment (a 503), or a store's
			// own error for a read it was told to stop (a 500).
			return 0, nil, gone
		}
		return h.accepted(c, kind, out, err)
	}
	return status, rec, nil
}

// render waits for the write's views and reads its record back.
func (h *Handler) render(c *call, kind string, out outcome) (int, json.RawMessage, error) {
	status := out.status
	if status == 0 {
		status = http.StatusOK
	}
	if out.snapshot != nil {
		// The views of the record answered, a child's (a removed
		// attachment) as well as the aggregate's, show the write first.
		for _, k := range []string{kind, out.child} {
			if k == "" {
				continue
			}
			if err := h.records.Await(c.r.Context(), k, out.res.Position); err != nil {
				return 0, nil, err
			}
		}
		return status, out.snapshot, nil
	}
	if out.res.Position.IsZero() {
		// Nothing new was recorded (a retry, a change to the same value):
		// there is no position to wait for, only the aggregate's revision.
		if err := h.records.AwaitRevision(c.r.Context(), kind, out.res.ID, out.res.Revision); err != nil {
			return 0, nil, err
		}
	}
	id := out.res.ID
	if out.child != "" {
		// The aggregate's own views reflect the write too before the
		// child record is answered (a comment, then the ticket's count).
		if err := h.records.Await(c.r.Context(), kind, out.res.Position); err != nil {
			return 0, nil, err
		}
		kind, id = out.child, out.res.ChildID
	}
	rec, err := h.records.Record(c.r.Context(), c.meta.Principal, kind, id, out.res.Position)
	if err != nil {
		return 0, nil, err
	}
	return status, rec, nil
}

// Accepted is the answer to a write that was recorded but whose record
// could not be read back in time: 202, with Location and Retry-After.
// Its id is what a create's answer would have carried, so a client (React
// Admin's create included) goes on as with the record itself.
type Accepted struct {
	ID       string `json:"id"`
	Status   string `json:"status"` // always "accepted"
	Revision uint64 `json:"revision"`
	// Position is the write's place in the event log, when it recorded
	// something new.
	Position string `json:"position,omitempty"`
	// Location is where the record will be read.
	Location string `json:"location"`
	Detail   string `json:"detail"`
	Message  string `json:"message"`
}

func (h *Handler) accepted(c *call, kind string, out outcome, cause error) (int, json.RawMessage, error) {
	id := out.res.ID
	if out.child != "" {
		kind, id = out.child, out.res.ChildID
	}
	detail := "the change was recorded, but its record could not be read back in time; read it from location shortly"
	if h.status == nil || h.status(cause) != http.StatusServiceUnavailable {
		h.log.Warn("write recorded but its record could not be read back", "resource", kind, "id", id, "err", cause)
	}
	a := Accepted{ID: id, Status: "accepted", Revision: out.res.Revision, Location: "/api/" + kind + "/" + id, Detail: detail, Message: detail}
	if out.location != "" {
		a.ID, a.Revision, a.Location = "", 0, out.location
	}
	if !out.res.Position.IsZero() {
		a.Position = out.res.Position.Key()
	}
	body, err := json.Marshal(a)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, body, nil
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request, status int, body json.RawMessage, err error) {
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	if tag := etag(body); tag != "" && status != http.StatusAccepted {
		w.Header().Set("ETag", tag)
	}
	if status == http.StatusAccepted {
		var a Accepted
		if json.Unmarshal(body, &a) == nil && a.Location != "" {
			w.Header().Set("Location", a.Location)
			w.Header().Set("Retry-After", "1")
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

// requestHash fingerprints a request for idempotency: the caller, method,
// path and body. The caller is part of it so that another user of the same
// company reusing a key gets a conflict, never someone else's response.
func requestHash(r *http.Request, userID string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s %s\n", userID, r.Method, r.URL.Path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// headerID returns a caller-supplied UUID header, or "" if absent or not a UUID.
func headerID(r *http.Request, name string) string {
	v := strings.TrimSpace(r.Header.Get(name))
	if _, err := uuid.Parse(v); err != nil {
		return ""
	}
	return strings.ToLower(v)
}

// requestError is a client error with its status.
type requestError struct {
	status int
	msg    string
	fields map[string]string
}

func (e *requestError) Error() string { return e.msg }

// HTTPStatus gives the API's error mapping the status.
func (e *requestError) HTTPStatus() int { return e.status }

// Fields names the offending fields, if known.
func (e *requestError) Fields() map[string]string { return e.fields }

// ifRevision returns the revision an update or a delete is conditional
// on: the If-Match header ("3" or W/"3"), or on PUT the record's own
// revision field, which React Admin sends back with the rest of the
// record. Both given and different is a 400.
func ifRevision(r *http.Request, body []byte) (*uint64, error) {
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return nil, nil
	}
	var fromHeader, fromBody *uint64
	if h := strings.TrimSpace(r.Header.Get("If-Match")); h != "" && h != "*" {
		n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
		if err != nil {
			return nil, &requestError{status: http.StatusBadRequest, msg: `If-Match must be a record's ETag, such as "3"`}
		}
		fromHeader = &n
	}
	if r.Method == http.MethodPut && len(body) > 0 {
		var rec struct {
			Revision json.RawMessage `json:"revision"`
		}
		if json.Unmarshal(body, &rec) == nil && len(rec.Revision) > 0 && string(rec.Revision) != "null" {
			var n uint64
			if err := json.Unmarshal(rec.Revision, &n); err != nil {
				return nil, &requestError{status: http.StatusBadRequest, msg: "revision must be a non-negative integer",
					fields: map[string]string{"revision": "must be a non-negative integer"}}
			}
			fromBody = &n
		}
	}
	if fromHeader != nil && fromBody != nil && *fromHeader != *fromBody {
		return nil, &requestError{status: http.StatusBadRequest, msg: "If-Match and the body's revision differ"}
	}
	if fromHeader != nil {
		return fromHeader, nil
	}
	return fromBody, nil
}

// etag is the ETag of a record: its revision, quoted. A body without a
// revision (a list, an error) has none.
func etag(body json.RawMessage) string {
	var rec struct {
		Revision *uint64 `json:"revision"`
	}
	if json.Unmarshal(body, &rec) != nil || rec.Revision == nil {
		return ""
	}
	return `"` + strconv.FormatUint(*rec.Revision, 10) + `"`
}

// jsonContent reports whether a Content-Type names JSON (application/json
// or a +json type); a body sent without one is read as JSON too.
func jsonContent(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
