package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"agentdesk/domain/user"
	"agentdesk/eventstore"
	"agentdesk/reactions"
	"agentdesk/reactions/reactionstest"
)

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kinds lists the kinds of c's notifications, newest first.
func kinds(c *client) []string {
	var out []string
	for _, n := range c.list("/api/notifications?range=[0,99]").Data {
		out = append(out, n["kind"].(string))
	}
	return out
}

// TestNotificationReactions: over HTTP, assigning a ticket notifies the
// assignee, resolving it the requester, and a comment the requester and
// the assignee but not its author; the notifications name the system
// reaction as their actor and the triggering event as their cause. After
// a restart nothing is notified twice.
func TestNotificationReactions(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Notified"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "n-admin", "password": "password-n-admin", "role": "company_admin"})
	admin := login(t, ts.URL, "n-admin", "password-n-admin")
	writer := admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "n-writer", "password": "password-n-writer", "role": "content_writer"}).Map(t)
	admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "n-client", "password": "password-n-client", "role": "client"})
	w := login(t, ts.URL, "n-writer", "password-n-writer")
	c := login(t, ts.URL, "n-client", "password-n-client")

	tk := c.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "VPN down", "description": "Since 9am"}).Map(t)
	id := tk["id"].(string)
	admin.must(http.StatusOK, "POST", "/api/tickets/"+id+"/assign", map[string]any{"assignee_id": writer["id"]})
	waitFor(t, "the assignee's notification", func() bool { return slices.Equal(kinds(w), []string{"ticket_assigned"}) })

	w.must(http.StatusCreated, "POST", "/api/tickets/"+id+"/comments", map[string]any{"body": "Looking into it"})
	waitFor(t, "the requester's comment notification", func() bool { return slices.Equal(kinds(c), []string{"ticket_commented"}) })
	c.must(http.StatusCreated, "POST", "/api/tickets/"+id+"/comments", map[string]any{"body": "Thanks"})
	waitFor(t, "the assignee's comment notification", func() bool { return len(kinds(w)) == 2 })
	w.must(http.StatusOK, "POST", "/api/tickets/"+id+"/status", map[string]any{"status": "resolved"})
	waitFor(t, "the requester's resolution notification", func() bool { return len(kinds(c)) == 2 })
	if got := kinds(c); !slices.Equal(got, []string{"ticket_resolved", "ticket_commented"}) {
		t.Fatalf("requester's notifications %v", got)
	}
	if got := kinds(w); !slices.Equal(got, []string{"ticket_commented", "ticket_assigned"}) {
		t.Fatalf("assignee's notifications %v: nobody is told of their own comment", got)
	}
	if got := kinds(admin); len(got) != 0 {
		t.Fatalf("the admin was told %v of what it did", got)
	}
	n := w.list("/api/notifications?range=[0,0]&sort=created_at&order=ASC").Data[0]
	if n["subject_id"] != id || n["title"] != "Ticket assigned to you: VPN down" || n["read"] != false {
		t.Fatalf("notification %v", n)
	}

	created := events(t, ts, "notification.created")
	if len(created) != 4 {
		t.Fatalf("%d notifications recorded, want 4", len(created))
	}
	for _, ev := range created {
		if ev.Metadata.ActorID != "system:"+reactions.NotificationsName || ev.Metadata.ActorRole != "system" || ev.Metadata.CausationID == "" {
			t.Errorf("notification by %s (%s) caused by %q", ev.Metadata.ActorID, ev.Metadata.ActorRole, ev.Metadata.CausationID)
		}
	}

	st := root.list("/api/admin/reactions")
	names := map[string]map[string]any{}
	for _, s := range st.Data {
		names[s["id"].(string)] = s
	}
	for _, want := range []string{reactions.NotificationsName, reactions.OffboardingName, reactions.SyncsName, reactions.SchedulerName} {
		if names[want] == nil {
			t.Errorf("status lists no %s: %v", want, st.Data)
		}
	}
	if names[reactions.IntegrationName] != nil {
		t.Errorf("integration events are published with no broker to publish them to: %v", st.Data)
	}
	if s := names[reactions.NotificationsName]; s["checkpoint"] == "" || s["caught_up"] != true || s["parked"] != float64(0) {
		t.Errorf("notifications status %v", s)
	}
}

// events returns the stored events of type typ.
func events(tb testing.TB, ts *testServer, typ string) []eventstore.RecordedEvent {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := ts.srv.events.Subscribe(ctx, eventstore.Start, eventstore.Filter{Types: []string{typ}})
	if err != nil {
		tb.Fatal(err)
	}
	defer sub.Close()
	var out []eventstore.RecordedEvent
	for {
		b, err := sub.Next(ctx, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b.Events...)
		if b.CaughtUp {
			return out
		}
	}
}

// TestOffboardingReaction: deleting a company deactivates its users, each
// by a command of the offboarding reaction caused by the deletion; they
// can no longer sign in.
func TestOffboardingReaction(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Leaving"}).Map(t)
	for i := range 3 {
		root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": fmt.Sprintf("leaver-%d", i), "password": "password-leaver", "role": "company_admin"})
	}
	login(t, ts.URL, "leaver-0", "password-leaver")
	root.must(http.StatusOK, "DELETE", "/api/companies/"+co["id"].(string), nil)
	waitFor(t, "the users' deactivation", func() bool { return len(events(t, ts, user.TypeDeactivated)) == 3 })
	deleted := events(t, ts, "company.deleted")[0]
	for _, ev := range events(t, ts, user.TypeDeactivated) {
		if ev.Metadata.ActorID != "system:"+reactions.OffboardingName || ev.Metadata.CausationID != deleted.ID || ev.Metadata.CorrelationID != deleted.Metadata.CorrelationID {
			t.Errorf("deactivation by %s, caused by %s, correlated %s; want the offboarding, caused by %s", ev.Metadata.ActorID, ev.Metadata.CausationID, ev.Metadata.CorrelationID, deleted.ID)
		}
	}
	anon := &client{tb: t, base: ts.URL}
	waitFor(t, "sign-in to be refused", func() bool {
		return anon.do("POST", "/auth/token", map[string]any{"username": "leaver-0", "password": "password-leaver"}).Status == http.StatusUnauthorized
	})
}

