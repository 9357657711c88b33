package ticket

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestAttachments(t *testing.T) {
	const attID = "77777777-7777-4777-8777-777777777777"
	sha := strings.Repeat("a", 64)
	attach := func(change func(*AttachCmd)) func(*Ticket) ([]domain.Event, error) {
		return func(tk *Ticket) ([]domain.Event, error) {
			c := AttachCmd{AttachmentID: attID, UploaderID: requesterID, Filename: " photo.png ", ContentType: "image/png", Size: 3, SHA256: sha, BlobKey: "k"}
			change(&c)
			return tk.Attach(c)
		}
	}
	added := &AttachmentAdded{AttachmentID: attID, UploaderID: requesterID, Filename: "photo.png", ContentType: "image/png", Size: 3, SHA256: sha, BlobKey: "k"}
	domaintest.Run(t, []domaintest.Spec[Ticket]{
		{Name: "attaches", Given: []domain.Event{opened()}, When: attach(func(*AttachCmd) {}), Want: []domain.Event{added}},
		{Name: "a retry records nothing", Given: []domain.Event{opened(), added}, When: attach(func(*AttachCmd) {})},
		{Name: "a closed ticket takes none", Given: reach(Closed), When: attach(func(*AttachCmd) {}), WantErr: domain.ErrInvalidTransition},
		{Name: "rejects an empty file without a name", Given: []domain.Event{opened()},
			When: attach(func(c *AttachCmd) { c.Filename, c.Size = "", 0 }), WantFields: []string{"file", "filename"}},
		{Name: "detaches", Given: []domain.Event{opened(), added}, When: func(tk *Ticket) ([]domain.Event, error) { return tk.Detach(attID) },
			Want: []domain.Event{&AttachmentRemoved{AttachmentID: attID}}},
		{Name: "detaching twice", Given: []domain.Event{opened(), added, &AttachmentRemoved{AttachmentID: attID}},
			When: func(tk *Ticket) ([]domain.Event, error) { return tk.Detach(attID) }, WantErr: domain.ErrNotFound},
	})
}
