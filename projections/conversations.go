package projections

import (
	"context"
	"fmt"
	"time"

	"agentdesk/domain/conversation"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Conversations and ConversationMessages name the read models of
// conversations and of their messages, and their projections.
var (
	Conversations        = resource.Conversations.CollectionName()
	ConversationMessages = resource.ConversationMessages.CollectionName()
)

// Conversation is a document of the conversations read model.
type Conversation struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	AgentID   string `json:"agent_id"`
	UserID    string `json:"user_id"`
	Title     string `json:"title"`
	Status    string `json:"status"`
	// TicketID is the ticket an escalation opened, null before one.
	TicketID      *string   `json:"ticket_id"`
	MessageCount  int       `json:"message_count"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	LastMessageAt time.Time `json:"last_message_at"`
	Revision      uint64    `json:"revision"`
}

// ConversationsProjector builds the conversations read model.
func ConversationsProjector() Projector {
	return &Def[Conversation]{
		ProjectionName: Conversations,
		Spec:           collectionOf(resource.Conversations),
		Categories:     []string{conversation.Category},
		DocID:          streamID(conversation.Category),
		Creates:        []string{conversation.TypeStarted},
		Project:        projectConversation,
	}
}

func projectConversation(ev eventstore.RecordedEvent, cur *Conversation) (*Conversation, error) {
	e, err := decode(conversation.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	if s, ok := e.(*conversation.Started); ok {
		return &Conversation{ID: s.ConversationID, CompanyID: s.CompanyID, AgentID: s.AgentID, UserID: s.UserID,
			Title: s.Title, Status: string(conversation.StatusOpen), CreatedAt: at, UpdatedAt: at, LastMessageAt: at,
			Revision: ev.Revision}, nil
	}
	next := *cur
	switch e := e.(type) {
	case *conversation.MessagePosted:
		next.MessageCount, next.LastMessageAt = e.Seq, at
	case *conversation.Escalated:
		next.Status, next.TicketID = string(conversation.StatusEscalated), &e.TicketID
	default:
		return nil, fmt.Errorf("unexpected conversation event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}

// ConversationMessage is a document of the conversation_messages read
// model: one message.
type ConversationMessage struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	CompanyID      string `json:"company_id"`
	AgentID        string `json:"agent_id"`
	Seq            int    `json:"seq"`
	Role           string `json:"role"`
	Content        string `json:"content"`
	// Citations are the knowledge chunks a reply drew on; never nil.
	Citations []string `json:"citations"`
	// Model and Usage are a reply's; null on a user's message.
	Model     *string             `json:"model"`
	Usage     *conversation.Usage `json:"usage"`
	CreatedAt time.Time           `json:"created_at"`
	// Revision is the conversation's stream revision that posted it: a
	// message never changes.
	Revision uint64 `json:"revision"`
}

// ConversationMessagesProjector builds the conversation_messages read
// model: a document per message, written once.
func ConversationMessagesProjector() Projector {
	return childDef[ConversationMessage]{&Def[ConversationMessage]{
		ProjectionName: ConversationMessages,
		Spec:           collectionOf(resource.ConversationMessages),
		Categories:     []string{conversation.Category},
		DocID:          messageID,
		Creates:        []string{conversation.TypeMessagePosted},
		Project:        projectMessage,
	}}
}

// childDef is a Def whose documents are children of its streams'
// aggregates (a conversation's messages), not the aggregates themselves:
// it folds as a Def does, but it is no Replayer, since a stream's past
// states are its parent's. A child's own past is read by DocHistory.
type childDef[D any] struct{ d *Def[D] }

// Name implements Projector.
func (c childDef[D]) Name() string { return c.d.Name() }

// Version implements Projector.
func (c childDef[D]) Version() int { return c.d.Version() }

// Collection implements Projector.
func (c childDef[D]) Collection() readstore.Collection { return c.d.Collection() }

// Filter implements Projector.
func (c childDef[D]) Filter() eventstore.Filter { return c.d.Filter() }

// Fold implements Projector.
func (c childDef[D]) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	return c.d.Fold(ctx, rs, events)
}

// Document returns an empty document, as Def.Document does.
func (c childDef[D]) Document() any { return c.d.Document() }

// messageID is the id of the message ev posts, or "" for other events.
func messageID(ev eventstore.RecordedEvent) string {
	if ev.Type != conversation.TypeMessagePosted {
		return ""
	}
	e, err := decode(conversation.Events, ev)
	if err != nil {
		// Project decodes it again and reports the error with the event.
		return ev.ID
	}
	return e.(*conversation.MessagePosted).MessageID
}

func projectMessage(ev eventstore.RecordedEvent, _ *ConversationMessage) (*ConversationMessage, error) {
	e, err := decode(conversation.Events, ev)
	if err != nil {
		return nil, err
	}
	m := e.(*conversation.MessagePosted)
	doc := &ConversationMessage{ID: m.MessageID, ConversationID: EntityID(ev.StreamID), CompanyID: ev.Metadata.CompanyID,
		AgentID: m.AgentID, Seq: m.Seq, Role: string(m.Role), Content: m.Content, Citations: tagList(m.Citations),
		Usage: m.Usage, CreatedAt: ev.Metadata.RecordedAt, Revision: ev.Revision}
	if m.Model != "" {
		doc.Model = &m.Model
	}
	return doc, nil
}
