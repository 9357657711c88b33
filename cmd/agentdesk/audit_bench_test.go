package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/eventstore"
	"agentdesk/internal/auth"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// auditBench is the audit benchmark's data dir, filled once per process;
// TestMain removes it when temp.
var auditBench struct {
	once              sync.Once
	dir               string
	temp              bool
	userID, companyID string
}

// auditBenchActors and auditBenchTypes are how many actors and event
// types the benchmark company's entries spread over: one actor's are a
// fiftieth of them, one type's a twentieth.
const auditBenchActors, auditBenchTypes = 50, 20

// auditBenchData returns a data dir whose read store holds
// AGENTDESK_BENCH_AUDIT (default 1,000,000) audit entries of one company
// and a tenth as many of each of three others, kept in
// AGENTDESK_BENCH_DIR/audit when that is set (filled when empty).
func auditBenchData(b *testing.B) (dir, userID, companyID string) {
	n := benchEnvInt(b, "AGENTDESK_BENCH_AUDIT", 1_000_000)
	keep := os.Getenv("AGENTDESK_BENCH_DIR")
	if keep != "" {
		keep = filepath.Join(keep, "audit")
		if raw, err := os.ReadFile(filepath.Join(keep, "bench-ids")); err == nil {
			if f := strings.Fields(string(raw)); len(f) == 2 {
				return keep, f[0], f[1]
			}
		}
	}
	auditBench.once.Do(func() {
		dir, err := keep, os.MkdirAll(keep, 0o700)
		if keep == "" {
			dir, err = os.MkdirTemp("", "agentdesk-audit-bench-")
		}
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		userID, companyID := fillAuditLog(b, filepath.Join(dir, "reads.db"), n)
		b.Logf("filled %d audit entries (and %d of other companies) in %s", n, 3*(n/10), time.Since(start).Round(time.Millisecond))
		if keep != "" {
			if err := os.WriteFile(filepath.Join(dir, "bench-ids"), []byte(userID+" "+companyID), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		auditBench.dir, auditBench.temp, auditBench.userID, auditBench.companyID = dir, keep == "", userID, companyID
	})
	if auditBench.dir == "" {
		b.Fatal("no data: the first fill failed")
	}
	return auditBench.dir, auditBench.userID, auditBench.companyID
}

// fillAuditLog writes n audit entries of one company, in log order, and
// n/10 of each of three others interleaved with them, and a company
// admin of the first; it returns that admin's id and company.
func fillAuditLog(tb testing.TB, path string, n int) (userID, companyID string) {
	tb.Helper()
	ctx := context.Background()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	defer rs.Close()
	for _, p := range projections.All() {
		if err := rs.Ensure(ctx, p.Collection()); err != nil {
			tb.Fatal(err)
		}
	}
	companies := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	userID = uuid.NewString()
	user, _ := json.Marshal(projections.User{ID: userID, CompanyID: &companies[0], Username: "bench", Role: "company_admin", Active: true})
	co, _ := json.Marshal(projections.Company{ID: companies[0], CompanyID: companies[0], Name: "Bench", Status: "active"})
	if err := rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{
		{Collection: projections.Users, Doc: readstore.Doc{ID: userID, Version: "1", Data: user}},
		{Collection: projections.Companies, Doc: readstore.Doc{ID: companies[0], Version: "1", Data: co}},
	}}); err != nil {
		tb.Fatal(err)
	}
	resources := []string{"tickets", "tickets", "tickets", "users", "agents", "campaigns", "knowledge_chunks", "notifications"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	writes := make([]readstore.Write, 0, batch)
	total := n + 3*(n/10)
	for i := range total {
		// Every thirteenth entry is another company's, which makes n/10
		// of each of three others for every n of the first.
		c, k := 0, i
		if i%13 >= 10 {
			c = 1 + i%13 - 10
		}
		company := companies[c]
		pos := eventstore.Position{Commit: uint64(i + 1), Prepare: uint64(i + 1)}
		e := projections.AuditEntry{
			ID: uuid.NewString(), CompanyID: &company, ActorID: fmt.Sprintf("actor-%02d", k%auditBenchActors), ActorRole: "content_manager",
			Resource: resources[k%len(resources)], EntityID: fmt.Sprintf("entity-%d", k/10), Type: fmt.Sprintf("type.%02d", (k/3)%auditBenchTypes),
			SchemaVersion: 1, Revision: uint64(k % 10), Position: pos.Key(), RecordedAt: base.Add(time.Duration(i) * 100 * time.Millisecond),
			CorrelationID: fmt.Sprintf("corr-%d", k/3), CausationID: fmt.Sprintf("cause-%d", k), CommandID: fmt.Sprintf("cmd-%d", k/3), RequestID: fmt.Sprintf("req-%d", k/3),
		}
		data, _ := json.Marshal(e)
		writes = append(writes, readstore.Write{Collection: projections.AuditLog, Doc: readstore.Doc{ID: e.ID, Version: e.Position, Data: data}})
		if len(writes) == batch || i == total-1 {
			if err := rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
				tb.Fatal(err)
			}
			writes = writes[:0]
		}
	}
	return userID, companies[0]
}

