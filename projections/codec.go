package projections

import (
	segjson "github.com/segmentio/encoding/json"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// The read side decodes every event it projects and encodes every
// document it writes, a million of each in a rebuild of a million
// events. github.com/segmentio/encoding/json decodes an event in a fifth
// of the time encoding/json takes, with fewer allocations. It only ever
// reads JSON that encoding/json wrote (events) or that it wrote itself
// (documents), and on that JSON it decodes and writes exactly what
// encoding/json does: FuzzDecodeMatchesStandardLibrary and
// FuzzDocumentsMatchStandardLibrary hold it to that. On other input the
// two differ at the edges (see matchStandard in codec_test.go), so input
// from clients stays with encoding/json, which the HTTP layer's
// strictness (duplicate keys, unknown fields) is built on too.

// decode decodes ev with reg, at the current schema of its type.
func decode(reg *domain.Registry, ev eventstore.RecordedEvent) (domain.Event, error) {
	return reg.DecodeWith(segjson.Unmarshal, ev.Type, ev.SchemaVersion, ev.Data)
}

// encodeDoc encodes a read-model document, as encoding/json's Marshal
// would.
func encodeDoc(v any) ([]byte, error) { return segjson.Marshal(v) }

// decodeDoc decodes a stored read-model document into v, as
// encoding/json's Unmarshal would.
func decodeDoc(data []byte, v any) error { return segjson.Unmarshal(data, v) }
