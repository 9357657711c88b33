package company

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
)

const companyID = "aaaaaaaa-1111-4111-8111-111111111111"

// spec is one "given events → command → expected events or error" case.
// A case that expects neither an error nor fields expects exactly want
// (nothing when want is empty).
type spec struct {
	name       string
	given      []domain.Event
	when       func(*Company) ([]domain.Event, error)
	want       []domain.Event
	wantErr    error    // checked with errors.Is
	wantFields []string // keys of the expected *domain.ValidationError
}

func runSpecs(t *testing.T, specs []spec) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			var c Company
			for _, e := range s.given {
				c.Apply(e)
			}
			got, err := s.when(&c)
			checkOutcome(t, got, err, s.want, s.wantErr, s.wantFields)
		})
	}
}

func checkOutcome(tb testing.TB, got []domain.Event, err error, want []domain.Event, wantErr error, wantFields []string) {
	tb.Helper()
	switch {
	case wantErr != nil:
		if !errors.Is(err, wantErr) {
			tb.Fatalf("got error %v, want %v", err, wantErr)
		}
	case wantFields != nil:
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			tb.Fatalf("got error %v, want a *domain.ValidationError on %v", err, wantFields)
		}
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantFields) {
			tb.Fatalf("got invalid fields %v, want %v", keys, wantFields)
		}
	case err != nil:
		tb.Fatalf("got error %v, want events %s", err, describe(want))
	}
	if err != nil {
		if len(got) != 0 {
			tb.Fatalf("got events %s along with error %v, want none", describe(got), err)
		}
		return
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("got events %s, want %s", describe(got), describe(want))
	}
}

