package commands

import (
	"context"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
)

// OpenTicket is the input of the OpenTicket command.
type OpenTicket struct {
	// CompanyID is only read for a superadmin; everyone else opens tickets
	// in their own company.
	CompanyID   string
	Title       string
	Description string
	Priority    ticket.Priority
	// RequesterID defaults to the actor; clients always request for themselves.
	RequesterID string
	Tags        []string
}

// OpenTicket opens a ticket.
func (a *App) OpenTicket(ctx context.Context, m Meta, in OpenTicket) (Result, error) {
	p := m.Principal
	companyID, err := scopedCompany(p, in.CompanyID)
	if err != nil {
		return Result{}, err
	}
	requester := in.RequesterID
	if requester == "" {
		requester = p.UserID
	}
	if !domain.CanTicket(p, domain.Create, domain.TicketRef{CompanyID: companyID, RequesterID: requester}) {
		return Result{}, domain.ErrForbidden
	}
	if p.IsSuperadmin() {
		ok, err := a.companyExists(ctx, companyID)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			return Result{}, &domain.ValidationError{Fields: map[string]string{"company_id": "no such company"}}
		}
	}
	if requester != p.UserID {
		if err := a.checkMember(ctx, companyID, requester, "requester_id"); err != nil {
			return Result{}, err
		}
	}
	id := newID(m, "ticket")
	return create(ctx, a, m, ticket.Events, ticket.Stream(id), id,
		func(t *ticket.Ticket) (string, []domain.Event, error) {
			evs, err := t.Open(ticket.OpenCmd{
				TicketID: id, CompanyID: companyID, Title: in.Title, Description: in.Description,
				Priority: in.Priority, RequesterID: requester, Tags: in.Tags,
			})
			return companyID, evs, err
		})
}

// UpdateTicket is the input of UpdateTicket; nil fields stay as they are.
type UpdateTicket struct {
	ticket.EditCmd
	// Status, when set, moves the ticket along its lifecycle.
	Status *ticket.Status
	// AssigneeID, when set, assigns the ticket ("" unassigns it).
	AssigneeID *string
	// Fixed holds company_id and requester_id as sent back; changing them
	// is a validation error.
	Fixed Fixed
}

// UpdateTicket edits a ticket and, in the same append, changes its
// assignee and status: one request, one atomic change.
func (a *App) UpdateTicket(ctx context.Context, m Meta, id string, in UpdateTicket) (Result, error) {
	return a.onTicket(ctx, m, id, domain.Update, func(t *ticket.Ticket) ([]domain.Event, error) {
		if err := in.Fixed.check(func(field string) string {
			if field == "requester_id" {
				return t.RequesterID
			}
			return t.CompanyID
		}); err != nil {
			return nil, err
		}
		// Each step decides on the state the earlier steps left, on a copy.
		next := *t
		var events []domain.Event
		step := func(evs []domain.Event, err error) error {
			if err != nil {
				return err
			}
			for _, e := range evs {
				next.Apply(e)
			}
			events = append(events, evs...)
			return nil
		}
		status := func() error {
			if in.Status == nil || *in.Status == next.Status {
				return nil
			}
			if !domain.CanTicket(m.Principal, domain.Status, next.Ref()) {
				return domain.ErrForbidden
			}
			return step(next.ChangeStatus(*in.Status))
		}
		// A closed ticket is reopened before it is edited.
		reopenFirst := t.Status == ticket.Closed
		if reopenFirst {
			if err := status(); err != nil {
				return nil, err
			}
		}
		if err := step(next.Edit(in.EditCmd)); err != nil {
			return nil, err
		}
		if in.AssigneeID != nil && *in.AssigneeID != next.AssigneeID {
			if !domain.CanTicket(m.Principal, domain.Assign, next.Ref()) {
				return nil, domain.ErrForbidden
			}
			if *in.AssigneeID != "" {
				if err := a.checkMember(ctx, next.CompanyID, *in.AssigneeID, "assignee_id"); err != nil {
					return nil, err
				}
			}
			if err := step(next.Assign(*in.AssigneeID)); err != nil {
				return nil, err
			}
		}
		if !reopenFirst {
			if err := status(); err != nil {
				return nil, err
			}
		}
		return events, nil
	})
}

