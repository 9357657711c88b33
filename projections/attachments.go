package projections

import (
	"context"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/resource"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// TicketAttachments is the name of the ticket_attachments read model and
// of its projection.
var TicketAttachments = resource.TicketAttachments.CollectionName()

// TicketAttachment is a document of the ticket_attachments read model:
// one file attached to a ticket.
type TicketAttachment struct {
	ID          string    `json:"id"`
	TicketID    string    `json:"ticket_id"`
	CompanyID   string    `json:"company_id"`
	UploaderID  string    `json:"uploader_id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
	// Revision is the ticket's stream revision that attached the file.
	Revision uint64 `json:"revision"`
}

// attachmentsProjector keeps one document per attached file, as
// commentsProjector does per comment: an attachment event writes or
// deletes its own document, and a ticket's deletion deletes them all.
type attachmentsProjector struct{}

// TicketAttachmentsProjector builds the ticket_attachments read model.
func TicketAttachmentsProjector() Projector { return attachmentsProjector{} }

// Name implements Projector.
func (attachmentsProjector) Name() string { return TicketAttachments }

// Version implements Projector.
func (attachmentsProjector) Version() int { return 1 }

// Collection implements Projector.
func (attachmentsProjector) Collection() readstore.Collection {
	return collectionOf(resource.TicketAttachments)
}

// Document returns an empty attachment.
func (attachmentsProjector) Document() any { return new(TicketAttachment) }

// Filter implements Projector.
func (attachmentsProjector) Filter() eventstore.Filter {
	return eventstore.Filter{Categories: []string{ticket.Category},
		Types: []string{ticket.TypeAttachmentAdded, ticket.TypeAttachmentRemoved, ticket.TypeDeleted}}
}

// Fold implements Projector: an attachment is written once when added,
// tombstoned when removed, and with every other one when its ticket is
// deleted.
func (p attachmentsProjector) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	return foldTicketChildren(ctx, rs, events, TicketAttachments, "created_at", func(ev eventstore.RecordedEvent, ticketID string, e domain.Event) (string, any, bool) {
		switch e := e.(type) {
		case *ticket.AttachmentAdded:
			return e.AttachmentID, TicketAttachment{ID: e.AttachmentID, TicketID: ticketID, CompanyID: ev.Metadata.CompanyID,
				UploaderID: e.UploaderID, Filename: e.Filename, ContentType: e.ContentType, Size: e.Size, SHA256: e.SHA256,
				CreatedAt: ev.Metadata.RecordedAt, Revision: ev.Revision}, false
		case *ticket.AttachmentRemoved:
			return e.AttachmentID, nil, true
		}
		return "", nil, false
	})
}
