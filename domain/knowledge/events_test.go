package knowledge

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"knowledge.created": created(),
		"knowledge.updated": &Updated{
			AgentID: domaintest.Ptr(otherAgentID), Title: domaintest.Ptr("t"), Content: domaintest.Ptr("c"),
			TokenCount: domaintest.Ptr(1), Source: domaintest.Ptr(WordPress), Tags: &[]string{},
		},
		"knowledge.deleted": &Deleted{},
		"knowledge.embedded": &Embedded{
			Model: "text-embedding-3-small", Dimension: 3, Vector: []float32{0.25, -0.5, 1e-7}, ContentSHA256: ContentSHA256(content),
			AgentID: agentID, PromptTokens: 12,
		},
	})
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"knowledge.exploded", "agent.created", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(chunkID), "knowledge-"+chunkID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(chunkID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(chunkID), Category)
	}
}

func TestSourceValid(t *testing.T) {
	for _, s := range []Source{Manual, Upload, Shopify, WordPress, URL} {
		if !s.Valid() {
			t.Errorf("got Source(%q).Valid() false, want true", s)
		}
	}
	if Source("").Valid() || Source("Manual").Valid() {
		t.Error("got an unknown source valid, want invalid")
	}
}
