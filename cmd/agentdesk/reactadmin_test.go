package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestReactAdminContract covers the gaps a stock React Admin 5 app hit,
// one subtest each, over HTTP on the embedded stores.
func TestReactAdminContract(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Hooli")

	t.Run("2 error bodies carry message beside detail", func(t *testing.T) {
		admin := a.admin.with(t)
		tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Closed soon"}).Map(t)
		id := tk["id"].(string)
		admin.must(http.StatusOK, "POST", "/api/tickets/"+id+"/status", map[string]any{"status": "resolved"})
		admin.must(http.StatusOK, "POST", "/api/tickets/"+id+"/status", map[string]any{"status": "closed"})
		for _, r := range []response{
			admin.must(http.StatusConflict, "PUT", "/api/tickets/"+id, map[string]any{"title": "Edited"}),
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/tickets", map[string]any{"title": ""}),
			admin.must(http.StatusNotFound, "GET", "/api/tickets/"+strings.Repeat("0", 8)+"-0000-0000-0000-000000000000", nil),
			admin.must(http.StatusBadRequest, "GET", "/api/tickets?sort=nope", nil),
		} {
			body := r.Map(t)
			if body["message"] == nil || body["message"] != body["detail"] {
				t.Fatalf("error body %s: want message equal to detail", r.Body)
			}
		}
	})

	t.Run("6 CORS for a browser admin", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", ts.URL+"/api/tickets", nil)
		req.Header.Set("Origin", "http://admin.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization,range,x-requested-with,if-match")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "range", "x-requested-with", "if-match"} {
			if !strings.Contains(allowed, h) {
				t.Fatalf("preflight allows %q, want %s among them", allowed, h)
			}
		}
		get, _ := http.NewRequest("GET", ts.URL+"/healthz", nil)
		get.Header.Set("Origin", "http://admin.example")
		resp, err = http.DefaultClient.Do(get)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"content-range", "etag", "retry-after", "www-authenticate"} {
			if !strings.Contains(exposed, h) {
				t.Fatalf("exposed headers %q, want %s among them", exposed, h)
			}
		}
	})

	t.Run("7 sign-in takes JSON", func(t *testing.T) {
		anon := &client{tb: t, base: ts.URL}
		tok := anon.must(http.StatusOK, "POST", "/auth/token", map[string]any{"username": "admin", "password": testAdminPassword}).Map(t)
		if tok["access_token"] == "" || tok["token_type"] != "bearer" {
			t.Fatalf("JSON sign-in answered %v", tok)
		}
		anon.must(http.StatusUnauthorized, "POST", "/auth/token", map[string]any{"username": "admin", "password": "wrong-password"})
		anon.must(http.StatusBadRequest, "POST", "/auth/token", `{"username":`)
	})

	t.Run("4 null means not set, dates alone are accepted", func(t *testing.T) {
		admin := a.admin.with(t)
		me := admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
		assigned := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Assigned"}).Map(t)
		admin.must(http.StatusOK, "POST", "/api/tickets/"+assigned["id"].(string)+"/assign", map[string]any{"assignee_id": me["id"]})
		all := admin.list("/api/tickets" + filterQuery(map[string]any{}, "limit=1000"))
		unassigned := admin.list("/api/tickets" + filterQuery(map[string]any{"assignee_id": nil}, "limit=1000"))
		set := admin.list("/api/tickets" + filterQuery(map[string]any{"assignee_id_ne": nil}, "limit=1000"))
		if unassigned.Total+set.Total != all.Total || set.Total != 1 || set.Data[0]["id"] != assigned["id"] {
			t.Fatalf("null filters: %d unassigned + %d assigned, of %d; want the one assigned ticket apart", unassigned.Total, set.Total, all.Total)
		}
		for _, d := range unassigned.Data {
			if d["assignee_id"] != nil {
				t.Fatalf("assignee_id null listed %v", d)
			}
		}
		if l := admin.list("/api/tickets" + filterQuery(map[string]any{"created_at_gte": "2000-01-01", "created_at_lt": "9999-12-31"}, "")); l.Total != all.Total {
			t.Fatalf("date-only range listed %d of %d", l.Total, all.Total)
		}
	})

	t.Run("5 empty pages and getMany", func(t *testing.T) {
		admin := a.admin.with(t)
		var ids []string
		for i := range 30 {
			ids = append(ids, admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Many %d", i)}).Map(t)["id"].(string))
		}
		r := admin.must(http.StatusOK, "GET", "/api/tickets"+filterQuery(map[string]any{"title": "nothing like this"}, ""), nil)
		if got := r.Header.Get("Content-Range"); got != "tickets */0" {
			t.Fatalf("empty list: Content-Range %q, want tickets */0", got)
		}
		all := admin.list("/api/tickets")
		r = admin.must(http.StatusOK, "GET", fmt.Sprintf("/api/tickets?range=[%d,%d]", all.Total+10, all.Total+19), nil)
		if got, want := r.Header.Get("Content-Range"), fmt.Sprintf("tickets */%d", all.Total); got != want {
			t.Fatalf("past the end: Content-Range %q, want %q", got, want)
		}
		many := admin.list("/api/tickets" + filterQuery(map[string]any{"id": ids}, ""))
		if len(many.Data) != len(ids) {
			t.Fatalf("getMany of %d ids returned %d", len(ids), len(many.Data))
		}
	})

	t.Run("4 enums sort in domain order, references sort", func(t *testing.T) {
		admin := a.admin.with(t)
		for _, pr := range []string{"urgent", "low", "high", "normal"} {
			admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Ranked " + pr, "priority": pr, "tags": []string{"ranked"}})
		}
		l := admin.list("/api/tickets" + filterQuery(map[string]any{"tags": "ranked"}, `sort=["priority","ASC"]`))
		var got []string
		for _, d := range l.Data {
			got = append(got, d["priority"].(string))
		}
		if strings.Join(got, ",") != "low,normal,high,urgent" {
			t.Fatalf("sorted by priority: %v, want low,normal,high,urgent", got)
		}
		if l := admin.list("/api/tickets" + filterQuery(map[string]any{"tags": "ranked", "priority_gte": "high"}, "")); l.Total != 2 {
			t.Fatalf("priority_gte high: %d tickets, want 2", l.Total)
		}
		admin.must(http.StatusBadRequest, "GET", "/api/tickets"+filterQuery(map[string]any{"priority": "critical"}, ""), nil)
		for _, f := range []string{"requester_id", "assignee_id", "company_id"} {
			admin.must(http.StatusOK, "GET", "/api/tickets?sort="+f+"&order=ASC", nil)
		}
	})

	t.Run("8 comments answer themselves and are a resource", func(t *testing.T) {
		admin := a.admin.with(t)
		tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Talkative"}).Map(t)
		id := tk["id"].(string)
		c := admin.must(http.StatusCreated, "POST", "/api/tickets/"+id+"/comments", map[string]any{"body": "First!"}).Map(t)
		if c["id"] == nil || c["id"] == id || c["body"] != "First!" || c["ticket_id"] != id {
			t.Fatalf("POST comment answered %v, want the new comment", c)
		}
		got := admin.must(http.StatusOK, "GET", "/api/comments/"+c["id"].(string), nil).Map(t)
		if got["id"] != c["id"] || got["body"] != "First!" {
			t.Fatalf("GET comment: %v, want %v", got, c)
		}
		admin.must(http.StatusCreated, "POST", "/api/tickets/"+id+"/comments", map[string]any{"body": "Second"})
		l := admin.list("/api/comments" + filterQuery(map[string]any{"ticket_id": id}, ""))
		if l.Total != 2 || l.Data[0]["body"] != "First!" || l.Data[1]["body"] != "Second" {
			t.Fatalf("comments of the ticket: %+v, want the two, oldest first", l)
		}
		// No ticket named: the message says how to name one.
		if got := admin.must(http.StatusBadRequest, "GET", "/api/comments", nil).Map(t)["detail"]; got != `list comments of one ticket at a time: filter by ticket_id (an equality, such as {"ticket_id": "<id>"})` {
			t.Fatalf("comments of no ticket: %q", got)
		}
		b := newTenant(t, ts, root, "Initrode")
		b.admin.must(http.StatusNotFound, "GET", "/api/comments"+filterQuery(map[string]any{"ticket_id": id}, ""), nil)
		b.admin.must(http.StatusNotFound, "GET", "/api/comments/"+c["id"].(string), nil)
	})

	t.Run("1 no lost updates: revision and If-Match", func(t *testing.T) {
		admin := a.admin.with(t)
		tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Shared"}).Map(t)
		id := tk["id"].(string)
		got := admin.must(http.StatusOK, "GET", "/api/tickets/"+id, nil)
		if got.Header.Get("ETag") != `"0"` {
			t.Fatalf("GET ETag %q, want \"0\"", got.Header.Get("ETag"))
		}
		// Two editors load revision 0; the first saves, the second's save
		// of the whole record it loaded must not overwrite it.
		first, second := got.Map(t), got.Map(t)
		first["title"], second["title"] = "Edited by one", "Edited by two"
		saved := admin.must(http.StatusOK, "PUT", "/api/tickets/"+id, first)
		if saved.Header.Get("ETag") != `"1"` {
			t.Fatalf("PUT ETag %q, want \"1\"", saved.Header.Get("ETag"))
		}
		conflict := admin.must(http.StatusConflict, "PUT", "/api/tickets/"+id, second).Map(t)
		if !strings.Contains(conflict["message"].(string), "changed by someone else") {
			t.Fatalf("stale PUT answered %v", conflict)
		}
		if now := admin.must(http.StatusOK, "GET", "/api/tickets/"+id, nil).Map(t); now["title"] != "Edited by one" {
			t.Fatalf("after the stale PUT the title is %v", now["title"])
		}
		// If-Match does the same, for PUT and DELETE.
		admin.must(http.StatusConflict, "PUT", "/api/tickets/"+id, map[string]any{"title": "Late"}, "If-Match", `"0"`)
		admin.must(http.StatusOK, "PUT", "/api/tickets/"+id, map[string]any{"title": "On time"}, "If-Match", `W/"1"`)
		admin.must(http.StatusConflict, "DELETE", "/api/tickets/"+id, nil, "If-Match", `"1"`)
		admin.must(http.StatusBadRequest, "PUT", "/api/tickets/"+id, map[string]any{"title": "x", "revision": 2}, "If-Match", `"1"`)
		admin.must(http.StatusBadRequest, "PUT", "/api/tickets/"+id, map[string]any{"title": "x", "revision": "two"})
		admin.must(http.StatusOK, "DELETE", "/api/tickets/"+id, nil, "If-Match", `"2"`)
	})

	t.Run("3 create and edit take the same record; fixed fields refuse change", func(t *testing.T) {
		admin := a.admin.with(t)
		tk := admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Original", "priority": "high"}).Map(t)
		// Clone: POST the record as read back, id and all.
		clone := admin.must(http.StatusCreated, "POST", "/api/tickets", tk).Map(t)
		if clone["id"] == tk["id"] || clone["title"] != "Original" || clone["priority"] != "high" {
			t.Fatalf("clone: %v from %v", clone, tk)
		}
		edit := admin.must(http.StatusOK, "GET", "/api/tickets/"+tk["id"].(string), nil).Map(t)
		edit["requester_id"] = clone["id"]
		bad := admin.must(http.StatusUnprocessableEntity, "PUT", "/api/tickets/"+tk["id"].(string), edit).Map(t)
		if errs, _ := bad["errors"].(map[string]any); errs["requester_id"] == nil {
			t.Fatalf("changing requester_id answered %v", bad)
		}
		me := admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
		u := admin.must(http.StatusOK, "GET", "/api/users/"+me["id"].(string), nil).Map(t)
		u["username"] = "someone-else"
		admin.must(http.StatusUnprocessableEntity, "PUT", "/api/users/"+me["id"].(string), u)
		u["username"], u["company_id"] = me["username"], "00000000-0000-0000-0000-000000000000"
		admin.must(http.StatusUnprocessableEntity, "PUT", "/api/users/"+me["id"].(string), u)
		u["company_id"] = me["company_id"]
		admin.must(http.StatusOK, "PUT", "/api/users/"+me["id"].(string), u)
	})
}
