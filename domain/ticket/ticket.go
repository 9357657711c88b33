// Package ticket is the Ticket aggregate: a request handled by a company's
// staff, with its lifecycle open → in_progress → resolved → closed and
// reopen, assignment, comments and deletion.
package ticket

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// Priority is a ticket's urgency.
type Priority string

// Priorities.
const (
	Low    Priority = "low"
	Normal Priority = "normal"
	High   Priority = "high"
	Urgent Priority = "urgent"
)

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p == Low || p == Normal || p == High || p == Urgent }

// Status is where a ticket is in its lifecycle.
type Status string

// Statuses.
const (
	Open       Status = "open"
	InProgress Status = "in_progress"
	Resolved   Status = "resolved"
	Closed     Status = "closed"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == Open || s == InProgress || s == Resolved || s == Closed }

// transitions lists the statuses reachable from each status; reopening is
// resolved/closed → open.
var transitions = map[Status][]Status{
	Open:       {InProgress, Resolved},
	InProgress: {Open, Resolved},
	Resolved:   {Closed, Open},
	Closed:     {Open},
}

// CanTransition reports whether a ticket may go from one status to another.
func CanTransition(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Limits on field sizes.
const (
	MaxTitle       = 200
	MaxDescription = 20000
	MaxComment     = 20000
	MaxTags        = 20
	MaxTag         = 50
	// MaxAttachments is the most files attached to a ticket at once, and
	// MaxFilename the longest file name, in characters.
	MaxAttachments = 100
	MaxFilename    = 255
)

// Ticket is the state of one ticket, rebuilt from its events.
type Ticket struct {
	ID          string
	CompanyID   string
	Title       string
	Description string
	Priority    Priority
	Status      Status
	RequesterID string
	AssigneeID  string
	Tags        []string
	Comments    int
	// Attachments are the files attached now, by id.
	Attachments map[string]Attachment
	Deleted     bool
	// Version is the number of events applied.
	Version uint64
}

// Exists reports whether the ticket was opened and not deleted.
func (t *Ticket) Exists() bool { return t.Version > 0 && !t.Deleted }

// Ref is what the role policy needs to know about t.
func (t *Ticket) Ref() domain.TicketRef {
	return domain.TicketRef{CompanyID: t.CompanyID, RequesterID: t.RequesterID, AssigneeID: t.AssigneeID}
}

// Apply evolves t by one event.
func (t *Ticket) Apply(e domain.Event) {
	t.Version++
	switch e := e.(type) {
	case *Opened:
		t.ID, t.CompanyID = e.TicketID, e.CompanyID
		t.Title, t.Description, t.Priority = e.Title, e.Description, e.Priority
		t.RequesterID, t.Tags, t.Status = e.RequesterID, e.Tags, Open
	case *Edited:
		if e.Title != nil {
			t.Title = *e.Title
		}
		if e.Description != nil {
			t.Description = *e.Description
		}
		if e.Priority != nil {
			t.Priority = *e.Priority
		}
		if e.Tags != nil {
			t.Tags = *e.Tags
		}
	case *Assigned:
		t.AssigneeID = e.AssigneeID
	case *Unassigned:
		t.AssigneeID = ""
	case *StatusChanged:
		t.Status = e.To
	case *Commented:
		t.Comments++
	case *AttachmentAdded:
		// A new map, never the old one changed: copies of a state (the
		// command cache's) share it.
		next := maps.Clone(t.Attachments)
		if next == nil {
			next = map[string]Attachment{}
		}
		next[e.AttachmentID] = Attachment{UploaderID: e.UploaderID, BlobKey: e.BlobKey}
		t.Attachments = next
	case *AttachmentRemoved:
		next := maps.Clone(t.Attachments)
		delete(next, e.AttachmentID)
		t.Attachments = next
	case *Deleted:
		t.Deleted = true
	}
}

// Attachment is what a ticket keeps of a file attached to it.
type Attachment struct {
	UploaderID string
	BlobKey    string
}

// AttachCmd attaches a file the caller has stored as a blob.
type AttachCmd struct {
	AttachmentID string
	UploaderID   string
	Filename     string
	ContentType  string
	Size         int64
	SHA256       string
	BlobKey      string
}

// Attach decides attaching a file; closed tickets take none, as they take
// no comments.
func (t *Ticket) Attach(c AttachCmd) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	if t.Status == Closed {
		return nil, closedErr("attach a file to")
	}
	p := domain.Problems{}
	if !domain.ValidID(c.AttachmentID) {
		p.Add("attachment_id", "must be a UUID")
	}
	name := strings.TrimSpace(c.Filename)
	switch {
	case name == "":
		p.Add("filename", "must not be empty")
	case utf8.RuneCountInString(name) > MaxFilename:
		p.Add("filename", fmt.Sprintf("must be at most %d characters", MaxFilename))
	}
	if c.Size <= 0 {
		p.Add("file", "must not be empty")
	}
	if c.ContentType == "" || c.BlobKey == "" || len(c.SHA256) != 64 {
		p.Add("file", "must be stored first")
	}
	if _, ok := t.Attachments[c.AttachmentID]; !ok && len(t.Attachments) >= MaxAttachments {
		p.Add("file", fmt.Sprintf("a ticket holds at most %d attachments", MaxAttachments))
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if _, ok := t.Attachments[c.AttachmentID]; ok {
		return nil, nil // a retry
	}
	return []domain.Event{&AttachmentAdded{AttachmentID: c.AttachmentID, UploaderID: c.UploaderID, Filename: name,
		ContentType: c.ContentType, Size: c.Size, SHA256: c.SHA256, BlobKey: c.BlobKey}}, nil
}

// Detach decides removing an attachment.
func (t *Ticket) Detach(attachmentID string) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	if _, ok := t.Attachments[attachmentID]; !ok {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&AttachmentRemoved{AttachmentID: attachmentID}}, nil
}

