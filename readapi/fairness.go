package readapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"agentdesk/domain"
	decl "agentdesk/domain/resource"
	"agentdesk/readstore"
)

// Tenants share one server, so no tenant's load may take the others'
// share of it:
//
//   - the principal behind a token is cached, so authenticating costs no
//     read-store connection (the cache forgets a user, or everyone, when
//     the users or companies read model changes: see DocumentsChanged);
//   - every read has a deadline (QueryTimeout), past which it answers 503;
//   - list queries run at most QueryConcurrency at once (about one per
//     core: they are CPU-bound), and a freed slot goes to the waiting
//     companies in turn, each with at most CompanyQueries running; a
//     query waits for its turn up to its deadline (see scheduler);
//   - a company has at most CompanyInFlight requests in flight and, when
//     set, CompanyRate requests a second; past either, 429 with
//     Retry-After.

// principals caches principals by user id. A lookup that raced with an
// invalidation is not stored: every invalidation moves epoch, and a
// lookup stores its result only if epoch has not moved since it began.
type principals struct {
	epoch atomic.Uint64
	cache *lru.Cache[string, cachedPrincipal]
}

type cachedPrincipal struct {
	p   domain.Principal
	pwv uint64
}

func newPrincipals(size int) *principals {
	c, _ := lru.New[string, cachedPrincipal](size) // size is positive
	return &principals{cache: c}
}

// DocumentsChanged tells the API which read-model documents a projection
// just wrote, before the writer that caused them is answered; the server
// calls it for every batch. A change to a user drops that user's cached
// principal, a change to a company drops them all (a company's users are
// not indexed by company, and companies change rarely).
func (a *API) DocumentsChanged(writes []readstore.Write) {
	for _, w := range writes {
		switch w.Collection {
		case usersCollection:
			a.principals.epoch.Add(1)
			a.principals.cache.Remove(w.Doc.ID)
		case decl.Companies.CollectionName():
			a.principals.epoch.Add(1)
			a.principals.cache.Purge()
		}
	}
}

// CollectionSwitched tells the API that a rebuilt generation of
// collection became live: principals read from it are forgotten, and the
// event streams tell whoever may read the resource to read it again.
func (a *API) CollectionSwitched(collection string) {
	switch collection {
	case usersCollection, decl.Companies.CollectionName(), decl.CredentialsCollection:
		a.principals.epoch.Add(1)
		a.principals.cache.Purge()
	}
	a.feed.rebuilt(collection)
}

// CollectionFollowed tells the API, on a process that follows another
// (which runs the projections), that documents of collection may have
// changed: it has no OnApplied to say which, so a change to users,
// companies or credentials drops every cached principal. A deactivated
// user, a suspended company, a new password or role then take effect
// here within the follower's checkpoint poll (1 s, or 20 ms while a
// write of this process waits).
func (a *API) CollectionFollowed(collection string) {
	switch collection {
	case usersCollection, decl.Companies.CollectionName(), decl.CredentialsCollection:
		a.principals.epoch.Add(1)
		a.principals.cache.Purge()
	}
}

// cachedPrincipal returns who userID is, from the cache or the read
// models.
func (a *API) cachedPrincipal(ctx context.Context, userID string) (domain.Principal, uint64, error) {
	if c, ok := a.principals.cache.Get(userID); ok {
		return c.p, c.pwv, nil
	}
	epoch := a.principals.epoch.Load()
	p, pwv, err := a.principal(ctx, userID)
	if err == nil && a.principals.epoch.Load() == epoch {
		a.principals.cache.Add(userID, cachedPrincipal{p, pwv})
	}
	return p, pwv, err
}

// tenants holds each company's limits.
type tenants struct {
	inFlight int // per company; 0 means no limit
	queries  *scheduler
	perSec   float64

	mu   sync.Mutex
	byID map[string]*tenant
}

// tenant is one company's share.
type tenant struct {
	inFlight atomic.Int64
	limiter  *rate.Limiter // nil without a rate limit
	lastUsed atomic.Int64  // unix seconds, for pruning
}

func newTenants(inFlight, slots, perCompany int, perSec float64) *tenants {
	return &tenants{inFlight: inFlight, queries: newScheduler(slots, perCompany), perSec: perSec, byID: map[string]*tenant{}}
}

