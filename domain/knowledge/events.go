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
	// RemoteID, for a chunk synced from a shop or a site, names the item
	// it was made of there ("shopify:gid://shopify/Product/1",
	// "wordpress:post:42"); empty otherwise.
	RemoteID string `json:"remote_id,omitempty"`
	// DocumentID is the knowledge document the chunk was split from;
	// empty for a chunk written on its own.
	DocumentID string `json:"document_id,omitempty"`
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

// Embedded records the vector an embeddings model made of the chunk's
// title and content, so that a rebuild of the read models never asks the
// model again. It is no edit: the chunk's fields stay as they were.
type Embedded struct {
	// Model is the embeddings model, as configured.
	Model string `json:"model"`
	// Dimension is the vector's length.
	Dimension int       `json:"dimension"`
	Vector    []float32 `json:"vector"`
	// ContentSHA256 is the hex SHA-256 of the content that was embedded
	// (see ContentSHA256): the vector is stale once the content differs.
	ContentSHA256 string `json:"content_sha256"`
	// AgentID is the chunk's agent when the vector was recorded.
	AgentID string `json:"agent_id"`
	// PromptTokens is what the provider reported the text cost.
	PromptTokens int `json:"prompt_tokens"`
}

// Event type names, stable forever.
const (
	TypeCreated  = "knowledge.created"
	TypeUpdated  = "knowledge.updated"
	TypeDeleted  = "knowledge.deleted"
	TypeEmbedded = "knowledge.embedded"
)

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// EventType implements domain.Event.
func (*Embedded) EventType() string { return TypeEmbedded }

// Events decodes stored knowledge chunk events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &Deleted{} },
	func() domain.Event { return &Embedded{} },
)

// Stream returns the event stream id of a knowledge chunk.
func Stream(id string) string { return "knowledge-" + id }

// Category is the stream category of knowledge chunks.
const Category = "knowledge"
