// Package readapi is the query side of the HTTP API: React Admin list and
// record endpoints over the read models, sign-in and the current user,
// health checks, the authentication middleware, and the one table that
// maps errors to HTTP statuses. It never appends events.
package readapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Progress tells how far projections have got.
type Progress interface {
	// Wait blocks until the named projection has applied every event up
	// to position, or ctx ends.
	Wait(ctx context.Context, projection string, position eventstore.Position) error
	// Ready reports whether every projection has caught up since start,
	// none is failing and none lags behind the log. A Progress that also
	// has NotReady() string says why not on /readyz.
	Ready() bool
	// CaughtUp reports the same of one projection.
	CaughtUp(projection string) bool
}

// TokenService issues and verifies bearer tokens.
type TokenService interface {
	Issue(c TokenClaims) (token string, ttl time.Duration, err error)
	Parse(token string) (TokenClaims, error)
}

// TokenClaims is what a token says about its holder.
type TokenClaims struct {
	UserID          string
	CompanyID       string
	Role            string
	PasswordVersion uint64
	// Audience confines a token to one use: "" for a bearer token,
	// "events" for a ticket that opens the realtime stream.
	Audience string
	// TTL, when positive, shortens the lifetime of an issued token.
	TTL time.Duration
}

// PasswordVerifier checks passwords against stored hashes.
type PasswordVerifier interface {
	Verify(hash, password string) bool
	// VerifyUnknown costs as much as Verify and reports false; it keeps
	// unknown usernames from answering faster.
	VerifyUnknown(password string) bool
}

// RateLimitObserver is told of every request refused with 429 (metrics).
// Implementations must be safe for concurrent use and quick.
type RateLimitObserver interface {
	// RateLimited reports a refusal: the company it was counted against
	// ("" when the limit is not per company, such as sign-in's per
	// client address) and which limit refused it ("sign_in").
	RateLimited(companyID, reason string)
}

// Config configures an API.
type Config struct {
	Reads     readstore.Store
	Progress  Progress
	Tokens    TokenService
	Passwords PasswordVerifier
	// Audit, when set, serves entities' history and their state as of a
	// time or revision, from the event log.
	Audit Audit
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// WriteWait bounds how long a write waits for its projection before
	// answering; default 5s.
	WriteWait time.Duration
	// SignIn limits failed sign-ins; the zero value limits nothing.
	SignIn SignInLimits
	// RateLimits, when set, is told of every 429.
	RateLimits RateLimitObserver
	// QueryTimeout is the deadline of every read; past it the request
	// answers 503. Default 5s.
	QueryTimeout time.Duration
	// CompanyInFlight caps one company's requests in flight (429 past
	// it); 0 means no cap.
	CompanyInFlight int
	// QueryConcurrency is how many list queries run at once, over every
	// company; default one more than the CPUs. Queries wait their turn,
	// companies served in turn.
	QueryConcurrency int
	// CompanyQueries caps one company's list queries running at once;
	// default one less than QueryConcurrency, so that a slot is always
	// free for the other companies.
	CompanyQueries int
	// CompanyRate caps one company's requests a second (429 past it); 0
	// means no cap.
	CompanyRate float64
	// PrincipalCache is how many principals are kept; default 10000.
	PrincipalCache int
	// Events, when set, is the log GET /api/audit/export streams from.
	Events EventLog
	// Completer, when set, serves POST /api/llm/completion; without
	// one the endpoint answers 503.
	Completer Completer
	// Meter, when set, records what each completion cost.
	Meter Meter
	// Quota, when set, refuses completions of companies that have spent
	// their monthly token quota (429).
	Quota *Quota
	// EventsBuffer is how many record changes the realtime feed keeps
	// for clients that reconnect; default 16384.
	EventsBuffer int
	// EventsKeepAlive is how often an idle event stream sends a
	// keep-alive and checks its principal again; default 15s.
	EventsKeepAlive time.Duration
}

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.Reads == nil {
		errs = append(errs, errors.New("readapi: Reads is required"))
	}
	if c.Progress == nil {
		errs = append(errs, errors.New("readapi: Progress is required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("readapi: Tokens is required"))
	}
	if c.Passwords == nil {
		errs = append(errs, errors.New("readapi: Passwords is required"))
	}
	if c.Quota != nil && c.Quota.Store == nil {
		errs = append(errs, errors.New("readapi: Quota.Store is required"))
	}
	return errors.Join(errs...)
}

// API serves the query endpoints.
type API struct {
	audit      Audit
	reads      readstore.Store
	progress   Progress
	tokens     TokenService
	passwords  PasswordVerifier
	log        *slog.Logger
	writeWait  time.Duration
	signIn     *signInLimiter
	rateLimits RateLimitObserver

	queryTimeout time.Duration
	principals   *principals
	tenants      *tenants
	events       EventLog
	completer    Completer
	usageMeter   Meter
	quota        *Quota
	feed         *feed
}

// New returns an API for cfg.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 5 * time.Second
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 5 * time.Second
	}
	if cfg.QueryConcurrency <= 0 {
		cfg.QueryConcurrency = runtime.NumCPU() + 1
	}
	if cfg.CompanyQueries <= 0 {
		// One slot stays free for the other companies, whatever one
		// company sends.
		cfg.CompanyQueries = max(1, cfg.QueryConcurrency-1)
	}
	if cfg.PrincipalCache <= 0 {
		cfg.PrincipalCache = 10000
	}
	if cfg.EventsBuffer <= 0 {
		cfg.EventsBuffer = defaultFeedSize
	}
	feed := newFeed(cfg.EventsBuffer)
	if cfg.EventsKeepAlive > 0 {
		feed.keepAlive = cfg.EventsKeepAlive
	}
	return &API{audit: cfg.Audit, reads: cfg.Reads, progress: cfg.Progress, tokens: cfg.Tokens, passwords: cfg.Passwords,
		log: cfg.Logger, writeWait: cfg.WriteWait, signIn: newSignInLimiter(cfg.SignIn), rateLimits: cfg.RateLimits,
		queryTimeout: cfg.QueryTimeout, principals: newPrincipals(cfg.PrincipalCache),
		tenants: newTenants(cfg.CompanyInFlight, cfg.QueryConcurrency, cfg.CompanyQueries, cfg.CompanyRate), events: cfg.Events,
		completer: cfg.Completer, usageMeter: cfg.Meter, quota: cfg.Quota, feed: feed}, nil
}

