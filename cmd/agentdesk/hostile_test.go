package main

import (
	"net/http"
	"strings"
	"testing"

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
			case strings.Contains(b, `\u0000`):
				t.Errorf("%s %s with a NUL: got %d, want it refused", method, path, r.Status)
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
