// Package commands is the write side of agentdesk: each command loads its
// aggregate's stream, lets the domain decide, and appends the resulting
// events with the expected revision, stamped with metadata taken from the
// authenticated principal. A concurrent change to the same stream makes
// the append fail with a conflict; nothing is ever overwritten.
//
// The HTTP endpoints for commands live in the subpackage web.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// PasswordHasher hashes passwords for storage and checks them; it is
// slow on purpose.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(hash, password string) bool
}

// Config configures an App.
type Config struct {
	// Store is the event store; required.
	Store eventstore.Store
	// Hasher hashes user passwords; required.
	Hasher PasswordHasher
	// Now returns the current time; defaults to time.Now.
	Now func() time.Time
	// CacheSize is how many aggregates' states are kept in memory between
	// commands; default 16384, negative disables the cache.
	CacheSize int
	// Idempotency remembers the responses of keyed requests; without it
	// they are not replayed (a retry still appends nothing twice).
	Idempotency IdempotencyStore
	// Observer, when set, is told how every decision ended (metrics).
	Observer Observer
	// PII, when set, seals the personal data of events (domain.Personal)
	// before they are appended and opens it as streams are loaded. Without
	// it personal data is stored as it is, and users cannot be forgotten;
	// tools that write none (a password reset) need no key store.
	PII PII
	// Blobs stores the files of knowledge documents; without it the
	// document commands fail with ErrNoBlobs.
	Blobs Blobs
}

// PII seals and opens personal data with a key per subject (the user the
// data is about, the id of its stream) kept outside the event log, so
// that destroying the key erases the data from the log without
// rewriting it (crypto-shredding). Implementations are safe for
// concurrent use.
type PII interface {
	// Seal returns plaintext sealed with subject's key, which it makes on
	// the subject's first seal.
	Seal(ctx context.Context, subject, plaintext string) (string, error)
	// Open returns the plaintext of a value Seal returned, a value that
	// was never sealed as it is, and domain.Erased when the subject's key
	// was forgotten.
	Open(ctx context.Context, subject, value string) (string, error)
	// Forget destroys subject's key; forgetting again is not an error.
	Forget(ctx context.Context, subject string) error
}

// Observer is told how each decision on an aggregate ended: once per
// command, and once per extra aggregate a command touches (creating a
// user also claims its username). A command refused before its aggregate
// is loaded (a malformed id, a create the role may not make) is not
// reported. Implementations must be safe for concurrent use and quick:
// they are called on the command's goroutine.
type Observer interface {
	// CommandDecided reports the aggregate's category (the stream
	// category: "ticket", "user", "username", …), the outcome (one of
	// the Outcome constants) and how long loading, deciding and
	// appending took.
	CommandDecided(aggregate, outcome string, took time.Duration)
}

// Outcomes an Observer is told. They are plain strings so that an
// observer needs no import of this package.
const (
	// OutcomeOK: events were appended.
	OutcomeOK = "ok"
	// OutcomeUnchanged: the command recorded nothing (the aggregate was
	// already so, or the command was a retry).
	OutcomeUnchanged = "unchanged"
	// OutcomeConflict: a concurrent change, a stale revision, or a
	// create of an aggregate that exists.
	OutcomeConflict = "conflict"
	// OutcomeInvalid: invalid input, or a transition the aggregate's
	// state refuses.
	OutcomeInvalid = "invalid"
	// OutcomeForbidden: the actor's role does not allow it.
	OutcomeForbidden = "forbidden"
	// OutcomeNotFound: no such aggregate, or one the actor cannot see.
	OutcomeNotFound = "not_found"
	// OutcomeCanceled: the caller's context ended first.
	OutcomeCanceled = "canceled"
	// OutcomeError: anything else, such as a failing event store.
	OutcomeError = "error"
)

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("commands: Store is required"))
	}
	if c.Hasher == nil {
		errs = append(errs, errors.New("commands: Hasher is required"))
	}
	return errors.Join(errs...)
}

// App runs commands. It is safe for concurrent use.
type App struct {
	store       eventstore.Store
	hasher      PasswordHasher
	now         func() time.Time
	idempotency IdempotencyStore
	observer    Observer
	pii         PII
	blobs       Blobs
	// cache holds loaded[S] values by stream. A cached state is only a
	// guess: the append's expected revision proves it current, and a
	// command that fails on a cached state is decided again on a fresh
	// load, so a stale entry (another process appended) costs a retry,
	// never a wrong decision.
	cache *lru.Cache[string, any]
}

