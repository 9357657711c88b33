package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"agentdesk/internal/syncsource/syncsourcetest"
)

// syncFixture is a server whose knowledge syncs reach a fake Shopify
// shop and a fake WordPress site, both under syncsourcetest.Host, and a
// company admin with an agent integrated with both.
type syncFixture struct {
	ts      *testServer
	shop    *syncsourcetest.Shop
	site    *syncsourcetest.Site
	admin   *client
	other   tenant
	agentID string
}

var syncT0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func newSyncFixture(t *testing.T) *syncFixture {
	t.Helper()
	shop := syncsourcetest.NewShop(t, "shpat_e2e",
		syncsourcetest.Product{ID: 1, Title: "Red mug", Handle: "red-mug", DescriptionHTML: "<p>A red mug.</p>", UpdatedAt: syncT0,
			Variants: []syncsourcetest.Variant{{Title: "Default Title", Price: "12.50"}}},
		syncsourcetest.Product{ID: 2, Title: "T-shirt", Handle: "t-shirt", DescriptionHTML: "<p>Cotton.</p>", UpdatedAt: syncT0.Add(time.Minute),
			Variants: []syncsourcetest.Variant{{Title: "S", Price: "20.00"}, {Title: "XL", Price: "22.00"}}},
		syncsourcetest.Product{ID: 3, Title: "Poster", Handle: "poster", UpdatedAt: syncT0.Add(2 * time.Minute)},
	)
	site := syncsourcetest.NewSite(t,
		[]syncsourcetest.Post{
			{ID: 10, Title: "Shipping", ContentHTML: "<p>We ship fast.</p>", Modified: syncT0},
			{ID: 11, Title: "Returns", ContentHTML: "<p>30 days.</p>", Modified: syncT0.Add(time.Minute)},
			{ID: 12, Title: "Draft", ContentHTML: "<p>Not yet.</p>", Modified: syncT0, Draft: true},
		},
		[]syncsourcetest.Post{{ID: 20, Title: "About", ContentHTML: "<p>A small shop.</p>", Modified: syncT0}})
	site.User, site.Password = "editor", "app pass"
	shopHTTP, siteHTTP := shop.Client(), site.Client()
	route := &http.Client{Timeout: 10 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/wp-json/") {
			return siteHTTP.Transport.RoundTrip(r)
		}
		return shopHTTP.Transport.RoundTrip(r)
	})}
	dir := t.TempDir()
	ts := startServerOpts(t, dir, testConfig(t, dir), quietLogger(t), Options{SyncHTTP: route})
	root := login(t, ts.URL, "admin", testAdminPassword)
	acme := newTenant(t, ts, root, "Acme")
	other := newTenant(t, ts, root, "Other")
	ag := acme.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{
		"name": "Shop bot", "model": "gpt-4o-mini",
		"integrations": []map[string]any{
			{"type": "shopify", "shop_domain": syncsourcetest.Host, "api_version": "2025-01", "credential": "shpat_e2e"},
			{"type": "wordpress", "site_url": "https://" + syncsourcetest.Host, "credential": "editor:app pass"},
		},
	}).Map(t)
	return &syncFixture{ts: ts, shop: shop, site: site, admin: acme.admin, other: other, agentID: ag["id"].(string)}
}

// sync starts a run of the integration typ and waits until it is over.
func (f *syncFixture) sync(t *testing.T, typ string) map[string]any {
	t.Helper()
	run := f.admin.must(http.StatusAccepted, "POST", "/api/agents/"+f.agentID+"/integrations/"+typ+"/sync", nil).Map(t)
	if run["type"] != typ || run["agent_id"] != f.agentID {
		t.Fatalf("started run: got %v, want a %s run of the agent", run, typ)
	}
	id := run["id"].(string)
	waitFor(t, "the "+typ+" run", func() bool {
		run = f.admin.must(http.StatusOK, "GET", "/api/sync_runs/"+id, nil).Map(t)
		return run["status"] != "running"
	})
	if run["status"] != "finished" {
		t.Fatalf("run: got %v, want finished", run)
	}
	return run
}