// AssignTicket assigns a ticket to a user of its company; an empty
// assignee unassigns it.
func (a *App) AssignTicket(ctx context.Context, m Meta, id, assigneeID string) (Result, error) {
	return a.onTicket(ctx, m, id, domain.Assign, func(t *ticket.Ticket) ([]domain.Event, error) {
		if assigneeID != "" && assigneeID != t.AssigneeID {
			if err := a.checkMember(ctx, t.CompanyID, assigneeID, "assignee_id"); err != nil {
				return nil, err
			}
		}
		return t.Assign(assigneeID)
	})
}

// ChangeTicketStatus moves a ticket along its lifecycle.
func (a *App) ChangeTicketStatus(ctx context.Context, m Meta, id string, to ticket.Status) (Result, error) {
	return a.onTicket(ctx, m, id, domain.Status, func(t *ticket.Ticket) ([]domain.Event, error) {
		return t.ChangeStatus(to)
	})
}

// CommentTicket adds a comment by the actor.
func (a *App) CommentTicket(ctx context.Context, m Meta, id, body string) (Result, error) {
	commentID := newID(m, "comment")
	res, err := a.onTicket(ctx, m, id, domain.Comment, func(t *ticket.Ticket) ([]domain.Event, error) {
		return t.Comment(ticket.CommentCmd{CommentID: commentID, AuthorID: m.Principal.UserID, Body: body})
	})
	res.ChildID = commentID
	return res, err
}

// DeleteTicket deletes a ticket; its history stays. The files of its
// attachments are deleted after it, as well as can be: the ticket is
// deleted whatever happens to them, and a file left (a crash, a failing
// store) is named by no ticket that exists, and never served.
func (a *App) DeleteTicket(ctx context.Context, m Meta, id string) (Result, error) {
	var keys []string
	res, err := a.onTicket(ctx, m, id, domain.Delete, func(t *ticket.Ticket) ([]domain.Event, error) {
		keys = keys[:0]
		for _, att := range t.Attachments {
			keys = append(keys, att.BlobKey)
		}
		return t.Delete()
	})
	if err != nil || a.blobs == nil {
		return res, err
	}
	for _, k := range keys {
		_ = a.blobs.Delete(context.WithoutCancel(ctx), k)
	}
	return res, nil
}

// onTicket runs a command on an existing ticket the actor can see; a
// ticket of another company, or one a client did not request, is not found.
func (a *App) onTicket(ctx context.Context, m Meta, id string, act domain.Action, decide func(*ticket.Ticket) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, ticket.Events, ticket.Stream(id), id,
		func(t *ticket.Ticket) (string, []domain.Event, error) {
			if !t.Exists() || !domain.CanTicket(m.Principal, domain.Read, t.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanTicket(m.Principal, act, t.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			evs, err := decide(t)
			return t.CompanyID, evs, err
		})
}

// Ticket returns the ticket id as its events make it now, for a process
// that decides what follows from a ticket's events (its requester, its
// title); ErrNotFound if it was never opened or is deleted.
func (a *App) Ticket(ctx context.Context, id string) (ticket.Ticket, error) {
	if !domain.ValidID(id) {
		return ticket.Ticket{}, domain.ErrNotFound
	}
	l, err := load[ticket.Ticket](ctx, a, ticket.Events, ticket.Stream(id))
	if err != nil {
		return ticket.Ticket{}, err
	}
	if !l.state.Exists() {
		return ticket.Ticket{}, domain.ErrNotFound
	}
	return l.state, nil
}
