package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/notification"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
)

// Notifications is the name of the notifications read model and of its
// projection.
var Notifications = resource.Notifications.CollectionName()

// Notification is a document of the notifications read model: one per
// notification, so a user's inbox grows by documents, never inside one.
type Notification struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	// UserID is the recipient.
	UserID    string `json:"user_id"`
	Kind      string `json:"kind"`
	Subject   string `json:"subject"`
	SubjectID string `json:"subject_id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	ActorID   string `json:"actor_id"`
	Read      bool   `json:"read"`
	// ReadAt is null until the recipient reads it.
	ReadAt    *time.Time `json:"read_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Revision  uint64     `json:"revision"`
}

// NotificationsProjector builds the notifications read model.
func NotificationsProjector() Projector {
	return &Def[Notification]{
		ProjectionName: Notifications,
		Spec:           collectionOf(resource.Notifications),
		Categories:     []string{notification.Category},
		DocID:          streamID(notification.Category),
		Creates:        []string{notification.TypeCreated},
		Project:        projectNotification,
	}
}

func projectNotification(ev eventstore.RecordedEvent, cur *Notification) (*Notification, error) {
	e, err := decode(notification.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	if c, ok := e.(*notification.Created); ok {
		return &Notification{
			ID: c.NotificationID, CompanyID: c.CompanyID, UserID: c.UserID, Kind: string(c.Kind),
			Subject: c.Subject, SubjectID: c.SubjectID, Title: c.Title, Body: c.Body, ActorID: c.ActorID,
			CreatedAt: at, UpdatedAt: at, Revision: ev.Revision,
		}, nil
	}
	if cur == nil {
		return nil, fmt.Errorf("%s before notification.created", ev.Type)
	}
	next := *cur
	switch e := e.(type) {
	case *notification.Read:
		readAt := e.ReadAt
		next.Read, next.ReadAt = true, &readAt
	default:
		return nil, fmt.Errorf("unexpected notification event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}