// TestParkedOverHTTP: a parked message is listed for the superadmin and
// replayed over HTTP; replaying an event already handled appends nothing.
func TestParkedOverHTTP(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Parked"}).Map(t)
	u := root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "p-admin", "password": "password-p-admin", "role": "company_admin"}).Map(t)
	admin := login(t, ts.URL, "p-admin", "password-p-admin")
	tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Parked printer"}).Map(t)
	admin.must(http.StatusOK, "POST", "/api/tickets/"+tk["id"].(string)+"/assign", map[string]any{"assignee_id": u["id"]})
	assigned := events(t, ts, "ticket.assigned")[0]

	// Park the assignment as the poison queue would have.
	payload, err := json.Marshal(assigned)
	if err != nil {
		t.Fatal(err)
	}
	p := reactions.Parked{ID: reactions.NotificationsName + "." + assigned.ID, Reaction: reactions.NotificationsName,
		Topic: reactions.Topic(reactions.NotificationsName, 0), EventID: assigned.ID, EventType: assigned.Type, StreamID: assigned.StreamID,
		CompanyID: assigned.Metadata.CompanyID, Error: "the directory was down", ParkedAt: time.Now().UTC(), Payload: payload,
		Metadata: map[string]string{reactions.MetaEventID: assigned.ID, reactions.MetaReaction: reactions.NotificationsName, reactions.MetaEventType: assigned.Type}}
	if err := ts.srv.reactions.parking.Park(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	l := root.list("/api/admin/reactions/parked" + filterQuery(map[string]any{"reaction": reactions.NotificationsName}, ""))
	if l.Total != 1 || l.Data[0]["id"] != p.ID || l.Data[0]["error"] != "the directory was down" {
		t.Fatalf("parked list %+v", l)
	}
	before := len(events(t, ts, "notification.created"))
	res := root.must(http.StatusOK, "POST", "/api/admin/reactions/parked/"+p.ID+"/replay", nil).Map(t)
	if res["status"] != "handled" {
		t.Fatalf("replay: %v", res)
	}
	if l := root.list("/api/admin/reactions/parked"); l.Total != 0 {
		t.Fatalf("still parked: %+v", l)
	}
	if after := len(events(t, ts, "notification.created")); after != before {
		t.Fatalf("%d notifications after the replay, %d before: a replay appends nothing twice", after, before)
	}
	admin.must(http.StatusForbidden, "GET", "/api/admin/reactions/parked", nil)
}

// TestReactionsOnNATS: with NATS_URL set, the server's reactions run over
// a real NATS JetStream server: an assignment notifies its assignee, and
// integration events land in their stream.
func TestReactionsOnNATS(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.NATSURL = reactionstest.RunNATS(t)
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "On NATS"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "nats-admin", "password": "password-nats-admin", "role": "company_admin"})
	admin := login(t, ts.URL, "nats-admin", "password-nats-admin")
	writer := admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "nats-writer", "password": "password-nats-writer", "role": "content_writer"}).Map(t)
	w := login(t, ts.URL, "nats-writer", "password-nats-writer")
	tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Over the wire"}).Map(t)
	admin.must(http.StatusOK, "POST", "/api/tickets/"+tk["id"].(string)+"/assign", map[string]any{"assignee_id": writer["id"]})
	waitFor(t, "the assignee's notification", func() bool { return slices.Equal(kinds(w), []string{"ticket_assigned"}) })

	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the integration events to be stored", func() bool {
		info, err := js.StreamInfo(cfg.IntegrationTopic)
		return err == nil && info.State.Msgs >= 2 // opened, assigned
	})
	found := false
	for _, s := range root.list("/api/admin/reactions").Data {
		found = found || s["id"] == reactions.IntegrationName
	}
	if !found {
		t.Errorf("the reactions' status lists no %s on NATS", reactions.IntegrationName)
	}
}

// TestReactionsWaitForNATS: a server whose NATS is not up yet serves
// anyway, and its reactions start once NATS comes up, from their
// checkpoints: nothing that happened meanwhile is missed.
func TestReactionsWaitForNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a subscription to time out; skipped with -short")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Early"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "early-admin", "password": "password-early-admin", "role": "company_admin"})
	admin := login(t, ts.URL, "early-admin", "password-early-admin")
	writer := admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "early-writer", "password": "password-early-writer", "role": "content_writer"}).Map(t)
	tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before NATS"}).Map(t)
	admin.must(http.StatusOK, "POST", "/api/tickets/"+tk["id"].(string)+"/assign", map[string]any{"assignee_id": writer["id"]})

	said := func() bool {
		for _, s := range root.list("/api/admin/reactions").Data {
			if s["id"] == reactions.NotificationsName {
				e, _ := s["last_error"].(string)
				return strings.Contains(e, "subscribe")
			}
		}
		return false
	}
	for deadline := time.Now().Add(45 * time.Second); !said(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the status does not say why the reactions are not running")
		}
	}
	reactionstest.RunNATSOn(t, port)
	w := login(t, ts.URL, "early-writer", "password-early-writer")
	deadline := time.Now().Add(45 * time.Second)
	for !slices.Equal(kinds(w), []string{"ticket_assigned"}) {
		if time.Now().After(deadline) {
			t.Fatal("no notification 45 s after NATS came up")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
