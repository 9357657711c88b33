package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"agentdesk/internal/llm/llmtest"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// readEvents reads server-sent events from r until it ends, or until
// stop returns true for an event.
func readEvents(t *testing.T, r *bufio.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return out
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if cur.name != "" || cur.data != "" {
				out = append(out, cur)
				if stop != nil && stop(cur) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// postStream sends a completion with stream: true as c and returns the
// response, unread.
func postStream(t *testing.T, ctx context.Context, base string, c *client, body map[string]any) *http.Response {
	t.Helper()
	body["stream"] = true
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", base+completionPath, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestLLMCompletion drives POST /api/llm/completion end to end against a
// server speaking OpenAI's wire format: JSON and streamed answers, the
// roles, validation, a provider's failure, and a client that goes away.
func TestLLMCompletion(t *testing.T) {
	fake := llmtest.New(t)
	var logs lockedBuffer
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey = fake.URL, "sk-e2e"
	ts := startServerLogging(t, dir, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "Llm")
	writer := co.users["content_writer"]

	t.Run("JSON", func(t *testing.T) {
		var got struct {
			Content string `json:"content"`
			Model   string `json:"model"`
			Usage   struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
				TotalTokens      int `json:"total_tokens"`
			} `json:"usage"`
		}
		writer.with(t).must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Say hello", "max_tokens": 20, "temperature": 0.5}).JSON(t, &got)
		if got.Content != "Hello, world" || got.Model != "gpt-4o-mini" || got.Usage.PromptTokens != llmtest.PromptTokens ||
			got.Usage.CompletionTokens != llmtest.CompletionTokens || got.Usage.TotalTokens != llmtest.PromptTokens+llmtest.CompletionTokens {
			t.Fatalf("got %+v", got)
		}
		reqs := fake.Requests()
		sent := reqs[len(reqs)-1]
		if b := sent.Body; b.Model != "gpt-4o-mini" || b.MaxTokens != 20 || b.Temperature == nil || *b.Temperature != 0.5 ||
			len(b.Messages) != 1 || b.Messages[0].Role != "user" || b.Messages[0].Content != "Say hello" {
			t.Errorf("the provider got %+v", b)
		}
		if h := sent.Header.Get("Authorization"); h != "Bearer sk-e2e" {
			t.Errorf("the provider got Authorization %q", h)
		}

		msgs := []map[string]string{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}}
		m := co.users["company_admin"].with(t).must(http.StatusOK, "POST", completionPath, map[string]any{"messages": msgs, "model": "llama3"}).Map(t)
		if m["model"] != "llama3" {
			t.Errorf("got model %v, want llama3", m["model"])
		}
		reqs = fake.Requests()
		if b := reqs[len(reqs)-1].Body; len(b.Messages) != 2 || b.Messages[0].Role != "system" || b.Messages[1].Content != "Hi" {
			t.Errorf("the provider got %+v", b)
		}
	})

	t.Run("stream", func(t *testing.T) {
		resp := postStream(t, t.Context(), ts.URL, writer, map[string]any{"prompt": "Say hello"})
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		events := readEvents(t, bufio.NewReader(resp.Body), nil)
		var names, text []string
		for _, e := range events {
			names = append(names, e.name)
			if e.name == "chunk" {
				var c struct{ Content string }
				if err := json.Unmarshal([]byte(e.data), &c); err != nil {
					t.Fatalf("chunk %q: %v", e.data, err)
				}
				text = append(text, c.Content)
			}
		}
		if got := strings.Join(names, ","); got != "chunk,chunk,chunk,usage,done" {
			t.Fatalf("got events %s, want three chunks, usage and done", got)
		}
		if strings.Join(text, "") != "Hello, world" {
			t.Errorf("got text %q", text)
		}
		var u map[string]int
		if err := json.Unmarshal([]byte(events[3].data), &u); err != nil || u["total_tokens"] != llmtest.PromptTokens+llmtest.CompletionTokens {
			t.Errorf("usage %s: %v", events[3].data, err)
		}
	})

	t.Run("roles", func(t *testing.T) {
		for _, role := range roleOrder {
			want := http.StatusOK
			if role == "client" {
				want = http.StatusForbidden
			}
			co.users[role].with(t).must(want, "POST", completionPath, map[string]any{"prompt": "Hello"})
		}
	})

	t.Run("invalid bodies", func(t *testing.T) {
		before := len(fake.Requests())
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"prompt and messages", map[string]any{"prompt": "a", "messages": []map[string]string{{"role": "user", "content": "b"}}}, 422, "prompt"},
			{"neither", map[string]any{"model": "gpt-4o"}, 422, "prompt"},
			{"empty prompt", map[string]any{"prompt": "  "}, 422, "prompt"},
			{"no messages", map[string]any{"messages": []any{}}, 422, "messages"},
			{"bad role", map[string]any{"messages": []map[string]string{{"role": "tool", "content": "b"}}}, 422, "messages[0].role"},
			{"empty content", map[string]any{"messages": []map[string]string{{"role": "user", "content": ""}}}, 422, "messages[0].content"},
			{"temperature", map[string]any{"prompt": "a", "temperature": 3}, 422, "temperature"},
			{"max_tokens", map[string]any{"prompt": "a", "max_tokens": 0}, 422, "max_tokens"},
			{"model", map[string]any{"prompt": "a", "model": "gpt 4"}, 422, "model"},
			{"unknown field", map[string]any{"prompt": "a", "top_p": 1}, 400, "top_p"},
			{"field in upper case", map[string]any{"PROMPT": "a"}, 400, "PROMPT"},
			{"wrong type", map[string]any{"prompt": 7}, 400, "prompt"},
			{"malformed", "{", 400, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := writer.with(t).must(c.status, "POST", completionPath, c.body).Map(t)
				if c.field != "" {
					if _, ok := p["errors"].(map[string]any)[c.field]; !ok {
						t.Errorf("got %v, want errors naming %s", p, c.field)
					}
				}
			})
		}
		if n := len(fake.Requests()); n != before {
			t.Errorf("invalid bodies reached the provider: %d requests", n-before)
		}
	})

	t.Run("provider failure", func(t *testing.T) {
		fake.FailNext(llmtest.Failure{Status: http.StatusBadRequest})
		p := writer.with(t).must(http.StatusBadGateway, "POST", completionPath, map[string]any{"prompt": "Hello"}).Map(t)
		if !strings.Contains(p["detail"].(string), "provider") {
			t.Errorf("got %v", p)
		}
	})

	t.Run("claude without ANTHROPIC_API_KEY", func(t *testing.T) {
		p := writer.with(t).must(http.StatusServiceUnavailable, "POST", completionPath, map[string]any{"prompt": "Hello", "model": "claude-haiku-4-5"}).Map(t)
		if !strings.Contains(p["detail"].(string), "ANTHROPIC_API_KEY") {
			t.Errorf("got %v, want a detail naming ANTHROPIC_API_KEY", p)
		}
	})

	t.Run("client goes away", func(t *testing.T) {
		release := fake.Hold()
		defer release()
		mark := len(logs.String())
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		resp := postStream(t, ctx, ts.URL, writer, map[string]any{"prompt": "Say hello"})
		defer resp.Body.Close()
		first := readEvents(t, bufio.NewReader(resp.Body), func(sseEvent) bool { return true })
		if len(first) != 1 || first[0].name != "chunk" || first[0].data != `{"content":"Hello"}` {
			t.Fatalf("got %v, want the first chunk before the held rest", first)
		}
		cancel()
		select {
		case <-fake.Cancelled():
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream request was not cancelled when the client went away")
		}
		waitFor(t, "the server to note the gone client", func() bool { return strings.Contains(logs.String()[mark:], "client went away") })
		for line := range strings.Lines(logs.String()[mark:]) {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Errorf("logged for a client that went away: %s", line)
			}
		}
	})
}

// TestLLMCompletionNoProvider: without a provider the endpoint answers
// 503 naming the variable to set, with no Retry-After (waiting does not
// help), even to a company with no tokens left, and the role is still
// checked first.
func TestLLMCompletionNoProvider(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := newCompany(t, ts, root, "NoLlm")
	r := co.users["content_manager"].must(http.StatusServiceUnavailable, "POST", completionPath, map[string]any{"prompt": "Hello"})
	if p := r.Map(t); p["detail"] != "no LLM provider configured: set OPENAI_API_KEY (or OPENAI_BASE_URL) to enable the LLM endpoints" {
		t.Errorf("got %v", p)
	}
	if ra := r.Header.Get("Retry-After"); ra != "" {
		t.Errorf("Retry-After %q on a 503 that no wait cures", ra)
	}
	co.users["client"].must(http.StatusForbidden, "POST", completionPath, map[string]any{"prompt": "Hello"})

	// A quota of no tokens at all does not hide what is missing.
	root.must(http.StatusOK, "PUT", "/api/companies/"+co.id, map[string]any{"monthly_token_quota": 0})
	co.users["content_manager"].must(http.StatusServiceUnavailable, "POST", completionPath, map[string]any{"prompt": "Hello"})
}
