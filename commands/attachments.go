package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
)

// AttachToTicket is the input of AttachToTicket.
type AttachToTicket struct {
	Filename    string
	ContentType string
	Data        []byte
}

// AttachToTicket stores a file as a blob and attaches it to ticket id,
// as whoever may comment on the ticket. The blob is stored first: a
// crash before the event leaves a file no ticket names, never an
// attachment without its file. Result.ChildID is the attachment's id.
func (a *App) AttachToTicket(ctx context.Context, m Meta, id string, in AttachToTicket) (Result, error) {
	if a.blobs == nil {
		return Result{}, ErrNoBlobs
	}
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	l, err := load[ticket.Ticket](ctx, a, ticket.Events, ticket.Stream(id))
	if err != nil {
		return Result{}, err
	}
	t := l.state
	if !t.Exists() || !domain.CanTicket(m.Principal, domain.Read, t.Ref()) {
		return Result{}, domain.ErrNotFound
	}
	if !domain.CanTicket(m.Principal, domain.Comment, t.Ref()) {
		return Result{}, domain.ErrForbidden
	}
	attachmentID := newID(m, "attachment")
	sum := sha256.Sum256(in.Data)
	cmd := ticket.AttachCmd{AttachmentID: attachmentID, UploaderID: m.Principal.UserID, Filename: in.Filename,
		ContentType: in.ContentType, Size: int64(len(in.Data)), SHA256: hex.EncodeToString(sum[:]),
		BlobKey: t.CompanyID + "/tickets/" + id + "/" + attachmentID}
	probe := t
	if _, err := probe.Attach(cmd); err != nil {
		return Result{}, err
	}
	if err := a.blobs.Put(ctx, cmd.BlobKey, bytes.NewReader(in.Data), cmd.Size, cmd.ContentType); err != nil {
		return Result{}, fmt.Errorf("store attachment: %w", err)
	}
	res, err := a.onTicket(ctx, m, id, domain.Comment, func(t *ticket.Ticket) ([]domain.Event, error) { return t.Attach(cmd) })
	res.ChildID = attachmentID
	return res, err
}

// DetachFromTicket removes attachment attachmentID from ticket id, then
// deletes its file: by whoever may edit the ticket, or by its uploader
// while they may comment. A file left by a removal cut short is named by
// no ticket and is never served.
func (a *App) DetachFromTicket(ctx context.Context, m Meta, id, attachmentID string) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	var key string
	res, err := execute(ctx, a, m, ticket.Events, ticket.Stream(id), id, func(t *ticket.Ticket) (string, []domain.Event, error) {
		if !t.Exists() || !domain.CanTicket(m.Principal, domain.Read, t.Ref()) {
			return "", nil, domain.ErrNotFound
		}
		att, ok := t.Attachments[attachmentID]
		if !ok {
			return "", nil, domain.ErrNotFound
		}
		own := att.UploaderID == m.Principal.UserID && domain.CanTicket(m.Principal, domain.Comment, t.Ref())
		if !own && !domain.CanTicket(m.Principal, domain.Update, t.Ref()) {
			return "", nil, domain.ErrForbidden
		}
		key = att.BlobKey
		evs, err := t.Detach(attachmentID)
		return t.CompanyID, evs, err
	})
	if err != nil {
		return Result{}, err
	}
	if a.blobs != nil && key != "" {
		if err := a.blobs.Delete(ctx, key); err != nil {
			return Result{}, fmt.Errorf("delete attachment file: %w", err)
		}
	}
	res.ChildID = attachmentID
	return res, nil
}

// TicketAttachmentKey returns the blob key of attachment attachmentID of
// ticket id, which p may read; domain.ErrNotFound otherwise. It reads the
// ticket's stream, so a download never serves a removed attachment.
func (a *App) TicketAttachmentKey(ctx context.Context, p domain.Principal, id, attachmentID string) (string, error) {
	if !domain.ValidID(id) {
		return "", domain.ErrNotFound
	}
	l, err := load[ticket.Ticket](ctx, a, ticket.Events, ticket.Stream(id))
	if err != nil {
		return "", err
	}
	t := l.state
	att, ok := t.Attachments[attachmentID]
	if !t.Exists() || !ok || !domain.CanTicket(p, domain.Read, t.Ref()) {
		return "", domain.ErrNotFound
	}
	return att.BlobKey, nil
}
