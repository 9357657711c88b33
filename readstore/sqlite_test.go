package readstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asmcpu "github.com/segmentio/asm/cpu"
	"github.com/segmentio/asm/cpu/x86"

	"agentdesk/readstore"
	"agentdesk/readstore/readstoretest"
)

func openTestSQLite(tb testing.TB, path string) *readstore.SQLiteStore {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "read.db")
	}
	s, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: path})
	if err != nil {
		tb.Fatalf("OpenSQLite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteAcceptance(t *testing.T) {
	readstoretest.Run(t, func(t *testing.T) readstore.Store { return openTestSQLite(t, "") })
}

// TestSQLiteAcceptanceLargeMatchSets runs the suite again as if every
// text and list match set were large, so the plans that walk an index and
// probe the set are checked too (the suite's sets are all small).
func TestSQLiteAcceptanceLargeMatchSets(t *testing.T) {
	defer readstore.SetProbeLimit(0)()
	readstoretest.Run(t, func(t *testing.T) readstore.Store { return openTestSQLite(t, "") })
}

// ver is a version or position as projections write them.
func ver(n int) string { return fmt.Sprintf("%032x", n) }

const itemsName = "items"

// items is a small collection for the SQLite-only tests.
func items() readstore.Collection {
	return readstore.Collection{
		Name: itemsName,
		Fields: []readstore.Field{
			{Name: "owner", Type: readstore.String},
			{Name: "score", Type: readstore.Number},
			{Name: "active", Type: readstore.Bool},
			{Name: "created_at", Type: readstore.Time},
			{Name: "tags", Type: readstore.StringList},
		},
		Indexes: [][]string{{"owner", "created_at"}},
	}
}

func item(tb testing.TB, id string, version string, fields map[string]any) readstore.Write {
	tb.Helper()
	m := map[string]any{"id": id}
	for k, v := range fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return readstore.Write{Collection: itemsName, Doc: readstore.Doc{ID: id, Version: version, Data: data}}
}

func apply(tb testing.TB, s readstore.Store, b readstore.Batch) {
	tb.Helper()
	if err := s.Apply(context.Background(), b); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

func wantVersion(tb testing.TB, s readstore.Store, collection, id, version string) readstore.Doc {
	tb.Helper()
	d, err := s.Get(context.Background(), collection, id)
	if err != nil {
		tb.Fatalf("Get %s %s: %v", collection, id, err)
	}
	if d.Version != version {
		tb.Fatalf("Get %s %s: version %q; want %q", collection, id, d.Version, version)
	}
	return d
}

func wantMissing(tb testing.TB, s readstore.Store, collection, id string) {
	tb.Helper()
	if d, err := s.Get(context.Background(), collection, id); !errors.Is(err, readstore.ErrNotFound) {
		tb.Fatalf("Get %s %s = %+v, %v; want ErrNotFound", collection, id, d, err)
	}
}

func wantCheckpoint(tb testing.TB, s readstore.Store, name, want string) {
	tb.Helper()
	got, err := s.Checkpoint(context.Background(), name)
	if err != nil || got != want {
		tb.Fatalf("Checkpoint %s = %q, %v; want %q", name, got, err, want)
	}
}

func ids(tb testing.TB, s readstore.Store, collection string, q readstore.Query) []string {
	tb.Helper()
	docs, _, err := s.Query(context.Background(), collection, q)
	if err != nil {
		tb.Fatalf("Query %s %+v: %v", collection, q, err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func TestSQLiteConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  readstore.SQLiteConfig
		want []string // substrings of the error; none means valid
	}{
		{"valid", readstore.SQLiteConfig{Path: "read.db"}, nil},
		{"no path", readstore.SQLiteConfig{}, []string{"Path is required"}},
		{"memory", readstore.SQLiteConfig{Path: ":memory:"}, []string{"in-memory"}},
		{"query string", readstore.SQLiteConfig{Path: "read.db?mode=ro"}, []string{"must not contain '?'"}},
		{"all joined", readstore.SQLiteConfig{ReadConns: -1, CacheKiB: -1, BusyTimeout: -time.Second},
			[]string{"Path is required", "ReadConns", "CacheKiB", "BusyTimeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil; want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q; want it to mention %q", err, w)
				}
			}
		})
	}
}

// benchTickets mirrors the tickets read model's declaration.
func benchTickets() readstore.Collection {
	return readstore.Collection{
		Name: "tickets",
		Fields: []readstore.Field{
			{Name: "company_id", Type: readstore.String},
			{Name: "title", Type: readstore.String},
			{Name: "description", Type: readstore.String},
			{Name: "priority", Type: readstore.String},
			{Name: "status", Type: readstore.String},
			{Name: "requester_id", Type: readstore.String},
			{Name: "assignee_id", Type: readstore.String},
			{Name: "tags", Type: readstore.StringList},
			{Name: "comment_count", Type: readstore.Number},
			{Name: "created_at", Type: readstore.Time},
			{Name: "updated_at", Type: readstore.Time},
			{Name: "last_activity_at", Type: readstore.Time},
		},
		Indexes: [][]string{
			{"company_id", "created_at"},
			{"company_id", "status", "created_at"},
			{"company_id", "requester_id", "created_at"},
			{"company_id", "assignee_id", "created_at"},
			{"company_id", "updated_at"},
		},
		TextFields: []string{"title", "description"},
	}
}

var ticketStatuses = []string{"open", "in_progress", "resolved", "closed"}

// ticketID is a UUID-like id, random in order as UUIDv4 ids are, so the
// primary key sees the scattered inserts it sees in production.
func ticketID(i int) string {
	x := uint64(i) + 0x9e3779b97f4a7c15 // splitmix64
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", x>>32, x>>16&0xffff, x>>4&0xfff, x&0xfff, i)
}

// companyID puts one ticket in ten in bigCompany and spreads the rest
// over 90 other companies.
func companyID(i int) string {
	if i%10 == 0 {
		return bigCompany
	}
	return fmt.Sprintf("0c0e0000-0000-4000-8000-%012d", i%90)
}

const bigCompany = "0c0e0000-0000-4000-8000-b16b16b16b16"

