package agent

import "agentdesk/domain"

// Created records a new agent, which starts active. Its integrations
// carry sealed credentials only.
type Created struct {
	AgentID      string        `json:"agent_id"`
	CompanyID    string        `json:"company_id"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	SystemPrompt string        `json:"system_prompt"`
	Model        string        `json:"model"`
	Temperature  float64       `json:"temperature"`
	MaxTokens    int           `json:"max_tokens"`
	Integrations []Integration `json:"integrations"`
}

// Updated records changed fields; absent fields did not change. A present
// integrations list replaces the whole list.
type Updated struct {
	Name         *string        `json:"name,omitempty"`
	Description  *string        `json:"description,omitempty"`
	SystemPrompt *string        `json:"system_prompt,omitempty"`
	Model        *string        `json:"model,omitempty"`
	Temperature  *float64       `json:"temperature,omitempty"`
	MaxTokens    *int           `json:"max_tokens,omitempty"`
	Integrations *[]Integration `json:"integrations,omitempty"`
}

// Activated records that the agent is back in service.
type Activated struct{}

// Deactivated records that the agent was taken out of service.
type Deactivated struct{}

// Deleted records the agent's deletion; its history stays.
type Deleted struct{}

// Event type names, stable forever.
const (
	TypeCreated     = "agent.created"
	TypeUpdated     = "agent.updated"
	TypeActivated   = "agent.activated"
	TypeDeactivated = "agent.deactivated"
	TypeDeleted     = "agent.deleted"
)

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*Activated) EventType() string { return TypeActivated }

// EventType implements domain.Event.
func (*Deactivated) EventType() string { return TypeDeactivated }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// Events decodes stored agent events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &Activated{} },
	func() domain.Event { return &Deactivated{} },
	func() domain.Event { return &Deleted{} },
)

// Stream returns the event stream id of an agent.
func Stream(id string) string { return "agent-" + id }

// Category is the stream category of agents.
const Category = "agent"
