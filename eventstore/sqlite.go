package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver
	segjson "github.com/segmentio/encoding/json"
)

// Defaults of SQLiteConfig.
const (
	DefaultMaxBatch  = 512
	DefaultReadConns = 8
)

const (
	// busyTimeoutMS bounds how long a connection waits for a lock held by
	// another process (a backup tool, the sqlite3 shell) before failing.
	busyTimeoutMS = 5000
	// readAllBatch is ReadAll's page size when the caller passes no limit,
	// and the page size of subscriptions.
	readAllBatch = 1000
	// lookupChunk caps the values of one batch look-up statement; with the
	// padding of lookUp, ids and streams use at most 10 statement sizes.
	lookupChunk = 512
	// insertChunk caps the rows of one multi-row INSERT (10 values each,
	// far below SQLite's 32766-parameter limit). Each row count is its own
	// prepared statement (all 100 take about 6 MB); past a few dozen rows a
	// statement's own cost is lost in the per-row work, mostly binding the
	// values one cgo call each.
	insertChunk = 100
)

// SQLiteConfig configures OpenSQLite.
type SQLiteConfig struct {
	// Path is the database file. It is created if missing; its directory
	// must exist. One process at a time may write to it.
	Path string
	// MaxBatch caps how many queued events the writer gathers into one
	// transaction (group commit). A single append larger than MaxBatch
	// still commits alone and whole. Zero means DefaultMaxBatch.
	MaxBatch int
	// ReadConns is the size of the read-only connection pool used by reads
	// and subscriptions. Zero means DefaultReadConns.
	ReadConns int
	// Commits, when set, is told about every group commit (metrics).
	Commits CommitObserver
}

// CommitObserver is told about the SQLite store's group commits.
type CommitObserver interface {
	// Committed reports one write transaction that committed: how many
	// appends it gathered (those refused included), how many events it
	// wrote, and how long it took from its begin to its fsynced commit.
	// It is called on the store's single writer goroutine, so it must be
	// quick: every append waits for it.
	Committed(appends, events int, took time.Duration)
}

// Validate reports every problem with c at once.
func (c SQLiteConfig) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if c.Path == ":memory:" || strings.Contains(c.Path, "mode=memory") {
		// The writer and the read pool are separate connections, and each
		// would get its own private in-memory database.
		errs = append(errs, errors.New("path cannot be an in-memory database: the writer and the readers need a shared file"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("max batch must be >= 0, got %d", c.MaxBatch))
	}
	if c.ReadConns < 0 {
		errs = append(errs, fmt.Errorf("read conns must be >= 0, got %d", c.ReadConns))
	}
	return errors.Join(errs...)
}

func (c SQLiteConfig) withDefaults() SQLiteConfig {
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.ReadConns == 0 {
		c.ReadConns = DefaultReadConns
	}
	return c
}

// SQLiteStore is the embedded Store: one SQLite file in WAL mode, written by
// a single goroutine that commits queued appends together (group commit),
// and read through a separate pool of read-only connections. It is safe for
// concurrent use.
//
// Because one goroutine commits and each commit is one transaction,
// positions are contiguous (1, 2, 3, …) and become visible in order: a
// reader never sees position N+1 without N.
type SQLiteStore struct {
	cfg SQLiteConfig

	writeDB *sql.DB
	write   *sql.Conn // owned by the writer goroutine after OpenSQLite returns
	stmts   writeStmts
	readDB  *sql.DB

	// The writer goroutine owns these (tests borrow them while it is idle).
	// Being the only writer, it numbers events itself from written, the
	// last position it committed, instead of asking SQLite for each row.
	// writtenKnown is false after a failed batch: a COMMIT that reported
	// an error may still have reached the WAL, so the next transaction
	// re-reads the head rather than trust memory.
	written      uint64
	writtenKnown bool
	batch        batchState

	// closeMu guards closed and sending on requests, so Close can close
	// the channel knowing no Append is in the middle of a send.
	closeMu  sync.RWMutex
	closed   bool
	requests chan *appendRequest

	writerDone chan struct{} // closed when the writer goroutine has returned
	done       chan struct{} // closed by Close once the writer is done
	closeOnce  sync.Once
	closeErr   error

	// notifyMu guards the commit notification: the writer closes notify
	// and replaces it after every commit that wrote events, so waiting
	// subscriptions wake without polling. head is the last committed
	// position known to the writer, published together with the channel.
	notifyMu sync.Mutex
	notify   chan struct{}
	head     uint64
	// recent holds the categories and types of the last commits, oldest
	// first, so that a subscription whose categories or types none of
	// them touched moves past them without a query: with a projection
	// per read model and a reaction per type, each commit would otherwise
	// cost every one of them a read of the log.
	recent []commitSummary

	// commits counts write transactions, so tests can check that group
	// commit really shares transactions.
	commits atomic.Uint64
	// subscriptionPage is how many events a subscription reads at a time;
	// tests shrink it to exercise paging.
	subscriptionPage int
}

type writeStmts struct {
	begin, commit, rollback, head *sql.Stmt
	// findIDs, lastRevisions and insert take as many values as the batch
	// has ids, streams or rows, and are prepared per size on first use.
	findIDs, lastRevisions, insert stmtCache
}

// stmtCache holds the sizes of one statement that takes a variable number
// of values, each prepared on the writer's connection on first use.
type stmtCache struct {
	build func(n int) string
	stmts map[int]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, conn *sql.Conn, n int) (*sql.Stmt, error) {
	if st, ok := c.stmts[n]; ok {
		return st, nil
	}
	q := c.build(n)
	st, err := conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	if c.stmts == nil {
		c.stmts = make(map[int]*sql.Stmt)
	}
	c.stmts[n] = st
	return st, nil
}

