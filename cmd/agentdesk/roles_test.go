package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// roleOrder is the column order of the role matrix.
var roleOrder = []string{"superadmin", "company_admin", "content_manager", "content_writer", "client"}

// company is one tenant with a signed-in user of every role and a few
// records to act on.
type company struct {
	id    string
	users map[string]*client // by role; superadmin is the platform's
	ids   map[string]string  // user ids by role
}

func newCompany(t *testing.T, ts *testServer, root *client, name string) *company {
	t.Helper()
	tn := newTenant(t, ts, root, name)
	c := &company{id: tn.id, users: map[string]*client{"superadmin": root, "company_admin": tn.admin}, ids: map[string]string{}}
	c.ids["company_admin"] = tn.admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)["id"].(string)
	for _, role := range roleOrder[2:] {
		username := strings.ToLower(name) + "-" + strings.ReplaceAll(role, "_", "-")
		u := tn.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": username, "password": "password-" + username, "role": role}).Map(t)
		c.ids[role] = u["id"].(string)
		c.users[role] = login(t, ts.URL, username, "password-"+username)
	}
	return c
}

// matrixCell is one (resource, action) row of the role matrix: the
// request each role makes and the status it must get, in roleOrder.
type matrixCell struct {
	resource, action string
	// do makes the request as c; setup records are made fresh per role by
	// the company admin (or the superadmin) so that cells never interfere.
	do   func(t *testing.T, co *company, role string, c *client) response
	want [5]int
}

