package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"agentdesk/commands"
	"agentdesk/domain/resource"
	"agentdesk/internal/reqbody"
	"agentdesk/internal/sse"
)

// chatBody is the body of POST /api/agents/{id}/chat.
type chatBody struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id"`
	Stream         bool   `json:"stream"`
}

// chatWriteWait bounds each write of a chat answer to a client; the
// model's own timeout bounds the wait for the model.
const chatWriteWait = time.Minute

// chat answers POST /api/agents/{id}/chat: as one JSON reply once the
// conversation is recorded and visible, or, with "stream": true, as
// server-sent events ("chunk" with the text as it comes, then "done"
// with the whole reply, or "error").
func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	body, err := reqbody.Read(w, r, MaxBody)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// The model's timeout bounds the wait; the server's write timeout
	// would cut a slow answer short.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	var probe struct {
		Stream bool `json:"stream"`
	}
	if json.Unmarshal(body, &probe) != nil || !probe.Stream {
		h.run(resource.Conversations.Name, h.chatOnce)(w, r)
		return
	}
	h.chatStream(w, r, body)
}

func (h *Handler) chatOnce(c *call) (outcome, error) {
	var b chatBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	reply, err := h.chatter.Chat(c.r.Context(), c.meta, commands.ChatInput{AgentID: c.id, ConversationID: b.ConversationID, Message: b.Message}, nil)
	if err != nil {
		return outcome{}, err
	}
	if err := h.awaitTicket(c.r.Context(), reply); err != nil && c.r.Context().Err() == nil {
		// The chat is recorded: its answer stands, the ticket shortly.
		h.log.Warn("chat recorded but its ticket could not be read back in time", "ticket", *reply.TicketID, "err", err)
	}
	snap, err := json.Marshal(reply)
	if err != nil {
		return outcome{}, err
	}
	return outcome{res: reply.Result, snapshot: snap, location: "/api/conversations/" + reply.ConversationID}, nil
}

// chatStream answers a chat with server-sent events. Nothing is sent
// before the model starts answering, so a refusal (a bad message, an
// unknown agent, no provider, a spent quota) still has its status.
func (h *Handler) chatStream(w http.ResponseWriter, r *http.Request, body []byte) {
	p, ok := h.principal(r.Context())
	if !ok {
		h.writeErr(w, r, &requestError{status: http.StatusUnauthorized, msg: "not authenticated"})
		return
	}
	if !jsonContent(r.Header.Get("Content-Type")) {
		h.writeErr(w, r, &requestError{status: http.StatusUnsupportedMediaType, msg: "the body must be JSON: send Content-Type: application/json"})
		return
	}
	var b chatBody
	if err := decodeBody(body, &b); err != nil {
		h.writeErr(w, r, err)
		return
	}
	meta := commands.Meta{Principal: p, CorrelationID: headerID(r, "X-Correlation-ID"), CausationID: headerID(r, "X-Causation-ID"),
		RequestID: middleware.GetReqID(r.Context())}
	st := sse.New(w, chatWriteWait)
	send := st.Send
	reply, err := h.chatter.Chat(r.Context(), meta, commands.ChatInput{AgentID: chi.URLParam(r, "id"), ConversationID: b.ConversationID, Message: b.Message},
		func(s string) error { return send("chunk", map[string]string{"content": s}) })
	if err == nil {
		// The done event promises what the next read shows.
		err = h.records.Await(r.Context(), resource.Conversations.Name, reply.Result.Position)
		if err == nil {
			err = h.awaitTicket(r.Context(), reply)
		}
		if err != nil && r.Context().Err() == nil {
			h.log.Warn("chat recorded but its conversation could not be read back in time", "conversation", reply.ConversationID, "err", err)
			err = nil
		}
	}
	switch {
	case err != nil && !st.Started():
		h.writeErr(w, r, err)
	case err != nil && (st.Failed() || r.Context().Err() != nil):
		h.log.Debug("client went away", "method", r.Method, "path", r.URL.Path)
	case err != nil:
		h.log.Warn("chat stream failed", "method", r.Method, "path", r.URL.Path, "err", err)
		_ = send("error", map[string]string{"detail": "the answer failed midway and was not recorded; retry", "message": "the answer failed midway"})
	default:
		_ = send("done", reply)
	}
}

// awaitTicket waits until the ticket a reply opened is readable, so that
// the ticket_id it names answers the next read.
func (h *Handler) awaitTicket(ctx context.Context, reply commands.ChatReply) error {
	if !reply.Escalated || reply.Ticket.Position.IsZero() {
		return nil
	}
	return h.records.Await(ctx, resource.Tickets.Name, reply.Ticket.Position)
}