// chunks returns the agent's chunks of source, by remote id.
func (f *syncFixture) chunks(t *testing.T, source string) map[string]map[string]any {
	t.Helper()
	l := f.admin.list("/api/knowledge_chunks" + filterQuery(map[string]any{"agent_id": f.agentID, "source": source}, "range=[0,99]"))
	out := map[string]map[string]any{}
	for _, c := range l.Data {
		rid := c["remote_id"].(string)
		if out[rid] != nil {
			t.Fatalf("two chunks of %s", rid)
		}
		out[rid] = c
	}
	if int(l.Total) != len(out) {
		t.Fatalf("total %d, %d chunks", l.Total, len(out))
	}
	return out
}

// chunksAfter waits until the knowledge_chunks view, which follows the
// log on its own, holds n chunks of source whose contents satisfy ok,
// and returns them.
func (f *syncFixture) chunksAfter(t *testing.T, source string, n int, ok func(map[string]map[string]any) bool) map[string]map[string]any {
	t.Helper()
	var got map[string]map[string]any
	waitFor(t, "the synced chunks", func() bool {
		got = f.chunks(t, source)
		return len(got) == n && (ok == nil || ok(got))
	})
	return got
}

func counts(run map[string]any) [3]float64 {
	return [3]float64{run["added"].(float64), run["updated"].(float64), run["removed"].(float64)}
}

