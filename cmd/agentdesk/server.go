package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/commands/web"
	"agentdesk/eventstore"
	"agentdesk/internal/auth"
	"agentdesk/internal/blob"
	"agentdesk/internal/config"
	"agentdesk/internal/metrics"
	"agentdesk/internal/pii"
	"agentdesk/internal/secrets"
	"agentdesk/projections"
	"agentdesk/readapi"
	"agentdesk/readstore"
)

// Server is a running agentdesk: stores, projections and the HTTP API.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	events eventstore.Store
	reads  readstore.Store
	// keys seal the users' personal data, through pii.
	keys pii.Keys
	pii  *pii.Codec
	// lock keeps other processes off the embedded stores until they
	// are closed; nil when both stores are external.
	lock    *dataDirLock
	runner  *projections.Runner
	metrics *metrics.Metrics
	http    *http.Server
	// debug serves DEBUG_ADDR (profiles and metrics); nil when unset.
	debug *http.Server
	// idempotency remembers keyed responses (kept here for tests).
	idempotency *idempotencyRecords

	// api is set once the query API exists; the projections, started
	// before it, tell it of changed documents.
	api atomic.Pointer[readapi.API]
	// clock is the time commands record and the token quota's month;
	// tests move it.
	clock clock
	// quota checks companies' monthly token quotas.
	quota *readapi.Quota

	stopRunner context.CancelFunc
	runnerDone chan struct{}
	// reactions run beside the projections.
	reactions *reactionSet
	// lease, on shared stores, lets one process at a time run the
	// projections and reactions; leading is true while this one does.
	lease   *projections.Lease
	leading atomic.Bool
	// followed gathers, while this process follows, what the realtime
	// feed must work out from the projections' progress.
	followed  followedFeed
	closeOnce sync.Once
}

// Open opens the stores in cfg.DataDir, starts the projections and
// bootstraps the superadmin. Serve then answers HTTP.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	return OpenWith(ctx, cfg, log, Options{})
}

// Options are what a server takes beside its configuration, for tests:
// nothing the environment sets.
type Options struct {
	// SyncHTTP, when set, is the HTTP client knowledge syncs reach shops
	// and sites with; by default a client with a 30 s timeout. Tests give
	// one that dials their fake shop, since an integration's address must
	// be a public https host.
	SyncHTTP *http.Client
}

