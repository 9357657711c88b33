package projections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/resource"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// TestTicketAttachmentsReadModel: each attachment is its own record,
// gone when removed, and all of a ticket's go with its deletion, those
// added in the same batch included.
func TestTicketAttachmentsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.TicketAttachmentsProjector())
	defer stop()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	id := uuid.NewString()
	stream := ticket.Stream(id)
	a1, a2, a3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	added := func(attID string) *ticket.AttachmentAdded {
		return &ticket.AttachmentAdded{AttachmentID: attID, UploaderID: "u1", Filename: "f.png", ContentType: "image/png", Size: 3,
			SHA256: strings.Repeat("a", 64), BlobKey: "k"}
	}
	appendAt(t, s.es, stream, eventstore.NoStream, "c1", at, &ticket.Opened{TicketID: id, CompanyID: "c1", Title: "t", Priority: ticket.Normal, RequesterID: "u1"})
	res := appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at, added(a1), added(a2))
	waitForProjection(t, r, projections.TicketAttachments, res.Position)
	got := mustDoc[projections.TicketAttachment](t, s.rs, resource.TicketAttachments, a1)
	if got.TicketID != id || got.CompanyID != "c1" || got.UploaderID != "u1" || got.Filename != "f.png" || got.Size != 3 || !got.CreatedAt.Equal(at) {
		t.Fatalf("added: got %+v", got)
	}
	res = appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at, &ticket.AttachmentRemoved{AttachmentID: a1}, added(a3), &ticket.Deleted{})
	waitForProjection(t, r, projections.TicketAttachments, res.Position)
	for _, attID := range []string{a1, a2, a3} {
		if _, err := s.rs.Get(ctx, projections.TicketAttachments, attID); !errors.Is(err, readstore.ErrNotFound) {
			t.Errorf("attachment %s: got %v, want ErrNotFound", attID, err)
		}
	}
}
