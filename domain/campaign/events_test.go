package campaign

import (
	"encoding/json"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"campaign.created": created(),
		"campaign.updated": &Updated{
			Name: domaintest.Ptr("n"), Description: domaintest.Ptr(""), AgentID: domaintest.Ptr(""),
			Channel: domaintest.Ptr(Social), Window: &Window{StartsAt: &starts},
		},
		"campaign.status_changed":    moved(Active, Paused),
		"campaign.deleted":           &Deleted{},
		"campaign.content_added":     added(),
		"campaign.content_edited":    &ContentEdited{ItemID: itemID, Title: domaintest.Ptr("t"), Body: domaintest.Ptr("")},
		"campaign.content_approved":  &ContentApproved{ItemID: itemID},
		"campaign.content_published": &ContentPublished{ItemID: itemID},
		"campaign.content_removed":   &ContentRemoved{ItemID: itemID},
	})
}

// An update stores only what changed; a removed agent and an open window
// end must survive as "" and null.
func TestUpdatedEncoding(t *testing.T) {
	for _, c := range []struct {
		e    *Updated
		want string
	}{
		{&Updated{AgentID: domaintest.Ptr("")}, `{"agent_id":""}`},
		{&Updated{Window: &Window{EndsAt: &ends}}, `{"window":{"starts_at":null,"ends_at":"2026-12-24T18:00:00Z"}}`},
		{&Updated{Channel: domaintest.Ptr(Web)}, `{"channel":"web"}`},
	} {
		data, err := json.Marshal(c.e)
		if err != nil {
			t.Fatalf("marshal: got error %v, want nil", err)
		}
		if string(data) != c.want {
			t.Errorf("got %s, want %s", data, c.want)
		}
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"campaign.exploded", "content.added", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(campaignID), "campaign-"+campaignID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(campaignID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(campaignID), Category)
	}
}
