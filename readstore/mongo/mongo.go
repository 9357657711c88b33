// Package mongo is the MongoDB implementation of readstore.Store, over the
// official driver (go.mongodb.org/mongo-driver/v2). It needs no
// transactions and no change streams, so it also runs against FerretDB,
// which the tests use (see the mongotest subpackage).
//
// # Layout
//
// Each generation of a collection is one MongoDB collection: generation 1
// under the plain name, generation N under readstore.Generation(name, N).
// Each document is stored as
//
//	{
//	  _id:      the document id (string),
//	  _version: Doc.Version (string; compared byte by byte, "" lowest),
//	  _deleted: false, or true for a tombstone,
//	  _data:    the JSON object exactly as written (binary, subtype 0),
//	  <field>:  one top-level value per declared field that the JSON sets
//	            to non-null: string, double, bool, the TimeKey string of a
//	            Time, or an array of strings for a StringList,
//	}
//
// A tombstone keeps only _id, _version and _deleted: the version still
// guards the id, so that a stale write cannot bring a deleted document
// back. Declared field names start with a letter, so they never clash with
// the underscore-prefixed fixed fields. Each declared index becomes the
// index rsx__<field>__<field>… on {_deleted, the fields…, _id}: every
// query pins _deleted to false and ends its sort with _id. The fixed
// collections are
// readstore__collections (each ensured generation's declaration),
// readstore__generations (the live generation of each plain name that has
// been switched) and readstore__checkpoints; no collection name that
// readstore accepts can be one of them.
//
// # Writes
//
// Apply checks every write (collection ensured, data a JSON object whose
// declared fields have their declared types) before it sends any, then
// writes in chunks of at most 99 statements: FerretDB hangs a database for
// good on an update command that matches 100 or more existing documents.
// For each chunk it reads the stored versions of the chunk's ids in one
// query, drops the writes that are not above them, and sends the rest as
// one ordered bulk write: an insert for each id not stored yet, then an
// upsert filtered on {_id, _version: {$lt: new}} for the others. When
// another writer stores the id in between, the insert, or the upsert that
// found nothing below its version and tried to insert, fails with a
// duplicate-key error; the bulk write stops there, and Apply reads the
// versions again and goes on from that write, which is then skipped as
// stale or sent again as an upsert. The checkpoint is written once every
// write has landed, under the same kind of guard: it never moves back.
//
// Nothing needs a transaction, so a batch is not atomic: after an error
// some of its writes may have landed, and applying it again is harmless.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"agentdesk/readstore"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Defaults for Config.
const (
	DefaultConnectTimeout    = 10 * time.Second
	DefaultGenerationRefresh = 2 * time.Second
)

// Names of the fixed collections. Each contains "__" without a valid
// generation after it, so readstore.SplitGeneration refuses it as a
// collection name.
const (
	collectionsColl = "readstore__collections"
	generationsColl = "readstore__generations"
	checkpointsColl = "readstore__checkpoints"
)

// Fixed document fields.
const (
	fieldID      = "_id"
	fieldVersion = "_version"
	fieldDeleted = "_deleted"
	fieldData    = "_data"
)

// Config configures Open. Zero durations mean the defaults.
type Config struct {
	// URI is a MongoDB connection string (mongodb:// or mongodb+srv://).
	// It may carry credentials; no error message repeats them.
	URI string
	// Database holds the read models.
	Database string
	// ConnectTimeout bounds Open: the server must answer a ping within
	// it. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// GenerationRefresh is how old this process's copy of the live
	// generations may get: a switch made by another process is seen
	// within it. Default DefaultGenerationRefresh.
	GenerationRefresh time.Duration
}

// Validate reports every problem with c, joined. It never repeats the URI,
// which may hold a password.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.URI == "":
		errs = append(errs, errors.New("a URI is required"))
	case !strings.HasPrefix(c.URI, "mongodb://") && !strings.HasPrefix(c.URI, "mongodb+srv://"):
		errs = append(errs, errors.New("URI must start with mongodb:// or mongodb+srv://"))
	}
	switch {
	case c.Database == "":
		errs = append(errs, errors.New("a Database is required"))
	case len(c.Database) > 63 || strings.ContainsAny(c.Database, "/\\. \"$\x00"):
		errs = append(errs, fmt.Errorf("invalid Database %q: want at most 63 bytes and none of / \\ . space \" $", c.Database))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("ConnectTimeout %s is negative", c.ConnectTimeout))
	}
	if c.GenerationRefresh < 0 {
		errs = append(errs, fmt.Errorf("GenerationRefresh %s is negative", c.GenerationRefresh))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.GenerationRefresh == 0 {
		c.GenerationRefresh = DefaultGenerationRefresh
	}
	return c
}

