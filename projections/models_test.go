package projections

import (
	"encoding/json"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
)

func recorded(t *testing.T, stream string, rev uint64, at time.Time, e domain.Event) eventstore.RecordedEvent {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{StreamID: stream, Revision: rev, Position: eventstore.Position{Commit: rev + 1, Prepare: rev + 1}, Type: e.EventType(), SchemaVersion: domain.SchemaVersion(e),
		Data: raw, Metadata: eventstore.Metadata{ActorID: "actor", RecordedAt: at}}
}

func TestProjectTicket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	stream := ticket.Stream("id1")
	doc, err := projectTicket(recorded(t, stream, 0, t0, &ticket.Opened{TicketID: "id1", CompanyID: "c1", Title: "T", Priority: ticket.High, RequesterID: "r1"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Status != "open" || doc.Tags == nil || doc.CreatedBy != "actor" || !doc.CreatedAt.Equal(t0) || doc.AssigneeID != nil {
		t.Fatalf("opened: got %+v", doc)
	}
	doc, _ = projectTicket(recorded(t, stream, 1, t1, &ticket.Commented{CommentID: "c", AuthorID: "a", Body: "b"}), doc)
	if doc.CommentCount != 1 || !doc.LastActivityAt.Equal(t1) || !doc.UpdatedAt.Equal(t0) || doc.Revision != 1 {
		t.Fatalf("commented: got %+v", doc)
	}
	doc, _ = projectTicket(recorded(t, stream, 2, t2, &ticket.Assigned{AssigneeID: "u9"}), doc)
	if doc.AssigneeID == nil || *doc.AssigneeID != "u9" || !doc.UpdatedAt.Equal(t2) {
		t.Fatalf("assigned: got %+v", doc)
	}
	gone, err := projectTicket(recorded(t, stream, 3, t2, &ticket.Deleted{}), doc)
	if err != nil || gone != nil {
		t.Fatalf("deleted: got %+v, %v; want nil", gone, err)
	}
	if _, err := projectTicket(recorded(t, stream, 1, t1, &ticket.Commented{}), nil); err == nil {
		t.Fatal("an event before ticket.opened projected without error")
	}
}

// The users read model never holds a password hash.
func TestUsersNeverExposeHashes(t *testing.T) {
	p := UsersProjector().(*Def[User])
	doc, err := p.Project(recorded(t, user.Stream("u1"), 0, time.Now(), &user.Created{UserID: "u1", Username: "x", Role: domain.Client, CompanyID: "c1", PasswordHash: "$2a$secret"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(doc)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for k, v := range m {
		if s, ok := v.(string); ok && s == "$2a$secret" {
			t.Fatalf("field %s holds the password hash", k)
		}
	}
}