// OpenWith is Open with opts.
func OpenWith(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *Server, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	secret, err := cfg.EnsureSecret()
	if err != nil {
		return nil, fmt.Errorf("jwt secret: %w", err)
	}
	secretsKey, err := cfg.EnsureSecretsKey()
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	sealer, err := secrets.New(secretsKey)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.closeStores()
		}
	}()
	// The projections' progress is read on each scrape, which only
	// happens once Open has returned and Serve runs.
	s.metrics = metrics.New(metrics.Config{Projections: s.projectionProgress, Logger: log})
	st, err := openStores(ctx, cfg, log, s.metrics)
	if err != nil {
		return nil, err
	}
	s.events, s.reads, s.lock, s.keys, s.pii = st.events, st.reads, st.lock, st.keys, st.pii
	s.events = observedEvents{Store: s.events, m: s.metrics}
	if err := applyMigrations(ctx, s.reads, log); err != nil {
		return nil, err
	}
	if err := s.newRunner(ctx); err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(secret, cfg.TokenTTL)
	if err != nil {
		return nil, err
	}
	passwords := auth.Bcrypt{Cost: cfg.BcryptCost}
	s.idempotency = newIdempotencyRecords(s.reads, cfg.IdempotencyTTL)
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	app, err := commands.New(commands.Config{Store: s.events, Hasher: passwords, Idempotency: s.idempotency, Observer: s.metrics, PII: s.pii,
		Now: s.clock.Now, Blobs: blobs})
	if err != nil {
		return nil, err
	}
	snaps, err := projections.NewSnapshots(ctx, s.reads)
	if err != nil {
		return nil, err
	}
	llmClient, err := newLLM(cfg)
	if err != nil {
		return nil, err
	}
	reads := observedReads{Store: s.reads, m: s.metrics}
	s.quota = &readapi.Quota{Store: reads, Default: cfg.LLMMonthlyTokenQuota, Now: s.clock.Now, Observer: s.metrics}
	api, err := readapi.New(readapi.Config{Reads: reads, Progress: s.runner, Tokens: tokenAdapter{tokens},
		Audit:     &auditor{events: upcastingLog{s.events}, snaps: snaps, pii: s.pii},
		Passwords: passwords, Logger: log, RateLimits: s.metrics,
		SignIn:    readapi.SignInLimits{PerClientUser: cfg.SignInClientUserLimit, PerUser: cfg.SignInUserLimit, PerClient: cfg.SignInLimit},
		WriteWait: cfg.WriteWait, QueryTimeout: cfg.QueryTimeout, EventsKeepAlive: cfg.EventsKeepAlive, CompanyInFlight: cfg.CompanyMaxInFlight, CompanyQueries: cfg.CompanyMaxQueries, QueryConcurrency: cfg.QueryConcurrency, CompanyRate: cfg.CompanyRateLimit,
		Events: upcastingLog{s.events}, Completer: completer{llmClient}, Meter: usageMeter{app}, Quota: s.quota})
	if err != nil {
		return nil, err
	}
	s.api.Store(api)
	writeErr := func(w http.ResponseWriter, r *http.Request, err error) { readapi.WriteError(log, w, r, err) }
	retriever, err := readapi.NewRetriever(readapi.RetrieverConfig{Reads: reads, Logger: log, Applied: func(readModel string) string {
		if p, ok := s.runner.Applied(readModel); ok && !p.IsZero() {
			return p.Key()
		}
		return ""
	}})
	if err != nil {
		return nil, err
	}
	chatter, err := commands.NewChatter(commands.ChatConfig{App: app, Model: chatModel{llmClient},
		Retriever: chatRetriever{r: retriever, llm: llmClient}, Quota: s.quota})
	if err != nil {
		return nil, err
	}
	writes, err := web.New(web.Config{App: app, Records: api, Inbox: api, Principal: readapi.PrincipalFrom, WriteError: writeErr, ErrorStatus: readapi.ErrorStatus,
		Sealer: sealer, Chat: chatter, Blobs: blobs, Logger: log})
	if err != nil {
		return nil, err
	}

	if s.reactions, err = newReactions(ctx, cfg, s.events, s.reads, app, embedder{llmClient}, syncWiring{opener: sealer, http: opts.SyncHTTP}, log); err != nil {
		return nil, err
	}
	if s.lock == nil {
		// Shared stores: several processes may serve them, and one at a
		// time runs the projections and reactions.
		if s.lease, err = projections.NewLease(ctx, s.reads, "projections", leaseHolder(), cfg.LeaseTTL, log); err != nil {
			return nil, err
		}
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopRunner, s.runnerDone = stop, make(chan struct{})
	go func() {
		defer close(s.runnerDone)
		s.lead(runCtx)
	}()

	if err := s.bootstrapAdmin(ctx, app); err != nil {
		s.stopProjections()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.router(api, writes),
		ReadHeaderTimeout: 10 * time.Second,
		// A body (at most 1 MiB) that takes longer than this to arrive is
		// a slow-loris, not a client: it must not hold a connection, or
		// a shutdown, for long.
		ReadTimeout:  15 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  2 * time.Minute,
		// limitHeaders answers oversized headers with our JSON 431 up to
		// here; past it net/http answers its own plain-text 431 without
		// reading the rest, so no client can make it buffer more.
		MaxHeaderBytes: 2 * maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.DebugAddr != "" {
		// No WriteTimeout: a CPU profile or a trace streams for as many
		// seconds as asked.
		s.debug = &http.Server{
			Handler:           debugHandler(s.metrics.Handler()),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return s, nil
}

// newRunner creates the projections' runner on the open stores.
func (s *Server) newRunner(ctx context.Context) (err error) {
	cfg := s.cfg
	all := projections.All(projections.WithPII(s.pii))
	for _, name := range cfg.ProjectionSkipFailing {
		if name != "*" && !slices.ContainsFunc(all, func(p projections.Projector) bool { return p.Name() == name }) {
			names := make([]string, len(all))
			for i, p := range all {
				names[i] = p.Name()
			}
			return fmt.Errorf("PROJECTION_SKIP_FAILING: no projection %q; projections: %s (or * for all)", name, strings.Join(names, ", "))
		}
	}
	if s.runner, err = projections.New(ctx, projections.Config{Events: s.events, Reads: s.reads, Projectors: all, Logger: s.log,
		MaxLag: cfg.ReadyMaxLag, MaxRetries: cfg.ProjectionRetries, SkipFailing: cfg.ProjectionSkipFailing,
		// On shared stores other processes follow this one's checkpoints.
		Shared: s.lock == nil,
		// The query API caches principals; it hears of every change to
		// them before the writer that made it is answered. Its realtime
		// feed hears of every change too.
		OnApplied: func(_ string, writes []readstore.Write) {
			if api := s.api.Load(); api != nil {
				api.DocumentsChanged(writes)
				api.Publish(writes)
			}
		},
		// While another process runs the projections, this one hears
		// only that their checkpoints moved; its realtime feed tells the
		// tenants whose events they applied to read again.
		OnFollowed: func(f projections.Followed) {
			if api := s.api.Load(); api != nil {
				api.CollectionFollowed(f.Collection)
				if api.EventsWanted(f.Collection) {
					s.followed.add(f)
				}
			}
		},
		OnSwitched: func(_, collection string) {
			if api := s.api.Load(); api != nil {
				api.CollectionSwitched(collection)
			}
		}}); err != nil {
		return err
	}
	return nil
}

// followedEventsRead bounds the events a following process reads to learn
// whose records a projection's progress changed; past it, every tenant
// that may read the resource is told to read it again.
const followedEventsRead = 2000

// followedFeed tells the realtime feed of a following process whose
// records the projections' progress changed. Working that out reads the
// events the progress covers, which is done on a goroutine of its own:
// the follower's poll of the checkpoints, which read-your-writes waits
// on, hands the progress over and goes on.
type followedFeed struct {
	mu      sync.Mutex
	pending map[string]projections.Followed // by projection: the progress not yet told, gathered
	wake    chan struct{}
}

// add hands progress over, gathered with what is pending of the same
// projection.
func (f *followedFeed) add(p projections.Followed) {
	f.mu.Lock()
	wake := f.wakeLocked()
	if was, ok := f.pending[p.Projection]; ok {
		p.From = was.From
	}
	f.pending[p.Projection] = p
	f.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default: // a wake-up is due already
	}
}

// wakeLocked returns the channel that wakes run, making f ready on first
// use. f.mu is held.
func (f *followedFeed) wakeLocked() chan struct{} {
	if f.pending == nil {
		f.pending, f.wake = map[string]projections.Followed{}, make(chan struct{}, 1)
	}
	return f.wake
}

// run tells the feed of the progress handed over until ctx ends.
func (f *followedFeed) run(ctx context.Context, s *Server) {
	f.mu.Lock()
	wake := f.wakeLocked()
	f.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		f.mu.Lock()
		batch := f.pending
		f.pending = map[string]projections.Followed{}
		f.mu.Unlock()
		api := s.api.Load()
		for _, p := range batch {
			if api == nil || ctx.Err() != nil {
				return
			}
			companies, ok, err := s.runner.Companies(ctx, p, followedEventsRead)
			if err != nil {
				continue // the event store is failing: no message beats a wrong one
			}
			if !ok {
				companies = nil // too many to read: every tenant reads again
			}
			api.FollowedChanges(p.Collection, companies)
		}
	}
}

// openOffline opens the stores and the projections' runner, and nothing
// else: the command line's projections commands work on them when no
// server runs.
func openOffline(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log}
	st, err := openStores(ctx, cfg, log, nil)
	if err != nil {
		return nil, err
	}
	s.events, s.reads, s.lock, s.keys, s.pii = st.events, st.reads, st.lock, st.keys, st.pii
	if err := s.newRunner(ctx); err != nil {
		s.closeStores()
		return nil, err
	}
	return s, nil
}

