package eventstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// userVersion reads the file's PRAGMA user_version.
func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func setUserVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

// reopen opens the store at path and closes it.
func reopen(t *testing.T, path string, stream string) {
	t.Helper()
	s, err := OpenSQLite(SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if stream != "" {
		mustAppend(ctx, t, s, stream, NoStream, newEvent("ticket.opened", uuid.NewString()))
	}
	assertStreamLen(ctx, t, s, "ticket-1", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteSchemaVersion: a new file records the schema version; a file
// from before versioning (0) is brought up to it with its events; a file
// of a newer version is refused, untouched, with a message that says so.
func TestSQLiteSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	reopen(t, path, "ticket-1")
	if v := userVersion(t, path); v != SQLiteSchemaVersion {
		t.Fatalf("a new file's user_version = %d, want %d", v, SQLiteSchemaVersion)
	}

	setUserVersion(t, path, 0)
	reopen(t, path, "")
	if v := userVersion(t, path); v != SQLiteSchemaVersion {
		t.Fatalf("an unversioned file's user_version after open = %d, want %d", v, SQLiteSchemaVersion)
	}

	setUserVersion(t, path, SQLiteSchemaVersion+1)
	_, err := OpenSQLite(SQLiteConfig{Path: path})
	var sv *SchemaVersionError
	if !errors.As(err, &sv) || sv.Found != SQLiteSchemaVersion+1 || sv.Known != SQLiteSchemaVersion ||
		!strings.Contains(err.Error(), "this data was written by a newer agentdesk: event store schema 2, this binary knows 1") {
		t.Fatalf("open a newer file: got %v, want a SchemaVersionError saying so", err)
	}
	if v := userVersion(t, path); v != SQLiteSchemaVersion+1 {
		t.Fatalf("the newer file's user_version = %d after the refusal, want it untouched", v)
	}
}
