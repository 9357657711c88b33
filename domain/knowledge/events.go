package knowledge

import "agentdesk/domain"

// Created records a new chunk with its estimated token count.
type Created struct {
	ChunkID    string   `json:"chunk_id"`
	CompanyID  string   `json:"company_id"`
	AgentID    string   `json:"agent_id"`
	Title      string   `json:"title"`
	Content    string   `json:"content"`
	Source     Source   `json:"source"`
	Tags       []string `json:"tags"`
	TokenCount int      `json:"token_count"`
}

// Updated records changed fields; absent fields did not change. A new
// content comes with its new token count.
type Updated struct {
	AgentID    *string   `json:"agent_id,omitempty"`
	Title      *string   `json:"title,omitempty"`
	Content    *string   `json:"content,omitempty"`
	TokenCount *int      `json:"token_count,omitempty"`
	Source     *Source   `json:"source,omitempty"`
	Tags       *[]string `json:"tags,omitempty"`
}

// Deleted records the chunk's deletion; its history stays.
type Deleted struct{}

// Event type names, stable forever.
const (
	TypeCreated = "knowledge.created"
	TypeUpdated = "knowledge.updated"
	TypeDeleted = "knowledge.deleted"
)

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// Events decodes stored knowledge chunk events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &Deleted{} },
)

// Stream returns the event stream id of a knowledge chunk.
func Stream(id string) string { return "knowledge-" + id }

// Category is the stream category of knowledge chunks.
const Category = "knowledge"
