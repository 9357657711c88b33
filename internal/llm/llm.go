// Package llm completes chats through OpenAI's chat completions API, on
// OpenAI, any OpenAI-compatible server (vLLM, Ollama, llama.cpp) or
// Anthropic's OpenAI-compatible endpoint, and embeds text through the
// embeddings API of OpenAI or an OpenAI-compatible server (Anthropic has
// none). The model name picks the provider. Requests are bounded by a
// timeout, retried with backoff on 429 and 5xx answers, and cancelled
// with their context.
package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// DefaultAnthropicBaseURL is Anthropic's OpenAI-compatible endpoint.
const DefaultAnthropicBaseURL = "https://api.anthropic.com/v1/"

// Config configures a Client. Zero durations and counts take defaults.
type Config struct {
	// OpenAIKey (OPENAI_API_KEY) authenticates to OpenAI, or to the
	// server at OpenAIBaseURL when that one wants a key.
	OpenAIKey string
	// OpenAIBaseURL (OPENAI_BASE_URL) is an OpenAI-compatible server to
	// use instead of OpenAI; local servers need no key.
	OpenAIBaseURL string
	// AnthropicKey (ANTHROPIC_API_KEY) enables the claude models.
	AnthropicKey string
	// AnthropicBaseURL overrides DefaultAnthropicBaseURL.
	AnthropicBaseURL string
	// Model is used when a request names none; default "gpt-4o-mini".
	Model string
	// EmbeddingModel (LLM_EMBEDDING_MODEL) is used when an embeddings
	// request names none; empty means embeddings are off. It must be an
	// OpenAI or OpenAI-compatible model: Anthropic has no embeddings API.
	EmbeddingModel string
	// Timeout bounds a whole completion, retries and streaming
	// included; default 60s.
	Timeout time.Duration
	// Retries is how many times a 429 or 5xx answer is retried; default
	// 3. A negative value retries nothing.
	Retries int
	// Backoff is the wait before the first retry when the answer has no
	// Retry-After; it doubles each time. Default 500ms.
	Backoff time.Duration
	// MaxWait caps any one wait, Retry-After included: a provider that
	// asks for longer gets no retry and its error is returned. Default
	// 10s.
	MaxWait time.Duration
	// Transport defaults to http.DefaultTransport.
	Transport http.RoundTripper
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Timeout < 0 {
		errs = append(errs, errors.New("llm: Timeout must not be negative"))
	}
	if c.Backoff < 0 || c.MaxWait < 0 {
		errs = append(errs, errors.New("llm: Backoff and MaxWait must not be negative"))
	}
	if isClaude(c.EmbeddingModel) {
		errs = append(errs, fmt.Errorf("llm: EmbeddingModel %q: %w", c.EmbeddingModel, ErrNoAnthropicEmbeddings))
	}
	return errors.Join(errs...)
}

// ErrNotConfigured is returned (wrapped in a *NotConfiguredError) when
// the provider a model needs has no key or base URL.
var ErrNotConfigured = errors.New("no LLM provider configured")

// ErrNoAnthropicEmbeddings is the error of an embeddings model whose
// name starts with "claude": Anthropic has no embeddings API, so such a
// name is a configuration mistake, never sent anywhere.
var ErrNoAnthropicEmbeddings = errors.New("no embeddings API at Anthropic: use an OpenAI or OpenAI-compatible embeddings model, such as text-embedding-3-small")

// NotConfiguredError says which variable to set for a model to work.
type NotConfiguredError struct {
	// Variable is what to set, such as "ANTHROPIC_API_KEY".
	Variable string
	// Nothing reports that no provider at all is configured.
	Nothing bool
	// Feature, when set, names what the variable enables, such as
	// "embeddings".
	Feature string
}

func (e *NotConfiguredError) Error() string {
	if e.Feature != "" {
		return "set " + e.Variable + " to enable " + e.Feature
	}
	if e.Nothing {
		return "set " + e.Variable + " to enable the LLM endpoints"
	}
	return "set " + e.Variable + " to use this model"
}

// Is makes errors.Is(err, ErrNotConfigured) hold.
func (e *NotConfiguredError) Is(target error) bool { return target == ErrNotConfigured }

// Role is who says a message: system, user or assistant.
type Role string

// The roles of a chat.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one message of a chat.
type Message struct {
	Role    Role
	Content string
}

// Request is a chat to complete.
type Request struct {
	// Model defaults to Config.Model.
	Model    string
	Messages []Message
	// MaxTokens caps the answer; 0 leaves it to the provider.
	MaxTokens int
	// Temperature, when set, is sent as is.
	Temperature *float32
	// Tools are functions the model may call instead of, or beside,
	// answering (OpenAI function calling).
	Tools []Tool
}

