// Package mongotest starts an in-process FerretDB server for tests of the
// MongoDB read store, so that they run through the real driver without a
// MongoDB server. Only tests import it: the binary never links FerretDB.
//
// FerretDB (v1.24, SQLite handler) speaks the MongoDB wire protocol but
// is not MongoDB. Besides having no transactions, no change streams, no
// renameCollection with dropTarget and few aggregation stages, it does
// these things, measured here:
//   - every _id lookup scans the collection, so it slows down beyond a few
//     thousand documents: tests keep their data small;
//   - an update command that matches 100 or more existing documents hangs
//     the database for good: send at most 99 update statements at once;
//   - a failed update statement is reported at index 0 of its command,
//     whichever it was, and the command's counts are lost (inserts report
//     the right index);
//   - an unordered bulk write stops at its first error;
//   - createIndexes naming several indexes that all exist drops the
//     connection (a panic in FerretDB's handler);
//   - an array directly inside an array cannot be stored.
package mongotest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// newMu serializes ferretdb.New, which sets a package-level variable of
// FerretDB's (its version info) and would otherwise race when parallel
// tests start servers.
var newMu sync.Mutex

// stopTimeout bounds how long cleanup waits for the server to stop.
const stopTimeout = 10 * time.Second

// Start starts a FerretDB server that keeps its data in a temporary
// directory and listens on 127.0.0.1 at a free port, and returns its
// MongoDB URI (no database in the path). The server stops when tb and its
// subtests have finished; clients should be closed before that, in
// cleanups registered after Start. FerretDB's own logging is discarded.
func Start(tb testing.TB) (uri string) {
	tb.Helper()
	// Not tb.TempDir: its name comes from the test's, and a '#' or '?'
	// in it (parallel subtests get "#01") breaks FerretDB's SQLite URI.
	dir, err := os.MkdirTemp("", "mongotest")
	if err != nil {
		tb.Fatalf("mongotest: %v", err)
	}
	// Registered before the server's stop, so it runs after it.
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("mongotest: %v", err)
		}
	})
	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	newMu.Unlock()
	if err != nil {
		tb.Fatalf("mongotest: start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("mongotest: FerretDB stopped with %v", err)
			}
		case <-time.After(stopTimeout):
			tb.Errorf("mongotest: FerretDB did not stop within %s", stopTimeout)
		}
	})
	// The listener is open once New returns, so this does not block.
	uri = f.MongoDBURI()
	if uri == "" {
		tb.Fatal("mongotest: FerretDB reported no URI")
	}
	return uri
}