// New returns an App for cfg.
func New(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &App{store: cfg.Store, hasher: cfg.Hasher, now: cfg.Now, idempotency: cfg.Idempotency, observer: cfg.Observer, pii: cfg.PII, blobs: cfg.Blobs}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 16384
	}
	if cfg.CacheSize > 0 {
		c, err := lru.New[string, any](cfg.CacheSize)
		if err != nil {
			return nil, err
		}
		a.cache = c
	}
	return a, nil
}

// Meta is who issues a command and under which ids; the HTTP layer fills
// it from the authenticated principal and request headers.
type Meta struct {
	Principal domain.Principal
	// CommandID identifies the command. When it is derived from an
	// idempotency key, the ids of new aggregates and events are derived
	// from it too, so a retry appends nothing new.
	CommandID     string
	CorrelationID string
	CausationID   string
	// IfRevision, when set, is the stream revision the client last saw
	// of the aggregate the command targets (the record's revision, or
	// If-Match): the command is refused with ErrConflict if the
	// aggregate has moved on since, so no update is ever lost.
	IfRevision *uint64
	// RequestID ties the events to the request's log lines.
	RequestID string
}

// other returns m for a command's other streams (a username claim beside
// its user): IfRevision concerns the targeted aggregate only.
func (m Meta) other() Meta {
	m.IfRevision = nil
	return m
}

// Result tells what a command did.
type Result struct {
	// ID is the aggregate's id.
	ID string
	// Position is the global position of the command's last event: once
	// a projection has reached it, it reflects the command. It is Start
	// when the command recorded nothing.
	Position eventstore.Position
	// Revision is the stream revision of that event.
	Revision uint64
	// Changed is false when the command recorded nothing.
	Changed bool
	// ChildID is the id of the child record the command added to the
	// aggregate (a ticket's comment), if any.
	ChildID string
}

// aggregate is a state that evolves by events, used through a pointer.
type aggregate[S any] interface {
	*S
	Apply(domain.Event)
}

// loaded is an aggregate's state plus where its stream stands.
type loaded[S any] struct {
	state    S
	exists   bool
	revision uint64
	// createdBy is the command id of the stream's first event.
	createdBy string
}

// load replays a stream into a fresh state, its personal data opened.
func load[S any, P aggregate[S]](ctx context.Context, a *App, reg *domain.Registry, stream string) (loaded[S], error) {
	var l loaded[S]
	evs, err := a.store.ReadStream(ctx, stream, 0, 0)
	if err != nil {
		return l, fmt.Errorf("read %s: %w", stream, err)
	}
	for _, rec := range evs {
		e, err := reg.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err == nil {
			e, err = a.personal(ctx, stream, e, false)
		}
		if err != nil {
			return l, fmt.Errorf("replay %s@%d: %w", stream, rec.Revision, err)
		}
		P(&l.state).Apply(e)
		if !l.exists {
			l.createdBy = rec.Metadata.CommandID
		}
		l.exists, l.revision = true, rec.Revision
	}
	return l, nil
}

func (l loaded[S]) expected() eventstore.ExpectedRevision {
	if !l.exists {
		return eventstore.NoStream
	}
	return eventstore.Exact(l.revision)
}

// execute is the command pipeline: load, authorize and decide (both in
// decide), append with the expected revision. The state comes from the
// cache when it is there; if the command fails on it, the cached state
// may be stale, so it is dropped and the command decided again on the
// stream as stored.
func execute[S any, P aggregate[S]](ctx context.Context, a *App, m Meta, reg *domain.Registry, stream, id string,
	decide func(s P) (companyID string, events []domain.Event, err error)) (res Result, err error) {
	defer a.observe(stream, time.Now(), &res, &err)
	if l, ok := cached[S](a, stream); ok {
		res, err := decideAndAppend(ctx, a, m, l, stream, id, decide)
		if err == nil {
			return res, nil
		}
		a.cache.Remove(stream)
	}
	l, err := load[S, P](ctx, a, reg, stream)
	if err != nil {
		return Result{}, err
	}
	if a.cache != nil && l.exists {
		a.cache.Add(stream, l)
	}
	return decideAndAppend(ctx, a, m, l, stream, id, decide)
}

