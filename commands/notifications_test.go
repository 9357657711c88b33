package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/notification"
)

// newUser creates a user of company with role and returns the metadata of
// its commands.
func newUser(t *testing.T, app *commands.App, company string, role domain.Role) commands.Meta {
	t.Helper()
	res, err := app.CreateUser(context.Background(), adminOf(company), commands.CreateUser{
		Username: "u" + uuid.NewString()[:8], Password: "long-enough-password", Role: role,
	})
	if err != nil {
		t.Fatal(err)
	}
	return commands.Meta{Principal: domain.Principal{UserID: res.ID, CompanyID: company, Role: role}}
}

func notify(userID string) commands.CreateNotification {
	return commands.CreateNotification{UserID: userID, Kind: notification.TicketAssigned, Subject: "tickets",
		SubjectID: uuid.NewString(), Title: "Printer on fire was assigned to you"}
}

func TestNotification(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	writer := newUser(t, app, company, domain.ContentWriter)
	system := commands.Meta{Principal: domain.SystemPrincipal("reactions", company)}

	res, err := app.CreateNotification(ctx, system, notify(writer.Principal.UserID))
	if err != nil {
		t.Fatalf("the platform creates: %v", err)
	}
	evs := readStream(t, es, notification.Stream(res.ID))
	var created notification.Created
	if err := json.Unmarshal(evs[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	if created.CompanyID != company || created.UserID != writer.Principal.UserID || !created.CreatedAt.Equal(fixedNow) ||
		evs[0].Metadata.CompanyID != company || evs[0].Metadata.ActorID != "system:reactions" || evs[0].Metadata.ActorRole != "system" {
		t.Fatalf("got %+v with metadata %+v", created, evs[0].Metadata)
	}

	// Users never create notifications, not even for themselves.
	for _, role := range []domain.Role{domain.CompanyAdmin, domain.ContentWriter, domain.Client} {
		m := newUser(t, app, company, role)
		if _, err := app.CreateNotification(ctx, m, notify(m.Principal.UserID)); !errors.Is(err, domain.ErrForbidden) {
			t.Fatalf("%s creates: got %v, want forbidden", role, err)
		}
	}
	if _, err := app.CreateNotification(ctx, superadminMeta(), commands.CreateNotification{CompanyID: company, UserID: writer.Principal.UserID,
		Kind: notification.TicketResolved, Title: "Resolved"}); err != nil {
		t.Fatalf("a superadmin creates: %v", err)
	}

	// Only the recipient marks it read; to anyone else it does not exist.
	for _, m := range []commands.Meta{adminOf(company), superadminMeta(), newUser(t, app, company, domain.ContentWriter), system} {
		if _, err := app.MarkNotificationRead(ctx, m, res.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s marks someone's notification read: got %v, want not found", m.Principal.Role, err)
		}
	}
	read, err := app.MarkNotificationRead(ctx, writer, res.ID)
	if err != nil || !read.Changed || read.Revision != 1 {
		t.Fatalf("the recipient marks it read: got %+v, %v", read, err)
	}
	again, err := app.MarkNotificationRead(ctx, writer, res.ID)
	if err != nil || again.Changed || again.Revision != 1 {
		t.Fatalf("marked read again: got %+v, %v; want nothing recorded", again, err)
	}
	if _, err := app.MarkNotificationRead(ctx, writer, uuid.NewString()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("no such notification: got %v, want not found", err)
	}
	if _, err := app.MarkNotificationRead(ctx, writer, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a malformed id: got %v, want not found", err)
	}
	if got := types(readStream(t, es, notification.Stream(res.ID))); got != "notification.created notification.read" {
		t.Fatalf("got events %s", got)
	}
}

func TestNotificationRecipient(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	system := commands.Meta{Principal: domain.SystemPrincipal("reactions", company)}
	foreign := newUser(t, app, uuid.NewString(), domain.Client)
	_, err := app.CreateNotification(ctx, system, notify(foreign.Principal.UserID))
	wantFieldError(t, err, "user_id", "no such user in this company")
	_, err = app.CreateNotification(ctx, system, notify(uuid.NewString()))
	wantFieldError(t, err, "user_id", "no such user in this company")
	_, err = app.CreateNotification(ctx, system, commands.CreateNotification{})
	for _, field := range []string{"user_id", "kind", "title"} {
		if !isFieldError(err, field) {
			t.Errorf("an empty notification: got %v, want a validation error on %s", err, field)
		}
	}
	_, err = app.CreateNotification(ctx, commands.Meta{Principal: domain.SystemPrincipal("reactions", "")}, notify(uuid.NewString()))
	wantFieldError(t, err, "company_id", "is required")
}

// A process that handles an event twice, under a command id derived from
// it, creates one notification.
func TestNotificationCreatedOnce(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	writer := newUser(t, app, company, domain.ContentWriter)
	system := commands.Meta{Principal: domain.SystemPrincipal("reactions", company), CommandID: commands.DeriveID(uuid.NewString(), "notify")}
	in := notify(writer.Principal.UserID)
	first, err := app.CreateNotification(ctx, system, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := app.CreateNotification(ctx, system, in)
	if err != nil || again.ID != first.ID || again.Changed || again.Revision != first.Revision {
		t.Fatalf("retry: got %+v, %v; want %s unchanged", again, err, first.ID)
	}
	if got := len(readStream(t, es, notification.Stream(first.ID))); got != 1 {
		t.Fatalf("got %d events, want 1", got)
	}
}

func TestMarkNotificationsRead(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	writer := newUser(t, app, company, domain.ContentWriter)
	other := newUser(t, app, company, domain.ContentWriter)
	system := commands.Meta{Principal: domain.SystemPrincipal("reactions", company)}
	var mine []string
	for range 3 {
		res, err := app.CreateNotification(ctx, system, notify(writer.Principal.UserID))
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, res.ID)
	}
	theirs, err := app.CreateNotification(ctx, system, notify(other.Principal.UserID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.MarkNotificationRead(ctx, writer, mine[0]); err != nil {
		t.Fatal(err)
	}
	marked, last, err := app.MarkNotificationsRead(ctx, writer, append(mine, theirs.ID, uuid.NewString(), "nope"))
	if err != nil || marked != 2 || !last.Changed || last.ID != mine[2] {
		t.Fatalf("got %d marked, last %+v, %v; want 2, the last %s", marked, last, err, mine[2])
	}
	if got := len(readStream(t, es, notification.Stream(theirs.ID))); got != 1 {
		t.Fatalf("someone else's notification: got %d events, want 1 (unread)", got)
	}
	marked, last, err = app.MarkNotificationsRead(ctx, writer, mine)
	if err != nil || marked != 0 || last.Changed {
		t.Fatalf("all read already: got %d marked, last %+v, %v; want none", marked, last, err)
	}
}
