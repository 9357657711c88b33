package syncsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"agentdesk/internal/htmltext"
)

// Shopify reads a shop's products through the GraphQL Admin API
// (POST /admin/api/<version>/graphql.json with X-Shopify-Access-Token);
// the REST Admin API's product endpoints are deprecated.
//
// Shopify limits GraphQL by query cost: each answer reports the shop's
// bucket (extensions.cost.throttleStatus). Before a query, the client
// waits until the bucket holds the cost the previous page of that query
// asked for; on a THROTTLED error or an HTTP 429 it waits (Retry-After,
// the bucket's restore rate, or a doubling backoff) and retries.
type Shopify struct {
	// ShopDomain is the shop's host (name.myshopify.com); APIVersion the
	// Admin API version (2025-01); AccessToken the Admin API token.
	ShopDomain  string
	APIVersion  string
	AccessToken string
	// BaseURL defaults to https://<ShopDomain>.
	BaseURL string
	// HTTP defaults to a client with a 30 s timeout.
	HTTP  *http.Client
	Retry Retry
	// PageSize is the products per page; default 50.
	PageSize int

	// bucket is the last throttle status seen.
	bucket throttleStatus
	// throttled counts the waits for THROTTLED and 429, for tests.
	throttled int
}

type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

// productsQuery reads a page of products changed after a time.
const productsQuery = `query Products($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id title handle descriptionHtml onlineStoreUrl updatedAt
      variants(first: 50) { nodes { title price sku } }
    }
  }
}`

// productIDsQuery reads a page of product ids.
const productIDsQuery = `query ProductIDs($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id }
  }
}`

type productPage struct {
	Products struct {
		PageInfo struct {
			HasNextPage bool   `json:"hasNextPage"`
			EndCursor   string `json:"endCursor"`
		} `json:"pageInfo"`
		Nodes []product `json:"nodes"`
	} `json:"products"`
}

type product struct {
	ID              string    `json:"id"`
	Title           string    `json:"title"`
	Handle          string    `json:"handle"`
	DescriptionHTML string    `json:"descriptionHtml"`
	OnlineStoreURL  *string   `json:"onlineStoreUrl"`
	UpdatedAt       time.Time `json:"updatedAt"`
	Variants        struct {
		Nodes []struct {
			Title string `json:"title"`
			Price string `json:"price"`
			SKU   string `json:"sku"`
		} `json:"nodes"`
	} `json:"variants"`
}

// Read reads the products changed after since (an RFC 3339 time, or ""
// for all of them) and the ids of all products.
func (s *Shopify) Read(ctx context.Context, since string) (Listing, error) {
	l := Listing{Mark: since}
	var query *string
	if since != "" {
		q := fmt.Sprintf("updated_at:>'%s'", since)
		query = &q
	}
	var all []string
	err := s.pages(ctx, productsQuery, query, func(p productPage) {
		for _, n := range p.Products.Nodes {
			it := s.item(n)
			l.Changed = append(l.Changed, it)
			all = append(all, it.RemoteID)
			if m := n.UpdatedAt.UTC().Format(time.RFC3339); m > l.Mark {
				l.Mark = m
			}
		}
	})
	if err != nil {
		return Listing{}, err
	}
	if since == "" {
		l.IDs = all
		return l, nil
	}
	err = s.pages(ctx, productIDsQuery, nil, func(p productPage) {
		for _, n := range p.Products.Nodes {
			l.IDs = append(l.IDs, "shopify:"+n.ID)
		}
	})
	if err != nil {
		return Listing{}, err
	}
	return l, nil
}

// item makes a product a chunk: title, price range, variants,
// description, URL.
func (s *Shopify) item(n product) Item {
	var b strings.Builder
	b.WriteString(n.Title)
	lo, hi := "", ""
	for _, v := range n.Variants.Nodes {
		if lo == "" || lessPrice(v.Price, lo) {
			lo = v.Price
		}
		if hi == "" || lessPrice(hi, v.Price) {
			hi = v.Price
		}
	}
	switch {
	case lo == "":
	case lo == hi:
		fmt.Fprintf(&b, "\nPrice: %s", lo)
	default:
		fmt.Fprintf(&b, "\nPrice: %s – %s", lo, hi)
	}
	if len(n.Variants.Nodes) > 1 || (len(n.Variants.Nodes) == 1 && n.Variants.Nodes[0].Title != "Default Title") {
		b.WriteString("\nVariants:")
		for _, v := range n.Variants.Nodes {
			fmt.Fprintf(&b, "\n- %s: %s", v.Title, v.Price)
			if v.SKU != "" {
				fmt.Fprintf(&b, " (SKU %s)", v.SKU)
			}
		}
	}
	if d := htmltext.Text(n.DescriptionHTML); d != "" {
		b.WriteString("\n\n" + d)
	}
	u := "https://" + s.ShopDomain + "/products/" + n.Handle
	if n.OnlineStoreURL != nil && *n.OnlineStoreURL != "" {
		u = *n.OnlineStoreURL
	}
	b.WriteString("\n\n" + u)
	title := strings.TrimSpace(n.Title)
	if title == "" {
		title = n.Handle
	}
	return Item{RemoteID: "shopify:" + n.ID, Title: truncate(title, maxTitle), Content: truncate(b.String(), maxContent), UpdatedAt: n.UpdatedAt}
}

