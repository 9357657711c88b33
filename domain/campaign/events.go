package campaign

import (
	"time"

	"agentdesk/domain"
)

// Created records a new campaign, which starts as a draft.
type Created struct {
	CampaignID  string     `json:"campaign_id"`
	CompanyID   string     `json:"company_id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	AgentID     string     `json:"agent_id"`
	Channel     Channel    `json:"channel"`
	StartsAt    *time.Time `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
}

// Updated records changed fields; absent fields did not change. An agent
// id of "" means the agent was removed. A window, when present, holds both
// ends as they now are (either may be null: not set).
type Updated struct {
	Name        *string  `json:"name,omitempty"`
	Description *string  `json:"description,omitempty"`
	AgentID     *string  `json:"agent_id,omitempty"`
	Channel     *Channel `json:"channel,omitempty"`
	Window      *Window  `json:"window,omitempty"`
}

// StatusChanged records a status transition.
type StatusChanged struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// Deleted records the campaign's deletion; its history stays.
type Deleted struct{}

// ContentAdded records a new content item, a draft.
type ContentAdded struct {
	ItemID   string `json:"item_id"`
	Title    string `json:"title"`
	Body     string `json:"body"`
	AuthorID string `json:"author_id"`
}

// ContentEdited records a content item's changed fields; absent fields did
// not change. The item is a draft again, whatever it was.
type ContentEdited struct {
	ItemID string  `json:"item_id"`
	Title  *string `json:"title,omitempty"`
	Body   *string `json:"body,omitempty"`
}

// ContentApproved records that a content item was approved.
type ContentApproved struct {
	ItemID string `json:"item_id"`
}

// ContentPublished records that an approved content item was published.
type ContentPublished struct {
	ItemID string `json:"item_id"`
}

// ContentRemoved records that a content item is gone.
type ContentRemoved struct {
	ItemID string `json:"item_id"`
}

// Event type names, stable forever.
const (
	TypeCreated          = "campaign.created"
	TypeUpdated          = "campaign.updated"
	TypeStatusChanged    = "campaign.status_changed"
	TypeDeleted          = "campaign.deleted"
	TypeContentAdded     = "campaign.content_added"
	TypeContentEdited    = "campaign.content_edited"
	TypeContentApproved  = "campaign.content_approved"
	TypeContentPublished = "campaign.content_published"
	TypeContentRemoved   = "campaign.content_removed"
)

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*StatusChanged) EventType() string { return TypeStatusChanged }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// EventType implements domain.Event.
func (*ContentAdded) EventType() string { return TypeContentAdded }

// EventType implements domain.Event.
func (*ContentEdited) EventType() string { return TypeContentEdited }

// EventType implements domain.Event.
func (*ContentApproved) EventType() string { return TypeContentApproved }

// EventType implements domain.Event.
func (*ContentPublished) EventType() string { return TypeContentPublished }

// EventType implements domain.Event.
func (*ContentRemoved) EventType() string { return TypeContentRemoved }

// Events decodes stored campaign events, content item events included.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &StatusChanged{} },
	func() domain.Event { return &Deleted{} },
	func() domain.Event { return &ContentAdded{} },
	func() domain.Event { return &ContentEdited{} },
	func() domain.Event { return &ContentApproved{} },
	func() domain.Event { return &ContentPublished{} },
	func() domain.Event { return &ContentRemoved{} },
)

// Stream returns the event stream id of a campaign, which also holds its
// content items' events.
func Stream(id string) string { return "campaign-" + id }

// Category is the stream category of campaigns.
const Category = "campaign"