// bootstrapAdmin creates the superadmin on first start. An initial
// password is only chosen (and, without ADMIN_PASSWORD, written to the
// data dir) when the superadmin is really created: a file written later
// would hold a password that was never set.
func (s *Server) bootstrapAdmin(ctx context.Context, app *commands.App) error {
	exists, err := app.UserExists(ctx, s.cfg.AdminUsername)
	if err != nil {
		return fmt.Errorf("look up superadmin %q: %w", s.cfg.AdminUsername, err)
	}
	if exists {
		s.warnMissingPassword()
		return nil
	}
	pw, path, err := s.cfg.InitialAdminPassword()
	if err != nil {
		return fmt.Errorf("initial admin password: %w", err)
	}
	res, made, err := app.EnsureSuperadmin(ctx, s.cfg.AdminUsername, pw)
	if err != nil {
		return fmt.Errorf("create superadmin %q: %w", s.cfg.AdminUsername, err)
	}
	if !made {
		return nil
	}
	// Sign-in reads the projections: let them see the new superadmin
	// before the server answers.
	for _, name := range []string{projections.Users, projections.Credentials} {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.runner.Wait(wctx, name, res.Position)
		cancel()
		if err != nil {
			return err
		}
	}
	{
		attrs := []any{"username", s.cfg.AdminUsername}
		if path != "" {
			attrs = append(attrs, "password_file", path)
		}
		s.log.Info("superadmin created", attrs...)
	}
	return nil
}