// current returns the state of stream from the cache, or loaded (and
// cached, if the stream exists). A caller that fails on it because it
// was stale (another process appended) drops it with a.cache.Remove.
func current[S any, P aggregate[S]](ctx context.Context, a *App, reg *domain.Registry, stream string) (loaded[S], error) {
	if l, ok := cached[S](a, stream); ok {
		return l, nil
	}
	l, err := load[S, P](ctx, a, reg, stream)
	if err == nil && a.cache != nil && l.exists {
		a.cache.Add(stream, l)
	}
	return l, err
}

// cached returns the cached state of stream, if any.
func cached[S any](a *App, stream string) (loaded[S], bool) {
	if a.cache == nil {
		return loaded[S]{}, false
	}
	v, ok := a.cache.Get(stream)
	if !ok {
		return loaded[S]{}, false
	}
	l, ok := v.(loaded[S])
	return l, ok
}

// create is execute for a command that creates an aggregate. With a
// random (version 7) id, no stream can exist yet, so it skips the load and
// appends with NoStream; with an id derived from an idempotency key the
// stream may exist from an earlier attempt, so it loads as usual.
func create[S any, P aggregate[S]](ctx context.Context, a *App, m Meta, reg *domain.Registry, stream, id string,
	decide func(s P) (companyID string, events []domain.Event, err error)) (res Result, err error) {
	if m.CommandID != "" {
		return execute(ctx, a, m, reg, stream, id, decide)
	}
	defer a.observe(stream, time.Now(), &res, &err)
	return decideAndAppend(ctx, a, m, loaded[S]{}, stream, id, decide)
}

func decideAndAppend[S any, P aggregate[S]](ctx context.Context, a *App, m Meta, l loaded[S], stream, id string,
	decide func(s P) (companyID string, events []domain.Event, err error)) (Result, error) {
	res := Result{ID: id, Revision: l.revision}
	if m.IfRevision != nil && (!l.exists || l.revision != *m.IfRevision) {
		return Result{}, fmt.Errorf("%w: changed by someone else since you read it (it is at revision %d, you sent %d); reload and retry",
			domain.ErrConflict, l.revision, *m.IfRevision)
	}
	companyID, events, err := decide(&l.state)
	if errors.Is(err, domain.ErrAlreadyExists) && m.CommandID != "" && l.createdBy == m.CommandID {
		// A retry of the command that created the aggregate (same
		// idempotency key, say after a crash before its answer was
		// recorded) succeeds without appending again.
		return res, nil
	}
	if err != nil {
		return Result{}, err
	}
	if len(events) == 0 {
		return res, nil
	}
	// The events are stored sealed and applied below as they are: the
	// cached state holds what a load opens.
	stored := make([]domain.Event, len(events))
	for i, e := range events {
		if stored[i], err = a.personal(ctx, stream, e, true); err != nil {
			return Result{}, fmt.Errorf("seal %s: %w", e.EventType(), err)
		}
	}
	ar, err := a.append(ctx, m, companyID, stream, l.expected(), stored)
	if err != nil {
		return Result{}, err
	}
	res.Position, res.Revision, res.Changed = ar.Position, ar.NextRevision, true
	// Only states that were loaded are kept: caching every new aggregate
	// costs creates about 15% (measured) for states that may never be
	// read again; the first command on an aggregate loads and caches it.
	if a.cache != nil && l.exists {
		// l is this call's copy: evolve it into the state after the append.
		for _, e := range events {
			P(&l.state).Apply(e)
		}
		l.exists, l.revision = true, ar.NextRevision
		a.cache.Add(stream, l)
	}
	return res, nil
}

// personal returns e with its personal data sealed (or opened) under the
// subject of stream, the aggregate's id; e itself when it carries none or
// no PII is configured.
func (a *App) personal(ctx context.Context, stream string, e domain.Event, seal bool) (domain.Event, error) {
	p, ok := e.(domain.Personal)
	if !ok || a.pii == nil {
		return e, nil
	}
	f := a.pii.Open
	if seal {
		f = a.pii.Seal
	}
	subject := strings.TrimPrefix(stream, eventstore.Category(stream)+"-")
	return p.MapPersonal(func(v string) (string, error) { return f(ctx, subject, v) })
}

