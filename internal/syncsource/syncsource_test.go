package syncsource_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"agentdesk/internal/syncsource"
	"agentdesk/internal/syncsource/syncsourcetest"
)

// waits records the waits of a client instead of sleeping.
type waits struct{ got []time.Duration }

func (w *waits) retry() syncsource.Retry {
	return syncsource.Retry{Sleep: func(_ context.Context, d time.Duration) error {
		w.got = append(w.got, d)
		return nil
	}}
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func products() []syncsourcetest.Product {
	return []syncsourcetest.Product{
		{ID: 1, Title: "Red mug", Handle: "red-mug", DescriptionHTML: "<p>A <b>red</b> mug &amp; saucer.</p>", UpdatedAt: t0,
			Variants: []syncsourcetest.Variant{{Title: "Default Title", Price: "12.50", SKU: "MUG-R"}}},
		{ID: 2, Title: "T-shirt", Handle: "t-shirt", DescriptionHTML: "<ul><li>Cotton</li></ul>", UpdatedAt: t0.Add(time.Minute),
			Variants: []syncsourcetest.Variant{{Title: "S", Price: "20.00", SKU: "TS-S"}, {Title: "XL", Price: "22.00"}}},
		{ID: 3, Title: "Poster", Handle: "poster", UpdatedAt: t0.Add(2 * time.Minute)},
	}
}

func ids(items []syncsource.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.RemoteID)
	}
	return out
}

// TestShopifyPagesThrottlingAndChanges: a full read follows the cursor
// over two pages through a THROTTLED answer and an HTTP 429; the next
// read from its mark asks for products updated after it, gets the one
// changed, and lists the ids that remain (one was removed).
func TestShopifyPagesThrottlingAndChanges(t *testing.T) {
	shop := syncsourcetest.NewShop(t, "shpat_1", products()...)
	var w waits
	c := &syncsource.Shopify{ShopDomain: "shop.example.com", APIVersion: "2025-01", AccessToken: "shpat_1",
		BaseURL: shop.URL, HTTP: shop.Client(), Retry: w.retry(), PageSize: 2}
	shop.Throttle(1, 1)
	l, err := c.Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shopify:gid://shopify/Product/1", "shopify:gid://shopify/Product/2", "shopify:gid://shopify/Product/3"}
	if got := ids(l.Changed); !slices.Equal(got, want) {
		t.Fatalf("changed: got %v, want %v", got, want)
	}
	if !slices.Equal(l.IDs, want) {
		t.Fatalf("ids: got %v, want %v", l.IDs, want)
	}
	if got, want := l.Mark, t0.Add(2*time.Minute).Format(time.RFC3339); got != want {
		t.Fatalf("mark: got %q, want %q", got, want)
	}
	// THROTTLED: (52 requested − 51 available) / 100 a second; 429: its
	// Retry-After of 0.
	if want := []time.Duration{10 * time.Millisecond, 0}; !slices.Equal(w.got, want) {
		t.Fatalf("waits: got %v, want %v", w.got, want)
	}
	if got, want := shop.Queries(), []string{"Products", "Products", "Products"}; !slices.Equal(got, want) {
		t.Fatalf("queries: got %v, want %v (the first page again after THROTTLED; the 429 reads no query)", got, want)
	}
	mug := l.Changed[0]
	for _, part := range []string{"Red mug", "Price: 12.50", "A red mug & saucer.", "https://shop.example.com/products/red-mug"} {
		if !strings.Contains(mug.Content, part) {
			t.Errorf("mug's text %q lacks %q", mug.Content, part)
		}
	}
	if strings.Contains(mug.Content, "Default Title") || strings.Contains(mug.Content, "<") {
		t.Errorf("mug's text %q: want no default variant and no HTML", mug.Content)
	}
	if shirt := l.Changed[1].Content; !strings.Contains(shirt, "Price: 20.00 – 22.00") || !strings.Contains(shirt, "- S: 20.00 (SKU TS-S)") {
		t.Errorf("shirt's text %q: want its price range and variants", shirt)
	}

	changed := products()[1]
	changed.Title, changed.UpdatedAt = "T-shirt, organic", t0.Add(time.Hour)
	shop.Put(changed)
	shop.Remove(3)
	l2, err := c.Read(context.Background(), l.Mark)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(l2.Changed); !slices.Equal(got, want[1:2]) || l2.Changed[0].Title != "T-shirt, organic" {
		t.Fatalf("second read changed: got %v, want only the t-shirt, renamed", l2.Changed)
	}
	if !slices.Equal(l2.IDs, want[:2]) {
		t.Fatalf("second read ids: got %v, want %v", l2.IDs, want[:2])
	}
	if got, want := l2.Mark, t0.Add(time.Hour).Format(time.RFC3339); got != want {
		t.Fatalf("second mark: got %q, want %q", got, want)
	}
	if q := shop.Queries(); q[3] != "Products updated_at:>'"+l.Mark+"'" || q[4] != "ProductIDs" {
		t.Fatalf("second read's queries: got %v, want the changes since the mark, then the ids", q[3:])
	}

	// Nothing changed: the mark stays.
	l3, err := c.Read(context.Background(), l2.Mark)
	if err != nil || len(l3.Changed) != 0 || l3.Mark != l2.Mark {
		t.Fatalf("third read: got %+v, %v; want nothing changed, the same mark", l3, err)
	}
}