// initialPasswordPath is where config.InitialAdminPassword keeps the
// generated password; config does not export the name, and asking it
// would write a new file.
func initialPasswordPath(cfg config.Config) string {
	return filepath.Join(cfg.DataDir, "initial-admin-password")
}

// warnMissingPassword tells the operator how to get in when the superadmin
// exists but its generated password file is gone.
func (s *Server) warnMissingPassword() {
	if s.cfg.AdminPassword != "" {
		return
	}
	path := initialPasswordPath(s.cfg)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	s.log.Warn("superadmin exists but its initial password file is gone, so no new one was written; if the password is lost, reset it",
		"username", s.cfg.AdminUsername, "password_file", path, "run", "agentdesk users reset-password "+s.cfg.AdminUsername)
}

func (s *Server) router(api *readapi.API, writes *web.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.metrics.Middleware(routePattern), s.logRequests, middleware.Recoverer, clientIP(s.cfg.TrustedProxies))
	r.Use(cors.Handler(cors.Options{
		AllowedOrigins:   s.cfg.CORSOrigins,
		AllowedMethods:   []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Range", "X-Requested-With", "X-Correlation-ID", "X-Causation-ID"},
		ExposedHeaders:   []string{"Content-Range", "ETag", "Retry-After", "WWW-Authenticate", "Idempotent-Replayed", "X-Request-ID"},
		AllowCredentials: false,
		MaxAge:           600,
	}))
	r.Use(limitHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		readapi.WriteJSON(w, http.StatusNotFound, readapi.Problem{Detail: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		readapi.WriteJSON(w, http.StatusMethodNotAllowed, readapi.Problem{Detail: "method not allowed"})
	})
	api.Public(r)
	// Public like /healthz: scrapers carry no token. Its labels hold
	// route patterns and company ids, no other user data; firewall it, or
	// scrape DEBUG_ADDR on a private network instead.
	r.Method(http.MethodGet, "/metrics", s.metrics.Handler())
	r.Get(openAPIPath, s.serveOpenAPI)
	admin := adminHandler(s.cfg.AdminDir)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, adminPath, http.StatusFound) })
	r.Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, adminPath, http.StatusMovedPermanently)
	})
	r.Method(http.MethodGet, adminPath+"*", admin)
	r.Method(http.MethodHead, adminPath+"*", admin)
	r.Group(func(r chi.Router) {
		r.Use(api.Authenticate, api.Limit)
		api.Authenticated(r)
		api.Operator(r, s.reactions, operatorOps{s})
		writes.Mount(r)
	})
	return r
}

