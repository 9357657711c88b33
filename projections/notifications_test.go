package projections_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/notification"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

func TestNotificationsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.NotificationsProjector())
	defer stop()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id, other := uuid.NewString(), uuid.NewString()
	created := func(id, user string) *notification.Created {
		return &notification.Created{NotificationID: id, CompanyID: "c1", UserID: user, Kind: notification.TicketAssigned,
			Subject: "tickets", SubjectID: "t1", Title: "Assigned to you", Body: "Printer on fire", ActorID: "u9", CreatedAt: at(0)}
	}

	res := appendAt(t, s.es, notification.Stream(id), eventstore.NoStream, "c1", at(0), created(id, "u1"))
	appendAt(t, s.es, notification.Stream(other), eventstore.NoStream, "c1", at(0), created(other, "u2"))
	waitForProjection(t, r, projections.Notifications, res.Position)
	got := mustDoc[projections.Notification](t, s.rs, resource.Notifications, id)
	if got.ID != id || got.CompanyID != "c1" || got.UserID != "u1" || got.Kind != "ticket_assigned" || got.Subject != "tickets" ||
		got.SubjectID != "t1" || got.Title != "Assigned to you" || got.Body != "Printer on fire" || got.ActorID != "u9" ||
		got.Read || got.ReadAt != nil || !got.CreatedAt.Equal(at(0)) || !got.UpdatedAt.Equal(at(0)) || got.Revision != 0 {
		t.Fatalf("created: got %+v", got)
	}
	raw, err := s.rs.Get(ctx, projections.Notifications, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw.Data), `"read_at":null`) || !strings.Contains(string(raw.Data), `"read":false`) {
		t.Fatalf("unread: got %s, want read false and read_at null", raw.Data)
	}

	unread := func(user string) int64 {
		t.Helper()
		_, total, err := s.rs.Query(ctx, projections.Notifications, readstore.Query{Count: true, Where: []readstore.Condition{
			{Field: "user_id", Op: readstore.Eq, Value: user}, {Field: "read", Op: readstore.Eq, Value: false},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	if n := unread("u1"); n != 1 {
		t.Fatalf("u1 unread: got %d, want 1", n)
	}

	res = appendAt(t, s.es, notification.Stream(id), eventstore.Exact(0), "c1", at(5), &notification.Read{NotificationID: id, ReadAt: at(4)})
	waitForProjection(t, r, projections.Notifications, res.Position)
	got = mustDoc[projections.Notification](t, s.rs, resource.Notifications, id)
	if !got.Read || got.ReadAt == nil || !got.ReadAt.Equal(at(4)) || !got.UpdatedAt.Equal(at(5)) || !got.CreatedAt.Equal(at(0)) || got.Revision != 1 {
		t.Fatalf("read: got %+v", got)
	}
	if n, m := unread("u1"), unread("u2"); n != 0 || m != 1 {
		t.Fatalf("unread after reading: got u1 %d, u2 %d; want 0 and 1", n, m)
	}
}

// A batch cut short after a notification was read is applied again
// without error, and it stays read.
func TestNotificationsReplay(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	id := uuid.NewString()
	now := time.Now().UTC()
	appendAt(t, s.es, notification.Stream(id), eventstore.NoStream, "c1", now,
		&notification.Created{NotificationID: id, CompanyID: "c1", UserID: "u1", Kind: notification.TicketResolved, Title: "Resolved", CreatedAt: now},
		&notification.Read{NotificationID: id, ReadAt: now})
	replayTail(t, s, projections.NotificationsProjector(), 1)
	if got := mustDoc[projections.Notification](t, s.rs, resource.Notifications, id); !got.Read || got.Revision != 1 {
		t.Fatalf("after a replay: got %+v, want read at revision 1", got)
	}
}
