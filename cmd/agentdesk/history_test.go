package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"encoding/json"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/internal/auth"
	"agentdesk/projections"
)

// TestHistoryAndAsOf: an entity's history lists its events newest first
// with who, when and the record's changes; the state as of a time or a
// revision is the record as it was; roles and companies are respected;
// a deleted entity's past is still readable by those who could read it.
func TestHistoryAndAsOf(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	mk := func(name string) (string, *client) {
		co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": name}).Map(t)
		root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": name + "-admin", "password": "password-" + name, "role": "company_admin"})
		return co["id"].(string), login(t, ts.URL, name+"-admin", "password-"+name)
	}
	_, a := mk("hist")
	_, other := mk("other")
	a.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "hist-client", "password": "password-hist-client", "role": "client"})
	client := login(t, ts.URL, "hist-client", "password-hist-client")

	tk := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "First title", "priority": "low"}).Map(t)
	id := tk["id"].(string)
	time.Sleep(5 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	a.must(http.StatusOK, "PUT", "/api/tickets/"+id, map[string]any{"title": "Second title", "revision": 0})
	a.must(http.StatusOK, "POST", "/api/tickets/"+id+"/status", map[string]any{"status": "in_progress"})

	var h struct {
		Data []struct {
			Type     string `json:"type"`
			Revision uint64 `json:"revision"`
			Actor    struct {
				ID, Username, Role string
			} `json:"actor"`
			Changes map[string]struct{ Before, After any } `json:"changes"`
			Data    map[string]any                         `json:"data"`
		} `json:"data"`
		Total int `json:"total"`
	}
	a.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history", nil).JSON(t, &h)
	if h.Total != 3 || len(h.Data) != 3 || h.Data[0].Type != "ticket.status_changed" || h.Data[2].Type != "ticket.opened" {
		t.Fatalf("history: %+v", h)
	}
	if e := h.Data[1]; e.Type != "ticket.edited" || e.Changes["title"].Before != "First title" || e.Changes["title"].After != "Second title" ||
		e.Actor.Username != "hist-admin" || e.Actor.Role != "company_admin" {
		t.Fatalf("the edit: %+v", e)
	}
	a.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history?order=ASC&range=[0,0]", nil).JSON(t, &h)
	if len(h.Data) != 1 || h.Data[0].Revision != 0 || h.Total != 3 {
		t.Fatalf("oldest first, one: %+v", h)
	}

	title := func(query string) (string, int) {
		r := a.do("GET", "/api/tickets/"+id+"?"+query, nil)
		var rec struct{ Title string }
		_ = json.Unmarshal(r.Body, &rec)
		return rec.Title, r.Status
	}
	if got, st := title("as_of=" + url.QueryEscape(between.Format(time.RFC3339Nano))); got != "First title" || st != 200 {
		t.Fatalf("as of between: %q %d", got, st)
	}
	if got, _ := title("revision=1"); got != "Second title" {
		t.Fatalf("revision 1: %q", got)
	}
	if _, st := title("as_of=2001-01-01T00:00:00Z"); st != http.StatusNotFound {
		t.Fatalf("before it existed: %d, want 404", st)
	}

	// Others: another company's admin and a client who did not request it.
	other.must(http.StatusNotFound, "GET", "/api/tickets/"+id+"/history", nil)
	other.must(http.StatusNotFound, "GET", "/api/tickets/"+id+"?revision=0", nil)
	client.must(http.StatusNotFound, "GET", "/api/tickets/"+id+"/history", nil)
	root.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history", nil)

	// Deleted: its past stays readable by whoever could read it.
	a.must(http.StatusOK, "DELETE", "/api/tickets/"+id, nil)
	a.must(http.StatusNotFound, "GET", "/api/tickets/"+id, nil)
	a.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history", nil).JSON(t, &h)
	if h.Total != 4 || h.Data[0].Type != "ticket.deleted" {
		t.Fatalf("after the deletion: %+v", h)
	}
	if got, st := title("revision=2"); got != "Second title" || st != 200 {
		t.Fatalf("revision 2 of the deleted ticket: %q %d", got, st)
	}
	if _, st := title("revision=3"); st != http.StatusNotFound {
		t.Fatalf("as deleted: %d, want 404", st)
	}
	other.must(http.StatusNotFound, "GET", "/api/tickets/"+id+"/history", nil)
}

