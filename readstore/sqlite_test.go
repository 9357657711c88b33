package readstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openTestSQLite(tb testing.TB, path string) *SQLiteStore {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "read.db")
	}
	s, err := OpenSQLite(SQLiteConfig{Path: path})
	if err != nil {
		tb.Fatalf("OpenSQLite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteAcceptance(t *testing.T) {
	RunAcceptance(t, func(t *testing.T) Store { return openTestSQLite(t, "") })
}

func TestSQLiteConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SQLiteConfig
		want []string // substrings of the error; none means valid
	}{
		{"valid", SQLiteConfig{Path: "read.db"}, nil},
		{"no path", SQLiteConfig{}, []string{"Path is required"}},
		{"memory", SQLiteConfig{Path: ":memory:"}, []string{"in-memory"}},
		{"query string", SQLiteConfig{Path: "read.db?mode=ro"}, []string{"must not contain '?'"}},
		{"all joined", SQLiteConfig{ReadConns: -1, CacheKiB: -1, BusyTimeout: -time.Second},
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
func benchTickets() Collection {
	return Collection{
		Name: "tickets",
		Fields: []Field{
			{Name: "company_id", Type: String},
			{Name: "title", Type: String},
			{Name: "description", Type: String},
			{Name: "priority", Type: String},
			{Name: "status", Type: String},
			{Name: "requester_id", Type: String},
			{Name: "assignee_id", Type: String},
			{Name: "tags", Type: StringList},
			{Name: "comment_count", Type: Number},
			{Name: "created_at", Type: Time},
			{Name: "updated_at", Type: Time},
			{Name: "last_activity_at", Type: Time},
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
func seedTickets(tb testing.TB, s *SQLiteStore, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := s.Ensure(ctx, benchTickets()); err != nil {
		tb.Fatalf("Ensure: %v", err)
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		b := Batch{Checkpoint: &Checkpoint{Name: "tickets", Position: uint64(start + batch)}}
		for i := start; i < min(start+batch, n); i++ {
			b.Writes = append(b.Writes, Write{Collection: "tickets", Doc: Doc{ID: ticketID(i), Version: uint64(i + 1), Data: ticketJSON(i, companyID(i))}})
		}
		if err := s.Apply(ctx, b); err != nil {
			tb.Fatalf("Apply: %v", err)
		}
	}
}

// listQuery is the tickets list React Admin asks for most.
func listQuery(desc bool) Query {
	return Query{
		Where: []Condition{
			{Field: "company_id", Op: Eq, Value: bigCompany},
			{Field: "status", Op: Eq, Value: "open"},
		},
		Sort:  []Sort{{Field: "created_at", Desc: desc}},
		Limit: 25,
		Count: true,
	}
}

func explain(tb testing.TB, s *SQLiteStore, query string, args []any) string {
	tb.Helper()
	rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// TestSQLiteListQueryUsesIndex checks that the tickets list reads its page
// straight off the (company_id, status, created_at) index, in either
// direction and without a sort step, and counts from the index alone.
func TestSQLiteListQueryUsesIndex(t *testing.T) {
	s := openTestSQLite(t, "")
	seedTickets(t, s, 2000)
	c, err := s.collection("tickets")
	if err != nil {
		t.Fatal(err)
	}
	index := indexName("tickets", []string{"company_id", "status", "created_at"})
	for _, desc := range []bool{true, false} {
		sq, err := c.buildQuery(listQuery(desc))
		if err != nil {
			t.Fatalf("buildQuery: %v", err)
		}
		t.Logf("page:  %s", sq.page)
		t.Logf("count: %s", sq.count)
		page := explain(t, s, sq.page, sq.pageArgs)
		if !strings.Contains(page, "USING INDEX "+index+" ") || strings.Contains(page, "TEMP B-TREE") {
			t.Errorf("desc=%v: page plan:\n%s\nwant a search on %s without a temp b-tree", desc, page, index)
		}
		count := explain(t, s, sq.count, sq.args)
		if !strings.Contains(count, "USING COVERING INDEX "+index+" ") {
			t.Errorf("count plan:\n%s\nwant a covering search on %s", count, index)
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
		at := TimeKey(mustTime(t, tk.CreatedAt))
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
// nothing, checkpoint included; the suite can only check failures that
// every store detects up front.
func TestSQLiteApplyRollsBack(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatal(err)
	}
	good := Write{Collection: accName, Doc: accDoc(t, "g1", 5, map[string]any{"score": 1})}
	if err := s.Apply(ctx, Batch{Writes: []Write{good}, Checkpoint: &Checkpoint{Name: "acc", Position: 5}}); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]Write{
		"number as text":  {Collection: accName, Doc: accDoc(t, "b1", 6, map[string]any{"score": "x"})},
		"bad time":        {Collection: accName, Doc: accDoc(t, "b1", 6, map[string]any{"created_at": "yesterday"})},
		"bool as number":  {Collection: accName, Doc: accDoc(t, "b1", 6, map[string]any{"active": 1})},
		"list as string":  {Collection: accName, Doc: accDoc(t, "b1", 6, map[string]any{"tags": "a"})},
		"string as list":  {Collection: accName, Doc: accDoc(t, "b1", 6, map[string]any{"owner": []string{"a"}})},
		"invalid json":    {Collection: accName, Doc: Doc{ID: "b1", Version: 6, Data: json.RawMessage(`{"owner":`)}},
		"not an object":   {Collection: accName, Doc: Doc{ID: "b1", Version: 6, Data: json.RawMessage(`[1]`)}},
		"no data":         {Collection: accName, Doc: Doc{ID: "b1", Version: 6}},
		"empty id":        {Collection: accName, Doc: accDoc(t, "", 6, nil)},
		"version too big": {Collection: accName, Doc: accDoc(t, "b1", 1<<63, nil)},
	} {
		t.Run(name, func(t *testing.T) {
			b := Batch{
				Writes: []Write{
					{Collection: accName, Doc: accDoc(t, "g1", 6, map[string]any{"score": 2})},
					{Collection: accName, Doc: accDoc(t, "g2", 6, nil)},
					bad,
				},
				Checkpoint: &Checkpoint{Name: "acc", Position: 6},
			}
			if err := s.Apply(ctx, b); err == nil {
				t.Fatal("Apply = nil; want an error")
			}
			accWantVersion(t, s, "g1", 5)
			accWantMissing(t, s, "g2")
			accWantCheckpoint(t, s, "acc", 5)
		})
	}
	// The store is still usable after the rollbacks.
	if err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: accDoc(t, "g2", 7, nil)}}, Checkpoint: &Checkpoint{Name: "acc", Position: 7}}); err != nil {
		t.Fatal(err)
	}
	accWantVersion(t, s, "g2", 7)
	accWantCheckpoint(t, s, "acc", 7)
}

func TestSQLiteApplyCanceled(t *testing.T) {
	s := openTestSQLite(t, "")
	if err := s.Ensure(t.Context(), accCollection()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: accDoc(t, "d1", 1, nil)}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: err = %v; want context.Canceled", err)
	}
	accWantMissing(t, s, "d1")
	accPut(t, s, accDoc(t, "d1", 1, nil))
	accWantVersion(t, s, "d1", 1)
}

// TestSQLiteReopen checks what survives a restart: documents and
// checkpoints do, declarations do not (Ensure must run again).
func TestSQLiteReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "read.db")
	s := openTestSQLite(t, path)
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, Batch{Writes: []Write{{Collection: accName, Doc: accDoc(t, "d1", 3, map[string]any{"owner": "ann"})}}, Checkpoint: &Checkpoint{Name: "acc", Position: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestSQLite(t, path)
	if _, err := s.Get(ctx, accName, "d1"); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("Get before Ensure: err = %v; want ErrUnknownCollection", err)
	}
	accWantCheckpoint(t, s, "acc", 3)
	if err := s.Ensure(ctx, accCollection()); err != nil {
		t.Fatal(err)
	}
	accWantVersion(t, s, "d1", 3)
	accWantIDs(t, s, Query{Where: []Condition{{Field: "owner", Op: Eq, Value: "ann"}}}, "d1")
}

// TestSQLiteEnsureTypeChange checks that a field whose type changes is
// rebuilt from the stored documents rather than keeping old-typed values.
func TestSQLiteEnsureTypeChange(t *testing.T) {
	ctx := t.Context()
	s := openTestSQLite(t, "")
	asText := Collection{Name: "events", Fields: []Field{{Name: "at", Type: String}}, Indexes: [][]string{{"at"}}}
	if err := s.Ensure(ctx, asText); err != nil {
		t.Fatal(err)
	}
	put := func(id, at string) Write {
		return Write{Collection: "events", Doc: Doc{ID: id, Version: 1, Data: json.RawMessage(`{"at":"` + at + `"}`)}}
	}
	if err := s.Apply(ctx, Batch{Writes: []Write{put("e1", "2026-01-01T01:00:00+02:00"), put("e2", "2026-01-01T00:30:00Z")}}); err != nil {
		t.Fatal(err)
	}
	first := func() string {
		t.Helper()
		docs, _, err := s.Query(ctx, "events", Query{Sort: []Sort{{Field: "at"}}, Limit: 1})
		if err != nil || len(docs) != 1 {
			t.Fatalf("Query = %v, %v", docs, err)
		}
		return docs[0].ID
	}
	if got := first(); got != "e2" {
		t.Fatalf("first by text = %s; want e2", got)
	}
	asTime := Collection{Name: "events", Fields: []Field{{Name: "at", Type: Time}}, Indexes: [][]string{{"at"}}}
	if err := s.Ensure(ctx, asTime); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != "e1" {
		t.Fatalf("first by time = %s; want e1", got)
	}
	docs, _, err := s.Query(ctx, "events", Query{Where: []Condition{{Field: "at", Op: Eq, Value: "2025-12-31T23:00:00Z"}}})
	if err != nil || len(docs) != 1 || docs[0].ID != "e1" {
		t.Fatalf("Query at = 23:00Z: %v, %v; want e1", docs, err)
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
	c := newSQLiteCollection(Collection{Name: "f", Fields: []Field{{Name: "a"}, {Name: "b"}, {Name: "c"}}})
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		raw := make([][]byte, len(c.fields))
		if err := c.scan(data, raw); err != nil {
			t.Fatalf("scan %q: %v", data, err)
		}
		for i, fld := range c.fields {
			w, ok := want[fld.name]
			if !ok {
				w = nil
			}
			if !bytes.Equal(raw[i], w) {
				t.Fatalf("scan %q: %s = %q; want %q", data, fld.name, raw[i], w)
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
		q    Query
	}{
		{"first_page", listQuery(true)},
		{"page_40", func() Query { q := listQuery(true); q.Skip = 1000; return q }()},
		{"text_search", Query{
			Where: []Condition{{Field: "company_id", Op: Eq, Value: bigCompany}, {Op: Text, Value: "FLOOR 10 "}},
			Sort:  []Sort{{Field: "created_at", Desc: true}}, Limit: 25, Count: true,
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
			writes := make([]Write, batchSize)
			version := uint64(0)
			round := 0
			for b.Loop() {
				for i := range writes {
					version++
					n := round*batchSize + i
					if mode == "update" {
						n = i
					}
					writes[i] = Write{Collection: "tickets", Doc: Doc{ID: ticketID(n), Version: version, Data: bodies[(round*batchSize+i)%pool]}}
				}
				round++
				if err := s.Apply(ctx, Batch{Writes: writes, Checkpoint: &Checkpoint{Name: "tickets", Position: version}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
