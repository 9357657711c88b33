package conversation

import "agentdesk/domain"

// Usage is what one model call cost, in tokens, as the provider reported
// it.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Started records a new conversation between a user and an agent.
type Started struct {
	ConversationID string `json:"conversation_id"`
	CompanyID      string `json:"company_id"`
	AgentID        string `json:"agent_id"`
	// UserID is the user who talks to the agent: the conversation's
	// owner, and the requester of any ticket it opens.
	UserID string `json:"user_id"`
	// Title is the start of the first message.
	Title string `json:"title"`
}

// MessagePosted records one message: the user's, or the agent's reply
// with the chunks it cited, the model that wrote it and what it cost.
type MessagePosted struct {
	MessageID string `json:"message_id"`
	// Seq numbers the conversation's messages from 1.
	Seq int `json:"seq"`
	// AgentID is the conversation's agent, carried so that usage can be
	// counted per agent from this event alone.
	AgentID   string   `json:"agent_id"`
	Role      Role     `json:"role"`
	Content   string   `json:"content"`
	Citations []string `json:"citations,omitempty"`
	Model     string   `json:"model,omitempty"`
	Usage     *Usage   `json:"usage,omitempty"`
}

// Escalated records that the conversation was handed to a person: a
// ticket was opened for its user.
type Escalated struct {
	TicketID string `json:"ticket_id"`
	// Reason says who asked: the model through its open_ticket tool, or
	// the user.
	Reason Reason `json:"reason"`
}

// Event type names, stable forever.
const (
	TypeStarted       = "conversation.started"
	TypeMessagePosted = "conversation.message_posted"
	TypeEscalated     = "conversation.escalated"
)

// EventType implements domain.Event.
func (*Started) EventType() string { return TypeStarted }

// EventType implements domain.Event.
func (*MessagePosted) EventType() string { return TypeMessagePosted }

// EventType implements domain.Event.
func (*Escalated) EventType() string { return TypeEscalated }

// Events decodes stored conversation events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Started{} },
	func() domain.Event { return &MessagePosted{} },
	func() domain.Event { return &Escalated{} },
)

// Stream returns the event stream id of a conversation.
func Stream(id string) string { return "conversation-" + id }

// Category is the stream category of conversations.
const Category = "conversation"
