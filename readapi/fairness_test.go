package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/readstore"
)

// countingReads counts the Gets of a read store.
type countingReads struct {
	readstore.Store
	mu   sync.Mutex
	gets int
	// beforeGet, if set, runs inside every Get, before the read.
	beforeGet func()
}

func (c *countingReads) Get(ctx context.Context, collection, id string) (readstore.Doc, error) {
	c.mu.Lock()
	c.gets++
	hook := c.beforeGet
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return c.Store.Get(ctx, collection, id)
}

func (c *countingReads) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

const testUserID = "01a22b3c-0000-7000-8000-000000000001"

func newFairnessAPI(t *testing.T, cfg Config) (*API, *countingReads) {
	t.Helper()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	ctx := context.Background()
	for _, name := range []string{decl.Users.CollectionName(), decl.Companies.CollectionName()} {
		if err := rs.Ensure(ctx, readstore.Collection{Name: name, Fields: []readstore.Field{{Name: "username", Type: readstore.String}}}); err != nil {
			t.Fatal(err)
		}
	}
	putUser(t, rs, "2", true)
	reads := &countingReads{Store: rs}
	cfg.Reads, cfg.Progress, cfg.Tokens, cfg.Passwords = reads, progress{}, tokens{}, passwords{}
	api, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return api, reads
}

func putUser(t *testing.T, rs readstore.Store, version string, active bool) readstore.Write {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"id": testUserID, "username": "root", "role": "superadmin", "active": active})
	w := readstore.Write{Collection: decl.Users.CollectionName(), Doc: readstore.Doc{ID: testUserID, Version: version, Data: data}}
	if err := rs.Apply(context.Background(), readstore.Batch{Writes: []readstore.Write{w}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestPrincipalCache: a principal is read once and then served from the
// cache; a change to the user empties it, and a lookup that raced with
// that change does not put the old principal back.
func TestPrincipalCache(t *testing.T) {
	api, reads := newFairnessAPI(t, Config{})
	ctx := context.Background()
	for range 3 {
		if _, _, err := api.cachedPrincipal(ctx, testUserID); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads.count(); got != 1 {
		t.Fatalf("three authentications read the users view %d times; want 1", got)
	}

	// Deactivated: the projection's write reaches DocumentsChanged.
	w := putUser(t, reads.Store, "3", false)
	api.DocumentsChanged([]readstore.Write{w})
	if _, _, err := api.cachedPrincipal(ctx, testUserID); !errors.Is(err, errUnauthorized) {
		t.Fatalf("after deactivation: err = %v; want errUnauthorized", err)
	}

	// A lookup that read the active user, then lost the race with a
	// deactivation, must not cache what it read.
	putUser(t, reads.Store, "4", true)
	api.DocumentsChanged([]readstore.Write{w})
	reads.mu.Lock()
	reads.beforeGet = func() {
		reads.mu.Lock()
		reads.beforeGet = nil
		reads.mu.Unlock()
		// The read below still sees the active user; the change lands
		// while the lookup is under way.
		api.DocumentsChanged([]readstore.Write{putUser(t, reads.Store, "5", true)})
	}
	reads.mu.Unlock()
	if _, _, err := api.cachedPrincipal(ctx, testUserID); err != nil {
		t.Fatal(err)
	}
	before := reads.count()
	if _, _, err := api.cachedPrincipal(ctx, testUserID); err != nil {
		t.Fatal(err)
	}
	if reads.count() == before {
		t.Fatal("a principal read during an invalidation was cached")
	}

	// A change to any company empties the cache.
	api.DocumentsChanged([]readstore.Write{{Collection: decl.Companies.CollectionName(), Doc: readstore.Doc{ID: "c"}}})
	if _, ok := api.principals.cache.Get(testUserID); ok {
		t.Fatal("a company change left principals cached")
	}
}

// TestCompanyLimits: past its in-flight cap or its rate a company gets
// 429 with Retry-After and the JSON error body, while another company is
// served.
func TestCompanyLimits(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		api, _ := newFairnessAPI(t, Config{CompanyInFlight: 2})
		release := make(chan struct{})
		entered := make(chan struct{}, 8)
		h := api.Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			w.WriteHeader(http.StatusNoContent)
		}))
		as := func(company string) *http.Request {
			r := httptest.NewRequest("GET", "/api/tickets", nil)
			return r.WithContext(context.WithValue(r.Context(), principalKey{}, domain.Principal{UserID: "u-" + company, CompanyID: company, Role: domain.CompanyAdmin}))
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), as("a")) })
			<-entered
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, as("a"))
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("third request of company a: %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Detail == "" {
			t.Fatalf("429 body %q: %v", rec.Body, err)
		}
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, as("b"))
			if rec.Code != http.StatusNoContent {
				t.Errorf("company b beside a full company a: %d; want 204", rec.Code)
			}
		})
		<-entered
		close(release)
		wg.Wait()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, as("a"))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("company a after its requests ended: %d; want 204", rec.Code)
		}
	})

	t.Run("rate", func(t *testing.T) {
		api, _ := newFairnessAPI(t, Config{CompanyRate: 5})
		h := api.Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		as := func(company string) int {
			r := httptest.NewRequest("GET", "/api/tickets", nil)
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, domain.Principal{UserID: "u-" + company, CompanyID: company, Role: domain.CompanyAdmin}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			return rec.Code
		}
		limited := 0
		for range 20 {
			if as("a") == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited < 10 {
			t.Fatalf("20 requests at once against 5 a second: %d refused; want at least 10", limited)
		}
		if got := as("b"); got != http.StatusNoContent {
			t.Fatalf("company b while a is limited: %d; want 204", got)
		}
	})

	t.Run("queries", func(t *testing.T) {
		api, _ := newFairnessAPI(t, Config{CompanyQueries: 1, QueryTimeout: 50 * time.Millisecond})
		a := domain.Principal{UserID: "u-a", CompanyID: "a"}
		release, err := api.querySlot(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = api.querySlot(ctx, a)
		var tm *errTooMany
		if !errors.As(err, &tm) || ErrorStatus(err) != http.StatusTooManyRequests {
			t.Fatalf("a second query of company a past its deadline: %v; want a 429", err)
		}
		other, err := api.querySlot(context.Background(), domain.Principal{UserID: "u-b", CompanyID: "b"})
		if err != nil {
			t.Fatalf("company b while a's slot is taken: %v", err)
		}
		other()
		release()
		again, err := api.querySlot(context.Background(), a)
		if err != nil {
			t.Fatalf("company a after its slot was freed: %v", err)
		}
		again()
	})
}

// TestPrincipalCacheOnAFollower: a process that follows hears only that
// the users view moved, and that is enough to stop trusting its cache; a
// move of another view keeps it.
func TestPrincipalCacheOnAFollower(t *testing.T) {
	api, reads := newFairnessAPI(t, Config{})
	ctx := context.Background()
	if _, _, err := api.cachedPrincipal(ctx, testUserID); err != nil {
		t.Fatal(err)
	}
	putUser(t, reads.Store, "3", false) // applied by another process
	api.CollectionFollowed(decl.Tickets.CollectionName())
	if _, _, err := api.cachedPrincipal(ctx, testUserID); err != nil {
		t.Fatalf("after the tickets view moved: %v; want the cached principal", err)
	}
	api.CollectionFollowed(decl.Users.CollectionName())
	if _, _, err := api.cachedPrincipal(ctx, testUserID); !errors.Is(err, errUnauthorized) {
		t.Fatalf("after the users view moved: err = %v; want errUnauthorized", err)
	}
}
