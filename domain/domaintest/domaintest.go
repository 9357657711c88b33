// Package domaintest holds test helpers for the domain aggregates: a
// table-driven "given events → command → expected events or error" runner
// and a round-trip check of an aggregate's event registry. It is imported
// by the aggregates' tests only.
package domaintest

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

// Spec is one "given events → command → expected events or error" case for
// an aggregate whose state is S.
//
// A case expects exactly one outcome: WantErr if set, else a validation
// error on WantFields if set, else exactly the events in Want (nothing when
// Want is empty). A case that expects an error also fails if events come
// back with it.
type Spec[S any] struct {
	Name  string
	Given []domain.Event // applied in order to a zero S before When
	When  func(*S) ([]domain.Event, error)

	Want       []domain.Event // compared with reflect.DeepEqual
	WantErr    error          // checked with errors.Is
	WantFields []string       // the sorted keys of the expected *domain.ValidationError
}

// Run runs each spec as a subtest named after it: it applies Given to a
// zero S, calls When and checks the outcome. P only lets the compiler
// reach S's pointer method Apply; it is inferred, as in Run(t, specs).
func Run[S any, P interface {
	*S
	Apply(domain.Event)
}](t *testing.T, specs []Spec[S]) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			state := P(new(S))
			for _, e := range s.Given {
				state.Apply(e)
			}
			got, err := s.When(state)
			checkOutcome(t, got, err, s)
		})
	}
}

func checkOutcome[S any](tb testing.TB, got []domain.Event, err error, s Spec[S]) {
	tb.Helper()
	switch {
	case s.WantErr != nil:
		if !errors.Is(err, s.WantErr) {
			tb.Fatalf("got error %v, want %v", err, s.WantErr)
		}
	case s.WantFields != nil:
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			tb.Fatalf("got error %v, want a *domain.ValidationError on %v", err, s.WantFields)
		}
		if keys := fieldKeys(ve); !slices.Equal(keys, s.WantFields) {
			tb.Fatalf("got invalid fields %v, want %v", keys, s.WantFields)
		}
	case err != nil:
		tb.Fatalf("got error %v, want events %s", err, describe(s.Want))
	}
	if err != nil {
		// A rejected command must not also report changes.
		if len(got) != 0 {
			tb.Fatalf("got events %s along with error %v, want none", describe(got), err)
		}
		return
	}
	// Nil and empty both mean "nothing happened".
	if len(s.Want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, s.Want) {
		tb.Fatalf("got events %s, want %s", describe(got), describe(s.Want))
	}
}

func fieldKeys(ve *domain.ValidationError) []string {
	keys := make([]string, 0, len(ve.Fields))
	for k := range ve.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describe prints events with their type and JSON data, so pointer fields
// show their values rather than addresses.
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

// Replay returns the state that events leave when applied, in order, to
// a zero state.
func Replay[S any, P interface {
	*S
	Apply(domain.Event)
}](events []domain.Event) S {
	var s S
	for _, e := range events {
		P(&s).Apply(e)
	}
	return s
}

// Ptr returns a pointer to a copy of v, for the optional fields of
// commands and events.
func Ptr[T any](v T) *T { return &v }

// RoundTrip checks an aggregate's event registry against one sample event
// per stored type name. Each sample runs as a subtest named after its key:
// its EventType must be the key (the name the store keeps, so a rename
// shows here), and it must encode to JSON and decode through reg back to
// an equal value. Finally the keys must be exactly reg.Types(), so a newly
// registered event type cannot go untested.
func RoundTrip(t *testing.T, reg *domain.Registry, events map[string]domain.Event) {
	t.Helper()
	covered := make([]string, 0, len(events))
	for eventType := range events {
		covered = append(covered, eventType)
	}
	slices.Sort(covered)
	for _, eventType := range covered {
		event := events[eventType]
		t.Run(eventType, func(t *testing.T) {
			if got := event.EventType(); got != eventType {
				t.Fatalf("got event type %q, want %q", got, eventType)
			}
			data, err := json.Marshal(event)
			if err != nil {
				t.Fatalf("marshal: got error %v, want nil", err)
			}
			got, err := reg.Decode(eventType, domain.SchemaVersion(event), data)
			if err != nil {
				t.Fatalf("decode %s: got error %v, want nil", data, err)
			}
			if !reflect.DeepEqual(got, event) {
				t.Fatalf("got %s, want %s", describe([]domain.Event{got}), describe([]domain.Event{event}))
			}
		})
	}
	if got := reg.Types(); !slices.Equal(got, covered) {
		t.Fatalf("got registered types %v, want the tested %v", got, covered)
	}
}
