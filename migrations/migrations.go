// Package migrations moves stored data written by earlier versions of
// agentdesk forward: event upcasters, which bring old event schema
// versions up to the current one whenever an event is read, and
// versioned read-store migrations, applied once and recorded.
//
// # Event upcasters
//
// The event log is never rewritten: an event keeps the data and schema
// version it was written with. Upcasters, registered on the domain's
// event registries, turn old data into the current schema whenever it is
// decoded, so every read path sees the current shape: loading an
// aggregate for a command, the projections, histories, as-of reads and
// exports all decode through the same registries. Importing this package
// registers them (in init): the binary imports it, and so does every test
// that reads events of an old version. The domain cannot import it (the
// dependency points inward), which is why registration happens here.
//
// The first one: ticket.opened and ticket.edited moved to schema version
// 2, where priority is a named level (low, normal, high, urgent). Early
// version 1 data stored it as a number, 0 (low) to 3 (urgent); later
// version 1 data already held the name, which the upcaster keeps.
// testdata/ticket-events-v1.json holds version 1 events that must load
// forever.
//
// # Read-store migrations
//
// A Migration changes the read store's own data in a way a projection
// rebuild does not (dropping what an earlier version left, moving a
// collection that no projection owns). Migrations are applied in ID order
// by Up, at the server's start before the projections run, and by
// `agentdesk migrate up`; each applied one is recorded as a document of
// the collection schema_migrations, so it is applied once. Without
// transactions (FerretDB, MongoDB without a replica set) two processes
// starting at once may both apply one: every migration must be
// idempotent.
package migrations

import (
	"encoding/json"
	"fmt"
	"strings"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
)

func init() {
	ticket.Events.Upcast(ticket.TypeOpened, 1, PriorityLevels)
	ticket.Events.Upcast(ticket.TypeEdited, 1, PriorityLevels)
}

// registries are the registries that have upcasters, by event type.
var registries = map[string]*domain.Registry{
	ticket.TypeOpened: ticket.Events,
	ticket.TypeEdited: ticket.Events,
}

// priorityLevels are version 1's numbered priorities.
var priorityLevels = []ticket.Priority{ticket.Low, ticket.Normal, ticket.High, ticket.Urgent}

// PriorityLevels upcasts ticket.opened and ticket.edited from schema
// version 1 to 2: a numeric priority, 0 to 3, becomes its name. Data
// without a priority, or with a name already, is returned as it is.
func PriorityLevels(data []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("priority levels: %w", err)
	}
	raw, ok := fields["priority"]
	if !ok || len(raw) == 0 || raw[0] == '"' || string(raw) == "null" {
		return data, nil
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("priority levels: priority %s is neither a name nor a number", raw)
	}
	if n != float64(int(n)) || n < 0 || int(n) >= len(priorityLevels) {
		return nil, fmt.Errorf("priority levels: priority %s is not a level from 0 (low) to 3 (urgent)", strings.TrimSpace(string(raw)))
	}
	fields["priority"], _ = json.Marshal(priorityLevels[int(n)])
	return json.Marshal(fields)
}

// Current brings a stored event's data up to the current schema of its
// type: what a history or an export shows. Types without upcasters, and
// data that cannot be upcast (the decoder reports it where it matters),
// are returned as they are.
func Current(eventType string, version int, data []byte) (int, []byte) {
	r, ok := registries[eventType]
	if !ok {
		return version, data
	}
	v, out, err := r.Current(eventType, version, data)
	if err != nil {
		return version, data
	}
	return v, out
}