func (c *stmtCache) close() error {
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// placeholders returns n copies of group separated by commas.
func placeholders(group string, n int) string {
	return strings.TrimSuffix(strings.Repeat(group+",", n), ",")
}

// SQLiteSchemaVersion is the version of the SQLite event store's schema
// that this build writes, recorded in the file (PRAGMA user_version). A
// file with a newer version is refused; an older one is brought up to
// this one when opened. Version 1 is the events table below; files from
// before versioning read 0 and hold version 1's tables.
const SQLiteSchemaVersion = 1

// SchemaVersionError is returned by OpenSQLite for a file written by a
// newer agentdesk, whose schema this build does not know.
type SchemaVersionError struct {
	Found, Known int
}

// Error implements error.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("this data was written by a newer agentdesk: event store schema %d, this binary knows %d; run the newer version, or restore a backup", e.Found, e.Known)
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
	position       INTEGER PRIMARY KEY,
	id             TEXT    NOT NULL UNIQUE,
	stream_id      TEXT    NOT NULL,
	revision       INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	company_id     TEXT    NOT NULL,
	category       TEXT    NOT NULL,
	data           BLOB    NOT NULL,
	metadata       BLOB    NOT NULL,
	UNIQUE (stream_id, revision)
);
CREATE INDEX IF NOT EXISTS events_company_position ON events (company_id, position);
`

// MaxEventSize is the largest event data the SQLite store accepts.
const MaxEventSize = 16 << 20

// OpenSQLite opens (creating if needed) the event store at cfg.Path and
// starts its writer goroutine. Close it to stop the writer.
func OpenSQLite(cfg SQLiteConfig) (*SQLiteStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open sqlite event store: %w", err)
	}
	cfg = cfg.withDefaults()
	if err := createPrivate(cfg.Path); err != nil {
		return nil, fmt.Errorf("open sqlite event store %s: %w", cfg.Path, err)
	}
	s := &SQLiteStore{
		cfg:        cfg,
		requests:   make(chan *appendRequest, cfg.MaxBatch),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
		notify:     make(chan struct{}),
		batch:      newBatchState(),

		subscriptionPage: readAllBatch,
	}
	if err := s.open(); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open sqlite event store %s: %w", cfg.Path, err)
	}
	go s.runWriter()
	return s, nil
}

func (s *SQLiteStore) open() error {
	ctx := context.Background()

	// synchronous=FULL makes SQLite fsync the WAL at every COMMIT. The
	// driver's WAL default (NORMAL) only syncs at checkpoints, so a power
	// loss could drop commits that Append already acknowledged, and an
	// event log that forgets acknowledged events breaks every command that
	// read its own write. Group commit pays for the fsync once per batch.
	dsn, err := sqliteDSN(s.cfg.Path, "_journal_mode=WAL", "_synchronous=FULL", fmt.Sprintf("_busy_timeout=%d", busyTimeoutMS))
	if err != nil {
		return err
	}
	if s.writeDB, err = sql.Open("sqlite3", dsn); err != nil {
		return err
	}
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetConnMaxLifetime(0)
	if s.write, err = s.writeDB.Conn(ctx); err != nil {
		return err
	}
	var mode string
	if err := s.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// Without WAL, readers would block the writer and the other way round.
		return fmt.Errorf("journal mode is %q, want wal (does the file system support it?)", mode)
	}
	// A multi-row INSERT keeps a statement journal, the original of every
	// page it changes, so that a failing row can undo the rows before it.
	// Past 64 KiB SQLite spills that journal to a new temporary file, and
	// a batch appending to many streams touches more: a file per batch cost
	// the writer more than the inserts themselves. Only the writer's
	// connection is set; its other temporary data is small.
	if _, err := s.write.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fmt.Errorf("set temp store: %w", err)
	}
	// The schema version is checked before anything is written: a file
	// of a newer agentdesk must stay as that version left it.
	var version int
	if err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > SQLiteSchemaVersion {
		return &SchemaVersionError{Found: version, Known: SQLiteSchemaVersion}
	}
	if _, err := s.write.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	// A file from before versioning (0) has schema 1's tables already.
	if version < SQLiteSchemaVersion {
		if _, err := s.write.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SQLiteSchemaVersion)); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}

	// mode=ro makes a bug in a read path unable to write, and the pool is
	// separate so reads never queue behind the writer's connection. The
	// statement cache keeps every command's stream read from compiling
	// its SQL again (measured: +17% commands/s at 64 goroutines).
	if dsn, err = sqliteDSN(s.cfg.Path, "mode=ro", "_stmt_cache_size=32", fmt.Sprintf("_busy_timeout=%d", busyTimeoutMS)); err != nil {
		return err
	}
	if s.readDB, err = sql.Open("sqlite3", dsn); err != nil {
		return err
	}
	s.readDB.SetMaxOpenConns(s.cfg.ReadConns)
	s.readDB.SetMaxIdleConns(s.cfg.ReadConns)
	var head sql.NullInt64
	if err := s.readDB.QueryRowContext(ctx, "SELECT max(position) FROM events").Scan(&head); err != nil {
		return fmt.Errorf("read head: %w", err)
	}
	s.head = uint64(head.Int64)
	s.written, s.writtenKnown = s.head, true
	return nil
}

// createPrivate creates the database file, if it does not exist yet,
// readable by its owner only (0600): the log holds password hashes and
// sealed credentials. SQLite gives its WAL and shared-memory files the
// database file's permissions.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// sqliteDSN builds a file: URI so that paths with '?' or '#' stay paths, and
// so that SQLite sees URI parameters such as mode=ro. The path is made
// absolute because a relative one would read as the URI's authority.
//
// Every connection opens without SQLite's own per-connection mutex
// (_mutex=no, SQLite's multi-thread mode): database/sql hands a
// connection, and its statements, to one goroutine at a time, so the
// mutex only cost a lock and an unlock around every call into SQLite.
// Creates over HTTP, three alternating pairs with the read store's
// connections opened the same way: +1–11 %.
func sqliteDSN(path string, params ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return u.String() + "?" + strings.Join(params, "&") + "&_mutex=no", nil
}

func (s *SQLiteStore) prepare(ctx context.Context) error {
	queries := []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.stmts.begin, "BEGIN IMMEDIATE"},
		{&s.stmts.commit, "COMMIT"},
		{&s.stmts.rollback, "ROLLBACK"},
		{&s.stmts.head, "SELECT max(position) FROM events"},
	}
	for _, q := range queries {
		st, err := s.write.PrepareContext(ctx, q.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q.query, err)
		}
		*q.stmt = st
	}
	s.stmts.findIDs.build = func(n int) string {
		return "SELECT id, stream_id, revision, position FROM events WHERE id IN (" + placeholders("?", n) + ")"
	}
	// Not "max(revision) … WHERE stream_id IN (…) GROUP BY stream_id":
	// SQLite answers that by scanning every event of each stream, while
	// the last event of a stream is one seek at the end of its (stream_id,
	// revision) index range, whose entries carry the position. The join
	// then reads that event's row by position, for the metadata that holds
	// the hash the next event chains to. Streams without events are left
	// out of the answer, as every row read costs the writer a few cgo
	// calls; MATERIALIZED keeps SQLite from copying the subquery into the
	// join and seeking twice.
	s.stmts.lastRevisions.build = func(n int) string {
		return "WITH batch (stream, pos) AS MATERIALIZED (SELECT column1, (SELECT position FROM events WHERE stream_id = column1 ORDER BY revision DESC LIMIT 1) FROM (VALUES " +
			placeholders("(?)", n) + ")) SELECT stream, revision, metadata FROM batch JOIN events ON events.position = batch.pos"
	}
	s.stmts.insert.build = func(n int) string {
		return "INSERT INTO events (position, id, stream_id, revision, type, schema_version, company_id, category, data, metadata) VALUES " +
			placeholders("(?,?,?,?,?,?,?,?,?,?)", n)
	}
	// Preparing one size of each now makes a database whose schema does
	// not fit fail at open rather than at the first append.
	for _, c := range []*stmtCache{&s.stmts.findIDs, &s.stmts.lastRevisions, &s.stmts.insert} {
		if _, err := c.get(ctx, s.write, 1); err != nil {
			return err
		}
	}
	return nil
}

// Close stops accepting appends (they fail with ErrClosed), lets the queued
// ones commit, stops the writer, ends every subscription with ErrClosed and
// closes the database. Calling it again returns the first call's result.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.requests)
		s.closeMu.Unlock()
		<-s.writerDone
		close(s.done)
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *SQLiteStore) closeDBs() error {
	var errs []error
	// Readers first: the last connection to close checkpoints the WAL,
	// and only the writer can.
	if s.readDB != nil {
		errs = append(errs, s.readDB.Close())
	}
	for _, st := range []*sql.Stmt{s.stmts.begin, s.stmts.commit, s.stmts.rollback, s.stmts.head} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, c := range []*stmtCache{&s.stmts.findIDs, &s.stmts.lastRevisions, &s.stmts.insert} {
		errs = append(errs, c.close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if s.writeDB != nil {
		errs = append(errs, s.writeDB.Close())
	}
	return errors.Join(errs...)
}

func (s *SQLiteStore) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// readErr turns the errors of a read racing Close into ErrClosed.
func (s *SQLiteStore) readErr(op string, err error) error {
	if s.isClosed() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// appendRequest carries one Append to the writer goroutine.
type appendRequest struct {
	// ctx travels with the request (as in http.Request) so the writer can
	// skip an append whose caller already gave up, instead of committing
	// something the caller was told failed.
	ctx      context.Context
	stream   string
	expected ExpectedRevision
	rows     []eventRow
	reply    chan appendReply // buffered: the writer never blocks on it

	res AppendResult
	err error
}

type appendReply struct {
	res AppendResult
	err error
}

// eventRow is an event validated and encoded by the appending goroutine,
// so the single writer only does SQL and the hash, which needs the
// stream's head.
type eventRow struct {
	id            string
	typ           string
	schemaVersion int
	companyID     string
	data          []byte
	// metaOpen is the metadata's JSON without its closing brace, with
	// room after it for the hash, which the writer adds (hashSuffixLen).
	metaOpen []byte
	// chainHead and chainTail are the event's canonical encoding around
	// its data (see EventHash), ready for the writer to hash.
	chainHead, chainTail []byte
}

// hashSuffixLen is the length of `,"hash":"<64 hex digits>"}`, which the
// writer appends to eventRow.metaOpen: json.Marshal of Metadata would
// write the hash there too, as its last field.
const hashSuffixLen = len(`,"hash":""}`) + 2*sha256.Size

// Append implements Store. The events are validated in the caller's
// goroutine, then queued for the writer, which commits them together with
// whatever else is queued. Event ids are stored in canonical lower-case
// UUID form. If ctx ends after the request was queued,
// Append returns ctx.Err() and the events may or may not be stored;
// appending the same ids again settles it (a retry is idempotent).
func (s *SQLiteStore) Append(ctx context.Context, stream string, expected ExpectedRevision, events []EventData) (AppendResult, error) {
	rows, err := encodeEvents(stream, events)
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to stream %q: %w", stream, err)
	}
	req := &appendRequest{ctx: ctx, stream: stream, expected: expected, rows: rows, reply: make(chan appendReply, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return AppendResult{}, fmt.Errorf("append to stream %q: %w", stream, err)
	}
	select {
	case r := <-req.reply:
		return r.res, r.err
	case <-ctx.Done():
		return AppendResult{}, fmt.Errorf("append to stream %q: %w", stream, ctx.Err())
	}
}

func (s *SQLiteStore) enqueue(ctx context.Context, req *appendRequest) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.requests <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func encodeEvents(stream string, events []EventData) ([]eventRow, error) {
	if stream == "" {
		return nil, fmt.Errorf("%w: empty stream id", ErrInvalidEvent)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrInvalidEvent)
	}
	rows := make([]eventRow, len(events))
	seen := make(map[string]bool, len(events))
	for i, ev := range events {
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d: id %q is not a UUID", ErrInvalidEvent, i, ev.ID)
		}
		// Stored in canonical form so that "A1…" and "a1…" are one id.
		canon := id.String()
		if seen[canon] {
			return nil, fmt.Errorf("%w: event %d: id %s appears twice in one append", ErrDuplicateEvent, i, canon)
		}
		seen[canon] = true
		if ev.Type == "" {
			return nil, fmt.Errorf("%w: event %d (%s): empty type", ErrInvalidEvent, i, canon)
		}
		// The read store's check, eight times as fast as encoding/json's
		// and held to its answers (readstore's
		// FuzzValidMatchesStandardLibrary).
		if !segjson.Valid(ev.Data) {
			return nil, fmt.Errorf("%w: event %d (%s): data is not valid JSON", ErrInvalidEvent, i, canon)
		}
		// Refused here, an oversized event fails only its own append, not
		// the whole group-commit batch it would have joined.
		if len(ev.Data) > MaxEventSize {
			return nil, fmt.Errorf("%w: event %d (%s): data is %d bytes, more than %d", ErrInvalidEvent, i, canon, len(ev.Data), MaxEventSize)
		}
		version := ev.SchemaVersion
		if version == 0 {
			version = 1
		}
		if version < 1 {
			return nil, fmt.Errorf("%w: event %d (%s): schema version %d < 1", ErrInvalidEvent, i, canon, version)
		}
		md := ev.Metadata
		md.Hash = "" // the store's to set
		meta, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d (%s): metadata: %v", ErrInvalidEvent, i, canon, err)
		}
		metaOpen := make([]byte, len(meta)-1, len(meta)-1+hashSuffixLen)
		copy(metaOpen, meta)
		rows[i] = eventRow{
			id:            canon,
			typ:           ev.Type,
			schemaVersion: version,
			companyID:     ev.Metadata.CompanyID,
			// Copied because the writer may still read it after a cancelled
			// Append has returned and the caller reused the buffer.
			data:      bytes.Clone(ev.Data),
			metaOpen:  metaOpen,
			chainHead: canonicalHead(canon, ev.Type, version, len(ev.Data)),
			chainTail: canonicalTail(md),
		}
	}
	return rows, nil
}

// runWriter is the only goroutine that writes. It takes one request, then
// whatever else is already queued (without waiting, so a lone append pays
// no latency), and commits them in one transaction. It does not yield
// before draining either: a runtime.Gosched there let the callers just
// answered queue again and made batches a fifth larger, but the command
// pipeline was no faster at 64 callers and slower at 16.
func (s *SQLiteStore) runWriter() {
	defer close(s.writerDone)
	var batch []*appendRequest
	for req := range s.requests {
		batch = append(batch[:0], req)
		n := len(req.rows)
	drain:
		for n < s.cfg.MaxBatch {
			select {
			case r, ok := <-s.requests:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += len(r.rows)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
		clear(batch) // drop references to the events until the next batch
	}
}

// commitBatch decides every request of batch and inserts the events of
// those accepted in one transaction, commits once and replies to every
// request. Requests are decided in memory, in batch order, against one
// look-up of the ids and streams the batch touches, advanced by each
// request accepted, so they behave exactly as sequential appends would;
// and since a refused request (wrong revision, duplicate id) is refused
// before anything is written, it needs no savepoint to be undone.
func (s *SQLiteStore) commitBatch(batch []*appendRequest) {
	// The writer's statements run without a deadline: one caller's context
	// must not interrupt a transaction shared with others, and a context
	// without Done lets the driver skip its interrupt watcher.
	ctx := context.Background()
	start := time.Now()
	defer func() {
		for _, req := range batch {
			req.reply <- appendReply{res: req.res, err: req.err}
		}
	}()
	defer s.batch.reset(s.cfg.MaxBatch)

	if _, err := s.stmts.begin.ExecContext(ctx); err != nil {
		s.failBatch(batch, fmt.Errorf("begin: %w", err))
		return
	}
	last, err := s.writeBatch(ctx, batch)
	if err != nil {
		s.abort(ctx, batch, err)
		return
	}
	if _, err := s.stmts.commit.ExecContext(ctx); err != nil {
		s.abort(ctx, batch, fmt.Errorf("commit: %w", err))
		return
	}
	s.commits.Add(1)
	written := 0
	if last != 0 {
		written = int(last - s.written)
		from := s.written
		s.written = last
		cats, types := summarize(batch)
		s.published(from, last, cats, types)
	}
	if s.cfg.Commits != nil {
		s.cfg.Commits.Committed(len(batch), written, time.Since(start))
	}
}

// writeBatch gives every request of batch its result or its own error and
// inserts the events accepted. It returns the last position written, or 0
// if it wrote nothing. An error is no single request's fault (I/O, full
// disk) and fails the whole batch.
func (s *SQLiteStore) writeBatch(ctx context.Context, batch []*appendRequest) (uint64, error) {
	if !s.writtenKnown {
		// Read inside the transaction, whose write lock keeps it exact.
		var head sql.NullInt64
		if err := s.stmts.head.QueryRowContext(ctx).Scan(&head); err != nil {
			return 0, fmt.Errorf("read head: %w", err)
		}
		s.written, s.writtenKnown = uint64(head.Int64), true
	}
	st := &s.batch
	if err := s.load(ctx, batch); err != nil {
		return 0, err
	}
	head := s.written
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.err = fmt.Errorf("append to stream %q: %w", req.stream, err)
			continue
		}
		res, retry, err := st.decide(req)
		switch {
		case err != nil:
			req.err = err
		case retry:
			req.res = res
		default:
			req.res = st.accept(req, head)
			head = req.res.Position.Commit
		}
	}
	if err := s.insert(ctx, st.args); err != nil {
		return 0, err
	}
	if head == s.written {
		return 0, nil
	}
	return head, nil
}

// load reads what the database holds for the ids and the streams of batch
// into s.batch: two statements for the whole batch rather than two for
// each request, since every round trip through database/sql and cgo costs
// the single writer about as much as the look-up itself.
func (s *SQLiteStore) load(ctx context.Context, batch []*appendRequest) error {
	st := &s.batch
	keys := st.keys[:0]
	for _, req := range batch {
		for _, row := range req.rows {
			keys = append(keys, row.id)
		}
	}
	err := s.lookUp(ctx, &s.stmts.findIDs, keys, func(rows *sql.Rows) error {
		var id string
		var ev storedEvent
		var rev, pos int64
		if err := rows.Scan(&id, &ev.stream, &rev, &pos); err != nil {
			return err
		}
		ev.revision, ev.position = uint64(rev), uint64(pos)
		st.events[id] = ev
		return nil
	})
	if err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}

	keys = keys[:0]
	for _, req := range batch {
		if _, ok := st.streams[req.stream]; !ok {
			st.streams[req.stream] = streamState{} // no events, unless the look-up finds some
			keys = append(keys, req.stream)
		}
	}
	err = s.lookUp(ctx, &s.stmts.lastRevisions, keys, func(rows *sql.Rows) error {
		var stream string
		var last int64
		var meta sql.RawBytes // only read here: not copied
		if err := rows.Scan(&stream, &last, &meta); err != nil {
			return err
		}
		st.streams[stream] = streamState{last: uint64(last), exists: true, hash: storedHash(meta)}
		return nil
	})
	st.keys = keys
	if err != nil {
		return fmt.Errorf("look up stream revisions: %w", err)
	}
	return nil
}

// lookUp runs the statement of c over values, at most lookupChunk at a
// time, and calls scan for every row of the answers. Each chunk is padded
// to a power of two by repeating its last value, so that a handful of
// prepared sizes serve every batch; a repeated value changes no answer
// (an id matches its row once, a stream's revision is just told twice).
func (s *SQLiteStore) lookUp(ctx context.Context, c *stmtCache, values []string, scan func(*sql.Rows) error) error {
	for len(values) > 0 {
		chunk := values[:min(len(values), lookupChunk)]
		values = values[len(chunk):]
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := s.batch.lookupArgs[:0]
		for _, v := range chunk {
			args = append(args, v)
		}
		for len(args) < n {
			args = append(args, chunk[len(chunk)-1])
		}
		s.batch.lookupArgs = args
		stmt, err := c.get(ctx, s.write, n)
		if err != nil {
			return err
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// insert writes the rows whose values accept queued, up to insertChunk
// rows per statement.
func (s *SQLiteStore) insert(ctx context.Context, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/insertColumns, insertChunk)
		stmt, err := s.stmts.insert.get(ctx, s.write, n)
		if err != nil {
			return err
		}
		// A constraint failing here (a position or an id taken) means the
		// database changed behind the writer's back, and is no more one
		// request's fault than a full disk. The one failure a request can
		// cause alone, a value over SQLite's 1e9-byte limit, fails the
		// batch too; the others' callers retry.
		if _, err := stmt.ExecContext(ctx, args[:n*insertColumns]...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		args = args[n*insertColumns:]
	}
	return nil
}

// abort rolls the whole transaction back after a failure that is not one
// request's fault (I/O, full disk) and fails every request of the batch.
func (s *SQLiteStore) abort(ctx context.Context, batch []*appendRequest, err error) {
	// ROLLBACK may fail because SQLite already rolled back on its own
	// (SQLITE_FULL, SQLITE_IOERR); either way no transaction is left open.
	_, _ = s.stmts.rollback.ExecContext(ctx)
	s.writtenKnown = false
	s.failBatch(batch, err)
}

// failBatch gives every request err, replacing even a request's own
// ErrWrongExpectedRevision or ErrDuplicateEvent: that verdict may have been
// caused by an earlier request of the batch that is now rolled back, and
// the caller should retry rather than reload.
func (s *SQLiteStore) failBatch(batch []*appendRequest, err error) {
	var serr sqlite3.Error
	if errors.As(err, &serr) && serr.Code == sqlite3.ErrFull {
		err = fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	for _, req := range batch {
		req.res = AppendResult{}
		req.err = fmt.Errorf("append to stream %q: %w", req.stream, err)
	}
}

// commitSummary names the stream categories and the event types one
// commit wrote, the positions after from up to to.
type commitSummary struct {
	from, to    uint64
	cats, types []string
}

// recentCommits is how many commits' summaries are kept.
const recentCommits = 512

// summarize lists the categories and the event types a committed batch
// wrote.
func summarize(batch []*appendRequest) (cats, types []string) {
	for _, req := range batch {
		if req.err != nil || len(req.rows) == 0 {
			continue
		}
		if c := Category(req.stream); !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
		for _, row := range req.rows {
			if !slices.Contains(types, row.typ) {
				types = append(types, row.typ)
			}
		}
	}
	return cats, types
}

// published announces a commit of the positions after from up to head:
// it records the new head and the commit's categories and types, and
// wakes every subscription waiting for one.
func (s *SQLiteStore) published(from, head uint64, cats, types []string) {
	s.notifyMu.Lock()
	s.head = head
	if len(s.recent) == recentCommits {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	s.recent = append(s.recent, commitSummary{from: from, to: head, cats: cats, types: types})
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}

// untouched reports whether the commits after cursor up to head are all
// known and none of them wrote both a category and a type f asks for:
// then a subscription with filter f has nothing to read there. A filter
// with neither categories nor types asks for everything. A commit is
// read when one of its events has a wanted category and one has a
// wanted type, even if they are not the same event: reading too much is
// harmless, skipping an event is not.
func (s *SQLiteStore) untouched(cursor, head uint64, f Filter) bool {
	if (len(f.Categories) == 0 && len(f.Types) == 0) || cursor >= head {
		return false
	}
	wants := func(asked, wrote []string) bool {
		if len(asked) == 0 {
			return true
		}
		for _, w := range wrote {
			if slices.Contains(asked, w) {
				return true
			}
		}
		return false
	}
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	covered := false
	for _, c := range s.recent {
		if c.to <= cursor || c.from >= head {
			continue
		}
		if c.from <= cursor {
			covered = true
		}
		if wants(f.Categories, c.cats) && wants(f.Types, c.types) {
			return false
		}
	}
	return covered
}

// watch returns the channel the next commit will close and the head as of
// now. Taken before a read, it closes the lost-wakeup window: a commit that
// lands after the read either is seen by it or closes the channel.
func (s *SQLiteStore) watch() (<-chan struct{}, uint64) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.notify, s.head
}

// batchState is the writer's picture of the ids and streams one batch
// touches: what the database held when the batch began, advanced by every
// request accepted so far. It is reused from batch to batch.
type batchState struct {
	events  map[string]storedEvent // by id: stored, or accepted earlier in the batch
	streams map[string]streamState // every stream of the batch
	// args holds the values of the rows to insert, insertColumns per row
	// in the insert statement's column order.
	args       []any
	keys       []string // look-up scratch
	lookupArgs []any    // look-up scratch
	hasher     chainHasher
}

// insertColumns is how many values one row of the insert statement takes.
const insertColumns = 10

type storedEvent struct {
	stream             string
	revision, position uint64
}

type streamState struct {
	last   uint64 // revision of the stream's last event, when exists
	exists bool
	// hash is the last event's hash, which the next event chains to: zero
	// (genesis) for a new stream, and for a stream whose last event was
	// stored before hashing (its chain starts now).
	hash [sha256.Size]byte
}

// storedHash returns the hash in an event's stored metadata, or zero
// (genesis) if it has none. This store writes the hash as the metadata's
// last field, so it is read from the end without decoding the rest.
func storedHash(meta []byte) [sha256.Size]byte {
	const key = `,"hash":"`
	if n := len(meta) - hashSuffixLen; n > 0 && string(meta[n:n+len(key)]) == key && string(meta[len(meta)-2:]) == `"}` {
		if h, ok := decodeHash(string(meta[n+len(key) : len(meta)-2])); ok {
			return h
		}
	}
	var m Metadata
	if decodeMetadata(meta, &m) != nil {
		return [sha256.Size]byte{}
	}
	h, _ := decodeHash(m.Hash)
	return h
}