// observe tells the observer, if any, how a decision on stream that
// started at start ended.
func (a *App) observe(stream string, start time.Time, res *Result, err *error) {
	if a.observer != nil {
		a.observer.CommandDecided(eventstore.Category(stream), outcome(*res, *err), time.Since(start))
	}
}

// outcome classifies a command's result the way the API's error table
// does, in the Outcome constants.
func outcome(res Result, err error) string {
	var invalid *domain.ValidationError
	switch {
	case err == nil && res.Changed:
		return OutcomeOK
	case err == nil:
		return OutcomeUnchanged
	case errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrAlreadyExists), errors.Is(err, eventstore.ErrWrongExpectedRevision):
		return OutcomeConflict
	case errors.As(err, &invalid), errors.Is(err, domain.ErrInvalidTransition):
		return OutcomeInvalid
	case errors.Is(err, domain.ErrForbidden):
		return OutcomeForbidden
	case errors.Is(err, domain.ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return OutcomeCanceled
	}
	return OutcomeError
}

// append encodes and appends events with metadata from m.
func (a *App) append(ctx context.Context, m Meta, companyID, stream string, expected eventstore.ExpectedRevision, events []domain.Event) (eventstore.AppendResult, error) {
	commandID := m.CommandID
	deterministic := commandID != ""
	if !deterministic {
		commandID = newUUID()
	}
	meta := eventstore.Metadata{
		CompanyID:     companyID,
		ActorID:       m.Principal.UserID,
		ActorRole:     string(m.Principal.Role),
		CorrelationID: m.CorrelationID,
		CausationID:   m.CausationID,
		CommandID:     commandID,
		RecordedAt:    a.now().UTC(),
		RequestID:     m.RequestID,
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = commandID
	}
	if meta.CausationID == "" {
		meta.CausationID = commandID
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		raw, err := json.Marshal(e)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		id := newUUID()
		if deterministic {
			id = DeriveID(commandID, fmt.Sprintf("event/%s/%d", stream, i))
		}
		data[i] = eventstore.EventData{ID: id, Type: e.EventType(), SchemaVersion: domain.SchemaVersion(e), Data: raw, Metadata: meta}
	}
	res, err := a.store.Append(ctx, stream, expected, data)
	if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		return res, fmt.Errorf("%w: %s changed while the command ran", domain.ErrConflict, stream)
	}
	return res, err
}

// newID returns the id for an aggregate a command creates: random, or
// derived from the command id so that a retried command targets the
// same aggregate.
func newID(m Meta, purpose string) string {
	if m.CommandID == "" {
		return newUUID()
	}
	return DeriveID(m.CommandID, purpose)
}

// newUUID returns a version 7 UUID. Its time-ordered prefix makes new
// ids land at the right edge of the event store's indexes, which halves
// the pages a commit writes compared with random (version 4) ids.
func newUUID() string { return uuid.Must(uuid.NewV7()).String() }

// idNamespace scopes ids derived from command ids.
var idNamespace = uuid.MustParse("7f6b3c9e-4a8d-4f51-9a56-1d2c8e0b7a13")

// DeriveID returns a stable UUID (version 5) for name under parent.
func DeriveID(parent, name string) string {
	return uuid.NewSHA1(idNamespace, []byte(parent+"\x00"+name)).String()
}

// Fixed are fields of a record that never change after its creation, as
// an update sends them back (React Admin sends the whole record): nil or
// the current value is fine, anything else is refused with a validation
// error rather than silently ignored.
type Fixed map[string]*string

// check compares each sent value with current(field).
func (f Fixed) check(current func(field string) string) error {
	p := domain.Problems{}
	for field, sent := range f {
		if sent != nil && *sent != current(field) {
			p.Add(field, "cannot be changed")
		}
	}
	return p.Err()
}

// scopedCompany returns the company a principal acts in: its own, or for a
// superadmin the requested one (which must be given).
func scopedCompany(p domain.Principal, requested string) (string, error) {
	if !p.IsSuperadmin() {
		if requested != "" && requested != p.CompanyID {
			return "", &domain.ValidationError{Fields: map[string]string{"company_id": "must be your own company"}}
		}
		return p.CompanyID, nil
	}
	if !domain.ValidID(requested) {
		return "", &domain.ValidationError{Fields: map[string]string{"company_id": "is required (a UUID) for a superadmin"}}
	}
	return requested, nil
}
