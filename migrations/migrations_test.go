package migrations_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/migrations"
)

// fixture is testdata/ticket-events-v1.json.
type fixture struct {
	Stream string `json:"stream"`
	Events []struct {
		ID            string          `json:"id"`
		Type          string          `json:"type"`
		SchemaVersion int             `json:"schema_version"`
		Data          json.RawMessage `json:"data"`
	} `json:"events"`
}

func readFixture(t *testing.T) fixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/ticket-events-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.NewReplacer("{{company_id}}", "22222222-2222-4222-8222-222222222222", "{{actor_id}}", "33333333-3333-4333-8333-333333333333").Replace(string(raw)))
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestVersion1TicketEventsLoad: the fixture's version 1 events decode,
// through the registry every read path uses, into a ticket whose priority
// is the named level.
func TestVersion1TicketEventsLoad(t *testing.T) {
	f := readFixture(t)
	var tk ticket.Ticket
	for _, ev := range f.Events {
		if ev.SchemaVersion != 1 {
			t.Fatalf("fixture event %s is at version %d, want 1", ev.ID, ev.SchemaVersion)
		}
		e, err := ticket.Events.Decode(ev.Type, ev.SchemaVersion, ev.Data)
		if err != nil {
			t.Fatalf("decode %s: %v", ev.ID, err)
		}
		tk.Apply(e)
	}
	if tk.Priority != ticket.High || tk.Title != "Printer on fire (3rd floor)" {
		t.Fatalf("got priority %q, title %q; want high and the edited title", tk.Priority, tk.Title)
	}
}

func TestPriorityLevels(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{`{"priority":0}`, `{"priority":"low"}`, ""},
		{`{"priority":1,"title":"x"}`, `{"priority":"normal","title":"x"}`, ""},
		{`{"priority":2}`, `{"priority":"high"}`, ""},
		{`{"priority":3}`, `{"priority":"urgent"}`, ""},
		{`{"priority":"high"}`, `{"priority":"high"}`, ""},
		{`{"title":"no priority"}`, `{"title":"no priority"}`, ""},
		{`{"priority":4}`, "", "not a level from 0 (low) to 3 (urgent)"},
		{`{"priority":-1}`, "", "not a level"},
		{`{"priority":1.5}`, "", "not a level"},
		{`{"priority":true}`, "", "neither a name nor a number"},
		{`[1]`, "", "priority levels"},
	} {
		got, err := migrations.PriorityLevels([]byte(tt.in))
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: got %s, %v; want an error saying %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s: got %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// New events are written at version 2 and decode as they are; Current
// upcasts old data and leaves other types alone.
func TestCurrent(t *testing.T) {
	if v := domain.SchemaVersion(&ticket.Opened{}); v != 2 {
		t.Fatalf("ticket.opened is at version %d, want 2", v)
	}
	v, data := migrations.Current(ticket.TypeEdited, 1, []byte(`{"priority":3}`))
	if v != 2 || string(data) != `{"priority":"urgent"}` {
		t.Fatalf("got v%d %s, want v2 with urgent", v, data)
	}
	v, data = migrations.Current("company.created", 1, []byte(`{"name":"Acme"}`))
	if v != 1 || string(data) != `{"name":"Acme"}` {
		t.Fatalf("got v%d %s, want it as it was", v, data)
	}
	v, data = migrations.Current(ticket.TypeEdited, 1, []byte(`{"priority":9}`))
	if v != 1 || string(data) != `{"priority":9}` {
		t.Fatalf("got v%d %s, want the undecodable data as it was", v, data)
	}
}

func FuzzPriorityLevels(f *testing.F) {
	for _, s := range []string{`{"priority":2}`, `{"priority":"low"}`, `{}`, `{"priority":1e400}`, `{"priority":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := migrations.PriorityLevels(data)
		if err != nil {
			return
		}
		if _, err := ticket.Events.Decode(ticket.TypeEdited, 2, out); err != nil && json.Valid(data) {
			var m map[string]json.RawMessage
			if json.Unmarshal(out, &m) == nil && m["priority"] != nil && m["priority"][0] != '"' && string(m["priority"]) != "null" {
				t.Fatalf("%s upcast to %s, whose priority is still not a name", data, out)
			}
		}
	})
}
