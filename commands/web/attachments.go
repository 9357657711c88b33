package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"agentdesk/commands"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/blob"
)

// Ticket attachments
//
//	POST   /api/tickets/{id}/attachments                   multipart: file
//	DELETE /api/tickets/{ticket_id}/attachments/{id}
//	GET    /api/tickets/{ticket_id}/attachments/{id}/file  the file (a redirect to a presigned URL on S3)
//
// Any kind of file up to MaxDocument bytes; its content type is sniffed
// from its content, and it is always served as a download (never shown
// inline by a browser), so an attached page cannot run in the API's
// origin.

// attach serves POST /api/tickets/{id}/attachments.
func (h *Handler) attach(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r.Context())
	if !ok {
		h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
		return
	}
	c := &call{r: r, id: chi.URLParam(r, "id"), meta: commands.Meta{
		Principal:     p,
		CorrelationID: headerID(r, "X-Correlation-ID"),
		CausationID:   headerID(r, "X-Causation-ID"),
		RequestID:     middleware.GetReqID(r.Context()),
	}}
	// The ticket first: another company's is a 404 before any upload is
	// read.
	if _, err := h.records.Record(r.Context(), p, resource.Tickets.Name, c.id, eventstore.Start); err != nil {
		h.writeErr(w, r, err)
		return
	}
	up, err := readUpload(w, r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	in := commands.AttachToTicket{Filename: up.filename, ContentType: http.DetectContentType(up.data), Data: up.data}
	status, out, err := h.execute(c, resource.Tickets.Name, func(c *call) (outcome, error) {
		res, err := h.app.AttachToTicket(c.r.Context(), c.meta, c.id, in)
		if err != nil {
			return outcome{}, err
		}
		return outcome{res: res, status: http.StatusCreated, child: resource.TicketAttachments.Name}, nil
	})
	h.answer(w, r, status, out, err)
}

// detach serves DELETE /api/tickets/{ticket_id}/attachments/{id}: the
// attachment as it was.
func (h *Handler) detach(c *call) (outcome, error) {
	ctx := c.r.Context()
	before, err := h.records.Record(ctx, c.meta.Principal, resource.TicketAttachments.Name, c.id, eventstore.Start)
	if err != nil {
		return outcome{}, err
	}
	res, err := h.app.DetachFromTicket(ctx, c.meta, chi.URLParam(c.r, "ticket_id"), c.id)
	if err != nil {
		return outcome{}, err
	}
	res.ChildID = c.id // the record answered, should it be accepted before its view shows the removal
	return outcome{res: res, snapshot: before, child: resource.TicketAttachments.Name}, nil
}

// downloadAttachment serves an attachment's file.
func (h *Handler) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r.Context())
	if !ok {
		h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
		return
	}
	ticketID, id := chi.URLParam(r, "ticket_id"), chi.URLParam(r, "id")
	key, err := h.app.TicketAttachmentKey(r.Context(), p, ticketID, id)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	filename := "attachment"
	if rec, err := h.records.Record(r.Context(), p, resource.TicketAttachments.Name, id, eventstore.Start); err == nil {
		var att struct {
			Filename string `json:"filename"`
		}
		if json.Unmarshal(rec, &att) == nil && att.Filename != "" {
			filename = att.Filename
		}
	}
	h.serveBlob(w, r, key, filename)
}

// serveBlob answers the blob under key as a download named filename: a
// redirect to a presigned URL when the store hands them out (S3), the
// bytes themselves otherwise.
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, key, filename string) {
	if ps, ok := h.blobs.(blob.Presigner); ok {
		u, err := ps.PresignGet(r.Context(), key, filename, presignTTL)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	body, info, err := h.blobs.Get(r.Context(), key)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", info.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set("Content-Disposition", blob.ContentDisposition(filename))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, body)
}
