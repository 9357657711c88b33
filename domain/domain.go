// Package domain holds agentdesk's business rules: the aggregates (in the
// subpackages company, user, agent, ticket, campaign, knowledge,
// notification, conversation, usage and syncrun), their events, the role policy with the read scopes
// derived from it, and the domain errors; the subpackage resource
// declares every resource once. It is pure: standard library only, no
// I/O and no clock; time comes in as an argument.
//
// Aggregates follow decide/evolve: a command method validates the command
// against the current state and returns events (none when nothing would
// change); state changes only when an event is applied.
package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Event is a domain event. EventType returns its stable, past-tense,
// namespaced name (for example "ticket.opened"), which is what the event
// store keeps; it never depends on the Go type's name.
type Event interface {
	EventType() string
}

// Domain errors. The HTTP layer maps them to status codes in one table.
var (
	// ErrNotFound means the aggregate does not exist (or was deleted).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a create targeted an existing aggregate.
	ErrAlreadyExists = errors.New("already exists")
	// ErrForbidden means the actor's role does not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidTransition means the command is not allowed in the
	// aggregate's current state (for example commenting on a closed ticket).
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrConflict means the aggregate changed concurrently, or a request
	// conflicts with an earlier one (an idempotency key reused with another
	// body); nothing was written.
	ErrConflict = errors.New("conflict")
)

// ValidationError lists invalid command fields with a message each.
type ValidationError struct {
	Fields map[string]string
}

// Error joins the field messages in a stable order.
func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Tags trims, lower-cases and de-duplicates the tags of field "tags",
// keeping their order, and records a problem in p for an empty tag, a tag
// longer than maxLen characters, or more than maxTags of them. It stops at
// the first tag past maxTags: a body may hold a hundred thousand tags, and
// de-duplicating them all took 13 s.
func Tags(p Problems, tags []string, maxTags, maxLen int) []string {
	out := make([]string, 0, min(len(tags), maxTags+1))
	for _, tag := range tags {
		tag = strings.ToLower(strings.TrimSpace(tag))
		switch {
		case tag == "":
			p.Add("tags", "must not contain empty tags")
			continue
		case utf8.RuneCountInString(tag) > maxLen:
			p.Add("tags", fmt.Sprintf("each tag must be at most %d characters", maxLen))
			continue
		}
		if slices.Contains(out, tag) {
			continue
		}
		if len(out) == maxTags {
			p.Add("tags", fmt.Sprintf("at most %d tags", maxTags))
			break
		}
		out = append(out, tag)
	}
	return out
}

// Problems collects field validation messages; Err returns nil when empty.
type Problems map[string]string

// Add records msg for field unless the field already has a message.
func (p Problems) Add(field, msg string) {
	if _, ok := p[field]; !ok {
		p[field] = msg
	}
}

// Err returns a *ValidationError for the collected problems, or nil.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether s is a lower-case canonical UUID, the form of
// every aggregate id.
func ValidID(s string) bool { return uuidPattern.MatchString(s) }

// Registry maps event type names to constructors so stored events can be
// decoded back into domain events, bringing data written under an older
// schema version up to date through the registered upcasters first.
type Registry struct {
	ctors     map[string]func() Event
	upcasters map[upcastKey]Upcaster
}

// Versioned is implemented by events whose schema has moved past version
// 1; an event without it is at version 1.
type Versioned interface {
	SchemaVersion() int
}

// Upcaster turns an event's JSON data at one schema version into the data
// of the next version. It must be pure.
type Upcaster func(data []byte) ([]byte, error)

type upcastKey struct {
	eventType string
	from      int
}

// NewRegistry registers constructors of empty events (pointers, so that
// decoding can fill them) under their EventType; it panics on a duplicate
// name, a programming error. Aggregates use events as pointers throughout.
func NewRegistry(ctors ...func() Event) *Registry {
	r := &Registry{ctors: make(map[string]func() Event, len(ctors)), upcasters: map[upcastKey]Upcaster{}}
	for _, c := range ctors {
		name := c().EventType()
		if _, dup := r.ctors[name]; dup {
			panic("domain: event type registered twice: " + name)
		}
		r.ctors[name] = c
	}
	return r
}

// SchemaVersion returns the current schema version of e: what it is
// written with.
func SchemaVersion(e Event) int {
	if v, ok := e.(Versioned); ok {
		return v.SchemaVersion()
	}
	return 1
}

// Upcast registers up as the step from schema version from to from+1 of
// eventType. It panics on a step registered twice or for an unknown type,
// programming errors; it is meant to be called while wiring, before use.
func (r *Registry) Upcast(eventType string, from int, up Upcaster) {
	c, ok := r.ctors[eventType]
	if !ok || from < 1 || from >= SchemaVersion(c()) {
		panic(fmt.Sprintf("domain: upcaster %s v%d: no such type or version below the current one", eventType, from))
	}
	k := upcastKey{eventType, from}
	if _, dup := r.upcasters[k]; dup {
		panic(fmt.Sprintf("domain: upcaster %s v%d registered twice", eventType, from))
	}
	r.upcasters[k] = up
}

// Decode turns a stored event's type, schema version and JSON data back
// into an Event at its current schema, upcasting older data step by step.
// A version newer than this build knows, or a missing step, is an error.
func (r *Registry) Decode(eventType string, version int, data []byte) (Event, error) {
	return r.DecodeWith(json.Unmarshal, eventType, version, data)
}

// DecodeWith is Decode with the JSON decoding done by unmarshal, which
// must accept what encoding/json's Unmarshal accepts and fill the event
// the same way: the read side decodes every event of a catch-up, and
// passes a faster decoder than the standard library's.
func (r *Registry) DecodeWith(unmarshal func([]byte, any) error, eventType string, version int, data []byte) (Event, error) {
	c, ok := r.ctors[eventType]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", eventType)
	}
	e := c()
	_, data, err := r.upcast(e, eventType, version, data)
	if err != nil {
		return nil, err
	}
	if err := unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

// Current brings a stored event's JSON data at schema version up to the
// current schema of eventType through the registered upcasters, without
// decoding it: what a history or an export shows. It returns the current
// version and the data (the same slice when it was current already).
func (r *Registry) Current(eventType string, version int, data []byte) (int, []byte, error) {
	c, ok := r.ctors[eventType]
	if !ok {
		return 0, nil, fmt.Errorf("unknown event type %q", eventType)
	}
	return r.upcast(c(), eventType, version, data)
}

// upcast is Current for e, an empty event of eventType.
func (r *Registry) upcast(e Event, eventType string, version int, data []byte) (int, []byte, error) {
	if version == 0 {
		version = 1
	}
	current := SchemaVersion(e)
	if version > current {
		return 0, nil, fmt.Errorf("decode %s: schema version %d is newer than this build's %d", eventType, version, current)
	}
	for v := version; v < current; v++ {
		up, ok := r.upcasters[upcastKey{eventType, v}]
		if !ok {
			return 0, nil, fmt.Errorf("decode %s: no upcaster from schema version %d", eventType, v)
		}
		var err error
		if data, err = up(data); err != nil {
			return 0, nil, fmt.Errorf("decode %s: upcast from version %d: %w", eventType, v, err)
		}
	}
	return current, data, nil
}

// Types returns the registered event type names, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.ctors))
	for k := range r.ctors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