// The role matrix of DESIGN.md as it reaches HTTP. Reading a record the
// role may not see is 404 (as if it did not exist), acting on a record it
// may see but not change is 403, and listing a resource the role has no
// access to is 403.
func roleMatrix() []matrixCell {
	const (
		ok, created, forbidden, notFound = http.StatusOK, http.StatusCreated, http.StatusForbidden, http.StatusNotFound
	)
	// ticket opens a ticket in co requested by the client and assigned to
	// the writer when mine, else requested by the admin and unassigned.
	ticket := func(t *testing.T, co *company, mine bool) string {
		body := map[string]any{"title": "Matrix"}
		if mine {
			body["requester_id"] = co.ids["client"]
		}
		id := co.users["company_admin"].must(created, "POST", "/api/tickets", body).Map(t)["id"].(string)
		if mine {
			co.users["company_admin"].must(ok, "POST", "/api/tickets/"+id+"/assign", map[string]any{"assignee_id": co.ids["content_writer"]})
		}
		return id
	}
	user := func(t *testing.T, co *company) string {
		n := strings.ReplaceAll(fmt.Sprint(len(co.ids), co.id[:8]), " ", "-")
		co.ids["x"+n] = ""
		return co.users["company_admin"].must(created, "POST", "/api/users", map[string]any{"username": "m" + n, "password": "password-" + n, "role": "client"}).Map(t)["id"].(string)
	}
	withCompany := func(role string, co *company, body map[string]any) map[string]any {
		if role == "superadmin" {
			body["company_id"] = co.id
		}
		return body
	}
	return []matrixCell{
		{"companies", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/companies", nil)
		}, [5]int{ok, ok, forbidden, forbidden, forbidden}},
		{"companies", "read own", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/companies/"+co.id, nil)
		}, [5]int{ok, ok, forbidden, forbidden, forbidden}},
		{"companies", "create", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/companies", map[string]any{"name": "New " + role})
		}, [5]int{created, forbidden, forbidden, forbidden, forbidden}},
		{"companies", "rename own", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/companies/"+co.id, map[string]any{"name": "Renamed by " + role})
		}, [5]int{ok, forbidden, notFound, notFound, notFound}},
		{"companies", "set own token quota", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/companies/"+co.id, map[string]any{"monthly_token_quota": 1000 + len(role)})
		}, [5]int{ok, forbidden, notFound, notFound, notFound}},

		{"usage", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/usage", nil)
		}, [5]int{ok, ok, ok, forbidden, forbidden}},

		{"users", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/users", nil)
		}, [5]int{ok, ok, ok, ok, ok}},
		{"users", "read another", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/users/"+co.ids["company_admin"], nil)
		}, [5]int{ok, ok, ok, notFound, notFound}},
		{"users", "create", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/users", withCompany(role, co, map[string]any{"username": "new-" + strings.ReplaceAll(role, "_", "-") + "-" + co.id[:6], "password": "password-new", "role": "client"}))
		}, [5]int{created, created, forbidden, forbidden, forbidden}},
		{"users", "update another", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/users/"+user(t, co), map[string]any{"full_name": "Renamed"})
		}, [5]int{ok, ok, forbidden, notFound, notFound}},
		{"users", "update self", func(t *testing.T, co *company, role string, c *client) response {
			me := c.must(ok, "GET", "/auth/me", nil).Map(t)["id"].(string)
			return c.do("PUT", "/api/users/"+me, map[string]any{"full_name": "Myself"})
		}, [5]int{ok, ok, ok, ok, ok}},
		{"users", "deactivate another", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/users/"+user(t, co)+"/deactivate", nil)
		}, [5]int{ok, ok, forbidden, notFound, notFound}},
		{"users", "delete another", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("DELETE", "/api/users/"+user(t, co), nil)
		}, [5]int{ok, ok, forbidden, notFound, notFound}},

		{"tickets", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/tickets", nil)
		}, [5]int{ok, ok, ok, ok, ok}},
		{"tickets", "open", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/tickets", withCompany(role, co, map[string]any{"title": "By " + role}))
		}, [5]int{created, created, created, created, created}},
		{"tickets", "read someone else's", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/tickets/"+ticket(t, co, false), nil)
		}, [5]int{ok, ok, ok, ok, notFound}},
		{"tickets", "read own (requested / assigned)", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/tickets/"+ticket(t, co, true), nil)
		}, [5]int{ok, ok, ok, ok, ok}},
		{"tickets", "edit unassigned", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/tickets/"+ticket(t, co, false), map[string]any{"title": "Edited"})
		}, [5]int{ok, ok, ok, forbidden, notFound}},
		{"tickets", "edit assigned to the writer", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/tickets/"+ticket(t, co, true), map[string]any{"title": "Edited"})
		}, [5]int{ok, ok, ok, ok, forbidden}},
		{"tickets", "change status of assigned", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/tickets/"+ticket(t, co, true)+"/status", map[string]any{"status": "in_progress"})
		}, [5]int{ok, ok, ok, ok, forbidden}},
		{"tickets", "comment on own", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/tickets/"+ticket(t, co, true)+"/comments", map[string]any{"body": "Hi"})
		}, [5]int{created, created, created, created, created}},
		{"tickets", "comment on someone else's", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/tickets/"+ticket(t, co, false)+"/comments", map[string]any{"body": "Hi"})
		}, [5]int{created, created, created, created, notFound}},
		{"tickets", "delete", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("DELETE", "/api/tickets/"+ticket(t, co, false), nil)
		}, [5]int{ok, ok, ok, forbidden, notFound}},
		{"comments", "list of someone else's ticket", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/comments"+filterQuery(map[string]any{"ticket_id": ticket(t, co, false)}, ""), nil)
		}, [5]int{ok, ok, ok, ok, notFound}},

		{"agents", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/agents", nil)
		}, [5]int{ok, ok, ok, ok, ok}},
		{"agents", "create", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/agents", withCompany(role, co, map[string]any{"name": "By " + role, "model": "gpt-4o-mini"}))
		}, [5]int{created, created, created, forbidden, forbidden}},
		{"agents", "read active", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/agents/"+agentOf(t, co, true), nil)
		}, [5]int{ok, ok, ok, ok, ok}},
		{"agents", "read inactive", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/agents/"+agentOf(t, co, false), nil)
		}, [5]int{ok, ok, ok, ok, notFound}},
		{"agents", "update", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/agents/"+agentOf(t, co, true), map[string]any{"name": "Renamed"})
		}, [5]int{ok, ok, ok, forbidden, forbidden}},
		{"agents", "deactivate", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/agents/"+agentOf(t, co, true)+"/deactivate", nil)
		}, [5]int{ok, ok, ok, forbidden, forbidden}},
		{"agents", "delete", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("DELETE", "/api/agents/"+agentOf(t, co, true), nil)
		}, [5]int{ok, ok, ok, forbidden, forbidden}},

		{"campaigns", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/campaigns", nil)
		}, [5]int{ok, ok, ok, ok, forbidden}},
		{"campaigns", "create", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/campaigns", withCompany(role, co, map[string]any{"name": "By " + role, "channel": "blog"}))
		}, [5]int{created, created, created, forbidden, forbidden}},
		{"campaigns", "read", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/campaigns/"+campaignOf(t, co), nil)
		}, [5]int{ok, ok, ok, ok, forbidden}},
		{"campaigns", "update", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/campaigns/"+campaignOf(t, co), map[string]any{"name": "Renamed"})
		}, [5]int{ok, ok, ok, forbidden, notFound}},
		{"campaigns", "archive", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/campaigns/"+campaignOf(t, co)+"/status", map[string]any{"status": "archived"})
		}, [5]int{ok, ok, ok, forbidden, notFound}},
		{"campaigns", "add content", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/campaigns/"+campaignOf(t, co)+"/content", map[string]any{"title": "Post", "body": "Text"})
		}, [5]int{created, created, created, created, notFound}},
		{"campaigns", "approve content", func(t *testing.T, co *company, role string, c *client) response {
			cid := campaignOf(t, co)
			item := co.users["company_admin"].must(created, "POST", "/api/campaigns/"+cid+"/content", map[string]any{"title": "Post", "body": "Text"}).Map(t)["id"].(string)
			return c.do("POST", "/api/campaigns/"+cid+"/content/"+item+"/approve", nil)
		}, [5]int{ok, ok, ok, forbidden, notFound}},
		{"campaigns", "delete", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("DELETE", "/api/campaigns/"+campaignOf(t, co), nil)
		}, [5]int{ok, ok, ok, forbidden, notFound}},

		{"knowledge_chunks", "list", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("GET", "/api/knowledge_chunks", nil)
		}, [5]int{ok, ok, ok, ok, forbidden}},
		{"knowledge_chunks", "create", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("POST", "/api/knowledge_chunks", withCompany(role, co, map[string]any{"agent_id": agentOf(t, co, true), "title": "Fact", "content": "Water is wet."}))
		}, [5]int{created, created, created, created, forbidden}},
		{"knowledge_chunks", "update", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("PUT", "/api/knowledge_chunks/"+chunkOf(t, co), map[string]any{"title": "Edited"})
		}, [5]int{ok, ok, ok, ok, notFound}},
		{"knowledge_chunks", "delete", func(t *testing.T, co *company, role string, c *client) response {
			return c.do("DELETE", "/api/knowledge_chunks/"+chunkOf(t, co), nil)
		}, [5]int{ok, ok, ok, forbidden, notFound}},
	}
}