// OpenCmd opens a new ticket.
type OpenCmd struct {
	TicketID    string
	CompanyID   string
	Title       string
	Description string
	Priority    Priority // empty means normal
	RequesterID string
	Tags        []string
}

// Open decides the opening of a ticket.
func (t *Ticket) Open(c OpenCmd) ([]domain.Event, error) {
	if t.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(c.TicketID) {
		p.Add("id", "must be a UUID")
	}
	if !domain.ValidID(c.CompanyID) {
		p.Add("company_id", "must be a UUID")
	}
	if !domain.ValidID(c.RequesterID) {
		p.Add("requester_id", "must be a UUID")
	}
	title := strings.TrimSpace(c.Title)
	checkTitle(p, title)
	checkDescription(p, c.Description)
	if c.Priority == "" {
		c.Priority = Normal
	}
	if !c.Priority.Valid() {
		p.Add("priority", "must be one of low, normal, high, urgent")
	}
	tags := domain.Tags(p, c.Tags, MaxTags, MaxTag)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Opened{
		TicketID: c.TicketID, CompanyID: c.CompanyID, Title: title, Description: c.Description,
		Priority: c.Priority, RequesterID: c.RequesterID, Tags: tags,
	}}, nil
}

// EditCmd changes the fields that are set; nil fields stay as they are.
type EditCmd struct {
	Title       *string
	Description *string
	Priority    *Priority
	Tags        *[]string
}

