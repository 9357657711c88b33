package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/internal/llm/llmtest"
)

// BenchmarkHTTPChat measures POST /api/agents/{id}/chat over loopback
// TCP for an agent of AGENTDESK_BENCH_CHUNKS knowledge chunks (default
// 10,000, created over the API), against the stand-in OpenAI server on
// loopback: at 1 connection, then at AGENTDESK_BENCH_CONC (default 16),
// for AGENTDESK_BENCH_SECONDS each (default 10). Each answer comes once
// the conversation is recorded and readable, so the figure is retrieval,
// prompt, the provider's round trip, the append and the view together.
//
//	go test -run '^$' -bench HTTPChat -benchtime 1x ./cmd/agentdesk/
func BenchmarkHTTPChat(b *testing.B) {
	chunks := benchEnvInt(b, "AGENTDESK_BENCH_CHUNKS", 10000)
	conc := benchEnvInt(b, "AGENTDESK_BENCH_CONC", 16)
	seconds := benchEnvInt(b, "AGENTDESK_BENCH_SECONDS", 10)
	fake := llmtest.New(b)
	dir := b.TempDir()
	cfg := testConfig(b, dir)
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey = fake.URL, "sk-bench"
	ts := startServerWith(b, dir, cfg)
	root := login(b, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "ChatBench"}).Map(b)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{
		"company_id": co["id"], "username": "chat-bench", "password": "bench-password-1", "role": "company_admin"})
	admin := login(b, ts.URL, "chat-bench", "bench-password-1")
	agentID := admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Bench bot", "model": "gpt-4o-mini"}).Map(b)["id"].(string)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	post := func(path, body string, want int) error {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != want {
			return fmt.Errorf("POST %s: %d %.200s", path, resp.StatusCode, raw)
		}
		return nil
	}
	vocab := make([]string, 3000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%d", i)
	}
	words := func(r *rand.Rand, n int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(out, " ")
	}
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(chunks); i = next.Add(1) {
				r := rand.New(rand.NewPCG(uint64(i), 7))
				body := fmt.Sprintf(`{"agent_id":%q,"title":%q,"content":%q}`, agentID, words(r, 4), words(r, 150))
				if err := post("/api/knowledge_chunks", body, http.StatusCreated); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d chunk creates failed", n)
	}
	b.Logf("created %d chunks over HTTP in %s", chunks, time.Since(start).Round(time.Millisecond))

	var n atomic.Uint64
	chat := func() error {
		r := rand.New(rand.NewPCG(n.Add(1), 11))
		return post("/api/agents/"+agentID+"/chat", fmt.Sprintf(`{"message":%q}`, words(r, 8)), http.StatusOK)
	}
	if err := chat(); err != nil { // the agent's index is loaded once, before the timing
		b.Fatal(err)
	}
	b.ResetTimer()
	for _, c := range []int{1, conc} {
		rate, p50, p99, errs := hammer(c, time.Duration(seconds)*time.Second, chat)
		if errs > 0 {
			b.Errorf("c=%d: %d errors", c, errs)
		}
		b.Logf("chat c=%-3d %6.0f /s   p50 %6.2f ms   p99 %6.2f ms", c, rate, ms(p50), ms(p99))
		b.ReportMetric(ms(p99), fmt.Sprintf("c%d-p99-ms", c))
		b.ReportMetric(rate, fmt.Sprintf("c%d-chats/s", c))
	}
}
