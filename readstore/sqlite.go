package readstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
	segjson "github.com/segmentio/encoding/json"
)

// SQLiteConfig configures OpenSQLite. Zero values mean the defaults.
type SQLiteConfig struct {
	// Path is the database file, created if missing. It must be a real
	// file: the writer and the read pool are separate connections, and
	// each ":memory:" connection would be a database of its own.
	Path string
	// ReadConns is the size of the read pool; default max(4, GOMAXPROCS).
	ReadConns int
	// CacheKiB is each connection's page cache; default 32768 (32 MiB).
	// The list queries walk index pages, so a warm cache is what keeps
	// them in the low milliseconds.
	CacheKiB int
	// BusyTimeout is how long a connection waits for a lock; default 5s.
	BusyTimeout time.Duration
}

// Validate reports every problem with c, joined.
func (c SQLiteConfig) Validate() error {
	var errs []error
	switch {
	case c.Path == "":
		errs = append(errs, errors.New("readstore: sqlite Path is required"))
	case c.Path == ":memory:" || strings.Contains(c.Path, "mode=memory"):
		errs = append(errs, errors.New("readstore: sqlite Path must be a file, not an in-memory database"))
	case strings.ContainsRune(c.Path, '?'):
		// The driver reads everything after '?' as connection options.
		errs = append(errs, fmt.Errorf("readstore: sqlite Path %q must not contain '?'", c.Path))
	}
	if c.ReadConns < 0 {
		errs = append(errs, fmt.Errorf("readstore: ReadConns %d is negative", c.ReadConns))
	}
	if c.CacheKiB < 0 {
		errs = append(errs, fmt.Errorf("readstore: CacheKiB %d is negative", c.CacheKiB))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("readstore: BusyTimeout %s is negative", c.BusyTimeout))
	}
	return errors.Join(errs...)
}

func (c SQLiteConfig) withDefaults() SQLiteConfig {
	if c.ReadConns == 0 {
		c.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.CacheKiB == 0 {
		c.CacheKiB = 32 << 10
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	return c
}

// SQLiteStore is the embedded Store: one SQLite file, one table per
// collection, one column per declared field.
//
// All writes (Apply, Ensure, SwitchGeneration, Drop) go through one
// connection, one at a time: SQLite allows a single writer anyway, and
// owning the connection lets the upsert statements stay prepared across
// batches. Reads use a pool of query-only connections, so in WAL mode
// they run while a batch is being written and see every committed batch
// (read-your-writes).
//
// A collection is usable only after Ensure in this process, because the
// declaration, not the table, says which fields may be queried and how
// their values are typed.
//
// Generation 1 of a collection is the table rs_<name>, generation N the
// table rs_<name>__gN; the table rs__generations holds the live
// generation of every collection that has been switched (the others
// serve generation 1). The store keeps that, and which table each name
// a caller may use stands for, in memory, so resolving a name is one map
// lookup.
//
// Number fields are stored as 64-bit floats (integers beyond 2^53 lose
// precision). Text search folds ASCII case only (SQLite's LIKE).
type SQLiteStore struct {
	wdb      *sql.DB
	wconn    *sql.Conn // the one write connection, held for the store's life
	rdb      *sql.DB
	ckStmt   *sql.Stmt // on wconn
	liveStmt *sql.Stmt // on wconn
	// txStmts drive inTx's transactions once prepared (see txSQL).
	txStmts []*sql.Stmt

	// wmu serializes everything that uses wconn or changes the schema.
	// colls, live and names change only while wmu and mu are both held,
	// so a holder of either may read them.
	wmu sync.Mutex
	mu  sync.RWMutex
	// colls holds the Ensure'd collections by storage name (the table
	// name without "rs_").
	colls map[string]*sqliteCollection
	// live holds the live generation of every plain name whose live
	// generation is not 1.
	live map[string]int
	// names maps every name a caller may use (plain names of ensured live
	// generations, and Generation names) to its collection; it is rebuilt
	// from colls and live after each change.
	names  map[string]*sqliteCollection
	closed atomic.Bool

	// The checkpointer's connection, and its stop and done signals.
	cpdb            *sql.DB
	ckMu            sync.Mutex // one checkpoint at a time
	walPath         string
	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
	// checkpointNow wakes the checkpointer before its next tick.
	checkpointNow chan struct{}
	// finishing counts the bulk loads building their indexes, during
	// which the writer lets the WAL grow to bulkWALLimit (see BeginBulk).
	finishing atomic.Int32
	// cacheKiB is the writer's page cache (SQLiteConfig.CacheKiB), which
	// a bulk finish's steps shrink to bulkCacheKiB and give back.
	cacheKiB int
}

// sqliteCollection is an Ensure'd collection. It is replaced, never
// changed, when Ensure runs again, so a query may keep using the one it
// looked up.
type sqliteCollection struct {
	def     Collection
	base    string // plain name
	gen     int    // generation, 1 or more
	table   string
	fields  []sqliteField
	pos     map[string]int // field name → index in fields
	upsert  *sql.Stmt      // on wconn; used only under wmu
	derived derived
	// upserts holds the statements writing several documents at once,
	// by row count, prepared on wconn the first time a batch needs one;
	// used only under wmu.
	upserts map[int]*sql.Stmt

	// readers is read-locked by every Get and Query on the table, from
	// the moment the collection is looked up, so that Drop can wait until
	// the last reader that found it is done before the table goes.
	readers sync.RWMutex
}

// sqliteField is a declared field and its column. Columns are named
// "f_" + field so that no field name can clash with the fixed columns
// (a field may be called "deleted") or with an SQL keyword ("order").
type sqliteField struct {
	name   string
	column string
	typ    FieldType
	values []string // an Enum's values, in order
}

// The store's own tables cannot clash with a collection table: collection
// names start with a letter, so theirs never start with "rs__".
const (
	checkpointTable = "rs__checkpoints"
	generationTable = "rs__generations"
	metaTable       = "rs__meta"
)

// schemaVersion is the layout of the store's tables, kept in metaTable.
// Version 1, which had no metaTable, kept versions and checkpoints as
// INTEGER; version 2 keeps them as TEXT and adds generations.
const schemaVersion = 3

// OpenSQLite opens (creating if needed) the read store at cfg.Path.
//
// The file runs in WAL mode with synchronous=NORMAL: a power loss may
// drop the last committed batches, but SQLite writes each batch together
// with its checkpoint in one transaction (more than the Store contract
// asks), so the data and the checkpoint roll back together and the
// runner simply projects that tail again from the event log.
//
// A file written by an older layout (versions and checkpoints as
// integers, before schema version 2) is reset when it is opened: every
// collection table and every checkpoint is dropped, in one transaction,
// so the projections rebuild their read models from the event log as on
// a first start. Read models are derived data, so nothing is lost; the
// store logs nothing, but the callers see every checkpoint at "". A file
// written by a newer layout is refused rather than reset, so that an
// older binary started by mistake cannot wipe a newer one's read models.
func OpenSQLite(cfg SQLiteConfig) (*SQLiteStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// Created readable by its owner only (0600), like the event log: read
	// models hold password hashes (credentials). SQLite gives the WAL and
	// shared-memory files the same permissions.
	if f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("readstore: create %s: %w", cfg.Path, err)
	}
	// No per-connection mutex in SQLite (multi-thread mode):
	// database/sql gives a connection to one goroutine at a time; see
	// the event store's sqliteDSN.
	common := fmt.Sprintf("_mutex=no&_busy_timeout=%d&_cache_size=-%d", cfg.BusyTimeout.Milliseconds(), cfg.CacheKiB)

	wdb, err := sql.Open("sqlite3", cfg.Path+"?_journal_mode=WAL&_synchronous=NORMAL&"+common)
	if err != nil {
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	ctx := context.Background()
	wconn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	var fts5 bool
	if err := wconn.QueryRowContext(ctx, "SELECT sqlite_compileoption_used('ENABLE_FTS5')").Scan(&fts5); err != nil || !fts5 {
		wconn.Close()
		wdb.Close()
		return nil, errors.New("readstore: this program's SQLite has no FTS5, which text search needs: build it with -tags sqlite_fts5 (make does)")
	}
	s := &SQLiteStore{wdb: wdb, wconn: wconn, colls: map[string]*sqliteCollection{}, live: map[string]int{}, names: map[string]*sqliteCollection{}, cacheKiB: cfg.CacheKiB}
	// The writer never checkpoints: a checkpoint run by the commit that
	// crosses the threshold stalls that write (and every read-your-writes
	// waiting on it) for as long as it copies, tens of milliseconds for a
	// few MB. A goroutine on its own connection copies the WAL back
	// instead (see checkpoint), alongside the writes; the file is cut
	// back to walLimit when it restarts, so the WAL needs only a few MB
	// of headroom on disk.
	//
	// temp_store = MEMORY keeps the temporary database (the count deltas)
	// and, with it, every statement journal in memory. An upsert inside
	// a batch's transaction journals each page it touches (one per index)
	// so that it can be undone alone; on a file that cost two pwrite
	// calls per page, 55 per ticket, and 60 % of a live batch's time.
	if _, err := wconn.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d; PRAGMA temp_store = MEMORY", walLimit)); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	if err := s.inTx(ctx, func() error { return s.initSchema(ctx) }); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	// A checkpoint only moves forward (compared byte-wise, as TEXT with
	// the default BINARY collation): a doc write at or below its stored
	// version is ignored, so re-projecting into the same collection could
	// not undo anything anyway; a rebuild goes into a fresh generation
	// under a fresh checkpoint name.
	s.ckStmt, err = wconn.PrepareContext(ctx, `INSERT INTO `+checkpointTable+`(name, position) VALUES(?, ?)
		ON CONFLICT(name) DO UPDATE SET position = excluded.position WHERE excluded.position > position`)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: prepare checkpoint: %w", err)
	}
	for _, q := range txSQL {
		st, err := wconn.PrepareContext(ctx, q)
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("readstore: prepare %q: %w", q, err)
		}
		s.txStmts = append(s.txStmts, st)
	}
	s.liveStmt, err = wconn.PrepareContext(ctx, `INSERT INTO `+generationTable+`(name, live) VALUES(?, ?)
		ON CONFLICT(name) DO UPDATE SET live = excluded.live`)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: prepare generations: %w", err)
	}

	// Readers open after the writer has switched the file to WAL, which
	// persists in the file; query_only guards against a write slipping
	// past the single-writer rule. The statement cache keeps repeated
	// list queries from being compiled each time.
	rdb, err := sql.Open("sqlite3", cfg.Path+"?_query_only=1&_stmt_cache_size=64&"+common)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	rdb.SetMaxOpenConns(cfg.ReadConns)
	rdb.SetMaxIdleConns(cfg.ReadConns)
	rdb.SetConnMaxLifetime(0)
	s.rdb = rdb
	if err := rdb.PingContext(ctx); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	if s.cpdb, err = sql.Open("sqlite3", cfg.Path+"?"+common); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	s.cpdb.SetMaxOpenConns(1)
	s.walPath = cfg.Path + "-wal"
	s.stopCheckpoints = make(chan struct{})
	s.checkpointNow = make(chan struct{}, 1)
	s.checkpointsDone = make(chan struct{})
	go s.checkpoint()
	return s, nil
}