// Edit decides an edit; only fields that change are recorded, and an edit
// that changes nothing records nothing.
func (t *Ticket) Edit(c EditCmd) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	var e Edited
	changed := false
	if c.Title != nil {
		title := strings.TrimSpace(*c.Title)
		checkTitle(p, title)
		if title != t.Title {
			e.Title, changed = &title, true
		}
	}
	if c.Description != nil {
		checkDescription(p, *c.Description)
		if *c.Description != t.Description {
			e.Description, changed = c.Description, true
		}
	}
	if c.Priority != nil {
		if !c.Priority.Valid() {
			p.Add("priority", "must be one of low, normal, high, urgent")
		} else if *c.Priority != t.Priority {
			e.Priority, changed = c.Priority, true
		}
	}
	if c.Tags != nil {
		tags := domain.Tags(p, *c.Tags, MaxTags, MaxTag)
		if !slices.Equal(tags, t.Tags) {
			e.Tags, changed = &tags, true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	if t.Status == Closed {
		return nil, closedErr("edit")
	}
	return []domain.Event{&e}, nil
}

// Assign decides assigning the ticket to a user; the caller has checked
// that the user belongs to the ticket's company. An empty assignee unassigns.
func (t *Ticket) Assign(assigneeID string) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	switch {
	case assigneeID == t.AssigneeID:
		return nil, nil
	case t.Status == Closed:
		return nil, closedErr("assign")
	case assigneeID == "":
		return []domain.Event{&Unassigned{PreviousAssigneeID: t.AssigneeID}}, nil
	case !domain.ValidID(assigneeID):
		return nil, &domain.ValidationError{Fields: map[string]string{"assignee_id": "must be a UUID"}}
	}
	return []domain.Event{&Assigned{AssigneeID: assigneeID, PreviousAssigneeID: t.AssigneeID}}, nil
}

// ChangeStatus decides a status change along the allowed transitions.
func (t *Ticket) ChangeStatus(to Status) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	if !to.Valid() {
		return nil, &domain.ValidationError{Fields: map[string]string{"status": "must be one of open, in_progress, resolved, closed"}}
	}
	if to == t.Status {
		return nil, nil
	}
	if !CanTransition(t.Status, to) {
		return nil, &TransitionError{From: t.Status, To: to}
	}
	return []domain.Event{&StatusChanged{From: t.Status, To: to}}, nil
}

// CommentCmd adds a comment.
type CommentCmd struct {
	CommentID string
	AuthorID  string
	Body      string
}

// Comment decides adding a comment; closed tickets take no comments.
func (t *Ticket) Comment(c CommentCmd) ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	if t.Status == Closed {
		return nil, closedErr("comment on")
	}
	p := domain.Problems{}
	body := strings.TrimSpace(c.Body)
	switch {
	case body == "":
		p.Add("body", "must not be empty")
	case utf8.RuneCountInString(body) > MaxComment:
		p.Add("body", "must be at most 20000 characters")
	}
	if !domain.ValidID(c.CommentID) {
		p.Add("comment_id", "must be a UUID")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Commented{CommentID: c.CommentID, AuthorID: c.AuthorID, Body: body}}, nil
}

// Delete decides deleting the ticket; its history stays in the log.
func (t *Ticket) Delete() ([]domain.Event, error) {
	if !t.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

// TransitionError is an invalid status change.
type TransitionError struct {
	From, To Status
}

// Error names both statuses.
func (e *TransitionError) Error() string {
	return "cannot change status from " + string(e.From) + " to " + string(e.To)
}

// Unwrap makes errors.Is(err, domain.ErrInvalidTransition) hold.
func (e *TransitionError) Unwrap() error { return domain.ErrInvalidTransition }

type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }
func (e *stateError) Unwrap() error { return domain.ErrInvalidTransition }

func closedErr(verb string) error {
	return &stateError{msg: "cannot " + verb + " a closed ticket; reopen it first"}
}

func checkTitle(p domain.Problems, title string) {
	switch {
	case title == "":
		p.Add("title", "must not be empty")
	case utf8.RuneCountInString(title) > MaxTitle:
		p.Add("title", "must be at most 200 characters")
	}
}

func checkDescription(p domain.Problems, d string) {
	if utf8.RuneCountInString(d) > MaxDescription {
		p.Add("description", "must be at most 20000 characters")
	}
}
