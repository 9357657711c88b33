package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/resource"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
)

// recordFields are the read-only fields of every record. React Admin sends
// the whole record back on update, so PUT accepts and ignores them.
type recordFields struct {
	ID        *string         `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
	Revision  json.RawMessage `json:"revision"`
}

// readOnly are the fields every record has that a create ignores, so
// that one form serves create and edit, and Clone works: a POST of a
// record read back creates a new one (with a new id).
type readOnly struct {
	ID        json.RawMessage `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
	Revision  json.RawMessage `json:"revision"`
}

// ticketReadOnly are the fields of a ticket no write sets directly.
type ticketReadOnly struct {
	CommentCount   json.RawMessage `json:"comment_count"`
	CreatedBy      json.RawMessage `json:"created_by"`
	LastActivityAt json.RawMessage `json:"last_activity_at"`
}

// checkID rejects a body whose id differs from the URL's.
func (f recordFields) checkID(id string) error {
	if f.ID != nil && *f.ID != id {
		return &domain.ValidationError{Fields: map[string]string{"id": "does not match the URL"}}
	}
	return nil
}

func created(res commands.Result) (outcome, error) {
	return outcome{res: res, status: http.StatusCreated}, nil
}

func done(res commands.Result, err error) (outcome, error) { return outcome{res: res}, err }

// --- companies ---

type companyBody struct {
	Name *string `json:"name"`
}

// createCompanyBody is what POST /api/companies reads.
type createCompanyBody struct {
	companyBody
	readOnly
	CompanyID json.RawMessage `json:"company_id"`
	Status    json.RawMessage `json:"status"` // changed by actions only
	// MonthlyTokenQuota is set by an update; a create ignores it, as it
	// does the status, so that a record read back can be cloned.
	MonthlyTokenQuota json.RawMessage `json:"monthly_token_quota"`
}

