package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	decl "agentdesk/domain/resource"
	"agentdesk/domain/usage"
	"agentdesk/readstore"
)

func TestQuota(t *testing.T) {
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	ctx := context.Background()
	for _, name := range []string{decl.Companies.CollectionName(), decl.UsageMonthlyCollection} {
		if err := rs.Ensure(ctx, readstore.Collection{Name: name, Fields: []readstore.Field{{Name: "company_id", Type: readstore.String}}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	put := func(collection, id string, doc map[string]any) {
		t.Helper()
		data, _ := json.Marshal(doc)
		if err := rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: collection, Doc: readstore.Doc{ID: id, Version: "1", Data: data}}}}); err != nil {
			t.Fatal(err)
		}
	}
	const (
		acme  = "aaaaaaaa-1111-4111-8111-111111111111" // 120,000 spent, own quota 100,000
		none  = "bbbbbbbb-2222-4222-8222-222222222222" // own quota 0, nothing spent
		deflt = "cccccccc-3333-4333-8333-333333333333" // no quota of its own, 500 spent
	)
	n := func(v int64) *int64 { return &v }
	put(decl.Companies.CollectionName(), acme, map[string]any{"id": acme, "name": "Acme", "monthly_token_quota": n(100000)})
	put(decl.Companies.CollectionName(), none, map[string]any{"id": none, "name": "Nobody", "monthly_token_quota": n(0)})
	put(decl.Companies.CollectionName(), deflt, map[string]any{"id": deflt, "name": "Default", "monthly_token_quota": nil})
	put(decl.UsageMonthlyCollection, usage.MonthKey(acme, now), map[string]any{"total_tokens": 120000})
	put(decl.UsageMonthlyCollection, usage.MonthKey(deflt, now), map[string]any{"total_tokens": 500})

	for _, c := range []struct {
		name     string
		def      int64
		company  string
		at       time.Time
		refused  bool
		wantUsed int64
	}{
		{"no company (a superadmin)", 1, "", now, false, 0},
		{"over its own quota", 0, acme, now, true, 120000},
		{"its own quota, whatever the default", 1 << 40, acme, now, true, 120000},
		{"a new month", 0, acme, usage.NextMonth(now), false, 0},
		{"a quota of 0 refuses the first request", 0, none, now, true, 0},
		{"no quota of its own and no default", 0, deflt, now, false, 0},
		{"the default, not reached", 501, deflt, now, false, 0},
		{"the default, reached", 500, deflt, now, true, 500},
		{"a company the view does not hold yet takes the default", 1000, "dddddddd-4444-4444-8444-444444444444", now, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := &Quota{Store: rs, Default: c.def, Now: func() time.Time { return c.at }}
			err := q.Check(ctx, c.company)
			var over *QuotaExceededError
			if got := errors.As(err, &over); got != c.refused || (err != nil && !got) {
				t.Fatalf("got %v, want refused %v", err, c.refused)
			}
			if over != nil && over.Used != c.wantUsed {
				t.Fatalf("got used %d, want %d", over.Used, c.wantUsed)
			}
		})
	}

	// The refusal as the API answers it.
	q := &Quota{Store: rs, Now: func() time.Time { return now }}
	err = q.Check(ctx, acme)
	rec := httptest.NewRecorder()
	WriteError(slog.New(slog.NewTextHandler(io.Discard, nil)), rec, httptest.NewRequest("POST", "/api/llm/completion", nil), err)
	var p Problem
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	const want = "company Acme has used 120,000 of its 100,000 monthly tokens; the quota resets on 2026-12-01T00:00:00Z"
	if rec.Code != http.StatusTooManyRequests || p.Detail != want || p.Message != want {
		t.Fatalf("got %d %s, want 429 with detail %q", rec.Code, rec.Body, want)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "46800" { // 13 hours to midnight UTC
		t.Fatalf("got Retry-After %q, want 46800", ra)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
