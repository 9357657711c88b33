package syncsource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"agentdesk/internal/htmltext"
)

// WordPress reads a site's published posts and pages through its REST
// API (/wp-json/wp/v2/posts and /pages), page by page as X-WP-TotalPages
// counts them, changed after a time with modified_after. With a
// credential ("user:application-password") it authenticates with Basic
// auth, as WordPress application passwords do; without, it reads as
// anyone may. It backs off on HTTP 429.
type WordPress struct {
	// SiteURL is the site's address (https://blog.example.com).
	SiteURL string
	// Credential is "user:application-password", or "".
	Credential string
	// HTTP defaults to a client with a 30 s timeout.
	HTTP  *http.Client
	Retry Retry
	// PageSize is the items per page; default 100, WordPress's most.
	PageSize int
}

// wpTime is WordPress's modified_gmt: an ISO 8601 time without a zone,
// in UTC.
const wpTime = "2006-01-02T15:04:05"

type wpItem struct {
	ID          int    `json:"id"`
	Link        string `json:"link"`
	ModifiedGMT string `json:"modified_gmt"`
	Title       struct {
		Rendered string `json:"rendered"`
	} `json:"title"`
	Content struct {
		Rendered string `json:"rendered"`
	} `json:"content"`
}

// Read reads the posts and pages modified after since (an RFC 3339
// time, or "" for all of them) and the ids of all of them.
func (w *WordPress) Read(ctx context.Context, since string) (Listing, error) {
	l := Listing{Mark: since}
	for _, kind := range []string{"post", "page"} {
		var all []string
		q := url.Values{"status": {"publish"}, "orderby": {"modified"}, "order": {"asc"},
			"_fields": {"id,link,modified_gmt,title,content"}}
		if since != "" {
			q.Set("modified_after", since)
		}
		err := w.pages(ctx, kind, q, func(items []wpItem) {
			for _, n := range items {
				at, _ := time.Parse(wpTime, n.ModifiedGMT)
				it := postItem(kind, n, at)
				l.Changed = append(l.Changed, it)
				all = append(all, it.RemoteID)
				if m := at.UTC().Format(time.RFC3339); !at.IsZero() && m > l.Mark {
					l.Mark = m
				}
			}
		})
		if err != nil {
			return Listing{}, err
		}
		if since == "" {
			l.IDs = append(l.IDs, all...)
			continue
		}
		err = w.pages(ctx, kind, url.Values{"status": {"publish"}, "_fields": {"id"}}, func(items []wpItem) {
			for _, n := range items {
				l.IDs = append(l.IDs, remoteID(kind, n.ID))
			}
		})
		if err != nil {
			return Listing{}, err
		}
	}
	return l, nil
}

func remoteID(kind string, id int) string { return "wordpress:" + kind + ":" + strconv.Itoa(id) }

// postItem makes a post or page a chunk: its title, text and link.
func postItem(kind string, n wpItem, at time.Time) Item {
	title := htmltext.Text(n.Title.Rendered)
	if title == "" {
		title = fmt.Sprintf("%s %d", kind, n.ID)
	}
	content := title
	if text := htmltext.Text(n.Content.Rendered); text != "" {
		content += "\n\n" + text
	}
	if n.Link != "" {
		content += "\n\n" + n.Link
	}
	return Item{RemoteID: remoteID(kind, n.ID), Title: truncate(strings.ReplaceAll(title, "\n", " "), maxTitle),
		Content: truncate(content, maxContent), UpdatedAt: at}
}

// pages reads every page of kind (post or page) with the query q.
func (w *WordPress) pages(ctx context.Context, kind string, q url.Values, page func([]wpItem)) error {
	size := w.PageSize
	if size <= 0 {
		size = 100
	}
	q.Set("per_page", strconv.Itoa(size))
	for n, total := 1, 1; n <= total; n++ {
		q.Set("page", strconv.Itoa(n))
		u := strings.TrimRight(w.SiteURL, "/") + "/wp-json/wp/v2/" + kind + "s?" + q.Encode()
		var items []wpItem
		h, err := w.get(ctx, u, &items)
		if err != nil {
			return err
		}
		page(items)
		if t, err := strconv.Atoi(h.Get("X-WP-TotalPages")); err == nil {
			total = t
		}
	}
	return nil
}

// get reads one page, retrying while it is throttled.
func (w *WordPress) get(ctx context.Context, u string, into any) (http.Header, error) {
	r := w.Retry.withDefaults()
	client := w.HTTP
	if client == nil {
		client = defaultClient
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if user, pass, ok := strings.Cut(w.Credential, ":"); ok {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("wordpress: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("wordpress: read the answer: %w", err)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			if attempt >= r.Max {
				return nil, fmt.Errorf("wordpress: %w: HTTP 429 after %d retries", ErrThrottled, r.Max)
			}
			d, ok := retryAfter(resp.Header)
			if !ok {
				d = r.backoff(attempt)
			}
			if err := r.wait(ctx, d); err != nil {
				return nil, err
			}
			continue
		case resp.StatusCode != http.StatusOK:
			return nil, &StatusError{URL: u, Status: resp.StatusCode, Body: truncate(string(raw), 300)}
		}
		if err := json.Unmarshal(raw, into); err != nil {
			return nil, fmt.Errorf("wordpress: decode %s: %w", u, err)
		}
		return resp.Header, nil
	}
}