// TestHistoryAgreesWithTheReadModel replays random command sequences on
// tickets: for each, the read model's record, the state as of now, and
// the history's last "after" agree.
func TestHistoryAgreesWithTheReadModel(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Prop"}).Map(t)
	u := root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "prop-admin", "password": "password-prop", "role": "company_admin"}).Map(t)
	app, err := commands.New(commands.Config{Store: ts.srv.events, Hasher: auth.Bcrypt{Cost: 4}})
	if err != nil {
		t.Fatal(err)
	}
	m := commands.Meta{Principal: domain.Principal{UserID: u["id"].(string), CompanyID: co["id"].(string), Role: domain.CompanyAdmin}}
	a := login(t, ts.URL, "prop-admin", "password-prop")
	rng := rand.New(rand.NewPCG(7, 11))
	ctx := context.Background()
	for round := range 8 {
		res, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: fmt.Sprintf("t%d", round), Priority: ticket.Normal})
		if err != nil {
			t.Fatal(err)
		}
		id := res.ID
		last := res
		for range 3 + rng.IntN(12) {
			var r commands.Result
			switch rng.IntN(5) {
			case 0:
				title := fmt.Sprintf("t%d-%d", round, rng.IntN(1000))
				r, err = app.UpdateTicket(ctx, m, id, commands.UpdateTicket{EditCmd: ticket.EditCmd{Title: &title}})
			case 1:
				r, err = app.AssignTicket(ctx, m, id, u["id"].(string))
			case 2:
				to := []ticket.Status{ticket.Open, ticket.InProgress, ticket.Resolved}[rng.IntN(3)]
				r, err = app.ChangeTicketStatus(ctx, m, id, to)
			default:
				r, err = app.CommentTicket(ctx, m, id, fmt.Sprintf("c%d", rng.IntN(100)))
			}
			if err == nil && r.Changed {
				last = r
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = ts.srv.runner.Wait(wctx, projections.Tickets, last.Position)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var model, asOf map[string]any
		a.must(http.StatusOK, "GET", "/api/tickets/"+id, nil).JSON(t, &model)
		a.must(http.StatusOK, "GET", "/api/tickets/"+id+"?as_of="+url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), nil).JSON(t, &asOf)
		var h struct {
			Data []struct {
				Changes map[string]struct{ Before, After any } `json:"changes"`
			} `json:"data"`
			Total int `json:"total"`
		}
		a.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history?order=ASC&range=[0,999]", nil).JSON(t, &h)
		// The history's last "after": every change applied in order.
		replayed := map[string]any{}
		for _, e := range h.Data {
			for f, c := range e.Changes {
				replayed[f] = c.After
			}
		}
		if !reflect.DeepEqual(model, asOf) {
			t.Fatalf("ticket %s: read model %v, as of now %v", id, model, asOf)
		}
		if !reflect.DeepEqual(model, replayed) {
			t.Fatalf("ticket %s: read model %v, history's changes %v", id, model, replayed)
		}
	}
}

// TestHistoryOfAForgottenUser: a user's history shows their personal data
// while they have a key, and "[erased]" once forgotten, in the history's
// data and changes and in the state as of any time.
func TestHistoryOfAForgottenUser(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Forgetful"}).Map(t)
	u := root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "ada", "password": "password-ada-1",
		"role": "company_admin", "email": "ada.lovelace@example.com", "full_name": "Ada Lovelace"}).Map(t)
	id := u["id"].(string)
	body := string(root.must(http.StatusOK, "GET", "/api/users/"+id+"/history", nil).Body)
	if !strings.Contains(body, "Ada Lovelace") || strings.Contains(body, "pii:") {
		t.Fatalf("history before: %s", body)
	}
	if rec := string(root.must(http.StatusOK, "GET", "/api/users/"+id+"?revision=0", nil).Body); !strings.Contains(rec, "ada.lovelace@example.com") {
		t.Fatalf("as of revision 0: %s", rec)
	}
	root.must(http.StatusOK, "POST", "/api/users/"+id+"/forget", nil)
	body = string(root.must(http.StatusOK, "GET", "/api/users/"+id+"/history", nil).Body)
	if strings.Contains(body, "Ada") || strings.Contains(body, "lovelace") || !strings.Contains(body, domain.Erased) {
		t.Fatalf("history after forget: %s", body)
	}
	if rec := string(root.must(http.StatusOK, "GET", "/api/users/"+id+"?revision=0", nil).Body); strings.Contains(rec, "lovelace") {
		t.Fatalf("as of revision 0 after forget: %s", rec)
	}
	for _, q := range []string{"", "&as_of=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano))} {
		export := string(root.must(http.StatusOK, "GET", "/api/audit/export?company_id="+co["id"].(string)+q, nil).Body)
		if strings.Contains(export, "lovelace") || strings.Contains(export, "Ada L") || strings.Contains(export, "pii:v1") ||
			!strings.Contains(export, domain.Erased) || strings.Contains(export, "$2a$") {
			t.Fatalf("export%s after forget: %s", q, export)
		}
	}
}