// Usage is the tokens a completion cost.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// Completion is a model's answer.
type Completion struct {
	Content string
	// Model is the model that answered, as the provider names it.
	Model string
	Usage Usage
	// ToolCalls are the calls the model asked for, in order.
	ToolCalls []ToolCall
}

// Client completes chats. It is safe for concurrent use.
type Client struct {
	cfg       Config
	openai    *openai.Client // nil: not configured
	anthropic *openai.Client // nil: not configured
}

// New returns a Client for cfg. A provider without a key is no error
// here: its models fail when asked, naming the variable to set.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Model == "" {
		cfg.Model = "gpt-4o-mini"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.AnthropicBaseURL == "" {
		cfg.AnthropicBaseURL = DefaultAnthropicBaseURL
	}
	c := &Client{cfg: cfg}
	doer := &retrying{next: &http.Client{Transport: cfg.Transport}, retries: max(cfg.Retries, 0), backoff: cfg.Backoff, maxWait: cfg.MaxWait}
	if cfg.OpenAIKey != "" || cfg.OpenAIBaseURL != "" {
		oc := openai.DefaultConfig(cfg.OpenAIKey)
		if cfg.OpenAIBaseURL != "" {
			oc.BaseURL = strings.TrimRight(cfg.OpenAIBaseURL, "/")
		}
		oc.HTTPClient = doer
		c.openai = openai.NewClientWithConfig(oc)
	}
	if cfg.AnthropicKey != "" {
		// Anthropic's OpenAI-compatible endpoint takes the key as a
		// bearer token, as OpenAI does; go-openai's Anthropic API type
		// sends no key at all.
		ac := openai.DefaultConfig(cfg.AnthropicKey)
		ac.BaseURL = strings.TrimRight(cfg.AnthropicBaseURL, "/")
		ac.HTTPClient = doer
		c.anthropic = openai.NewClientWithConfig(ac)
	}
	return c, nil
}

// Model returns the model used when a request names none.
func (c *Client) Model() string { return c.cfg.Model }

// EmbeddingModel returns the model used when an embeddings request names
// none; empty when embeddings are off.
func (c *Client) EmbeddingModel() string { return c.cfg.EmbeddingModel }

// isClaude reports whether model is one of Anthropic's.
func isClaude(model string) bool { return strings.HasPrefix(model, "claude") }

// provider returns the client for model, or a *NotConfiguredError.
func (c *Client) provider(model string) (*openai.Client, error) {
	nothing := c.openai == nil && c.anthropic == nil
	if isClaude(model) {
		if c.anthropic == nil {
			return nil, &NotConfiguredError{Variable: "ANTHROPIC_API_KEY", Nothing: nothing}
		}
		return c.anthropic, nil
	}
	if c.openai == nil {
		return nil, &NotConfiguredError{Variable: "OPENAI_API_KEY (or OPENAI_BASE_URL)", Nothing: nothing}
	}
	return c.openai, nil
}

// Available returns nil when model ("" for the default) can be asked,
// or the *NotConfiguredError its call would return.
func (c *Client) Available(model string) error {
	if model == "" {
		model = c.cfg.Model
	}
	_, err := c.provider(model)
	return err
}

func (c *Client) chatRequest(req Request) (*openai.Client, openai.ChatCompletionRequest, error) {
	if req.Model == "" {
		req.Model = c.cfg.Model
	}
	p, err := c.provider(req.Model)
	if err != nil {
		return nil, openai.ChatCompletionRequest{}, err
	}
	out := openai.ChatCompletionRequest{Model: req.Model}
	if p == c.openai && c.cfg.OpenAIBaseURL == "" {
		// OpenAI's own reasoning models refuse max_tokens.
		out.MaxCompletionTokens = req.MaxTokens
	} else {
		// OpenAI-compatible servers (Ollama, llama.cpp, older vLLM) and
		// Anthropic's endpoint read max_tokens; not all know its
		// successor.
		//lint:ignore SA1019 the field compatible servers understand
		out.MaxTokens = req.MaxTokens
	}
	if req.Temperature != nil {
		out.Temperature = *req.Temperature
		if out.Temperature == 0 {
			// go-openai leaves out a zero temperature (omitempty), and
			// providers read a missing one as 1.
			out.Temperature = 1e-9
		}
	}
	for _, m := range req.Messages {
		out.Messages = append(out.Messages, openai.ChatCompletionMessage{Role: string(m.Role), Content: m.Content})
	}
	out.Tools = tools(req.Tools)
	return p, out, nil
}

