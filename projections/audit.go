package projections

import (
	"context"
	"fmt"
	"time"

	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// AuditLog is the name of the audit trail's read model and projection.
var AuditLog = resource.AuditLog.CollectionName()

// AuditEntry is a document of the audit_log read model: one event, told
// by its envelope. It never holds the event's data, which may be
// personal and is erasable; the log keeps that.
type AuditEntry struct {
	// ID is the event's id.
	ID string `json:"id"`
	// CompanyID is the company the event was stamped with; null for the
	// platform's own (a superadmin's account).
	CompanyID *string `json:"company_id"`
	ActorID   string  `json:"actor_id"`
	ActorRole string  `json:"actor_role"`
	// Resource names the API resource of the stream's aggregate, and
	// EntityID its id: GET /api/{resource}/{entity_id} is the record.
	Resource      string `json:"resource"`
	EntityID      string `json:"entity_id"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schema_version"`
	// Revision is the event's revision in its stream.
	Revision uint64 `json:"revision"`
	// Position is the event's position key: entries sorted by it are in
	// log order.
	Position      string    `json:"position"`
	RecordedAt    time.Time `json:"recorded_at"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"`
	CommandID     string    `json:"command_id"`
	RequestID     string    `json:"request_id"`
}

// auditProjector writes one document per event. It is not a Def (one
// document per aggregate): every event makes its own document, which
// never changes, so nothing is read back.
type auditProjector struct{}

// AuditLogProjector builds the audit_log read model.
func AuditLogProjector() Projector { return auditProjector{} }

// Name implements Projector.
func (auditProjector) Name() string { return AuditLog }

// Version implements Projector.
func (auditProjector) Version() int { return 1 }

// Collection implements Projector.
func (auditProjector) Collection() readstore.Collection { return collectionOf(resource.AuditLog) }

// Document returns an empty entry, as Def.Document does.
func (auditProjector) Document() any { return new(AuditEntry) }

// Linger implements Lingerer: no write waits on the audit log, and its
// entries come at the rate of every event of the log, so under load it
// applies them in batches gathered over 100 ms.
func (auditProjector) Linger() time.Duration { return 100 * time.Millisecond }

// Filter implements Projector: every event of every stream. Streams that
// are no resource's are skipped by Fold, so that the log's own
// bookkeeping never reaches the trail.
func (auditProjector) Filter() eventstore.Filter { return eventstore.Filter{} }

// Fold implements Projector. An entry is written once at the position of
// its event, so a replay is stopped by the store's version guard.
//
// Events of streams whose category is no resource's are skipped: the
// username claims (see resource.ForCategory), whose stream ids are user
// names, which would outlive the user's erasure here.
func (auditProjector) Fold(_ context.Context, _ readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	writes := make([]readstore.Write, 0, len(events))
	for _, ev := range events {
		entry, ok := auditEntry(ev)
		if !ok {
			continue
		}
		raw, err := encodeDoc(entry)
		if err != nil {
			return nil, fmt.Errorf("encode audit entry %s: %w", ev.ID, err)
		}
		writes = append(writes, readstore.Write{Collection: AuditLog, Doc: readstore.Doc{ID: ev.ID, Version: entry.Position, Data: raw}})
	}
	return writes, nil
}

// auditEntry is the entry of ev, or false when ev's stream is no
// resource's.
func auditEntry(ev eventstore.RecordedEvent) (AuditEntry, bool) {
	category := eventstore.Category(ev.StreamID)
	res, ok := resource.ForCategory(category)
	if !ok || len(ev.StreamID) <= len(category)+1 {
		return AuditEntry{}, false
	}
	m := ev.Metadata
	e := AuditEntry{
		ID: ev.ID, ActorID: m.ActorID, ActorRole: m.ActorRole,
		Resource: res.Name, EntityID: ev.StreamID[len(category)+1:],
		Type: ev.Type, SchemaVersion: ev.SchemaVersion, Revision: ev.Revision, Position: ev.Position.Key(),
		RecordedAt: m.RecordedAt, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
		CommandID: m.CommandID, RequestID: m.RequestID,
	}
	if m.CompanyID != "" {
		id := m.CompanyID
		e.CompanyID = &id
	}
	return e, true
}
