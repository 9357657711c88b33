package main

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/notification"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/auth"
	"agentdesk/projections"
)

// platform creates notifications the way the platform's processes do:
// through the commands, as the System role, on the server's event store.
type platform struct {
	ts  *testServer
	app *commands.App
}

func newPlatform(tb testing.TB, ts *testServer) *platform {
	tb.Helper()
	app, err := commands.New(commands.Config{Store: ts.srv.events, Hasher: auth.Bcrypt{Cost: 4}})
	if err != nil {
		tb.Fatal(err)
	}
	return &platform{ts: ts, app: app}
}

// notify creates a notification for userID of companyID, under commandID
// when set, and waits until the view shows it.
func (pf *platform) notify(tb testing.TB, companyID, userID, commandID, title string) commands.Result {
	tb.Helper()
	ctx := context.Background()
	m := commands.Meta{Principal: domain.SystemPrincipal("test", companyID), CommandID: commandID}
	res, err := pf.app.CreateNotification(ctx, m, commands.CreateNotification{UserID: userID, Kind: notification.TicketAssigned,
		Subject: resource.Tickets.Name, SubjectID: noSuchID, Title: title, Body: "Third floor.", ActorID: "system:test"})
	if err != nil {
		tb.Fatalf("notify %s: %v", userID, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pf.ts.srv.runner.Wait(wctx, projections.Notifications, res.Position); err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestNotifications: each user reads and marks read only their own
// notifications, over HTTP; nobody creates one over HTTP; the platform
// creating one again under the same command id records nothing. It runs
// on every combination of stores.
func TestNotifications(t *testing.T) { onEveryBackend(t, notifications) }

func notifications(t *testing.T, stores backend) {
	ts := startServerOn(t, t.TempDir(), stores)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newCompany(t, ts, root, "Inbox")
	b := newCompany(t, ts, root, "Elsewhere")
	pf := newPlatform(t, ts)
	writer, writerID := a.users["content_writer"], a.ids["content_writer"]
	var mine []string
	for i := range 3 {
		mine = append(mine, pf.notify(t, a.id, writerID, "", fmt.Sprintf("Ticket %d was assigned to you", i)).ID)
	}
	theirs := pf.notify(t, a.id, a.ids["client"], "", "For the client").ID
	elsewhere := pf.notify(t, b.id, b.ids["content_writer"], "", "For the other company's writer").ID

	// The recipient lists their own, and only those.
	l := writer.list("/api/notifications")
	if got := slices.Sorted(slices.Values(ids(l))); l.Total != 3 || !slices.Equal(got, slices.Sorted(slices.Values(mine))) {
		t.Fatalf("the writer's notifications: got %v (total %d), want %v", ids(l), l.Total, mine)
	}
	path := "/api/notifications/" + mine[0]
	rec := writer.must(http.StatusOK, "GET", path, nil).Map(t)
	if rec["user_id"] != writerID || rec["company_id"] != a.id || rec["kind"] != "ticket_assigned" || rec["subject"] != "tickets" ||
		rec["subject_id"] != noSuchID || rec["title"] != "Ticket 0 was assigned to you" || rec["body"] != "Third floor." ||
		rec["actor_id"] != "system:test" || rec["read"] != false || rec["read_at"] != nil || rec["revision"] != 0.0 {
		t.Fatalf("a notification: got %v", rec)
	}
	if l := a.users["client"].list("/api/notifications"); !reflect.DeepEqual(ids(l), []string{theirs}) {
		t.Fatalf("the client's notifications: got %v, want only %s", ids(l), theirs)
	}
	for _, who := range []struct {
		name string
		c    *client
		own  []string
	}{
		{"the company's admin", a.users["company_admin"], nil},
		{"a manager of the company", a.users["content_manager"], nil},
		{"a writer of another company", b.users["content_writer"], []string{elsewhere}},
		{"the superadmin", root, nil},
	} {
		if l := who.c.list("/api/notifications"); l.Total != int64(len(who.own)) || !slices.Equal(ids(l), who.own) {
			t.Errorf("%s lists %v, want only its own %v", who.name, ids(l), who.own)
		}
		who.c.must(http.StatusNotFound, "GET", path, nil)
		who.c.must(http.StatusNotFound, "POST", path+"/read", nil)
		if l := who.c.list("/api/notifications" + filterQuery(map[string]any{"user_id": writerID}, "")); l.Total != 0 {
			t.Errorf("%s filtering on the writer: got %v, want none", who.name, ids(l))
		}
	}

	// Unread ones, with their total.
	unread := func(c *client) int64 {
		t.Helper()
		return c.list("/api/notifications" + filterQuery(map[string]any{"read": false}, "")).Total
	}
	if n := unread(writer); n != 3 {
		t.Fatalf("unread: got %d, want 3", n)
	}

	// Marking one read answers it read, as the next read does.
	read := writer.must(http.StatusOK, "POST", path+"/read", nil).Map(t)
	if read["read"] != true || read["read_at"] == nil || read["revision"] != 1.0 {
		t.Fatalf("marked read: got %v", read)
	}
	readBack(t, writer, path, read)
	if again := writer.must(http.StatusOK, "POST", path+"/read", map[string]any{}).Map(t); !reflect.DeepEqual(again, read) {
		t.Fatalf("marked read again: got %v, want it unchanged %v", again, read)
	}
	writer.must(http.StatusBadRequest, "POST", path+"/read", map[string]any{"read": true})
	writer.must(http.StatusNotFound, "POST", "/api/notifications/"+noSuchID+"/read", nil)
	if n := unread(writer); n != 2 {
		t.Fatalf("unread after marking one: got %d, want 2", n)
	}
	if l := writer.list("/api/notifications" + filterQuery(map[string]any{"read": true}, "")); !reflect.DeepEqual(ids(l), []string{mine[0]}) {
		t.Fatalf("read ones: got %v, want %s", ids(l), mine[0])
	}
	everySortAndFilter(t, writer, resource.Notifications, nil, read)

	// Mark all read: the caller's only, answered once the lists show it.
	var all struct {
		Marked *int `json:"marked"`
	}
	writer.must(http.StatusOK, "POST", "/api/notifications/read_all", nil).JSON(t, &all)
	if all.Marked == nil || *all.Marked != 2 {
		t.Fatalf("read_all: got %v, want 2 marked", all.Marked)
	}
	if n := unread(writer); n != 0 {
		t.Fatalf("unread after read_all: got %d, want 0", n)
	}
	if n := unread(a.users["client"]); n != 1 {
		t.Fatalf("the client's unread after the writer's read_all: got %d, want 1", n)
	}
	writer.must(http.StatusOK, "POST", "/api/notifications/read_all", map[string]any{}).JSON(t, &all)
	if *all.Marked != 0 {
		t.Fatalf("read_all with nothing unread: got %d marked, want 0", *all.Marked)
	}

	// Nobody creates, changes or deletes notifications over HTTP.
	for _, c := range []*client{writer, root} {
		if r := c.must(http.StatusMethodNotAllowed, "POST", "/api/notifications", map[string]any{"user_id": writerID, "kind": "x", "title": "x"}); r.Map(t)["detail"] == "" {
			t.Fatalf("POST /api/notifications: got %s, want a detail", r.Body)
		}
	}
	writer.must(http.StatusMethodNotAllowed, "PUT", path, map[string]any{"read": false})
	writer.must(http.StatusMethodNotAllowed, "DELETE", path, nil)

	// The platform handling the same event twice notifies once.
	commandID := commands.DeriveID("event", noSuchID)
	first := pf.notify(t, a.id, writerID, commandID, "Ticket 4 was assigned to you")
	before := head(t, ts)
	again := pf.notify(t, a.id, writerID, commandID, "Ticket 4 was assigned to you")
	if again.ID != first.ID || again.Changed || head(t, ts) != before {
		t.Fatalf("a retry: got %+v, head %v; want %s unchanged, head %v", again, head(t, ts), first.ID, before)
	}
	evs, err := ts.srv.events.ReadStream(context.Background(), notification.Stream(first.ID), 0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %d events (%v), want 1", len(evs), err)
	}
	if l := writer.list("/api/notifications"); l.Total != 4 {
		t.Fatalf("after the retry: got %d notifications, want 4", l.Total)
	}
}

// TestNotificationsReadAllPages: read_all marks every unread
// notification, past one page of them.
func TestNotificationsReadAllPages(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newCompany(t, ts, root, "Busy")
	pf := newPlatform(t, ts)
	const n = 520 // over the 500 of a page
	for i := range n {
		pf.notify(t, a.id, a.ids["client"], "", fmt.Sprintf("Ticket %d was resolved", i))
	}
	client := a.users["client"]
	var all struct {
		Marked int `json:"marked"`
	}
	client.must(http.StatusOK, "POST", "/api/notifications/read_all", nil).JSON(t, &all)
	if all.Marked != n {
		t.Fatalf("read_all: got %d marked, want %d", all.Marked, n)
	}
	if l := client.list("/api/notifications" + filterQuery(map[string]any{"read": false}, "")); l.Total != 0 {
		t.Fatalf("unread after read_all: got %d, want 0", l.Total)
	}
	if l := client.list("/api/notifications" + filterQuery(map[string]any{"read": true}, "")); l.Total != n {
		t.Fatalf("read after read_all: got %d, want %d", l.Total, n)
	}
}

// head is the position of the last event in the server's log.
func head(tb testing.TB, ts *testServer) eventstore.Position {
	tb.Helper()
	p, err := ts.srv.events.Head(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
