package usage

import "agentdesk/domain"

// Recorded records what one model call cost, in tokens as the provider
// reported them, and who made it: the event's actor, also named here so
// that the record reads on its own.
type Recorded struct {
	// CompanyID is the company the tokens count against; "" for a
	// superadmin's own call.
	CompanyID string `json:"company_id"`
	UserID    string `json:"user_id"`
	// AgentID is the agent the call was made for; "" for none.
	AgentID          string `json:"agent_id"`
	Model            string `json:"model"`
	Kind             Kind   `json:"kind"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	TotalTokens      int    `json:"total_tokens"`
}

// TypeRecorded is the event type name, stable forever.
const TypeRecorded = "usage.recorded"

// EventType implements domain.Event.
func (*Recorded) EventType() string { return TypeRecorded }

// Events decodes stored usage events.
var Events = domain.NewRegistry(func() domain.Event { return &Recorded{} })

// Stream returns the event stream id of a usage record.
func Stream(id string) string { return "usage-" + id }

// Category is the stream category of usage records.
const Category = "usage"
