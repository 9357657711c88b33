package main

import (
	"context"
	"errors"
	"fmt"

	"agentdesk/commands"
	"agentdesk/domain/conversation"
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

// chatModel adapts an llm.Client to the model agent chat talks to.
type chatModel struct{ c *llm.Client }

func (m chatModel) Available(model string) error { return noProvider(m.c.Available(model)) }

func (m chatModel) Chat(ctx context.Context, req commands.ModelRequest, onChunk func(string) error) (commands.ModelReply, error) {
	lr := llm.Request{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature}
	for _, msg := range req.Messages {
		lr.Messages = append(lr.Messages, llm.Message{Role: llm.Role(msg.Role), Content: msg.Content})
	}
	for _, t := range req.Tools {
		lr.Tools = append(lr.Tools, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	var c llm.Completion
	var err error
	if onChunk == nil {
		c, err = m.c.Complete(ctx, lr)
	} else {
		c, err = m.c.Stream(ctx, lr, onChunk)
	}
	if err != nil {
		return commands.ModelReply{}, readapi.ProviderError(noProvider(err))
	}
	out := commands.ModelReply{Content: c.Content, Model: c.Model,
		Usage: conversation.Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens, TotalTokens: c.Usage.TotalTokens}}
	for _, tc := range c.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, commands.ModelToolCall{Name: tc.Name, Arguments: tc.Arguments})
	}
	return out, nil
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