// describe prints events with their type and JSON data.
func describe(evs []domain.Event) string {
	if len(evs) == 0 {
		return "[]"
	}
	parts := make([]string, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			data = fmt.Appendf(nil, "%+v", e)
		}
		parts[i] = e.EventType() + string(data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func created() *Created { return &Created{CompanyID: companyID, Name: "Acme"} }

var deletedCompany = []domain.Event{created(), &Deleted{}}

func create(id, name string) func(*Company) ([]domain.Event, error) {
	return func(c *Company) ([]domain.Event, error) { return c.Create(id, name) }
}

func update(name string) func(*Company) ([]domain.Event, error) {
	return func(c *Company) ([]domain.Event, error) { return c.Update(name) }
}

func del(c *Company) ([]domain.Event, error) { return c.Delete() }

func TestCreate(t *testing.T) {
	runSpecs(t, []spec{
		{name: "creates a company", when: create(companyID, "Acme"), want: []domain.Event{created()}},
		{
			name: "trims the name",
			when: create(companyID, " \tAcme Corp \n"),
			want: []domain.Event{&Created{CompanyID: companyID, Name: "Acme Corp"}},
		},
		{
			name: "accepts the longest name, counted in runes",
			when: create(companyID, strings.Repeat("é", MaxName)),
			want: []domain.Event{&Created{CompanyID: companyID, Name: strings.Repeat("é", MaxName)}},
		},
		{name: "rejects an empty name", when: create(companyID, ""), wantFields: []string{"name"}},
		{name: "rejects a blank name", when: create(companyID, "  \t"), wantFields: []string{"name"}},
		{name: "rejects a too long name", when: create(companyID, strings.Repeat("x", MaxName+1)), wantFields: []string{"name"}},
		{name: "rejects an id that is not a UUID", when: create("acme", "Acme"), wantFields: []string{"id"}},
		{name: "rejects an upper-case id", when: create(strings.ToUpper(companyID), "Acme"), wantFields: []string{"id"}},
		{name: "reports every invalid field at once", when: create("", ""), wantFields: []string{"id", "name"}},
		{name: "cannot create twice", given: []domain.Event{created()}, when: create(companyID, "Acme"), wantErr: domain.ErrAlreadyExists},
		{name: "cannot reuse a deleted company's id", given: deletedCompany, when: create(companyID, "Acme"), wantErr: domain.ErrAlreadyExists},
	})
}

func TestUpdate(t *testing.T) {
	runSpecs(t, []spec{
		{
			name:  "renames, trimmed",
			given: []domain.Event{created()},
			when:  update("  Acme Corp "),
			want:  []domain.Event{&Updated{Name: "Acme Corp"}},
		},
		{name: "the same name records nothing", given: []domain.Event{created()}, when: update("Acme")},
		{name: "the same name with spaces records nothing", given: []domain.Event{created()}, when: update(" Acme\n")},
		{
			name:  "a change of case is a rename",
			given: []domain.Event{created()},
			when:  update("ACME"),
			want:  []domain.Event{&Updated{Name: "ACME"}},
		},
		{
			name:  "sees an earlier rename",
			given: []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			when:  update("Acme Corp"),
		},
		{name: "rejects an empty name", given: []domain.Event{created()}, when: update(" "), wantFields: []string{"name"}},
		{
			name:       "rejects a too long name",
			given:      []domain.Event{created()},
			when:       update(strings.Repeat("x", MaxName+1)),
			wantFields: []string{"name"},
		},
		{name: "a deleted company is not found", given: deletedCompany, when: update("Acme Corp"), wantErr: domain.ErrNotFound},
		{name: "a company never created is not found", when: update("Acme Corp"), wantErr: domain.ErrNotFound},
	})
}

func TestDelete(t *testing.T) {
	runSpecs(t, []spec{
		{name: "deletes a company", given: []domain.Event{created()}, when: del, want: []domain.Event{&Deleted{}}},
		{
			name:  "deletes a renamed company",
			given: []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			when:  del,
			want:  []domain.Event{&Deleted{}},
		},
		{name: "cannot delete twice", given: deletedCompany, when: del, wantErr: domain.ErrNotFound},
		{name: "a company never created is not found", when: del, wantErr: domain.ErrNotFound},
	})
}

func TestApply(t *testing.T) {
	for _, c := range []struct {
		name       string
		given      []domain.Event
		want       Company
		wantExists bool
	}{
		{name: "nothing", want: Company{}},
		{name: "created", given: []domain.Event{created()}, want: Company{ID: companyID, Name: "Acme", Version: 1}, wantExists: true},
		{
			name:       "renamed",
			given:      []domain.Event{created(), &Updated{Name: "Acme Corp"}},
			want:       Company{ID: companyID, Name: "Acme Corp", Version: 2},
			wantExists: true,
		},
		{name: "deleted", given: deletedCompany, want: Company{ID: companyID, Name: "Acme", Deleted: true, Version: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got Company
			for _, e := range c.given {
				got.Apply(e)
			}
			if got != c.want {
				t.Fatalf("got state %+v, want %+v", got, c.want)
			}
			if got.Exists() != c.wantExists {
				t.Fatalf("got Exists() = %v, want %v", got.Exists(), c.wantExists)
			}
		})
	}
}

func TestEventsRoundTrip(t *testing.T) {
	cases := []struct {
		eventType string
		event     domain.Event
	}{
		{"company.created", created()},
		{"company.updated", &Updated{Name: "Acme Corp"}},
		{"company.deleted", &Deleted{}},
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

func TestDecodeUnknownType(t *testing.T) {
	for _, eventType := range []string{"company.exploded", "ticket.opened", ""} {
		got, err := Events.Decode(eventType, []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "unknown event type") {
			t.Errorf("Decode(%q): got %v, %v, want an unknown event type error", eventType, got, err)
		}
	}
}

func TestStream(t *testing.T) {
	if got, want := Stream(companyID), "company-"+companyID; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Stream(companyID), Category+"-") {
		t.Fatalf("got stream %q, want it in category %q", Stream(companyID), Category)
	}
}