func newBatchState() batchState {
	return batchState{events: map[string]storedEvent{}, streams: map[string]streamState{}}
}

// reset empties st for the next batch and drops its references to event
// data, which may be large.
func (st *batchState) reset(maxBatch int) {
	// Clearing a map costs as much as the largest it has been, so the maps
	// of an unusually large batch (one huge append) are let go instead.
	if len(st.events) > 4*maxBatch {
		*st = newBatchState()
		return
	}
	clear(st.events)
	clear(st.streams)
	clear(st.args)
	st.args = st.args[:0]
	clear(st.keys[:cap(st.keys)])
	clear(st.lookupArgs[:cap(st.lookupArgs)])
}

// decide judges req against the store as the batch has left it. A retry of
// an append already stored, or accepted earlier in the batch, returns that
// append's result and retry true; otherwise a nil error means req may be
// appended.
func (st *batchState) decide(req *appendRequest) (res AppendResult, retry bool, err error) {
	// The retry check comes before the revision check, as in EventStoreDB:
	// a retry arrives after its own first attempt moved the stream on.
	if res, retry, err := st.checkRetry(req); err != nil || retry {
		return res, retry, err
	}
	stream := st.streams[req.stream]
	if !req.expected.Matches(stream.last, stream.exists) {
		actual := "no stream"
		if stream.exists {
			actual = fmt.Sprintf("revision %d", stream.last)
		}
		return AppendResult{}, false, fmt.Errorf("append to stream %q: expected %s, stream is at %s: %w",
			req.stream, req.expected, actual, ErrWrongExpectedRevision)
	}
	// checkRetry found the first id free; any later one taken is a reuse.
	for _, row := range req.rows[1:] {
		if _, taken := st.events[row.id]; taken {
			return AppendResult{}, false, fmt.Errorf("append to stream %q: event %s is already stored, and not as a retry of this append: %w",
				req.stream, row.id, ErrDuplicateEvent)
		}
	}
	return AppendResult{}, false, nil
}

