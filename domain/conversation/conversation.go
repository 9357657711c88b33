// Package conversation is the Conversation aggregate: a user's chat with
// one agent, message by message, with the knowledge each reply cited,
// what each reply cost, and whether it was handed to a person.
package conversation

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// Role says who wrote a message.
type Role string

// Roles of messages.
const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Status is where a conversation stands, as its records show it.
type Status string

// Statuses, in order.
const (
	// StatusOpen is a conversation the agent handles.
	StatusOpen Status = "open"
	// StatusEscalated is a conversation handed to a person by a ticket.
	StatusEscalated Status = "escalated"
)

// Reason says who asked for an escalation.
type Reason string

// Reasons.
const (
	// ByModel is the model calling its open_ticket tool.
	ByModel Reason = "model"
	// ByUser is the user asking for a person.
	ByUser Reason = "user"
)

// Limits on field sizes, in characters.
const (
	MaxMessage = 20000
	MaxTitle   = 100
	// MaxCitations bounds the chunks one reply cites.
	MaxCitations = 50
)

// Conversation is the state of one conversation, rebuilt from its events.
type Conversation struct {
	ID        string
	CompanyID string
	AgentID   string
	UserID    string
	Messages  int
	// Recent are the last MaxRecent messages, oldest first: what a reply
	// remembers of the conversation.
	Recent []Turn
	// TicketID is the ticket its escalation opened, "" before one.
	TicketID string
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64
}

// MaxRecent bounds Recent.
const MaxRecent = 20

// Turn is a message as a conversation remembers it.
type Turn struct {
	MessageID string
	Role      Role
	Content   string
	Citations []string
	Model     string
	Usage     *Usage
}

// Exists reports whether the conversation was started.
func (c *Conversation) Exists() bool { return c.Version > 0 }

// Ref is what the role policy needs to know about c.
func (c *Conversation) Ref() domain.ConversationRef {
	return domain.ConversationRef{CompanyID: c.CompanyID, UserID: c.UserID}
}

// Apply evolves c by one event.
func (c *Conversation) Apply(e domain.Event) {
	c.Version++
	switch e := e.(type) {
	case *Started:
		c.ID, c.CompanyID, c.AgentID, c.UserID = e.ConversationID, e.CompanyID, e.AgentID, e.UserID
	case *MessagePosted:
		c.Messages = e.Seq
		if len(c.Recent) == MaxRecent {
			c.Recent = c.Recent[1:]
		}
		// Clipped, append copies: states copied from one another (a
		// cached one, a decision's scratch) never share a new turn.
		c.Recent = append(slices.Clip(c.Recent), Turn{MessageID: e.MessageID, Role: e.Role, Content: e.Content,
			Citations: e.Citations, Model: e.Model, Usage: e.Usage})
	case *Escalated:
		c.TicketID = e.TicketID
	}
}

// StartCmd starts a conversation.
type StartCmd struct {
	ConversationID string
	CompanyID      string
	AgentID        string
	UserID         string
	// FirstMessage titles the conversation.
	FirstMessage string
}

// Start decides the start of a conversation, titled by the start of its
// first message.
func (c *Conversation) Start(cmd StartCmd) ([]domain.Event, error) {
	if c.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	for field, id := range map[string]string{"conversation_id": cmd.ConversationID, "company_id": cmd.CompanyID, "agent_id": cmd.AgentID, "user_id": cmd.UserID} {
		if !domain.ValidID(id) {
			p.Add(field, "must be a UUID")
		}
	}
	checkMessage(p, cmd.FirstMessage)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Started{ConversationID: cmd.ConversationID, CompanyID: cmd.CompanyID,
		AgentID: cmd.AgentID, UserID: cmd.UserID, Title: Title(cmd.FirstMessage)}}, nil
}

// Title is the title of a conversation that starts with message: its
// first line, cut to MaxTitle characters at a word where it can be.
func Title(message string) string {
	t, _, _ := strings.Cut(strings.TrimSpace(message), "\n")
	t = strings.Join(strings.Fields(t), " ")
	if utf8.RuneCountInString(t) <= MaxTitle {
		return t
	}
	r := []rune(t)[:MaxTitle-1]
	if i := strings.LastIndexByte(string(r), ' '); i > MaxTitle/2 {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}

// PostCmd posts a message.
type PostCmd struct {
	MessageID string
	Role      Role
	Content   string
	Citations []string
	Model     string
	Usage     *Usage
}

// Post decides posting a message, numbered after the last one. A user's
// message carries no citations, model or usage.
func (c *Conversation) Post(cmd PostCmd) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	if !domain.ValidID(cmd.MessageID) {
		p.Add("message_id", "must be a UUID")
	}
	switch cmd.Role {
	case User:
		if len(cmd.Citations) > 0 || cmd.Model != "" || cmd.Usage != nil {
			p.Add("role", "a user's message has no citations, model or usage")
		}
		checkMessage(p, cmd.Content)
	case Assistant:
		// A model's reply is recorded as it came, even empty (a reply
		// that only called a tool).
		if utf8.RuneCountInString(cmd.Content) > 4*MaxMessage {
			p.Add("content", fmt.Sprintf("must be at most %d characters", 4*MaxMessage))
		}
		if len(cmd.Citations) > MaxCitations {
			p.Add("citations", fmt.Sprintf("must be at most %d", MaxCitations))
		}
		for _, id := range cmd.Citations {
			if !domain.ValidID(id) {
				p.Add("citations", "must be chunk ids")
				break
			}
		}
		if u := cmd.Usage; u != nil && (u.PromptTokens < 0 || u.CompletionTokens < 0 || u.TotalTokens < 0) {
			p.Add("usage", "must not be negative")
		}
	default:
		p.Add("role", "must be user or assistant")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&MessagePosted{MessageID: cmd.MessageID, Seq: c.Messages + 1, AgentID: c.AgentID,
		Role: cmd.Role, Content: cmd.Content, Citations: cmd.Citations, Model: cmd.Model, Usage: cmd.Usage}}, nil
}

// Escalate decides handing the conversation to a person through ticket
// ticketID. A conversation is escalated once: a later request records
// nothing, and the ticket already opened stands.
func (c *Conversation) Escalate(ticketID string, reason Reason) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	if c.TicketID != "" {
		return nil, nil
	}
	p := domain.Problems{}
	if !domain.ValidID(ticketID) {
		p.Add("ticket_id", "must be a UUID")
	}
	if reason != ByModel && reason != ByUser {
		p.Add("reason", "must be model or user")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Escalated{TicketID: ticketID, Reason: reason}}, nil
}

func checkMessage(p domain.Problems, m string) {
	switch {
	case strings.TrimSpace(m) == "":
		p.Add("message", "must not be empty")
	case utf8.RuneCountInString(m) > MaxMessage:
		p.Add("message", fmt.Sprintf("must be at most %d characters", MaxMessage))
	}
}

// Message returns the recent message with id, if it is one.
func (c *Conversation) Message(id string) (Turn, bool) {
	for _, t := range c.Recent {
		if t.MessageID == id {
			return t, true
		}
	}
	return Turn{}, false
}
