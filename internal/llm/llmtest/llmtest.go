// Package llmtest is a stand-in for an OpenAI-compatible server, for
// tests: an httptest server that speaks the real wire format of
// POST /chat/completions (a JSON answer, or server-sent events with
// stream: true), answers with scripted failures first when asked, and
// records what it was sent.
package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Request is what the server was sent.
type Request struct {
	Header http.Header
	Body   ChatRequest
}

// ChatRequest is the part of a chat completion request the server reads.
type ChatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens     int      `json:"max_tokens"`
	Temperature   *float64 `json:"temperature"`
	Stream        bool     `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
}

// Offers reports whether the request offered the model a tool named name.
func (r ChatRequest) Offers(name string) bool {
	for _, t := range r.Tools {
		if t.Function.Name == name {
			return true
		}
	}
	return false
}

// ToolCall is a scripted call of a tool.
type ToolCall struct {
	Name string
	// Arguments is the JSON text of the arguments.
	Arguments string
}

// Failure is one scripted error answer.
type Failure struct {
	Status     int
	RetryAfter string // the Retry-After header, if not ""
}

// Server is a fake OpenAI-compatible server. Its fields may be set
// before the first request; it is safe for concurrent use.
type Server struct {
	// URL is the base URL to configure (OPENAI_BASE_URL).
	URL string
	// Chunks is the answer, in the pieces a stream sends; a JSON answer
	// joins them. Default: "Hello", ", ", "world".
	Chunks []string
	// Call, when set, is a tool call every answer makes, instead of the
	// text, to a request that offers the tool.
	Call *ToolCall

	mu        sync.Mutex
	hold      chan struct{}
	failures  []Failure
	requests  []Request
	cancelled chan struct{}
}

// The usage every answer reports.
const (
	PromptTokens     = 11
	CompletionTokens = 3
)

// New starts a Server that stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Chunks: []string{"Hello", ", ", "world"}, cancelled: make(chan struct{}, 16)}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL + "/v1"
	return s
}

// FailNext makes the next len(f) requests answer the given failures, in
// order, before any succeeds.
func (s *Server) FailNext(f ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f...)
}

// Hold makes streams stop after their first chunk until their client
// goes away (see Cancelled) or release is called.
func (s *Server) Hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.hold = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Requests returns what the server was sent, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Cancelled is sent a value each time a held stream's client went away.
func (s *Server) Cancelled() <-chan struct{} { return s.cancelled }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"no such route","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var body ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Header: r.Header.Clone(), Body: body})
	hold := s.hold
	var fail *Failure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	if fail != nil {
		if fail.RetryAfter != "" {
			w.Header().Set("Retry-After", fail.RetryAfter)
		}
		writeError(w, fail.Status, fmt.Sprintf("scripted failure %d", fail.Status))
		return
	}
	created := int64(1767225600)
	usage := map[string]int{"prompt_tokens": PromptTokens, "completion_tokens": CompletionTokens, "total_tokens": PromptTokens + CompletionTokens}
	s.mu.Lock()
	call, chunks := s.Call, s.Chunks
	s.mu.Unlock()
	if call != nil && !body.Offers(call.Name) {
		call = nil
	}
	if !body.Stream {
		msg, finish := map[string]any{"role": "assistant", "content": strings.Join(chunks, "")}, "stop"
		if call != nil {
			msg["content"], finish = nil, "tool_calls"
			msg["tool_calls"] = []map[string]any{{"id": "call_test", "type": "function",
				"function": map[string]any{"name": call.Name, "arguments": call.Arguments}}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion", "created": created, "model": body.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": finish, "message": msg}},
			"usage":   usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": created, "model": body.Model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	if call != nil {
		// A call comes in pieces: its id and name, then its arguments
		// in two halves, as providers send them.
		half := len(call.Arguments) / 2
		send(chunk(map[string]any{"tool_calls": []map[string]any{{"index": 0, "id": "call_test", "type": "function",
			"function": map[string]any{"name": call.Name, "arguments": ""}}}}, nil))
		for _, part := range []string{call.Arguments[:half], call.Arguments[half:]} {
			send(chunk(map[string]any{"tool_calls": []map[string]any{{"index": 0, "function": map[string]any{"arguments": part}}}}, nil))
		}
		chunks = nil
	}
	for i, c := range chunks {
		send(chunk(map[string]any{"content": c}, nil))
		if i == 0 && hold != nil {
			select {
			case <-r.Context().Done():
				s.cancelled <- struct{}{}
				return
			case <-hold:
			}
		}
	}
	finish := "stop"
	if call != nil {
		finish = "tool_calls"
	}
	send(chunk(map[string]any{}, finish))
	if body.StreamOptions != nil && body.StreamOptions.IncludeUsage {
		send(map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": created, "model": body.Model,
			"choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "server_error", "code": nil}})
}
