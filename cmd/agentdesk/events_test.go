package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// sseMessage is one message read from GET /api/events.
type sseMessage struct {
	ID    string
	Topic string `json:"topic"`
	Event struct {
		Type    string `json:"type"`
		Payload struct {
			IDs []string `json:"ids"`
		} `json:"payload"`
	} `json:"event"`
}

// eventStream is an open GET /api/events, read in the background.
type eventStream struct {
	tb       testing.TB
	resp     *http.Response
	msgs     chan sseMessage
	retry    chan string
	comments chan string
	done     chan struct{} // closed when the server ends the stream
	cancel   context.CancelFunc
}

// openEvents asks for a ticket as c and opens the event stream with it,
// resuming after lastID when it is set.
func openEvents(tb testing.TB, c *client, lastID string) *eventStream {
	tb.Helper()
	var tk struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	c.must(http.StatusOK, "POST", "/api/events/ticket", nil).JSON(tb, &tk)
	if tk.Ticket == "" || tk.ExpiresIn <= 0 || tk.ExpiresIn > 60 {
		tb.Fatalf("ticket %+v, want one valid for at most a minute", tk)
	}
	return openEventsWith(tb, c.base, tk.Ticket, lastID)
}

func openEventsWith(tb testing.TB, base, ticket, lastID string) *eventStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events?ticket="+url.QueryEscape(ticket), nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		resp.Body.Close()
		tb.Fatalf("GET /api/events: %d %s, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{tb: tb, resp: resp, msgs: make(chan sseMessage, 1000), retry: make(chan string, 1), comments: make(chan string, 100), done: make(chan struct{}), cancel: cancel}
	tb.Cleanup(es.close)
	go es.read()
	return es
}

func (es *eventStream) close() {
	es.cancel()
	es.resp.Body.Close()
}

// read parses the stream: "id:", "data:", "retry:" and comment lines,
// a blank line ending each message.
func (es *eventStream) read() {
	defer close(es.done)
	sc := bufio.NewScanner(es.resp.Body)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				var m sseMessage
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					es.tb.Errorf("event data %q: %v", data, err)
				}
				m.ID = id
				es.msgs <- m
			}
			id, data = "", ""
		case strings.HasPrefix(line, ":"):
			select {
			case es.comments <- strings.TrimSpace(line[1:]):
			default: // nobody reads them: keep-alives pile up
			}
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case strings.HasPrefix(line, "retry: "):
			select {
			case es.retry <- line[7:]:
			default:
			}
		default:
			es.tb.Errorf("unexpected event stream line %q", line)
		}
	}
}

// next returns the next message, failing the test after a while.
func (es *eventStream) next() sseMessage {
	es.tb.Helper()
	select {
	case m := <-es.msgs:
		return m
	case <-es.done:
		es.tb.Fatal("the event stream ended")
	case <-time.After(10 * time.Second):
		es.tb.Fatal("no event within 10s")
	}
	return sseMessage{}
}

// until reads messages until one on topic of type kind names id, and
// returns it with every message read before it.
func (es *eventStream) until(topic, kind, id string) (sseMessage, []sseMessage) {
	es.tb.Helper()
	var seen []sseMessage
	for {
		m := es.next()
		if m.Topic == topic && m.Event.Type == kind && slices.Contains(m.Event.Payload.IDs, id) {
			return m, seen
		}
		seen = append(seen, m)
	}
}

