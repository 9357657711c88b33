package readstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"slices"
	"strings"
)

// A collection table carries three kinds of derived structures, kept by
// triggers in the transaction of every write, so they can never disagree
// with the rows and need no code on the write path:
//
//   - exact counts of its live documents, as a whole and per value of
//     each declared count group, in countTable: a counted query whose
//     conditions are exactly equalities on one group reads one row
//     instead of counting an index range (a COUNT over 1M index entries
//     is about 100 ms; the lookup is microseconds);
//   - an FTS5 index of its text fields, <table>__fts, for Text;
//   - for each list field that an index names, a table of (value, row)
//     pairs, <table>__l_<field>, because json_each can use no index.
//
// Tombstones (deleted = 1) are in none of them.

// countTable holds the counts of every collection table: tbl is the
// table, grp the comma-joined fields of the group ("" for the whole
// table) and key the JSON array of the group's column values.
const countTable = "rs__counts"

// derived describes a collection table's derived structures.
type derived struct {
	fts    string            // the FTS5 table, "" without text fields
	lists  map[string]string // list field → its pairs table
	groups [][]string        // count groups, the whole table ([]) first
	// ddl creates everything; rebuild fills it from the rows.
	ddl, rebuild []string
	// fills maps the rebuild statements that fill a structure row by row
	// (the text index, a list field's pairs) to the same statement over
	// a range of rowids (two parameters: after, up to), which syncDerived
	// runs range by range (see fillRows).
	fills map[string]string
	// triggers are the names of the triggers ddl creates; each name
	// holds a hash of all of ddl, so a changed declaration shows up as
	// a different set of names.
	triggers []string
	// temp creates the TEMP triggers that record count deltas; they live
	// on the write connection only, and are made again by every Ensure.
	temp []string
	// sig is the hash of all of it, kept in metaTable beside the table:
	// a table whose only derived structures are counts has no persistent
	// trigger whose name could tell.
	sig int64
}

// deltaTable collects, on the write connection, the count changes of the
// transaction under way; inTx adds them up into countTable before it
// commits. One upsert per group and key a transaction, instead of one per
// row and group, took a third off a ticket's write.
const deltaTable = "rs__count_deltas"

// flushCounts and clearDeltas are run by inTx before each commit.
const (
	flushCounts = `INSERT INTO main.` + countTable + `(tbl, grp, key, n) SELECT tbl, grp, key, SUM(d) FROM temp.` + deltaTable +
		` WHERE true GROUP BY tbl, grp, key ON CONFLICT(tbl, grp, key) DO UPDATE SET n = n + excluded.n`
	clearDeltas = `DELETE FROM temp.` + deltaTable
)

