package readstore

import (
	"context"
	"fmt"
	"strings"
)

// This file opens a few internals to the tests in package readstore_test.
// Those tests are external because they run readstoretest, which imports
// this package.

// QueryPlan compiles q for collection exactly as Query does and returns
// the page and count statements with SQLite's plan for each.
func (s *SQLiteStore) QueryPlan(collection string, q Query) (page, pagePlan, count, countPlan string, err error) {
	c, err := s.acquire(collection)
	if err != nil {
		return "", "", "", "", err
	}
	defer c.readers.RUnlock()
	if q, err = check(c.def, q); err != nil {
		return "", "", "", "", err
	}
	driven, err := s.smallMatchSet(context.Background(), c, q.Where)
	if err != nil {
		return "", "", "", "", err
	}
	sq, err := c.buildQuery(q, driven)
	if err != nil {
		return "", "", "", "", err
	}
	if pagePlan, err = s.explain(sq.page, sq.pageArgs); err != nil {
		return "", "", "", "", err
	}
	if countPlan, err = s.explain(sq.count, sq.countArgs); err != nil {
		return "", "", "", "", err
	}
	return sq.page, pagePlan, sq.count, countPlan, nil
}

func (s *SQLiteStore) explain(query string, args []any) (string, error) {
	rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}

// ScanFields runs the top-level field scanner Apply uses on data, for a
// collection declaring the given String fields.
func ScanFields(fields []string, data []byte) ([][]byte, error) {
	c := Collection{Name: "f"}
	for _, f := range fields {
		c.Fields = append(c.Fields, Field{Name: f})
	}
	sc := newSQLiteCollection(c, "f", 1)
	raw := make([][]byte, len(sc.fields))
	err := sc.scan(data, raw)
	return raw, err
}

// SetProbeLimit sets the match-set size below which text and list
// conditions drive a query, for tests of both plans, and returns a
// function that restores it.
func SetProbeLimit(n int) (restore func()) {
	old := probeLimit
	probeLimit = n
	return func() { probeLimit = old }
}

// SetFillRows sets how many rows one step of a bulk load's fills covers
// until the test ends.
func SetFillRows(tb interface{ Cleanup(func()) }, n int64) {
	old := fillRows
	fillRows = n
	tb.Cleanup(func() { fillRows = old })
}

// SetBulkWALLimit sets the WAL size past which a bulk load's finish
// restarts the WAL, until the test ends.
func SetBulkWALLimit(tb interface{ Cleanup(func()) }, n int64) {
	old := bulkWALLimit
	bulkWALLimit = n
	tb.Cleanup(func() { bulkWALLimit = old })
}

// WriterCacheKiB returns the writer connection's page cache in KiB.
func (s *SQLiteStore) WriterCacheKiB(ctx context.Context) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var n int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&n); err != nil {
		return 0, err
	}
	return -n, nil
}

// ApplyAfter is Apply with between run after the writes are bound and
// before the writer is taken, where another write may change the
// collections.
func (s *SQLiteStore) ApplyAfter(ctx context.Context, b Batch, between func()) error {
	colls, args, err := s.bindAll(b.Writes)
	if err != nil {
		return err
	}
	between()
	return s.applyBound(ctx, b, colls, args)
}

// MemstatusRC returns what turning SQLite's memory statistics off
// answered.
func MemstatusRC() int { return memstatusRC }