func (h *Handler) createCompany(c *call) (outcome, error) {
	var b createCompanyBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	res, err := h.app.CreateCompany(c.r.Context(), c.meta, deref(b.Name))
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateCompanyBody is what PUT /api/companies/{id} reads.
type updateCompanyBody struct {
	companyBody
	recordFields
	CompanyID json.RawMessage `json:"company_id"`
	Status    json.RawMessage `json:"status"` // changed by actions only
	// MonthlyTokenQuota is a number of tokens or null (the server's
	// default); left out, the quota stays as it is. Only a superadmin
	// changes it.
	MonthlyTokenQuota json.RawMessage `json:"monthly_token_quota"`
}

func (h *Handler) updateCompany(c *call) (outcome, error) {
	var b updateCompanyBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	in := commands.CompanyChanges{Name: b.Name}
	if b.MonthlyTokenQuota != nil {
		var q *int64
		if err := json.Unmarshal(b.MonthlyTokenQuota, &q); err != nil {
			return outcome{}, &requestError{status: http.StatusBadRequest, msg: "field monthly_token_quota must be a whole number or null",
				fields: map[string]string{"monthly_token_quota": "must be a whole number or null"}}
		}
		in.SetQuota, in.MonthlyTokenQuota = true, q
	}
	if b.Name == nil && !in.SetQuota {
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"name": "is required (or monthly_token_quota)"}}
	}
	return done(h.app.ChangeCompany(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteCompany(c *call) (outcome, error) {
	return h.deleteWith(c, resource.Companies.Name, h.app.DeleteCompany)
}

// emptyBody is what an action that takes no input reads, if anything.
type emptyBody struct{}

// action is a domain action on one record that takes no input: the body
// is empty or an empty object.
func (h *Handler) action(fn func(ctx context.Context, m commands.Meta, id string) (commands.Result, error)) func(c *call) (outcome, error) {
	return func(c *call) (outcome, error) {
		if len(bytes.TrimSpace(c.body)) > 0 {
			var empty emptyBody
			if err := c.decode(&empty); err != nil {
				return outcome{}, err
			}
		}
		return done(fn(c.r.Context(), c.meta, c.id))
	}
}

// --- users ---

type userBody struct {
	CompanyID *string      `json:"company_id"`
	Username  *string      `json:"username"`
	Password  *string      `json:"password"`
	Email     *string      `json:"email"`
	FullName  *string      `json:"full_name"`
	Role      *domain.Role `json:"role"`
}

// createUserBody is what POST /api/users reads.
type createUserBody struct {
	userBody
	readOnly
	Active          json.RawMessage `json:"active"` // changed by actions only
	PasswordVersion json.RawMessage `json:"password_version"`
}

func (h *Handler) createUser(c *call) (outcome, error) {
	var b createUserBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	res, err := h.app.CreateUser(c.r.Context(), c.meta, commands.CreateUser{
		CompanyID: deref(b.CompanyID), Username: deref(b.Username), Password: deref(b.Password),
		Email: deref(b.Email), FullName: deref(b.FullName), Role: deref(b.Role),
	})
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateUserBody is what PUT /api/users/{id} reads.
type updateUserBody struct {
	userBody
	recordFields
	OldPassword     *string         `json:"old_password"`
	Active          json.RawMessage `json:"active"`
	PasswordVersion json.RawMessage `json:"password_version"` // read-only
}

func (h *Handler) updateUser(c *call) (outcome, error) {
	var b updateUserBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	// company_id and username are fixed: sent back unchanged they are
	// fine, changed they are refused.
	in := commands.UpdateUser{Email: b.Email, FullName: b.FullName, Role: b.Role,
		Fixed: commands.Fixed{"username": b.Username, "company_id": b.CompanyID}}
	if b.Password != nil && *b.Password != "" {
		in.Password, in.OldPassword = b.Password, b.OldPassword
	}
	return done(h.app.UpdateUser(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteUser(c *call) (outcome, error) {
	return h.deleteWith(c, resource.Users.Name, h.app.DeleteUser)
}

// --- tickets ---

type ticketBody struct {
	CompanyID   *string          `json:"company_id"`
	Title       *string          `json:"title"`
	Description *string          `json:"description"`
	Priority    *ticket.Priority `json:"priority"`
	RequesterID *string          `json:"requester_id"`
	Tags        *[]string        `json:"tags"`
}

// openTicketBody is what POST /api/tickets reads.
type openTicketBody struct {
	ticketBody
	readOnly
	ticketReadOnly
	// A new ticket is open and unassigned; a clone's status and
	// assignee are ignored like its other read-only fields.
	Status     json.RawMessage `json:"status"`
	AssigneeID json.RawMessage `json:"assignee_id"`
}

func (h *Handler) openTicket(c *call) (outcome, error) {
	var b openTicketBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	in := commands.OpenTicket{
		CompanyID: deref(b.CompanyID), Title: deref(b.Title), Description: deref(b.Description),
		Priority: deref(b.Priority), RequesterID: deref(b.RequesterID),
	}
	if b.Tags != nil {
		in.Tags = *b.Tags
	}
	res, err := h.app.OpenTicket(c.r.Context(), c.meta, in)
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateTicketBody is what PUT /api/tickets/{id} reads.
type updateTicketBody struct {
	ticketBody
	recordFields
	Status     *ticket.Status  `json:"status"`
	AssigneeID json.RawMessage `json:"assignee_id"`
	ticketReadOnly
}

func (h *Handler) updateTicket(c *call) (outcome, error) {
	var b updateTicketBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	in := commands.UpdateTicket{
		EditCmd: ticket.EditCmd{Title: b.Title, Description: b.Description, Priority: b.Priority, Tags: b.Tags},
		Status:  b.Status,
		Fixed:   commands.Fixed{"company_id": b.CompanyID, "requester_id": b.RequesterID},
	}
	if b.AssigneeID != nil {
		a, err := optionalID(b.AssigneeID, "assignee_id")
		if err != nil {
			return outcome{}, err
		}
		in.AssigneeID = &a
	}
	return done(h.app.UpdateTicket(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteTicket(c *call) (outcome, error) {
	return h.deleteWith(c, resource.Tickets.Name, h.app.DeleteTicket)
}

// assignTicketBody is what POST /api/tickets/{id}/assign reads.
type assignTicketBody struct {
	AssigneeID json.RawMessage `json:"assignee_id"`
}

func (h *Handler) assignTicket(c *call) (outcome, error) {
	var b assignTicketBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if b.AssigneeID == nil {
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"assignee_id": "is required (null unassigns)"}}
	}
	a, err := optionalID(b.AssigneeID, "assignee_id")
	if err != nil {
		return outcome{}, err
	}
	return done(h.app.AssignTicket(c.r.Context(), c.meta, c.id, a))
}

// ticketStatusBody is what POST /api/tickets/{id}/status reads.
type ticketStatusBody struct {
	Status *ticket.Status `json:"status"`
}

func (h *Handler) ticketStatus(c *call) (outcome, error) {
	var b ticketStatusBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if b.Status == nil {
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"status": "is required"}}
	}
	return done(h.app.ChangeTicketStatus(c.r.Context(), c.meta, c.id, *b.Status))
}

// commentBody is what POST /api/tickets/{id}/comments reads.
type commentBody struct {
	Body *string `json:"body"`
}

func (h *Handler) commentTicket(c *call) (outcome, error) {
	var b commentBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	res, err := h.app.CommentTicket(c.r.Context(), c.meta, c.id, deref(b.Body))
	if err != nil {
		return outcome{}, err
	}
	// The answer is the new comment, with its id, as GET /api/comments/{id}
	// returns it.
	return outcome{res: res, status: http.StatusCreated, child: resource.Comments.Name}, nil
}

// deleteWith answers a delete with the record as it was just before: a
// deleted record cannot be read back. The snapshot is taken from the read
// model at the aggregate's current position.
func (h *Handler) deleteWith(c *call, kind string, del func(ctx context.Context, m commands.Meta, id string) (commands.Result, error)) (outcome, error) {
	ctx := c.r.Context()
	before, err := h.records.Record(ctx, c.meta.Principal, kind, c.id, eventstore.Start)
	if err != nil {
		return outcome{}, err
	}
	res, err := del(ctx, c.meta, c.id)
	if err != nil {
		return outcome{}, err
	}
	return outcome{res: res, snapshot: before}, nil
}

// optionalID reads a JSON string id or null ("" means none).
func optionalID(raw json.RawMessage, field string) (string, error) {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &requestError{status: http.StatusBadRequest, msg: "field " + field + " must be a string or null", fields: map[string]string{field: "must be a string or null"}}
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