// walLimit is the WAL size, in bytes, past which the checkpointer copies
// it back into the database, and the size the file is cut back to.
const walLimit = 4 << 20

// walHardLimit is the WAL size past which the writer itself checkpoints
// before its next batch, should the checkpointer fall behind (readers
// holding old snapshots can keep a checkpoint from finishing).
const walHardLimit = 16 << 20

// bulkWALLimit is walHardLimit while a bulk load builds its indexes: each
// index grows the WAL by 20-50 MB, which the checkpointer copies back on
// the other core while the next one is sorted, and the WAL starts again
// from its beginning at most every few indexes.
var bulkWALLimit int64 = 64 << 20

// bulkCacheKiB is the writer's page cache while a bulk finish builds an
// index or a derived table. SQLite sorts an index's keys in runs no
// larger than the page cache before merging them: runs of 2 MiB, sorted
// within the processor's caches, built the (then 14) indexes, text index
// and tag table of 200,000 tickets 0.3-0.5 s faster than the 32 MiB default
// in every pair of alternating runs, 3.8-4.0 s against 4.3-4.4 s in one
// hour (BenchmarkRebuild; 1 MiB and 4 MiB were slower than 2). The table scan each index makes gains
// nothing from a larger cache either: the table is read once per index,
// start to end, and is larger than any cache worth keeping.
const bulkCacheKiB = 2 << 10

// checkpoint copies the WAL back into the database whenever it passes
// walLimit, until Close. PASSIVE never waits for the writer or readers;
// what it cannot copy yet it copies next time.
func (s *SQLiteStore) checkpoint() {
	defer close(s.checkpointsDone)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-tick.C:
		case <-s.checkpointNow:
		}
		if fi, err := os.Stat(s.walPath); err != nil || fi.Size() < walLimit {
			continue
		}
		s.ckMu.Lock()
		// An error is tried again at the next tick; a full disk shows in
		// the writes.
		_, _ = s.cpdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		s.ckMu.Unlock()
	}
}

// checkWAL checkpoints from the writer when the WAL is far past its
// limit; it runs on wconn before a batch.
func (s *SQLiteStore) checkWAL(ctx context.Context) {
	limit := int64(walHardLimit)
	if s.finishing.Load() > 0 {
		limit = bulkWALLimit
	}
	if fi, err := os.Stat(s.walPath); err == nil && fi.Size() > limit {
		// After the checkpointer's pass, if one is running: two
		// checkpoints at once make the second give up at once.
		s.ckMu.Lock()
		s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
		s.ckMu.Unlock()
	}
}

