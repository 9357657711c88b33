// Package syncsourcetest holds fakes of the remote sides a knowledge sync
// reads, for tests: a Shopify shop speaking the GraphQL Admin API's
// products query (cursor pages, query cost, THROTTLED and HTTP 429) and a
// WordPress site speaking the REST API's posts and pages (numbered pages
// with X-WP-TotalPages, modified_after, HTTP 429). Both serve TLS; Client
// reaches them under any host name, so an integration can name a public
// https host and still be served here. They are test doubles, not
// emulators: they answer the fields agentdesk asks for.
package syncsourcetest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Host is the host name the fakes' certificate is valid for: an
// integration names it (shop_domain, https://Host) and Client dials the
// fake.
const Host = "example.com"

// client returns an HTTP client that reaches srv whatever host a request
// names, trusting its certificate.
func client(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr.DialTLSContext = nil
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Variant is a product variant.
type Variant struct {
	Title, Price, SKU string
}

// Product is a shop's product.
type Product struct {
	// ID is the number in its gid (gid://shopify/Product/<ID>).
	ID              int
	Title           string
	Handle          string
	DescriptionHTML string
	UpdatedAt       time.Time
	Variants        []Variant
}

// Shop is a fake Shopify shop. Its fields may be changed between runs
// under Lock.
type Shop struct {
	URL   string
	Token string

	mu       sync.Mutex
	products map[int]Product
	// throttled and tooMany are how many of the next requests answer
	// THROTTLED, and HTTP 429.
	throttled, tooMany int
	// Requests counts the requests served, Queries the queries by their
	// operation name and search.
	requests int
	queries  []string
	srv      *httptest.Server
}

// NewShop starts a shop with products, answering requests that carry
// token, until the test ends.
func NewShop(tb testing.TB, token string, products ...Product) *Shop {
	tb.Helper()
	s := &Shop{Token: token, products: map[int]Product{}}
	for _, p := range products {
		s.products[p.ID] = p
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// Client returns an HTTP client that reaches the shop under any host.
func (s *Shop) Client() *http.Client { return client(s.srv) }

// Put adds or replaces a product.
func (s *Shop) Put(p Product) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.products[p.ID] = p
}

// Remove deletes a product.
func (s *Shop) Remove(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.products, id)
}

// Throttle makes the next n requests answer THROTTLED, and the m after
// them HTTP 429.
func (s *Shop) Throttle(n, m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled, s.tooMany = n, m
}

// Queries returns the queries served so far, each as its operation name
// and, when set, its search ("Products updated_at:>'…'").
func (s *Shop) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

func (s *Shop) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/admin/api/") || !strings.HasSuffix(r.URL.Path, "/graphql.json") {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != s.Token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`)
		return
	}
	if s.tooMany > 0 && s.throttled == 0 {
		s.tooMany--
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`)
		return
	}
	var req struct {
		Query     string `json:"query"`
		Variables struct {
			First  int     `json:"first"`
			After  *string `json:"after"`
			Search *string `json:"query"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	idsOnly := strings.Contains(req.Query, "query ProductIDs")
	cost := 52.0
	if idsOnly {
		cost = 3
	}
	name := "Products"
	if idsOnly {
		name = "ProductIDs"
	}
	if req.Variables.Search != nil {
		name += " " + *req.Variables.Search
	}
	s.queries = append(s.queries, name)
	w.Header().Set("Content-Type", "application/json")
	if s.throttled > 0 {
		s.throttled--
		_ = json.NewEncoder(w).Encode(map[string]any{
			"errors":     []any{map[string]any{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}},
			"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": cost, "actualQueryCost": nil, "throttleStatus": map[string]any{"maximumAvailable": 2000.0, "currentlyAvailable": cost - 1, "restoreRate": 100.0}}},
		})
		return
	}
	var since time.Time
	if q := req.Variables.Search; q != nil {
		v, ok := strings.CutPrefix(*q, "updated_at:>'")
		v, ok2 := strings.CutSuffix(v, "'")
		t, err := time.Parse(time.RFC3339, v)
		if !ok || !ok2 || err != nil {
			http.Error(w, "unexpected query "+*q, http.StatusBadRequest)
			return
		}
		since = t
	}
	var list []Product
	for _, p := range s.products {
		if since.IsZero() || p.UpdatedAt.After(since) {
			list = append(list, p)
		}
	}
	slices.SortFunc(list, func(a, b Product) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	start := 0
	if a := req.Variables.After; a != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*a, "cursor:"))
		if err != nil {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		start = n
	}
	end := min(start+max(req.Variables.First, 1), len(list))
	nodes := []any{}
	for _, p := range list[start:end] {
		gid := fmt.Sprintf("gid://shopify/Product/%d", p.ID)
		if idsOnly {
			nodes = append(nodes, map[string]any{"id": gid})
			continue
		}
		variants := []any{}
		for _, v := range p.Variants {
			variants = append(variants, map[string]any{"title": v.Title, "price": v.Price, "sku": v.SKU})
		}
		nodes = append(nodes, map[string]any{"id": gid, "title": p.Title, "handle": p.Handle, "descriptionHtml": p.DescriptionHTML,
			"onlineStoreUrl": nil, "updatedAt": p.UpdatedAt.UTC().Format(time.RFC3339), "variants": map[string]any{"nodes": variants}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"data": map[string]any{"products": map[string]any{
			"pageInfo": map[string]any{"hasNextPage": end < len(list), "endCursor": "cursor:" + strconv.Itoa(end)},
			"nodes":    nodes,
		}},
		"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": cost, "actualQueryCost": cost / 2,
			"throttleStatus": map[string]any{"maximumAvailable": 2000.0, "currentlyAvailable": 2000.0 - cost/2, "restoreRate": 100.0}}},
	})
}