// checkRetry reports whether req repeats an append already stored: its
// first id exists, and all its ids sit in req.stream at consecutive
// revisions in the same order. An id stored any other way is
// ErrDuplicateEvent.
func (st *batchState) checkRetry(req *appendRequest) (AppendResult, bool, error) {
	var res AppendResult
	for i, row := range req.rows {
		ev, found := st.events[row.id]
		if i == 0 && !found {
			return AppendResult{}, false, nil // not a retry; a later id reused is caught by decide
		}
		if !found {
			return AppendResult{}, false, fmt.Errorf("append to stream %q: event %s is already stored but event %s is not, so this is not a retry: %w",
				req.stream, req.rows[0].id, row.id, ErrDuplicateEvent)
		}
		if ev.stream != req.stream || (i > 0 && ev.revision != res.NextRevision+1) {
			return AppendResult{}, false, fmt.Errorf("append to stream %q: event %s is already stored in stream %q at revision %d: %w",
				req.stream, row.id, ev.stream, ev.revision, ErrDuplicateEvent)
		}
		res = AppendResult{NextRevision: ev.revision, Position: seq(ev.position)}
	}
	return res, true, nil
}

// accept numbers req's events after head, records them so that the
// batch's later requests see them, and queues them for insertion. It
// returns req's result.
func (st *batchState) accept(req *appendRequest, head uint64) AppendResult {
	stream := st.streams[req.stream]
	var rev uint64 // a new stream starts at revision 0
	if stream.exists {
		rev = stream.last + 1
	}
	category := Category(req.stream)
	prev := stream.hash
	var res AppendResult
	for _, row := range req.rows {
		head++
		res = AppendResult{NextRevision: rev, Position: seq(head)}
		st.events[row.id] = storedEvent{stream: req.stream, revision: res.NextRevision, position: head}
		// About a microsecond for an event of a few hundred bytes. The
		// suffix fits in metaOpen's spare capacity, so it is written in
		// place.
		prev = st.hasher.sum(prev, req.stream, rev, row.chainHead, row.data, row.chainTail)
		meta := append(row.metaOpen, `,"hash":"`...)
		meta = hex.AppendEncode(meta, prev[:])
		meta = append(meta, `"}`...)
		st.args = append(st.args, int64(head), row.id, req.stream, int64(res.NextRevision),
			row.typ, row.schemaVersion, row.companyID, category, row.data, meta)
		rev++
	}
	st.streams[req.stream] = streamState{last: res.NextRevision, exists: true, hash: prev}
	return res
}