// initSchema brings the store's own tables to schemaVersion, dropping
// an older layout's tables (see OpenSQLite), and loads the live
// generations. It runs in a transaction on wconn.
func (s *SQLiteStore) initSchema(ctx context.Context) error {
	if _, err := s.wconn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+metaTable+`(key TEXT PRIMARY KEY, value INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create %s: %w", metaTable, err)
	}
	version := 1 // a file without a schema row is version 1, or new
	err := s.wconn.QueryRowContext(ctx, `SELECT value FROM `+metaTable+` WHERE key = 'schema'`).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("read store schema version %d is newer than this program's %d", version, schemaVersion)
	}
	if version < schemaVersion {
		if err := s.dropAllTables(ctx); err != nil {
			return fmt.Errorf("reset schema version %d: %w", version, err)
		}
		if _, err := s.wconn.ExecContext(ctx, `INSERT OR REPLACE INTO `+metaTable+`(key, value) VALUES('schema', ?)`, schemaVersion); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	for _, ddl := range []string{
		`CREATE TABLE IF NOT EXISTS ` + checkpointTable + `(name TEXT PRIMARY KEY, position TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + generationTable + `(name TEXT PRIMARY KEY, live INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + countTable + `(tbl TEXT NOT NULL, grp TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(tbl, grp, key)) WITHOUT ROWID`,
		`CREATE TEMP TABLE IF NOT EXISTS ` + deltaTable + `(tbl TEXT NOT NULL, grp TEXT NOT NULL, key TEXT NOT NULL, d INTEGER NOT NULL)`,
	} {
		if _, err := s.wconn.ExecContext(ctx, ddl); err != nil {
			return err
		}
	}
	rows, err := s.wconn.QueryContext(ctx, `SELECT name, live FROM `+generationTable)
	if err != nil {
		return fmt.Errorf("read generations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var live int
		if err := rows.Scan(&name, &live); err != nil {
			return fmt.Errorf("read generations: %w", err)
		}
		if live != 1 {
			s.live[name] = live
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read generations: %w", err)
	}
	return nil
}

// dropAllTables drops every table of the store but metaTable: the
// collections (their indexes go with them) and the checkpoints.
func (s *SQLiteStore) dropAllTables(ctx context.Context) error {
	// Virtual tables first: their shadow tables go with them.
	tables, err := s.queryNames(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'rs\_%' ESCAPE '\' AND name <> ?
		ORDER BY sql LIKE 'CREATE VIRTUAL TABLE%' DESC`, metaTable)
	if err != nil {
		return err
	}
	if _, err := s.wconn.ExecContext(ctx, `DELETE FROM `+metaTable+` WHERE key LIKE 'derived:%'`); err != nil {
		return err
	}
	for _, name := range tables {
		// The name is quoted: it comes from the file, not from a
		// declaration this program checked.
		if _, err := s.wconn.ExecContext(ctx, `DROP TABLE IF EXISTS `+quoteName(name)); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// Close closes the store; later calls return ErrClosed. It waits for the
// running write to finish.
func (s *SQLiteStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closeAll()
}

func (s *SQLiteStore) closeAll() error {
	var errs []error
	if s.stopCheckpoints != nil {
		close(s.stopCheckpoints)
		<-s.checkpointsDone
	}
	if s.cpdb != nil {
		errs = append(errs, s.cpdb.Close())
	}
	for _, c := range s.colls {
		errs = append(errs, c.closeStatements())
	}
	for _, stmt := range append([]*sql.Stmt{s.ckStmt, s.liveStmt}, s.txStmts...) {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	errs = append(errs, s.wconn.Close(), s.wdb.Close())
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
}

// acquire returns the collection a name stands for, read-locked against
// Drop; the caller calls c.readers.RUnlock when done with the table.
// Resolving a name, plain or not, is one map lookup.
func (s *SQLiteStore) acquire(name string) (*sqliteCollection, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.RLock()
	c := s.names[name]
	if c != nil {
		// Taken before mu is released: Drop removes the collection from
		// names under mu first, so it waits for exactly the readers that
		// found it.
		c.readers.RLock()
	}
	s.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownCollection, name)
	}
	return c, nil
}

// storageName is the table name, without "rs_", of generation gen of the
// plain name base: generation 1 keeps the plain name's table.
func storageName(base string, gen int) string {
	if gen <= 1 {
		return base
	}
	return Generation(base, gen)
}

// liveGen returns the live generation of a plain name. The caller holds
// wmu or mu.
func (s *SQLiteStore) liveGen(base string) int {
	if g, ok := s.live[base]; ok {
		return g
	}
	return 1
}

// resolve splits a collection name and, for a plain name, picks the live
// generation. The caller holds wmu or mu.
func (s *SQLiteStore) resolve(collection string) (base string, gen int, err error) {
	base, gen, err = SplitGeneration(collection)
	if err != nil {
		return "", 0, err
	}
	if gen == 0 {
		gen = s.liveGen(base)
	}
	return base, gen, nil
}

// setNames rebuilds names from colls and live. The caller holds wmu and
// mu.
func (s *SQLiteStore) setNames() {
	names := make(map[string]*sqliteCollection, 2*len(s.colls))
	for _, c := range s.colls {
		names[Generation(c.base, c.gen)] = c
		if s.liveGen(c.base) == c.gen {
			names[c.base] = c
		}
	}
	s.names = names
}

// column declarations carry the field type so Ensure can tell when a
// field changed type; SQLite derives the affinity from the substrings
// (TEXT → text, REAL → real, INT → integer).
func columnType(t FieldType, values []string) string {
	switch t {
	case Enum:
		// The values' order is in the type, so reordering them changes
		// the type and refills the column with the new ranks.
		h := fnv.New32a()
		h.Write([]byte(strings.Join(values, ",")))
		return fmt.Sprintf("REAL_ENUM_%08x", h.Sum32())
	case Number:
		return "REAL"
	case Bool:
		return "INTEGER"
	case Time:
		return "TEXT_TIME"
	case StringList:
		return "TEXT_LIST"
	}
	return "TEXT"
}

// indexName is deterministic so Ensure can tell which declared indexes
// exist. Index names share SQLite's namespace with tables; the "rsx"
// prefix keeps them apart from the "rs_" tables. Generation 1 keeps the
// names it always had, "rsx_<name>__<fields>"; generation N uses the
// prefix "rsxgN_", because a generation suffix "__gN" could read as a
// field called gN. Neither collection nor field names contain "__", so
// two indexes never share a name.
func indexName(base string, gen int, fields []string) string {
	prefix := "rsx_"
	if gen > 1 {
		prefix = "rsxg" + strconv.Itoa(gen) + "_"
	}
	return prefix + base + "__" + strings.Join(fields, "__")
}

// newSQLiteCollection declares generation gen of the plain name base,
// as c says.
func newSQLiteCollection(c Collection, base string, gen int) *sqliteCollection {
	sc := &sqliteCollection{def: c, base: base, gen: gen, table: "rs_" + storageName(base, gen), pos: make(map[string]int, len(c.Fields))}
	for i, f := range c.Fields {
		sc.fields = append(sc.fields, sqliteField{name: f.Name, column: "f_" + f.Name, typ: f.Type, values: f.Values})
		sc.pos[f.Name] = i
	}
	sc.derived = sc.derive()
	return sc
}

// column returns a declared field's column.
func (c *sqliteCollection) column(field string) string {
	if field == "id" {
		return "id"
	}
	return c.fields[c.pos[field]].column
}

// fieldType returns a declared field's type.
func (c *sqliteCollection) fieldType(field string) FieldType {
	if field == "id" {
		return String
	}
	return c.fields[c.pos[field]].typ
}

// wantIndexes maps each declared index's name to its CREATE statement.
// Every index ends with id so that ORDER BY <declared keys>, id can be
// read straight off it, and leaves tombstones out (WHERE deleted = 0) so
// that a COUNT over its leading columns never has to visit the table.
func (c *sqliteCollection) wantIndexes() map[string]string {
	want := map[string]string{}
	for _, idx := range c.def.Indexes {
		// A list field is kept as JSON text and matched with json_each,
		// which no index serves: an index with one would cost every write
		// and help no query. (MongoDB's multikey indexes do serve it.)
		if slices.ContainsFunc(idx, func(f string) bool { return f != "id" && c.fieldType(f) == StringList }) {
			continue
		}
		cols := make([]string, 0, len(idx)+1)
		hasID := false
		for _, f := range idx {
			cols = append(cols, c.column(f))
			hasID = hasID || f == "id"
		}
		if !hasID {
			cols = append(cols, "id")
		}
		name := indexName(c.base, c.gen, idx)
		want[name] = fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s(%s) WHERE deleted = 0",
			name, c.table, strings.Join(cols, ", "))
	}
	return want
}

