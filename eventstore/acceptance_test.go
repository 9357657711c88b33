package eventstore_test

import (
	"path/filepath"
	"testing"

	"agentdesk/eventstore"
	"agentdesk/eventstore/eventstoretest"
)

func TestSQLiteAcceptance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) (eventstore.Store, func() eventstore.Store) {
		path := filepath.Join(t.TempDir(), "events.db")
		open := func() eventstore.Store {
			store, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := store.Close(); err != nil {
					t.Errorf("close store: %v", err)
				}
			})
			return store
		}
		store := open()
		reopen := func() eventstore.Store {
			if err := store.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			store = open()
			return store
		}
		return store, reopen
	})
}