// ticketJSON is a realistic ticket document of about 700 bytes. It is
// written by hand because encoding a map would dominate the seeding time.
func ticketJSON(i int, company string) json.RawMessage {
	// Tickets are stored in the order they were opened, as in a catch-up.
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	user := func(b []byte, n int) []byte { return fmt.Appendf(b, `"usr-%06d"`, n) }
	ts := func(b []byte, t time.Time) []byte {
		return strconv.AppendQuote(b, t.Format(time.RFC3339Nano))
	}
	b := make([]byte, 0, 768)
	b = fmt.Appendf(b, `{"id":%q,"company_id":%q,`, ticketID(i), company)
	b = fmt.Appendf(b, `"title":"Printer on floor %d is jammed again (%d)",`, i%40, i)
	b = append(b, `"description":"The printer shows error E-42 after every third page; restarting it helps for an hour or so.",`...)
	b = fmt.Appendf(b, `"priority":%q,"status":%q,`, []string{"low", "normal", "high", "urgent"}[i%4], ticketStatuses[i*31%4])
	b = append(b, `"requester_id":`...)
	b = user(b, i*7%5000)
	b = append(b, `,"assignee_id":`...)
	b = user(b, i%50)
	b = fmt.Appendf(b, `,"tags":["hardware",%q],"comment_count":%d,"created_by":`, []string{"printer", "network", "access"}[i%3], i%17)
	b = user(b, i*7%5000)
	b = append(b, `,"created_at":`...)
	b = ts(b, at)
	b = append(b, `,"updated_at":`...)
	b = ts(b, at.Add(time.Hour))
	b = append(b, `,"last_activity_at":`...)
	b = ts(b, at.Add(2*time.Hour))
	b = append(b, `,"revision":3}`...)
	return b
}

// seedTickets stores n tickets in batches, like a projection catch-up.
func seedTickets(tb testing.TB, s *readstore.SQLiteStore, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := s.Ensure(ctx, benchTickets()); err != nil {
		tb.Fatalf("Ensure: %v", err)
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		b := readstore.Batch{Checkpoint: &readstore.Checkpoint{Name: "tickets", Position: ver(start + batch)}}
		for i := start; i < min(start+batch, n); i++ {
			b.Writes = append(b.Writes, readstore.Write{Collection: "tickets", Doc: readstore.Doc{ID: ticketID(i), Version: ver(i + 1), Data: ticketJSON(i, companyID(i))}})
		}
		if err := s.Apply(ctx, b); err != nil {
			tb.Fatalf("Apply: %v", err)
		}
	}
}

// listQuery is the tickets list React Admin asks for most.
func listQuery(desc bool) readstore.Query {
	return readstore.Query{
		Where: []readstore.Condition{
			{Field: "company_id", Op: readstore.Eq, Value: bigCompany},
			{Field: "status", Op: readstore.Eq, Value: "open"},
		},
		Sort:  []readstore.Sort{{Field: "created_at", Desc: desc}},
		Limit: 25,
		Count: true,
	}
}