// Ensure creates the collection's table and indexes, or brings an
// existing table in line with the declaration: a new field gets a column
// filled from the stored documents, a field that is no longer declared
// (or changed type) loses its column, and indexes are added or dropped to
// match. All of it is derived from the stored JSON, so nothing is lost.
//
// A plain c.Name ensures the live generation; a Generation name ensures
// that generation, which is how a rebuild starts.
func (s *SQLiteStore) Ensure(ctx context.Context, c Collection) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	base, gen, err := s.resolve(c.Name)
	if err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	sc := newSQLiteCollection(c, base, gen)
	err = s.inTx(ctx, func() error { return s.migrate(ctx, sc) })
	if err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	if sc.upsert, err = s.wconn.PrepareContext(ctx, sc.upsertSQL(1)); err != nil {
		return fmt.Errorf("ensure %s: prepare upsert: %w", c.Name, err)
	}
	key := storageName(base, gen)
	s.mu.Lock()
	old := s.colls[key]
	s.colls[key] = sc
	s.setNames()
	s.mu.Unlock()
	if old != nil {
		old.closeStatements()
	}
	return nil
}

func (s *SQLiteStore) migrate(ctx context.Context, sc *sqliteCollection) error {
	// version is TEXT, so the guard compares with the BINARY collation:
	// byte by byte, as the contract says.
	cols := []string{"id TEXT PRIMARY KEY", "version TEXT NOT NULL", "deleted INTEGER NOT NULL DEFAULT 0", "data BLOB"}
	for _, f := range sc.fields {
		cols = append(cols, f.column+" "+columnType(f.typ, f.values))
	}
	if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s(%s)", sc.table, strings.Join(cols, ", "))); err != nil {
		return err
	}

	existing := map[string]string{} // field column → declared type
	rows, err := s.wconn.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?) WHERE name LIKE 'f\_%' ESCAPE '\'`, sc.table)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		existing[name] = typ
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	var drop []string
	for col, typ := range existing {
		i, ok := sc.pos[strings.TrimPrefix(col, "f_")]
		if !ok || columnType(sc.fields[i].typ, sc.fields[i].values) != typ {
			drop = append(drop, col)
			delete(existing, col)
		}
	}
	var add []int // indexes into sc.fields
	for i, f := range sc.fields {
		if _, ok := existing[f.column]; !ok {
			add = append(add, i)
		}
	}

	want := sc.wantIndexes()
	have, err := s.indexes(ctx, sc.table)
	if err != nil {
		return err
	}
	for _, name := range have {
		// A dropped column takes every index with it: SQLite refuses to
		// drop a column an index uses, and rebuilding them is cheap next
		// to the table rewrite the drop costs anyway.
		if _, ok := want[name]; !ok || len(drop) > 0 {
			if _, err := s.wconn.ExecContext(ctx, "DROP INDEX "+name); err != nil {
				return err
			}
		}
	}
	if len(drop) > 0 {
		// SQLite refuses to drop a column a trigger names; syncDerived
		// below builds them again.
		if err := s.dropDerived(ctx, sc.table); err != nil {
			return err
		}
	}
	for _, col := range drop {
		if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", sc.table, col)); err != nil {
			return err
		}
	}
	for _, i := range add {
		f := sc.fields[i]
		if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", sc.table, f.column, columnType(f.typ, f.values))); err != nil {
			return err
		}
	}
	if len(add) > 0 {
		if err := s.backfill(ctx, sc, add); err != nil {
			return err
		}
	}
	for _, stmt := range want {
		if _, err := s.wconn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return s.syncDerived(ctx, sc.table, sc.derived)
}

func (s *SQLiteStore) indexes(ctx context.Context, table string) ([]string, error) {
	return s.queryNames(ctx, `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND name LIKE 'rsx%'`, table)
}