// Store is the MongoDB read store. It is safe for concurrent use.
//
// A generation's declaration (fields, indexes, text fields) is stored
// with it by Ensure, so a process can serve a generation another process
// built and switched to. Each process caches the declarations and the live
// generations; it sees another process's switch within
// Config.GenerationRefresh, its own at once.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	refresh time.Duration
	closed  atomic.Bool

	// decls maps a generation's name (readstore.Generation(name, gen),
	// gen ≥ 1) to its declaration.
	declMu sync.RWMutex
	decls  map[string]readstore.Collection

	// live maps plain names to their live generation, as last read from
	// generationsColl at liveLoaded; liveMu is held while reloading, so
	// a reload cannot overwrite a later switch made by this process.
	liveMu     sync.Mutex
	live       map[string]int
	liveLoaded time.Time

	// testHookBeforeWrite, if set, runs before each bulk write with the
	// ids it is about to write; tests use it to race another writer.
	testHookBeforeWrite func(ctx context.Context, coll string, ids []string)
}

var _ readstore.Store = (*Store)(nil)

// Open connects to cfg.URI and checks, within cfg.ConnectTimeout, that the
// server answers. Its errors name the hosts, never the credentials.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("readstore/mongo: %w", err)
	}
	cfg = cfg.withDefaults()
	hosts, secrets := parseURI(cfg.URI)

	client, err := mongo.Connect(options.Client().ApplyURI(cfg.URI))
	if err != nil {
		return nil, redact(fmt.Errorf("readstore/mongo: connect to %s: %w", hosts, err), secrets)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_ = client.Disconnect(dctx) // the ping's error is the one to report
		return nil, redact(fmt.Errorf("readstore/mongo: MongoDB at %s did not answer within %s: %w", hosts, cfg.ConnectTimeout, err), secrets)
	}
	return &Store{
		client:  client,
		db:      client.Database(cfg.Database),
		refresh: cfg.GenerationRefresh,
		decls:   map[string]readstore.Collection{},
		live:    map[string]int{},
	}, nil
}

// parseURI returns the host list of a MongoDB URI, for messages, and the
// strings an error must not show: the user info and the password, raw
// and unescaped, when there is a password. It parses by hand because
// net/url refuses the comma-separated host lists of MongoDB URIs. The
// user info runs to the last '@', so a password with an unescaped '/',
// '?' or '@' is still hidden (an '@' in the options only hides more).
func parseURI(uri string) (hosts string, secrets []string) {
	rest := uri
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		rest = rest[at+1:]
		if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" {
			secrets = append(secrets, userinfo, pw)
			if unescaped, err := url.PathUnescape(pw); err == nil && unescaped != pw {
				secrets = append(secrets, unescaped)
			}
		}
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		rest = "(no host)"
	}
	return rest, secrets
}

// redactedError hides secrets in its message; errors.Is and errors.As
// still see the error it wraps.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &redactedError{msg: msg, err: err}
}

// Close disconnects from the server; later calls return
// readstore.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("readstore/mongo: close: %w", err)
	}
	return nil
}

// storageName is the MongoDB collection of generation gen of the plain
// name base: generation 1 keeps the plain name.
func storageName(base string, gen int) string {
	if gen == 1 {
		return base
	}
	return readstore.Generation(base, gen)
}

// target is a collection name resolved to a generation.
type target struct {
	key  string // readstore.Generation(name, gen), which names its declaration
	coll *mongo.Collection
}