const selectEvents = `SELECT position, id, stream_id, revision, type, schema_version, data, metadata FROM events`

// ReadStream implements Store.
func (s *SQLiteStore) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("read stream %q: %w", stream, ErrClosed)
	}
	if from > math.MaxInt64 {
		return nil, nil
	}
	return s.query(ctx, fmt.Sprintf("read stream %q", stream), false, 0,
		selectEvents+` WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
		stream, int64(from), sqlLimit(limit))
}

// ReadStreamBackward implements Store.
func (s *SQLiteStore) ReadStreamBackward(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("read stream %q backward: %w", stream, ErrClosed)
	}
	return s.query(ctx, fmt.Sprintf("read stream %q backward", stream), false, 0,
		selectEvents+` WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
		stream, clampInt64(from), sqlLimit(limit))
}

// readAll returns up to limit events with position in (after, upTo] that
// pass filter, in position order. The company filter uses its own indexed
// column; category and type filters are applied in SQL too, so a page is
// limit matching events, not limit scanned ones.
func (s *SQLiteStore) readAll(ctx context.Context, after, upTo uint64, limit int, filter Filter) ([]RecordedEvent, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("read all: %w", ErrClosed)
	}
	if after >= upTo || after >= math.MaxInt64 {
		return nil, nil
	}
	var q strings.Builder
	q.WriteString(selectEvents + ` WHERE position > ? AND position <= ?`)
	args := []any{int64(after), clampInt64(upTo)}
	if filter.CompanyID != "" {
		q.WriteString(` AND company_id = ?`)
		args = append(args, filter.CompanyID)
	}
	args = appendIn(&q, "category", filter.Categories, args)
	args = appendIn(&q, "type", filter.Types, args)
	q.WriteString(` ORDER BY position LIMIT ?`)
	args = append(args, limit)
	// Positions are dense, so the range bounds the page: sizing it up
	// front saves growing it (0.4 s of CPU in a rebuild of 1,000,000
	// events) without reserving a full page for a live tail's few events.
	hint := uint64(limit)
	if limit <= 0 || upTo-after < hint {
		hint = upTo - after
	}
	return s.query(ctx, "read all", true, int(min(hint, 1<<16)), q.String(), args...)
}

