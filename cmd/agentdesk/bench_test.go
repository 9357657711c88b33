package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/internal/auth"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// benchTickets is the size of the list benchmark's tickets collection;
// AGENTDESK_BENCH_TICKETS overrides the default of 1,000,000. One company
// holds a tenth of them.
func benchTickets(tb testing.TB) int {
	n := 1_000_000
	if s := os.Getenv("AGENTDESK_BENCH_TICKETS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 {
			tb.Fatalf("AGENTDESK_BENCH_TICKETS=%q: want an integer >= 10", s)
		}
		n = v
	}
	return n
}

// fillReadModel writes n ticket documents spread over ten companies and a
// company admin of the first, and returns that admin's id and company.
func fillReadModel(tb testing.TB, path string, n int) (userID, companyID string) {
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
	companies := make([]string, 10)
	for i := range companies {
		companies[i] = uuid.NewString()
	}
	userID = uuid.NewString()
	user, _ := json.Marshal(projections.User{ID: userID, CompanyID: &companies[0], Username: "bench", Role: "company_admin", Active: true})
	co, _ := json.Marshal(projections.Company{ID: companies[0], CompanyID: companies[0], Name: "Bench", Status: "active"})
	if err := rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{
		{Collection: projections.Users, Doc: readstore.Doc{ID: userID, Version: "1", Data: user}},
		{Collection: projections.Companies, Doc: readstore.Doc{ID: companies[0], Version: "1", Data: co}},
	}}); err != nil {
		tb.Fatal(err)
	}
	statuses := []string{"open", "open", "in_progress", "resolved", "closed"}
	priorities := []string{"low", "normal", "normal", "high", "urgent"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	writes := make([]readstore.Write, 0, batch)
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		t := projections.Ticket{
			ID: uuid.NewString(), CompanyID: companies[i%10], Title: fmt.Sprintf("Ticket %d %s", i, benchWords[(i/10)%len(benchWords)]),
			Description: "Something is broken and needs attention", Priority: priorities[i%5], Status: statuses[(i/10)%5],
			RequesterID: userID, Tags: []string{"bench", fmt.Sprintf("tag%02d", (i/10)%50)}, CreatedBy: userID, CreatedAt: at, UpdatedAt: at, LastActivityAt: at, Revision: 0,
		}
		data, _ := json.Marshal(t)
		writes = append(writes, readstore.Write{Collection: projections.Tickets, Doc: readstore.Doc{ID: t.ID, Version: "2", Data: data}})
		if len(writes) == batch || i == n-1 {
			if err := rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
				tb.Fatal(err)
			}
			writes = writes[:0]
		}
	}
	return userID, companies[0]
}

// benchWords are the title words of the benchmark tickets: each is in
// one title in 200, so a search for one matches 5,000 of 1M tickets.
var benchWords = func() []string {
	var out []string
	for _, a := range []string{"printer", "login", "invoice", "network", "refund", "laptop", "email", "shipping", "password", "billing"} {
		for _, b := range []string{"jam", "error", "delay", "crash", "request", "issue", "outage", "question", "failure", "update",
			"broken", "slow", "missing", "wrong", "locked", "expired", "duplicate", "stuck", "timeout", "blocked"} {
			out = append(out, a+b)
		}
	}
	return out
}()

// benchFill is the benchmarks' read model of tickets, filled once per
// process (see benchData); TestMain removes it when temp.
var benchFill struct {
	once              sync.Once
	dir               string
	temp              bool
	userID, companyID string
}

// BenchmarkListQuery measures the React Admin list request of a company
// holding a tenth of AGENTDESK_BENCH_TICKETS (default 1,000,000) tickets:
// filter status=open, sorted by created_at descending, a page of 25 with
// its total. Each request goes through the real router in-process (token
// check, principal lookup, query parsing, SQLite, JSON). It reports the
// p50 and p99 latency.
func BenchmarkListQuery(b *testing.B) {
	n := benchTickets(b)
	dir, userID, companyID := benchData(b)

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
	target := "/api/tickets?skip=0&limit=25&sort=created_at&order=DESC&filter=" + url.QueryEscape(`{"status":"open"}`)
	handler := srv.http.Handler
	do := func() time.Duration {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return took
	}
	var first struct {
		Data  []map[string]any `json:"data"`
		Total int64            `json:"total"`
	}
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if err := json.Unmarshal(rec.Body.Bytes(), &first); err != nil || len(first.Data) != 25 || first.Total != int64(n/10*2/5) {
		b.Fatalf("got %d rows, total %d (err %v, status %d: %.200s); want 25 rows of %d", len(first.Data), first.Total, err, rec.Code, rec.Body, n/10*2/5)
	}
	for range 50 { // warm the page cache
		do()
	}
	b.ResetTimer()
	samples := make([]time.Duration, 0, b.N)
	for range b.N {
		samples = append(samples, do())
	}
	b.StopTimer()
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(float64(len(samples))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