// BenchmarkAuditLogList measures React Admin's audit-log list of a
// company holding AGENTDESK_BENCH_AUDIT (default 1,000,000) entries,
// beside three companies with a tenth as many each: a page of 25 with
// its total, newest first (recorded_at DESC), filtered by one actor
// (a fiftieth of the entries) and, in turn, by one event type (a
// twentieth). Each request goes through the real router in-process, as
// BenchmarkListQuery's. It reports the p50 and p99 of each filter.
func BenchmarkAuditLogList(b *testing.B) {
	n := benchEnvInt(b, "AGENTDESK_BENCH_AUDIT", 1_000_000)
	dir, userID, companyID := auditBenchData(b)
	cfg := testConfig(b, dir)
	srv, err := Open(context.Background(), cfg, quietLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	secret, _ := cfg.EnsureSecret()
	tokens, _ := auth.NewTokens(secret, time.Hour)
	token, _, err := tokens.Issue(auth.Claims{UserID: userID, CompanyID: companyID, Role: "company_admin"})
	if err != nil {
		b.Fatal(err)
	}
	handler := srv.http.Handler
	// The superadmin's creation is the log's first events: the trail
	// answers once it has caught up with them.
	for deadline := time.Now().Add(30 * time.Second); ; {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("not ready within 30s: %s", rec.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The company's entries are numbered k = 0…n-1 (see fillAuditLog):
	// actor-07's are every fiftieth, type.05's three in every sixty.
	queries := []struct {
		name   string
		filter string
		total  int64
	}{
		{"actor", `{"actor_id":"actor-07"}`, int64(n / auditBenchActors)},
		{"type", `{"type":"type.05"}`, int64(n / auditBenchTypes)},
	}
	do := func(filter string) (time.Duration, *httptest.ResponseRecorder) {
		req := httptest.NewRequest("GET", "/api/audit_log?range=[0,24]&sort="+url.QueryEscape(`["recorded_at","DESC"]`)+"&filter="+url.QueryEscape(filter), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return took, rec
	}
	for _, q := range queries {
		_, rec := do(q.filter)
		var page struct {
			Data  []projections.AuditEntry `json:"data"`
			Total int64                    `json:"total"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Data) != 25 || page.Total < q.total-1 || page.Total > q.total+1 {
			b.Fatalf("%s: got %d rows, total %d (%v); want 25 of about %d", q.name, len(page.Data), page.Total, err, q.total)
		}
		if !slices.IsSortedFunc(page.Data, func(x, y projections.AuditEntry) int { return y.RecordedAt.Compare(x.RecordedAt) }) {
			b.Fatalf("%s: the page is not newest first", q.name)
		}
		for range 50 { // warm the page cache
			do(q.filter)
		}
	}
	samples := make([][]time.Duration, len(queries))
	b.ResetTimer()
	for i := range b.N {
		q := i % len(queries)
		took, _ := do(queries[q].filter)
		samples[q] = append(samples[q], took)
	}
	b.StopTimer()
	for i, q := range queries {
		s := samples[i]
		if len(s) == 0 {
			continue
		}
		slices.Sort(s)
		pct := func(p float64) float64 {
			return float64(s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), q.name+"-p50-ms")
		b.ReportMetric(pct(0.99), q.name+"-p99-ms")
	}
}