func appendIn(q *strings.Builder, column string, values []string, args []any) []any {
	if len(values) == 0 {
		return args
	}
	q.WriteString(" AND " + column + " IN (")
	for i, v := range values {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, v)
	}
	q.WriteString(")")
	return args
}

// Head implements Store.
func (s *SQLiteStore) Head(ctx context.Context) (Position, error) {
	if s.isClosed() {
		return Start, fmt.Errorf("head: %w", ErrClosed)
	}
	var head sql.NullInt64
	if err := s.readDB.QueryRowContext(ctx, "SELECT max(position) FROM events").Scan(&head); err != nil {
		return Start, s.readErr("head", err)
	}
	return seq(uint64(head.Int64)), nil
}

// seq is the Position of the SQLite store's event number n.
func seq(n uint64) Position { return Position{Commit: n, Prepare: n} }

// query runs a select of events; withPosition says whether to report the
// events' global positions (stream reads do not, as the contract says).
// sizeHint is the most events expected, 0 if unknown.
//
// It reads the rows from the driver's connection itself, not through
// database/sql's Rows, whose Scan converts every column and copies every
// event's data a second time: BenchmarkSubscriptionRead went from 23 to
// 19 allocations and from 1.85 to 1.62 KB an event, and from
// 253,000–306,000 to 279,000–358,000 events/s (three alternating runs).
func (s *SQLiteStore) query(ctx context.Context, op string, withPosition bool, sizeHint int, query string, args ...any) ([]RecordedEvent, error) {
	conn, err := s.readDB.Conn(ctx)
	if err != nil {
		return nil, s.readErr(op, err)
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a) // as database/sql would
		if err != nil {
			return nil, fmt.Errorf("%s: argument %d: %w", op, i+1, err)
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	var events []RecordedEvent
	if sizeHint > 0 {
		events = make([]RecordedEvent, 0, sizeHint)
	}
	err = conn.Raw(func(dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, 8)
		for {
			switch err := rows.Next(row); {
			case errors.Is(err, io.EOF):
				return nil
			case err != nil:
				return err
			}
			// Made in place: an event made apart and then appended
			// escaped to the heap (its metadata's decoding takes its
			// address), 240 bytes an event for nothing.
			events = append(events, RecordedEvent{})
			ev := &events[len(events)-1]
			pos, err := eventFromRow(row, ev)
			if err != nil {
				return fmt.Errorf("event at position %d: %w", pos, err)
			}
			if withPosition {
				ev.Position = seq(uint64(pos))
			}
		}
	})
	if err != nil {
		return nil, s.readErr(op, err)
	}
	return events, nil
}

