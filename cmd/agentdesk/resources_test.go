package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/internal/secrets"
)

// TestResourceWrites drives the write endpoints of agents, campaigns,
// campaign content and knowledge chunks over HTTP on every combination of
// stores: create, read back, update with revision, actions, delete,
// lists and references, and the input each refuses.
func TestResourceWrites(t *testing.T) { onEveryBackend(t, resourceWrites) }

func resourceWrites(t *testing.T, stores backend) {
	ts := startServerOn(t, t.TempDir(), stores)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Umbrella")
	b := newTenant(t, ts, root, "Cyberdyne")
	// Each subtest reports through its own t.
	in := func(t *testing.T, tn tenant) tenant { return tenant{id: tn.id, admin: tn.admin.with(t)} }
	t.Run("agents", func(t *testing.T) { agentWrites(t, root.with(t), in(t, a), in(t, b)) })
	t.Run("campaigns", func(t *testing.T) { campaignWrites(t, in(t, a), in(t, b)) })
	t.Run("campaign content", func(t *testing.T) { contentWrites(t, in(t, a), in(t, b)) })
	t.Run("knowledge chunks", func(t *testing.T) { knowledgeWrites(t, in(t, a), in(t, b)) })
}

const noSuchID = "01a22b16-0000-7000-8000-000000000000"

// readBack checks that GET returns exactly what a write answered.
func readBack(t *testing.T, c *client, path string, want map[string]any) {
	t.Helper()
	got := c.must(http.StatusOK, "GET", path, nil)
	if !reflect.DeepEqual(got.Map(t), want) {
		t.Fatalf("GET %s: got %s, want the write's answer %v", path, got.Body, want)
	}
	if tag, rev := got.Header.Get("ETag"), fmt.Sprintf(`"%v"`, want["revision"]); tag != rev {
		t.Fatalf("GET %s: ETag %s, want %s", path, tag, rev)
	}
}

// fieldError fails unless r is a 422 naming field among its errors.
func fieldError(t *testing.T, r response, field string) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got status %d, want 422 on %s; body %s", r.Status, field, r.Body)
	}
	errs, _ := r.Map(t)["errors"].(map[string]any)
	if errs[field] == nil {
		t.Fatalf("422 %s: want an error on %s", r.Body, field)
	}
}

// column returns field of each record of l.
func column(l listResult, field string) []any {
	out := make([]any, len(l.Data))
	for i, d := range l.Data {
		out[i] = d[field]
	}
	return out
}

