package migrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"agentdesk/readstore"
)

// Migration is one versioned change of the read store.
type Migration struct {
	// ID orders the migrations; it is never reused.
	ID int
	// Name says what it does, for `agentdesk migrate status`.
	Name string
	// Up applies it. It must be idempotent: a crash after Up and before
	// the record, or two processes starting at once, apply it again.
	Up func(ctx context.Context, reads readstore.Store) error
}

// Collection is where applied migrations are recorded, one document each.
const Collection = "schema_migrations"

var collection = readstore.Collection{Name: Collection}

// All returns the read-store migrations in ID order.
func All() []Migration {
	return []Migration{
		{
			ID:   1,
			Name: "drop the aggregate snapshots taken before event upcasting",
			// The snapshots of past records (the audit's cache, which
			// "changes no answer" when dropped) are keyed by projector
			// version, not by event schema: one taken before ticket
			// events moved to schema version 2 could hold a record folded
			// from data the upcaster now reads differently. The name is
			// the collection's at the time, on purpose: a migration is
			// history, and does not follow later renames.
			Up: func(ctx context.Context, reads readstore.Store) error {
				return reads.Drop(ctx, "aggregate_snapshots")
			},
		},
	}
}

// Record is the document of an applied migration.
type Record struct {
	ID        string    `json:"id"`
	Migration int       `json:"migration"`
	Name      string    `json:"name"`
	AppliedAt time.Time `json:"applied_at"`
}

// State is a migration and whether it was applied.
type State struct {
	Migration
	// Applied is when it was applied; nil when it is pending.
	Applied *time.Time
}

// Status returns every migration of list with its state, in ID order.
func Status(ctx context.Context, reads readstore.Store, list []Migration) ([]State, error) {
	if err := reads.Ensure(ctx, collection); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := make([]State, 0, len(list))
	for _, m := range list {
		s := State{Migration: m}
		doc, err := reads.Get(ctx, Collection, key(m.ID))
		switch {
		case err == nil:
			var r Record
			if err := json.Unmarshal(doc.Data, &r); err != nil {
				return nil, fmt.Errorf("migrations: record of %d: %w", m.ID, err)
			}
			s.Applied = &r.AppliedAt
		case !errors.Is(err, readstore.ErrNotFound):
			return nil, fmt.Errorf("migrations: read record of %d: %w", m.ID, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Up applies the migrations of list not applied yet, in ID order, and
// records each one once it is applied. It returns those it applied; it
// stops at the first failure, which is not recorded, so the next Up tries
// it again.
func Up(ctx context.Context, reads readstore.Store, list []Migration, now func() time.Time) ([]Migration, error) {
	states, err := Status(ctx, reads, list)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, s := range states {
		if s.Applied != nil {
			continue
		}
		if err := s.Up(ctx, reads); err != nil {
			return applied, fmt.Errorf("migration %d (%s): %w", s.ID, s.Name, err)
		}
		raw, err := json.Marshal(Record{ID: key(s.ID), Migration: s.ID, Name: s.Name, AppliedAt: now().UTC()})
		if err != nil {
			return applied, err
		}
		if err := reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: Collection,
			Doc: readstore.Doc{ID: key(s.ID), Version: "1", Data: raw}}}}); err != nil {
			return applied, fmt.Errorf("migration %d (%s): record it: %w", s.ID, s.Name, err)
		}
		applied = append(applied, s.Migration)
	}
	return applied, nil
}

// key is the record's id: zero-padded, so that ids sort as numbers.
func key(id int) string { return fmt.Sprintf("%06d", id) }
