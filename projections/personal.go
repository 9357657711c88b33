package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"agentdesk/domain"
	"agentdesk/eventstore"
)

// Opener opens personal data sealed in events (see domain.Personal): the
// plaintext, a value never sealed as it is, or domain.Erased when the
// subject's key was forgotten. It is safe for concurrent use.
type Opener interface {
	Open(ctx context.Context, subject, value string) (string, error)
}

// Option configures projectors.
type Option func(*options)

type options struct {
	pii Opener
}

// WithPII makes the projectors open the personal data sealed in events
// with o, so that read models hold it readable until its subject is
// forgotten, and erased after: a rebuild then finds nothing to restore.
func WithPII(o Opener) Option { return func(opts *options) { opts.pii = o } }

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// openPersonal returns a Def's Open step for events decoded by reg: their
// personal fields opened under the subject subject(ev), the aggregate's
// id. It is nil without an Opener.
func (o options) openPersonal(reg *domain.Registry, subject func(eventstore.RecordedEvent) string) func(context.Context, eventstore.RecordedEvent) (eventstore.RecordedEvent, error) {
	if o.pii == nil {
		return nil
	}
	return func(ctx context.Context, ev eventstore.RecordedEvent) (eventstore.RecordedEvent, error) {
		e, err := decode(reg, ev)
		if err != nil {
			return ev, err
		}
		p, ok := e.(domain.Personal)
		if !ok {
			return ev, nil
		}
		id := subject(ev)
		opened, err := p.MapPersonal(func(v string) (string, error) { return o.pii.Open(ctx, id, v) })
		if err != nil {
			return ev, fmt.Errorf("open personal data: %w", err)
		}
		// Project decodes the event again, at the current schema
		// version, which is what it was decoded to.
		if ev.Data, err = json.Marshal(opened); err != nil {
			return ev, err
		}
		ev.SchemaVersion = domain.SchemaVersion(opened)
		return ev, nil
	}
}

// erased returns what a personal field reads once its subject was
// forgotten; a field never set stays empty.
func erased(v string) string {
	if v == "" {
		return ""
	}
	return domain.Erased
}
