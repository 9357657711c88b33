package readapi

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"agentdesk/readstore"
)

func TestParseListQuery(t *testing.T) {
	tickets, _ := resourceNamed("tickets")
	cases := []struct {
		name  string
		query string
		want  readstore.Query
	}{
		{"defaults", "", readstore.Query{Limit: 25, Count: true, Sort: []readstore.Sort{{Field: "created_at", Desc: true}}}},
		{"skip limit sort order", "skip=50&limit=10&sort=title&order=asc",
			readstore.Query{Skip: 50, Limit: 10, Count: true, Sort: []readstore.Sort{{Field: "title"}}}},
		{"simple-rest range and sort", `range=[10,19]&sort=["priority","DESC"]`,
			// Tickets equal in priority are ordered by created_at.
			readstore.Query{Skip: 10, Limit: 10, Count: true, Sort: []readstore.Sort{{Field: "priority", Desc: true}, {Field: "created_at", Desc: true}}}},
		{"sort without ties", `sort=title&order=ASC`,
			readstore.Query{Limit: 25, Count: true, Sort: []readstore.Sort{{Field: "title"}}}},
		{"filters", `filter={"status":"open","priority":["high","urgent"],"comment_count_gte":2,"created_at_lt":"2026-01-01T00:00:00Z","assignee_id_ne":"x","q":" vpn "}`,
			readstore.Query{Limit: 25, Count: true, Sort: []readstore.Sort{{Field: "created_at", Desc: true}}, Where: []readstore.Condition{
				{Field: "assignee_id", Op: readstore.Ne, Value: "x"},
				{Field: "comment_count", Op: readstore.Gte, Value: 2.0},
				{Field: "created_at", Op: readstore.Lt, Value: "2026-01-01T00:00:00Z"},
				{Field: "priority", Op: readstore.In, Value: []any{"high", "urgent"}},
				{Op: readstore.Text, Value: "vpn"},
				{Field: "status", Op: readstore.Eq, Value: "open"},
			}}},
		{"getMany", `filter={"id":["a","b"]}`,
			readstore.Query{Limit: 25, Count: true, Sort: []readstore.Sort{{Field: "created_at", Desc: true}}, Where: []readstore.Condition{
				{Field: "id", Op: readstore.In, Value: []any{"a", "b"}}}}},
		{"null means not set", `filter={"assignee_id":null,"status_ne":null}`,
			readstore.Query{Limit: 25, Count: true, Sort: []readstore.Sort{{Field: "created_at", Desc: true}}, Where: []readstore.Condition{
				{Field: "assignee_id", Op: readstore.Eq, Value: nil},
				{Field: "status", Op: readstore.Ne, Value: nil}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseListQuery(v, tickets)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseListQueryRejects(t *testing.T) {
	tickets, _ := resourceNamed("tickets")
	for _, q := range []string{
		"skip=-1", "limit=0", "limit=abc", "limit=1001", "range=[3,1]", "range=x", `sort=["title"]`,
		"sort=description", "sort=title&order=sideways", "filter=[1]", `filter={"password_hash":"x"}`,
		`filter={"status_like":"x"}`, `filter={"q":3}`, `filter={"status":["open",null]}`, `filter={"status":{"$ne":"x"}}`,
		`filter={"comment_count_gte":[1,2]}`, "range=[0,1000]", "range=[0,9223372036854775807]",
	} {
		t.Run(q, func(t *testing.T) {
			v, err := url.ParseQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseListQuery(v, tickets)
			if err == nil || ErrorStatus(err) != http.StatusBadRequest {
				t.Fatalf("got %v (status %d), want a 400", err, ErrorStatus(err))
			}
		})
	}
}

// FuzzParseListQuery: any query string either parses into conditions on
// allow-listed fields only, or is a 400; it never panics.
func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{
		"", `filter={"status":"open"}`, `range=[0,24]&sort=["title","ASC"]`, `filter={"id":["a"],"q":"x","created_at_gte":"2026-01-01T00:00:00Z"}`,
		`filter={"password_hash":"x"}`, "skip=-1", `filter={"tags":["a",1,true]}`, "range=[0,9223372036854775807]",
	} {
		f.Add(seed)
	}
	tickets, _ := resourceNamed("tickets")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseListQuery(v, tickets)
		if err != nil {
			if ErrorStatus(err) != http.StatusBadRequest {
				t.Fatalf("%q: got status %d, want 400", raw, ErrorStatus(err))
			}
			return
		}
		for _, c := range q.Where {
			if c.Op != readstore.Text && !allowedFilter(tickets, c.Field) {
				t.Fatalf("%q: condition on %q passed the allow-list", raw, c.Field)
			}
		}
		if q.Limit < 1 || q.Limit > MaxLimit || q.Skip < 0 {
			t.Fatalf("%q: paging skip=%d limit=%d out of range", raw, q.Skip, q.Limit)
		}
	})
}
