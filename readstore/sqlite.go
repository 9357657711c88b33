package readstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
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
// All writes (Apply, Ensure, Drop) go through one connection, one at a
// time: SQLite allows a single writer anyway, and owning the connection
// lets the upsert statements stay prepared across batches. Reads use a
// pool of query-only connections, so in WAL mode they run while a batch
// is being written and see every committed batch (read-your-writes).
//
// A collection is usable only after Ensure in this process, because the
// declaration, not the table, says which fields may be queried and how
// their values are typed.
//
// Number fields are stored as 64-bit floats (integers beyond 2^53 lose
// precision). Text search folds ASCII case only (SQLite's LIKE).
type SQLiteStore struct {
	wdb    *sql.DB
	wconn  *sql.Conn // the one write connection, held for the store's life
	rdb    *sql.DB
	ckStmt *sql.Stmt // on wconn

	// wmu serializes everything that uses wconn or changes the schema;
	// colls changes only while wmu is held.
	wmu    sync.Mutex
	mu     sync.RWMutex
	colls  map[string]*sqliteCollection
	closed atomic.Bool
}

// sqliteCollection is an Ensure'd collection. It is replaced, never
// changed, when Ensure runs again, so a query may keep using the one it
// looked up.
type sqliteCollection struct {
	def    Collection
	table  string
	fields []sqliteField
	pos    map[string]int // field name → index in fields
	upsert *sql.Stmt      // on wconn; used only under wmu
}

// sqliteField is a declared field and its column. Columns are named
// "f_" + field so that no field name can clash with the fixed columns
// (a field may be called "deleted") or with an SQL keyword ("order").
type sqliteField struct {
	name   string
	column string
	typ    FieldType
}

// checkpointTable cannot clash with a collection table: collection
// names start with a letter, so theirs never start with "rs__".
const checkpointTable = "rs__checkpoints"

// OpenSQLite opens (creating if needed) the read store at cfg.Path.
//
// The file runs in WAL mode with synchronous=NORMAL: a power loss may
// drop the last committed batches, but each batch carries its
// projection's checkpoint in the same transaction, so the data and the
// checkpoint roll back together and the runner simply projects that tail
// again from the event log.
func OpenSQLite(cfg SQLiteConfig) (*SQLiteStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	common := fmt.Sprintf("_busy_timeout=%d&_cache_size=-%d", cfg.BusyTimeout.Milliseconds(), cfg.CacheKiB)

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
	s := &SQLiteStore{wdb: wdb, wconn: wconn, colls: map[string]*sqliteCollection{}}
	// Index inserts land on scattered pages, so a batch of 500 tickets
	// dirties thousands of pages. Checkpointing every 10000 pages (about
	// 40 MB of WAL) instead of 1000 copies a page that several batches
	// touched once, not once per batch: 40% more catch-up throughput.
	if _, err := wconn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 10000"); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: open %s: %w", cfg.Path, err)
	}
	if _, err := wconn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+checkpointTable+
		`(name TEXT PRIMARY KEY, position INTEGER NOT NULL)`); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: create checkpoints: %w", err)
	}
	// A checkpoint only moves forward: a doc write at or below its stored
	// version is ignored, so re-projecting into the same collection could
	// not undo anything anyway; a rebuild goes into a fresh collection
	// under a fresh checkpoint name.
	s.ckStmt, err = wconn.PrepareContext(ctx, `INSERT INTO `+checkpointTable+`(name, position) VALUES(?, ?)
		ON CONFLICT(name) DO UPDATE SET position = excluded.position WHERE excluded.position > position`)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("readstore: prepare checkpoint: %w", err)
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
	return s, nil
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
	for _, c := range s.colls {
		errs = append(errs, c.upsert.Close())
	}
	if s.ckStmt != nil {
		errs = append(errs, s.ckStmt.Close())
	}
	errs = append(errs, s.wconn.Close(), s.wdb.Close())
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
}

func (s *SQLiteStore) collection(name string) (*sqliteCollection, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.RLock()
	c := s.colls[name]
	s.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownCollection, name)
	}
	return c, nil
}