// derive plans c's derived structures.
func (c *sqliteCollection) derive() derived {
	d := derived{lists: map[string]string{}, fills: map[string]string{}}
	t := c.table
	if len(c.def.TextFields) > 0 {
		d.fts = t + "__fts"
	}
	for _, idx := range c.def.Indexes {
		for _, f := range idx {
			if f != "id" && c.fieldType(f) == StringList && d.lists[f] == "" {
				d.lists[f] = t + "__l_" + f
			}
		}
	}
	d.groups = append([][]string{{}}, c.def.Counts...)

	// One trigger runs every statement an insert or a delete needs (a
	// trigger's invocation costs more than its statements); updates get
	// one trigger per structure, each skipped unless its columns changed.
	var onInsert, onDelete []string
	var body []string // update trigger definitions without names yet
	kinds := []string{}
	var countInsert, countDelete []string

	// Counts: one trigger per group and event, each touching only rows
	// whose group key changed.
	for gi, g := range d.groups {
		grp := strings.Join(g, ",")
		// A group may hold one list field: a row then counts once under
		// each of its distinct values, which json_each yields as "j".
		list := ""
		for _, f := range g {
			if c.fieldType(f) == StringList {
				list = c.column(f)
			}
		}
		key := func(row string) string {
			cols := make([]string, len(g))
			for i, f := range g {
				cols[i] = row + "." + c.column(f)
				if c.column(f) == list {
					cols[i] = "j.value"
				}
			}
			return "json_array(" + strings.Join(cols, ", ") + ")"
		}
		values := func(row string) string {
			if list == "" {
				return ""
			}
			return fmt.Sprintf(" FROM (SELECT DISTINCT value FROM json_each(%s.%s) WHERE type = 'text') AS j", row, list)
		}
		delta := func(row string, d int) string {
			return fmt.Sprintf("INSERT INTO temp.%s(tbl, grp, key, d) SELECT '%s', '%s', %s, %d%s WHERE %s.deleted = 0;",
				deltaTable, t, grp, key(row), d, values(row), row)
		}
		inc := func(row string) string { return delta(row, 1) }
		dec := func(row string) string { return delta(row, -1) }
		changed := []string{"OLD.deleted IS NOT NEW.deleted"}
		for _, f := range g {
			changed = append(changed, fmt.Sprintf("OLD.%s IS NOT NEW.%s", c.column(f), c.column(f)))
		}
		countInsert = append(countInsert, inc("NEW"))
		countDelete = append(countDelete, dec("OLD"))
		d.temp = append(d.temp, fmt.Sprintf("CREATE TEMP TRIGGER %s__tc_u%d AFTER UPDATE ON main.%s WHEN %s BEGIN %s %s END",
			t, gi, t, strings.Join(changed, " OR "), dec("OLD"), inc("NEW")))
		cols := make([]string, len(g))
		for i, f := range g {
			cols[i] = "t." + c.column(f)
			if c.column(f) == list {
				cols[i] = "j.value"
			}
		}
		if list == "" {
			groupBy := ""
			if len(g) > 0 {
				groupBy = " GROUP BY " + strings.Join(cols, ", ")
			}
			d.rebuild = append(d.rebuild, fmt.Sprintf("INSERT INTO %s(tbl, grp, key, n) SELECT '%s', '%s', json_array(%s), COUNT(*) FROM %s AS t WHERE t.deleted = 0%s",
				countTable, t, grp, strings.Join(cols, ", "), t, groupBy))
		} else {
			d.rebuild = append(d.rebuild, fmt.Sprintf("INSERT INTO %s(tbl, grp, key, n) SELECT '%s', '%s', json_array(%s), COUNT(DISTINCT t.rowid) FROM %s AS t, json_each(t.%s) AS j WHERE t.deleted = 0 AND j.type = 'text' GROUP BY %s",
				countTable, t, grp, strings.Join(cols, ", "), t, list, strings.Join(cols, ", ")))
		}
	}

	if d.fts != "" {
		cols := make([]string, len(c.def.TextFields))
		for i, f := range c.def.TextFields {
			cols[i] = c.column(f)
		}
		list := strings.Join(cols, ", ")
		vals := func(row string) string {
			out := make([]string, len(cols))
			for i, col := range cols {
				out[i] = row + "." + col
			}
			return strings.Join(out, ", ")
		}
		// Contentless with deletes: the rows keep the text, the index
		// only the tokens, and a row leaves it by rowid alone.
		d.ddl = append(d.ddl, fmt.Sprintf("CREATE VIRTUAL TABLE %s USING fts5(%s, content='', contentless_delete=1, detail=none, tokenize='unicode61')", d.fts, list))
		changed := []string{"OLD.deleted IS NOT NEW.deleted"}
		for _, col := range cols {
			changed = append(changed, fmt.Sprintf("OLD.%s IS NOT NEW.%s", col, col))
		}
		onInsert = append(onInsert, fmt.Sprintf("INSERT INTO %s(rowid, %s) VALUES(NEW.rowid, %s);", d.fts, list, vals("NEW")))
		onDelete = append(onDelete, fmt.Sprintf("DELETE FROM %s WHERE rowid = OLD.rowid;", d.fts))
		body = append(body, fmt.Sprintf("AFTER UPDATE ON %s WHEN %s BEGIN DELETE FROM %s WHERE rowid = OLD.rowid; INSERT INTO %s(rowid, %s) SELECT NEW.rowid, %s WHERE NEW.deleted = 0; END",
			t, strings.Join(changed, " OR "), d.fts, d.fts, list, vals("NEW")))
		kinds = append(kinds, "fts_upd")
		fill := fmt.Sprintf("INSERT INTO %s(rowid, %s) SELECT rowid, %s FROM %s WHERE deleted = 0", d.fts, list, list, t)
		d.rebuild = append(d.rebuild, fill)
		d.fills[fill] = fill + " AND rowid > ? AND rowid <= ?"
	}

	fields := make([]string, 0, len(d.lists))
	for f := range d.lists {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		lt, col := d.lists[f], c.column(f)
		d.ddl = append(d.ddl,
			fmt.Sprintf("CREATE TABLE %s(value TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(value, rid)) WITHOUT ROWID", lt),
			fmt.Sprintf("CREATE INDEX %s_rid ON %s(rid)", lt, lt))
		ins := func(row string) string {
			return fmt.Sprintf("INSERT INTO %s(value, rid) SELECT DISTINCT value, %s.rowid FROM json_each(%s.%s) WHERE %s.deleted = 0 AND type = 'text';", lt, row, row, col, row)
		}
		onInsert = append(onInsert, ins("NEW"))
		onDelete = append(onDelete, fmt.Sprintf("DELETE FROM %s WHERE rid = OLD.rowid;", lt))
		body = append(body, fmt.Sprintf("AFTER UPDATE ON %s WHEN OLD.deleted IS NOT NEW.deleted OR OLD.%s IS NOT NEW.%s BEGIN DELETE FROM %s WHERE rid = OLD.rowid; %s END", t, col, col, lt, ins("NEW")))
		kinds = append(kinds, "l_"+f+"_upd")
		fill := fmt.Sprintf("INSERT INTO %s(value, rid) SELECT DISTINCT j.value, t.rowid FROM %s AS t, json_each(t.%s) AS j WHERE t.deleted = 0 AND j.type = 'text'", lt, t, col)
		d.rebuild = append(d.rebuild, fill)
		d.fills[fill] = fill + " AND t.rowid > ? AND t.rowid <= ?"
	}

	if len(onInsert) > 0 {
		body = append(body,
			fmt.Sprintf("AFTER INSERT ON %s WHEN NEW.deleted = 0 BEGIN %s END", t, strings.Join(onInsert, " ")),
			fmt.Sprintf("AFTER DELETE ON %s BEGIN %s END", t, strings.Join(onDelete, " ")))
		kinds = append(kinds, "ins", "del")
	}
	d.temp = append(d.temp,
		fmt.Sprintf("CREATE TEMP TRIGGER %s__tc_ins AFTER INSERT ON main.%s WHEN NEW.deleted = 0 BEGIN %s END", t, t, strings.Join(countInsert, " ")),
		fmt.Sprintf("CREATE TEMP TRIGGER %s__tc_del AFTER DELETE ON main.%s BEGIN %s END", t, t, strings.Join(countDelete, " ")))
	h := fnv.New32a()
	for _, s := range slices.Concat(d.ddl, body, d.temp, d.rebuild) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	d.sig = int64(h.Sum32())
	sum := fmt.Sprintf("%08x", h.Sum32())
	for i, b := range body {
		name := fmt.Sprintf("%s__trg_%s_%s", t, sum, kinds[i])
		d.triggers = append(d.triggers, name)
		d.ddl = append(d.ddl, "CREATE TRIGGER "+name+" "+b)
	}
	return d
}

