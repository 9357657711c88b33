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
	return reg.DecodeWith(unmarshalInPlace, ev.Type, ev.SchemaVersion, ev.Data)
}

// unmarshalInPlace is segjson.Unmarshal with the decoded strings cut
// from data rather than copied from it (segjson.ZeroCopy): an event's
// data is its own buffer, read from the store for this event and never
// changed. A decoded string keeps that buffer alive, no longer than the
// documents made from the event. A ticket.opened decodes in 0.51 µs with
// 2 allocations instead of 0.76 µs and 10 (BenchmarkDecode; 0.81 and
// 1.1 µs before segjson's ASCII routines lost AVX2, see readstore's
// segjson_cpu.go).
func unmarshalInPlace(data []byte, v any) error {
	rest, err := segjson.Parse(data, v, segjson.ZeroCopy)
	if len(rest) != 0 || err != nil {
		// What is left after the value, or an error: Unmarshal says it
		// as encoding/json does.
		return segjson.Unmarshal(data, v)
	}
	return nil
}

// encodeDoc encodes a read-model document, as encoding/json's Marshal
// would.
func encodeDoc(v any) ([]byte, error) { return segjson.Marshal(v) }

// decodeDoc decodes a stored read-model document into v, as
// encoding/json's Unmarshal would.
func decodeDoc(data []byte, v any) error { return segjson.Unmarshal(data, v) }