// column declarations carry the field type so Ensure can tell when a
// field changed type; SQLite derives the affinity from the substrings
// (TEXT → text, REAL → real, INT → integer).
func columnType(t FieldType) string {
	switch t {
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
// exist. Index names share SQLite's namespace with tables; the "rsx_"
// prefix keeps them apart from the "rs_" tables. (Two indexes would only
// share a name if field names themselves contained "__".)
func indexName(collection string, fields []string) string {
	return "rsx_" + collection + "__" + strings.Join(fields, "__")
}

func newSQLiteCollection(c Collection) *sqliteCollection {
	sc := &sqliteCollection{def: c, table: "rs_" + c.Name, pos: make(map[string]int, len(c.Fields))}
	for i, f := range c.Fields {
		sc.fields = append(sc.fields, sqliteField{name: f.Name, column: "f_" + f.Name, typ: f.Type})
		sc.pos[f.Name] = i
	}
	return sc
}

func (c *sqliteCollection) column(field string) string {
	if field == "id" {
		return "id"
	}
	return c.fields[c.pos[field]].column
}

// wantIndexes maps each declared index's name to its CREATE statement.
// Every index ends with id so that ORDER BY <declared keys>, id can be
// read straight off it, and leaves tombstones out (WHERE deleted = 0) so
// that a COUNT over its leading columns never has to visit the table.
func (c *sqliteCollection) wantIndexes() map[string]string {
	want := map[string]string{}
	for _, idx := range c.def.Indexes {
		cols := make([]string, 0, len(idx)+1)
		hasID := false
		for _, f := range idx {
			cols = append(cols, c.column(f))
			hasID = hasID || f == "id"
		}
		if !hasID {
			cols = append(cols, "id")
		}
		name := indexName(c.def.Name, idx)
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
func (s *SQLiteStore) Ensure(ctx context.Context, c Collection) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	sc := newSQLiteCollection(c)
	err := s.inTx(ctx, func() error { return s.migrate(ctx, sc) })
	if err != nil {
		return fmt.Errorf("ensure %s: %w", c.Name, err)
	}
	if sc.upsert, err = s.wconn.PrepareContext(ctx, sc.upsertSQL()); err != nil {
		return fmt.Errorf("ensure %s: prepare upsert: %w", c.Name, err)
	}
	s.mu.Lock()
	old := s.colls[c.Name]
	s.colls[c.Name] = sc
	s.mu.Unlock()
	if old != nil {
		old.upsert.Close()
	}
	return nil
}

func (s *SQLiteStore) migrate(ctx context.Context, sc *sqliteCollection) error {
	cols := []string{"id TEXT PRIMARY KEY", "version INTEGER NOT NULL", "deleted INTEGER NOT NULL DEFAULT 0", "data BLOB"}
	for _, f := range sc.fields {
		cols = append(cols, f.column+" "+columnType(f.typ))
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
		if !ok || columnType(sc.fields[i].typ) != typ {
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
	for _, col := range drop {
		if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", sc.table, col)); err != nil {
			return err
		}
	}
	for _, i := range add {
		f := sc.fields[i]
		if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", sc.table, f.column, columnType(f.typ))); err != nil {
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
	return nil
}

func (s *SQLiteStore) indexes(ctx context.Context, table string) ([]string, error) {
	rows, err := s.wconn.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND name LIKE 'rsx\_%' ESCAPE '\'`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
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

// upsertSQL writes a document or a tombstone; the WHERE makes the
// version guard part of the statement, so a stale write costs one index
// probe and changes nothing.
func (c *sqliteCollection) upsertSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s(id, version, deleted, data", c.table)
	for _, f := range c.fields {
		b.WriteString(", " + f.column)
	}
	b.WriteString(") VALUES(?, ?, ?, ?")
	for range c.fields {
		b.WriteString(", ?")
	}
	b.WriteString(") ON CONFLICT(id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, data = excluded.data")
	for _, f := range c.fields {
		fmt.Fprintf(&b, ", %s = excluded.%s", f.column, f.column)
	}
	fmt.Fprintf(&b, " WHERE excluded.version > %s.version", c.table)
	return b.String()
}

// inTx runs fn inside one write transaction on wconn. The transaction is
// driven by hand rather than with sql.Tx so the statements prepared on
// wconn are used as they are, with no per-batch re-wrapping.
func (s *SQLiteStore) inTx(ctx context.Context, fn func() error) error {
	if _, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		// Background: the rollback must run even when ctx is what failed.
		// Its error is dropped because SQLite may already have rolled back.
		s.wconn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if _, err := s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		s.wconn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	return nil
}

// Get returns the live document with the given id.
func (s *SQLiteStore) Get(ctx context.Context, collection, id string) (Doc, error) {
	c, err := s.collection(collection)
	if err != nil {
		return Doc{}, err
	}
	var version int64
	var data []byte
	err = s.rdb.QueryRowContext(ctx, "SELECT version, data FROM "+c.table+" WHERE id = ? AND deleted = 0", id).Scan(&version, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return Doc{}, fmt.Errorf("%w: %s %q", ErrNotFound, collection, id)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("get %s %q: %w", collection, id, err)
	}
	return Doc{ID: id, Version: uint64(version), Data: data}, nil
}

// Query returns a page of live documents and, if q.Count, how many match
// in all. Sorting ends with id in the direction of the last sort key (id
// ascending when q.Sort is empty): a single direction lets SQLite walk an
// index backwards for DESC instead of sorting, since every index ends
// with id. Page and count read the same snapshot.
func (s *SQLiteStore) Query(ctx context.Context, collection string, q Query) ([]Doc, int64, error) {
	c, err := s.collection(collection)
	if err != nil {
		return nil, 0, err
	}
	sq, err := c.buildQuery(q)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	docs, total, err := s.runQuery(ctx, sq, q)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s: %w", collection, err)
	}
	return docs, total, nil
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
	for rows.Next() {
		var id string
		var version int64
		var data []byte
		if err := rows.Scan(&id, &version, &data); err != nil {
			return nil, 0, err
		}
		docs = append(docs, Doc{ID: id, Version: uint64(version), Data: data})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, 0, err
	}
	total = -1
	if q.Count {
		if err := db.QueryRowContext(ctx, sq.count, sq.args...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	return docs, total, nil
}

// sqlQuery is a Query compiled for one collection.
type sqlQuery struct {
	page     string
	pageArgs []any // args plus limit and offset
	count    string
	args     []any
}

// buildQuery compiles q. Every column name comes from the declaration and
// every value is a bound parameter, so nothing from the caller is ever
// spliced into the SQL text. Tombstones are excluded with the literal
// "deleted = 0", which is what lets SQLite use the partial indexes.
func (c *sqliteCollection) buildQuery(q Query) (sqlQuery, error) {
	if q.Skip < 0 || q.Limit < 0 {
		return sqlQuery{}, fmt.Errorf("%w: negative skip %d or limit %d", ErrInvalidQuery, q.Skip, q.Limit)
	}
	var where strings.Builder
	where.WriteString(" WHERE deleted = 0")
	var args []any
	for _, cond := range q.Where {
		var err error
		if args, err = c.condition(&where, args, cond); err != nil {
			return sqlQuery{}, err
		}
	}

	var order strings.Builder
	order.WriteString(" ORDER BY ")
	desc := false
	byID := false
	for i, srt := range q.Sort {
		t, ok := c.def.FieldType(srt.Field)
		if !ok {
			return sqlQuery{}, fmt.Errorf("%w %q in sort", ErrUnknownField, srt.Field)
		}
		if t == StringList {
			return sqlQuery{}, fmt.Errorf("%w: cannot sort on list field %q", ErrInvalidQuery, srt.Field)
		}
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

// condition appends one " AND ..." term to w and its values to args.
func (c *sqliteCollection) condition(w *strings.Builder, args []any, cond Condition) ([]any, error) {
	if cond.Op == Text {
		text, ok := cond.Value.(string)
		if !ok {
			return nil, fmt.Errorf("%w: text search wants a string, got %T", ErrInvalidQuery, cond.Value)
		}
		if len(c.def.TextFields) == 0 {
			return nil, fmt.Errorf("%w: collection %s has no text fields", ErrInvalidQuery, c.def.Name)
		}
		if text == "" {
			return args, nil
		}
		pattern := "%" + likeEscaper.Replace(text) + "%"
		w.WriteString(" AND (")
		for i, f := range c.def.TextFields {
			if i > 0 {
				w.WriteString(" OR ")
			}
			w.WriteString(c.column(f) + ` LIKE ? ESCAPE '\'`)
			args = append(args, pattern)
		}
		w.WriteString(")")
		return args, nil
	}

	t, ok := c.def.FieldType(cond.Field)
	if !ok {
		return nil, fmt.Errorf("%w %q in filter", ErrUnknownField, cond.Field)
	}
	col := c.column(cond.Field)
	if cond.Value == nil {
		// nil asks about presence: Eq nil matches a missing or null
		// field, Ne nil a present one (MongoDB's meaning of null).
		switch cond.Op {
		case Eq:
			w.WriteString(" AND " + col + " IS NULL")
			return args, nil
		case Ne:
			w.WriteString(" AND " + col + " IS NOT NULL")
			return args, nil
		}
		return nil, fmt.Errorf("%w: %s on %q needs a value", ErrInvalidQuery, cond.Op, cond.Field)
	}

	switch cond.Op {
	case Eq, Ne:
		v, err := queryValue(cond.Field, t, cond.Value)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
		switch {
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
		return args, nil

	case In:
		list := reflect.ValueOf(cond.Value)
		if list.Kind() != reflect.Slice && list.Kind() != reflect.Array || list.Type().Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("%w: in on %q wants a list, got %T", ErrInvalidQuery, cond.Field, cond.Value)
		}
		if list.Len() == 0 {
			w.WriteString(" AND 0")
			return args, nil
		}
		if t == StringList {
			w.WriteString(" AND EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value IN (")
		} else {
			w.WriteString(" AND " + col + " IN (")
		}
		for i := range list.Len() {
			v, err := queryValue(cond.Field, t, list.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			if i > 0 {
				w.WriteString(", ")
			}
			w.WriteString("?")
			args = append(args, v)
		}
		if t == StringList {
			w.WriteString("))")
		} else {
			w.WriteString(")")
		}
		return args, nil

	case Gt, Gte, Lt, Lte:
		if t == StringList {
			return nil, fmt.Errorf("%w: %s on list field %q", ErrInvalidQuery, cond.Op, cond.Field)
		}
		v, err := queryValue(cond.Field, t, cond.Value)
		if err != nil {
			return nil, err
		}
		w.WriteString(" AND " + col + comparisons[cond.Op] + "?")
		return append(args, v), nil
	}
	return nil, fmt.Errorf("%w: unknown operator %q on %q", ErrInvalidQuery, cond.Op, cond.Field)
}

var comparisons = map[Op]string{Gt: " > ", Gte: " >= ", Lt: " < ", Lte: " <= "}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// queryValue converts a filter value to what the field's column holds.
// Strings are accepted for every type because filters arrive from URLs.
func queryValue(field string, t FieldType, v any) (any, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: field %q (%s): %v: %s", ErrInvalidQuery, field, t, v, why)
	}
	switch t {
	case String, StringList:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad("want a string")
	case Number:
		switch n := v.(type) {
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("not a number")
			}
			return f, nil
		case json.Number:
			f, err := n.Float64()
			if err != nil {
				return nil, bad("not a number")
			}
			return f, nil
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return float64(rv.Int()), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return float64(rv.Uint()), nil
		case reflect.Float32, reflect.Float64:
			f := rv.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("not a finite number")
			}
			return f, nil
		}
		return nil, bad("want a number")
	case Bool:
		switch b := v.(type) {
		case bool:
			return boolInt(b), nil
		case string:
			parsed, err := strconv.ParseBool(b)
			if err != nil {
				return nil, bad("not a boolean")
			}
			return boolInt(parsed), nil
		}
		return nil, bad("want a boolean")
	case Time:
		switch tv := v.(type) {
		case time.Time:
			return TimeKey(tv), nil
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, tv)
			if err != nil {
				return nil, bad("not an RFC 3339 time")
			}
			return TimeKey(parsed), nil
		}
		return nil, bad("want an RFC 3339 time")
	}
	return nil, bad("unsupported field type")
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Apply writes the batch and its checkpoint in one transaction. Every
// write's collection is checked before anything is written; a document
// that is not a JSON object, or whose declared field has the wrong JSON
// type, fails the whole batch: that is a projector bug, and storing it
// would make the field silently unqueryable.
func (s *SQLiteStore) Apply(ctx context.Context, b Batch) error {
	if len(b.Writes) == 0 && b.Checkpoint == nil {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	// colls cannot change while wmu is held, so no read lock is needed.
	var c *sqliteCollection
	maxFields := 0
	for i, w := range b.Writes {
		if c == nil || c.def.Name != w.Collection {
			if c = s.colls[w.Collection]; c == nil {
				return fmt.Errorf("apply write %d: %w %q", i, ErrUnknownCollection, w.Collection)
			}
			maxFields = max(maxFields, len(c.fields))
		}
	}
	// Executing row by row with a cancelable context would make the
	// driver start a goroutine per statement; ctx is checked between
	// rows instead.
	execCtx := context.WithoutCancel(ctx)
	args := make([]any, 4+maxFields)
	raw := make([][]byte, maxFields)
	err := s.inTx(ctx, func() error {
		c = nil
		for i := range b.Writes {
			w := &b.Writes[i]
			if err := ctx.Err(); err != nil {
				return err
			}
			if c == nil || c.def.Name != w.Collection {
				c = s.colls[w.Collection]
			}
			if err := c.bind(w, args, raw); err != nil {
				return fmt.Errorf("apply write %d (%s %q): %w", i, w.Collection, w.Doc.ID, err)
			}
			if _, err := c.upsert.ExecContext(execCtx, args[:4+len(c.fields)]...); err != nil {
				return fmt.Errorf("apply write %d (%s %q): %w", i, w.Collection, w.Doc.ID, err)
			}
		}
		if b.Checkpoint != nil {
			pos, err := int64Position(b.Checkpoint.Position)
			if err != nil {
				return fmt.Errorf("apply checkpoint %s: %w", b.Checkpoint.Name, err)
			}
			if _, err := s.ckStmt.ExecContext(execCtx, b.Checkpoint.Name, pos); err != nil {
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

func int64Position(v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("position %d does not fit SQLite's INTEGER", v)
	}
	return int64(v), nil
}

// bind fills args with the upsert's parameters for w.
func (c *sqliteCollection) bind(w *Write, args []any, raw [][]byte) error {
	if w.Doc.ID == "" {
		return errors.New("empty id")
	}
	version, err := int64Position(w.Doc.Version)
	if err != nil {
		return err
	}
	args[0], args[1] = w.Doc.ID, version
	if w.Delete {
		args[2], args[3] = int64(1), nil
		for i := range c.fields {
			args[4+i] = nil
		}
		return nil
	}
	if !json.Valid(w.Doc.Data) {
		return errors.New("data is not valid JSON")
	}
	if err := c.scan(w.Doc.Data, raw); err != nil {
		return err
	}
	args[2], args[3] = int64(0), []byte(w.Doc.Data)
	for i, f := range c.fields {
		if args[4+i], err = f.value(raw[i]); err != nil {
			return err
		}
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
		return TimeKey(t), nil
	case StringList:
		if raw[0] != '[' {
			return nil, bad()
		}
		// Kept as JSON text: json_each reads it for Eq, Ne and In.
		return string(raw), nil
	}
	return nil, bad()
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

// Checkpoint returns the stored position of the named projection, or 0.
func (s *SQLiteStore) Checkpoint(ctx context.Context, name string) (uint64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var pos int64
	err := s.rdb.QueryRowContext(ctx, "SELECT position FROM "+checkpointTable+" WHERE name = ?", name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return uint64(pos), nil
}

// Drop deletes the collection's table and forgets its declaration. The
// table goes even if this process never ensured it, so an operator can
// remove a collection an older version left behind; dropping a missing
// collection is not an error.
func (s *SQLiteStore) Drop(ctx context.Context, collection string) error {
	if !namePattern.MatchString(collection) {
		return fmt.Errorf("drop: %w %q", ErrUnknownCollection, collection)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	// Forget first: the upsert statement is closed before its table goes.
	s.mu.Lock()
	old := s.colls[collection]
	delete(s.colls, collection)
	s.mu.Unlock()
	if old != nil {
		old.upsert.Close()
	}
	if _, err := s.wconn.ExecContext(ctx, "DROP TABLE IF EXISTS rs_"+collection); err != nil {
		return fmt.Errorf("drop %s: %w", collection, err)
	}
	return nil
}

var _ Store = (*SQLiteStore)(nil)
