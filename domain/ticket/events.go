package ticket

import "agentdesk/domain"

// Opened records a new ticket.
type Opened struct {
	TicketID    string   `json:"ticket_id"`
	CompanyID   string   `json:"company_id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Priority    Priority `json:"priority"`
	RequesterID string   `json:"requester_id"`
	Tags        []string `json:"tags"`
}

// SchemaVersion implements domain.Versioned. Version 2 names the
// priority (Priority); version 1 data may hold it as a number, 0 (low) to
// 3 (urgent), which the upcaster in package migrations turns into the
// name.
func (*Opened) SchemaVersion() int { return 2 }

// Edited records changed fields; absent fields did not change.
type Edited struct {
	Title       *string   `json:"title,omitempty"`
	Description *string   `json:"description,omitempty"`
	Priority    *Priority `json:"priority,omitempty"`
	Tags        *[]string `json:"tags,omitempty"`
}

// SchemaVersion implements domain.Versioned: version 2 as for Opened.
func (*Edited) SchemaVersion() int { return 2 }

// Assigned records a new assignee.
type Assigned struct {
	AssigneeID         string `json:"assignee_id"`
	PreviousAssigneeID string `json:"previous_assignee_id,omitempty"`
}

// Unassigned records that the ticket has no assignee any more.
type Unassigned struct {
	PreviousAssigneeID string `json:"previous_assignee_id"`
}

// StatusChanged records a status transition.
type StatusChanged struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// Commented records a comment.
type Commented struct {
	CommentID string `json:"comment_id"`
	AuthorID  string `json:"author_id"`
	Body      string `json:"body"`
}

// AttachmentAdded records a file attached to the ticket, stored as a
// blob under BlobKey.
type AttachmentAdded struct {
	AttachmentID string `json:"attachment_id"`
	UploaderID   string `json:"uploader_id"`
	Filename     string `json:"filename"`
	ContentType  string `json:"content_type"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	BlobKey      string `json:"blob_key"`
}

// AttachmentRemoved records an attachment's removal; its blob is
// deleted after.
type AttachmentRemoved struct {
	AttachmentID string `json:"attachment_id"`
}

// Deleted records the ticket's deletion; its history stays.
type Deleted struct{}

// Event type names, stable forever.
const (
	TypeOpened        = "ticket.opened"
	TypeEdited        = "ticket.edited"
	TypeAssigned      = "ticket.assigned"
	TypeUnassigned    = "ticket.unassigned"
	TypeStatusChanged = "ticket.status_changed"
	TypeCommented     = "ticket.commented"
	TypeDeleted       = "ticket.deleted"

	TypeAttachmentAdded   = "ticket.attachment_added"
	TypeAttachmentRemoved = "ticket.attachment_removed"
)

// EventType implements domain.Event.
func (*Opened) EventType() string { return TypeOpened }

// EventType implements domain.Event.
func (*Edited) EventType() string { return TypeEdited }

// EventType implements domain.Event.
func (*Assigned) EventType() string { return TypeAssigned }

// EventType implements domain.Event.
func (*Unassigned) EventType() string { return TypeUnassigned }

// EventType implements domain.Event.
func (*StatusChanged) EventType() string { return TypeStatusChanged }

// EventType implements domain.Event.
func (*Commented) EventType() string { return TypeCommented }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// EventType implements domain.Event.
func (*AttachmentAdded) EventType() string { return TypeAttachmentAdded }

// EventType implements domain.Event.
func (*AttachmentRemoved) EventType() string { return TypeAttachmentRemoved }

// Events decodes stored ticket events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Opened{} },
	func() domain.Event { return &Edited{} },
	func() domain.Event { return &Assigned{} },
	func() domain.Event { return &Unassigned{} },
	func() domain.Event { return &StatusChanged{} },
	func() domain.Event { return &Commented{} },
	func() domain.Event { return &Deleted{} },
	func() domain.Event { return &AttachmentAdded{} },
	func() domain.Event { return &AttachmentRemoved{} },
)

// Stream returns the event stream id of a ticket.
func Stream(id string) string { return "ticket-" + id }

// Category is the stream category of tickets.
const Category = "ticket"
