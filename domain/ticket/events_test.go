package ticket

import (
	"encoding/json"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"ticket.opened":         opened(),
		"ticket.edited":         &Edited{Title: domaintest.Ptr("t"), Description: domaintest.Ptr(""), Priority: domaintest.Ptr(High), Tags: &[]string{"a", "b"}},
		"ticket.assigned":       &Assigned{AssigneeID: agentID, PreviousAssigneeID: otherAgentID},
		"ticket.unassigned":     &Unassigned{PreviousAssigneeID: agentID},
		"ticket.status_changed": moved(Resolved, Closed),
		"ticket.commented":      &Commented{CommentID: commentID, AuthorID: agentID, Body: "Looks fixed."},
		"ticket.deleted":        &Deleted{},
		"ticket.attachment_added": &AttachmentAdded{AttachmentID: commentID, UploaderID: agentID, Filename: "a.png", ContentType: "image/png",
			Size: 3, SHA256: strings.Repeat("a", 64), BlobKey: "k"},
		"ticket.attachment_removed": &AttachmentRemoved{AttachmentID: commentID},
	})
}

// An edit stores only the fields that changed, so that replaying it
// leaves the others alone.
func TestEditedOmitsUnchangedFields(t *testing.T) {
	data, err := json.Marshal(&Edited{Priority: domaintest.Ptr(Low)})
	if err != nil {
		t.Fatalf("marshal: got error %v, want nil", err)
	}
	if got, want := string(data), `{"priority":"low"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"ticket.exploded", "user.created", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(ticketID), "ticket-"+ticketID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(ticketID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(ticketID), Category)
	}
}