// TestShopifyGivesUp: throttling past the retries, and a wrong token,
// are errors.
func TestShopifyGivesUp(t *testing.T) {
	shop := syncsourcetest.NewShop(t, "shpat_1", products()...)
	var w waits
	r := w.retry()
	r.Max = 2
	c := &syncsource.Shopify{ShopDomain: "shop.example.com", APIVersion: "2025-01", AccessToken: "shpat_1", BaseURL: shop.URL, HTTP: shop.Client(), Retry: r}
	shop.Throttle(5, 0)
	if _, err := c.Read(context.Background(), ""); !errors.Is(err, syncsource.ErrThrottled) {
		t.Fatalf("got %v, want ErrThrottled", err)
	}
	if len(w.got) != 2 {
		t.Fatalf("waited %d times, want 2", len(w.got))
	}
	shop.Throttle(0, 0)
	c.AccessToken = "wrong"
	var se *syncsource.StatusError
	if _, err := c.Read(context.Background(), ""); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("got %v, want a 401 StatusError", err)
	}
}

// TestWordPressPagesThrottlingAndChanges: posts and pages over numbered
// pages (X-WP-TotalPages) through an HTTP 429, drafts left out, then a
// changed post on the next read from the mark, and a removed page.
func TestWordPressPagesThrottlingAndChanges(t *testing.T) {
	posts := []syncsourcetest.Post{
		{ID: 10, Title: "Hello &amp; welcome", ContentHTML: "<p>First post.</p>", Modified: t0},
		{ID: 11, Title: "Shipping", ContentHTML: "<p>We ship <em>fast</em>.</p>", Modified: t0.Add(time.Minute)},
		{ID: 12, Title: "Returns", ContentHTML: "<p>30 days.</p>", Modified: t0.Add(2 * time.Minute)},
		{ID: 13, Title: "Secret", ContentHTML: "<p>Draft.</p>", Modified: t0.Add(3 * time.Minute), Draft: true},
	}
	pages := []syncsourcetest.Post{{ID: 20, Title: "About", ContentHTML: "<h2>Us</h2><p>A shop.</p>", Modified: t0}}
	site := syncsourcetest.NewSite(t, posts, pages)
	site.User, site.Password = "editor", "abcd efgh ijkl"
	var w waits
	c := &syncsource.WordPress{SiteURL: site.URL, Credential: "editor:abcd efgh ijkl", HTTP: site.Client(), Retry: w.retry(), PageSize: 2}
	site.TooMany(1)
	l, err := c.Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"wordpress:post:10", "wordpress:post:11", "wordpress:post:12", "wordpress:page:20"}
	if got := ids(l.Changed); !slices.Equal(got, want) {
		t.Fatalf("changed: got %v, want %v", got, want)
	}
	if !slices.Equal(l.IDs, want) {
		t.Fatalf("ids: got %v, want %v", l.IDs, want)
	}
	if len(w.got) != 1 {
		t.Fatalf("waits: got %v, want one for the 429", w.got)
	}
	if got := l.Changed[0]; got.Title != "Hello & welcome" || !strings.Contains(got.Content, "First post.") || !strings.Contains(got.Content, "https://example.com/?post_id=10") {
		t.Fatalf("first post: got %+v", got)
	}
	if got, want := l.Mark, t0.Add(2*time.Minute).Format(time.RFC3339); got != want {
		t.Fatalf("mark: got %q, want %q", got, want)
	}
	gets := site.Gets()
	if len(gets) != 4 || !strings.Contains(gets[0], "page=1") || !strings.Contains(gets[2], "page=2") || !strings.Contains(gets[0], "status=publish") {
		t.Fatalf("requests: got %v, want posts page 1 (twice, after the 429), page 2, then pages", gets)
	}

	posts[1].Title, posts[1].Modified = "Shipping, worldwide", t0.Add(time.Hour)
	site.Put("posts", posts[1])
	site.Remove("pages", 20)
	l2, err := c.Read(context.Background(), l.Mark)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(l2.Changed); !slices.Equal(got, []string{"wordpress:post:11"}) || l2.Changed[0].Title != "Shipping, worldwide" {
		t.Fatalf("second read changed: got %+v, want the shipping post, renamed", l2.Changed)
	}
	if slices.Sort(l2.IDs); !slices.Equal(l2.IDs, []string{"wordpress:post:10", "wordpress:post:11", "wordpress:post:12"}) {
		t.Fatalf("second read ids: got %v, want the three posts", l2.IDs)
	}
	if got := site.Gets()[4]; !strings.Contains(got, "modified_after="+strings.ReplaceAll(l.Mark, ":", "%3A")) {
		t.Fatalf("second read: got %s, want modified_after the mark", got)
	}

	c.Credential = "editor:wrong"
	var se *syncsource.StatusError
	if _, err := c.Read(context.Background(), ""); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("got %v, want a 401 StatusError", err)
	}
}
