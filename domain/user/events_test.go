package user

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestEventsRoundTrip(t *testing.T) {
	domaintest.RoundTrip(t, Events, map[string]domain.Event{
		"user.created":          created(),
		"user.updated":          &Updated{Email: domaintest.Ptr(""), FullName: domaintest.Ptr("Alice L."), Role: domaintest.Ptr(domain.CompanyAdmin)},
		"user.password_changed": &PasswordChanged{PasswordHash: hash},
		"user.deleted":          &Deleted{Username: "alice"},
		"user.abandoned":        &Abandoned{Username: "alice"},
		"user.deactivated":      &Deactivated{},
		"user.reactivated":      &Reactivated{},
		"user.forgotten":        &Forgotten{},
		"username.claimed":      &Claimed{UserID: userID},
		"username.released":     &Released{UserID: userID},
	})
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"user.exploded", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

// Audit views redact SecretFields, so each must name a JSON field that
// actually carries a secret.
func TestSecretFields(t *testing.T) {
	for _, e := range []domain.Event{created(), &PasswordChanged{PasswordHash: hash}} {
		var fields map[string]any
		data, _ := json.Marshal(e)
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatalf("unmarshal %s: got error %v, want nil", data, err)
		}
		if fields["password_hash"] != hash {
			t.Fatalf("got %s, want the hash under password_hash", data)
		}
	}
	if !slices.Contains(SecretFields, "password_hash") {
		t.Fatalf("got SecretFields %v, want password_hash among them", SecretFields)
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(userID), "user-"+userID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(userID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(userID), Category)
	}
}
