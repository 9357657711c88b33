// Package notification is the Notification aggregate: a short message to
// one user about something that happened to a record they have to do
// with (a ticket assigned to them, resolved, commented on), which only
// that user reads and marks read. Notifications are created by the
// platform's own processes, never by users.
package notification

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"agentdesk/domain"
)

// Kind says what happened, as a lower-case snake_case word such as
// "ticket_assigned". Kinds are open-ended: a new process may add its own.
type Kind string

// Kinds of notifications about tickets.
const (
	TicketAssigned  Kind = "ticket_assigned"
	TicketResolved  Kind = "ticket_resolved"
	TicketCommented Kind = "ticket_commented"
)

// Limits on field sizes, in characters.
const (
	MaxTitle = 200
	MaxBody  = 2000
	// MaxName bounds a kind, a subject and an actor id.
	MaxName = 100
)

// namePattern is the form of a kind and of a subject (a resource name).
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Notification is the state of one notification, rebuilt from its events.
type Notification struct {
	ID        string
	CompanyID string
	UserID    string
	Kind      Kind
	Subject   string
	SubjectID string
	Title     string
	Body      string
	ActorID   string
	CreatedAt time.Time
	// ReadAt is when the recipient read it; zero while unread.
	ReadAt time.Time
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64
}

// Exists reports whether the notification was created.
func (n *Notification) Exists() bool { return n.Version > 0 }

// IsRead reports whether the recipient has read n.
func (n *Notification) IsRead() bool { return !n.ReadAt.IsZero() }

// Ref is what the role policy needs to know about n.
func (n *Notification) Ref() domain.NotificationRef {
	return domain.NotificationRef{CompanyID: n.CompanyID, UserID: n.UserID}
}

// Apply evolves n by one event.
func (n *Notification) Apply(e domain.Event) {
	n.Version++
	switch e := e.(type) {
	case *Created:
		n.ID, n.CompanyID, n.UserID, n.Kind = e.NotificationID, e.CompanyID, e.UserID, e.Kind
		n.Subject, n.SubjectID, n.Title, n.Body = e.Subject, e.SubjectID, e.Title, e.Body
		n.ActorID, n.CreatedAt = e.ActorID, e.CreatedAt
	case *Read:
		n.ReadAt = e.ReadAt
	}
}

// CreateCmd creates a notification.
type CreateCmd struct {
	NotificationID string
	CompanyID      string
	// UserID is the recipient; the caller has checked that it is a user
	// of the company.
	UserID    string
	Kind      Kind
	Subject   string // optional
	SubjectID string // optional; a UUID, and then Subject is required
	Title     string
	Body      string // optional
	ActorID   string // optional
	// At is when the notification is created.
	At time.Time
}

// Create decides the creation of a notification.
func (n *Notification) Create(cmd CreateCmd) ([]domain.Event, error) {
	if n.Exists() {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.NotificationID) {
		p.Add("id", "must be a UUID")
	}
	checkID(p, "company_id", cmd.CompanyID)
	checkID(p, "user_id", cmd.UserID)
	checkName(p, "kind", string(cmd.Kind), true)
	checkName(p, "subject", cmd.Subject, cmd.SubjectID != "")
	if cmd.SubjectID != "" && !domain.ValidID(cmd.SubjectID) {
		p.Add("subject_id", "must be a UUID")
	}
	title := strings.TrimSpace(cmd.Title)
	switch {
	case title == "":
		p.Add("title", "must not be empty")
	case utf8.RuneCountInString(title) > MaxTitle:
		p.Add("title", fmt.Sprintf("must be at most %d characters", MaxTitle))
	}
	body := strings.TrimSpace(cmd.Body)
	if utf8.RuneCountInString(body) > MaxBody {
		p.Add("body", fmt.Sprintf("must be at most %d characters", MaxBody))
	}
	if utf8.RuneCountInString(cmd.ActorID) > MaxName {
		p.Add("actor_id", fmt.Sprintf("must be at most %d characters", MaxName))
	}
	if cmd.At.IsZero() {
		p.Add("created_at", "is required")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{
		NotificationID: cmd.NotificationID, CompanyID: cmd.CompanyID, UserID: cmd.UserID, Kind: cmd.Kind,
		Subject: cmd.Subject, SubjectID: cmd.SubjectID, Title: title, Body: body, ActorID: cmd.ActorID,
		CreatedAt: cmd.At.UTC(),
	}}, nil
}

// MarkRead decides marking the notification read at now; one already
// read stays as it was and records nothing.
func (n *Notification) MarkRead(now time.Time) ([]domain.Event, error) {
	if !n.Exists() {
		return nil, domain.ErrNotFound
	}
	if n.IsRead() {
		return nil, nil
	}
	if now.IsZero() {
		return nil, &domain.ValidationError{Fields: map[string]string{"read_at": "is required"}}
	}
	return []domain.Event{&Read{NotificationID: n.ID, ReadAt: now.UTC()}}, nil
}

func checkID(p domain.Problems, field, id string) {
	switch {
	case id == "":
		p.Add(field, "is required")
	case !domain.ValidID(id):
		p.Add(field, "must be a UUID")
	}
}

// checkName checks a kind or a subject: required or not, and when given
// a lower-case snake_case word.
func checkName(p domain.Problems, field, s string, required bool) {
	switch {
	case s == "" && required:
		p.Add(field, "is required")
	case s == "":
	case len(s) > MaxName:
		p.Add(field, fmt.Sprintf("must be at most %d characters", MaxName))
	case !namePattern.MatchString(s):
		p.Add(field, "must be a lower-case snake_case word")
	}
}
