package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"agentdesk/internal/llm"
	"agentdesk/internal/llm/llmtest"
)

func newClient(t *testing.T, cfg llm.Config) *llm.Client {
	t.Helper()
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chat(prompt string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}}
}

func TestLLMComplete(t *testing.T) {
	srv := llmtest.New(t)
	temp := float32(0)
	c := newClient(t, llm.Config{OpenAIKey: "sk-test", OpenAIBaseURL: srv.URL, Model: "gpt-test"})
	req := chat("hi")
	req.MaxTokens, req.Temperature = 50, &temp
	got, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Completion{Content: "Hello, world", Model: "gpt-test",
		Usage: llm.Usage{PromptTokens: llmtest.PromptTokens, CompletionTokens: llmtest.CompletionTokens, TotalTokens: llmtest.PromptTokens + llmtest.CompletionTokens}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	sent := srv.Requests()[0]
	if h := sent.Header.Get("Authorization"); h != "Bearer sk-test" {
		t.Errorf("Authorization %q, want the key as a bearer token", h)
	}
	if b := sent.Body; b.Model != "gpt-test" || b.MaxTokens != 50 || b.Temperature == nil || *b.Temperature > 1e-6 || b.Stream ||
		len(b.Messages) != 1 || b.Messages[0].Role != "user" || b.Messages[0].Content != "hi" {
		t.Errorf("sent %+v", b)
	}
}

func TestLLMStream(t *testing.T) {
	srv := llmtest.New(t)
	c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
	var chunks []string
	got, err := c.Stream(context.Background(), chat("hi"), func(s string) error { chunks = append(chunks, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(chunks, "|") != "Hello|, |world" || got.Content != "Hello, world" || got.Model != "gpt-4o-mini" ||
		got.Usage.TotalTokens != llmtest.PromptTokens+llmtest.CompletionTokens {
		t.Fatalf("got chunks %q, %+v", chunks, got)
	}
	b := srv.Requests()[0].Body
	if !b.Stream || b.StreamOptions == nil || !b.StreamOptions.IncludeUsage {
		t.Errorf("sent %+v, want stream with include_usage", b)
	}
	if h := srv.Requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q sent with no key", h)
	}
}

func TestLLMProviderByModel(t *testing.T) {
	openaiSrv, anthropicSrv := llmtest.New(t), llmtest.New(t)
	c := newClient(t, llm.Config{OpenAIKey: "sk-o", OpenAIBaseURL: openaiSrv.URL, AnthropicKey: "sk-a", AnthropicBaseURL: anthropicSrv.URL + "/"})
	for _, model := range []string{"claude-sonnet-4-5", "gpt-4o", "llama3"} {
		req := chat("hi")
		req.Model = model
		if _, err := c.Complete(context.Background(), req); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
	}
	if a := anthropicSrv.Requests(); len(a) != 1 || a[0].Body.Model != "claude-sonnet-4-5" || a[0].Header.Get("Authorization") != "Bearer sk-a" {
		t.Errorf("anthropic got %+v", a)
	}
	if o := openaiSrv.Requests(); len(o) != 2 || o[0].Header.Get("Authorization") != "Bearer sk-o" {
		t.Errorf("openai got %+v", o)
	}
}

func TestLLMNotConfigured(t *testing.T) {
	cases := []struct {
		name  string
		cfg   llm.Config
		model string
		want  string
	}{
		{"nothing, default model", llm.Config{}, "", "set OPENAI_API_KEY (or OPENAI_BASE_URL) to enable the LLM endpoints"},
		{"nothing, claude", llm.Config{}, "claude-haiku-4-5", "set ANTHROPIC_API_KEY to enable the LLM endpoints"},
		{"openai only, claude", llm.Config{OpenAIKey: "k"}, "claude-haiku-4-5", "set ANTHROPIC_API_KEY to use this model"},
		{"anthropic only, gpt", llm.Config{AnthropicKey: "k"}, "gpt-4o", "set OPENAI_API_KEY (or OPENAI_BASE_URL) to use this model"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			req := chat("hi")
			req.Model = tc.model
			_, err := c.Complete(context.Background(), req)
			if !errors.Is(err, llm.ErrNotConfigured) || err.Error() != tc.want {
				t.Fatalf("got %v, want ErrNotConfigured %q", err, tc.want)
			}
			if err := c.Available(tc.model); err == nil || err.Error() != tc.want {
				t.Fatalf("Available: got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLLMRetries(t *testing.T) {
	t.Run("429 with Retry-After, then success", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
		start := time.Now()
		got, err := c.Complete(context.Background(), chat("hi"))
		if err != nil || got.Content != "Hello, world" {
			t.Fatalf("got %+v, %v", got, err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, want the 1s Retry-After honoured", waited)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("got %d requests, want 2", n)
		}
	})
	t.Run("stream retried before its first byte", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusServiceUnavailable}, llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "0"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
		got, err := c.Stream(context.Background(), chat("hi"), func(string) error { return nil })
		if err != nil || got.Content != "Hello, world" || len(srv.Requests()) != 3 {
			t.Fatalf("got %+v, %v after %d requests", got, err, len(srv.Requests()))
		}
	})
	t.Run("500s until giving up", func(t *testing.T) {
		srv := llmtest.New(t)
		for range 10 {
			srv.FailNext(llmtest.Failure{Status: http.StatusInternalServerError})
		}
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, Retries: 2})
		_, err := c.Complete(context.Background(), chat("hi"))
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("got %v, want the provider's 500", err)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("got %d requests, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("Retry-After past the cap is not waited for", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, MaxWait: time.Second})
		start := time.Now()
		_, err := c.Complete(context.Background(), chat("hi"))
		if err == nil || !strings.Contains(err.Error(), "429") || time.Since(start) > 5*time.Second {
			t.Fatalf("got %v after %v, want the 429 at once", err, time.Since(start))
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("got %d requests, want 1", n)
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusBadRequest})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
		if _, err := c.Complete(context.Background(), chat("hi")); err == nil {
			t.Fatal("got nil error, want the 400")
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("got %d requests, want 1", n)
		}
	})
}

func TestLLMCancellation(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		srv := llmtest.New(t)
		defer srv.Hold()()
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
		ctx, cancel := context.WithCancel(context.Background())
		_, err := c.Stream(ctx, chat("hi"), func(string) error { cancel(); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		select {
		case <-srv.Cancelled():
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request was not cancelled")
		}
	})
	t.Run("during a backoff", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "5"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Complete(ctx, chat("hi"))
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "429") {
			t.Fatalf("got %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("waited %v past the context's end", time.Since(start))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := llmtest.New(t)
		defer srv.Hold()()
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, Timeout: 200 * time.Millisecond})
		_, err := c.Stream(context.Background(), chat("hi"), func(string) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestLLMToolCalls(t *testing.T) {
	srv := llmtest.New(t)
	call := &llmtest.ToolCall{Name: "open_ticket", Arguments: `{"title":"Broken parcel","description":"It arrived crushed."}`}
	srv.SetCall(call)
	c := newClient(t, llm.Config{OpenAIKey: "sk-test", OpenAIBaseURL: srv.URL, Model: "gpt-test"})
	req := chat("my parcel is broken")
	req.Tools = []llm.Tool{{Name: "open_ticket", Description: "Open a ticket", Parameters: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"}}}`)}}
	want := []llm.ToolCall{{ID: "call_test", Name: "open_ticket", Arguments: call.Arguments}}
	got, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ToolCalls, want) || got.Content != "" {
		t.Errorf("Complete: calls %+v content %q, want %+v and no text", got.ToolCalls, got.Content, want)
	}
	got, err = c.Stream(context.Background(), req, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ToolCalls, want) {
		t.Errorf("Stream: calls %+v, want %+v (put together from pieces)", got.ToolCalls, want)
	}
	sent := srv.Requests()[0].Body
	if !sent.Offers("open_ticket") || sent.Tools[0].Type != "function" || !strings.Contains(string(sent.Tools[0].Function.Parameters), `"title"`) {
		t.Errorf("tools sent %+v, want open_ticket as a function with its schema", sent.Tools)
	}
	// A request without the tool gets text, whatever is scripted.
	got, err = c.Complete(context.Background(), chat("hi"))
	if err != nil || got.Content != "Hello, world" || got.ToolCalls != nil {
		t.Errorf("without tools: %+v, %v; want the text", got, err)
	}
}
func TestLLMEmbed(t *testing.T) {
	srv := llmtest.New(t)
	c := newClient(t, llm.Config{OpenAIKey: "sk-test", OpenAIBaseURL: srv.URL, EmbeddingModel: "text-embedding-3-small"})
	if got := c.EmbeddingModel(); got != "text-embedding-3-small" {
		t.Fatalf("EmbeddingModel() = %q", got)
	}
	texts := []string{"Returns are free within 30 days.", "Free returns within thirty days", "The printer on the third floor is on fire."}
	got, err := c.Embed(context.Background(), llm.EmbedRequest{Input: texts})
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "text-embedding-3-small" || len(got.Vectors) != 3 || got.Usage.PromptTokens != 6+5+9 || got.Usage.CompletionTokens != 0 {
		t.Fatalf("got model %q, %d vectors, usage %+v", got.Model, len(got.Vectors), got.Usage)
	}
	for i, v := range got.Vectors {
		if want := llmtest.Embed(texts[i], llmtest.DefaultDimensions); !slices.Equal(v, want) {
			t.Errorf("vector %d: got %v, want the server's %v", i, v, want)
		}
	}
	// The fake's vectors mean something: texts sharing words are closer.
	if near, far := llmtest.Cosine(got.Vectors[0], got.Vectors[1]), llmtest.Cosine(got.Vectors[0], got.Vectors[2]); near <= far+0.2 {
		t.Errorf("similar texts at cosine %.2f, unrelated at %.2f; want the similar ones clearly closer", near, far)
	}
	calls := srv.Embeddings()
	if len(calls) != 1 || len(srv.Requests()) != 0 {
		t.Fatalf("got %d embeddings requests and %d chat requests, want 1 and 0", len(calls), len(srv.Requests()))
	}
	sent := calls[0]
	if h := sent.Header.Get("Authorization"); h != "Bearer sk-test" {
		t.Errorf("Authorization %q, want the key as a bearer token", h)
	}
	if in, err := sent.Body.Texts(); err != nil || !slices.Equal(in, texts) || sent.Body.Model != "text-embedding-3-small" || sent.Body.EncodingFormat != "" {
		t.Errorf("sent %+v (%v)", sent.Body, err)
	}

	// A model named in the request wins over the configured one.
	if got, err := c.Embed(context.Background(), llm.EmbedRequest{Model: "nomic-embed-text", Input: texts[:1]}); err != nil || got.Model != "nomic-embed-text" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// The fake answers base64 when asked, in the encoding go-openai decodes.
func TestLLMTestEmbeddingsBase64(t *testing.T) {
	srv := llmtest.New(t)
	srv.Dimensions = 8
	cfg := openai.DefaultConfig("")
	cfg.BaseURL = srv.URL
	resp, err := openai.NewClientWithConfig(cfg).CreateEmbeddings(context.Background(), openai.EmbeddingRequestStrings{
		Model: "m", Input: []string{"hello world"}, EncodingFormat: openai.EmbeddingEncodingFormatBase64,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 || !slices.Equal(resp.Data[0].Embedding, llmtest.Embed("hello world", 8)) {
		t.Fatalf("got %+v, want the float vector back from base64", resp.Data)
	}
	if f := srv.Embeddings()[0].Body.EncodingFormat; f != "base64" {
		t.Fatalf("encoding_format %q", f)
	}
}

func TestLLMEmbedNotConfigured(t *testing.T) {
	srv := llmtest.New(t)
	cases := []struct {
		name  string
		cfg   llm.Config
		model string
		want  string
		is    error
	}{
		{"no embeddings model", llm.Config{OpenAIBaseURL: srv.URL}, "", "set LLM_EMBEDDING_MODEL to enable embeddings", llm.ErrNotConfigured},
		{"no provider", llm.Config{EmbeddingModel: "text-embedding-3-small"}, "", "set OPENAI_API_KEY (or OPENAI_BASE_URL) to enable the LLM endpoints", llm.ErrNotConfigured},
		{"anthropic only", llm.Config{AnthropicKey: "k", EmbeddingModel: "text-embedding-3-small"}, "", "set OPENAI_API_KEY (or OPENAI_BASE_URL) to use this model", llm.ErrNotConfigured},
		{"a claude model", llm.Config{OpenAIBaseURL: srv.URL, AnthropicKey: "k"}, "claude-haiku-4-5", `llm: embeddings model "claude-haiku-4-5": no embeddings API at Anthropic`, llm.ErrNoAnthropicEmbeddings},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			_, err := c.Embed(context.Background(), llm.EmbedRequest{Model: tc.model, Input: []string{"hi"}})
			if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v %q", err, tc.is, tc.want)
			}
		})
	}
	if n := len(srv.Embeddings()); n != 0 {
		t.Errorf("got %d requests to the provider, want none", n)
	}
	if _, err := llm.New(llm.Config{EmbeddingModel: "claude-3"}); !errors.Is(err, llm.ErrNoAnthropicEmbeddings) {
		t.Errorf("New with a claude embeddings model: got %v, want ErrNoAnthropicEmbeddings", err)
	}
}

func TestLLMEmbedRetries(t *testing.T) {
	t.Run("429 with Retry-After, then success", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, EmbeddingModel: "e"})
		start := time.Now()
		got, err := c.Embed(context.Background(), llm.EmbedRequest{Input: []string{"hi"}})
		if err != nil || len(got.Vectors) != 1 {
			t.Fatalf("got %+v, %v", got, err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, want the 1s Retry-After honoured", waited)
		}
		if n := len(srv.Embeddings()); n != 2 {
			t.Errorf("got %d requests, want 2", n)
		}
	})
	t.Run("503s until giving up", func(t *testing.T) {
		srv := llmtest.New(t)
		for range 5 {
			srv.FailNext(llmtest.Failure{Status: http.StatusServiceUnavailable})
		}
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, EmbeddingModel: "e", Retries: 1})
		if _, err := c.Embed(context.Background(), llm.EmbedRequest{Input: []string{"hi"}}); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("got %v, want the provider's 503", err)
		}
		if n := len(srv.Embeddings()); n != 2 {
			t.Errorf("got %d requests, want 2 (1 + 1 retry)", n)
		}
	})
	t.Run("cancelled during a backoff", func(t *testing.T) {
		srv := llmtest.New(t)
		srv.FailNext(llmtest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "5"})
		c := newClient(t, llm.Config{OpenAIBaseURL: srv.URL, EmbeddingModel: "e"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Embed(ctx, llm.EmbedRequest{Input: []string{"hi"}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("waited %v past the context's end", time.Since(start))
		}
	})
}
