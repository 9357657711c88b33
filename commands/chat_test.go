package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/conversation"
	"agentdesk/domain/ticket"
)

// scriptedModel answers every chat the same way and remembers the
// prompts.
type scriptedModel struct {
	mu      sync.Mutex
	reply   commands.ModelReply
	err     error
	prompts []commands.ModelRequest
}

func (m *scriptedModel) Available(string) error { return nil }

func (m *scriptedModel) Chat(_ context.Context, req commands.ModelRequest, onChunk func(string) error) (commands.ModelReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prompts = append(m.prompts, req)
	if m.err != nil {
		return commands.ModelReply{}, m.err
	}
	if onChunk != nil {
		if err := onChunk(m.reply.Content); err != nil {
			return commands.ModelReply{}, err
		}
	}
	return m.reply, nil
}

func (m *scriptedModel) calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.prompts)
}

// fixedPassages retrieves the same passages for every query.
type fixedPassages []commands.Passage

func (f fixedPassages) Retrieve(context.Context, string, string, string, int) ([]commands.Passage, error) {
	return f, nil
}

func newChatter(t *testing.T, app *commands.App, model commands.Model, passages ...commands.Passage) *commands.Chatter {
	t.Helper()
	c, err := commands.NewChatter(commands.ChatConfig{App: app, Model: model, Retriever: fixedPassages(passages)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChatRecordsTheConversation(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	agentID := newAgent(t, app, adminOf(company))
	chunk := uuid.NewString()
	model := &scriptedModel{reply: commands.ModelReply{Content: "Within 30 days.", Model: "m-1",
		Usage: conversation.Usage{PromptTokens: 40, CompletionTokens: 4, TotalTokens: 44}}}
	c := newChatter(t, app, model, commands.Passage{ChunkID: chunk, Title: "Returns", Content: "30 days"})
	client := member(company, domain.Client)

	got, err := c.Chat(ctx, client, commands.ChatInput{AgentID: agentID, Message: "How long for returns?"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reply != "Within 30 days." || len(got.Citations) != 1 || got.Citations[0] != chunk || got.Usage.TotalTokens != 44 || got.TicketID != nil {
		t.Fatalf("got %+v", got)
	}
	evs := readStream(t, es, conversation.Stream(got.ConversationID))
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.Metadata.CompanyID != company || e.Metadata.ActorID != client.Principal.UserID {
			t.Errorf("%s metadata %+v, want the client in its company", e.Type, e.Metadata)
		}
	}
	if want := "conversation.started conversation.message_posted conversation.message_posted"; strings.Join(types, " ") != want {
		t.Fatalf("events %v, want %s", types, want)
	}

	// A failed model call records nothing.
	model.err = errors.New("provider down")
	if _, err := c.Chat(ctx, client, commands.ChatInput{AgentID: agentID, ConversationID: got.ConversationID, Message: "And exchanges?"}, nil); err == nil {
		t.Fatal("a failed model call answered")
	}
	if n := len(readStream(t, es, conversation.Stream(got.ConversationID))); n != 3 {
		t.Errorf("after a failed call the conversation has %d events, want 3", n)
	}
}

// TestChatRetriedAnswersTheRecordedReply: a chat retried with the same
// command id (an idempotency key after a crash before its answer was
// kept) answers the reply it recorded, asks no model and opens no second
// ticket.
func TestChatRetriedAnswersTheRecordedReply(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	agentID := newAgent(t, app, adminOf(company))
	model := &scriptedModel{reply: commands.ModelReply{Content: "Let me get someone.", Model: "m-1",
		ToolCalls: []commands.ModelToolCall{{Name: commands.OpenTicketTool, Arguments: `{"title":"Broken lid"}`}}}}
	c := newChatter(t, app, model)
	m := member(company, domain.Client)
	m.CommandID = uuid.NewString()

	first, err := c.Chat(ctx, m, commands.ChatInput{AgentID: agentID, Message: "My lid broke"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.TicketID == nil || !first.Escalated || !strings.Contains(first.Reply, *first.TicketID) {
		t.Fatalf("first: %+v, want an escalation ticket named in the reply", first)
	}
	again, err := c.Chat(ctx, m, commands.ChatInput{AgentID: agentID, Message: "My lid broke"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Reply != first.Reply || again.ConversationID != first.ConversationID || again.MessageID != first.MessageID ||
		again.TicketID == nil || *again.TicketID != *first.TicketID {
		t.Fatalf("retry: %+v, want %+v", again, first)
	}
	if n := model.calls(); n != 1 {
		t.Errorf("the model was asked %d times, want once", n)
	}
	if n := len(readStream(t, es, conversation.Stream(first.ConversationID))); n != 4 {
		t.Errorf("the conversation has %d events, want 4 (started, two messages, escalated)", n)
	}
	if n := len(readStream(t, es, ticket.Stream(*first.TicketID))); n != 1 {
		t.Errorf("the ticket has %d events, want 1", n)
	}
}

func TestChatRefusals(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	agentID := newAgent(t, app, adminOf(company))
	model := &scriptedModel{reply: commands.ModelReply{Content: "ok"}}
	c := newChatter(t, app, model)
	started, err := c.Chat(ctx, member(company, domain.Client), commands.ChatInput{AgentID: agentID, Message: "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := newAgent(t, app, adminOf(company))
	for _, tc := range []struct {
		name string
		m    commands.Meta
		in   commands.ChatInput
		want error
	}{
		{"another company's agent", member(uuid.NewString(), domain.Client), commands.ChatInput{AgentID: agentID, Message: "hi"}, domain.ErrNotFound},
		{"no such agent", member(company, domain.Client), commands.ChatInput{AgentID: uuid.NewString(), Message: "hi"}, domain.ErrNotFound},
		{"someone else's conversation", member(company, domain.Client), commands.ChatInput{AgentID: agentID, ConversationID: started.ConversationID, Message: "hi"}, domain.ErrNotFound},
		{"a system process", commands.Meta{Principal: domain.SystemPrincipal("r", company)}, commands.ChatInput{AgentID: agentID, Message: "hi"}, domain.ErrForbidden},
	} {
		if _, err := c.Chat(ctx, tc.m, tc.in, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	var ve *domain.ValidationError
	if _, err := c.Chat(ctx, member(company, domain.Client), commands.ChatInput{AgentID: agentID, Message: " "}, nil); !errors.As(err, &ve) {
		t.Errorf("empty message: got %v, want a validation error", err)
	}
	if _, err := c.Chat(ctx, member(company, domain.Client), commands.ChatInput{AgentID: other, Message: "hi", ConversationID: "x"}, nil); !errors.As(err, &ve) {
		t.Errorf("a conversation id that is no UUID: got %v, want a validation error", err)
	}
	if n := model.calls(); n != 1 {
		t.Errorf("refusals asked the model %d times", n-1)
	}
}

// TestChatStaleConversationIsReadAgain: a conversation one process holds
// in its cache, which another process posted to meanwhile, is refused
// once (the append's revision check) and read afresh for the next chat.
func TestChatStaleConversationIsReadAgain(t *testing.T) {
	app, es := newApp(t)
	other, err := commands.New(commands.Config{Store: es, Hasher: noHash{}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	company := uuid.NewString()
	agentID := newAgent(t, app, adminOf(company))
	model := &scriptedModel{reply: commands.ModelReply{Content: "ok"}}
	here, there := newChatter(t, app, model), newChatter(t, other, model)
	client := member(company, domain.Client)
	first, err := here.Chat(ctx, client, commands.ChatInput{AgentID: agentID, Message: "one"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := commands.ChatInput{AgentID: agentID, ConversationID: first.ConversationID}
	for i, c := range []*commands.Chatter{here, there} {
		in.Message = fmt.Sprint("message ", i)
		if _, err := c.Chat(ctx, client, in, nil); err != nil {
			t.Fatalf("chat %d: %v", i, err)
		}
	}
	in.Message = "stale"
	if _, err := here.Chat(ctx, client, in, nil); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a chat on the stale cached conversation: got %v, want a conflict", err)
	}
	in.Message = "again"
	if _, err := here.Chat(ctx, client, in, nil); err != nil {
		t.Fatalf("the chat after it: %v, want the conversation read afresh", err)
	}
	if n := len(readStream(t, es, conversation.Stream(first.ConversationID))); n != 9 {
		t.Errorf("the conversation has %d events, want 9 (started and four exchanges)", n)
	}
}