// resolve maps a collection name to the generation it addresses: a plain
// name to the live generation, a generation name to itself.
func (s *Store) resolve(ctx context.Context, collection string) (target, error) {
	if s.closed.Load() {
		return target{}, readstore.ErrClosed
	}
	base, gen, err := readstore.SplitGeneration(collection)
	if err != nil {
		return target{}, err
	}
	if gen == 0 {
		if gen, err = s.liveGen(ctx, base); err != nil {
			return target{}, err
		}
	}
	return target{
		key:  readstore.Generation(base, gen),
		coll: s.db.Collection(storageName(base, gen)),
	}, nil
}

// declared resolves collection and returns its declaration: the one this
// process ensured, or else the one stored by whichever process did.
func (s *Store) declared(ctx context.Context, collection string) (target, readstore.Collection, error) {
	t, err := s.resolve(ctx, collection)
	if err != nil {
		return target{}, readstore.Collection{}, err
	}
	s.declMu.RLock()
	c, ok := s.decls[t.key]
	s.declMu.RUnlock()
	if ok {
		return t, c, nil
	}
	c, ok, err = s.readDecl(ctx, t.key)
	if err != nil {
		return target{}, readstore.Collection{}, err
	}
	if !ok {
		return target{}, readstore.Collection{}, fmt.Errorf("%w %q", readstore.ErrUnknownCollection, collection)
	}
	s.declMu.Lock()
	if cur, ok := s.decls[t.key]; ok {
		c = cur // an Ensure in this process got there first, and is newer
	} else {
		s.decls[t.key] = c
	}
	s.declMu.Unlock()
	return t, c, nil
}

// liveGen returns the live generation of a plain name, reloading the
// whole (small) generations collection when the copy is older than the
// refresh interval.
func (s *Store) liveGen(ctx context.Context, base string) (int, error) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.liveLoaded.IsZero() || time.Since(s.liveLoaded) >= s.refresh {
		cur, err := s.db.Collection(generationsColl).Find(ctx, bson.D{})
		if err != nil {
			return 0, fmt.Errorf("read live generations: %w", err)
		}
		var rows []struct {
			Name string `bson:"_id"`
			Live int    `bson:"live"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return 0, fmt.Errorf("read live generations: %w", err)
		}
		live := make(map[string]int, len(rows))
		for _, r := range rows {
			live[r.Name] = r.Live
		}
		s.live, s.liveLoaded = live, time.Now()
	}
	if gen, ok := s.live[base]; ok && gen >= 1 {
		return gen, nil
	}
	return 1, nil
}

// LiveGeneration returns the generation served under the plain name: 1
// until SwitchGeneration is called.
func (s *Store) LiveGeneration(ctx context.Context, name string) (int, error) {
	if s.closed.Load() {
		return 0, readstore.ErrClosed
	}
	base, gen, err := readstore.SplitGeneration(name)
	if err != nil {
		return 0, fmt.Errorf("live generation: %w", err)
	}
	if gen != 0 {
		return 0, fmt.Errorf("live generation of %q: want a plain name", name)
	}
	return s.liveGen(ctx, base)
}

// SwitchGeneration makes generation gen of the plain name the live one.
// The generation must have been ensured, by this process or another. This
// process serves it from its next call; others within their
// GenerationRefresh.
func (s *Store) SwitchGeneration(ctx context.Context, name string, gen int) error {
	if s.closed.Load() {
		return readstore.ErrClosed
	}
	base, g, err := readstore.SplitGeneration(name)
	if err != nil {
		return fmt.Errorf("switch generation: %w", err)
	}
	if g != 0 {
		return fmt.Errorf("switch generation of %q: want a plain name", name)
	}
	if gen < 1 {
		return fmt.Errorf("switch %s to generation %d: generations start at 1", name, gen)
	}
	key := readstore.Generation(base, gen)
	if _, ok, err := s.readDecl(ctx, key); err != nil {
		return fmt.Errorf("switch %s to generation %d: %w", name, gen, err)
	} else if !ok {
		return fmt.Errorf("switch %s: %w %q (ensure it first)", name, readstore.ErrUnknownCollection, key)
	}
	_, err = s.db.Collection(generationsColl).UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: base}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "live", Value: gen}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("switch %s to generation %d: %w", name, gen, err)
	}
	s.liveMu.Lock()
	s.live[base] = gen
	s.liveMu.Unlock()
	return nil
}

// isCode reports whether err is a server error with one of the codes.
func isCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}
