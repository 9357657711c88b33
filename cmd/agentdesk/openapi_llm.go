package main

import (
	"net/http"
	"reflect"

	"github.com/getkin/kin-openapi/openapi3"

	"agentdesk/commands"
	"agentdesk/readapi"
)

// completionPath is where chats are completed.
const completionPath = "/api/llm/completion"

// completion describes POST /api/llm/completion, with its JSON and its
// server-sent events answers.
func (d *describer) completion() {
	str, integer, number := openapi3.NewStringSchema, openapi3.NewIntegerSchema, openapi3.NewFloat64Schema
	message := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("role", str().WithEnum("system", "user", "assistant")).
		WithProperty("content", str().WithMinLength(1)).
		WithRequired([]string{"role", "content"})
	body := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("prompt", str().WithMinLength(1)).
		WithProperty("messages", openapi3.NewArraySchema().WithItems(message).WithMinItems(1).WithMaxItems(200)).
		WithProperty("model", str()).
		WithProperty("max_tokens", integer().WithMin(1)).
		WithProperty("temperature", number().WithMin(0).WithMax(2)).
		WithProperty("stream", openapi3.NewBoolSchema())
	body.Description = "Exactly one of prompt (a single user message) or messages. model defaults to LLM_MODEL; " +
		"a name starting with claude goes to Anthropic, any other to OpenAI (or OPENAI_BASE_URL)."
	answer := shape(reflect.TypeFor[readapi.Completion](), nil, true)
	events := str()
	events.Description = "Server-sent events: `event: chunk` with data {\"content\": \"...\"} for each piece of the answer as it comes, " +
		"then `event: usage` with data {prompt_tokens, completion_tokens, total_tokens} and `event: done` with data {\"model\": \"...\"}. " +
		"A failure after the first chunk ends the stream with `event: error` and a Problem as data."
	ok := openapi3.NewResponse().WithDescription("The answer: JSON, or server-sent events with stream: true.").
		WithContent(openapi3.Content{
			"application/json":  openapi3.NewMediaType().WithSchema(answer),
			"text/event-stream": openapi3.NewMediaType().WithSchema(events),
		})
	op := &openapi3.Operation{
		OperationID: "complete", Tags: []string{"llm"}, Summary: "Complete a prompt or a chat with an LLM (staff roles; a client gets 403)",
		Description: "What the completion cost is recorded as a usage record (GET /api/usage sums them). " +
			"With no provider configured for the model the answer is 503, its detail naming the variable to set. " +
			"A company that has spent its monthly token quota gets 429, its detail saying how much and when it resets, " +
			"with Retry-After until then. A client that goes away cancels the request to the provider.",
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchema(body)},
		Responses:   responses(http.StatusOK, ok),
	}
	d.problems(op, 400, 401, 403, 413, 415, 422, 429, 500, 502)
	// Not the shared 503: no Retry-After helps until the server is
	// configured.
	unavailable := openapi3.NewResponse().WithDescription("No provider is configured for the model (detail names the variable to set), " +
		"or the provider did not answer within LLM_TIMEOUT (then with Retry-After).").WithJSONSchemaRef(ref("Problem"))
	withHeader(unavailable, "Retry-After", false)
	op.Responses.Set("503", &openapi3.ResponseRef{Value: unavailable})
	d.add(http.MethodPost, completionPath, op, false)
}

// chat describes POST /api/agents/{id}/chat.
func (d *describer) chat() {
	str := openapi3.NewStringSchema
	body := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("message", str().WithMinLength(1).WithMaxLength(20000)).
		WithProperty("conversation_id", str().WithFormat("uuid")).
		WithProperty("stream", openapi3.NewBoolSchema()).
		WithRequired([]string{"message"})
	body.Description = "message is the user's; conversation_id carries on one of the caller's conversations with this agent, " +
		"and without it a new conversation starts."
	answer := shape(reflect.TypeFor[commands.ChatReply](), nil, true)
	events := str()
	events.Description = "Server-sent events: `event: chunk` with data {\"content\": \"...\"} for each piece of the reply as it comes " +
		"(a ticket's note is the last one), then `event: done` with the whole reply as the JSON answer has it, once it is recorded. " +
		"A failure after the first chunk ends the stream with `event: error`, and nothing is recorded."
	ok := openapi3.NewResponse().WithDescription("The agent's reply: JSON, or server-sent events with stream: true. " +
		"The conversation is recorded and readable under /api/conversations when it is answered.").
		WithContent(openapi3.Content{
			"application/json":  openapi3.NewMediaType().WithSchema(answer),
			"text/event-stream": openapi3.NewMediaType().WithSchema(events),
		})
	op := &openapi3.Operation{
		OperationID: "chatWithAgent", Tags: []string{"agents", "llm"}, Summary: "Chat with an agent, from its knowledge",
		Description: "Retrieves the agent's best knowledge chunks for the message (BM25, fused with vector similarity when chunks have embeddings), " +
			"prompts the model with the agent's system prompt, the chunks quoted as data and the conversation so far, and records the " +
			"conversation as events. When the model calls its open_ticket tool, or the user asks for a person, a ticket is opened for the " +
			"user and the reply says so. Another company's agent, or a conversation that is not the caller's, is 404; an inactive agent is 409. " +
			"With no provider configured the answer is 503 naming the variable to set; a spent monthly token quota is 429. " +
			"A request for a person asks no model and is served either way.",
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchema(body)},
		Responses:   responses(http.StatusOK, ok),
	}
	d.problems(op, 400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 502)
	unavailable := openapi3.NewResponse().WithDescription("No provider is configured for the agent's model (detail names the variable to set), " +
		"or the provider did not answer within LLM_TIMEOUT (then with Retry-After).").WithJSONSchemaRef(ref("Problem"))
	withHeader(unavailable, "Retry-After", false)
	op.Responses.Set("503", &openapi3.ResponseRef{Value: unavailable})
	d.add(http.MethodPost, "/api/agents/{id}/chat", op, false)
}