// eventFromRow fills ev, which must be zero, from a row of selectEvents
// as the driver returns it, and returns its position.
func eventFromRow(row []driver.Value, ev *RecordedEvent) (int64, error) {
	pos, okPos := row[0].(int64)
	rev, okRev := row[3].(int64)
	version, okVersion := row[5].(int64)
	var okID, okStream, okType bool
	ev.ID, okID = row[1].(string)
	ev.StreamID, okStream = row[2].(string)
	ev.Type, okType = row[4].(string)
	if !okPos || !okRev || !okVersion || !okID || !okStream || !okType {
		return pos, fmt.Errorf("unexpected column types %T, %T, %T, %T, %T, %T", row[0], row[1], row[2], row[3], row[4], row[5])
	}
	ev.Revision, ev.SchemaVersion = uint64(rev), int(version)
	switch d := row[6].(type) {
	case []byte:
		ev.Data = d
	case string:
		ev.Data = []byte(d)
	case nil:
	default:
		return pos, fmt.Errorf("data: unexpected type %T", d)
	}
	var meta []byte
	switch m := row[7].(type) {
	case []byte:
		meta = m
	case string:
		meta = []byte(m)
	case nil:
	default:
		return pos, fmt.Errorf("metadata: unexpected type %T", m)
	}
	if err := decodeOwnedMetadata(meta, &ev.Metadata); err != nil {
		return pos, fmt.Errorf("decode metadata: %w", err)
	}
	return pos, nil
}

// decodeMetadata decodes an event's stored metadata into m, which must be
// zero. The metadata this store writes (json.Marshal of Metadata: string
// values without escapes, no spaces) is read by fastMetadata without
// reflection; anything else goes through json.Unmarshal, which says the
// same. json.Unmarshal took 47 % of reading the log in a rebuild (2.6 s
// of CPU for 1,000,000 events), fastMetadata 0.5 s: a subscription reads
// the whole log at 345,000 events/s instead of 193,000.
func decodeMetadata(raw []byte, m *Metadata) error {
	return decodeMetadataFrom(raw, string(raw), m)
}

// decodeOwnedMetadata is decodeMetadata for a raw that nothing else holds
// or changes: a column as the driver returns it, a fresh copy for each
// row (eventFromRow keeps the data column's the same way). The values
// are cut from raw itself rather than from a copy of it: one allocation
// and 300 bytes an event less when the log is read.
func decodeOwnedMetadata(raw []byte, m *Metadata) error {
	return decodeMetadataFrom(raw, unsafe.String(unsafe.SliceData(raw), len(raw)), m)
}

// decodeMetadataFrom decodes raw, whose bytes s holds, into m.
func decodeMetadataFrom(raw []byte, s string, m *Metadata) error {
	if fastMetadata(raw, s, m) {
		return nil
	}
	*m = Metadata{}
	return json.Unmarshal(raw, m)
}