// everySortAndFilter lists res sorted by each declared sort field, both
// ways, and filtered on each declared filter field with a value read from
// a record; each answer holds that record.
func everySortAndFilter(t *testing.T, c *client, res *resource.Resource, extra map[string]any, rec map[string]any) {
	t.Helper()
	base := "/api/" + res.Name
	for _, f := range res.Sorts() {
		for _, order := range []string{"ASC", "DESC"} {
			c.list(base + filterQuery(extra, "sort="+f+"&order="+order))
		}
	}
	for _, f := range res.Filters() {
		v, ok := rec[f]
		if !ok || v == nil {
			continue
		}
		if list, isList := v.([]any); isList {
			if len(list) == 0 {
				continue
			}
			v = list[0]
		}
		filter := map[string]any{f: v}
		for k, x := range extra {
			filter[k] = x
		}
		if l := c.list(base + filterQuery(filter, "limit=1000")); !contains(ids(l), rec["id"].(string)) {
			t.Errorf("GET %s filtered on %s=%v: %v, want %v among them", base, f, v, ids(l), rec["id"])
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func agentWrites(t *testing.T, root *client, a, b tenant) {
	admin := a.admin
	rec := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{
		"name": "Support bot", "description": "answers shop questions", "system_prompt": "Be brief.",
		"model": "gpt-4o-mini", "temperature": 0.3, "max_tokens": 512,
		"integrations": []map[string]any{
			{"type": "shopify", "shop_domain": "Umbrella.myshopify.com", "api_version": "2024-10", "credential": "shpat_first"},
			{"type": "wordpress", "site_url": "https://blog.umbrella.example"},
		},
	}).Map(t)
	id := rec["id"].(string)
	path := "/api/agents/" + id
	integrations := rec["integrations"].([]any)
	shop, blog := integrations[0].(map[string]any), integrations[1].(map[string]any)
	if rec["company_id"] != a.id || rec["status"] != "active" || rec["temperature"] != 0.3 || rec["max_tokens"] != 512.0 ||
		rec["revision"] != 0.0 || shop["shop_domain"] != "umbrella.myshopify.com" || shop["credential_set"] != true ||
		blog["credential_set"] != false || shop["id"] == nil || blog["id"] == nil {
		t.Fatalf("create agent: got %v", rec)
	}
	if _, leaked := shop["credential"]; leaked {
		t.Fatalf("create agent: the record carries a credential: %v", shop)
	}
	readBack(t, admin, path, rec)

	defaults := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Defaults", "model": "llama3:8b"}).Map(t)
	if defaults["temperature"] != 0.7 || defaults["max_tokens"] != 1024.0 || !reflect.DeepEqual(defaults["integrations"], []any{}) {
		t.Fatalf("defaults: got %v", defaults)
	}

	// React Admin sends the whole record back, read-only fields and all;
	// a credential left out keeps the stored one, a new one replaces
	// nothing else, and the status may change in the same write.
	edit := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	stale := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	edit["name"], edit["status"] = "Support bot v2", "inactive"
	edit["integrations"].([]any)[1].(map[string]any)["credential"] = "wp_app_password"
	saved := admin.must(http.StatusOK, "PUT", path, edit).Map(t)
	got := saved["integrations"].([]any)
	if saved["name"] != "Support bot v2" || saved["status"] != "inactive" || saved["revision"] != 2.0 ||
		got[0].(map[string]any)["id"] != shop["id"] || got[0].(map[string]any)["credential_set"] != true ||
		got[1].(map[string]any)["id"] != blog["id"] || got[1].(map[string]any)["credential_set"] != true {
		t.Fatalf("PUT whole record: got %v", saved)
	}
	readBack(t, admin, path, saved)
	stale["description"] = "lost update"
	admin.must(http.StatusConflict, "PUT", path, stale)
	admin.must(http.StatusConflict, "PUT", path, map[string]any{"description": "late"}, "If-Match", `"0"`)

	// "" removes a credential.
	cleared := admin.must(http.StatusOK, "PUT", path, map[string]any{"integrations": []map[string]any{
		{"id": shop["id"], "type": "shopify", "shop_domain": "umbrella.myshopify.com", "api_version": "2024-10", "credential": ""},
	}}).Map(t)
	if only := cleared["integrations"].([]any); len(only) != 1 || only[0].(map[string]any)["credential_set"] != false {
		t.Fatalf("clear credential: got %v", cleared["integrations"])
	}

	// Actions; one that changes nothing answers the record as it is.
	if r := admin.must(http.StatusOK, "POST", path+"/activate", nil).Map(t); r["status"] != "active" {
		t.Fatalf("activate: got %v", r)
	}
	off := admin.must(http.StatusOK, "POST", path+"/deactivate", map[string]any{}).Map(t)
	again := admin.must(http.StatusOK, "POST", path+"/deactivate", nil).Map(t)
	if off["status"] != "inactive" || !reflect.DeepEqual(off, again) {
		t.Fatalf("deactivate twice: got %v then %v", off, again)
	}
	admin.must(http.StatusBadRequest, "POST", path+"/activate", map[string]any{"now": true})

	// Clone: a POST of a record read back makes a new agent with new
	// integrations, without credentials, and active.
	clone := admin.must(http.StatusCreated, "POST", "/api/agents", saved).Map(t)
	cloned := clone["integrations"].([]any)
	if clone["id"] == id || clone["status"] != "active" || len(cloned) != 2 ||
		cloned[0].(map[string]any)["id"] == shop["id"] || cloned[0].(map[string]any)["credential_set"] != false {
		t.Fatalf("clone: got %v from %v", clone, saved)
	}

	// Fixed fields and bad input.
	moved := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	moved["company_id"] = b.id
	fieldError(t, admin.do("PUT", path, moved), "company_id")
	moved["company_id"], moved["id"] = a.id, clone["id"]
	fieldError(t, admin.do("PUT", path, moved), "id")
	fieldError(t, admin.do("POST", "/api/agents", map[string]any{"model": "gpt-4o"}), "name")
	fieldError(t, admin.do("POST", "/api/agents", map[string]any{"name": "x", "model": "gpt 4o"}), "model")
	fieldError(t, admin.do("POST", "/api/agents", map[string]any{"name": "x", "model": "m", "temperature": 2.5}), "temperature")
	fieldError(t, admin.do("POST", "/api/agents", map[string]any{"name": "x", "model": "m", "integrations": []map[string]any{{"type": "magento"}}}), "integrations.0.type")
	fieldError(t, admin.do("POST", "/api/agents", map[string]any{"name": "x", "model": "m", "integrations": []map[string]any{{"type": "wordpress", "site_url": "http://plain.example"}}}), "integrations.0.site_url")
	fieldError(t, admin.do("PUT", path, map[string]any{"status": "paused"}), "status")
	admin.must(http.StatusBadRequest, "POST", "/api/agents", map[string]any{"name": "x", "model": "m", "max_tokens": "many"})
	admin.must(http.StatusBadRequest, "POST", "/api/agents", map[string]any{"name": "x", "model": "m", "api_key": "sk-123"})
	admin.must(http.StatusBadRequest, "POST", "/api/agents", map[string]any{"name": "x", "model": "m", "integrations": []map[string]any{{"type": "shopify", "token": "t"}}})
	fieldError(t, root.do("POST", "/api/agents", map[string]any{"name": "x", "model": "m"}), "company_id")
	if r := root.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Made by root", "model": "m", "company_id": a.id}).Map(t); r["company_id"] != a.id {
		t.Fatalf("superadmin create: got %v", r)
	}

	// Another company sees none of it.
	b.admin.must(http.StatusNotFound, "GET", path, nil)
	b.admin.must(http.StatusNotFound, "PUT", path, map[string]any{"name": "mine now"})
	b.admin.must(http.StatusNotFound, "POST", path+"/activate", nil)
	b.admin.must(http.StatusNotFound, "DELETE", path, nil)
	if l := b.admin.list("/api/agents"); l.Total != 0 {
		t.Fatalf("company B lists %d agents of company A", l.Total)
	}

	// Lists: filters, enum order, search.
	current := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	everySortAndFilter(t, admin, resource.Agents, nil, current)
	byStatus := admin.list("/api/agents" + filterQuery(map[string]any{}, `sort=["status","ASC"]&limit=1000`))
	if st := column(byStatus, "status"); st[0] != "active" || st[len(st)-1] != "inactive" {
		t.Fatalf("agents by status: %v, want active first and inactive last", st)
	}
	if l := admin.list("/api/agents" + filterQuery(map[string]any{"status": "inactive"}, "")); !reflect.DeepEqual(ids(l), []string{id}) {
		t.Fatalf("inactive agents: %v, want only %s", ids(l), id)
	}
	if l := admin.list("/api/agents" + filterQuery(map[string]any{"q": "shop questions"}, "")); !contains(ids(l), id) {
		t.Fatalf("q search: %v, want %s among them", ids(l), id)
	}
	if l := admin.list("/api/agents" + filterQuery(map[string]any{"max_tokens_lte": 600}, "sort=created_at&order=ASC")); !reflect.DeepEqual(ids(l), []string{id, clone["id"].(string)}) {
		t.Fatalf("max_tokens_lte 600: %v, want %s and its clone", ids(l), id)
	}

	// Delete: conditional, answered with the record as it was, then gone.
	admin.must(http.StatusConflict, "DELETE", path, nil, "If-Match", `"1"`)
	gone := admin.must(http.StatusOK, "DELETE", path, nil).Map(t)
	if !reflect.DeepEqual(gone, current) {
		t.Fatalf("DELETE answered %v, want the record %v", gone, current)
	}
	admin.must(http.StatusNotFound, "GET", path, nil)
	admin.must(http.StatusNotFound, "PUT", path, map[string]any{"name": "ghost"})
	admin.must(http.StatusNotFound, "DELETE", path, nil)
	admin.must(http.StatusNotFound, "POST", path+"/activate", nil)
}

func campaignWrites(t *testing.T, a, b tenant) {
	admin := a.admin
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Mailer", "model": "gpt-4o"}).Map(t)["id"].(string)
	otherAgent := b.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Theirs", "model": "gpt-4o"}).Map(t)["id"].(string)

	rec := admin.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{
		"name": "Spring sale", "description": "20% off", "channel": "email", "agent_id": nil, "starts_at": nil,
	}).Map(t)
	id := rec["id"].(string)
	path := "/api/campaigns/" + id
	if rec["status"] != "draft" || rec["agent_id"] != nil || rec["starts_at"] != nil || rec["ends_at"] != nil ||
		rec["content_count"] != 0.0 || rec["company_id"] != a.id || rec["channel"] != "email" {
		t.Fatalf("create campaign: got %v", rec)
	}
	readBack(t, admin, path, rec)

	// Scheduling needs an agent and a start: the domain says which are
	// missing, as field errors.
	r := admin.do("POST", path+"/status", map[string]any{"status": "scheduled"})
	fieldError(t, r, "agent_id")
	fieldError(t, r, "starts_at")
	fieldError(t, admin.do("POST", path+"/status", map[string]any{}), "status")
	fieldError(t, admin.do("POST", path+"/status", map[string]any{"status": "launched"}), "status")
	admin.must(http.StatusConflict, "POST", path+"/status", map[string]any{"status": "active"})

	// Agents of another company, or none at all, are refused.
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": otherAgent}), "agent_id")
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": noSuchID}), "agent_id")
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": "agent-7"}), "agent_id")
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "agent_id": otherAgent}), "agent_id")
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "agent_id": noSuchID}), "agent_id")
	admin.must(http.StatusBadRequest, "POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "agent_id": 7})

	// Other bad input.
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	end := start.Add(7 * 24 * time.Hour)
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"channel": "web"}), "name")
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"name": "x", "channel": "fax"}), "channel")
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web",
		"starts_at": end.Format(time.RFC3339), "ends_at": start.Format(time.RFC3339)}), "ends_at")
	fieldError(t, admin.do("POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "starts_at": "next monday"}), "starts_at")
	admin.must(http.StatusBadRequest, "POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "starts_at": 1700000000})
	admin.must(http.StatusBadRequest, "POST", "/api/campaigns", map[string]any{"name": "x", "channel": "web", "budget": 100})

	// Edit the whole record with its revision; a stale one is refused.
	edit := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	stale := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	edit["agent_id"], edit["starts_at"], edit["ends_at"] = agentID, start.In(time.FixedZone("CEST", 2*3600)).Format(time.RFC3339), end.Format(time.RFC3339Nano)
	edit["status"] = "active" // read-only here: ignored
	saved := admin.must(http.StatusOK, "PUT", path, edit).Map(t)
	if saved["agent_id"] != agentID || saved["starts_at"] != start.Format(time.RFC3339) || saved["ends_at"] != end.Format(time.RFC3339) ||
		saved["status"] != "draft" || saved["revision"] != 1.0 {
		t.Fatalf("PUT whole record: got %v", saved)
	}
	readBack(t, admin, path, saved)
	stale["name"] = "lost update"
	admin.must(http.StatusConflict, "PUT", path, stale)
	fieldError(t, admin.do("PUT", path, map[string]any{"ends_at": start.Add(-time.Hour).Format(time.RFC3339)}), "ends_at")
	fixed := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	fixed["company_id"] = b.id
	fieldError(t, admin.do("PUT", path, fixed), "company_id")

	// Clone: a new draft.
	clone := admin.must(http.StatusCreated, "POST", "/api/campaigns", saved).Map(t)
	if clone["id"] == id || clone["status"] != "draft" || clone["agent_id"] != agentID || clone["starts_at"] != saved["starts_at"] {
		t.Fatalf("clone: got %v from %v", clone, saved)
	}

	// The lifecycle, through the guarded transitions.
	for _, st := range []string{"scheduled", "active"} {
		if r := admin.must(http.StatusOK, "POST", path+"/status", map[string]any{"status": st}).Map(t); r["status"] != st {
			t.Fatalf("status %s: got %v", st, r)
		}
	}
	admin.must(http.StatusConflict, "PUT", path, map[string]any{"name": "Edited while active"})
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": nil}), "agent_id")
	for _, st := range []string{"paused", "active", "completed", "archived"} {
		if r := admin.must(http.StatusOK, "POST", path+"/status", map[string]any{"status": st}).Map(t); r["status"] != st {
			t.Fatalf("status %s: got %v", st, r)
		}
	}
	archived := admin.must(http.StatusOK, "POST", path+"/status", map[string]any{"status": "archived"}).Map(t) // no change
	admin.must(http.StatusConflict, "POST", path+"/status", map[string]any{"status": "active"})
	readBack(t, admin, path, archived)

	// References and lists.
	byAgent := admin.list("/api/campaigns" + filterQuery(map[string]any{"agent_id": agentID}, "sort=created_at&order=ASC"))
	if !reflect.DeepEqual(ids(byAgent), []string{id, clone["id"].(string)}) {
		t.Fatalf("campaigns of the agent: %v, want %s and its clone", ids(byAgent), id)
	}
	everySortAndFilter(t, admin, resource.Campaigns, nil, archived)
	if l := admin.list("/api/campaigns" + filterQuery(map[string]any{"agent_id": nil}, "")); contains(ids(l), id) {
		t.Fatalf("campaigns without agent: %v, want %s not among them", ids(l), id)
	}
	byStatus := admin.list("/api/campaigns" + filterQuery(map[string]any{}, `sort=["status","DESC"]&limit=1000`))
	if st := column(byStatus, "status"); st[0] != "archived" || st[len(st)-1] != "draft" {
		t.Fatalf("campaigns by status, descending: %v, want archived first and draft last", st)
	}
	if l := admin.list("/api/campaigns" + filterQuery(map[string]any{"starts_at_gte": start.Format(time.RFC3339), "status_lt": "archived"}, "")); !reflect.DeepEqual(ids(l), []string{clone["id"].(string)}) {
		t.Fatalf("starting later, not archived: %v, want the clone", ids(l))
	}
	b.admin.must(http.StatusNotFound, "GET", path, nil)
	b.admin.must(http.StatusNotFound, "POST", path+"/status", map[string]any{"status": "draft"})
	b.admin.must(http.StatusNotFound, "PUT", path, map[string]any{"name": "mine"})

	// Delete, in any status.
	admin.must(http.StatusConflict, "DELETE", path, nil, "If-Match", `"0"`)
	if gone := admin.must(http.StatusOK, "DELETE", path, nil).Map(t); !reflect.DeepEqual(gone, archived) {
		t.Fatalf("DELETE answered %v, want %v", gone, archived)
	}
	admin.must(http.StatusNotFound, "GET", path, nil)
	admin.must(http.StatusNotFound, "POST", path+"/status", map[string]any{"status": "draft"})
}

func contentWrites(t *testing.T, a, b tenant) {
	admin := a.admin
	me := admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Writer", "model": "gpt-4o"}).Map(t)["id"].(string)
	camp := admin.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{
		"name": "Launch", "channel": "blog", "agent_id": agentID, "starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}).Map(t)
	cid := camp["id"].(string)
	under := "/api/campaigns/" + cid + "/content"

	first := admin.must(http.StatusCreated, "POST", under, map[string]any{"title": "Teaser", "body": "Soon."}).Map(t)
	fid := first["id"].(string)
	if fid == cid || first["campaign_id"] != cid || first["company_id"] != a.id || first["status"] != "draft" ||
		first["author_id"] != me["id"] || first["title"] != "Teaser" {
		t.Fatalf("add content: answered %v, want the new item", first)
	}
	readBack(t, admin, "/api/campaign_content/"+fid, first)
	// React Admin's create posts to the resource, the campaign in the body;
	// a clone of a record read back works the same way.
	second := admin.must(http.StatusCreated, "POST", "/api/campaign_content", map[string]any{"campaign_id": cid, "title": "Announcement", "body": "Now."}).Map(t)
	sid := second["id"].(string)
	clone := admin.must(http.StatusCreated, "POST", "/api/campaign_content", second).Map(t)
	if clone["id"] == sid || clone["title"] != "Announcement" || clone["campaign_id"] != cid {
		t.Fatalf("clone item: got %v", clone)
	}
	if c := admin.must(http.StatusOK, "GET", "/api/campaigns/"+cid, nil).Map(t); c["content_count"] != 3.0 {
		t.Fatalf("content_count after three adds: %v", c["content_count"])
	}
	fieldError(t, admin.do("POST", "/api/campaign_content", map[string]any{"title": "orphan"}), "campaign_id")
	fieldError(t, admin.do("POST", under, map[string]any{"campaign_id": noSuchID, "title": "elsewhere"}), "campaign_id")
	fieldError(t, admin.do("POST", under, map[string]any{"title": "  "}), "title")
	admin.must(http.StatusNotFound, "POST", "/api/campaigns/"+noSuchID+"/content", map[string]any{"title": "nowhere"})
	admin.must(http.StatusBadRequest, "POST", under, map[string]any{"title": "x", "priority": "high"})
	// The company an item is in is its campaign's: another one sent with
	// it is a 422, on an add as on an edit, never silently ignored.
	fieldError(t, admin.do("POST", "/api/campaign_content", map[string]any{"campaign_id": cid, "title": "x", "company_id": noSuchID}), "company_id")
	fieldError(t, admin.do("POST", under, map[string]any{"title": "x", "company_id": noSuchID}), "company_id")
	fieldError(t, admin.do("PUT", under+"/"+sid, map[string]any{"title": "x", "company_id": noSuchID}), "company_id")

	// Edits are conditional on the item's revision, not the campaign's:
	// a change to another item does not conflict.
	item := func(id string) string { return under + "/" + id }
	edit := admin.must(http.StatusOK, "GET", "/api/campaign_content/"+fid, nil).Map(t)
	admin.must(http.StatusOK, "PUT", item(sid), map[string]any{"body": "Now, really."})
	edit["title"] = "Teaser (final)"
	edited := admin.must(http.StatusOK, "PUT", item(fid), edit).Map(t)
	if edited["title"] != "Teaser (final)" || edited["revision"] == first["revision"] || edited["id"] != fid {
		t.Fatalf("edit item: got %v", edited)
	}
	readBack(t, admin, "/api/campaign_content/"+fid, edited)
	edit["title"] = "lost update"
	admin.must(http.StatusConflict, "PUT", item(fid), edit)
	admin.must(http.StatusConflict, "DELETE", item(fid), nil, "If-Match", fmt.Sprintf(`"%v"`, first["revision"]))
	fieldError(t, admin.do("PUT", item(fid), map[string]any{"campaign_id": noSuchID}), "campaign_id")
	fieldError(t, admin.do("PUT", item(fid), map[string]any{"id": sid}), "id")
	// The item's own URL under the wrong campaign finds nothing; the
	// resource URL names the one to use.
	other := admin.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{"name": "Other", "channel": "web"}).Map(t)["id"].(string)
	admin.must(http.StatusNotFound, "PUT", "/api/campaigns/"+other+"/content/"+fid, map[string]any{"title": "moved"})
	admin.must(http.StatusNotFound, "POST", "/api/campaigns/"+other+"/content/"+fid+"/approve", nil)
	moved := admin.must(http.StatusMethodNotAllowed, "PUT", "/api/campaign_content/"+fid, edit).Map(t)
	if !strings.Contains(moved["message"].(string), "/api/campaigns/{campaign_id}/content/{id}") {
		t.Fatalf("PUT on the resource URL answered %v, want the URL to use", moved)
	}
	admin.must(http.StatusMethodNotAllowed, "DELETE", "/api/campaign_content/"+fid, nil)

	// Approve and publish; publishing needs an active campaign.
	approved := admin.must(http.StatusOK, "POST", item(fid)+"/approve", nil).Map(t)
	admin.must(http.StatusOK, "PUT", item(sid), map[string]any{"body": "Now, really, truly."}) // moves the campaign on
	again := admin.must(http.StatusOK, "POST", item(fid)+"/approve", map[string]any{}).Map(t)
	if approved["status"] != "approved" || !reflect.DeepEqual(again, approved) {
		t.Fatalf("approve twice: got %v then %v", approved, again)
	}
	admin.must(http.StatusConflict, "POST", item(fid)+"/publish", nil)
	admin.must(http.StatusConflict, "POST", item(sid)+"/publish", nil) // a draft
	for _, st := range []string{"scheduled", "active"} {
		admin.must(http.StatusOK, "POST", "/api/campaigns/"+cid+"/status", map[string]any{"status": st})
	}
	published := admin.must(http.StatusOK, "POST", item(fid)+"/publish", nil).Map(t)
	if published["status"] != "published" {
		t.Fatalf("publish: got %v", published)
	}
	readBack(t, admin, "/api/campaign_content/"+fid, published)
	admin.must(http.StatusConflict, "PUT", item(fid), map[string]any{"title": "rewrite history"})

	// getManyReference: the items of the campaign.
	l := admin.list("/api/campaign_content" + filterQuery(map[string]any{"campaign_id": cid}, "sort=created_at&order=ASC"))
	if !reflect.DeepEqual(ids(l), []string{fid, sid, clone["id"].(string)}) {
		t.Fatalf("items of the campaign: %v, want %v", ids(l), []string{fid, sid, clone["id"].(string)})
	}
	byStatus := admin.list("/api/campaign_content" + filterQuery(map[string]any{"campaign_id": cid}, `sort=["status","DESC"]`))
	if st := column(byStatus, "status"); st[0] != "published" || st[len(st)-1] != "draft" {
		t.Fatalf("items by status, descending: %v", st)
	}
	everySortAndFilter(t, admin, resource.CampaignContent, map[string]any{"campaign_id": cid}, published)
	b.admin.must(http.StatusNotFound, "GET", "/api/campaign_content/"+fid, nil)
	b.admin.must(http.StatusNotFound, "PUT", item(fid), map[string]any{"title": "mine"})
	b.admin.must(http.StatusNotFound, "POST", under, map[string]any{"title": "mine"})

	// Remove: answered with the item as it was; the campaign counts it out.
	current := admin.must(http.StatusOK, "GET", "/api/campaign_content/"+sid, nil).Map(t)
	if gone := admin.must(http.StatusOK, "DELETE", item(sid), nil).Map(t); !reflect.DeepEqual(gone, current) {
		t.Fatalf("DELETE item answered %v, want %v", gone, current)
	}
	admin.must(http.StatusNotFound, "GET", "/api/campaign_content/"+sid, nil)
	admin.must(http.StatusNotFound, "PUT", item(sid), map[string]any{"title": "back"})
	if c := admin.must(http.StatusOK, "GET", "/api/campaigns/"+cid, nil).Map(t); c["content_count"] != 2.0 {
		t.Fatalf("content_count after a removal: %v", c["content_count"])
	}
	if l := admin.list("/api/campaign_content" + filterQuery(map[string]any{"campaign_id": cid}, "")); l.Total != 2 {
		t.Fatalf("items after a removal: %d, want 2", l.Total)
	}
	// Deleting the campaign takes its items.
	admin.must(http.StatusOK, "DELETE", "/api/campaigns/"+cid, nil)
	admin.must(http.StatusNotFound, "GET", "/api/campaign_content/"+fid, nil)
}

func knowledgeWrites(t *testing.T, a, b tenant) {
	admin := a.admin
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Librarian", "model": "gpt-4o"}).Map(t)["id"].(string)
	otherAgent := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Archivist", "model": "gpt-4o"}).Map(t)["id"].(string)
	theirs := b.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Theirs", "model": "gpt-4o"}).Map(t)["id"].(string)

	content := "Orders ship within two business days."
	rec := admin.must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{
		"agent_id": agentID, "title": "Shipping", "content": content, "source": "url", "tags": []string{"FAQ", "faq", " Shipping "},
		"token_count": 1, // read-only: ignored
	}).Map(t)
	id := rec["id"].(string)
	path := "/api/knowledge_chunks/" + id
	if rec["agent_id"] != agentID || rec["company_id"] != a.id || rec["source"] != "url" ||
		!reflect.DeepEqual(rec["tags"], []any{"faq", "shipping"}) || rec["token_count"] != float64((len(content)+3)/4) {
		t.Fatalf("create chunk: got %v", rec)
	}
	readBack(t, admin, path, rec)
	manual := admin.must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": otherAgent, "title": "Returns", "content": "30 days."}).Map(t)
	if manual["source"] != "manual" || !reflect.DeepEqual(manual["tags"], []any{}) {
		t.Fatalf("defaults: got %v", manual)
	}

	edit := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	stale := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	longer := content + " Express orders ship the same day."
	edit["content"], edit["token_count"] = longer, 99999
	saved := admin.must(http.StatusOK, "PUT", path, edit).Map(t)
	if saved["content"] != longer || saved["token_count"] != float64((len(longer)+3)/4) || saved["revision"] != 1.0 {
		t.Fatalf("PUT whole record: got %v", saved)
	}
	readBack(t, admin, path, saved)
	stale["title"] = "lost update"
	admin.must(http.StatusConflict, "PUT", path, stale)
	admin.must(http.StatusConflict, "PUT", path, map[string]any{"title": "late"}, "If-Match", `"0"`)
	moved := admin.must(http.StatusOK, "PUT", path, map[string]any{"agent_id": otherAgent}).Map(t)
	if moved["agent_id"] != otherAgent {
		t.Fatalf("move to another agent: got %v", moved)
	}

	// Bad input.
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": theirs}), "agent_id")
	fieldError(t, admin.do("PUT", path, map[string]any{"agent_id": nil}), "agent_id")
	fieldError(t, admin.do("POST", "/api/knowledge_chunks", map[string]any{"agent_id": theirs, "title": "x", "content": "y"}), "agent_id")
	fieldError(t, admin.do("POST", "/api/knowledge_chunks", map[string]any{"agent_id": noSuchID, "title": "x", "content": "y"}), "agent_id")
	fieldError(t, admin.do("POST", "/api/knowledge_chunks", map[string]any{"title": "x", "content": "y"}), "agent_id")
	noTitle := admin.do("POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentID, "content": "", "source": "fax"})
	for _, f := range []string{"title", "content", "source"} {
		fieldError(t, noTitle, f)
	}
	fixed := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	fixed["company_id"] = b.id
	fieldError(t, admin.do("PUT", path, fixed), "company_id")
	admin.must(http.StatusBadRequest, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentID, "title": "x", "content": "y", "tags": "faq"})
	admin.must(http.StatusBadRequest, "POST", "/api/knowledge_chunks", map[string]any{"agent_id": agentID, "title": "x", "content": "y", "embedding": []float64{0.1}})

	// getManyReference: the chunks of an agent; other lists.
	if l := admin.list("/api/knowledge_chunks" + filterQuery(map[string]any{"agent_id": otherAgent}, "sort=created_at&order=ASC")); !reflect.DeepEqual(ids(l), []string{id, manual["id"].(string)}) {
		t.Fatalf("chunks of the agent: %v, want %s and %s", ids(l), id, manual["id"])
	}
	if l := admin.list("/api/knowledge_chunks" + filterQuery(map[string]any{"agent_id": agentID}, "")); l.Total != 0 {
		t.Fatalf("chunks of the agent it moved from: %v", ids(l))
	}
	current := admin.must(http.StatusOK, "GET", path, nil).Map(t)
	everySortAndFilter(t, admin, resource.KnowledgeChunks, nil, current)
	if l := admin.list("/api/knowledge_chunks" + filterQuery(map[string]any{"tags": "shipping", "source": []string{"url", "upload"}}, "")); !reflect.DeepEqual(ids(l), []string{id}) {
		t.Fatalf("tag and source filter: %v", ids(l))
	}
	if l := admin.list("/api/knowledge_chunks" + filterQuery(map[string]any{}, `sort=["token_count","DESC"]`)); l.Data[0]["id"] != id {
		t.Fatalf("by token_count: %v, want %s first", ids(l), id)
	}
	b.admin.must(http.StatusNotFound, "GET", path, nil)
	b.admin.must(http.StatusNotFound, "DELETE", path, nil)

	if gone := admin.must(http.StatusOK, "DELETE", path, nil).Map(t); !reflect.DeepEqual(gone, current) {
		t.Fatalf("DELETE answered %v, want %v", gone, current)
	}
	admin.must(http.StatusNotFound, "GET", path, nil)
	admin.must(http.StatusNotFound, "PUT", path, map[string]any{"title": "ghost"})
}

// TestCredentialsNeverInClear sends integration credentials in clear and
// looks for them everywhere: answers, reads, lists, the event log and
// every file in the data dir. The log holds them sealed with the data
// dir's key.
func TestCredentialsNeverInClear(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Vault")
	first, second := "shpat_FIRSTplaintext7f3a9c", "wp-SECONDplaintext0b5e21"
	leaks := func(where string, raw []byte) {
		t.Helper()
		for _, secret := range []string{first, second} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("%s holds a credential in clear", where)
			}
		}
		if bytes.Contains(raw, []byte(`"credential"`)) || bytes.Contains(raw, []byte("v1:")) {
			t.Fatalf("%s holds a credential field or a sealed value: %s", where, raw)
		}
	}

	created := a.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Shopkeeper", "model": "gpt-4o",
		"integrations": []map[string]any{{"type": "shopify", "shop_domain": "vault.myshopify.com", "api_version": "2024-10", "credential": first}}})
	leaks("the create answer", created.Body)
	rec := created.Map(t)
	id := rec["id"].(string)
	it := rec["integrations"].([]any)[0].(map[string]any)
	it["credential"] = second
	updated := a.admin.must(http.StatusOK, "PUT", "/api/agents/"+id, map[string]any{"integrations": []any{it}})
	leaks("the update answer", updated.Body)
	leaks("GET", a.admin.must(http.StatusOK, "GET", "/api/agents/"+id, nil).Body)
	leaks("the list", a.admin.must(http.StatusOK, "GET", "/api/agents", nil).Body)

	// Stop the server, so that the event store can be opened here.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(ts.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{first, second} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds a credential in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(ts.dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	evs, err := es.ReadStream(t.Context(), "agent-"+id, 0, 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("agent stream: %d events, %v; want created and updated", len(evs), err)
	}
	// The sealed credentials open with the data dir's key, to what was sent.
	hexKey, err := os.ReadFile(filepath.Join(ts.dir, "secrets-key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(ts.dir, "secrets-key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets-key mode %v, want 0600", fi.Mode().Perm())
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(hexKey)))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{first, second} {
		data := string(evs[i].Data)
		start := strings.Index(data, `"credential":"v1:`)
		if start < 0 {
			t.Fatalf("%s: no sealed credential in %s", evs[i].Type, data)
		}
		sealed := data[start+len(`"credential":"`):]
		sealed = sealed[:strings.IndexByte(sealed, '"')]
		if got, err := sealer.Open(sealed); err != nil || got != want {
			t.Fatalf("%s: sealed credential opens to %q, %v; want the one sent", evs[i].Type, got, err)
		}
	}
}
