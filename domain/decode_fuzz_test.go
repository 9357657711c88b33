package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/campaign"
	"agentdesk/domain/company"
	"agentdesk/domain/document"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/syncrun"
	"agentdesk/domain/ticket"
	"agentdesk/domain/usage"
	"agentdesk/domain/user"
)

// eventKind is a registered event type: its registry and the states
// that apply it.
type eventKind struct {
	registry *domain.Registry
	states   func() []interface{ Apply(domain.Event) }
}

// versioned is a test event at schema version 3 with two upcasters, so
// that the fuzz target goes through the upcast chain: no production
// event has moved past version 1 yet. Version 1 called the field "who",
// version 2 "name".
type versioned struct {
	FullName string   `json:"full_name"`
	Tags     []string `json:"tags,omitempty"`
}

func (*versioned) EventType() string  { return "test.versioned" }
func (*versioned) SchemaVersion() int { return 3 }

// renameKey is an upcaster that renames a top-level key, as a real one
// would: through a decoded object, never by editing text.
func renameKey(from, to string) domain.Upcaster {
	return func(data []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		if v, ok := m[from]; ok {
			delete(m, from)
			m[to] = v
		}
		return json.Marshal(m)
	}
}

// versionedState applies versioned events.
type versionedState struct{ names []string }

func (s *versionedState) Apply(e domain.Event) {
	s.names = append(s.names, e.(*versioned).FullName)
}

// eventKinds lists every registered event type of every aggregate, and
// the test type with its upcasters.
func eventKinds() map[string]eventKind {
	chain := domain.NewRegistry(func() domain.Event { return &versioned{} })
	chain.Upcast("test.versioned", 1, renameKey("who", "name"))
	chain.Upcast("test.versioned", 2, renameKey("name", "full_name"))
	kinds := map[string]eventKind{}
	for _, k := range []eventKind{
		{company.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&company.Company{}}
		}},
		{user.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&user.User{}, &user.Username{}}
		}},
		{ticket.Events, func() []interface{ Apply(domain.Event) } { return []interface{ Apply(domain.Event) }{&ticket.Ticket{}} }},
		{agent.Events, func() []interface{ Apply(domain.Event) } { return []interface{ Apply(domain.Event) }{&agent.Agent{}} }},
		{campaign.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&campaign.Campaign{}}
		}},
		{knowledge.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&knowledge.Chunk{}}
		}},
		{syncrun.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&syncrun.Syncs{}}
		}},
		{document.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&document.Document{}}
		}},
		{usage.Events, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&usage.Record{}}
		}},
		{chain, func() []interface{ Apply(domain.Event) } {
			return []interface{ Apply(domain.Event) }{&versionedState{}}
		}},
	} {
		for _, name := range k.registry.Types() {
			kinds[name] = k
		}
	}
	return kinds
}

// FuzzDecodeEvents decodes stored data as an event of a registered type
// at a schema version, as the command pipeline and the projections do,
// and applies it to the aggregate's state. Properties:
//
//   - no panic, in decoding or in applying (stored data outlives the
//     code that wrote it);
//   - an error returns no event and names the event type, for the log;
//   - a decoded event is of the type asked for, decoding succeeds only
//     for versions from 0 (read as 1) to the current one, and the event
//     re-encodes to data that decodes, at the current version, to an
//     event with the same encoding.
//
// An unregistered type name must be refused; the input is then also
// decoded as one of the registered types, so that mutated names still
// exercise the decoders.
func FuzzDecodeEvents(f *testing.F) {
	kinds := eventKinds()
	names := slices.Sorted(maps.Keys(kinds))
	f.Fuzz(func(t *testing.T, eventType string, version int, data []byte) {
		k, ok := kinds[eventType]
		if !ok {
			e, err := company.Events.Decode(eventType, version, data)
			if err == nil || e != nil {
				t.Fatalf("decode unregistered type %q: got %#v, %v, want an error", eventType, e, err)
			}
			eventType = names[len(eventType)%len(names)]
			k = kinds[eventType]
		}
		e, err := k.registry.Decode(eventType, version, data)
		if err != nil {
			if e != nil {
				t.Fatalf("decode %s v%d %q: got %#v with error %v, want no event", eventType, version, data, e, err)
			}
			if !strings.Contains(err.Error(), eventType) {
				t.Fatalf("decode %s v%d: error %q does not name the event type", eventType, version, err)
			}
			return
		}
		if got := e.EventType(); got != eventType {
			t.Fatalf("decode %s: got a %s", eventType, got)
		}
		current := domain.SchemaVersion(e)
		if version < 0 || version > current {
			t.Fatalf("decode %s at version %d (current %d): got %#v, want an error", eventType, version, current, e)
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encode %s %#v: %v", eventType, e, err)
		}
		e2, err := k.registry.Decode(eventType, current, again)
		if err != nil {
			t.Fatalf("%s v%d %q decoded, but its re-encoding %s does not: %v", eventType, version, data, again, err)
		}
		// Equal encodings, not reflect.DeepEqual: an empty list left out
		// by omitempty comes back nil, which means the same.
		if third, err := json.Marshal(e2); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("%s v%d %q: decoded %#v, re-encoded %s, decoded and encoded again %s (%v)", eventType, version, data, e, again, third, err)
		}
		if reflect.TypeOf(e2) != reflect.TypeOf(e) {
			t.Fatalf("%s: decoded a %T, then a %T", eventType, e, e2)
		}
		for _, s := range k.states() {
			s.Apply(e) // on a zero state
			s.Apply(e) // and on one that has seen it
		}
	})
}

// TestFuzzDecodeEventsSeeds: the seed corpus holds, for every registered
// event type, data that decodes, so the fuzz target starts from every
// decoder; a type registered later without a seed fails here.
func TestFuzzDecodeEventsSeeds(t *testing.T) {
	kinds := eventKinds()
	seeded := map[string]bool{}
	for _, s := range readDecodeSeeds(t) {
		k, ok := kinds[s.eventType]
		if !ok {
			continue
		}
		if _, err := k.registry.Decode(s.eventType, s.version, s.data); err == nil {
			seeded[s.eventType] = true
		}
	}
	for name := range kinds {
		if !seeded[name] {
			t.Errorf("no seed in testdata/fuzz/FuzzDecodeEvents decodes as %s", name)
		}
	}
}

type decodeSeed struct {
	eventType string
	version   int
	data      []byte
}

// readDecodeSeeds reads FuzzDecodeEvents's corpus files (go test's
// format: a string, an int and a []byte, one per line).
func readDecodeSeeds(tb testing.TB) []decodeSeed {
	tb.Helper()
	dir := "testdata/fuzz/FuzzDecodeEvents"
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []decodeSeed
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 4 || lines[0] != "go test fuzz v1" {
			tb.Fatalf("%s: not a corpus file of a string, an int and a []byte", e.Name())
		}
		eventType, err1 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		version, err2 := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(lines[2], "int("), ")"))
		data, err3 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[3], "[]byte("), ")"))
		if err := errors.Join(err1, err2, err3); err != nil {
			tb.Fatalf("%s: %v", e.Name(), err)
		}
		out = append(out, decodeSeed{eventType: eventType, version: version, data: []byte(data)})
	}
	return out
}
