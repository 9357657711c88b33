package main

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"agentdesk/eventstore"
	"agentdesk/projections"
)

// tenant is a company with its admin signed in.
type tenant struct {
	id    string
	admin *client
}

func (tn tenant) with(tb testing.TB) tenant { return tenant{id: tn.id, admin: tn.admin.with(tb)} }

func newTenant(t *testing.T, ts *testServer, root *client, name string) tenant {
	t.Helper()
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": name}).Map(t)
	id := co["id"].(string)
	username := strings.ToLower(name) + "-admin"
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{
		"company_id": id, "username": username, "password": "password-" + name, "role": "company_admin",
		"email": username + "@example.com", "full_name": name + " Admin",
	})
	return tenant{id: id, admin: login(t, ts.URL, username, "password-"+name)}
}

// TestEndToEnd drives two companies over HTTP on every combination of
// stores.
func TestEndToEnd(t *testing.T) { onEveryBackend(t, endToEnd) }

func endToEnd(t *testing.T, stores backend) {
	ts := startServerOn(t, t.TempDir(), stores)
	root := login(t, ts.URL, "admin", testAdminPassword)

	me := root.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	if me["role"] != "superadmin" || me["username"] != "admin" {
		t.Fatalf("GET /auth/me: got %v, want the superadmin", me)
	}
	if _, leaked := me["password_hash"]; leaked {
		t.Fatal("GET /auth/me exposes the password hash")
	}

	a := newTenant(t, ts, root, "Acme")
	b := newTenant(t, ts, root, "Globex")
	meA := a.admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	if meA["company_id"] != a.id || meA["role"] != "company_admin" {
		t.Fatalf("admin A /auth/me: got %v", meA)
	}

	// Tickets in company A, with a spread of priorities, tags and statuses.
	type spec struct {
		title, priority string
		tags            []string
	}
	specs := []spec{
		{"Printer on fire", "urgent", []string{"hardware", "fire"}},
		{"Password reset", "low", []string{"account"}},
		{"VPN drops hourly", "high", []string{"network"}},
		{"New laptop", "normal", []string{"hardware"}},
		{"Email bounce", "normal", nil},
		{"Invoice wrong", "high", []string{"billing"}},
	}
	var ticketsA []map[string]any
	for _, s := range specs {
		body := map[string]any{"title": s.title, "description": "about " + s.title, "priority": s.priority}
		if s.tags != nil {
			body["tags"] = s.tags
		}
		rec := a.admin.must(http.StatusCreated, "POST", "/api/tickets", body).Map(t)
		if rec["title"] != s.title || rec["status"] != "open" || rec["company_id"] != a.id || rec["requester_id"] != meA["id"] {
			t.Fatalf("create ticket: got %v", rec)
		}
		// Read-your-writes: the next GET returns exactly what the write did.
		got := a.admin.must(http.StatusOK, "GET", "/api/tickets/"+rec["id"].(string), nil).Map(t)
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("GET after POST: got %v, want %v", got, rec)
		}
		ticketsA = append(ticketsA, rec)
	}
	ticketB := b.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Globex only"}).Map(t)
	idB := ticketB["id"].(string)
	if ticketB["priority"] != "normal" {
		t.Fatalf("default priority: got %v, want normal", ticketB["priority"])
	}
	first := ticketsA[0]["id"].(string)
	path := "/api/tickets/" + first

	// Edit, assign, move through the lifecycle and comment.
	edited := a.admin.must(http.StatusOK, "PUT", path, map[string]any{"title": "Printer on fire (3rd floor)", "tags": []string{"hardware", "Fire", "urgent"}}).Map(t)
	if edited["title"] != "Printer on fire (3rd floor)" || !reflect.DeepEqual(edited["tags"], []any{"hardware", "fire", "urgent"}) {
		t.Fatalf("edit: got %v", edited)
	}
	// React Admin sends the whole record back on update.
	edited["description"] = "smoke everywhere"
	whole := a.admin.must(http.StatusOK, "PUT", path, edited).Map(t)
	if whole["description"] != "smoke everywhere" {
		t.Fatalf("PUT whole record: got %v", whole)
	}
	assigned := a.admin.must(http.StatusOK, "POST", path+"/assign", map[string]any{"assignee_id": meA["id"]}).Map(t)
	if assigned["assignee_id"] != meA["id"] {
		t.Fatalf("assign: got %v", assigned["assignee_id"])
	}
	for _, st := range []string{"in_progress", "resolved", "closed"} {
		rec := a.admin.must(http.StatusOK, "POST", path+"/status", map[string]any{"status": st}).Map(t)
		if rec["status"] != st {
			t.Fatalf("status %s: got %v", st, rec["status"])
		}
	}
	a.admin.must(http.StatusConflict, "POST", path+"/comments", map[string]any{"body": "on a closed ticket"})
	a.admin.must(http.StatusConflict, "POST", path+"/status", map[string]any{"status": "in_progress"})
	a.admin.must(http.StatusOK, "POST", path+"/status", map[string]any{"status": "open"})
	for i := range 3 {
		rec := a.admin.must(http.StatusCreated, "POST", path+"/comments", map[string]any{"body": fmt.Sprintf("comment %d", i)}).Map(t)
		if rec["body"] != fmt.Sprintf("comment %d", i) || rec["ticket_id"] != first {
			t.Fatalf("comment %d: answered %v, want the comment", i, rec)
		}
		if tk := a.admin.must(http.StatusOK, "GET", path, nil).Map(t); tk["comment_count"] != float64(i+1) {
			t.Fatalf("comment %d: comment_count %v", i, tk["comment_count"])
		}
	}
	var thread struct {
		Data []struct {
			ID        string `json:"id"`
			TicketID  string `json:"ticket_id"`
			AuthorID  string `json:"author_id"`
			Body      string `json:"body"`
			CreatedAt string `json:"created_at"`
		} `json:"data"`
		Total int `json:"total"`
	}
	a.admin.must(http.StatusOK, "GET", path+"/comments", nil).JSON(t, &thread)
	if thread.Total != 3 || len(thread.Data) != 3 || thread.Data[0].Body != "comment 0" || thread.Data[2].Body != "comment 2" ||
		thread.Data[1].AuthorID != meA["id"] || thread.Data[1].TicketID != first || thread.Data[1].CreatedAt == "" {
		t.Fatalf("comments: got %+v", thread)
	}
	a.admin.must(http.StatusOK, "GET", path+"/comments?range=[1,1]", nil).JSON(t, &thread)
	if thread.Total != 3 || len(thread.Data) != 1 || thread.Data[0].Body != "comment 1" {
		t.Fatalf("comments range [1,1]: got %+v", thread)
	}
	b.admin.must(http.StatusNotFound, "GET", path+"/comments", nil)
	after := a.admin.must(http.StatusOK, "GET", path, nil).Map(t)
	if after["last_activity_at"].(string) <= after["created_at"].(string) {
		t.Fatalf("last_activity_at %v not after created_at %v", after["last_activity_at"], after["created_at"])
	}
	unassigned := a.admin.must(http.StatusOK, "POST", path+"/assign", map[string]any{"assignee_id": nil}).Map(t)
	if unassigned["assignee_id"] != nil {
		t.Fatalf("unassign: got %v", unassigned["assignee_id"])
	}
	a.admin.must(http.StatusOK, "POST", "/api/tickets/"+ticketsA[2]["id"].(string)+"/status", map[string]any{"status": "in_progress"})

	t.Run("list features", func(t *testing.T) {
		a := a.with(t)
		all := a.admin.list("/api/tickets")
		if all.Total != int64(len(specs)) || len(all.Data) != len(specs) {
			t.Fatalf("list: got total %d, %d rows; want %d", all.Total, len(all.Data), len(specs))
		}
		// Default sort is newest first.
		if all.Data[0]["title"] != "Invoice wrong" {
			t.Fatalf("default order: first is %v, want the newest ticket", all.Data[0]["title"])
		}
		open := a.admin.list("/api/tickets" + filterQuery(map[string]any{"status": "open"}, ""))
		if open.Total != 5 {
			t.Fatalf("status=open: total %d, want 5", open.Total)
		}
		in := a.admin.list("/api/tickets" + filterQuery(map[string]any{"priority": []string{"high", "urgent"}}, "sort=title&order=ASC"))
		if got := titles(in); !reflect.DeepEqual(got, []string{"Invoice wrong", "Printer on fire (3rd floor)", "VPN drops hourly"}) {
			t.Fatalf("priority in [high urgent] sorted by title: got %v", got)
		}
		ne := a.admin.list("/api/tickets" + filterQuery(map[string]any{"priority_ne": "normal"}, ""))
		if ne.Total != 4 {
			t.Fatalf("priority_ne=normal: total %d, want 4", ne.Total)
		}
		q := a.admin.list("/api/tickets" + filterQuery(map[string]any{"q": "vpn"}, ""))
		if got := titles(q); !reflect.DeepEqual(got, []string{"VPN drops hourly"}) {
			t.Fatalf("q=vpn: got %v", got)
		}
		tag := a.admin.list("/api/tickets" + filterQuery(map[string]any{"tags": "hardware"}, ""))
		if tag.Total != 2 {
			t.Fatalf("tags=hardware: total %d, want 2", tag.Total)
		}
		cc := a.admin.list("/api/tickets" + filterQuery(map[string]any{"comment_count_gte": 1}, ""))
		if cc.Total != 1 || cc.Data[0]["id"] != first {
			t.Fatalf("comment_count_gte=1: got %v", ids(cc))
		}
		since := ticketsA[3]["created_at"].(string)
		gte := a.admin.list("/api/tickets" + filterQuery(map[string]any{"created_at_gte": since}, ""))
		lt := a.admin.list("/api/tickets" + filterQuery(map[string]any{"created_at_lt": since}, ""))
		if gte.Total != 3 || lt.Total != 3 {
			t.Fatalf("created_at_gte / _lt %s: totals %d and %d, want 3 and 3", since, gte.Total, lt.Total)
		}
		// Paging with skip/limit and with range covers everything once.
		var paged []string
		for skip := 0; skip < len(specs); skip += 4 {
			p := a.admin.list(fmt.Sprintf("/api/tickets?skip=%d&limit=4&sort=created_at&order=ASC", skip))
			if p.Total != int64(len(specs)) {
				t.Fatalf("page total %d", p.Total)
			}
			paged = append(paged, ids(p)...)
		}
		var ranged []string
		for from := 0; from < len(specs); from += 3 {
			r := a.admin.do("GET", fmt.Sprintf(`/api/tickets?range=[%d,%d]&sort=["created_at","ASC"]`, from, from+2), nil)
			if r.Status != http.StatusOK {
				t.Fatalf("range: status %d %s", r.Status, r.Body)
			}
			if cr := r.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("tickets %d-", from)) || !strings.HasSuffix(cr, fmt.Sprintf("/%d", len(specs))) {
				t.Fatalf("Content-Range: got %q", cr)
			}
			var l listResult
			r.JSON(t, &l)
			ranged = append(ranged, ids(l)...)
		}
		var want []string
		for _, tk := range ticketsA {
			want = append(want, tk["id"].(string))
		}
		if !reflect.DeepEqual(paged, want) || !reflect.DeepEqual(ranged, want) {
			t.Fatalf("paging: got %v and %v, want %v", paged, ranged, want)
		}
		// getMany and getManyReference.
		many := a.admin.list("/api/tickets" + filterQuery(map[string]any{"id": []string{want[1], want[4], idB}}, "sort=created_at&order=ASC"))
		if got := ids(many); !reflect.DeepEqual(got, []string{want[1], want[4]}) {
			t.Fatalf("getMany: got %v, want %v (never the other company's)", got, []string{want[1], want[4]})
		}
		ref := a.admin.list("/api/tickets" + filterQuery(map[string]any{"requester_id": meA["id"]}, ""))
		if ref.Total != int64(len(specs)) {
			t.Fatalf("getManyReference requester_id: total %d", ref.Total)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		a, b, root := a.with(t), b.with(t), root.with(t)
		// Each admin tries every read, write and action on the other's tickets.
		attempts := []struct {
			intruder *client
			ids      []string
		}{{b.admin, nil}, {a.admin, []string{idB}}}
		for _, tk := range ticketsA {
			attempts[0].ids = append(attempts[0].ids, tk["id"].(string))
		}
		for _, at := range attempts {
			for _, id := range at.ids {
				p := "/api/tickets/" + id
				at.intruder.must(http.StatusNotFound, "GET", p, nil)
				at.intruder.must(http.StatusNotFound, "PUT", p, map[string]any{"title": "hijacked"})
				at.intruder.must(http.StatusNotFound, "POST", p+"/status", map[string]any{"status": "in_progress"})
				at.intruder.must(http.StatusNotFound, "POST", p+"/assign", map[string]any{"assignee_id": nil})
				at.intruder.must(http.StatusNotFound, "POST", p+"/comments", map[string]any{"body": "hi"})
				at.intruder.must(http.StatusNotFound, "DELETE", p, nil)
			}
		}
		if got := b.admin.must(http.StatusOK, "GET", "/api/tickets/"+idB, nil).Map(t); got["title"] != "Globex only" || got["status"] != "open" || got["comment_count"] != 0.0 {
			t.Fatalf("B's ticket changed by A: %v", got)
		}
		listB := b.admin.list("/api/tickets")
		if listB.Total != 1 || listB.Data[0]["id"] != idB {
			t.Fatalf("B's list: got %v", ids(listB))
		}
		sneaky := b.admin.list("/api/tickets" + filterQuery(map[string]any{"company_id": a.id}, ""))
		if sneaky.Total != 0 {
			t.Fatalf("B filtering by A's company: total %d, want 0", sneaky.Total)
		}
		// Nothing B tried changed A's tickets.
		for _, tk := range ticketsA[1:] {
			got := a.admin.must(http.StatusOK, "GET", "/api/tickets/"+tk["id"].(string), nil).Map(t)
			if got["title"] != tk["title"] {
				t.Fatalf("A's ticket changed: %v", got)
			}
		}
		// Companies and users are scoped too.
		if l := b.admin.list("/api/companies"); l.Total != 1 || l.Data[0]["id"] != b.id {
			t.Fatalf("B's companies: %v", ids(l))
		}
		b.admin.must(http.StatusNotFound, "GET", "/api/companies/"+a.id, nil)
		b.admin.must(http.StatusNotFound, "GET", "/api/users/"+meA["id"].(string), nil)
		if l := b.admin.list("/api/users"); l.Total != 1 {
			t.Fatalf("B's users: %v", ids(l))
		}
		b.admin.must(http.StatusForbidden, "POST", "/api/companies", map[string]any{"name": "Evil"})
		b.admin.must(http.StatusUnprocessableEntity, "POST", "/api/users", map[string]any{
			"company_id": a.id, "username": "mole", "password": "password123", "role": "company_admin"})
		b.admin.must(http.StatusForbidden, "POST", "/api/users", map[string]any{
			"username": "root2", "password": "password123", "role": "superadmin"})
		if l := root.list("/api/tickets"); l.Total != int64(len(specs))+1 {
			t.Fatalf("superadmin sees every company: total %d", l.Total)
		}
	})

	t.Run("roles", func(t *testing.T) {
		a := a.with(t)
		a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "carol", "password": "carol-pass", "role": "client"})
		w := a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "wendy", "password": "wendy-pass", "role": "content_writer"}).Map(t)
		carol := login(t, ts.URL, "carol", "carol-pass")
		wendy := login(t, ts.URL, "wendy", "wendy-pass")
		if l := carol.list("/api/tickets"); l.Total != 0 {
			t.Fatalf("client sees others' tickets: %v", ids(l))
		}
		own := carol.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "My request"}).Map(t)
		carol.must(http.StatusCreated, "POST", "/api/tickets/"+own["id"].(string)+"/comments", map[string]any{"body": "any news?"})
		if l := carol.list("/api/tickets/" + own["id"].(string) + "/comments"); l.Total != 1 || l.Data[0]["body"] != "any news?" {
			t.Fatalf("client reads own comments: %+v", l)
		}
		carol.must(http.StatusNotFound, "GET", "/api/tickets/"+ticketsA[0]["id"].(string)+"/comments", nil)
		carol.must(http.StatusForbidden, "PUT", "/api/tickets/"+own["id"].(string), map[string]any{"title": "changed"})
		carol.must(http.StatusNotFound, "GET", "/api/tickets/"+ticketsA[1]["id"].(string), nil)
		if l := carol.list("/api/tickets"); l.Total != 1 {
			t.Fatalf("client's own tickets: total %d, want 1", l.Total)
		}
		if l := carol.list("/api/users"); l.Total != 1 || l.Data[0]["username"] != "carol" {
			t.Fatalf("client lists users: %v", ids(l))
		}
		target := "/api/tickets/" + ticketsA[1]["id"].(string)
		wendy.must(http.StatusForbidden, "PUT", target, map[string]any{"title": "not mine"})
		wendy.must(http.StatusCreated, "POST", target+"/comments", map[string]any{"body": "looking"})
		a.admin.must(http.StatusOK, "POST", target+"/assign", map[string]any{"assignee_id": w["id"]})
		wendy.must(http.StatusOK, "PUT", target, map[string]any{"title": "now mine"})
		wendy.must(http.StatusForbidden, "DELETE", target, nil)
		wendy.must(http.StatusForbidden, "GET", "/api/companies", nil)
	})

	t.Run("bad input", func(t *testing.T) {
		a, b := a.with(t), b.with(t)
		p := "/api/tickets/" + ticketsA[4]["id"].(string)
		cases := []struct {
			name, method, path string
			body               any
			want               int
			field              string
		}{
			{"malformed JSON", "POST", "/api/tickets", `{"title": `, 400, ""},
			{"not an object", "POST", "/api/tickets", `[1,2]`, 400, ""},
			{"unknown field", "POST", "/api/tickets", `{"title":"x","colour":"red"}`, 400, "colour"},
			{"wrong type", "POST", "/api/tickets", `{"title": 42}`, 400, "title"},
			{"trailing data", "POST", "/api/tickets", `{"title":"x"} {"title":"y"}`, 400, ""},
			{"empty body", "POST", "/api/tickets", ``, 400, ""},
			{"too large", "POST", "/api/tickets", `{"title":"x","description":"` + strings.Repeat("a", 1<<20) + `"}`, 413, ""},
			{"missing title", "POST", "/api/tickets", `{"priority":"high"}`, 422, "title"},
			{"bad priority", "POST", "/api/tickets", `{"title":"x","priority":"whenever"}`, 422, "priority"},
			{"bad status", "POST", p + "/status", `{"status":"done"}`, 422, "status"},
			{"invalid transition", "POST", p + "/status", `{"status":"closed"}`, 409, ""},
			{"unknown assignee", "POST", p + "/assign", `{"assignee_id":"00000000-0000-4000-8000-000000000000"}`, 422, "assignee_id"},
			{"other company's assignee", "POST", p + "/assign", fmt.Sprintf(`{"assignee_id":%q}`, b.admin.must(200, "GET", "/auth/me", nil).Map(t)["id"]), 422, "assignee_id"},
			{"id mismatch", "PUT", p, `{"id":"00000000-0000-4000-8000-000000000000","title":"x"}`, 422, "id"},
			{"invalid id", "GET", "/api/tickets/not-an-id", nil, 404, ""},
			{"unknown filter field", "GET", "/api/tickets" + filterQuery(map[string]any{"password_hash": "x"}, ""), nil, 400, ""},
			{"unknown filter suffix", "GET", "/api/tickets" + filterQuery(map[string]any{"status_like": "x"}, ""), nil, 400, ""},
			{"filter not JSON", "GET", "/api/tickets?filter=status", nil, 400, ""},
			{"unknown sort field", "GET", "/api/tickets?sort=description", nil, 400, ""},
			{"bad order", "GET", "/api/tickets?sort=title&order=UP", nil, 400, ""},
			{"bad limit", "GET", "/api/tickets?limit=-1", nil, 400, ""},
			{"huge limit", "GET", "/api/tickets?limit=100000", nil, 400, ""},
			{"bad range", "GET", "/api/tickets?range=[5,1]", nil, 400, ""},
			{"bad time value", "GET", "/api/tickets" + filterQuery(map[string]any{"created_at_gte": "yesterday"}, ""), nil, 400, ""},
			{"unknown resource", "GET", "/api/widgets", nil, 404, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := a.admin.do(c.method, c.path, c.body)
				if r.Status != c.want {
					t.Fatalf("got status %d, want %d; body %s", r.Status, c.want, r.Body)
				}
				var prob struct {
					Detail string            `json:"detail"`
					Errors map[string]string `json:"errors"`
				}
				r.JSON(t, &prob)
				if prob.Detail == "" {
					t.Fatalf("no detail in %s", r.Body)
				}
				if c.field != "" && prob.Errors[c.field] == "" {
					t.Fatalf("errors[%q] missing in %s", c.field, r.Body)
				}
			})
		}
		// Nothing above wrote anything.
		if l := a.admin.list("/api/tickets" + filterQuery(map[string]any{"title": "x"}, "")); l.Total != 0 {
			t.Fatalf("a rejected request wrote a ticket: %v", ids(l))
		}
		anon := &client{tb: t, base: ts.URL}
		anon.must(http.StatusUnauthorized, "GET", "/api/tickets", nil)
		(&client{tb: t, base: ts.URL, token: "not.a.token"}).must(http.StatusUnauthorized, "GET", "/api/tickets", nil)
		resp, err := http.PostForm(ts.URL+"/auth/token", map[string][]string{"username": {"admin"}, "password": {"wrong-password"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: got %d, want 401", resp.StatusCode)
		}
	})

	t.Run("idempotency", func(t *testing.T) {
		a, b := a.with(t), b.with(t)
		body := map[string]any{"title": "Exactly once"}
		const key = "6a1f0e7e-retry-key"
		var wg sync.WaitGroup
		results := make([]response, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = a.admin.do("POST", "/api/tickets", body, "Idempotency-Key", key)
			}()
		}
		wg.Wait()
		for _, r := range results {
			if r.Status != http.StatusCreated || string(r.Body) != string(results[0].Body) {
				t.Fatalf("same key, same body: got %d %s, want 201 %s", r.Status, r.Body, results[0].Body)
			}
		}
		again := a.admin.must(http.StatusCreated, "POST", "/api/tickets", body, "Idempotency-Key", key)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(results[0].Body) {
			t.Fatalf("replay: got %s", again.Body)
		}
		if l := a.admin.list("/api/tickets" + filterQuery(map[string]any{"title": "Exactly once"}, "")); l.Total != 1 {
			t.Fatalf("idempotent create made %d tickets, want 1", l.Total)
		}
		a.admin.must(http.StatusConflict, "POST", "/api/tickets", map[string]any{"title": "Another body"}, "Idempotency-Key", key)
		// Another user of the same company reusing the key gets a conflict,
		// never the first user's response.
		a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "mia", "password": "mia-password", "role": "content_manager"})
		mia := login(t, ts.URL, "mia", "mia-password")
		mia.must(http.StatusConflict, "POST", "/api/tickets", body, "Idempotency-Key", key)
		// The key is per company: B may use the same key for its own request.
		b.admin.must(http.StatusCreated, "POST", "/api/tickets", body, "Idempotency-Key", key)

		// Once the record has expired the retry is answered afresh, but
		// appends nothing: the ticket's id is derived from the key.
		ttl := ts.srv.cfg.IdempotencyTTL
		ts.srv.idempotency.setClock(func() time.Time { return time.Now().Add(3 * ttl) })
		defer ts.srv.idempotency.setClock(time.Now)
		late := a.admin.must(http.StatusCreated, "POST", "/api/tickets", body, "Idempotency-Key", key)
		if late.Header.Get("Idempotent-Replayed") == "true" {
			t.Fatal("a retry after the record expired was replayed from the record")
		}
		if late.Map(t)["id"] != results[0].Map(t)["id"] {
			t.Fatalf("a retry after expiry answered %s, want the same ticket as %s", late.Body, results[0].Body)
		}
		if l := a.admin.list("/api/tickets" + filterQuery(map[string]any{"title": "Exactly once"}, "")); l.Total != 1 {
			t.Fatalf("a retry after expiry made %d tickets, want 1", l.Total)
		}
	})

	t.Run("delete", func(t *testing.T) {
		a := a.with(t)
		id := ticketsA[5]["id"].(string)
		gone := a.admin.must(http.StatusOK, "DELETE", "/api/tickets/"+id, nil).Map(t)
		if gone["id"] != id {
			t.Fatalf("delete answered %v", gone)
		}
		a.admin.must(http.StatusNotFound, "GET", "/api/tickets/"+id, nil)
		a.admin.must(http.StatusNotFound, "DELETE", "/api/tickets/"+id, nil)
		if l := a.admin.list("/api/tickets" + filterQuery(map[string]any{"id": []string{id}}, "")); l.Total != 0 {
			t.Fatal("deleted ticket still listed")
		}
	})

	t.Run("cors", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", ts.URL+"/api/tickets", nil)
		req.Header.Set("Origin", "http://admin.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "Authorization, Content-Type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowH := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		if resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(allowH, "authorization") || !strings.Contains(allowH, "content-type") {
			t.Fatalf("preflight: status %d headers %v", resp.StatusCode, resp.Header)
		}
	})
}