// backfill fills newly added columns from the stored documents with the
// same extraction Apply uses, so old and new rows cannot disagree.
func (s *SQLiteStore) backfill(ctx context.Context, sc *sqliteCollection, add []int) error {
	sets := make([]string, len(add))
	for i, fi := range add {
		sets[i] = sc.fields[fi].column + " = ?"
	}
	update, err := s.wconn.PrepareContext(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE rowid = ?", sc.table, strings.Join(sets, ", ")))
	if err != nil {
		return err
	}
	defer update.Close()
	type row struct {
		rowid int64
		id    string
		data  []byte
	}
	raw := make([][]byte, len(sc.fields))
	args := make([]any, len(add)+1)
	var last int64
	for {
		// A chunk is read completely before it is updated: the rows
		// cursor and the updates share the one write connection.
		rows, err := s.wconn.QueryContext(ctx, fmt.Sprintf("SELECT rowid, id, data FROM %s WHERE deleted = 0 AND rowid > ? ORDER BY rowid LIMIT 1000", sc.table), last)
		if err != nil {
			return err
		}
		var chunk []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.rowid, &r.id, &r.data); err != nil {
				rows.Close()
				return err
			}
			chunk = append(chunk, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, r := range chunk {
			if err := sc.scan(r.data, raw); err != nil {
				return fmt.Errorf("backfill doc %q: %w", r.id, err)
			}
			for i, fi := range add {
				if args[i], err = sc.fields[fi].value(raw[fi]); err != nil {
					return fmt.Errorf("backfill doc %q: %w", r.id, err)
				}
			}
			args[len(add)] = r.rowid
			if _, err := update.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		last = chunk[len(chunk)-1].rowid
	}
}

// upsertSQL writes rows documents or tombstones, one row each, in the
// order given (a later row of the same id meets the earlier one as a
// conflict, as a later statement would); the WHERE makes the version
// guard part of the statement, so a stale write costs one index probe
// and changes nothing.
func (c *sqliteCollection) upsertSQL(rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s(id, version, deleted, data", c.table)
	for _, f := range c.fields {
		b.WriteString(", " + f.column)
	}
	b.WriteString(") VALUES")
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?")
		for range c.fields {
			b.WriteString(", ?")
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT(id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, data = excluded.data")
	for _, f := range c.fields {
		fmt.Fprintf(&b, ", %s = excluded.%s", f.column, f.column)
	}
	fmt.Fprintf(&b, " WHERE excluded.version > %s.version", c.table)
	return b.String()
}

// maxUpsertRows is the most documents one statement writes. A batch is
// written in statements of 64, 32, … 1 rows, so a collection prepares at
// most seven of them.
const maxUpsertRows = 64

// upsertRows returns how many of n documents the next statement writes:
// the largest power of two not above n, maxUpsertRows, or SQLite's limit
// of 32,766 parameters.
func (c *sqliteCollection) upsertRows(n int) int {
	limit := min(n, maxUpsertRows, 32766/(4+len(c.fields)))
	rows := 1
	for rows*2 <= limit {
		rows *= 2
	}
	return rows
}

// upsertStmt returns the statement writing rows documents, preparing it
// on wconn the first time. It runs under wmu.
func (s *SQLiteStore) upsertStmt(ctx context.Context, c *sqliteCollection, rows int) (*sql.Stmt, error) {
	if rows == 1 {
		return c.upsert, nil
	}
	if st := c.upserts[rows]; st != nil {
		return st, nil
	}
	st, err := s.wconn.PrepareContext(ctx, c.upsertSQL(rows))
	if err != nil {
		return nil, err
	}
	if c.upserts == nil {
		c.upserts = map[int]*sql.Stmt{}
	}
	c.upserts[rows] = st
	return st, nil
}

// closeStatements closes the collection's write statements.
func (c *sqliteCollection) closeStatements() error {
	errs := []error{c.upsert.Close()}
	for _, st := range c.upserts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// txSQL are inTx's statements: begin, add up the count deltas, clear
// them, commit. Prepared once rather than parsed for every transaction,
// and run without ctx's cancellation (which makes the driver watch it
// from a goroutine a statement), they took a tenth off a one-ticket
// transaction: ApplyLive 317-319 µs against 351-352.
var txSQL = []string{"BEGIN IMMEDIATE", flushCounts, clearDeltas, "COMMIT"}

// inTx runs fn inside one write transaction on wconn. The transaction is
// driven by hand rather than with sql.Tx so the statements prepared on
// wconn are used as they are, with no per-batch re-wrapping.
func (s *SQLiteStore) inTx(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run := func(i int) error {
		if s.txStmts == nil { // opening: not prepared yet
			_, err := s.wconn.ExecContext(context.Background(), txSQL[i])
			return err
		}
		_, err := s.txStmts[i].ExecContext(context.Background())
		return err
	}
	if err := run(0); err != nil {
		return err
	}
	err := fn()
	if err == nil {
		if err = run(1); err == nil {
			err = run(2)
		}
	}
	if err != nil {
		// The rollback's error is dropped: SQLite may have rolled back
		// already.
		s.wconn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if err := run(3); err != nil {
		s.wconn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	return nil
}

// Get returns the live document with the given id.
func (s *SQLiteStore) Get(ctx context.Context, collection, id string) (Doc, error) {
	c, err := s.acquire(collection)
	if err != nil {
		return Doc{}, err
	}
	defer c.readers.RUnlock()
	var version string
	var data []byte
	err = s.rdb.QueryRowContext(ctx, "SELECT version, data FROM "+c.table+" WHERE id = ? AND deleted = 0", id).Scan(&version, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return Doc{}, fmt.Errorf("%w: %s %q", ErrNotFound, collection, id)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("get %s %q: %w", collection, id, err)
	}
	return Doc{ID: id, Version: version, Data: data}, nil
}

// Query returns a page of live documents and, if q.Count, how many match
// in all. Sorting ends with id in the direction of the last sort key (id
// ascending when q.Sort is empty): a single direction lets SQLite walk an
// index backwards for DESC instead of sorting, since every index ends
// with id. Page and count read the same snapshot. q goes through Check
// against the collection's declaration first; its error comes back as is.
func (s *SQLiteStore) Query(ctx context.Context, collection string, q Query) ([]Doc, int64, error) {
	c, err := s.acquire(collection)
	if err != nil {
		return nil, 0, err
	}
	defer c.readers.RUnlock()
	q, err = check(c.def, q)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	// A text index is a virtual table, which each connection opens again
	// after any change of the schema. When another change lands while it
	// opens (a rebuild declaring a generation or building an index of any
	// collection), SQLite fails the statement with "vtable constructor
	// failed" rather than preparing it again as it does for a changed
	// schema: under a loop of such changes, a third of the searches
	// failed. Those are tried again, after a pause that grows by a
	// millisecond each time, so that a burst of changes can pass.
	for attempt := 1; ; attempt++ {
		docs, total, err := s.query(ctx, c, q)
		if err != nil && attempt < vtabAttempts && strings.Contains(err.Error(), "vtable constructor failed") {
			select {
			case <-time.After(time.Duration(attempt) * time.Millisecond):
				continue
			case <-ctx.Done():
			}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("query %s: %w", collection, err)
		}
		return docs, total, nil
	}
}

// vtabAttempts bounds the tries of a query whose text index could not be
// opened (see Query).
const vtabAttempts = 10

// query plans and runs q, which check accepted.
func (s *SQLiteStore) query(ctx context.Context, c *sqliteCollection, q Query) ([]Doc, int64, error) {
	driven, err := s.smallMatchSet(ctx, c, q.Where)
	if err != nil {
		return nil, 0, err
	}
	sq, err := c.buildQuery(q, driven)
	if err != nil {
		return nil, 0, err
	}
	return s.runQuery(ctx, sq, q)
}

func (s *SQLiteStore) runQuery(ctx context.Context, sq sqlQuery, q Query) (docs []Doc, total int64, err error) {
	type querier interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	var db querier = s.rdb
	if q.Count {
		// A deferred transaction pins one snapshot for both statements,
		// so the total always agrees with the page.
		tx, err := s.rdb.BeginTx(ctx, nil)
		if err != nil {
			return nil, 0, err
		}
		defer tx.Rollback()
		db = tx
	}
	rows, err := db.QueryContext(ctx, sq.page, sq.pageArgs...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	if q.Limit > 0 {
		docs = make([]Doc, 0, min(q.Limit, 1000))
	}
	total = -1
	dest := make([]any, 3, 4)
	if sq.counted {
		dest = append(dest, &total)
	}
	for rows.Next() {
		var id, version string
		var data []byte
		dest[0], dest[1], dest[2] = &id, &version, &data
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, err
		}
		docs = append(docs, Doc{ID: id, Version: version, Data: data})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, 0, err
	}
	// A counted page past the last row has no row to carry the count.
	if q.Count && total < 0 {
		if err := db.QueryRowContext(ctx, sq.count, sq.countArgs...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	return docs, total, nil
}

// sqlQuery is a Query compiled for one collection.
type sqlQuery struct {
	page      string
	pageArgs  []any // args plus limit and offset
	count     string
	countArgs []any
	args      []any
	// counted is whether each row of page carries the total as a fourth
	// column (see buildQuery); count still serves an empty page.
	counted bool
}

// buildQuery compiles q, which Check has accepted: it only translates.
// Every column name comes from the declaration and every value is a
// bound parameter, so nothing from the caller is ever spliced into the
// SQL text. Tombstones are excluded with the literal "deleted = 0",
// which is what lets SQLite use the partial indexes.
//
// When driven, the rows come from a text or list condition's match set,
// which smallMatchSet found small: the other conditions' columns are
// written +col, which keeps SQLite from walking an index of those
// instead (a whole company's tickets, checking each against the set).
func (c *sqliteCollection) buildQuery(q Query, driven bool) (sqlQuery, error) {
	var where strings.Builder
	where.WriteString(" WHERE deleted = 0")
	var args []any
	for _, cond := range q.Where {
		var err error
		if args, err = c.condition(&where, args, cond, driven); err != nil {
			return sqlQuery{}, err
		}
	}

	var order strings.Builder
	order.WriteString(" ORDER BY ")
	desc := false
	byID := false
	for i, srt := range q.Sort {
		if i > 0 {
			order.WriteString(", ")
		}
		order.WriteString(c.column(srt.Field))
		if srt.Desc {
			order.WriteString(" DESC")
		}
		desc = srt.Desc
		byID = byID || srt.Field == "id"
	}
	if !byID {
		if len(q.Sort) > 0 {
			order.WriteString(", ")
		}
		order.WriteString("id")
		if desc {
			order.WriteString(" DESC")
		}
	}

	sq := sqlQuery{
		page:  "SELECT id, version, data FROM " + c.table + where.String() + order.String(),
		count: "SELECT COUNT(*) FROM " + c.table + where.String(),
		args:  args,
	}
	sq.countArgs = args
	if q.Count {
		if lookup, largs, ok := c.countLookup(q.Where); ok {
			sq.count, sq.countArgs = lookup, largs
		} else if driven {
			// A driven page reads and sorts every row of the match set
			// anyway: it counts them on the way, rather than a second
			// statement finding the set and looking each row up again.
			sq.page = "SELECT id, version, data, COUNT(*) OVER () FROM " + c.table + where.String() + order.String()
			sq.counted = true
		}
	}
	sq.pageArgs = args
	switch {
	case q.Limit > 0:
		sq.page += " LIMIT ? OFFSET ?"
		sq.pageArgs = append(args[:len(args):len(args)], q.Limit, q.Skip)
	case q.Skip > 0:
		sq.page += " LIMIT -1 OFFSET ?"
		sq.pageArgs = append(args[:len(args):len(args)], q.Skip)
	}
	return sq, nil
}

// condition appends one " AND ..." term for a checked condition to w and
// its values to args. Anything Check would not have let through is an
// error rather than a guess.
func (c *sqliteCollection) condition(w *strings.Builder, args []any, cond Condition, driven bool) ([]any, error) {
	if cond.Op == Text {
		words, ok := cond.Value.([]string)
		if !ok || len(words) == 0 || c.derived.fts == "" {
			return nil, fmt.Errorf("%w: unchecked text search %v", ErrInvalidQuery, cond.Value)
		}
		w.WriteString(" AND rowid IN (SELECT rowid FROM " + c.derived.fts + " WHERE " + c.derived.fts + " MATCH ?)")
		return append(args, ftsQuery(words)), nil
	}

	t := c.fieldType(cond.Field)
	col := c.column(cond.Field)
	if driven && c.derived.lists[cond.Field] == "" {
		col = "+" + col
	}
	switch cond.Op {
	case Eq, Ne:
		switch {
		case cond.Value == nil && cond.Op == Eq:
			w.WriteString(" AND " + col + " IS NULL")
			return args, nil
		case cond.Value == nil:
			w.WriteString(" AND " + col + " IS NOT NULL")
			return args, nil
		case t == StringList && cond.Op == Eq && c.derived.lists[cond.Field] != "" && driven:
			w.WriteString(" AND rowid IN (SELECT rid FROM " + c.derived.lists[cond.Field] + " WHERE value = ?)")
		case t == StringList && cond.Op == Eq && c.derived.lists[cond.Field] != "":
			// A large set: probe it for each row an index walk yields,
			// rather than gather it whole first.
			w.WriteString(" AND EXISTS (SELECT 1 FROM " + c.derived.lists[cond.Field] + " WHERE value = ? AND rid = " + c.table + ".rowid)")
		case t == StringList && cond.Op == Eq:
			w.WriteString(" AND EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value = ?)")
		case t == StringList:
			w.WriteString(" AND NOT EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value = ?)")
		case cond.Op == Eq:
			w.WriteString(" AND " + col + " = ?")
		default:
			// IS NOT: a missing field is "not equal" rather than unknown.
			w.WriteString(" AND " + col + " IS NOT ?")
		}
		return append(args, sqlValue(cond.Value)), nil

	case In:
		list, ok := cond.Value.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: unchecked in value %T on %q", ErrInvalidQuery, cond.Value, cond.Field)
		}
		if len(list) == 0 {
			w.WriteString(" AND 0")
			return args, nil
		}
		listTable := c.derived.lists[cond.Field]
		end := ")"
		switch {
		case t == StringList && listTable != "" && driven:
			w.WriteString(" AND rowid IN (SELECT rid FROM " + listTable + " WHERE value IN (")
			end = "))"
		case t == StringList && listTable != "":
			w.WriteString(" AND EXISTS (SELECT 1 FROM " + listTable + " WHERE value IN (")
			end = ") AND rid = " + c.table + ".rowid)"
		case t == StringList:
			w.WriteString(" AND EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value IN (")
			end = "))"
		default:
			w.WriteString(" AND " + col + " IN (")
		}
		for i, v := range list {
			if i > 0 {
				w.WriteString(", ")
			}
			w.WriteString("?")
			args = append(args, sqlValue(v))
		}
		w.WriteString(end)
		return args, nil

	case Gt, Gte, Lt, Lte:
		w.WriteString(" AND " + col + comparisons[cond.Op] + "?")
		return append(args, sqlValue(cond.Value)), nil
	}
	return nil, fmt.Errorf("%w: unchecked operator %q on %q", ErrInvalidQuery, cond.Op, cond.Field)
}

var comparisons = map[Op]string{Gt: " > ", Gte: " >= ", Lt: " < ", Lte: " <= "}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// sqlValue converts a canonical query value to what its column holds:
// only booleans differ, stored as 0 and 1.
func sqlValue(v any) any {
	if b, ok := v.(bool); ok {
		return boolInt(b)
	}
	return v
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Apply writes the batch and its checkpoint in one transaction, which is
// more than the contract asks: a batch lands whole or not at all. Every
// write's collection is checked before anything is written; a document
// that is not a JSON object, or whose declared field has the wrong JSON
// type, fails the whole batch: that is a projector bug, and storing it
// would make the field silently unqueryable.
func (s *SQLiteStore) Apply(ctx context.Context, b Batch) error {
	if len(b.Writes) == 0 && b.Checkpoint == nil {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	// Every write is checked and bound before the writer is taken: that
	// reads only the document and its collection's declared fields, and
	// under concurrent creates it was a tenth of the time the writer was
	// held (json.Valid and the field scan), time every other write waited.
	colls, args, err := s.bindAll(b.Writes)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return s.applyBound(ctx, b, colls, args)
}

// applyBound writes b, its writes bound by bindAll to colls and args.
func (s *SQLiteStore) applyBound(ctx context.Context, b Batch, colls []*sqliteCollection, args [][]any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.checkWAL(ctx)
	// Executing row by row with a cancelable context would make the
	// driver start a goroutine per statement; ctx is checked between
	// rows instead.
	execCtx := context.WithoutCancel(ctx)
	err := s.inTx(ctx, func() error {
		for i := range b.Writes {
			w := &b.Writes[i]
			// names cannot change while wmu is held. A generation switched
			// or a collection declared again since the binding has a new
			// collection (they are never changed in place): bind again.
			c := s.names[w.Collection]
			if c == nil {
				return fmt.Errorf("apply write %d: %w %q", i, ErrUnknownCollection, w.Collection)
			}
			if c != colls[i] {
				a := make([]any, 4+len(c.fields))
				if err := c.bind(w, a, make([][]byte, len(c.fields))); err != nil {
					return fmt.Errorf("apply write %d (%s %q): %w", i, w.Collection, w.Doc.ID, err)
				}
				colls[i], args[i] = c, a
			}
		}
		// Consecutive writes to one collection go in statements of up to
		// maxUpsertRows rows: each statement is a call into SQLite with a
		// setup of its own. One a document, a batch of 64 tickets cost
		// 72-76 µs a ticket (ApplyLive), against 46-49 µs now.
		var vals []any
		for i := 0; i < len(b.Writes); {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := colls[i]
			run := i + 1
			for run < len(b.Writes) && colls[run] == c {
				run++
			}
			rows := c.upsertRows(run - i)
			st, err := s.upsertStmt(ctx, c, rows)
			if err != nil {
				return fmt.Errorf("apply writes %d-%d (%s): %w", i, i+rows-1, c.def.Name, err)
			}
			vals = vals[:0]
			for _, a := range args[i : i+rows] {
				vals = append(vals, a...)
			}
			if _, err := st.ExecContext(execCtx, vals...); err != nil {
				if rows == 1 {
					return fmt.Errorf("apply write %d (%s %q): %w", i, b.Writes[i].Collection, b.Writes[i].Doc.ID, err)
				}
				return fmt.Errorf("apply writes %d-%d (%s %q…): %w", i, i+rows-1, b.Writes[i].Collection, b.Writes[i].Doc.ID, err)
			}
			i += rows
		}
		if b.Checkpoint != nil {
			if _, err := s.ckStmt.ExecContext(execCtx, b.Checkpoint.Name, b.Checkpoint.Position); err != nil {
				return fmt.Errorf("apply checkpoint %s: %w", b.Checkpoint.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// bindAll finds each write's collection and binds its upsert's
// parameters, all in one allocation. Every collection is checked before
// any document is. Only the lookup holds mu: a collection is never
// changed once declared, and binding a large batch under mu would hold
// up a generation switch and, behind it, every reader.
func (s *SQLiteStore) bindAll(writes []Write) ([]*sqliteCollection, [][]any, error) {
	colls, err := s.lookupAll(writes)
	if err != nil {
		return nil, nil, err
	}
	total, maxFields := 0, 0
	for _, c := range colls {
		total += 4 + len(c.fields)
		maxFields = max(maxFields, len(c.fields))
	}
	flat := make([]any, total)
	args := make([][]any, len(writes))
	raw := make([][]byte, maxFields)
	for i, c := range colls {
		n := 4 + len(c.fields)
		args[i], flat = flat[:n:n], flat[n:]
		if err := c.bind(&writes[i], args[i], raw); err != nil {
			return nil, nil, fmt.Errorf("apply write %d (%s %q): %w", i, writes[i].Collection, writes[i].Doc.ID, err)
		}
	}
	return colls, args, nil
}

// lookupAll returns each write's collection.
func (s *SQLiteStore) lookupAll(writes []Write) ([]*sqliteCollection, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	colls := make([]*sqliteCollection, len(writes))
	var c *sqliteCollection
	name := ""
	for i, w := range writes {
		// Batches mostly write one collection, so the name is looked up
		// again only when it changes from one write to the next.
		if c == nil || name != w.Collection {
			if c, name = s.names[w.Collection], w.Collection; c == nil {
				return nil, fmt.Errorf("apply write %d: %w %q", i, ErrUnknownCollection, w.Collection)
			}
		}
		colls[i] = c
	}
	return colls, nil
}

// bind fills args with the upsert's parameters for w.
func (c *sqliteCollection) bind(w *Write, args []any, raw [][]byte) error {
	if w.Doc.ID == "" {
		return errors.New("empty id")
	}
	args[0], args[1] = w.Doc.ID, w.Doc.Version
	if w.Delete {
		args[2], args[3] = int64(1), nil
		for i := range c.fields {
			args[4+i] = nil
		}
		return nil
	}
	// github.com/segmentio/encoding/json's Valid takes 0.3 µs for a
	// ticket where encoding/json's takes 2.6 µs: 0.4 s of CPU in a rebuild
	// of 1,000,000 events. FuzzValidMatchesStandardLibrary holds it to
	// encoding/json's answer.
	if !segjson.Valid(w.Doc.Data) {
		return errors.New("data is not valid JSON")
	}
	if err := c.scan(w.Doc.Data, raw); err != nil {
		return err
	}
	args[2], args[3] = int64(0), []byte(w.Doc.Data)
	for i, f := range c.fields {
		v, err := f.value(raw[i])
		if err != nil {
			return err
		}
		args[4+i] = v
	}
	return nil
}

// scan sets raw[i] to the raw JSON value of fields[i] in data, or nil.
// It walks only the top level of data, which must be valid JSON, and
// allocates nothing: this runs for every document of a catch-up.
func (c *sqliteCollection) scan(data []byte, raw [][]byte) error {
	clear(raw[:len(c.fields)])
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errors.New("data is not a JSON object")
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] == '}' {
			return nil
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		keyStart, keyEnd := i, skipString(data, i)
		i = skipSpace(data, keyEnd)
		i = skipSpace(data, i+1) // past ':'
		end := skipValue(data, i)
		pos, ok := c.pos[string(data[keyStart+1:keyEnd-1])]
		if !ok && bytes.IndexByte(data[keyStart:keyEnd], '\\') >= 0 {
			var k string
			if json.Unmarshal(data[keyStart:keyEnd], &k) == nil {
				pos, ok = c.pos[k]
			}
		}
		if ok {
			raw[pos] = data[i:end]
		}
		i = end
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at data[i].
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = skipString(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	}
	j := i
	for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' &&
		data[j] != ' ' && data[j] != '\t' && data[j] != '\n' && data[j] != '\r' {
		j++
	}
	return j
}

// value converts a field's raw JSON value to its column value.
func (f sqliteField) value(raw []byte) (any, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	bad := func() error {
		return fmt.Errorf("field %q: want %s, got %.40s", f.name, f.typ, raw)
	}
	switch f.typ {
	case String:
		if raw[0] != '"' {
			return nil, bad()
		}
		return unquote(raw)
	case Number:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return nil, bad()
		}
		n, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, bad()
		}
		return n, nil
	case Bool:
		switch string(raw) {
		case "true":
			return int64(1), nil
		case "false":
			return int64(0), nil
		}
		return nil, bad()
	case Time:
		if raw[0] != '"' {
			return nil, bad()
		}
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.name, err)
		}
		if isTimeKey(s) {
			return s, nil // formatting it again gives it back
		}
		return TimeKey(t), nil
	case Enum:
		if raw[0] != '"' {
			return nil, bad()
		}
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		rank, ok := Field{Values: f.values}.Rank(s)
		if !ok {
			return nil, fmt.Errorf("field %q: %q is not one of %s", f.name, s, strings.Join(f.values, ", "))
		}
		return float64(rank), nil
	case StringList:
		if raw[0] != '[' {
			return nil, bad()
		}
		// Kept as JSON text: json_each reads it for Eq, Ne and In.
		return string(raw), nil
	}
	return nil, bad()
}

// isTimeKey reports whether s, a valid RFC 3339 time, is already as
// TimeKey writes it: UTC, nine digits of fraction. Most times are (Go
// writes nanoseconds and trims only trailing zeros), and formatting them
// again took 0.19 s of CPU in a rebuild of 1,000,000 events.
func isTimeKey(s string) bool {
	if len(s) != len(timeKeyLayout) {
		return false
	}
	for i := range len(s) {
		if c := timeKeyLayout[i]; c >= '0' && c <= '9' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != c {
			return false
		}
	}
	return true
}

func unquote(raw []byte) (string, error) {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// Checkpoint returns the stored position of the named projection, or "".
func (s *SQLiteStore) Checkpoint(ctx context.Context, name string) (string, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	var pos string
	err := s.rdb.QueryRowContext(ctx, "SELECT position FROM "+checkpointTable+" WHERE name = ?", name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return pos, nil
}

// LiveGeneration returns the generation served under the plain name,
// from memory: it is read from the file once, when the store opens.
func (s *SQLiteStore) LiveGeneration(ctx context.Context, name string) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	base, gen, err := SplitGeneration(name)
	if err != nil {
		return 0, fmt.Errorf("live generation: %w", err)
	}
	if gen != 0 {
		return 0, fmt.Errorf("live generation of %q: want a plain name", name)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.liveGen(base), nil
}

// SwitchGeneration makes generation gen of the plain name the live one.
// The generation must have been ensured in this process. The switch is
// stored first and then made visible to readers in one step: a Get or
// Query that has already looked the name up finishes on the old
// generation, every later one reads the new.
func (s *SQLiteStore) SwitchGeneration(ctx context.Context, name string, gen int) error {
	base, g, err := SplitGeneration(name)
	if err != nil {
		return fmt.Errorf("switch generation: %w", err)
	}
	if g != 0 {
		return fmt.Errorf("switch generation of %q: want a plain name", name)
	}
	if gen < 1 {
		return fmt.Errorf("switch %s to generation %d: generations start at 1", name, gen)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.colls[storageName(base, gen)] == nil {
		return fmt.Errorf("switch %s: %w %q (ensure it first)", name, ErrUnknownCollection, Generation(base, gen))
	}
	if _, err := s.liveStmt.ExecContext(ctx, base, gen); err != nil {
		return fmt.Errorf("switch %s to generation %d: %w", name, gen, err)
	}
	s.mu.Lock()
	if gen == 1 {
		delete(s.live, base)
	} else {
		s.live[base] = gen
	}
	s.setNames()
	s.mu.Unlock()
	return nil
}

// Drop deletes the table of the generation the name addresses (the live
// one for a plain name) and forgets its declaration. It waits for the
// reads that already found the collection, so none of them fails on a
// missing table. The table goes even if this process never ensured it, so
// an operator can remove a collection an older version left behind;
// dropping a missing collection is not an error. Dropping the live
// generation leaves the plain name unusable until it is ensured again or
// switched to another generation.
func (s *SQLiteStore) Drop(ctx context.Context, collection string) error {
	if _, _, err := SplitGeneration(collection); err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	base, gen, err := s.resolve(collection)
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	key := storageName(base, gen)
	// Forget first, so no new reader finds it, and close the upsert
	// statement before its table goes.
	s.mu.Lock()
	old := s.colls[key]
	delete(s.colls, key)
	s.setNames()
	s.mu.Unlock()
	if old != nil {
		// An empty critical section: waiting for the readers is the point.
		old.readers.Lock()
		old.readers.Unlock() //lint:ignore SA2001 the lock is taken only to wait for the readers holding it
		old.closeStatements()
	}
	if err := s.dropDerived(ctx, "rs_"+key); err != nil {
		return fmt.Errorf("drop %s: %w", collection, err)
	}
	if _, err := s.wconn.ExecContext(ctx, "DROP TABLE IF EXISTS rs_"+key); err != nil {
		return fmt.Errorf("drop %s: %w", collection, err)
	}
	return nil
}

var _ Store = (*SQLiteStore)(nil)

// probeLimit is the size below which a text or list condition's match
// set drives a query: at most this many row lookups and a sort of what
// they find (about 1 ms per thousand), against walking a company's whole
// index in order and probing the set for each row, which only pays off
// when most rows match.
var probeLimit = 10000 // a variable for the tests of both plans

// smallMatchSet reports whether one of where's text or indexed list
// conditions matches fewer than probeLimit rows in the whole table,
// counted up to the limit (a bounded index walk).
func (s *SQLiteStore) smallMatchSet(ctx context.Context, c *sqliteCollection, where []Condition) (bool, error) {
	for _, cond := range where {
		var probe string
		var args []any
		switch {
		case cond.Op == Text && c.derived.fts != "":
			words, ok := cond.Value.([]string)
			if !ok {
				continue
			}
			probe = "SELECT COUNT(*) FROM (SELECT 1 FROM " + c.derived.fts + " WHERE " + c.derived.fts + " MATCH ? LIMIT ?)"
			args = []any{ftsQuery(words), probeLimit}
		case (cond.Op == Eq || cond.Op == In) && cond.Value != nil && c.derived.lists[cond.Field] != "":
			values := []any{cond.Value}
			if cond.Op == In {
				values, _ = cond.Value.([]any)
			}
			if len(values) == 0 {
				continue
			}
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")
			probe = "SELECT COUNT(*) FROM (SELECT 1 FROM " + c.derived.lists[cond.Field] + " WHERE value IN (" + marks + ") LIMIT ?)"
			args = append(values[:len(values):len(values)], probeLimit)
		default:
			continue
		}
		var n int
		if err := s.rdb.QueryRowContext(ctx, probe, args...).Scan(&n); err != nil {
			return false, err
		}
		if n < probeLimit {
			return true, nil
		}
	}
	return false, nil
}
