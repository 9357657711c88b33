package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCompanyBoundary: company A's admin reaching for company B's records
// through every route gets 404, A's lists never hold B's documents, and a
// company smuggled through a body, a filter, a query parameter or a
// header is refused or ignored. On the SQLite read store and on MongoDB.
func TestCompanyBoundary(t *testing.T) {
	onEveryReadStore(t, func(t *testing.T, stores backend) {
		ts := startServerOn(t, t.TempDir(), stores)
		root := login(t, ts.URL, "admin", testAdminPassword)
		a, b := newCompany(t, ts, root, "Alpha"), newCompany(t, ts, root, "Beta")
		bAdmin := b.users["company_admin"]
		bTicket := bAdmin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "B's secret", "tags": []string{"secret"}}).Map(t)["id"].(string)
		bComment := bAdmin.must(http.StatusCreated, "POST", "/api/tickets/"+bTicket+"/comments", map[string]any{"body": "B only"}).Map(t)["id"].(string)
		bUser := b.ids["content_writer"]
		bAgent := agentOf(t, b, true)
		bCampaign := campaignOf(t, b)
		bItem := bAdmin.must(http.StatusCreated, "POST", "/api/campaigns/"+bCampaign+"/content", map[string]any{"title": "B's secret", "body": "B only"}).Map(t)["id"].(string)
		bChunk := chunkOf(t, b)
		// A conversation (asking for a person needs no model), its
		// messages, the ticket it opened, and a document.
		bConv := b.users["client"].must(http.StatusOK, "POST", "/api/agents/"+bAgent+"/chat", map[string]any{"message": "B's secret: I want to talk to a human"}).Map(t)["conversation_id"].(string)
		bMessages := bAdmin.list("/api/conversation_messages" + filterQuery(map[string]any{"conversation_id": bConv}, ""))
		bMessage := bMessages.Data[0]["id"].(string)
		doc := bAdmin.upload("POST", "/api/knowledge_documents", "b.md", "text/markdown", []byte("# B's secret\n\nB only."), map[string]string{"agent_id": bAgent})
		if doc.Status != http.StatusCreated {
			t.Fatalf("B's document: %d %s", doc.Status, doc.Body)
		}
		bDoc := doc.Map(t)["id"].(string)

		t.Run("every route answers 404 for B's records", func(t *testing.T) {
			for _, role := range roleOrder[1:] {
				c := a.users[role].with(t)
				for _, r := range []struct {
					method, path string
					body         any
				}{
					{"GET", "/api/companies/" + b.id, nil},
					{"PUT", "/api/companies/" + b.id, map[string]any{"name": "x"}},
					{"DELETE", "/api/companies/" + b.id, nil},
					{"POST", "/api/companies/" + b.id + "/suspend", nil},
					{"GET", "/api/users/" + bUser, nil},
					{"PUT", "/api/users/" + bUser, map[string]any{"full_name": "x"}},
					{"DELETE", "/api/users/" + bUser, nil},
					{"POST", "/api/users/" + bUser + "/deactivate", nil},
					{"POST", "/api/users/" + bUser + "/reactivate", nil},
					{"GET", "/api/tickets/" + bTicket, nil},
					{"PUT", "/api/tickets/" + bTicket, map[string]any{"title": "x"}},
					{"DELETE", "/api/tickets/" + bTicket, nil},
					{"POST", "/api/tickets/" + bTicket + "/assign", map[string]any{"assignee_id": nil}},
					{"POST", "/api/tickets/" + bTicket + "/status", map[string]any{"status": "resolved"}},
					{"POST", "/api/tickets/" + bTicket + "/comments", map[string]any{"body": "x"}},
					{"GET", "/api/tickets/" + bTicket + "/comments", nil},
					{"GET", "/api/comments/" + bComment, nil},
					{"GET", "/api/comments" + filterQuery(map[string]any{"ticket_id": bTicket}, ""), nil},
					{"GET", "/api/agents/" + bAgent, nil},
					{"PUT", "/api/agents/" + bAgent, map[string]any{"name": "x"}},
					{"DELETE", "/api/agents/" + bAgent, nil},
					{"POST", "/api/agents/" + bAgent + "/deactivate", nil},
					{"GET", "/api/campaigns/" + bCampaign, nil},
					{"PUT", "/api/campaigns/" + bCampaign, map[string]any{"name": "x"}},
					{"DELETE", "/api/campaigns/" + bCampaign, nil},
					{"POST", "/api/campaigns/" + bCampaign + "/status", map[string]any{"status": "archived"}},
					{"POST", "/api/campaigns/" + bCampaign + "/content", map[string]any{"title": "x", "body": "x"}},
					{"PUT", "/api/campaigns/" + bCampaign + "/content/" + bItem, map[string]any{"title": "x"}},
					{"DELETE", "/api/campaigns/" + bCampaign + "/content/" + bItem, nil},
					{"POST", "/api/campaigns/" + bCampaign + "/content/" + bItem + "/approve", nil},
					{"GET", "/api/campaign_content/" + bItem, nil},
					{"GET", "/api/campaign_content" + filterQuery(map[string]any{"campaign_id": bCampaign}, ""), nil},
					{"GET", "/api/knowledge_chunks/" + bChunk, nil},
					{"PUT", "/api/knowledge_chunks/" + bChunk, map[string]any{"title": "x"}},
					{"DELETE", "/api/knowledge_chunks/" + bChunk, nil},
					{"POST", "/api/agents/" + bAgent + "/chat", map[string]any{"message": "hi"}},
					{"POST", "/api/agents/" + bAgent + "/chat", map[string]any{"message": "hi", "conversation_id": bConv}},
					{"POST", "/api/agents/" + bAgent + "/integrations/shopify/sync", nil},
					{"GET", "/api/conversations/" + bConv, nil},
					{"GET", "/api/conversations/" + bConv + "/history", nil},
					{"GET", "/api/conversation_messages/" + bMessage, nil},
					{"GET", "/api/conversation_messages" + filterQuery(map[string]any{"conversation_id": bConv}, ""), nil},
					{"GET", "/api/knowledge_documents/" + bDoc, nil},
					{"GET", "/api/knowledge_documents/" + bDoc + "/file", nil},
					{"DELETE", "/api/knowledge_documents/" + bDoc, nil},
					{"GET", "/api/ticket_attachments" + filterQuery(map[string]any{"ticket_id": bTicket}, ""), nil},
				} {
					body := r.body
					got := c.do(r.method, r.path, body)
					// A role that may not touch companies at all is refused
					// before anything is looked up: 403 says nothing of B.
					if got.Status != http.StatusNotFound && got.Status != http.StatusForbidden {
						t.Errorf("%s %s %s: got %d, want 404 (%s)", role, r.method, r.path, got.Status, got.Body)
					}
					if strings.Contains(string(got.Body), "B's secret") || strings.Contains(string(got.Body), "B only") {
						t.Errorf("%s %s %s leaked B's data: %s", role, r.method, r.path, got.Body)
					}
				}
			}
			// Multipart writes onto B's records are missing ones too.
			admin := a.users["company_admin"].with(t)
			if r := admin.upload("POST", "/api/tickets/"+bTicket+"/attachments", "x.txt", "text/plain", []byte("x"), nil); r.Status != http.StatusNotFound {
				t.Errorf("an attachment to B's ticket: got %d, want 404", r.Status)
			}
			if r := admin.upload("PUT", "/api/knowledge_documents/"+bDoc, "x.md", "text/markdown", []byte("# x"), nil); r.Status != http.StatusNotFound {
				t.Errorf("a new version of B's document: got %d, want 404", r.Status)
			}
			if r := admin.upload("POST", "/api/knowledge_documents", "x.md", "text/markdown", []byte("# x"), map[string]string{"agent_id": bAgent}); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("a document for B's agent: got %d, want 422", r.Status)
			}
			// Nothing of B changed.
			if tk := bAdmin.must(http.StatusOK, "GET", "/api/tickets/"+bTicket, nil).Map(t); tk["title"] != "B's secret" || tk["revision"] != float64(1) {
				t.Fatalf("B's ticket after A's attempts: %v", tk)
			}
		})

		t.Run("lists never hold B's documents", func(t *testing.T) {
			for _, role := range roleOrder[1:] {
				c := a.users[role].with(t)
				for _, path := range []string{"/api/companies", "/api/users", "/api/tickets", "/api/tickets?limit=1000", "/api/agents", "/api/campaigns", "/api/knowledge_chunks",
					"/api/knowledge_documents", "/api/conversations", "/api/sync_runs", "/api/usage"} {
					r := c.do("GET", path, nil)
					if r.Status != http.StatusOK {
						continue // a resource the role may not list at all
					}
					var l listResult
					r.JSON(t, &l)
					for _, d := range l.Data {
						if d["company_id"] == b.id || d["id"] == b.id {
							t.Errorf("%s %s holds B's %v", role, path, d["id"])
						}
					}
				}
			}
		})

		t.Run("a smuggled company is refused or ignored", func(t *testing.T) {
			admin := a.users["company_admin"].with(t)
			// Body: a company admin naming another company.
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/tickets", map[string]any{"title": "x", "company_id": b.id})
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/users", map[string]any{"username": "smuggler", "password": "password-x", "role": "client", "company_id": b.id})
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/agents", map[string]any{"name": "x", "model": "m", "company_id": b.id})
			// References to B's records are missing ones for A.
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": bAgent, "title": "x", "content": "x"})
			admin.must(http.StatusUnprocessableEntity, "POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "agent_id": bAgent})
			// Filters: the scope is added to whatever the client asks.
			for _, f := range []map[string]any{
				{"company_id": b.id},
				{"company_id": []string{a.id, b.id}},
				{"company_id_ne": a.id},
				{"company_id_gte": ""},
				{"id": []string{bTicket}},
				{"tags": "secret"},
			} {
				if l := admin.list("/api/tickets" + filterQuery(f, "")); l.Total != 0 {
					t.Errorf("filter %v listed %d of B's tickets", f, l.Total)
				}
			}
			for _, raw := range []string{`{"$where":"1"}`, `{"company_id":{"$ne":"x"}}`, `{"$or":[{"company_id":"` + b.id + `"}]}`} {
				admin.must(http.StatusBadRequest, "GET", "/api/tickets?filter="+url.QueryEscape(raw), nil)
			}
			// Query parameters and headers have no say.
			for _, q := range []string{"company_id=" + b.id, "tenant=" + b.id} {
				if l := admin.list("/api/tickets?" + q); l.Total != 0 && l.Data[0]["company_id"] == b.id {
					t.Errorf("query %s listed B's tickets", q)
				}
			}
			r := admin.do("GET", "/api/tickets/"+bTicket, nil, "X-Company-ID", b.id, "X-Tenant", b.id)
			if r.Status != http.StatusNotFound {
				t.Errorf("headers naming B: got %d, want 404", r.Status)
			}
		})
	})
}