// maxHeaderBytes caps a request's line and headers together: a bearer
// token and the usual browser headers take a few KiB.
const maxHeaderBytes = 64 << 10

// limitHeaders answers 431 with the API's JSON error body when a request's
// line and headers exceed maxHeaderBytes. net/http's own limit
// (http.Server.MaxHeaderBytes, set higher as a backstop) answers in plain
// text, which clients that expect JSON cannot read.
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := headerBytes(r); n > maxHeaderBytes {
			// The connection is closed after the answer: what else the
			// client sends on it is of no interest.
			w.Header().Set("Connection", "close")
			readapi.WriteJSON(w, http.StatusRequestHeaderFieldsTooLarge, readapi.Problem{
				Detail: fmt.Sprintf("the request line and headers take %d bytes; at most %d are accepted", n, maxHeaderBytes)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerBytes is the size of r's request line and headers as sent, give
// or take the spaces around the colons: "METHOD URI PROTO", each
// "Name: value" line (Host is kept apart by net/http), the CRLFs.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// clientIP finds the address of each request's client, for the sign-in
// limits of readapi: the TCP peer, unless the peer is one of the trusted
// proxies; then the right-most address of X-Forwarded-For that is not
// itself a trusted proxy (the left part of the header is whatever the
// client chose to send). With no trusted proxy the header is ignored.
func clientIP(trusted []netip.Prefix) func(http.Handler) http.Handler {
	if len(trusted) == 0 {
		return middleware.ClientIPFromRemoteAddr
	}
	prefixes := make([]string, len(trusted))
	for i, p := range trusted {
		prefixes[i] = p.String()
	}
	return middleware.ClientIPFromXFF(prefixes...)
}

// logRequests logs one line per request, after it is served.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if ww.Status() >= 500 {
			level = slog.LevelWarn
		}
		if !s.log.Enabled(r.Context(), level) {
			return // the attributes below cost allocations for nothing
		}
		s.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"bytes", ww.BytesWritten(), "took", time.Since(start), "request_id", middleware.GetReqID(r.Context()))
	})
}

