package conversation

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	convID    = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID = "22222222-2222-4222-8222-222222222222"
	agentID   = "33333333-3333-4333-8333-333333333333"
	userID    = "44444444-4444-4444-8444-444444444444"
	msgID     = "55555555-5555-4555-8555-555555555555"
	chunkID   = "66666666-6666-4666-8666-666666666666"
	ticketID  = "77777777-7777-4777-8777-777777777777"
)

func started() *Started {
	return &Started{ConversationID: convID, CompanyID: companyID, AgentID: agentID, UserID: userID, Title: "Where is my parcel?"}
}

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		TypeStarted: started(),
		TypeMessagePosted: &MessagePosted{MessageID: msgID, Seq: 2, AgentID: agentID, Role: Assistant, Content: "It ships today.",
			Citations: []string{chunkID}, Model: "gpt-4o-mini", Usage: &Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}},
		TypeEscalated: &Escalated{TicketID: ticketID, Reason: ByModel},
	})
}

func TestStart(t *testing.T) {
	start := func(change func(*StartCmd)) func(*Conversation) ([]domain.Event, error) {
		return func(c *Conversation) ([]domain.Event, error) {
			cmd := StartCmd{ConversationID: convID, CompanyID: companyID, AgentID: agentID, UserID: userID, FirstMessage: "  Where is my parcel?\nIt was due Monday."}
			change(&cmd)
			return c.Start(cmd)
		}
	}
	domaintest.Run(t, []domaintest.Spec[Conversation]{
		{Name: "titled by the first line", When: start(func(*StartCmd) {}), Want: []domain.Event{started()}},
		{Name: "twice", Given: []domain.Event{started()}, When: start(func(*StartCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "bad ids and empty message", When: start(func(c *StartCmd) { c.AgentID, c.UserID, c.FirstMessage = "x", "", " " }),
			WantFields: []string{"agent_id", "message", "user_id"}},
		{Name: "message too long", When: start(func(c *StartCmd) { c.FirstMessage = strings.Repeat("a", MaxMessage+1) }),
			WantFields: []string{"message"}},
	})
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("word ", 40)
	got := Title(long)
	if n := len([]rune(got)); n > MaxTitle || !strings.HasSuffix(got, "…") || strings.Contains(got, "wor…") {
		t.Errorf("Title(40 words) = %q (%d runes), want at most %d ending at a word with …", got, n, MaxTitle)
	}
	if got := Title("a\tb  c\nsecond"); got != "a b c" {
		t.Errorf("Title = %q, want %q", got, "a b c")
	}
}

func TestPost(t *testing.T) {
	usage := &Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}
	user := &MessagePosted{MessageID: msgID, Seq: 1, AgentID: agentID, Role: User, Content: "hi"}
	domaintest.Run(t, []domaintest.Spec[Conversation]{
		{Name: "user message numbered first", Given: []domain.Event{started()},
			When: func(c *Conversation) ([]domain.Event, error) {
				return c.Post(PostCmd{MessageID: msgID, Role: User, Content: "hi"})
			},
			Want: []domain.Event{user}},
		{Name: "reply numbered after", Given: []domain.Event{started(), user},
			When: func(c *Conversation) ([]domain.Event, error) {
				return c.Post(PostCmd{MessageID: msgID, Role: Assistant, Content: "hello", Citations: []string{chunkID}, Model: "m", Usage: usage})
			},
			Want: []domain.Event{&MessagePosted{MessageID: msgID, Seq: 2, AgentID: agentID, Role: Assistant, Content: "hello", Citations: []string{chunkID}, Model: "m", Usage: usage}}},
		{Name: "no conversation", When: func(c *Conversation) ([]domain.Event, error) {
			return c.Post(PostCmd{MessageID: msgID, Role: User, Content: "hi"})
		}, WantErr: domain.ErrNotFound},
		{Name: "user message with usage", Given: []domain.Event{started()}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Post(PostCmd{MessageID: msgID, Role: User, Content: "hi", Usage: usage})
		}, WantFields: []string{"role"}},
		{Name: "unknown role and bad citation", Given: []domain.Event{started()}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Post(PostCmd{MessageID: "nope", Role: "system", Content: "x"})
		}, WantFields: []string{"message_id", "role"}},
		{Name: "citation not an id", Given: []domain.Event{started()}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Post(PostCmd{MessageID: msgID, Role: Assistant, Citations: []string{"x"}})
		}, WantFields: []string{"citations"}},
	})
}

func TestEscalate(t *testing.T) {
	esc := &Escalated{TicketID: ticketID, Reason: ByUser}
	domaintest.Run(t, []domaintest.Spec[Conversation]{
		{Name: "once", Given: []domain.Event{started()}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Escalate(ticketID, ByUser)
		}, Want: []domain.Event{esc}},
		{Name: "again records nothing", Given: []domain.Event{started(), esc}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Escalate(convID, ByModel)
		}},
		{Name: "bad reason", Given: []domain.Event{started()}, When: func(c *Conversation) ([]domain.Event, error) {
			return c.Escalate(ticketID, "whim")
		}, WantFields: []string{"reason"}},
	})
}
