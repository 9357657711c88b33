package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// TestAuditVerify: audit verify passes on the log a server wrote and
// exits 1 naming the stream and revision once events.db is edited behind
// the server's back.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	t.Run("first start", func(t *testing.T) { startServer(t, dir) }) // creates the superadmin
	ctx := context.Background()

	r := runCLI(t, ctx, cliEnv(dir), "", "audit", "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "chain intact") || strings.Contains(r.stdout, "checked 0 events") {
		t.Fatalf("intact log: exit %d (%v), stdout %q; want 0, events checked and \"chain intact\"", r.code, r.err, r.stdout)
	}

	r = runCLI(t, ctx, cliEnv(dir), "", "audit", "verify", "--company", "no-such-company")
	if r.code != 0 || !strings.Contains(r.stdout, "checked 0 events in 0 streams of company no-such-company") {
		t.Fatalf("--company with no events: exit %d (%v), stdout %q; want 0 and nothing checked", r.code, r.err, r.stdout)
	}

	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stream string
	var revision int64
	if err := db.QueryRow(`SELECT stream_id, revision FROM events ORDER BY position LIMIT 1`).Scan(&stream, &revision); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET data = '{"tampered":true}' WHERE stream_id = ? AND revision = ?`, stream, revision); err != nil {
		t.Fatal(err)
	}

	r = runCLI(t, ctx, cliEnv(dir), "", "audit", "verify")
	out := r.stdout + r.stderr
	if r.code != 1 || !strings.Contains(out, "hash mismatch") || !strings.Contains(out, stream) ||
		!strings.Contains(r.stdout, fmt.Sprintf("revision: %d\n", revision)) {
		t.Fatalf("edited log: exit %d, output %q; want 1 and a hash mismatch at stream %s, revision %d", r.code, out, stream, revision)
	}
	if strings.Contains(r.stdout, "chain intact") {
		t.Errorf("edited log: stdout %q says the chain is intact", r.stdout)
	}

	if r := runCLI(t, ctx, cliEnv(dir), "", "audit"); r.code != 2 {
		t.Errorf("audit alone: exit %d, want 2 (it needs a command)", r.code)
	}
	if r := runCLI(t, ctx, cliEnv(dir), "", "audit", "--help"); r.code != 0 || !strings.Contains(r.stdout, "verify") {
		t.Errorf("audit --help: exit %d, stdout %q; want verify listed", r.code, r.stdout)
	}
}
