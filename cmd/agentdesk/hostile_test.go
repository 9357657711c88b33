package main

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
)

// TestHostileInput sends malformed, huge and hostile bodies and query
// strings to every route the server mounts: each answer is a 4xx with a
// detail and a message, never a 5xx, and nothing is written.
func TestHostileInput(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Hostile")
	tk := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Target"}).Map(t)

	bodies := []string{
		``, `null`, `[]`, `"text"`, `42`, `{`, `{"a":1}{"b":2}`, `{"title":{"$gt":""}}`, `{"title":["x"]}`,
		`{"title":"` + strings.Repeat("x", 300) + `"}`, `{"name":"` + strings.Repeat("é", 5000) + `"}`,
		`{"title":"\u0000"}`, "{\"title\":\"\xff\xfe\"}", `{"revision":-1}`, `{"revision":1e99}`, `{"status":"closed\u0000"}`,
		`{"tags":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		`{"priority":"urgent","priority":"low","title":"dup"}`, `{"company_id":{"$ne":null}}`, `{"assignee_id":12}`,
		`{"__proto__":{"admin":true}}`, `{"id":"../../etc/passwd"}`, `{"password":` + strings.Repeat("9", 400) + `}`,
		`{"title":"\u001b[2J\u001b[31mred"}`, "{\"name\":\"bell\x07\"}", `{"body":"csi\u009b"}`, `{"description":"del\u007f"}`,
		`{"title":"\ud800"}`, `{"username":"a\nb"}`, `{"tags":["ok","\u0000"]}`,
	}
	queries := []string{
		`?filter={`, `?filter=[]`, `?filter={"title":{"$regex":".*"}}`, `?sort=[1,2]`, `?range=[5,1]`, `?range=[-1,2]`,
		`?limit=99999999999999999999`, `?skip=-3`, `?filter={"created_at_gte":"yesterday"}`, `?filter={"q":{"$where":"1"}}`,
		`?order=SIDEWAYS`, `?range=[0,9223372036854775807]`, `?range=[9223372036854775800,9223372036854775807]`, `?filter=` + strings.Repeat("%7B", 2000),
	}
	ids := map[string]string{"tickets": tk["id"].(string), "companies": a.id}
	routes := 0
	err := chi.Walk(ts.srv.http.Handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/") {
			return nil
		}
		routes++
		path := route
		for name, id := range ids {
			if strings.HasPrefix(route, "/api/"+name+"/{id}") {
				path = strings.Replace(route, "{id}", id, 1)
			}
		}
		if method == "DELETE" {
			path = route // a delete takes no body: aim it at nothing
		}
		path = strings.ReplaceAll(path, "{id}", "01a22b16-0000-7000-8000-000000000000")
		path = strings.ReplaceAll(path, "{campaign_id}", "01a22b16-0000-7000-8000-000000000000")
		check := func(what string, r response) {
			t.Helper()
			if r.Status >= 500 || r.Status < 400 && r.Status != http.StatusOK {
				t.Errorf("%s %s %s: got %d %s", method, path, what, r.Status, r.Body)
				return
			}
			if r.Status >= 400 {
				body := r.Map(t)
				if body["detail"] == "" || body["message"] == "" {
					t.Errorf("%s %s %s: error without detail and message: %s", method, path, what, r.Body)
				}
			}
		}
		if method == "GET" {
			for _, q := range queries {
				check(q, a.admin.do(method, path+q, nil))
			}
			return nil
		}
		for _, b := range bodies {
			r := a.admin.do(method, path, []byte(b), "Content-Type", "application/json")
			switch {
			case r.Status >= 500:
				t.Errorf("%s %s with %.40q: got %d %s", method, path, b, r.Status, r.Body)
			case r.Status >= 400:
				if body := r.Map(t); body["detail"] == "" || body["message"] == "" {
					t.Errorf("%s %s with %.40q: error without detail and message: %s", method, path, b, r.Body)
				}
			case hostileText(b):
				t.Errorf("%s %s with %.40q: got %d, want control characters or invalid UTF-8 refused", method, path, b, r.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes < 20 {
		t.Fatalf("walked %d API routes; the router was not walked", routes)
	}

}

// hostileText reports whether a body holds text the API refuses: invalid
// UTF-8, an unpaired surrogate escape, or a control character, escaped or
// not, other than an escaped line break (allowed in multi-line fields).
func hostileText(body string) bool {
	if !utf8.ValidString(body) || strings.Contains(body, `\ud800`) {
		return true
	}
	for _, esc := range []string{`\u0000`, `\u001b`, `\u007f`, `\u009b`, "\x07"} {
		if strings.Contains(body, esc) {
			return true
		}
	}
	return false
}

// TestTextFields: control characters and invalid UTF-8 in a text field
// answer 422 naming the field; line breaks pass in multi-line fields
// only; nothing is written for a refused body.
func TestTextFields(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Texts")
	tk := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Target", "description": "line 1\nline 2\ttab\r\n"}).Map(t)
	if tk["description"] != "line 1\nline 2\ttab\r\n" {
		t.Fatalf("description: got %q, want the line breaks kept", tk["description"])
	}
	id := tk["id"].(string)
	for _, c := range []struct {
		method, path, body, field string
	}{
		{"POST", "/api/tickets", `{"title":"\u001b[31mred"}`, "title"},
		{"POST", "/api/tickets", "{\"title\":\"raw \x1b[31m escape\"}", "title"},
		{"POST", "/api/tickets", "{\"title\":\"caf\xe9\"}", "title"},
		{"POST", "/api/tickets", `{"title":"two\nlines"}`, "title"},
		{"POST", "/api/tickets", `{"title":"ok","description":"nul\u0000"}`, "description"},
		{"POST", "/api/tickets", `{"title":"ok","tags":["a","b\u0085"]}`, "tags"},
		{"PUT", "/api/tickets/" + id, `{"title":"bell\u0007"}`, "title"},
		{"POST", "/api/tickets/" + id + "/comments", `{"body":"\u009b2J"}`, "body"},
		{"POST", "/api/companies", `{"name":"Tab\tCo"}`, "name"},
		{"POST", "/api/users", `{"username":"eve\u0000","password":"a-long-password-1"}`, "username"},
		{"POST", "/api/users", `{"username":"eve","password":"pass\u007fword-long"}`, "password"},
		{"POST", "/api/agents", `{"name":"bot","integrations":[{"type":"shopify","shop_domain":"a.myshopify.com","api_version":"2025-01","credential":"tok\u001b"}]}`, "integrations.0.credential"},
	} {
		r := a.admin.do(c.method, c.path, []byte(c.body))
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s %s %q: got %d %s, want 422", c.method, c.path, c.body, r.Status, r.Body)
			continue
		}
		var p struct {
			Detail, Message string
			Errors          map[string]string
		}
		r.JSON(t, &p)
		if p.Detail == "" || p.Message == "" || p.Errors[c.field] == "" {
			t.Errorf("%s %s %q: got %s, want detail, message and errors.%s", c.method, c.path, c.body, r.Body, c.field)
		}
	}
	if got := a.admin.list("/api/tickets").Total; got != 1 {
		t.Fatalf("tickets: got %d, want 1 (nothing written by a refused body)", got)
	}
	if got := a.admin.must(http.StatusOK, "GET", "/api/tickets/"+id, nil).Map(t); got["title"] != "Target" || got["comment_count"] != 0.0 {
		t.Fatalf("ticket: got %v, want it unchanged", got)
	}
}

// TestStrictBodies: encoding/json would take a key given twice (the last
// winning), a key in another case, and a form-encoded body; the API
// refuses each, and writes nothing.
func TestStrictBodies(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Strict")
	before := a.admin.list("/api/tickets").Total
	for _, c := range []struct {
		body, contentType string
		want              int
	}{
		{`{"title":"a","title":"b"}`, "application/json", http.StatusBadRequest},
		{`{"Title":"a"}`, "application/json", http.StatusBadRequest},
		{`{"title":"a","tags":["x"],"TAGS":["y"]}`, "application/json", http.StatusBadRequest},
		{`{"title":"a"}`, "text/plain", http.StatusUnsupportedMediaType},
		{`title=a`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{`{"title":"nested","tags":["a"],"x":{"k":1,"k":2}}`, "application/json", http.StatusBadRequest},
		{`{"title":"fine"}`, "application/json; charset=utf-8", http.StatusCreated},
		{`{"title":"also fine"}`, "application/merge-patch+json", http.StatusCreated},
	} {
		r := a.admin.do("POST", "/api/tickets", []byte(c.body), "Content-Type", c.contentType)
		if r.Status != c.want {
			t.Errorf("%s (%s): got %d %s, want %d", c.body, c.contentType, r.Status, r.Body, c.want)
		}
	}
	if got := a.admin.list("/api/tickets").Total; got != before+2 {
		t.Fatalf("tickets: %d, want %d (only the two good bodies)", got, before+2)
	}
}
