package main

import (
	"context"
	"errors"
	"fmt"

	"agentdesk/internal/config"
	"agentdesk/internal/llm"
	"agentdesk/readapi"
)

// newLLM builds the LLM client of cfg, for the query API's completions
// and the embeddings reaction. No key at all is no error: the endpoint
// then answers 503 naming what to set.
func newLLM(cfg config.Config) (*llm.Client, error) {
	return llm.New(llm.Config{OpenAIKey: cfg.OpenAIAPIKey, OpenAIBaseURL: cfg.OpenAIBaseURL,
		AnthropicKey: cfg.AnthropicAPIKey, AnthropicBaseURL: cfg.AnthropicBaseURL, Model: cfg.LLMModel, Timeout: cfg.LLMTimeout,
		EmbeddingModel: cfg.LLMEmbeddingModel})
}

// completer adapts an llm.Client to readapi.Completer.
type completer struct{ c *llm.Client }

func (a completer) Available(model string) error { return noProvider(a.c.Available(model)) }

func (a completer) Complete(ctx context.Context, req readapi.CompletionRequest) (readapi.Completion, error) {
	c, err := a.c.Complete(ctx, llmRequest(req))
	return completion(c), noProvider(err)
}

func (a completer) Stream(ctx context.Context, req readapi.CompletionRequest, onChunk func(string) error) (readapi.Completion, error) {
	c, err := a.c.Stream(ctx, llmRequest(req), onChunk)
	return completion(c), noProvider(err)
}

// noProvider marks llm's "not configured" as readapi's, keeping its
// message, which names the variable to set.
func noProvider(err error) error {
	if errors.Is(err, llm.ErrNotConfigured) {
		return fmt.Errorf("%w: %w", readapi.ErrNoProvider, err)
	}
	return err
}

func llmRequest(req readapi.CompletionRequest) llm.Request {
	out := llm.Request{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature}
	for _, m := range req.Messages {
		out.Messages = append(out.Messages, llm.Message{Role: llm.Role(m.Role), Content: m.Content})
	}
	return out
}

func completion(c llm.Completion) readapi.Completion {
	return readapi.Completion{Content: c.Content, Model: c.Model, Usage: readapi.TokenUsage(c.Usage)}
}

// embedder adapts an llm.Client to reactions.Embedder.
type embedder struct{ c *llm.Client }

func (e embedder) Embed(ctx context.Context, model, text string) ([]float32, int, error) {
	out, err := e.c.Embed(ctx, llm.EmbedRequest{Model: model, Input: []string{text}})
	if err != nil {
		return nil, 0, err
	}
	return out.Vectors[0], out.Usage.PromptTokens, nil
}