// Complete asks for the whole answer at once. Errors: a
// *NotConfiguredError, the context's error, or the provider's.
func (c *Client) Complete(ctx context.Context, req Request) (Completion, error) {
	p, creq, err := c.chatRequest(req)
	if err != nil {
		return Completion{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := p.CreateChatCompletion(ctx, creq)
	if err != nil {
		return Completion{}, upstream(ctx, err)
	}
	if len(resp.Choices) == 0 {
		return Completion{}, errors.New("llm: the provider answered no choice")
	}
	msg := resp.Choices[0].Message
	return Completion{Content: msg.Content, Model: resp.Model, Usage: usage(resp.Usage), ToolCalls: toolCalls(msg.ToolCalls)}, nil
}

// Stream asks for the answer in chunks and calls onChunk with each
// piece of text as it comes; an error from onChunk ends the stream and
// is returned. The Completion holds the whole text and, when the
// provider reports it, the usage.
func (c *Client) Stream(ctx context.Context, req Request, onChunk func(string) error) (Completion, error) {
	p, creq, err := c.chatRequest(req)
	if err != nil {
		return Completion{}, err
	}
	creq.Stream = true
	creq.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	s, err := p.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		return Completion{}, upstream(ctx, err)
	}
	defer s.Close()
	out := Completion{Model: creq.Model}
	var text strings.Builder
	var calls callBuilder
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Completion{}, upstream(ctx, err)
		}
		if chunk.Model != "" {
			out.Model = chunk.Model
		}
		if chunk.Usage != nil {
			out.Usage = usage(*chunk.Usage)
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			calls.add(ch.Delta.ToolCalls)
			if ch.Delta.Content == "" {
				continue
			}
			text.WriteString(ch.Delta.Content)
			if err := onChunk(ch.Delta.Content); err != nil {
				return Completion{}, err
			}
		}
	}
	out.Content, out.ToolCalls = text.String(), calls.calls()
	return out, nil
}

// EmbedRequest is text to embed.
type EmbedRequest struct {
	// Model defaults to Config.EmbeddingModel.
	Model string
	// Input holds the texts, one vector each; at least one.
	Input []string
}

// Embeddings is a model's answer to an EmbedRequest.
type Embeddings struct {
	// Vectors holds one vector per input, in the order of the inputs.
	Vectors [][]float32
	// Model is the model that answered, as the provider names it.
	Model string
	// Usage is what the provider reports; embeddings cost prompt tokens
	// only.
	Usage Usage
}

// Embed turns texts into vectors with an embeddings model of OpenAI or
// of the OpenAI-compatible server at OpenAIBaseURL, with the timeout,
// retries and cancellation of Complete. Errors: a *NotConfiguredError
// (no model given and no EmbeddingModel, or no OpenAI provider), one
// wrapping ErrNoAnthropicEmbeddings for a claude model, the context's
// error, or the provider's.
func (c *Client) Embed(ctx context.Context, req EmbedRequest) (Embeddings, error) {
	if req.Model == "" {
		req.Model = c.cfg.EmbeddingModel
	}
	if req.Model == "" {
		return Embeddings{}, &NotConfiguredError{Variable: "LLM_EMBEDDING_MODEL", Feature: "embeddings"}
	}
	if isClaude(req.Model) {
		return Embeddings{}, fmt.Errorf("llm: embeddings model %q: %w", req.Model, ErrNoAnthropicEmbeddings)
	}
	if len(req.Input) == 0 {
		return Embeddings{}, errors.New("llm: nothing to embed")
	}
	p, err := c.provider(req.Model)
	if err != nil {
		return Embeddings{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// Vectors come as JSON numbers (go-openai sends no encoding_format,
	// which means "float"): base64 would be smaller, but not every
	// OpenAI-compatible server knows it.
	resp, err := p.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Model: openai.EmbeddingModel(req.Model), Input: req.Input})
	if err != nil {
		return Embeddings{}, upstream(ctx, err)
	}
	if len(resp.Data) != len(req.Input) {
		return Embeddings{}, fmt.Errorf("llm: the provider answered %d embeddings for %d inputs", len(resp.Data), len(req.Input))
	}
	out := Embeddings{Vectors: make([][]float32, len(req.Input)), Model: string(resp.Model), Usage: usage(resp.Usage)}
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out.Vectors) || out.Vectors[d.Index] != nil {
			return Embeddings{}, fmt.Errorf("llm: the provider answered an embedding with index %d for %d inputs, or twice", d.Index, len(req.Input))
		}
		if len(d.Embedding) == 0 {
			return Embeddings{}, fmt.Errorf("llm: the provider answered an empty embedding for input %d", d.Index)
		}
		out.Vectors[d.Index] = d.Embedding
	}
	if out.Model == "" {
		out.Model = req.Model
	}
	return out, nil
}

// upstream returns ctx's error when ctx ended, so that callers see a
// cancellation or a deadline as such rather than as a transport error.
func upstream(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("llm: %w", ctxErr)
	}
	return fmt.Errorf("llm: %w", err)
}

func usage(u openai.Usage) Usage {
	return Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}