func sortedIDs(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSyncShopify drives a Shopify sync over HTTP against a fake shop:
// the first run, through a THROTTLED answer and an HTTP 429, adds a chunk
// per product keyed by its remote id; after one product changes and one
// is removed, the second run reads only the changes since the first
// run's mark, updates the changed chunk in place and deletes the removed
// one, leaving the third untouched: no duplicates.
func TestSyncShopify(t *testing.T) {
	f := newSyncFixture(t)
	f.shop.Throttle(1, 1)
	first := f.sync(t, "shopify")
	if got, want := counts(first), [3]float64{3, 0, 0}; got != want {
		t.Fatalf("first run counts: got %v, want %v", got, want)
	}
	if first["since"] != "" || first["mark"] != syncT0.Add(2*time.Minute).Format(time.RFC3339) || first["finished_at"] == nil {
		t.Fatalf("first run: got %v, want a full read ending at the last product's update", first)
	}
	before := f.chunksAfter(t, "shopify", 3, nil)
	want := []string{"shopify:gid://shopify/Product/1", "shopify:gid://shopify/Product/2", "shopify:gid://shopify/Product/3"}
	if got := sortedIDs(before); !slices.Equal(got, want) {
		t.Fatalf("chunks: got %v, want %v", got, want)
	}
	if c := before[want[1]]; c["title"] != "T-shirt" || !strings.Contains(c["content"].(string), "Price: 20.00 – 22.00") {
		t.Fatalf("t-shirt chunk: got %v", c)
	}

	f.shop.Put(syncsourcetest.Product{ID: 2, Title: "T-shirt, organic", Handle: "t-shirt", DescriptionHTML: "<p>Organic cotton.</p>",
		UpdatedAt: syncT0.Add(time.Hour), Variants: []syncsourcetest.Variant{{Title: "S", Price: "24.00"}}})
	f.shop.Remove(3)
	second := f.sync(t, "shopify")
	if got, want := counts(second), [3]float64{0, 1, 1}; got != want {
		t.Fatalf("second run counts: got %v, want %v", got, want)
	}
	if second["since"] != first["mark"] {
		t.Fatalf("second run read since %v, want the first run's mark %v", second["since"], first["mark"])
	}
	if q := f.shop.Queries(); !slices.Contains(q, "Products updated_at:>'"+first["mark"].(string)+"'") {
		t.Fatalf("queries: got %v, want the changes since the first mark", q)
	}
	after := f.chunksAfter(t, "shopify", 2, func(m map[string]map[string]any) bool {
		return m[want[1]] != nil && m[want[1]]["title"] == "T-shirt, organic"
	})
	if got := sortedIDs(after); !slices.Equal(got, want[:2]) {
		t.Fatalf("chunks after: got %v, want %v", got, want[:2])
	}
	if a, b := after[want[1]], before[want[1]]; a["id"] != b["id"] || a["title"] != "T-shirt, organic" || !strings.Contains(a["content"].(string), "Organic cotton.") {
		t.Fatalf("changed chunk: got %v, want chunk %v updated in place", a, b["id"])
	}
	if a, b := after[want[0]], before[want[0]]; a["id"] != b["id"] || a["revision"] != b["revision"] {
		t.Fatalf("unchanged chunk: got %v, want it as it was (%v)", a, b)
	}

	runs := f.admin.list("/api/sync_runs" + filterQuery(map[string]any{"agent_id": f.agentID, "type": "shopify"}, "sort=started_at&order=DESC"))
	if runs.Total != 2 || runs.Data[0]["id"] != second["id"] {
		t.Fatalf("sync_runs: got %v, want the two runs, newest first", runs)
	}
}

// TestSyncWordPress drives a WordPress sync over HTTP against a fake
// site with an application password: published posts and pages become
// chunks (drafts do not), through an HTTP 429; a post changed since is
// updated by the next run, which asks for modified_after the first
// run's mark.
func TestSyncWordPress(t *testing.T) {
	f := newSyncFixture(t)
	f.site.TooMany(1)
	first := f.sync(t, "wordpress")
	if got, want := counts(first), [3]float64{3, 0, 0}; got != want {
		t.Fatalf("first run counts: got %v, want %v", got, want)
	}
	before := f.chunksAfter(t, "wordpress", 3, nil)
	want := []string{"wordpress:page:20", "wordpress:post:10", "wordpress:post:11"}
	if got := sortedIDs(before); !slices.Equal(got, want) {
		t.Fatalf("chunks: got %v, want %v", got, want)
	}
	f.site.Put("posts", syncsourcetest.Post{ID: 11, Title: "Returns", ContentHTML: "<p>60 days now.</p>", Modified: syncT0.Add(time.Hour)})
	second := f.sync(t, "wordpress")
	if got, want := counts(second), [3]float64{0, 1, 0}; got != want {
		t.Fatalf("second run counts: got %v, want %v", got, want)
	}
	after := f.chunksAfter(t, "wordpress", 3, func(m map[string]map[string]any) bool {
		return m["wordpress:post:11"] != nil && strings.Contains(m["wordpress:post:11"]["content"].(string), "60 days now.")
	})
	if a, b := after["wordpress:post:11"], before["wordpress:post:11"]; a["id"] != b["id"] || !strings.Contains(a["content"].(string), "60 days now.") {
		t.Fatalf("changed post: got %v, want chunk %v updated", a, b["id"])
	}
	if gets := f.site.Gets(); !slices.ContainsFunc(gets, func(g string) bool { return strings.Contains(g, "modified_after=") }) {
		t.Fatalf("requests: got %v, want the second run to ask for modified_after", gets)
	}
	if len(after) != 3 {
		t.Fatalf("got %d chunks after, want 3", len(after))
	}
}

// TestSyncRefusals: another company's agent is not found, an agent
// without the integration is a 422, and the runs are the company's own.
func TestSyncRefusals(t *testing.T) {
	f := newSyncFixture(t)
	f.other.admin.must(http.StatusNotFound, "POST", "/api/agents/"+f.agentID+"/integrations/shopify/sync", nil)
	bare := f.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Bare", "model": "gpt-4o-mini"}).Map(t)
	f.admin.must(http.StatusUnprocessableEntity, "POST", "/api/agents/"+bare["id"].(string)+"/integrations/shopify/sync", nil)
	f.admin.must(http.StatusUnprocessableEntity, "POST", "/api/agents/"+f.agentID+"/integrations/ftp/sync", nil)
	run := f.sync(t, "shopify")
	f.other.admin.must(http.StatusNotFound, "GET", "/api/sync_runs/"+run["id"].(string), nil)
	if l := f.other.admin.list("/api/sync_runs"); l.Total != 0 {
		t.Fatalf("another company sees %d runs, want none", l.Total)
	}
}