// Post is a WordPress post or page.
type Post struct {
	ID          int
	Title       string
	ContentHTML string
	Modified    time.Time
	// Draft posts are not published: the site lists them to no one.
	Draft bool
}

// Site is a fake WordPress site.
type Site struct {
	URL string
	// User and Password, when set, are the application password the
	// site requires.
	User, Password string

	mu      sync.Mutex
	items   map[string]map[int]Post // "posts" or "pages" → id → post
	tooMany int
	gets    []string
	srv     *httptest.Server
}

// NewSite starts a site with posts and pages until the test ends.
func NewSite(tb testing.TB, posts, pages []Post) *Site {
	tb.Helper()
	s := &Site{items: map[string]map[int]Post{"posts": {}, "pages": {}}}
	for _, p := range posts {
		s.items["posts"][p.ID] = p
	}
	for _, p := range pages {
		s.items["pages"][p.ID] = p
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// Client returns an HTTP client that reaches the site under any host.
func (s *Site) Client() *http.Client { return client(s.srv) }

// Put adds or replaces a post (kind "posts") or page ("pages").
func (s *Site) Put(kind string, p Post) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[kind][p.ID] = p
}

// Remove deletes a post or page.
func (s *Site) Remove(kind string, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items[kind], id)
}

// TooMany makes the next n requests answer HTTP 429.
func (s *Site) TooMany(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tooMany = n
}

// Gets returns the request URIs served so far.
func (s *Site) Gets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gets)
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, ok := strings.CutPrefix(r.URL.Path, "/wp-json/wp/v2/")
	items, known := s.items[kind]
	if !ok || !known || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if s.User != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.User || p != s.Password {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"incorrect_password","message":"The provided password is an invalid application password.","data":{"status":401}}`)
			return
		}
	}
	s.gets = append(s.gets, r.URL.RequestURI())
	if s.tooMany > 0 {
		s.tooMany--
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	q := r.URL.Query()
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage < 1 || perPage > 100 {
		perPage = 10
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	var after time.Time
	if v := q.Get("modified_after"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":"rest_invalid_param","message":"Invalid parameter(s): modified_after","data":{"status":400}}`)
			return
		}
		after = t
	}
	var list []Post
	for _, p := range items {
		if !p.Draft && (after.IsZero() || p.Modified.After(after)) {
			list = append(list, p)
		}
	}
	slices.SortFunc(list, func(a, b Post) int {
		if c := a.Modified.Compare(b.Modified); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	pages := max(1, (len(list)+perPage-1)/perPage)
	if page > pages {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":"rest_post_invalid_page_number","message":"The page number requested is larger than the number of pages available.","data":{"status":400}}`)
		return
	}
	out := []any{}
	for _, p := range list[min((page-1)*perPage, len(list)):min(page*perPage, len(list))] {
		single := strings.TrimSuffix(kind, "s")
		out = append(out, map[string]any{
			"id": p.ID, "link": fmt.Sprintf("https://%s/?%s_id=%d", Host, single, p.ID),
			"modified_gmt": p.Modified.UTC().Format("2006-01-02T15:04:05"),
			"title":        map[string]any{"rendered": p.Title},
			"content":      map[string]any{"rendered": p.ContentHTML, "protected": false},
		})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-WP-Total", strconv.Itoa(len(list)))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa(pages))
	_ = json.NewEncoder(w).Encode(out)
}
