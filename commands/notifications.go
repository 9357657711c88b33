package commands

import (
	"context"
	"errors"

	"agentdesk/domain"
	"agentdesk/domain/notification"
)

// CreateNotification is the input of the CreateNotification command.
type CreateNotification struct {
	// CompanyID defaults to the principal's company.
	CompanyID string
	// UserID is the recipient: a live user of the company.
	UserID    string
	Kind      notification.Kind
	Subject   string
	SubjectID string
	Title     string
	Body      string
	// ActorID is who caused the notification, if anybody.
	ActorID string
}

// CreateNotification creates a notification for one user. Only the
// platform does (a superadmin, or a process acting as System). Its id is
// derived from m.CommandID when there is one, so a process that derives
// the command id from the event it reacts to creates the notification
// once however often it handles that event.
func (a *App) CreateNotification(ctx context.Context, m Meta, in CreateNotification) (Result, error) {
	companyID := in.CompanyID
	if companyID == "" {
		companyID = m.Principal.CompanyID
	}
	if !domain.CanNotification(m.Principal, domain.Create, domain.NotificationRef{CompanyID: companyID, UserID: in.UserID}) {
		return Result{}, domain.ErrForbidden
	}
	id := newID(m, "notification")
	cmd := notification.CreateCmd{NotificationID: id, CompanyID: companyID, UserID: in.UserID, Kind: in.Kind,
		Subject: in.Subject, SubjectID: in.SubjectID, Title: in.Title, Body: in.Body, ActorID: in.ActorID, At: a.now()}
	// Validate before looking the recipient up, so that every problem of
	// the input is reported at once.
	var probe notification.Notification
	if _, err := probe.Create(cmd); err != nil {
		return Result{}, err
	}
	if err := a.checkMember(ctx, companyID, in.UserID, "user_id"); err != nil {
		return Result{}, err
	}
	return create(ctx, a, m, notification.Events, notification.Stream(id), id,
		func(n *notification.Notification) (string, []domain.Event, error) {
			evs, err := n.Create(cmd)
			return companyID, evs, err
		})
}

// MarkNotificationRead marks one of the actor's notifications read; one
// already read stays as it was. Anyone else's notification is not found.
func (a *App) MarkNotificationRead(ctx context.Context, m Meta, id string) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, notification.Events, notification.Stream(id), id,
		func(n *notification.Notification) (string, []domain.Event, error) {
			if !n.Exists() || !domain.CanNotification(m.Principal, domain.Read, n.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanNotification(m.Principal, domain.Update, n.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			evs, err := n.MarkRead(a.now())
			return n.CompanyID, evs, err
		})
}

// MarkNotificationsRead marks each of ids read that is the actor's and
// unread, one command each; ids that are not the actor's, or are gone,
// are skipped. It returns how many it marked and the result of the last
// one that recorded something (whose position covers all of them for a
// read-your-writes wait), and stops at the first other error.
func (a *App) MarkNotificationsRead(ctx context.Context, m Meta, ids []string) (marked int, last Result, err error) {
	m.IfRevision = nil // concerns one aggregate, not many
	for _, id := range ids {
		res, err := a.MarkNotificationRead(ctx, m, id)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			continue
		case err != nil:
			return marked, last, err
		case res.Changed:
			marked, last = marked+1, res
		}
	}
	return marked, last, nil
}