func titles(l listResult) []string {
	out := make([]string, len(l.Data))
	for i, d := range l.Data {
		out[i], _ = d["title"].(string)
	}
	slices.Sort(out)
	return out
}

// TestRestartResumes proves that a restart keeps everything and resumes
// projections from their checkpoints, on every combination of stores.
func TestRestartResumes(t *testing.T) { onEveryBackend(t, restartResumes) }

func restartResumes(t *testing.T, b backend) {
	dir := t.TempDir()
	ts := startServerOn(t, dir, b)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Initech")
	rec := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "TPS report"}).Map(t)
	ctx := t.Context()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ts2 := startServerOn(t, dir, b)
	// The projections that applied something resume from their
	// checkpoints. (One whose events were all filtered out may still be
	// at the start on EventStoreDB, which reports checkpoints past
	// filtered events only every 32 events: that costs a rescan, nothing
	// more.)
	for _, st := range ts2.srv.runner.Status() {
		applied := st.Name == projections.Companies || st.Name == projections.Users || st.Name == projections.Credentials || st.Name == projections.Tickets
		if applied && st.Position == eventstore.Start.String() {
			t.Fatalf("projection %s restarted from 0", st.Name)
		}
	}
	admin := login(t, ts2.URL, "initech-admin", "password-Initech")
	got := admin.must(http.StatusOK, "GET", "/api/tickets/"+rec["id"].(string), nil).Map(t)
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("after restart: got %v, want %v", got, rec)
	}
}

// TestSignInRateLimit: password guessing from one address gets 429.
func TestSignInRateLimit(t *testing.T) {
	ts := startServer(t, t.TempDir())
	status := 0
	for i := 0; i < 31 && status != http.StatusTooManyRequests; i++ {
		resp, err := http.PostForm(ts.URL+"/auth/token", map[string][]string{"username": {"admin"}, "password": {"guess-" + fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("after 31 attempts: got %d, want 429", status)
	}
}
