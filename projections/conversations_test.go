package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain/conversation"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
)

func TestConversationsReadModels(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.ConversationsProjector(), projections.ConversationMessagesProjector())
	defer stop()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id, chunk, ticket := uuid.NewString(), uuid.NewString(), uuid.NewString()
	m1, m2 := uuid.NewString(), uuid.NewString()
	stream := conversation.Stream(id)
	usage := &conversation.Usage{PromptTokens: 30, CompletionTokens: 5, TotalTokens: 35}

	appendAt(t, s.es, stream, eventstore.NoStream, "c1", at(0), &conversation.Started{
		ConversationID: id, CompanyID: "c1", AgentID: "a1", UserID: "u1", Title: "Where is my parcel?"})
	appendAt(t, s.es, stream, eventstore.Exact(0), "c1", at(0), &conversation.MessagePosted{
		MessageID: m1, Seq: 1, AgentID: "a1", Role: conversation.User, Content: "Where is my parcel?"})
	appendAt(t, s.es, stream, eventstore.Exact(1), "c1", at(1), &conversation.MessagePosted{
		MessageID: m2, Seq: 2, AgentID: "a1", Role: conversation.Assistant, Content: "On its way.", Citations: []string{chunk}, Model: "m", Usage: usage})
	res := appendAt(t, s.es, stream, eventstore.Exact(2), "c1", at(1), &conversation.Escalated{TicketID: ticket, Reason: conversation.ByModel})
	waitForProjection(t, r, projections.Conversations, res.Position)
	waitForProjection(t, r, projections.ConversationMessages, res.Position)

	c := mustDoc[projections.Conversation](t, s.rs, resource.Conversations, id)
	if c.CompanyID != "c1" || c.AgentID != "a1" || c.UserID != "u1" || c.Title != "Where is my parcel?" || c.MessageCount != 2 ||
		c.Status != "escalated" || c.TicketID == nil || *c.TicketID != ticket || !c.CreatedAt.Equal(at(0)) || !c.LastMessageAt.Equal(at(1)) || c.Revision != 3 {
		t.Fatalf("conversation: got %+v", c)
	}
	u := mustDoc[projections.ConversationMessage](t, s.rs, resource.ConversationMessages, m1)
	if u.ConversationID != id || u.CompanyID != "c1" || u.Seq != 1 || u.Role != "user" || u.Citations == nil || len(u.Citations) != 0 ||
		u.Model != nil || u.Usage != nil || !u.CreatedAt.Equal(at(0)) {
		t.Fatalf("user message: got %+v", u)
	}
	a := mustDoc[projections.ConversationMessage](t, s.rs, resource.ConversationMessages, m2)
	if a.Seq != 2 || a.Role != "assistant" || len(a.Citations) != 1 || a.Citations[0] != chunk || a.Model == nil || *a.Model != "m" ||
		a.Usage == nil || *a.Usage != *usage {
		t.Fatalf("reply: got %+v", a)
	}
	if _, err := s.rs.Get(context.Background(), projections.ConversationMessages, id); err == nil {
		t.Error("the conversation's own events made message documents")
	}
}