// TestExportAsOf: audit export --as-of writes the company's entities as
// they were then, and only those that existed.
func TestExportAsOf(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Exported"}).Map(t)
	coID := co["id"].(string)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": coID, "username": "exp-admin", "password": "password-exp", "role": "company_admin"})
	a := login(t, ts.URL, "exp-admin", "password-exp")
	tk := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Then"}).Map(t)
	time.Sleep(5 * time.Millisecond)
	then := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	a.must(http.StatusOK, "PUT", "/api/tickets/"+tk["id"].(string), map[string]any{"title": "Now", "revision": 0})
	a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Later"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "asof.ndjson")
	env := map[string]string{"DATA_DIR": dir}
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"audit", "export", "--company", coID, "--as-of", then.Format(time.RFC3339Nano), "--out", out},
		func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("export: %v (%s)", err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tickets []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var l struct {
			Resource string
			Record   map[string]any
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if l.Resource == "tickets" {
			tickets = append(tickets, l.Record["title"].(string))
		}
	}
	if !reflect.DeepEqual(tickets, []string{"Then"}) {
		t.Fatalf("tickets as of then: %v (export: %s)", tickets, raw)
	}
}

// TestChildHistory: a comment's and a campaign content item's history
// come from their parent's stream, with the record before and after each
// event that changed it, and their state as of a revision of the parent.
func TestChildHistory(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Kids"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "kids-admin", "password": "password-kids", "role": "company_admin"})
	a := login(t, ts.URL, "kids-admin", "password-kids")
	co2 := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Strangers"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co2["id"], "username": "stranger", "password": "password-stranger", "role": "company_admin"})
	stranger := login(t, ts.URL, "stranger", "password-stranger")

	tk := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "With comments"}).Map(t)
	a.must(http.StatusCreated, "POST", "/api/tickets/"+tk["id"].(string)+"/comments", map[string]any{"body": "first"})
	cm := a.must(http.StatusCreated, "POST", "/api/tickets/"+tk["id"].(string)+"/comments", map[string]any{"body": "second"}).Map(t)
	var h struct {
		Data []struct {
			Type     string                                 `json:"type"`
			Revision uint64                                 `json:"revision"`
			Changes  map[string]struct{ Before, After any } `json:"changes"`
		} `json:"data"`
		Total int `json:"total"`
	}
	a.must(http.StatusOK, "GET", "/api/comments/"+cm["id"].(string)+"/history", nil).JSON(t, &h)
	if h.Total != 1 || h.Data[0].Type != "ticket.commented" || h.Data[0].Changes["body"].After != "second" || h.Data[0].Changes["body"].Before != nil {
		t.Fatalf("comment history: %+v", h)
	}
	a.must(http.StatusNotFound, "GET", "/api/comments/"+cm["id"].(string)+"?revision=1", nil) // before it was written
	if rec := a.must(http.StatusOK, "GET", "/api/comments/"+cm["id"].(string)+"?revision=2", nil).Map(t); rec["body"] != "second" {
		t.Fatalf("comment as of revision 2: %v", rec)
	}
	stranger.must(http.StatusNotFound, "GET", "/api/comments/"+cm["id"].(string)+"/history", nil)

	ag := a.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Writer bot", "model": "gpt-4o-mini"}).Map(t)
	cp := a.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{"name": "Launch", "agent_id": ag["id"], "channel": "email"}).Map(t)
	cpID := cp["id"].(string)
	item := a.must(http.StatusCreated, "POST", "/api/campaigns/"+cpID+"/content", map[string]any{"title": "Teaser", "body": "Soon."}).Map(t)
	itemID := item["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/campaigns/"+cpID+"/content/"+itemID, map[string]any{"title": "Teaser 2", "body": "Sooner."})
	a.must(http.StatusOK, "POST", "/api/campaigns/"+cpID+"/content/"+itemID+"/approve", nil)
	a.must(http.StatusOK, "GET", "/api/campaign_content/"+itemID+"/history", nil).JSON(t, &h)
	if h.Total != 3 || h.Data[0].Type != "campaign.content_approved" || h.Data[1].Changes["title"].Before != "Teaser" || h.Data[1].Changes["title"].After != "Teaser 2" {
		t.Fatalf("content item history: %+v", h)
	}
	if rec := a.must(http.StatusOK, "GET", fmt.Sprintf("/api/campaign_content/%s?revision=%d", itemID, h.Data[2].Revision), nil).Map(t); rec["title"] != "Teaser" {
		t.Fatalf("content item as first written: %v", rec)
	}
}