// Serve answers HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeDebug answers DEBUG_ADDR's profiles and metrics on ln until
// Shutdown; it is an error when DEBUG_ADDR is unset.
func (s *Server) ServeDebug(ln net.Listener) error {
	if s.debug == nil {
		return errors.New("DEBUG_ADDR is not set")
	}
	err := s.debug.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown lets requests in flight finish, then stops the projections
// and closes the stores.
func (s *Server) Shutdown(ctx context.Context) error {
	if api := s.api.Load(); api != nil {
		// Event streams never end by themselves: they are told to, and
		// their clients reconnect to the next server from where they were.
		api.CloseEvents()
	}
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Requests still in flight past the grace period (a client that
		// never finishes) are cut; what was acknowledged is durable, so
		// this is a clean stop.
		s.log.Warn("requests still in flight at the end of the shutdown grace period were closed")
		err = s.http.Close()
	}
	if s.debug != nil {
		// Nothing on it needs a graceful end: a profile in progress is cut.
		err = errors.Join(err, s.debug.Close())
	}
	s.stopProjections()
	s.closeStores()
	return err
}

// lead runs the projections and the reactions until ctx ends: at once on
// the embedded stores, and on shared stores while this process holds the
// lease, following the process that does meanwhile.
func (s *Server) lead(ctx context.Context) {
	runBoth := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.runner.Run(ctx); err != nil {
				s.log.Error("projections stopped", "err", err)
			}
		})
		wg.Go(func() { s.reactions.run(ctx, s.log) })
		wg.Wait()
	}
	if s.lease == nil {
		runBoth(ctx)
		return
	}
	for ctx.Err() == nil {
		followCtx, stopFollowing := context.WithCancel(ctx)
		followed := make(chan struct{})
		go func() {
			defer close(followed)
			var wg sync.WaitGroup
			wg.Go(func() { _ = s.runner.Follow(followCtx) })
			wg.Go(func() { s.followed.run(followCtx, s) })
			if s.cfg.NATSURL != "" {
				// On a broker the holder's forwarders publish, and every
				// process's handlers share the messages.
				wg.Go(func() { s.reactions.handle(followCtx, s.log) })
			}
			wg.Wait()
		}()
		held, err := s.lease.Hold(ctx)
		stopFollowing()
		<-followed
		if err != nil {
			return // ctx ended
		}
		s.leading.Store(true)
		runBoth(held)
		s.leading.Store(false)
		if ctx.Err() != nil {
			// A graceful stop: the next process need not wait for the
			// lease to expire.
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.lease.Release(rctx); err != nil {
				s.log.Warn("could not release the lease; another process takes it when it expires", "err", err)
			}
			cancel()
			return
		}
	}
}

// leaseHolder names this process in the lease: host, pid and a random
// part, unique even for a restarted process that kept its pid.
func leaseHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
}

// stopProjections stops the projections and the reactions.
func (s *Server) stopProjections() {
	if s.stopRunner != nil {
		s.stopRunner()
		<-s.runnerDone
	}
}

func (s *Server) closeStores() {
	s.closeOnce.Do(func() {
		if s.keys != nil {
			if err := s.keys.Close(); err != nil {
				s.log.Error("close key store", "err", err)
			}
		}
		if s.events != nil {
			if err := s.events.Close(); err != nil {
				s.log.Error("close event store", "err", err)
			}
		}
		if s.reads != nil {
			if err := s.reads.Close(); err != nil {
				s.log.Error("close read store", "err", err)
			}
		}
		if err := s.lock.release(); err != nil {
			s.log.Error("release data dir lock", "err", err)
		}
	})
}

// tokenAdapter lets the query API use auth.Tokens.
type tokenAdapter struct{ t *auth.Tokens }

// Issue signs a token for c.
func (a tokenAdapter) Issue(c readapi.TokenClaims) (string, time.Duration, error) {
	return a.t.Issue(auth.Claims(c))
}

// Parse verifies a token.
func (a tokenAdapter) Parse(token string) (readapi.TokenClaims, error) {
	c, err := a.t.Parse(token)
	return readapi.TokenClaims(c), err
}

// requestIDPattern is what a client-chosen request id may look like: it
// goes into logs and event metadata, so it is short and plain.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,128}$`)

// requestID gives every request an id: the client's X-Request-ID when it
// is plain, else a new UUID. It is answered in X-Request-ID, carried in
// the request's log line and stamped on the events the request records.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

func init() {
	// UUIDs (request ids, event ids) come from a pool of random bytes
	// refilled 4 KiB at a time, instead of a system call each.
	uuid.EnableRandPool()
}

// openBlobs opens the blob store: the S3 bucket AWS_S3_BUCKET names, or
// DATA_DIR/blobs.
func openBlobs(ctx context.Context, cfg config.Config) (blob.Store, error) {
	if cfg.S3Bucket != "" {
		return blob.NewS3(ctx, blob.S3Config{Bucket: cfg.S3Bucket, Prefix: cfg.S3Prefix, PathStyle: cfg.S3PathStyle})
	}
	return blob.NewDir(filepath.Join(cfg.DataDir, "blobs"))
}
