// Package syncsource reads the items an agent's knowledge is synced from:
// a Shopify shop's products through the GraphQL Admin API, and a
// WordPress site's published posts and pages through its REST API. Each
// client reads everything changed after a mark (Shopify's updated_at,
// WordPress's modified date), every id that still exists (so that the
// caller can remove the others), and the mark the next read starts from.
// Both back off when the remote side throttles, a bounded number of
// times.
package syncsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Item is one remote item as a knowledge chunk's title and text.
type Item struct {
	// RemoteID names the item for good: "shopify:<product gid>",
	// "wordpress:post:<id>", "wordpress:page:<id>".
	RemoteID string
	Title    string
	Content  string
	// UpdatedAt is when the item last changed.
	UpdatedAt time.Time
}

// Listing is what one read found.
type Listing struct {
	// Changed are the items changed after the mark read from (all of
	// them when it was empty).
	Changed []Item
	// IDs are the remote ids of every item that exists now.
	IDs []string
	// Mark is where the next read starts: the latest change seen, or the
	// mark read from when nothing changed.
	Mark string
}

// ErrThrottled means the remote side kept throttling past the retries.
var ErrThrottled = errors.New("throttled")

// StatusError is an answer the remote side gave that is no success.
type StatusError struct {
	URL    string
	Status int
	Body   string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.URL, e.Status, e.Body)
}

// Retry says how a client waits and retries when it is throttled.
type Retry struct {
	// Max is how many times one request is retried; default 6.
	Max int
	// Base is the first backoff without a hint from the server, doubled
	// each time up to MaxWait; default 1 s.
	Base time.Duration
	// MaxWait caps one wait; default 60 s.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends; default a timer. Tests record the
	// waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Max <= 0 {
		r.Max = 6
	}
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.MaxWait <= 0 {
		r.MaxWait = time.Minute
	}
	if r.Sleep == nil {
		r.Sleep = sleep
	}
	return r
}

// backoff is the wait before retry attempt (from 0) without a hint.
func (r Retry) backoff(attempt int) time.Duration {
	d := r.Base << min(attempt, 16)
	return min(d, r.MaxWait)
}

// wait sleeps d, capped at MaxWait.
func (r Retry) wait(ctx context.Context, d time.Duration) error {
	return r.Sleep(ctx, min(max(d, 0), r.MaxWait))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryAfter reads a Retry-After header in seconds; ok is false when
// there is none.
func retryAfter(h http.Header) (time.Duration, bool) {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// defaultClient is the HTTP client of a client configured without one:
// no request takes longer than 30 s.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// Limits of a chunk's fields, in characters (see knowledge.MaxTitle and
// knowledge.MaxContent).
const (
	maxTitle   = 200
	maxContent = 100000
)