// lessPrice compares two decimal amounts as Shopify writes them.
func lessPrice(a, b string) bool {
	var x, y float64
	_, errA := fmt.Sscan(a, &x)
	_, errB := fmt.Sscan(b, &y)
	if errA != nil || errB != nil {
		return a < b
	}
	return x < y
}

// pages runs query page by page, following pageInfo's cursor.
func (s *Shopify) pages(ctx context.Context, query string, search *string, page func(productPage)) error {
	size := s.PageSize
	if size <= 0 {
		size = 50
	}
	var after *string
	cost := 0.0 // what the last page of this query asked for
	for {
		vars := map[string]any{"first": size, "after": after}
		if search != nil {
			vars["query"] = *search
		}
		var p productPage
		asked, err := s.do(ctx, query, vars, cost, &p)
		if err != nil {
			return err
		}
		cost = asked
		page(p)
		if !p.Products.PageInfo.HasNextPage || p.Products.PageInfo.EndCursor == "" {
			return nil
		}
		cursor := p.Products.PageInfo.EndCursor
		after = &cursor
	}
}

type graphQLAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost struct {
			RequestedQueryCost float64        `json:"requestedQueryCost"`
			ThrottleStatus     throttleStatus `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

// do posts one query, waiting first until the bucket holds cost, and
// retries it while it is throttled. It returns the query's requested
// cost.
func (s *Shopify) do(ctx context.Context, query string, vars map[string]any, cost float64, into any) (float64, error) {
	r := s.Retry.withDefaults()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return 0, err
	}
	base := s.BaseURL
	if base == "" {
		base = "https://" + s.ShopDomain
	}
	u := strings.TrimRight(base, "/") + "/admin/api/" + s.APIVersion + "/graphql.json"
	client := s.HTTP
	if client == nil {
		client = defaultClient
	}
	for attempt := 0; ; attempt++ {
		if b := s.bucket; b.RestoreRate > 0 && cost > b.CurrentlyAvailable {
			need := min(cost, b.MaximumAvailable) - b.CurrentlyAvailable
			if err := r.wait(ctx, time.Duration(need/b.RestoreRate*float64(time.Second))); err != nil {
				return 0, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Shopify-Access-Token", s.AccessToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("shopify: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("shopify: read the answer: %w", err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			if attempt >= r.Max {
				return 0, fmt.Errorf("shopify: %w: HTTP 429 after %d retries", ErrThrottled, r.Max)
			}
			d, ok := retryAfter(resp.Header)
			if !ok {
				d = r.backoff(attempt)
			}
			s.throttled++
			if err := r.wait(ctx, d); err != nil {
				return 0, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return 0, &StatusError{URL: u, Status: resp.StatusCode, Body: truncate(string(raw), 300)}
		}
		var a graphQLAnswer
		if err := json.Unmarshal(raw, &a); err != nil {
			return 0, fmt.Errorf("shopify: decode the answer: %w", err)
		}
		if ts := a.Extensions.Cost.ThrottleStatus; ts.MaximumAvailable > 0 {
			s.bucket = ts
		}
		asked := a.Extensions.Cost.RequestedQueryCost
		if throttledAnswer(a) {
			if attempt >= r.Max {
				return 0, fmt.Errorf("shopify: %w: THROTTLED after %d retries", ErrThrottled, r.Max)
			}
			s.throttled++
			d := r.backoff(attempt)
			if b := s.bucket; b.RestoreRate > 0 && asked > 0 {
				d = time.Duration((min(asked, b.MaximumAvailable) - b.CurrentlyAvailable) / b.RestoreRate * float64(time.Second))
			}
			if err := r.wait(ctx, d); err != nil {
				return 0, err
			}
			continue
		}
		if len(a.Errors) > 0 {
			msgs := make([]string, len(a.Errors))
			for i, e := range a.Errors {
				msgs[i] = e.Message
			}
			return 0, fmt.Errorf("shopify: %s", strings.Join(msgs, "; "))
		}
		if err := json.Unmarshal(a.Data, into); err != nil {
			return 0, fmt.Errorf("shopify: decode the data: %w", err)
		}
		return asked, nil
	}
}

func throttledAnswer(a graphQLAnswer) bool {
	for _, e := range a.Errors {
		if e.Extensions.Code == "THROTTLED" {
			return true
		}
	}
	return false
}

// errNoToken is returned for a shop without an access token.
var errNoToken = errors.New("shopify: the integration has no access token (credential)")

// Check reports a configuration that cannot work.
func (s *Shopify) Check() error {
	if s.AccessToken == "" {
		return errNoToken
	}
	return nil
}
