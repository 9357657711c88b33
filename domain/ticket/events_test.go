package ticket

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
)

func TestEventsRoundTrip(t *testing.T) {
	cases := []struct {
		eventType string
		event     domain.Event
	}{
		{"ticket.opened", opened()},
		{"ticket.edited", &Edited{Title: ptr("t"), Description: ptr(""), Priority: ptr(High), Tags: &[]string{"a", "b"}}},
		{"ticket.assigned", &Assigned{AssigneeID: agentID, PreviousAssigneeID: otherAgentID}},
		{"ticket.unassigned", &Unassigned{PreviousAssigneeID: agentID}},
		{"ticket.status_changed", moved(Resolved, Closed)},
		{"ticket.commented", &Commented{CommentID: commentID, AuthorID: agentID, Body: "Looks fixed."}},
		{"ticket.deleted", &Deleted{}},
	}
	var covered []string
	for _, c := range cases {
		covered = append(covered, c.eventType)
		t.Run(c.eventType, func(t *testing.T) {
			if got := c.event.EventType(); got != c.eventType {
				t.Fatalf("got event type %q, want %q", got, c.eventType)
			}
			data, err := json.Marshal(c.event)
			if err != nil {
				t.Fatalf("marshal: got error %v, want nil", err)
			}
			got, err := Events.Decode(c.eventType, data)
			if err != nil {
				t.Fatalf("decode %s: got error %v, want nil", data, err)
			}
			if !reflect.DeepEqual(got, c.event) {
				t.Fatalf("got %s, want %s", describe([]domain.Event{got}), describe([]domain.Event{c.event}))
			}
		})
	}
	slices.Sort(covered)
	if got := Events.Types(); !slices.Equal(got, covered) {
		t.Fatalf("got registered types %v, want the tested %v", got, covered)
	}
}

// An edit stores only the fields that changed, so that replaying it
// leaves the others alone.
func TestEditedOmitsUnchangedFields(t *testing.T) {
	data, err := json.Marshal(&Edited{Priority: ptr(Low)})
	if err != nil {
		t.Fatalf("marshal: got error %v, want nil", err)
	}
	if got, want := string(data), `{"priority":"low"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"ticket.exploded", "user.created", ""} {
		got, err := Events.Decode(eventType, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(ticketID), "ticket-"+ticketID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(ticketID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(ticketID), Category)
	}
}
