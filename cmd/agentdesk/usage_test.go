package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/usage"
	"agentdesk/internal/llm/llmtest"
	"agentdesk/projections"
)

// perCompletion is what every answer of the fake provider costs.
const perCompletion = llmtest.PromptTokens + llmtest.CompletionTokens

// waitUsage waits until the usage views have applied everything the log
// holds now.
func waitUsage(tb testing.TB, ts *testServer) {
	tb.Helper()
	ctx := context.Background()
	head, err := ts.srv.events.Head(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{projections.Usage, projections.UsageMonthly} {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ts.srv.runner.Wait(wctx, name, head)
		cancel()
		if err != nil {
			tb.Fatalf("wait for the %s view: %v", name, err)
		}
	}
}

// spend records tokens of companyID as a platform process would, and
// waits until the usage views show them.
func (pf *platform) spend(tb testing.TB, companyID string, tokens int) {
	tb.Helper()
	m := commands.Meta{Principal: domain.SystemPrincipal("test", companyID)}
	if _, err := pf.app.RecordUsage(context.Background(), m, commands.RecordUsage{Model: "gpt-4o-mini", Kind: usage.Completion,
		PromptTokens: tokens, TotalTokens: tokens}); err != nil {
		tb.Fatalf("record usage: %v", err)
	}
	waitUsage(tb, pf.ts)
}

// streamed sends a streamed completion as c and reads it to its end.
func streamed(t *testing.T, base string, c *client) []sseEvent {
	t.Helper()
	resp := postStream(t, t.Context(), base, c, map[string]any{"prompt": "Say hello"})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: got %d", resp.StatusCode)
	}
	return readEvents(t, bufio.NewReader(resp.Body), nil)
}