// TestSQLiteListQueryUsesIndex checks that the tickets list reads its page
// straight off the (company_id, status, created_at) index, in either
// direction and without a sort step, and counts from the index alone; in
// generation 2 too, whose indexes have names of their own.
func TestSQLiteListQueryUsesIndex(t *testing.T) {
	s := openTestSQLite(t, "")
	seedTickets(t, s, 2000)
	gen2 := benchTickets()
	gen2.Name = readstore.Generation("tickets", 2)
	if err := s.Ensure(t.Context(), gen2); err != nil {
		t.Fatal(err)
	}
	var b readstore.Batch
	for i := range 200 {
		b.Writes = append(b.Writes, readstore.Write{Collection: gen2.Name, Doc: readstore.Doc{ID: ticketID(i), Version: ver(i + 1), Data: ticketJSON(i, companyID(i))}})
	}
	apply(t, s, b)
	for _, tc := range []struct{ collection, index string }{
		{"tickets", "rsx_tickets__company_id__status__created_at"},
		{gen2.Name, "rsxg2_tickets__company_id__status__created_at"},
	} {
		for _, desc := range []bool{true, false} {
			page, pagePlan, count, countPlan, err := s.QueryPlan(tc.collection, listQuery(desc))
			if err != nil {
				t.Fatalf("QueryPlan: %v", err)
			}
			t.Logf("page:  %s", page)
			t.Logf("count: %s", count)
			if !strings.Contains(pagePlan, "USING INDEX "+tc.index+" ") || strings.Contains(pagePlan, "TEMP B-TREE") {
				t.Errorf("%s desc=%v: page plan:\n%s\nwant a search on %s without a temp b-tree", tc.collection, desc, pagePlan, tc.index)
			}
			if !strings.Contains(countPlan, "USING COVERING INDEX "+tc.index+" ") {
				t.Errorf("%s: count plan:\n%s\nwant a covering search on %s", tc.collection, countPlan, tc.index)
			}
		}
	}

	// And the answer is right.
	docs, total, err := s.Query(t.Context(), "tickets", listQuery(true))
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for i := 0; i < 2000; i += 10 {
		if ticketStatuses[i*31%4] == "open" {
			want++
		}
	}
	if total != want || len(docs) != 25 {
		t.Fatalf("list = %d docs, total %d; want 25 docs, total %d", len(docs), total, want)
	}
	var prev string
	for _, d := range docs {
		var tk struct {
			CreatedAt string `json:"created_at"`
		}
		if err := json.Unmarshal(d.Data, &tk); err != nil {
			t.Fatal(err)
		}
		at := readstore.TimeKey(mustTime(t, tk.CreatedAt))
		if prev != "" && at > prev {
			t.Fatalf("created_at %s after %s in a DESC list", at, prev)
		}
		prev = at
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return tm
}

// TestSQLiteApplyRollsBack checks that a batch failing half-way stores
// nothing, checkpoint included: SQLite applies a batch in one
// transaction, which the contract does not ask for, so the acceptance
// suite cannot check it.
func TestSQLiteApplyRollsBack(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "g1", ver(5), map[string]any{"score": 1})}, Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(5)}})
	for name, bad := range map[string]readstore.Write{
		"number as text":     item(t, "b1", ver(6), map[string]any{"score": "x"}),
		"bad time":           item(t, "b1", ver(6), map[string]any{"created_at": "yesterday"}),
		"bool as number":     item(t, "b1", ver(6), map[string]any{"active": 1}),
		"list as string":     item(t, "b1", ver(6), map[string]any{"tags": "a"}),
		"string as list":     item(t, "b1", ver(6), map[string]any{"owner": []string{"a"}}),
		"invalid json":       {Collection: itemsName, Doc: readstore.Doc{ID: "b1", Version: ver(6), Data: json.RawMessage(`{"owner":`)}},
		"not an object":      {Collection: itemsName, Doc: readstore.Doc{ID: "b1", Version: ver(6), Data: json.RawMessage(`[1]`)}},
		"no data":            {Collection: itemsName, Doc: readstore.Doc{ID: "b1", Version: ver(6)}},
		"empty id":           item(t, "", ver(6), nil),
		"unknown collection": {Collection: "items_missing", Doc: readstore.Doc{ID: "b1", Version: ver(6), Data: json.RawMessage(`{}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			b := readstore.Batch{
				Writes: []readstore.Write{
					item(t, "g1", ver(6), map[string]any{"score": 2}),
					item(t, "g2", ver(6), nil),
					bad,
				},
				Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(6)},
			}
			if err := s.Apply(ctx, b); err == nil {
				t.Fatal("Apply = nil; want an error")
			}
			wantVersion(t, s, itemsName, "g1", ver(5))
			wantMissing(t, s, itemsName, "g2")
			wantCheckpoint(t, s, "items", ver(5))
		})
	}
	// The store is still usable after the rollbacks.
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "g2", ver(7), nil)}, Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(7)}})
	wantVersion(t, s, itemsName, "g2", ver(7))
	wantCheckpoint(t, s, "items", ver(7))
}

// TestSQLiteApplyManyRows: a batch is written in statements of several
// rows (64, 32, … 1), each run of writes to one collection apart. The
// result is the one writing them one by one gives: a document written
// twice within one statement keeps its higher version whichever comes
// first, a tombstone counts, the kept counts and the tag index follow
// every row, and a run of another collection in between lands in its own
// table.
func TestSQLiteApplyManyRows(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	mine := items()
	mine.Counts = [][]string{{"owner"}, {"tags"}}
	other := items()
	other.Name = "others"
	other.Counts = [][]string{{"owner"}}
	for _, c := range []readstore.Collection{mine, other} {
		if err := s.Ensure(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var writes []readstore.Write
	for i := range 131 {
		writes = append(writes, item(t, fmt.Sprintf("d%03d", i), ver(10), map[string]any{"owner": "o" + strconv.Itoa(i%3), "tags": []string{"t" + strconv.Itoa(i%2)}}))
	}
	// Twice within the first statement (64 rows): a newer version after
	// an older one, and an older one after a newer one.
	writes = slices.Insert(writes, 10, item(t, "d003", ver(11), map[string]any{"owner": "o9"}))
	writes = slices.Insert(writes, 20, item(t, "d004", ver(9), map[string]any{"owner": "o9"}))
	// 133 rows of items (64 + 64 + 4 + 1), then 5 of the other
	// collection (4 + 1), then 2 of items again.
	for i := range 5 {
		w := item(t, fmt.Sprintf("x%d", i), ver(10), map[string]any{"owner": "p"})
		w.Collection = "others"
		writes = append(writes, w)
	}
	writes = append(writes, readstore.Write{Collection: itemsName, Delete: true, Doc: readstore.Doc{ID: "d002", Version: ver(12)}},
		item(t, "d131", ver(10), map[string]any{"owner": "o1"}))
	apply(t, s, readstore.Batch{Writes: writes, Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(12)}})

	wantVersion(t, s, itemsName, "d003", ver(11))
	wantVersion(t, s, itemsName, "d004", ver(10))
	wantVersion(t, s, itemsName, "d130", ver(10))
	wantVersion(t, s, itemsName, "d131", ver(10))
	wantMissing(t, s, itemsName, "d002")
	wantVersion(t, s, "others", "x4", ver(10))
	wantCheckpoint(t, s, "items", ver(12))
	for _, c := range []struct {
		collection string
		where      []readstore.Condition
		want       int64
		why        string
	}{
		{itemsName, nil, 131, "132 written, one deleted"},
		{itemsName, []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "o9"}}, 1, "d003 moved there, d004's older write ignored"},
		{itemsName, []readstore.Condition{{Field: "tags", Op: readstore.Eq, Value: "t0"}}, 65, "66 even ones, d002 deleted"},
		{itemsName, []readstore.Condition{{Field: "tags", Op: readstore.Eq, Value: "t1"}}, 64, "65 odd ones, d003 lost its tags"},
		{"others", []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "p"}}, 5, "all five"},
	} {
		_, n, err := s.Query(ctx, c.collection, readstore.Query{Where: c.where, Count: true, Limit: 1})
		if err != nil || n != c.want {
			t.Fatalf("count %s %+v = %d, %v; want %d (%s)", c.collection, c.where, n, err, c.want, c.why)
		}
	}
}

func TestSQLiteApplyCanceled(t *testing.T) {
	s := openTestSQLite(t, "")
	if err := s.Ensure(t.Context(), items()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{item(t, "d1", ver(1), nil)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: err = %v; want context.Canceled", err)
	}
	wantMissing(t, s, itemsName, "d1")
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "d1", ver(1), nil)}})
	wantVersion(t, s, itemsName, "d1", ver(1))
}

// TestSQLiteReopen checks what survives a restart: documents, checkpoints
// and the live generation do, declarations do not (Ensure must run
// again, and a plain name then ensures the live generation).
func TestSQLiteReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	gen2 := items()
	gen2.Name = readstore.Generation(itemsName, 2)
	for _, c := range []readstore.Collection{items(), gen2} {
		if err := s.Ensure(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "d1", ver(3), map[string]any{"owner": "ann"})}, Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(3)}})
	w := item(t, "d2", ver(4), map[string]any{"owner": "bob"})
	w.Collection = gen2.Name
	apply(t, s, readstore.Batch{Writes: []readstore.Write{w}, Checkpoint: &readstore.Checkpoint{Name: "items_g2", Position: ver(4)}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestSQLite(t, path)
	if _, err := s.Get(ctx, itemsName, "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get before Ensure: err = %v; want ErrUnknownCollection", err)
	}
	wantCheckpoint(t, s, "items", ver(3))
	wantCheckpoint(t, s, "items_g2", ver(4))
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	wantVersion(t, s, itemsName, "d1", ver(3))
	if got := ids(t, s, itemsName, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "ann"}}}); !slices.Equal(got, []string{"d1"}) {
		t.Fatalf("owner ann = %v; want [d1]", got)
	}
	// A generation ensured before the restart must be ensured again
	// before it can be switched to.
	if err := s.SwitchGeneration(ctx, itemsName, 2); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("SwitchGeneration before Ensure: err = %v; want ErrUnknownCollection", err)
	}
	if err := s.Ensure(ctx, gen2); err != nil {
		t.Fatal(err)
	}
	if err := s.SwitchGeneration(ctx, itemsName, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestSQLite(t, path)
	if live, err := s.LiveGeneration(ctx, itemsName); err != nil || live != 2 {
		t.Fatalf("LiveGeneration after reopen = %d, %v; want 2", live, err)
	}
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	wantVersion(t, s, itemsName, "d2", ver(4))
	wantMissing(t, s, itemsName, "d1")
	if _, err := s.Get(ctx, readstore.Generation(itemsName, 1), "d1"); !errors.Is(err, readstore.ErrUnknownCollection) {
		t.Fatalf("Get generation 1 before its Ensure: err = %v; want ErrUnknownCollection", err)
	}
}

// oldSchema is the layout schema version 1 wrote: integer versions and
// checkpoints, no meta table.
const oldSchema = `
CREATE TABLE rs__checkpoints(name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE rs_items(id TEXT PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, data BLOB, f_owner TEXT, f_score REAL, f_active INTEGER, f_created_at TEXT_TIME, f_tags TEXT_LIST);
CREATE INDEX rsx_items__owner__created_at ON rs_items(f_owner, f_created_at, id) WHERE deleted = 0;
CREATE TABLE rs_gone(id TEXT PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, data BLOB);
INSERT INTO rs_items(id, version, data, f_owner) VALUES('d1', 900, '{"owner":"ann"}', 'ann');
INSERT INTO rs_gone(id, version, data) VALUES('x', 1, '{}');
INSERT INTO rs__checkpoints(name, position) VALUES('items', 900);
CREATE TABLE other(x);
`

func execSQL(tb testing.TB, path, script string) {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		tb.Fatalf("exec: %v", err)
	}
}

func tables(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestSQLiteResetsOldSchema checks that a data dir from before string
// versions opens as an empty store: old collections and checkpoints are
// gone, so projections rebuild, and tables that are not the store's stay.
func TestSQLiteResetsOldSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "read.db")
	execSQL(t, path, oldSchema)

	s := openTestSQLite(t, path)
	wantCheckpoint(t, s, "items", "")
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, itemsName, "d1")
	// A string version below the old integer one lands: nothing is left
	// of the old row, and the guard compares text.
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "d1", ver(1), map[string]any{"owner": "bob"})}, Checkpoint: &readstore.Checkpoint{Name: "items", Position: ver(1)}})
	apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "d1", "", map[string]any{"owner": "old"})}})
	wantVersion(t, s, itemsName, "d1", ver(1))
	wantCheckpoint(t, s, "items", ver(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"other", "rs__checkpoints", "rs__counts", "rs__generations", "rs__meta", "rs_items",
		"rsx_items__owner__created_at",
		"sqlite_autoindex_rs__checkpoints_1", "sqlite_autoindex_rs__generations_1",
		"sqlite_autoindex_rs__meta_1", "sqlite_autoindex_rs_items_1",
	}
	if got := tables(t, path); !slices.Equal(got, want) {
		t.Fatalf("tables after reset = %v; want %v", got, want)
	}

	// Opening the new layout again keeps everything.
	s = openTestSQLite(t, path)
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	wantVersion(t, s, itemsName, "d1", ver(1))
	wantCheckpoint(t, s, "items", ver(1))
}

// TestSQLiteRefusesNewerSchema checks that an older program does not wipe
// a newer layout's read models.
func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	execSQL(t, path, `CREATE TABLE rs__meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
		INSERT INTO rs__meta VALUES('schema', 99);
		CREATE TABLE rs_items(id TEXT PRIMARY KEY);`)
	s, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: path})
	if err == nil {
		s.Close()
		t.Fatal("OpenSQLite of a newer schema = nil error; want an error")
	}
	if !strings.Contains(err.Error(), "99") {
		t.Fatalf("error %q does not name the schema version", err)
	}
	if got := tables(t, path); !slices.Contains(got, "rs_items") {
		t.Fatalf("tables = %v; want rs_items kept", got)
	}
}

// TestSQLiteSwitchUnderReaders switches generations and drops the old one
// while readers query the plain name: every answer comes whole from one
// generation, and no reader sees an error, not even one that looked the
// collection up just before its table was dropped.
func TestSQLiteSwitchUnderReaders(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	const rounds, perGen, readers = 30, 20, 4
	ensureGen := func(gen int) {
		t.Helper()
		c := items()
		c.Name = readstore.Generation(itemsName, gen)
		if err := s.Ensure(ctx, c); err != nil {
			t.Fatal(err)
		}
		var b readstore.Batch
		for i := range perGen {
			w := item(t, fmt.Sprintf("d%02d", i), ver(1), map[string]any{"owner": fmt.Sprint("gen", gen)})
			w.Collection = c.Name
			b.Writes = append(b.Writes, w)
		}
		apply(t, s, b)
	}
	ensureGen(1)
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				var err error
				if n%2 == 0 {
					_, err = s.Get(ctx, itemsName, "d00")
				} else {
					var docs []readstore.Doc
					docs, _, err = s.Query(ctx, itemsName, readstore.Query{Sort: []readstore.Sort{{Field: "owner"}}, Count: true})
					if err == nil {
						err = oneGeneration(docs, perGen)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		})
	}
	for gen := 2; gen <= rounds; gen++ {
		ensureGen(gen)
		if err := s.SwitchGeneration(ctx, itemsName, gen); err != nil {
			t.Fatal(err)
		}
		if err := s.Drop(ctx, readstore.Generation(itemsName, gen-1)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	docs, _, err := s.Query(ctx, itemsName, readstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if err := oneGeneration(docs, perGen); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"owner":"gen%d"`, rounds); !bytes.Contains(docs[0].Data, []byte(want)) {
		t.Fatalf("d00 = %s; want %s", docs[0].Data, want)
	}
}

// oneGeneration reports whether docs are the n documents of one
// generation, which all have the same owner.
func oneGeneration(docs []readstore.Doc, n int) error {
	owners := map[string]bool{}
	for _, d := range docs {
		var v struct{ Owner string }
		if err := json.Unmarshal(d.Data, &v); err != nil {
			return err
		}
		owners[v.Owner] = true
	}
	if len(docs) != n || len(owners) != 1 {
		return fmt.Errorf("%d docs with owners %v; want %d docs of one generation", len(docs), owners, n)
	}
	return nil
}

// TestSQLiteEnsureTypeChange checks that a field whose type changes is
// rebuilt from the stored documents rather than keeping old-typed values.
func TestSQLiteEnsureTypeChange(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	asText := readstore.Collection{Name: "events", Fields: []readstore.Field{{Name: "at", Type: readstore.String}}, Indexes: [][]string{{"at"}}}
	if err := s.Ensure(ctx, asText); err != nil {
		t.Fatal(err)
	}
	put := func(id, at string) readstore.Write {
		return readstore.Write{Collection: "events", Doc: readstore.Doc{ID: id, Version: ver(1), Data: json.RawMessage(`{"at":"` + at + `"}`)}}
	}
	if err := s.Apply(ctx, readstore.Batch{Writes: []readstore.Write{put("e1", "2026-01-01T01:00:00+02:00"), put("e2", "2026-01-01T00:30:00Z")}}); err != nil {
		t.Fatal(err)
	}
	first := func() string {
		t.Helper()
		docs, _, err := s.Query(ctx, "events", readstore.Query{Sort: []readstore.Sort{{Field: "at"}}, Limit: 1})
		if err != nil || len(docs) != 1 {
			t.Fatalf("Query = %v, %v", docs, err)
		}
		return docs[0].ID
	}
	if got := first(); got != "e2" {
		t.Fatalf("first by text = %s; want e2", got)
	}
	asTime := readstore.Collection{Name: "events", Fields: []readstore.Field{{Name: "at", Type: readstore.Time}}, Indexes: [][]string{{"at"}}}
	if err := s.Ensure(ctx, asTime); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != "e1" {
		t.Fatalf("first by time = %s; want e1", got)
	}
	wantOnlyAt2300(t, s, "e1")
}

// wantOnlyAt2300 checks that id is the only event at 23:00Z, which
// "2026-01-01T01:00:00+02:00" is when its field is a time.
func wantOnlyAt2300(t *testing.T, s *readstore.SQLiteStore, id string) {
	t.Helper()
	docs, _, err := s.Query(t.Context(), "events", readstore.Query{Where: []readstore.Condition{{Field: "at", Op: readstore.Eq, Value: "2025-12-31T23:00:00Z"}}})
	if err != nil || len(docs) != 1 || docs[0].ID != id {
		t.Fatalf("Query at = 23:00Z: %v, %v; want %s, its time bound as a time", docs, err, id)
	}
}

// TestSQLiteApplyBindsAgain: a write bound before the collection was
// declared again (here its field became a time) is bound again for the
// new declaration when the writer takes it, not stored as the old one.
func TestSQLiteApplyBindsAgain(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	asText := readstore.Collection{Name: "events", Fields: []readstore.Field{{Name: "at", Type: readstore.String}}, Indexes: [][]string{{"at"}}}
	asTime := readstore.Collection{Name: "events", Fields: []readstore.Field{{Name: "at", Type: readstore.Time}}, Indexes: [][]string{{"at"}}}
	if err := s.Ensure(ctx, asText); err != nil {
		t.Fatal(err)
	}
	w := readstore.Write{Collection: "events", Doc: readstore.Doc{ID: "e1", Version: ver(1), Data: json.RawMessage(`{"at":"2026-01-01T01:00:00+02:00"}`)}}
	err := s.ApplyAfter(ctx, readstore.Batch{Writes: []readstore.Write{w}}, func() {
		if err := s.Ensure(ctx, asTime); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyAt2300(t, s, "e1")
}

// TestSQLiteTextSearchDuringSchemaChanges: text searches while another
// collection's generations are declared, as a rebuild does, all succeed.
// A connection opens the text index again after each schema change, and
// a change landing meanwhile failed some of them ("vtable constructor
// failed": 2 to 70 of about 3,300 here before they were tried again).
func TestSQLiteTextSearchDuringSchemaChanges(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	c := items()
	c.Fields = append(c.Fields, readstore.Field{Name: "note", Type: readstore.String})
	c.TextFields = []string{"note"}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	var b readstore.Batch
	for i := range 200 {
		b.Writes = append(b.Writes, item(t, fmt.Sprintf("d%03d", i), ver(1), map[string]any{"owner": "ann", "note": "printer smokes"}))
	}
	apply(t, s, b)
	stop := make(chan struct{})
	var ddl sync.WaitGroup
	ddl.Go(func() {
		for g := 2; ; g++ {
			other := items()
			other.Name = readstore.Generation("other", g)
			if err := s.Ensure(ctx, other); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	var searches sync.WaitGroup
	var failed, done atomic.Int32
	deadline := time.Now().Add(1500 * time.Millisecond)
	for range 16 {
		searches.Go(func() {
			for time.Now().Before(deadline) {
				_, total, err := s.Query(ctx, itemsName, readstore.Query{Where: []readstore.Condition{{Op: readstore.Text, Value: "printer"}}, Limit: 5, Count: true})
				switch {
				case err != nil:
					if failed.Add(1) <= 3 {
						t.Errorf("search: %v", err)
					}
				case total != 200:
					t.Errorf("search: total %d, want 200", total)
				}
				done.Add(1)
			}
		})
	}
	searches.Wait()
	close(stop)
	ddl.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d searches failed", failed.Load(), done.Load())
	}
}

// FuzzScan checks the top-level field scanner against encoding/json.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":"x"}`,
		` { "b" : [1, {"a": 2}] , "a" : {"a":"}"} } `,
		`{"a\u0062":"escaped key","b":"q\"uote\\"}`,
		`{"c":null,"a":true,"b":-1.5e3}`,
		`{"a":1,"a":2}`,
		`{}`,
		`{"x":"{\"a\":1}","a":"[\"b\"]"}`,
	} {
		f.Add([]byte(seed))
	}
	fields := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		raw, err := readstore.ScanFields(fields, data)
		if err != nil {
			t.Fatalf("scan %q: %v", data, err)
		}
		for i, name := range fields {
			w, ok := want[name]
			if !ok {
				w = nil
			}
			if !bytes.Equal(raw[i], w) {
				t.Fatalf("scan %q: %s = %q; want %q", data, name, raw[i], w)
			}
		}
	})
}

func benchDocs() int {
	if v := os.Getenv("READSTORE_BENCH_DOCS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1000 {
			return n
		}
	}
	return 100_000
}

// BenchmarkQueryPage measures the tickets list of one company holding a
// tenth of all tickets: a page of 25 by created_at with the total. Set
// READSTORE_BENCH_DOCS=1000000 for the full-size target (p99 < 5 ms).
func BenchmarkQueryPage(b *testing.B) {
	n := benchDocs()
	s := openTestSQLite(b, "")
	start := time.Now()
	seedTickets(b, s, n)
	b.Logf("seeded %d tickets in %s", n, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    readstore.Query
	}{
		{"first_page", listQuery(true)},
		{"page_40", func() readstore.Query { q := listQuery(true); q.Skip = 1000; return q }()},
		{"text_search", readstore.Query{
			Where: []readstore.Condition{{Field: "company_id", Op: readstore.Eq, Value: bigCompany}, {Op: readstore.Text, Value: "FLOOR 10 "}},
			Sort:  []readstore.Sort{{Field: "created_at", Desc: true}}, Limit: 25, Count: true,
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				docs, total, err := s.Query(ctx, "tickets", bc.q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(docs) == 0 || total <= 0 {
					b.Fatalf("Query = %d docs, total %d, %v", len(docs), total, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkApply measures projection catch-up: batches of 500 ticket
// documents with their checkpoint, as inserts of new tickets and as
// updates of the tickets just inserted.
func BenchmarkApply(b *testing.B) {
	const batchSize, pool = 500, 1 << 16
	bodies := make([]json.RawMessage, pool)
	for i := range bodies {
		bodies[i] = ticketJSON(i, companyID(i))
	}
	for _, mode := range []string{"insert", "update"} {
		b.Run(mode, func(b *testing.B) {
			s := openTestSQLite(b, "")
			ctx := context.Background()
			if err := s.Ensure(ctx, benchTickets()); err != nil {
				b.Fatal(err)
			}
			writes := make([]readstore.Write, batchSize)
			version := 0
			round := 0
			for b.Loop() {
				for i := range writes {
					version++
					n := round*batchSize + i
					if mode == "update" {
						n = i
					}
					writes[i] = readstore.Write{Collection: "tickets", Doc: readstore.Doc{ID: ticketID(n), Version: ver(version), Data: bodies[(round*batchSize+i)%pool]}}
				}
				round++
				if err := s.Apply(ctx, readstore.Batch{Writes: writes, Checkpoint: &readstore.Checkpoint{Name: "tickets", Position: ver(version)}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// BenchmarkGet measures a Get by id, the cheapest read, where resolving
// the collection name would show if it cost anything: by the plain name
// after a switch to generation 2, and by the generation's own name.
func BenchmarkGet(b *testing.B) {
	const n = 1000
	s := openTestSQLite(b, "")
	ctx := context.Background()
	gen2 := benchTickets()
	gen2.Name = readstore.Generation("tickets", 2)
	if err := s.Ensure(ctx, gen2); err != nil {
		b.Fatal(err)
	}
	var batch readstore.Batch
	for i := range n {
		batch.Writes = append(batch.Writes, readstore.Write{Collection: gen2.Name, Doc: readstore.Doc{ID: ticketID(i), Version: ver(i + 1), Data: ticketJSON(i, companyID(i))}})
	}
	apply(b, s, batch)
	if err := s.SwitchGeneration(ctx, "tickets", 2); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"tickets", gen2.Name} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, name, ticketID(i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestSQLiteCountsAreKept shows that a counted query on a count group is
// answered from the kept counts, not by counting rows (a count altered
// behind the store's back shows through), that a query outside the
// groups still counts rows, and that a declaration gaining a group, or a
// table dropped, keeps the counts right.
func TestSQLiteCountsAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()
	c := items()
	c.Counts = [][]string{{"owner"}}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	apply(t, s, readstore.Batch{Writes: []readstore.Write{
		item(t, "a", ver(1), map[string]any{"owner": "ann", "active": true}),
		item(t, "b", ver(1), map[string]any{"owner": "ann", "active": false}),
		item(t, "c", ver(1), map[string]any{"owner": "bob"}),
	}})
	total := func(where ...readstore.Condition) int64 {
		t.Helper()
		_, n, err := s.Query(ctx, itemsName, readstore.Query{Where: where, Count: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	byAnn := readstore.Condition{Field: "owner", Op: readstore.Eq, Value: "ann"}
	active := readstore.Condition{Field: "active", Op: readstore.Eq, Value: true}
	if got := total(byAnn); got != 2 {
		t.Fatalf("owner ann: total %d; want 2", got)
	}

	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE rs__counts SET n = 40 WHERE tbl = 'rs_items' AND grp = 'owner' AND key = '["ann"]'`); err != nil {
		t.Fatal(err)
	}
	if got := total(byAnn); got != 40 {
		t.Fatalf("owner ann after altering its kept count: total %d; want 40, read from the counts", got)
	}
	if got := total(byAnn, active); got != 1 {
		t.Fatalf("owner ann and active: total %d; want 1, counted", got)
	}

	// A new group on a table with rows: every count is rebuilt from them.
	c.Counts = [][]string{{"owner"}, {"owner", "active"}}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := total(byAnn); got != 2 {
		t.Fatalf("owner ann after a new group: total %d; want 2, rebuilt", got)
	}
	if _, err := db.Exec(`UPDATE rs__counts SET n = 50 WHERE tbl = 'rs_items' AND grp = 'owner,active'`); err != nil {
		t.Fatal(err)
	}
	if got := total(active, byAnn); got != 50 {
		t.Fatalf("owner ann and active in any order: total %d; want 50, read from the counts", got)
	}

	if err := s.Drop(ctx, itemsName); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRow(`SELECT COUNT(*) FROM rs__counts WHERE tbl = 'rs_items'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("counts of a dropped table: %d rows, %v; want none", left, err)
	}
	var derived int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'rs\_items\_\_%' ESCAPE '\'`).Scan(&derived); err != nil || derived != 0 {
		t.Fatalf("derived objects of a dropped table: %d, %v; want none", derived, err)
	}
}

// TestSQLiteWALStaysBounded: writing far more than the WAL's limit leaves
// the WAL file a few MB, not tens: the checkpointer copies it back beside
// the writes, and the file is cut back when it restarts.
func TestSQLiteWALStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()
	if err := s.Ensure(ctx, items()); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 2000)
	largest := int64(0)
	for batch := range 60 {
		var b readstore.Batch
		for i := range 500 {
			b.Writes = append(b.Writes, item(t, fmt.Sprintf("d%d-%d", batch, i), ver(batch+1), map[string]any{"owner": pad, "score": i}))
		}
		apply(t, s, b)
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
		time.Sleep(5 * time.Millisecond)
	}
	db, _ := os.Stat(path)
	t.Logf("database %d MB, largest WAL seen %d MB", db.Size()>>20, largest>>20)
	if db.Size() < 60<<20 {
		t.Fatalf("database %d bytes: the test wrote too little to matter", db.Size())
	}
	if largest > 24<<20 {
		t.Fatalf("the WAL grew to %d MB while %d MB were written; want it bounded", largest>>20, db.Size()>>20)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		apply(t, s, readstore.Batch{Writes: []readstore.Write{item(t, "last", ver(1000+int(time.Now().UnixMilli()%1000000)), nil)}})
		fi, err := os.Stat(path + "-wal")
		if err == nil && fi.Size() <= 4<<20+1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes 10 s after the writes; want it cut back to about 4 MB", fi.Size())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSQLiteBulkFinishBoundsTheWAL: the WAL that a bulk load's finish
// grows, an index at a time, starts again from its beginning once past
// the bulk limit, rather than holding every index at once; and the
// writer has its page cache back afterwards.
func TestSQLiteBulkFinishBoundsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()
	c := items()
	for _, f := range []string{"score", "active", "created_at"} {
		c.Indexes = append(c.Indexes, []string{"owner", f}, []string{f})
	}
	readstore.SetBulkWALLimit(t, 1<<20)
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	finish, err := s.BeginBulk(ctx, itemsName)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("o", 300)
	for batch := range 10 {
		var b readstore.Batch
		for i := range 2000 {
			n := batch*2000 + i
			b.Writes = append(b.Writes, item(t, fmt.Sprintf("d%05d", n), ver(1), map[string]any{
				"owner": fmt.Sprintf("%s%05d", pad, n*7919%20000), "score": n % 97, "active": n%2 == 0,
				"created_at": time.Unix(int64(n*31337%1000000), 0).UTC().Format(time.RFC3339Nano),
			}))
		}
		apply(t, s, b)
	}
	// Copy everything back and empty the WAL, so that what the indexes
	// add is seen alone.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A checkpoint that finds the store's checkpointer at work reports
	// busy in its row rather than as an error: try again until it went
	// through, or the sizes below would count pages still in the WAL.
	truncate := func() {
		t.Helper()
		for try := 0; ; try++ {
			var busy, frames, copied int
			if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
				t.Fatal(err)
			}
			if busy == 0 {
				return
			}
			if try == 500 {
				t.Fatal("the WAL could not be checkpointed in 5 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	truncate()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var largest atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > largest.Load() {
				largest.Store(fi.Size())
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	err = finish(ctx)
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > largest.Load() {
		largest.Store(fi.Size())
	}
	truncate()
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	grown := after.Size() - before.Size()
	t.Logf("the indexes grew the database by %d KB; the largest WAL seen was %d KB", grown>>10, largest.Load()>>10)
	if grown < 12<<20 {
		t.Fatalf("the indexes took %d bytes: too few for the test to matter", grown)
	}
	if largest.Load() > grown/2 {
		t.Fatalf("the WAL grew to %d KB while the indexes took %d KB; want it restarted past the bulk limit", largest.Load()>>10, grown>>10)
	}
	// The finish sorts with a small page cache, and gives the writer its
	// own back for the live writes.
	if kib, err := s.WriterCacheKiB(ctx); err != nil || kib != 32<<10 {
		t.Fatalf("after finish the writer's page cache is %d KiB (%v), want the default 32768", kib, err)
	}
}

// TestSQLiteBulkLoad: an empty collection loaded in bulk has no indexes
// or derived structures until finish, which builds them all from the
// rows (counts and text matches included); a table that holds rows is
// left alone; a load cut short before finish is repaired by Ensure.
func TestSQLiteBulkLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()
	c := items()
	c.Counts = [][]string{{"owner"}}
	c.Indexes = append(c.Indexes, []string{"owner", "tags"})
	c.Fields = append(c.Fields, readstore.Field{Name: "note", Type: readstore.String})
	c.TextFields = []string{"note"}
	// The text index and the tag pairs are filled 7 rows a step: the 50
	// rows take 8 steps, with rows on both sides of every boundary.
	readstore.SetFillRows(t, 7)
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	schema := func() int {
		t.Helper()
		return countSchema(t, path, `(type IN ('index', 'trigger') AND tbl_name = 'rs_items' AND name NOT LIKE 'sqlite_autoindex%') OR name LIKE 'rs\_items\_\_%' ESCAPE '\'`)
	}
	full := schema()
	finish, err := s.BeginBulk(ctx, itemsName)
	if err != nil {
		t.Fatal(err)
	}
	if got := schema(); got != 0 {
		t.Fatalf("%d indexes, triggers and derived tables during a bulk load; want none", got)
	}
	var b readstore.Batch
	for i := range 50 {
		b.Writes = append(b.Writes, item(t, fmt.Sprintf("d%02d", i), ver(1), map[string]any{"owner": []string{"ann", "bob"}[i%2], "tags": []string{"t" + strconv.Itoa(i%3)}, "note": "printer " + []string{"smokes", "jams"}[i%2]}))
	}
	apply(t, s, b)
	if err := finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := schema(); got != full {
		t.Fatalf("after finish: %d schema objects; want %d", got, full)
	}
	if total := ownerTotal(t, s, itemsName, "ann"); total != 25 {
		t.Fatalf("owner ann after finish: total %d; want 25 from the rebuilt counts", total)
	}
	docs, _, err := s.Query(ctx, itemsName, readstore.Query{Where: []readstore.Condition{{Field: "tags", Op: readstore.Eq, Value: "t1"}}})
	if err != nil || len(docs) != 17 {
		t.Fatalf("tag t1 after finish: %d docs, %v; want 17", len(docs), err)
	}
	for word, want := range map[string]int{"printer": 50, "jams": 25} {
		docs, _, err := s.Query(ctx, itemsName, readstore.Query{Where: []readstore.Condition{{Op: readstore.Text, Value: word}}, Limit: 100})
		if err != nil || len(docs) != want {
			t.Fatalf("text %q after finish: %d docs, %v; want %d", word, len(docs), err, want)
		}
	}

	// A table with rows is not touched.
	if finish, err = s.BeginBulk(ctx, itemsName); err != nil {
		t.Fatal(err)
	}
	if got := schema(); got != full {
		t.Fatalf("bulk on a table with rows dropped things: %d schema objects; want %d", got, full)
	}
	if err := finish(ctx); err != nil {
		t.Fatal(err)
	}

	// Cut short: Ensure (as at the next start) builds what is missing.
	if err := s.Drop(ctx, itemsName); err != nil {
		t.Fatal(err)
	}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginBulk(ctx, itemsName); err != nil {
		t.Fatal(err)
	}
	apply(t, s, b)
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := schema(); got != full {
		t.Fatalf("Ensure after a bulk load cut short: %d schema objects; want %d", got, full)
	}
	if _, total, err := s.Query(ctx, itemsName, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: "bob"}}, Count: true}); err != nil || total != 25 {
		t.Fatalf("owner bob after the repair: total %d, %v; want 25", total, err)
	}
}

// TestSQLiteBulkLoadResumedGeneration: a generation that is not live is
// loaded in bulk even when it holds rows (a rebuild resumed after a
// crash): its indexes and derived structures go, and finish builds them
// from every row, those loaded before and after.
func TestSQLiteBulkLoadResumedGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()
	c := items()
	c.Counts = [][]string{{"owner"}}
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	gen := readstore.Generation(itemsName, 2)
	c.Name = gen
	if err := s.Ensure(ctx, c); err != nil {
		t.Fatal(err)
	}
	write := func(from, to int) {
		t.Helper()
		var b readstore.Batch
		for i := from; i < to; i++ {
			w := item(t, fmt.Sprintf("d%02d", i), ver(1), map[string]any{"owner": []string{"ann", "bob"}[i%2]})
			w.Collection = gen
			b.Writes = append(b.Writes, w)
		}
		apply(t, s, b)
	}
	write(0, 20) // before the crash, with its indexes (as Ensure made them at the restart)
	indexes := func() int {
		t.Helper()
		return countSchema(t, path, `type = 'index' AND tbl_name = 'rs_items__g2' AND name NOT LIKE 'sqlite_autoindex%'`)
	}
	full := indexes()
	if full == 0 {
		t.Fatal("the generation has no indexes to begin with")
	}
	finish, err := s.BeginBulk(ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != 0 {
		t.Fatalf("bulk on a generation that is not live, with rows: %d indexes left; want none", got)
	}
	write(20, 50)
	if err := finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != full {
		t.Fatalf("after finish: %d indexes; want %d", got, full)
	}
	if total := ownerTotal(t, s, gen, "ann"); total != 25 {
		t.Fatalf("owner ann after finish: total %d; want 25 (rows from before and after the bulk)", total)
	}
}

// countSchema counts the objects of the SQLite file at path that match
// where, a condition on sqlite_schema.
func countSchema(tb testing.TB, path, where string) int {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE ` + where).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// ownerTotal is the counted total of collection's documents owned by owner.
func ownerTotal(tb testing.TB, s readstore.Store, collection, owner string) int64 {
	tb.Helper()
	_, total, err := s.Query(tb.Context(), collection, readstore.Query{Where: []readstore.Condition{{Field: "owner", Op: readstore.Eq, Value: owner}}, Count: true, Limit: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}

// TestSQLiteMemstatusOff: SQLite's memory statistics, and the global
// mutex every allocation takes for them, are off (see memstatusRC).
func TestSQLiteMemstatusOff(t *testing.T) {
	if got := readstore.MemstatusRC(); got != 0 {
		t.Fatalf("sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) = %d, want 0 (SQLITE_OK): SQLite started before the read store's package", got)
	}
}

// TestSegjsonWithoutAVX2 checks that segjson's ASCII routines run
// without AVX2 (segjson_cpu.go).
func TestSegjsonWithoutAVX2(t *testing.T) {
	if asmcpu.X86.Has(x86.AVX2) {
		t.Fatal("segmentio/asm still uses AVX2: the init of the stores (segjson_cpu.go) did not clear it")
	}
}