// fastMetadata decodes raw into m if raw is a JSON object of Metadata's
// keys with plain string values and nothing between the tokens, and
// reports whether it did; m may be partly set when it did not. s holds
// raw's bytes, and the values are cut from it: one allocation for the
// whole object, at most, rather than one a field (five fewer an event for
// the metadata this store writes).
func fastMetadata(raw []byte, s string, m *Metadata) bool {
	if len(raw) < 2 || raw[0] != '{' {
		return false
	}
	if raw[1] == '}' {
		return len(raw) == 2
	}
	i := 1
	for {
		key, next, ok := plainString(raw, s, i)
		if !ok || next >= len(s) || s[next] != ':' {
			return false
		}
		val, next, ok := plainString(raw, s, next+1)
		if !ok {
			return false
		}
		switch key {
		case "company_id":
			m.CompanyID = val
		case "actor_id":
			m.ActorID = val
		case "actor_role":
			m.ActorRole = val
		case "correlation_id":
			m.CorrelationID = val
		case "causation_id":
			m.CausationID = val
		case "command_id":
			m.CommandID = val
		case "request_id":
			m.RequestID = val
		case "hash":
			m.Hash = val
		case "recorded_at":
			// The strict RFC 3339 parse that time.Time's UnmarshalJSON
			// does, on raw's bytes of the value.
			if m.RecordedAt.UnmarshalText(raw[next-1-len(val):next-1]) != nil {
				return false
			}
		default:
			return false
		}
		if next >= len(s) {
			return false
		}
		switch s[next] {
		case '}':
			return next+1 == len(s)
		case ',':
			i = next + 1
		default:
			return false
		}
	}
}

// plainString returns the body of the JSON string starting at raw[i]
// (s holds raw's bytes) and the index past it, if it is valid UTF-8
// without escapes or control characters (a body json.Unmarshal would
// copy as it is). It looks at eight bytes at a time while they are
// plain ASCII: byte by byte, it took 3 % of a rebuild's CPU.
func plainString(raw []byte, s string, i int) (body string, next int, ok bool) {
	if i >= len(raw) || raw[i] != '"' {
		return "", 0, false
	}
	ascii := true
	j := i + 1
	for ; j+8 <= len(raw); j += 8 {
		if specialBytes(binary.LittleEndian.Uint64(raw[j:])) != 0 {
			break
		}
	}
	for ; j < len(raw); j++ {
		switch c := raw[j]; {
		case c == '"':
			body = s[i+1 : j]
			return body, j + 1, ascii || utf8.ValidString(body)
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", 0, false
}

// specialBytes is non-zero when one of the eight bytes of w (bytes
// in memory order) is a quote, a backslash, a control character or
// not ASCII: the bytes plainString must look at one by one. Bytes past
// the first such byte may be marked wrongly (a borrow); plainString
// only asks whether there is one.
func specialBytes(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := w ^ (ones * '"')
	backslash := w ^ (ones * '\\')
	return (w | (w - ones*0x20) | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}

// sqlLimit maps "no limit" to SQLite's -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// clampInt64 keeps End and other huge revisions inside SQLite's integers;
// no stored revision comes near the limit.
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// Subscribe implements Store. The subscription reads the database page by
// page and, once caught up, sleeps until the writer announces a commit, so
// catch-up and live delivery are one code path and cannot leave a gap.
// When ctx ends, Next returns ctx's error.
func (s *SQLiteStore) Subscribe(ctx context.Context, from Position, filter Filter) (Subscription, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("subscribe: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if from.Commit != from.Prepare {
		return nil, fmt.Errorf("subscribe: position %s was not made by this store", from)
	}
	_, head := s.watch()
	sub := &sqliteSubscription{store: s, cursor: from.Commit, reported: from.Commit, target: head,
		filter: filter, ended: make(chan struct{})}
	sub.stop = context.AfterFunc(ctx, func() { sub.end(ctx.Err()) })
	return sub, nil
}

type sqliteSubscription struct {
	store  *SQLiteStore
	filter Filter
	// cursor is the position up to which the store has been searched. It
	// can run ahead of the last delivered event when a filter skips events,
	// so a sparse filter does not rescan the same rows after every commit.
	cursor uint64
	// reported is the last checkpoint Next returned.
	reported uint64
	// target is the head when the subscription started: once the cursor
	// reaches it, the subscription has caught up.
	target   uint64
	caughtUp bool
	// toldCaughtUp is whether a batch has said so yet.
	toldCaughtUp bool
	stop         func() bool

	endOnce sync.Once
	ended   chan struct{}
	cause   error // why the subscription ended; written once before ended closes
}

func (sub *sqliteSubscription) end(cause error) {
	sub.endOnce.Do(func() {
		sub.cause = cause
		close(sub.ended)
	})
}

// endErr returns why the subscription can no longer deliver, or nil.
func (sub *sqliteSubscription) endErr() error {
	select {
	case <-sub.ended:
		return fmt.Errorf("subscription: %w", sub.cause)
	case <-sub.store.done:
		return fmt.Errorf("subscription: %w", ErrClosed)
	default:
		return nil
	}
}

// Next implements Subscription. It reads only up to the head published
// before the read, so the cursor it reports as a checkpoint never passes
// an event it has not seen. It returns when it has events, when the
// checkpoint moved (a filter skipped events), or when it first catches up.
func (sub *sqliteSubscription) Next(ctx context.Context, max int) (Batch, error) {
	if max <= 0 {
		max = sub.store.subscriptionPage
	}
	for {
		if err := sub.endErr(); err != nil {
			return Batch{}, err
		}
		if err := ctx.Err(); err != nil {
			return Batch{}, err
		}
		wake, head := sub.store.watch()
		var events []RecordedEvent
		var err error
		if !sub.store.untouched(sub.cursor, head, sub.filter) {
			events, err = sub.store.readAll(ctx, sub.cursor, head, max, sub.filter)
		}
		if err != nil {
			if endErr := sub.endErr(); endErr != nil {
				return Batch{}, endErr
			}
			return Batch{}, fmt.Errorf("subscription: %w", err)
		}
		if len(events) == max {
			sub.cursor = events[len(events)-1].Position.Commit
		} else if head > sub.cursor {
			// A short page saw everything committed up to head.
			sub.cursor = head
		}
		if sub.cursor >= sub.target {
			sub.caughtUp = true
		}
		if len(events) > 0 || sub.cursor > sub.reported || sub.caughtUp != sub.toldCaughtUp {
			b := Batch{Events: events, CaughtUp: sub.caughtUp}
			if sub.cursor > sub.reported || len(events) > 0 {
				b.Checkpoint = seq(sub.cursor)
			}
			sub.reported, sub.toldCaughtUp = sub.cursor, sub.caughtUp
			return b, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-sub.ended:
		case <-sub.store.done:
		}
	}
}

// Close implements Subscription. It is safe to call from another goroutine
// while Next blocks, and more than once.
func (sub *sqliteSubscription) Close() error {
	sub.stop()
	sub.end(ErrClosed)
	return nil
}