// syncDerived makes the table's derived structures match d: when the set
// of triggers differs from d's (a new table, a changed declaration, a
// file written by another version), everything derived is dropped,
// created again and refilled from the rows. It runs inside migrate's
// transaction, after the table's columns are in place.
func (s *SQLiteStore) syncDerived(ctx context.Context, table string, d derived) error {
	return s.syncDerivedIn(ctx, table, d, func(fn func() error) error { return fn() })
}

// syncDerivedIn is syncDerived with each of its steps run by run: at once
// inside the caller's transaction, or (a bulk load's finish) each in a
// transaction of its own, the writer free in between. A crash between
// two steps leaves the signature unrecorded, so the next sync builds the
// structures again.
func (s *SQLiteStore) syncDerivedIn(ctx context.Context, table string, d derived, run func(func() error) error) error {
	var stale bool
	err := run(func() error {
		have, err := s.schemaNames(ctx, "trigger", table)
		if err != nil {
			return err
		}
		slices.Sort(have)
		want := slices.Sorted(slices.Values(d.triggers))
		var sig int64
		err = s.wconn.QueryRowContext(ctx, `SELECT value FROM `+metaTable+` WHERE key = ?`, "derived:"+table).Scan(&sig)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stale = !slices.Equal(have, want) || sig != d.sig
		if stale {
			return s.dropDerived(ctx, table)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if stale {
		for _, stmt := range append(slices.Clone(d.ddl), d.rebuild...) {
			if ranged, ok := d.fills[stmt]; ok {
				if err := s.fillByRanges(ctx, table, ranged, run); err != nil {
					return fmt.Errorf("derived structures of %s: %w", table, err)
				}
				continue
			}
			if err := run(func() error {
				_, err := s.wconn.ExecContext(ctx, stmt)
				return err
			}); err != nil {
				return fmt.Errorf("derived structures of %s: %w", table, err)
			}
		}
		if err := run(func() error {
			_, err := s.wconn.ExecContext(ctx, `INSERT OR REPLACE INTO `+metaTable+`(key, value) VALUES(?, ?)`, "derived:"+table, d.sig)
			return err
		}); err != nil {
			return err
		}
	}
	// The TEMP triggers are the write connection's own: made again by
	// every Ensure, in every process.
	return run(func() error {
		if err := s.dropTempTriggers(ctx, table); err != nil {
			return err
		}
		for _, stmt := range d.temp {
			if _, err := s.wconn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("count triggers of %s: %w", table, err)
			}
		}
		return nil
	})
}

// fillRows is how many rowids one step of a fill covers. Filled in one
// statement, the text index of 200,000 tickets held the writer for
// 0.9 s at a bulk load's finish, and every live write waited for it; in
// steps of 25,000 rows each holds it about a tenth of a second.
var fillRows int64 = 25_000

// fillByRanges runs a fill statement (see derived.fills) over the table's
// rowids, fillRows at a time, each step through run.
func (s *SQLiteStore) fillByRanges(ctx context.Context, table, ranged string, run func(func() error) error) error {
	var last int64
	if err := run(func() error {
		return s.wconn.QueryRowContext(ctx, "SELECT COALESCE(MAX(rowid), 0) FROM "+table).Scan(&last)
	}); err != nil {
		return err
	}
	for from := int64(0); from < last; from += fillRows {
		if err := run(func() error {
			_, err := s.wconn.ExecContext(ctx, ranged, from, from+fillRows)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// dropTempTriggers drops the write connection's TEMP triggers on table.
func (s *SQLiteStore) dropTempTriggers(ctx context.Context, table string) error {
	names, err := s.queryNames(ctx, `SELECT name FROM sqlite_temp_schema WHERE type = 'trigger' AND tbl_name = ?`, table)
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, err := s.wconn.ExecContext(ctx, "DROP TRIGGER IF EXISTS temp."+quoteName(name)); err != nil {
			return err
		}
	}
	return nil
}

// dropDerived removes every trigger on table, its derived tables and its
// counts. Column changes run between a drop and a create, since SQLite
// refuses to drop a column a trigger names.
func (s *SQLiteStore) dropDerived(ctx context.Context, table string) error {
	triggers, err := s.schemaNames(ctx, "trigger", table)
	if err != nil {
		return err
	}
	for _, name := range triggers {
		if _, err := s.wconn.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+quoteName(name)); err != nil {
			return err
		}
	}
	// The FTS table goes first: its shadow tables share the prefix and
	// go with it.
	for _, name := range []string{table + "__fts"} {
		if _, err := s.wconn.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteName(name)); err != nil {
			return err
		}
	}
	lists, err := s.queryNames(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE ? ESCAPE '\'`,
		likeEscaper.Replace(table+"__l_")+"%")
	if err != nil {
		return err
	}
	for _, name := range lists {
		if _, err := s.wconn.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteName(name)); err != nil {
			return err
		}
	}
	if err := s.dropTempTriggers(ctx, table); err != nil {
		return err
	}
	for _, stmt := range []string{
		"DELETE FROM temp." + deltaTable + " WHERE tbl = ?",
		"DELETE FROM " + countTable + " WHERE tbl = ?",
		"DELETE FROM " + metaTable + " WHERE key = 'derived:' || ?",
	} {
		if _, err := s.wconn.ExecContext(ctx, stmt, table); err != nil {
			return err
		}
	}
	return nil
}

// schemaNames lists the names of the schema objects of a type on table.
func (s *SQLiteStore) schemaNames(ctx context.Context, typ, table string) ([]string, error) {
	return s.queryNames(ctx, `SELECT name FROM sqlite_schema WHERE type = ? AND tbl_name = ?`, typ, table)
}

// queryNames runs a query of one text column on the write connection and
// returns its values (schema object names).
func (s *SQLiteStore) queryNames(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.wconn.QueryContext(ctx, query, args...)
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

// quoteName quotes an SQL identifier read from the file.
func quoteName(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// countLookup returns the SQL and arguments that read q's exact total
// from countTable, or ok false when q's conditions are not exactly
// equalities on the fields of one kept group.
func (c *sqliteCollection) countLookup(where []Condition) (query string, args []any, ok bool) {
	byField := make(map[string]any, len(where))
	for _, cond := range where {
		if cond.Op != Eq || cond.Field == "" || cond.Field == "id" {
			return "", nil, false
		}
		if _, dup := byField[cond.Field]; dup {
			return "", nil, false
		}
		byField[cond.Field] = cond.Value
	}
	for _, g := range c.derived.groups {
		if len(g) != len(byField) {
			continue
		}
		vals := make([]any, 0, len(g))
		for _, f := range g {
			v, ok := byField[f]
			if !ok || (v == nil && c.fieldType(f) == StringList) {
				// A missing list is counted under none of its values.
				break
			}
			vals = append(vals, sqlValue(v))
		}
		if len(vals) != len(g) {
			continue
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
		q := "SELECT COALESCE((SELECT n FROM " + countTable + " WHERE tbl = ? AND grp = ? AND key = json_array(" + marks + ")), 0)"
		return q, append([]any{c.table, strings.Join(g, ",")}, vals...), true
	}
	return "", nil, false
}

// ftsQuery is the FTS5 query for words: each a quoted prefix, all
// required.
func ftsQuery(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"` + strings.ReplaceAll(w, `"`, `""`) + `"*`)
	}
	return b.String()
}

// BeginBulk prepares a collection for a load from scratch. If its table
// is empty, its secondary indexes and derived structures are dropped, to
// be built once from the loaded rows by finish: sorting a million rows
// into an index at the end is several times faster than inserting into
// a dozen indexes, counts, a text index and a tag index row by row. So
// are a generation's that is not live, rows or none: no query reads it,
// and a rebuild resumed after a crash goes on loading it that way: one of
// 500,000 ticket events resumed at a third finished in 4.6-4.7 s, against
// 6.3-8.1 s with its indexes kept row by row (over HTTP, with writers
// beside it, 5,000-12,000 events/s against 43,000 before the crash). A
// live table that holds rows is left as
// it is, and finish does nothing. Until
// finish, queries on the collection are slow and text and tag matches
// find nothing: its projection is not caught up, so the query API does
// not serve it. After a crash before finish, the next Ensure builds what
// is missing.
func (s *SQLiteStore) BeginBulk(ctx context.Context, collection string) (finish func(context.Context) error, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.RLock()
	c := s.names[collection]
	s.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("bulk %s: %w", collection, ErrUnknownCollection)
	}
	noop := func(context.Context) error { return nil }
	if s.liveGen(c.base) == c.gen {
		var one int
		switch err := s.wconn.QueryRowContext(ctx, "SELECT 1 FROM "+c.table+" LIMIT 1").Scan(&one); {
		case err == nil:
			return noop, nil
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("bulk %s: %w", collection, err)
		}
	}
	err = s.inTx(ctx, func() error {
		for name := range c.wantIndexes() {
			if _, err := s.wconn.ExecContext(ctx, "DROP INDEX IF EXISTS "+name); err != nil {
				return err
			}
		}
		return s.dropDerived(ctx, c.table)
	})
	if err != nil {
		return nil, fmt.Errorf("bulk %s: %w", collection, err)
	}
	return func(ctx context.Context) error {
		// One transaction per index, so that the checkpointer copies each
		// index's pages back into the database, on the other core, while
		// the next one is sorted. In one transaction the 15 indexes of
		// 200,000 tickets left a WAL of 330 MB for the next write to
		// checkpoint, 1.3 s with the writer waiting (a rebuild's switch).
		// A crash between two of them leaves indexes missing, which the
		// next Ensure builds, as after a crash before finish.
		//
		// The writer is taken for one index at a time, not for them all:
		// the live projections' batches, which wait for it, go in between
		// (held across the 15 indexes and the text index of 200,000
		// tickets, every live write waited seconds). A step yields after
		// unlocking: Unlock readies the waiting writer, but without a
		// yield the next step took the lock again first, and the live
		// write waited two steps.
		//
		// Each step wakes the checkpointer, which copies the WAL the
		// step grew (20–50 MB an index) back on the other core while
		// the next index is sorted; the writer restarts the WAL only
		// past bulkWALLimit meanwhile, a few MB left to copy. When each
		// step restarted its own WAL, the copies took 0.8 s of the 4.6 s
		// that the indexes of 200,000 tickets took, on the writer's core.
		//
		// A step runs fn with a page cache of bulkCacheKiB, which makes
		// SQLite sort an index in small runs; a nil fn only checks the
		// WAL.
		step := func(fn func() error) error {
			err := func() error {
				s.wmu.Lock()
				defer s.wmu.Unlock()
				if s.closed.Load() {
					return ErrClosed
				}
				s.checkWAL(ctx)
				if fn == nil {
					return nil
				}
				if err := s.setWriterCache(ctx, bulkCacheKiB); err != nil {
					return err
				}
				err := s.inTx(ctx, fn)
				// The live writes that go in between keep their cache.
				return errors.Join(err, s.setWriterCache(ctx, s.cacheKiB))
			}()
			select {
			case s.checkpointNow <- struct{}{}:
			default: // a wake-up is due already
			}
			runtime.Gosched()
			return err
		}
		build := func() error {
			s.finishing.Add(1)
			defer s.finishing.Add(-1)
			for _, stmt := range c.wantIndexes() {
				if err := step(func() error {
					_, err := s.wconn.ExecContext(ctx, stmt)
					return err
				}); err != nil {
					return err
				}
			}
			return s.syncDerivedIn(ctx, c.table, c.derived, step)
		}
		err := build()
		if err == nil {
			// A last step with nothing to run copies back a WAL left
			// past walHardLimit, rather than the next live write.
			err = step(nil)
		}
		if err != nil {
			return fmt.Errorf("finish bulk %s: %w", collection, err)
		}
		return nil
	}, nil
}

// setWriterCache sets the writer's page cache to kib KiB. It runs on
// wconn under wmu.
func (s *SQLiteStore) setWriterCache(ctx context.Context, kib int) error {
	_, err := s.wconn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", kib))
	return err
}
