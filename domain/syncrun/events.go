package syncrun

import (
	"time"

	"agentdesk/domain"
)

// Started records the start of a run of one integration; Since is the
// mark the run reads changes after ("" for everything).
type Started struct {
	RunID         string `json:"run_id"`
	AgentID       string `json:"agent_id"`
	CompanyID     string `json:"company_id"`
	IntegrationID string `json:"integration_id"`
	Type          string `json:"type"`
	Since         string `json:"since,omitempty"`
	// At is when the run started.
	At time.Time `json:"at"`
}

// ItemsRecorded records remote items a run turned into knowledge chunks,
// by remote id: chunks added, chunks whose text changed, and chunks
// deleted because their item is gone.
type ItemsRecorded struct {
	RunID   string   `json:"run_id"`
	Added   []string `json:"added,omitempty"`
	Updated []string `json:"updated,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// Finished records a run that read everything it had to; Mark is where
// the next run of the integration reads changes from.
type Finished struct {
	RunID   string `json:"run_id"`
	Mark    string `json:"mark,omitempty"`
	Added   int    `json:"added"`
	Updated int    `json:"updated"`
	Removed int    `json:"removed"`
}

// Failed records a run that stopped; what it recorded stays, and the
// next run starts from the last finished run's mark.
type Failed struct {
	RunID  string `json:"run_id"`
	Reason string `json:"reason"`
}

// Event type names, stable forever.
const (
	TypeStarted       = "sync.started"
	TypeItemsRecorded = "sync.items_recorded"
	TypeFinished      = "sync.finished"
	TypeFailed        = "sync.failed"
)

// EventType implements domain.Event.
func (*Started) EventType() string { return TypeStarted }

// EventType implements domain.Event.
func (*ItemsRecorded) EventType() string { return TypeItemsRecorded }

// EventType implements domain.Event.
func (*Finished) EventType() string { return TypeFinished }

// EventType implements domain.Event.
func (*Failed) EventType() string { return TypeFailed }

// Events decodes stored sync events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Started{} },
	func() domain.Event { return &ItemsRecorded{} },
	func() domain.Event { return &Finished{} },
	func() domain.Event { return &Failed{} },
)

// Stream returns the event stream id of an agent's sync runs.
func Stream(agentID string) string { return "sync-" + agentID }

// Category is the stream category of sync runs.
const Category = "sync"