// TestRealtimeEvents drives GET /api/events over HTTP: the messages of a
// change, on the resource's and the record's topics, after the write is
// readable; what each tenant and role hears; resuming with Last-Event-ID;
// the ticket's audience; and a principal checked again while the stream
// stays open.
func TestRealtimeEvents(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.EventsKeepAlive = 200 * time.Millisecond
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Acme")
	b := newTenant(t, ts, root, "Globex")
	a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "carol", "password": "password-carol", "role": "client"})
	a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "dave", "password": "password-dave", "role": "client"})
	carol := login(t, ts.URL, "carol", "password-carol")
	dave := login(t, ts.URL, "dave", "password-dave")

	esA := openEvents(t, a.admin, "")
	esB := openEvents(t, b.admin, "")
	esCarol := openEvents(t, carol, "")
	select {
	case r := <-esA.retry:
		if r != "3000" {
			t.Errorf("retry %q, want 3000", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("no retry: line")
	}

	t.Run("a create is heard on both topics once readable", func(t *testing.T) {
		tk := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Kettle leaks"}).Map(t)
		id := tk["id"].(string)
		rec, _ := esA.until("resource/tickets/"+id, "created", id)
		if len(rec.Event.Payload.IDs) != 1 || rec.ID != "" {
			t.Errorf("record message %+v, want its one id and no SSE id (the run's resource message carries it)", rec)
		}
		list, _ := esA.until("resource/tickets", "created", id)
		if list.ID == "" {
			t.Error("the resource message carries no id to resume from")
		}
		// Heard means readable: the message comes after the projection.
		a.admin.must(http.StatusOK, "GET", "/api/tickets/"+id, nil)

		a.admin.must(http.StatusOK, "PUT", "/api/tickets/"+id, map[string]any{"title": "Kettle leaks badly"})
		esA.until("resource/tickets", "updated", id)
		a.admin.must(http.StatusOK, "DELETE", "/api/tickets/"+id, nil)
		esA.until("resource/tickets/"+id, "deleted", id)
		esA.until("resource/tickets", "deleted", id)
	})

	t.Run("another company hears nothing of it", func(t *testing.T) {
		// Globex's own ticket is the first thing its stream carries.
		own := b.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Globex ticket"}).Map(t)["id"].(string)
		for {
			m := esB.next()
			for _, id := range m.Event.Payload.IDs {
				if id != own && !strings.HasPrefix(m.Topic, "resource/notifications") {
					t.Fatalf("Globex heard %+v", m)
				}
			}
			if m.Topic == "resource/tickets" && slices.Contains(m.Event.Payload.IDs, own) {
				break
			}
		}
	})

	t.Run("a client hears of its own tickets and their comments only", func(t *testing.T) {
		other := dave.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Dave's"}).Map(t)["id"].(string)
		toDave := a.admin.must(http.StatusCreated, "POST", "/api/tickets/"+other+"/comments", map[string]any{"body": "to Dave"}).Map(t)["id"].(string)
		mine := carol.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Carol's"}).Map(t)["id"].(string)
		comment := a.admin.must(http.StatusCreated, "POST", "/api/tickets/"+mine+"/comments", map[string]any{"body": "to Carol"}).Map(t)["id"].(string)
		_, before := esCarol.until("resource/comments", "created", comment)
		heardOwn := false
		for _, m := range before {
			if slices.Contains(m.Event.Payload.IDs, other) || slices.Contains(m.Event.Payload.IDs, toDave) {
				t.Errorf("Carol heard of Dave's ticket or its comment: %+v", m)
			}
			heardOwn = heardOwn || m.Topic == "resource/tickets" && slices.Contains(m.Event.Payload.IDs, mine)
			if m.Topic == "resource/users" {
				t.Errorf("a client heard of users: %+v", m)
			}
		}
		if !heardOwn {
			t.Error("Carol did not hear of her own ticket")
		}
	})

	t.Run("Last-Event-ID resumes without a gap", func(t *testing.T) {
		first := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before"}).Map(t)["id"].(string)
		m, _ := esA.until("resource/tickets", "created", first)
		esA.close()
		var missed []string
		for i := range 3 {
			missed = append(missed, a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "While away " + string(rune('A'+i))}).Map(t)["id"].(string))
		}
		resumed := openEvents(t, a.admin, m.ID)
		// A run of changes is one message on the resource's topic.
		heard := map[string]bool{}
		for !heard[missed[0]] || !heard[missed[1]] || !heard[missed[2]] {
			m := resumed.next()
			if m.Topic == "resource/tickets" && m.Event.Type == "created" {
				for _, id := range m.Event.Payload.IDs {
					heard[id] = true
				}
			}
		}
		esA = resumed

		// An id the server does not hold: every resource topic the
		// caller may read says "read again".
		stale := openEvents(t, carol, "0.1")
		topics := map[string]bool{}
		for !topics["resource/tickets"] {
			m := stale.next()
			if m.Event.Type != "updated" || len(m.Event.Payload.IDs) != 0 {
				t.Fatalf("after an unknown Last-Event-ID: %+v, want updated with no ids", m)
			}
			topics[m.Topic] = true
		}
		if topics["resource/users"] && !topics["resource/tickets"] {
			t.Errorf("reset topics %v", topics)
		}
	})

	t.Run("a ticket is no bearer token and a token no ticket", func(t *testing.T) {
		var tk struct {
			Ticket string `json:"ticket"`
		}
		a.admin.must(http.StatusOK, "POST", "/api/events/ticket", nil).JSON(t, &tk)
		withTicket := &client{tb: t, base: ts.URL, token: tk.Ticket}
		withTicket.must(http.StatusUnauthorized, "GET", "/api/tickets", nil)
		for _, bad := range []string{"", a.admin.token, "nonsense"} {
			resp, err := http.Get(ts.URL + "/api/events?ticket=" + url.QueryEscape(bad))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("ticket %.12q: got %d, want 401", bad, resp.StatusCode)
			}
		}
		(&client{tb: t, base: ts.URL}).must(http.StatusUnauthorized, "POST", "/api/events/ticket", nil)
	})

	t.Run("a deactivated user's stream ends", func(t *testing.T) {
		es := openEvents(t, dave, "")
		users := a.admin.list("/api/users" + filterQuery(map[string]any{"username": "dave"}, ""))
		a.admin.must(http.StatusOK, "POST", "/api/users/"+users.Data[0]["id"].(string)+"/deactivate", nil)
		select {
		case <-es.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the stream of a deactivated user is still open")
		}
	})

	t.Run("keep-alive comments", func(t *testing.T) {
		select {
		case c := <-esB.comments:
			if c != "keep-alive" {
				t.Errorf("comment %q", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no keep-alive")
		}
	})
}

// TestFollowedChangesReachOnlyTheirTenants: on a process that follows
// another, the feed hears only that records of a collection changed in
// some companies. The streams of those companies and superadmins get one
// "read again" message (no ids) on the resource's topic, at most one a
// second however many changes; another tenant hears nothing.
func TestFollowedChangesReachOnlyTheirTenants(t *testing.T) {
	dir := t.TempDir()
	ts := startServerWith(t, dir, testConfig(t, dir))
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Acme")
	b := newTenant(t, ts, root, "Globex")
	esRoot, esA, esB := openEvents(t, root, ""), openEvents(t, a.admin, ""), openEvents(t, b.admin, "")
	api := ts.srv.api.Load()
	// A follower reads events only for what a stream may be told.
	if !api.EventsWanted("tickets") || api.EventsWanted("audit_log") || api.EventsWanted("no_such") {
		t.Fatal("EventsWanted: want tickets (streams are open), not the audit log nor an unknown collection")
	}

	start := time.Now()
	for range 5 {
		api.FollowedChanges("tickets", []string{a.id})
	}
	readAgain := func(es *eventStream, who string) time.Time {
		t.Helper()
		m := es.next()
		if m.Topic != "resource/tickets" || m.Event.Type != "updated" || len(m.Event.Payload.IDs) != 0 || m.ID == "" {
			t.Fatalf("%s heard %+v; want one updated message with no ids on resource/tickets", who, m)
		}
		return time.Now()
	}
	readAgain(esA, "Acme's admin")
	readAgain(esRoot, "the superadmin")
	// Changes within the second are gathered into one message, sent once
	// the second is over; the sentinel for Globex comes after them.
	api.FollowedChanges("tickets", []string{a.id})
	api.FollowedChanges("tickets", []string{b.id})
	second := readAgain(esA, "Acme's admin, the second time")
	if gap := second.Sub(start); gap < 900*time.Millisecond {
		t.Fatalf("a second message after %s; want at most one a second", gap)
	}
	readAgain(esB, "Globex's admin") // one message, its own (checked below: no other)
	readAgain(esRoot, "the superadmin, the second time")
	select {
	case m := <-esA.msgs:
		t.Fatalf("Acme's admin heard %+v more; want one message per second", m)
	case m := <-esRoot.msgs:
		t.Fatalf("the superadmin heard %+v more; want one message per second", m)
	case m := <-esB.msgs:
		t.Fatalf("Globex's admin heard %+v more: Acme's change reached it", m)
	case <-time.After(1500 * time.Millisecond):
	}
}
