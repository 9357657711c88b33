package agent

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
		"agent.created": created(),
		"agent.updated": &Updated{
			Name: domaintest.Ptr("n"), Description: domaintest.Ptr(""), SystemPrompt: domaintest.Ptr("p"), Model: domaintest.Ptr("m"),
			Temperature: domaintest.Ptr(0.0), MaxTokens: domaintest.Ptr(1), Integrations: &[]Integration{shop()},
		},
		"agent.activated":   &Activated{},
		"agent.deactivated": &Deactivated{},
		"agent.deleted":     &Deleted{},
	})
}

// An update stores only the fields that changed; a zero temperature is a
// change and must survive.
func TestUpdatedOmitsUnchangedFields(t *testing.T) {
	data, err := json.Marshal(&Updated{Temperature: domaintest.Ptr(0.0)})
	if err != nil {
		t.Fatalf("marshal: got error %v, want nil", err)
	}
	if got, want := string(data), `{"temperature":0}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// Audit views and read models drop SecretFields at any depth, so each
// must name the JSON field that carries the sealed credential in the
// events that have one.
func TestSecretFields(t *testing.T) {
	for _, e := range []domain.Event{created(), &Updated{Integrations: &[]Integration{shop(), site()}}} {
		data, _ := json.Marshal(e)
		var fields struct {
			Integrations []map[string]any `json:"integrations"`
		}
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatalf("unmarshal %s: got error %v, want nil", data, err)
		}
		for _, it := range fields.Integrations {
			for _, f := range SecretFields {
				delete(it, f)
			}
			if it["credential_set"] != true {
				t.Fatalf("got integration %v, want credential_set true", it)
			}
		}
		redacted, _ := json.Marshal(fields)
		for _, secret := range []Sealed{shopSecret, siteSecret} {
			if strings.Contains(string(redacted), string(secret)) {
				t.Fatalf("%s: got the sealed credential after dropping %v, want it gone: %s", e.EventType(), SecretFields, redacted)
			}
		}
	}
}

// Redacted is what read models keep: no credential, only whether one is set.
func TestRedacted(t *testing.T) {
	got := shop().Redacted()
	if got.Credential != "" || !got.CredentialSet || got.ID != shopID || got.ShopDomain != "acme.myshopify.com" {
		t.Fatalf("got %+v, want the shop without its credential, credential_set true", got)
	}
	data, _ := json.Marshal(got)
	if strings.Contains(string(data), "credential\"") || strings.Contains(string(data), string(shopSecret)) {
		t.Fatalf("got %s, want no credential field", data)
	}
}

// A credential sent once stays sealed in every later event that rewrites
// the list, and never appears in any other form.
func TestCredentialCarriedSealed(t *testing.T) {
	var a Agent
	evs, err := a.Create(validCreate())
	if err != nil {
		t.Fatal(err)
	}
	a.Apply(evs[0])
	evs, err = a.Update(UpdateCmd{Integrations: &[]IntegrationInput{withoutCredential(shopInput())}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %v, %v; want one update", evs, err)
	}
	data, _ := json.Marshal(evs[0])
	if got := strings.Count(string(data), string(shopSecret)); got != 1 || strings.Contains(string(data), string(siteSecret)) {
		t.Fatalf("got %s, want exactly the kept sealed shop credential", data)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"agent.exploded", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, 1, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(agentID), "agent-"+agentID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(agentID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(agentID), Category)
	}
	if !slices.Equal(SecretFields, []string{"credential"}) {
		t.Fatalf("got SecretFields %v, want [credential]", SecretFields)
	}
}