// TestUsageRecorded: completions, JSON and streamed, are recorded as
// usage records with their caller as the actor, summed per company and
// day, and readable by the company's admins and managers only.
func TestUsageRecorded(t *testing.T) {
	fake := llmtest.New(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey = fake.URL, "sk-e2e"
	ts := startServerWith(t, dir, cfg)
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	ts.srv.clock.setClock(func() time.Time { return now })
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Metered")
	other := newTenant(t, ts, root, "Elsewhere")
	writer := co.users["content_writer"]

	writer.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Say hello"})
	if names := streamed(t, ts.URL, writer); len(names) == 0 || names[len(names)-1].name != "done" {
		t.Fatalf("stream: got %v", names)
	}
	waitUsage(t, ts)

	admin := co.users["company_admin"]
	l := admin.list("/api/usage" + filterQuery(map[string]any{"company_id": co.id}, ""))
	wantID := co.id + ":2026-11-15:none"
	if l.Total != 1 || len(l.Data) != 1 {
		t.Fatalf("got %d records (total %d), want the day's one", len(l.Data), l.Total)
	}
	d := l.Data[0]
	if d["id"] != wantID || d["company_id"] != co.id || d["agent_id"] != nil || d["day"] != "2026-11-15" || d["month"] != "2026-11" ||
		d["prompt_tokens"] != float64(2*llmtest.PromptTokens) || d["completion_tokens"] != float64(2*llmtest.CompletionTokens) ||
		d["total_tokens"] != float64(2*perCompletion) || d["requests"] != float64(2) {
		t.Fatalf("got %v, want two completions' tokens on 2026-11-15, agent_id null", d)
	}
	if got := co.users["content_manager"].must(http.StatusOK, "GET", "/api/usage/"+wantID, nil).Map(t); got["total_tokens"] != float64(2*perCompletion) {
		t.Fatalf("the record: got %v", got)
	}
	for _, f := range []map[string]any{{"day_gte": "2026-11-01", "day_lte": "2026-11-30"}, {"month": "2026-11"}, {"agent_id": nil}, {"total_tokens_gte": 2 * perCompletion}} {
		if got := admin.list("/api/usage" + filterQuery(f, "sort=day&order=DESC")); got.Total != 1 {
			t.Errorf("filter %v: got %d records, want 1", f, got.Total)
		}
	}
	if got := admin.list("/api/usage" + filterQuery(map[string]any{"day_gte": "2026-11-16"}, "")); got.Total != 0 {
		t.Errorf("day_gte after the day: got %d records, want none", got.Total)
	}

	// Another company's admin sees nothing of it; writers and clients
	// see no usage at all.
	if got := other.admin.list("/api/usage" + filterQuery(map[string]any{"company_id": co.id}, "")); got.Total != 0 || len(got.Data) != 0 {
		t.Fatalf("another company's admin: got %v", got)
	}
	other.admin.must(http.StatusNotFound, "GET", "/api/usage/"+wantID, nil)
	writer.must(http.StatusForbidden, "GET", "/api/usage", nil)
	co.users["client"].must(http.StatusForbidden, "GET", "/api/usage/"+wantID, nil)
	admin.must(http.StatusNotFound, "GET", "/api/usage/not-a-day", nil)
	if got := root.list("/api/usage" + filterQuery(map[string]any{"company_id": co.id}, "")); got.Total != 1 {
		t.Fatalf("superadmin: got %d records, want 1", got.Total)
	}

	// The audit trail names who spent the tokens.
	// (The audit log gathers its entries a moment after the writes.)
	var entries listResult
	waitFor(t, "the usage entries in the audit trail", func() bool {
		entries = admin.list("/api/audit_log" + filterQuery(map[string]any{"type": usage.TypeRecorded}, ""))
		return entries.Total >= 2
	})
	if entries.Total != 2 {
		t.Fatalf("audit trail: got %d usage entries, want 2", entries.Total)
	}
	for _, e := range entries.Data {
		if e["actor_id"] != co.ids["content_writer"] || e["resource"] != "usage" {
			t.Errorf("audit entry %v: want the writer as actor, resource usage", e)
		}
	}
}

// TestTokenQuota: a superadmin sets a company's monthly token quota;
// completions succeed until the month's usage reaches it, then answer
// 429 without asking the provider, until the next month; null restores
// the server's default (LLM_MONTHLY_TOKEN_QUOTA). Nobody else sets it.
func TestTokenQuota(t *testing.T) {
	fake := llmtest.New(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey = fake.URL, "sk-e2e"
	const def = perCompletion + 6 // the default admits two completions
	cfg.LLMMonthlyTokenQuota = def
	ts := startServerWith(t, dir, cfg)
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	ts.srv.clock.setClock(func() time.Time { return now })
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Quota")
	other := newTenant(t, ts, root, "Unlimited")
	writer, admin := co.users["content_writer"], co.users["company_admin"]
	path := "/api/companies/" + co.id

	if got := root.must(http.StatusOK, "GET", path, nil).Map(t); got["monthly_token_quota"] != nil {
		t.Fatalf("a new company: got monthly_token_quota %v, want null", got["monthly_token_quota"])
	}
	const quota = 2 * perCompletion
	if got := root.must(http.StatusOK, "PUT", path, map[string]any{"monthly_token_quota": quota}).Map(t); got["monthly_token_quota"] != float64(quota) {
		t.Fatalf("set: got %v", got)
	}
	admin.must(http.StatusForbidden, "PUT", path, map[string]any{"monthly_token_quota": 1_000_000})
	if got := admin.must(http.StatusOK, "GET", path, nil).Map(t); got["monthly_token_quota"] != float64(quota) {
		t.Fatalf("the admin reads its quota: got %v", got)
	}
	root.must(http.StatusUnprocessableEntity, "PUT", path, map[string]any{"monthly_token_quota": -1})
	root.must(http.StatusBadRequest, "PUT", path, map[string]any{"monthly_token_quota": "lots"})

	writer.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "One"})
	waitUsage(t, ts)
	streamed(t, ts.URL, writer)
	waitUsage(t, ts)

	refused := func(want string) {
		t.Helper()
		before := len(fake.Requests())
		r := writer.must(http.StatusTooManyRequests, "POST", completionPath, map[string]any{"prompt": "Three"})
		if p := r.Map(t); p["detail"] != want || p["message"] != want {
			t.Errorf("got %v, want detail %q", p, want)
		}
		reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra != int(reset.Sub(now).Seconds()) {
			t.Errorf("got Retry-After %q, want %d (seconds to %s)", r.Header.Get("Retry-After"), int(reset.Sub(now).Seconds()), reset)
		}
		resp := postStream(t, t.Context(), ts.URL, writer, map[string]any{"prompt": "Three"})
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("streamed: got %d, want 429", resp.StatusCode)
		}
		if n := len(fake.Requests()); n != before {
			t.Errorf("the provider was asked %d times for refused requests", n-before)
		}
	}
	refused(fmt.Sprintf("company Quota has used %d of its %d monthly tokens; the quota resets on 2026-12-01T00:00:00Z", quota, quota))

	// A superadmin has no company and no quota; another company has the
	// default, unspent.
	root.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Hi"})
	other.admin.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Hi"})

	// A new month resets it.
	now = time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	writer.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "December"})
	waitUsage(t, ts)

	// 0 is no tokens at all; null is the server's default again.
	root.must(http.StatusOK, "PUT", path, map[string]any{"monthly_token_quota": 0})
	refused(fmt.Sprintf("company Quota has used %d of its 0 monthly tokens; the quota resets on 2027-01-01T00:00:00Z", perCompletion))
	if got := root.must(http.StatusOK, "PUT", path, map[string]any{"monthly_token_quota": nil}).Map(t); got["monthly_token_quota"] != nil {
		t.Fatalf("null: got %v", got)
	}
	writer.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Default"})
	waitUsage(t, ts)
	refused(fmt.Sprintf("company Quota has used %d of its %d monthly tokens; the quota resets on 2027-01-01T00:00:00Z", 2*perCompletion, def))
	dec := admin.list("/api/usage" + filterQuery(map[string]any{"month": "2026-12"}, ""))
	if len(dec.Data) != 1 || dec.Data[0]["day"] != "2026-12-01" || dec.Data[0]["total_tokens"] != float64(2*perCompletion) {
		t.Errorf("December: got %v, want two completions on 2026-12-01", dec.Data)
	}
}
