// Package llmtest is a stand-in for an OpenAI-compatible server, for
// tests: an httptest server that speaks the real wire format of
// POST /chat/completions (a JSON answer, or server-sent events with
// stream: true) and POST /embeddings (vectors as JSON numbers, or in
// base64 with encoding_format "base64"), answers with scripted failures
// first when asked, and records what it was sent.
//
// Its embeddings are deterministic and mean something: each text's
// lower-cased words and their character trigrams are hashed into the
// vector's components (feature hashing), which is then scaled to length
// 1, so texts that share words have a cosine similarity well above that
// of unrelated texts.
package llmtest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode"
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

// EmbeddingRequest is the part of an embeddings request the server
// reads. Input is what was sent as "input": a string or a list of them.
type EmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// Texts returns the texts of r's input, or an error for an input that is
// neither a string nor a non-empty list of strings (token arrays are not
// understood).
func (r EmbeddingRequest) Texts() ([]string, error) {
	var one string
	if err := json.Unmarshal(r.Input, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(r.Input, &many); err != nil || len(many) == 0 {
		return nil, fmt.Errorf("input must be a string or a non-empty list of strings")
	}
	return many, nil
}

// EmbeddingCall is an embeddings request the server was sent.
type EmbeddingCall struct {
	Header http.Header
	Body   EmbeddingRequest
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
	// Dimensions is the length of the vectors of a request that asks for
	// none; default DefaultDimensions.
	Dimensions int

	mu sync.Mutex
	// call, when set, is a tool call every answer makes, instead of the
	// text, to a request that offers the tool (see SetCall).
	call       *ToolCall
	hold       chan struct{}
	failures   []Failure
	requests   []Request
	embeddings []EmbeddingCall
	cancelled  chan struct{}
}

// DefaultDimensions is the length of the vectors unless set otherwise.
const DefaultDimensions = 64

// The usage every answer reports.
const (
	PromptTokens     = 11
	CompletionTokens = 3
)

// New starts a Server that stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Chunks: []string{"Hello", ", ", "world"}, Dimensions: DefaultDimensions, cancelled: make(chan struct{}, 16)}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL + "/v1"
	return s
}

// SetCall makes every answer to a request that offers the tool c names
// call it, instead of answering with text; nil goes back to text.
func (s *Server) SetCall(c *ToolCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call = c
}

// FailNext makes the next len(f) requests, chat completions and
// embeddings alike, answer the given failures, in order, before any
// succeeds.
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

// Requests returns the chat completion requests the server was sent, in
// order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Embeddings returns the embeddings requests the server was sent, in
// order, failed ones included.
func (s *Server) Embeddings() []EmbeddingCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]EmbeddingCall(nil), s.embeddings...)
}

// nextFailure takes the next scripted failure, if any; s.mu is held.
func (s *Server) nextFailure() *Failure {
	if len(s.failures) == 0 {
		return nil
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return &f
}

// fail answers a scripted failure.
func fail(w http.ResponseWriter, f *Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeError(w, f.Status, fmt.Sprintf("scripted failure %d", f.Status))
}

// Cancelled is sent a value each time a held stream's client went away.
func (s *Server) Cancelled() <-chan struct{} { return s.cancelled }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
		s.chat(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/embeddings":
		s.embed(w, r)
	default:
		http.Error(w, `{"error":{"message":"no such route","type":"invalid_request_error"}}`, http.StatusNotFound)
	}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var body ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Header: r.Header.Clone(), Body: body})
	hold := s.hold
	failure := s.nextFailure()
	s.mu.Unlock()
	if failure != nil {
		fail(w, failure)
		return
	}
	created := int64(1767225600)
	usage := map[string]int{"prompt_tokens": PromptTokens, "completion_tokens": CompletionTokens, "total_tokens": PromptTokens + CompletionTokens}
	s.mu.Lock()
	call, chunks := s.call, s.Chunks
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

// embed answers POST /v1/embeddings as OpenAI does: one embedding per
// input, in order, with the usage.
func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	var body EmbeddingRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	s.embeddings = append(s.embeddings, EmbeddingCall{Header: r.Header.Clone(), Body: body})
	failure := s.nextFailure()
	dims := s.Dimensions
	s.mu.Unlock()
	if failure != nil {
		fail(w, failure)
		return
	}
	texts, err := body.Texts()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Model == "" {
		writeError(w, http.StatusBadRequest, "model is required")
		return
	}
	if body.Dimensions > 0 {
		dims = body.Dimensions
	}
	if dims <= 0 {
		dims = DefaultDimensions
	}
	data := make([]map[string]any, len(texts))
	tokens := 0
	for i, text := range texts {
		v := Embed(text, dims)
		var embedding any = v
		switch body.EncodingFormat {
		case "", "float":
		case "base64":
			embedding = EncodeBase64(v)
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("encoding_format %q: want float or base64", body.EncodingFormat))
			return
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": embedding}
		tokens += max(1, len(words(text)))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": body.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// Embed returns the server's vector of text with dims components: its
// lower-cased words and their character trigrams hashed into the
// components, each with a sign from its hash, scaled to length 1. A
// text without words is the zero vector.
func Embed(text string, dims int) []float32 {
	v := make([]float64, dims)
	add := func(feature string, weight float64) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		sum := h.Sum64()
		sign := 1.0
		if sum>>63 == 1 {
			sign = -1
		}
		v[sum%uint64(dims)] += sign * weight
	}
	for _, word := range words(text) {
		add("w:"+word, 1)
		padded := []rune("^" + word + "$")
		for i := 0; i+3 <= len(padded); i++ {
			add("t:"+string(padded[i:i+3]), 0.25)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, dims)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// words returns text's words, lower-cased: runs of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// EncodeBase64 is v as OpenAI sends it with encoding_format "base64":
// little-endian float32s in standard base64.
func EncodeBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Cosine is the cosine similarity of two vectors of the same length.
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "server_error", "code": nil}})
}
