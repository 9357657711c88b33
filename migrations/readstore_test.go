package migrations_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"agentdesk/migrations"
	"agentdesk/readstore"
	"agentdesk/readstore/mongo"
	"agentdesk/readstore/mongo/mongotest"
)

// stores returns an embedded SQLite read store and one on MongoDB
// (FerretDB, through the real driver).
func stores(t *testing.T) map[string]readstore.Store {
	t.Helper()
	ctx := context.Background()
	lite, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	m, err := mongo.Open(ctx, mongo.Config{URI: mongotest.Start(t), Database: strings.ReplaceAll(t.Name(), "/", "_"), ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return map[string]readstore.Store{"sqlite": lite, "mongo": m}
}

// Migrations apply in order, once, and are recorded; a failing one stops
// Up unrecorded, and the next Up tries it again.
func TestUpAppliesOnceAndRecords(t *testing.T) {
	for name, reads := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var ran []int
			fail := true
			list := []migrations.Migration{
				{ID: 1, Name: "one", Up: func(context.Context, readstore.Store) error { ran = append(ran, 1); return nil }},
				{ID: 2, Name: "two", Up: func(context.Context, readstore.Store) error {
					ran = append(ran, 2)
					if fail {
						return errors.New("boom")
					}
					return nil
				}},
			}
			now := func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
			applied, err := migrations.Up(ctx, reads, list, now)
			if err == nil || !strings.Contains(err.Error(), "migration 2 (two): boom") || len(applied) != 1 {
				t.Fatalf("Up: applied %v, %v; want 1 applied and migration 2's error", applied, err)
			}
			st, err := migrations.Status(ctx, reads, list)
			if err != nil || st[0].Applied == nil || !st[0].Applied.Equal(now()) || st[1].Applied != nil {
				t.Fatalf("Status: %+v, %v; want 1 applied at %s and 2 pending", st, err, now())
			}
			fail = false
			if applied, err = migrations.Up(ctx, reads, list, now); err != nil || len(applied) != 1 || applied[0].ID != 2 {
				t.Fatalf("Up again: %v, %v; want 2 applied", applied, err)
			}
			if applied, err = migrations.Up(ctx, reads, list, now); err != nil || len(applied) != 0 {
				t.Fatalf("Up a third time: %v, %v; want nothing to do", applied, err)
			}
			if want := []int{1, 2, 2}; len(ran) != len(want) || ran[0] != 1 || ran[1] != 2 || ran[2] != 2 {
				t.Fatalf("ran %v, want %v", ran, want)
			}
		})
	}
}

// The shipped migrations apply on both backends, and again (idempotent),
// leaving the snapshot cache empty.
func TestShippedMigrations(t *testing.T) {
	for name, reads := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			snaps := readstore.Collection{Name: "aggregate_snapshots"}
			if err := reads.Ensure(ctx, snaps); err != nil {
				t.Fatal(err)
			}
			if err := reads.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: snaps.Name,
				Doc: readstore.Doc{ID: "tickets.v1.x.500", Version: "1", Data: []byte(`{"id":"tickets.v1.x.500"}`)}}}}); err != nil {
				t.Fatal(err)
			}
			all := migrations.All()
			for i, m := range all {
				if m.ID != i+1 || m.Name == "" || m.Up == nil {
					t.Fatalf("migration %d: %+v; want IDs 1, 2, … with a name", i, m)
				}
				if err := m.Up(ctx, reads); err != nil {
					t.Fatalf("migration %d, applied once by hand: %v", m.ID, err)
				}
			}
			applied, err := migrations.Up(ctx, reads, all, time.Now)
			if err != nil || len(applied) != len(all) {
				t.Fatalf("Up: %v, %v; want every migration applied (again)", applied, err)
			}
			if err := reads.Ensure(ctx, snaps); err != nil {
				t.Fatal(err)
			}
			if _, err := reads.Get(ctx, snaps.Name, "tickets.v1.x.500"); !errors.Is(err, readstore.ErrNotFound) {
				t.Fatalf("the old snapshot: %v, want it dropped", err)
			}
		})
	}
}
