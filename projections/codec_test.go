package projections

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/campaign"
	"agentdesk/domain/company"
	"agentdesk/domain/conversation"
	"agentdesk/domain/document"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/notification"
	"agentdesk/domain/syncrun"
	"agentdesk/domain/ticket"
	"agentdesk/domain/usage"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
)

// FuzzDecodeMatchesStandardLibrary checks that the read side's decoder
// (see codec.go) turns any event data into what encoding/json makes of
// it, or fails where it fails, and that the read side's encoder writes
// what encoding/json writes. Its seeds are the event decoding corpus of
// package domain.
func FuzzDecodeMatchesStandardLibrary(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "domain", "testdata", "fuzz", "FuzzDecodeEvents", "*"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in domain's corpus (%v)", err)
	}
	for _, path := range seeds {
		eventType, version, data := readSeed(f, path)
		f.Add(eventType, version, data)
	}
	registries := map[string]*domain.Registry{}
	var names []string
	for _, reg := range []*domain.Registry{agent.Events, campaign.Events, company.Events, conversation.Events, document.Events,
		knowledge.Events, notification.Events, syncrun.Events, ticket.Events, usage.Events, user.Events} {
		for _, name := range reg.Types() {
			registries[name] = reg
			names = append(names, name)
		}
	}
	f.Fuzz(func(t *testing.T, eventType string, version int, data []byte) {
		reg, ok := registries[eventType]
		if !ok {
			eventType = names[len(eventType)%len(names)]
			reg = registries[eventType]
		}
		want, wantErr := reg.Decode(eventType, version, data)
		got, err := decode(reg, eventstore.RecordedEvent{Type: eventType, SchemaVersion: version, Data: data})
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decode %s v%d %q: error %v, want %v", eventType, version, data, err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decode %s v%d %q:\n got %#v\nwant %#v", eventType, version, data, got, want)
		}
		wantJSON, wantErr := json.Marshal(want)
		gotJSON, err := encodeDoc(got)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(gotJSON, wantJSON) {
			t.Fatalf("encode %#v:\n got %s (%v)\nwant %s (%v)", want, gotJSON, err, wantJSON, wantErr)
		}
	})
}

// readSeed reads a file of go test's fuzz corpus format with the values
// (string, int, []byte).
func readSeed(tb testing.TB, path string) (string, int, []byte) {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 4 || lines[0] != "go test fuzz v1" {
		tb.Fatalf("%s: not a corpus file of three values", path)
	}
	value := func(line, kind string) string {
		if !strings.HasPrefix(line, kind+"(") || !strings.HasSuffix(line, ")") {
			tb.Fatalf("%s: %q is not a %s", path, line, kind)
		}
		return strings.TrimSuffix(strings.TrimPrefix(line, kind+"("), ")")
	}
	eventType, err := strconv.Unquote(value(lines[1], "string"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	version, err := strconv.Atoi(value(lines[2], "int"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	data, err := strconv.Unquote(value(lines[3], "[]byte"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return eventType, version, []byte(data)
}
