package notification

import (
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"notification.created": created(),
		"notification.read":    &Read{NotificationID: notificationID, ReadAt: later},
	})
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"notification.deleted", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(notificationID), "notification-"+notificationID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(notificationID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(notificationID), Category)
	}
}