// agentOf makes an agent in co, active or not, as its admin.
func agentOf(t *testing.T, co *company, active bool) string {
	t.Helper()
	admin := co.users["company_admin"]
	id := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Fixture", "model": "gpt-4o-mini"}).Map(t)["id"].(string)
	if !active {
		admin.must(http.StatusOK, "POST", "/api/agents/"+id+"/deactivate", nil)
	}
	return id
}

// campaignOf makes a draft campaign in co, as its admin.
func campaignOf(t *testing.T, co *company) string {
	t.Helper()
	return co.users["company_admin"].must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{"name": "Fixture", "channel": "web"}).Map(t)["id"].(string)
}

// chunkOf makes a knowledge chunk in co, as its admin.
func chunkOf(t *testing.T, co *company) string {
	t.Helper()
	return co.users["company_admin"].must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentOf(t, co, true), "title": "Fixture", "content": "Text."}).Map(t)["id"].(string)
}

// TestRoleMatrix drives every (role × resource × action) cell of the
// policy over HTTP and checks the status: it is the readable form of the
// role table in DESIGN.md. It runs on the SQLite read store and on
// MongoDB (FerretDB).
func TestRoleMatrix(t *testing.T) {
	onEveryReadStore(t, func(t *testing.T, stores backend) {
		ts := startServerOn(t, t.TempDir(), stores)
		root := login(t, ts.URL, "admin", testAdminPassword)
		co := newCompany(t, ts, root, "Matrix")
		for _, cell := range roleMatrix() {
			t.Run(cell.resource+"/"+cell.action, func(t *testing.T) {
				for i, role := range roleOrder {
					c := co.users[role].with(t)
					got := cell.do(t, co, role, c)
					if got.Status != cell.want[i] {
						t.Errorf("%s: got %d, want %d (%s)", role, got.Status, cell.want[i], got.Body)
					}
				}
			})
		}
	})
}

// onEveryReadStore runs test on the embedded stores and on MongoDB
// (FerretDB) for the read models.
func onEveryReadStore(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		if strings.HasPrefix(b.name, "sqlite-") {
			t.Run(b.name, func(t *testing.T) { test(t, b) })
		}
	}
}
