package notification

import (
	"strings"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	notificationID = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID      = "22222222-2222-4222-8222-222222222222"
	userID         = "33333333-3333-4333-8333-333333333333"
	ticketID       = "44444444-4444-4444-8444-444444444444"
	actorID        = "55555555-5555-4555-8555-555555555555"
)

var (
	now   = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	later = now.Add(time.Hour)
)

func created() *Created {
	return &Created{
		NotificationID: notificationID, CompanyID: companyID, UserID: userID, Kind: TicketAssigned,
		Subject: "tickets", SubjectID: ticketID, Title: "Printer on fire was assigned to you",
		Body: "Third floor.", ActorID: actorID, CreatedAt: now,
	}
}

func createdWith(change func(*Created)) []domain.Event {
	e := created()
	change(e)
	return []domain.Event{e}
}

func create(change func(*CreateCmd)) func(*Notification) ([]domain.Event, error) {
	return func(n *Notification) ([]domain.Event, error) {
		cmd := CreateCmd{
			NotificationID: notificationID, CompanyID: companyID, UserID: userID, Kind: TicketAssigned,
			Subject: "tickets", SubjectID: ticketID, Title: "Printer on fire was assigned to you",
			Body: "Third floor.", ActorID: actorID, At: now,
		}
		change(&cmd)
		return n.Create(cmd)
	}
}

func TestCreate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Notification]{
		{Name: "creates a notification", When: create(func(*CreateCmd) {}), Want: []domain.Event{created()}},
		{
			Name: "trims the title and body, records the time in UTC",
			When: create(func(c *CreateCmd) {
				c.Title, c.Body, c.At = "  Printer on fire was assigned to you\n", "\nThird floor. ", now.In(time.FixedZone("CET", 3600))
			}),
			Want: []domain.Event{created()},
		},
		{
			Name: "needs no subject, body or actor",
			When: create(func(c *CreateCmd) { c.Subject, c.SubjectID, c.Body, c.ActorID = "", "", "", "" }),
			Want: createdWith(func(e *Created) { e.Subject, e.SubjectID, e.Body, e.ActorID = "", "", "", "" }),
		},
		{
			Name: "accepts any kind in snake_case and a system actor",
			When: create(func(c *CreateCmd) { c.Kind, c.ActorID = "campaign_published", "system:reactions" }),
			Want: createdWith(func(e *Created) { e.Kind, e.ActorID = "campaign_published", "system:reactions" }),
		},
		{
			Name: "accepts the longest title and body, counted in runes",
			When: create(func(c *CreateCmd) { c.Title, c.Body = strings.Repeat("é", MaxTitle), strings.Repeat("é", MaxBody) }),
			Want: createdWith(func(e *Created) { e.Title, e.Body = strings.Repeat("é", MaxTitle), strings.Repeat("é", MaxBody) }),
		},
		{Name: "rejects a missing recipient", When: create(func(c *CreateCmd) { c.UserID = "" }), WantFields: []string{"user_id"}},
		{Name: "rejects a recipient that is not a UUID", When: create(func(c *CreateCmd) { c.UserID = "dana" }), WantFields: []string{"user_id"}},
		{Name: "rejects a missing company", When: create(func(c *CreateCmd) { c.CompanyID = "" }), WantFields: []string{"company_id"}},
		{Name: "rejects a missing kind", When: create(func(c *CreateCmd) { c.Kind = "" }), WantFields: []string{"kind"}},
		{Name: "rejects a kind that is not snake_case", When: create(func(c *CreateCmd) { c.Kind = "Ticket Assigned" }), WantFields: []string{"kind"}},
		{Name: "rejects a blank title", When: create(func(c *CreateCmd) { c.Title = " \n" }), WantFields: []string{"title"}},
		{Name: "rejects a too long title", When: create(func(c *CreateCmd) { c.Title = strings.Repeat("x", MaxTitle+1) }), WantFields: []string{"title"}},
		{Name: "rejects a too long body", When: create(func(c *CreateCmd) { c.Body = strings.Repeat("x", MaxBody+1) }), WantFields: []string{"body"}},
		{Name: "a subject id needs its subject", When: create(func(c *CreateCmd) { c.Subject = "" }), WantFields: []string{"subject"}},
		{Name: "rejects a subject id that is not a UUID", When: create(func(c *CreateCmd) { c.SubjectID = "T-1" }), WantFields: []string{"subject_id"}},
		{Name: "rejects a too long actor", When: create(func(c *CreateCmd) { c.ActorID = strings.Repeat("x", MaxName+1) }), WantFields: []string{"actor_id"}},
		{
			Name:       "reports every invalid field at once",
			When:       create(func(c *CreateCmd) { *c = CreateCmd{NotificationID: "x", SubjectID: "y"} }),
			WantFields: []string{"company_id", "created_at", "id", "kind", "subject", "subject_id", "title", "user_id"},
		},
		{Name: "cannot create twice", Given: []domain.Event{created()}, When: create(func(*CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
	})
}

func markRead(at time.Time) func(*Notification) ([]domain.Event, error) {
	return func(n *Notification) ([]domain.Event, error) { return n.MarkRead(at) }
}

func TestMarkRead(t *testing.T) {
	read := &Read{NotificationID: notificationID, ReadAt: later}
	domaintest.Run(t, []domaintest.Spec[Notification]{
		{Name: "marks an unread notification read", Given: []domain.Event{created()}, When: markRead(later), Want: []domain.Event{read}},
		{
			Name:  "records the time in UTC",
			Given: []domain.Event{created()},
			When:  markRead(later.In(time.FixedZone("CET", 3600))),
			Want:  []domain.Event{read},
		},
		{Name: "a read notification records nothing", Given: []domain.Event{created(), read}, When: markRead(later.Add(time.Hour))},
		{Name: "a notification never created is not found", When: markRead(later), WantErr: domain.ErrNotFound},
		{Name: "needs a time", Given: []domain.Event{created()}, When: markRead(time.Time{}), WantFields: []string{"read_at"}},
	})
}

func TestReplay(t *testing.T) {
	n := domaintest.Replay[Notification]([]domain.Event{created()})
	if n.IsRead() || !n.Exists() || n.Title != "Printer on fire was assigned to you" || n.Kind != TicketAssigned || n.Version != 1 {
		t.Fatalf("created: got %+v", n)
	}
	if n.Ref() != (domain.NotificationRef{CompanyID: companyID, UserID: userID}) {
		t.Fatalf("got ref %+v", n.Ref())
	}
	n = domaintest.Replay[Notification]([]domain.Event{created(), &Read{NotificationID: notificationID, ReadAt: later}})
	if !n.IsRead() || !n.ReadAt.Equal(later) || n.Version != 2 {
		t.Fatalf("read: got %+v", n)
	}
}
