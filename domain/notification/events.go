package notification

import (
	"time"

	"agentdesk/domain"
)

// Created records a new notification for one user.
type Created struct {
	NotificationID string `json:"notification_id"`
	CompanyID      string `json:"company_id"`
	// UserID is the recipient.
	UserID string `json:"user_id"`
	Kind   Kind   `json:"kind"`
	// Subject names the resource the notification is about ("tickets"),
	// SubjectID the record; both may be empty.
	Subject   string `json:"subject"`
	SubjectID string `json:"subject_id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	// ActorID is who caused it (a user id, or "system:<process>"); empty
	// when nobody did.
	ActorID   string    `json:"actor_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Read records that the recipient read the notification.
type Read struct {
	NotificationID string    `json:"notification_id"`
	ReadAt         time.Time `json:"read_at"`
}

// Event type names, stable forever.
const (
	TypeCreated = "notification.created"
	TypeRead    = "notification.read"
)

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Read) EventType() string { return TypeRead }

// Events decodes stored notification events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Read{} },
)

// Stream returns the event stream id of a notification.
func Stream(id string) string { return "notification-" + id }

// Category is the stream category of notifications.
const Category = "notification"