// tenantKey is whose share a principal's requests take: its company's,
// or for a superadmin (no company) its own.
func tenantKey(p domain.Principal) string {
	if p.CompanyID != "" {
		return p.CompanyID
	}
	return "user:" + p.UserID
}

func (ts *tenants) get(key string) *tenant {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[key]
	if !ok {
		if len(ts.byID) >= 100_000 {
			ts.prune()
		}
		t = &tenant{}
		if ts.perSec > 0 {
			t.limiter = rate.NewLimiter(rate.Limit(ts.perSec), max(1, int(math.Ceil(ts.perSec))))
		}
		ts.byID[key] = t
	}
	t.lastUsed.Store(time.Now().Unix())
	return t
}

// prune forgets companies idle for a minute, so that the map stays
// bounded; it runs with mu held.
func (ts *tenants) prune() {
	cutoff := time.Now().Add(-time.Minute).Unix()
	for k, t := range ts.byID {
		if t.lastUsed.Load() < cutoff && t.inFlight.Load() == 0 {
			delete(ts.byID, k)
		}
	}
}

// errTooMany is a request over its company's share: 429.
type errTooMany struct {
	detail     string
	retryAfter time.Duration
}

func (e *errTooMany) Error() string   { return e.detail }
func (e *errTooMany) HTTPStatus() int { return http.StatusTooManyRequests }

// RetryAfter is when a retry may get in: WriteError sends it.
func (e *errTooMany) RetryAfter() time.Duration { return e.retryAfter }

// Limit admits a request of an authenticated principal within its
// company's share: its in-flight requests and its rate. Wrap it inside
// Authenticate.
func (a *API) Limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key := tenantKey(p)
		t := a.tenants.get(key)
		if t.limiter != nil {
			if res := t.limiter.Reserve(); !res.OK() || res.Delay() > 0 {
				delay := time.Second
				if res.OK() {
					delay = res.Delay()
					res.Cancel()
				}
				a.refuse(w, r, p, "rate", &errTooMany{detail: fmt.Sprintf("your company sends more than %g requests a second; retry later", a.tenants.perSec), retryAfter: delay})
				return
			}
		}
		if n := t.inFlight.Add(1); a.tenants.inFlight > 0 && n > int64(a.tenants.inFlight) {
			t.inFlight.Add(-1)
			a.refuse(w, r, p, "in_flight", &errTooMany{detail: fmt.Sprintf("your company has more than %d requests in flight; retry shortly", a.tenants.inFlight), retryAfter: time.Second})
			return
		}
		defer t.inFlight.Add(-1)
		next.ServeHTTP(w, r)
	})
}

func (a *API) refuse(w http.ResponseWriter, r *http.Request, p domain.Principal, reason string, err *errTooMany) {
	if a.rateLimits != nil {
		a.rateLimits.RateLimited(p.CompanyID, reason)
	}
	a.fail(w, r, err)
}

// querySlot waits for the company's turn to run a list query until ctx
// ends, and returns the function that frees its slot.
func (a *API) querySlot(ctx context.Context, p domain.Principal) (release func(), err error) {
	release, err = a.tenants.queries.acquire(ctx, tenantKey(p))
	if err == nil {
		return release, nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		if a.rateLimits != nil {
			a.rateLimits.RateLimited(p.CompanyID, "queries")
		}
		return nil, &errTooMany{detail: "your company's other queries kept this one waiting past its deadline; retry shortly", retryAfter: time.Second}
	}
	return nil, err
}

// query runs a list query within the company's share of concurrent
// queries and the read deadline.
func (a *API) query(ctx context.Context, p domain.Principal, collection string, q readstore.Query) ([]readstore.Doc, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.queryTimeout)
	defer cancel()
	release, err := a.querySlot(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	docs, total, err := a.reads.Query(ctx, collection, q)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, 0, fmt.Errorf("%w: the query ran past its %s deadline; narrow the filter or retry", errNotReady, a.queryTimeout)
	}
	return docs, total, err
}

// getDoc reads one document by id. It has no deadline and outlives a
// client that goes away: a lookup by primary key is bounded, and a
// context that can end makes the SQLite driver watch it from a goroutine
// of its own for every statement, which cost a tenth of a GET by id.
func (a *API) getDoc(ctx context.Context, collection, id string) (readstore.Doc, error) {
	return a.reads.Get(context.WithoutCancel(ctx), collection, id)
}