// Public mounts the endpoints that need no token.
func (a *API) Public(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.progress.Ready() {
			detail := "projections are catching up"
			if why, ok := a.progress.(interface{ NotReady() string }); ok {
				if d := why.NotReady(); d != "" {
					detail = d
				}
			}
			w.Header().Set("Retry-After", "1")
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "detail": detail, "message": detail})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// Sign-in is limited inside the handler: the limits are per
	// username too, which only the body tells.
	r.Post("/auth/token", a.token)
	// The event stream is opened with a ticket, since an EventSource
	// sends no headers; nor does it hold one of the company's requests
	// in flight for as long as it is open.
	r.Get("/api/events", a.streamEvents)
}

// Authenticated mounts the endpoints that need a principal; wrap r with
// Authenticate first.
func (a *API) Authenticated(r chi.Router) {
	r.Get("/auth/me", a.me)
	r.Post("/api/events/ticket", a.eventTicket)
	for _, res := range resources {
		r.Get("/api/"+res.name, a.list(res))
		r.Get("/api/"+res.name+"/{id}", a.get(res))
	}
	r.Get("/api/tickets/{id}/comments", a.comments)
	a.mountAudit(r)
	if a.events != nil {
		r.Get("/api/audit/export", a.exportAudit)
	}
	// Mounted with or without a completer: the 503 then says what to
	// set.
	r.Post("/api/llm/completion", a.completion)
}

// StatusError is implemented by errors that carry their own HTTP status,
// such as request decoding errors of the write endpoints.
type StatusError interface {
	error
	HTTPStatus() int
}

// RetryAfterError is implemented by errors that say when a retry may
// succeed (a 429's limits, a used-up quota): WriteError answers it as
// Retry-After, in whole seconds, at least 1.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// errorStatus is the one table from errors to HTTP statuses; errors not
// in it are internal (500).
var errorStatus = []struct {
	err    error
	status int
}{
	{domain.ErrNotFound, http.StatusNotFound},
	{readstore.ErrNotFound, http.StatusNotFound},
	{domain.ErrForbidden, http.StatusForbidden},
	{domain.ErrAlreadyExists, http.StatusConflict},
	{domain.ErrConflict, http.StatusConflict},
	{eventstore.ErrWrongExpectedRevision, http.StatusConflict},
	{domain.ErrInvalidTransition, http.StatusConflict},
	{readstore.ErrUnknownField, http.StatusBadRequest},
	{readstore.ErrInvalidQuery, http.StatusBadRequest},
	{errUnauthorized, http.StatusUnauthorized},
	{errNotReady, http.StatusServiceUnavailable},
	{ErrNoProvider, http.StatusServiceUnavailable},
	{ErrUpstream, http.StatusBadGateway},
	{eventstore.ErrNoSpace, http.StatusInsufficientStorage},
}

// statusClientClosed is recorded (never seen by a client) for a request
// whose client went away, as nginx's 499.
const statusClientClosed = 499

var (
	errUnauthorized = errors.New("not authenticated")
	errNotReady     = errors.New("not ready")
)

// ErrorStatus returns the HTTP status for err.
func ErrorStatus(err error) int {
	var se StatusError
	if errors.As(err, &se) {
		return se.HTTPStatus()
	}
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		return http.StatusUnprocessableEntity
	}
	for _, e := range errorStatus {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Problem is the body of every error response. Message repeats Detail
// because React Admin's fetch shows the body's message to the user.
type Problem struct {
	Detail  string            `json:"detail"`
	Message string            `json:"message"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// MarshalJSON fills Message from Detail, so no error answer lacks it.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	if p.Message == "" {
		p.Message = p.Detail
	}
	return json.Marshal(plain(p))
}

// WriteError answers with err's status and a {"detail"} body. Internal
// errors are logged once here, with the request, and answered generically.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away: nobody reads the answer, and it is no
		// failure of the server's.
		log.Debug("client went away", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosed)
		return
	}
	status := ErrorStatus(err)
	p := Problem{Detail: err.Error()}
	var later RetryAfterError
	if errors.As(err, &later) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(later.RetryAfter().Seconds())))))
	}
	var ve *domain.ValidationError
	var fe interface{ Fields() map[string]string }
	switch {
	case errors.As(err, &ve):
		p.Errors = ve.Fields
	case errors.As(err, &fe):
		p.Errors = fe.Fields()
	}
	switch {
	case status == http.StatusInternalServerError:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Detail = "internal error"
	case status == http.StatusNotFound:
		p.Detail = "not found"
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentdesk"`)
	case status == http.StatusBadGateway:
		log.Warn("upstream failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case status == http.StatusServiceUnavailable && errors.Is(err, ErrNoProvider):
		// No retry helps until the server is configured.
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case status == http.StatusInsufficientStorage:
		// Every write fails alike until space is freed: one line per
		// request would flood the log, so it is not an ERROR each time.
		log.Warn("write refused: out of space", "method", r.Method, "path", r.URL.Path)
		p.Detail = "the server is out of storage space; nothing was recorded, retry later"
		w.Header().Set("Retry-After", "30")
	}
	WriteJSON(w, status, p)
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) { WriteError(a.log, w, r, err) }

// badRequest is a 400 with a message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string   { return e.msg }
func (e *badRequest) HTTPStatus() int { return http.StatusBadRequest }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// objectKeys returns the keys of raw, which must be one JSON object whose
// keys are each given once and, unless fields is nil, are among fields,
// exactly as written: encoding/json matches keys regardless of case and
// lets the last of two equal keys win, and the API's field names are
// exact. Anything else is a 400.
func objectKeys(raw []byte, fields map[string]bool) (map[string]bool, error) {
	notObject := &requestError{status: http.StatusBadRequest, msg: "the body must be a JSON object"}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	keys := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		k, _ := tok.(string)
		switch {
		case keys[k]:
			return nil, &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("field %q is given twice", k), fields: map[string]string{k: "given twice"}}
		case fields != nil && !fields[k]:
			return nil, &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("unknown field %q (field names are lower-case)", k),
				fields: map[string]string{k: "unknown field"}}
		}
		keys[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notObject
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &requestError{status: http.StatusBadRequest, msg: "the body must hold a single JSON object"}
	}
	return keys, nil
}
