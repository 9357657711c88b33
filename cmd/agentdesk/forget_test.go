package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/projections"
)

// Distinctive enough that no other byte sequence in a store matches.
const (
	forgetName  = "Quillon Vantablack-Ostrogoth"
	forgetEmail = "quillon.vantablack.7391@example.net"
)

// fileHolds reports whether any file of the SQLite database at path (the
// file, its WAL, its journal) holds any of needles.
func fileHolds(tb testing.TB, path string, needles ...string) string {
	tb.Helper()
	files, err := filepath.Glob(path + "*")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				return filepath.Base(f) + " holds " + n
			}
		}
	}
	return ""
}

// TestForgetUser erases a user's personal data over HTTP and checks every
// place it could remain: the event log never had it in the clear, the
// record and /auth/me show it erased, and a rebuilt users read model
// holds no trace of it.
func TestForgetUser(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a, b := newTenant(t, ts, root, "Forgetful"), newTenant(t, ts, root, "Other")

	u := root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": a.id, "username": "quillon",
		"password": "password-quillon", "role": "content_writer", "email": forgetEmail, "full_name": forgetName}).Map(t)
	id := u["id"].(string)
	if u["email"] != forgetEmail || u["full_name"] != forgetName {
		t.Fatalf("created: got %v, want the email and name readable", u)
	}
	if got := root.must(http.StatusOK, "GET", "/api/users/"+id, nil).Map(t); got["full_name"] != forgetName {
		t.Fatalf("GET: got %v, want the name readable", got)
	}
	if leak := fileHolds(t, filepath.Join(dir, "events.db"), forgetEmail, forgetName, "vantablack"); leak != "" {
		t.Fatalf("the event log holds personal data in the clear: %s", leak)
	}

	a.admin.must(http.StatusForbidden, "POST", "/api/users/"+id+"/forget", nil)
	b.admin.must(http.StatusNotFound, "POST", "/api/users/"+id+"/forget", nil)
	quillon := login(t, ts.URL, "quillon", "password-quillon")
	quillon.must(http.StatusForbidden, "POST", "/api/users/"+id+"/forget", nil)

	got := root.must(http.StatusOK, "POST", "/api/users/"+id+"/forget", nil).Map(t)
	if got["email"] != domain.Erased || got["full_name"] != domain.Erased || got["username"] != "quillon" {
		t.Fatalf("forget: got %v, want email and full name erased, the username kept", got)
	}
	root.must(http.StatusOK, "POST", "/api/users/"+id+"/forget", map[string]any{})
	if got := a.admin.must(http.StatusOK, "GET", "/api/users/"+id, nil).Map(t); got["email"] != domain.Erased || got["full_name"] != domain.Erased {
		t.Fatalf("GET after forget: got %v, want erased fields", got)
	}
	// Sign-in takes the username, which is not personal data here: the
	// account works on, without its name and email.
	me := login(t, ts.URL, "quillon", "password-quillon").must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	if me["email"] != domain.Erased || me["full_name"] != domain.Erased {
		t.Fatalf("/auth/me after forget: got %v, want erased fields", me)
	}
	a.admin.must(http.StatusUnprocessableEntity, "PUT", "/api/users/"+id, map[string]any{"email": "back@example.net"})
	a.admin.must(http.StatusOK, "PUT", "/api/users/"+id, map[string]any{"email": domain.Erased, "full_name": domain.Erased, "role": "content_manager"})

	// A rebuild from the log finds nothing to restore.
	root.must(http.StatusAccepted, "POST", "/api/admin/projections/users/rebuild", nil)
	waitFor(t, "the users rebuild to go live", func() bool {
		l := projectionLine(t, root, projections.Users)
		return l.Generation == 2 && l.Rebuild == nil
	})
	if got := root.must(http.StatusOK, "GET", "/api/users/"+id, nil).Map(t); got["email"] != domain.Erased || got["full_name"] != domain.Erased || got["role"] != "content_manager" {
		t.Fatalf("GET after the rebuild: got %v, want erased fields and the later role", got)
	}
	var rebuilt struct {
		Data []map[string]any `json:"data"`
	}
	root.must(http.StatusOK, "GET", "/api/users"+filterQuery(map[string]any{"company_id": a.id}, ""), nil).JSON(t, &rebuilt)
	for _, doc := range rebuilt.Data {
		for k, v := range doc {
			if s, ok := v.(string); ok && (strings.Contains(s, "Vantablack") || strings.Contains(s, "vantablack")) {
				t.Fatalf("rebuilt record %v: field %s holds %q", doc["id"], k, s)
			}
		}
	}
	if leak := fileHolds(t, filepath.Join(dir, "events.db"), forgetEmail, forgetName, "vantablack"); leak != "" {
		t.Fatalf("after forget: %s", leak)
	}

	// A deleted user's data is still in the log: it can be forgotten.
	gone := root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": a.id, "username": "gone-user",
		"password": "password-gone", "role": "client", "email": "gone@example.net"}).Map(t)["id"].(string)
	root.must(http.StatusOK, "DELETE", "/api/users/"+gone, nil)
	if got := root.must(http.StatusOK, "POST", "/api/users/"+gone+"/forget", nil).Map(t); got["id"] != gone || got["deleted"] != true {
		t.Fatalf("forget a deleted user: got %v, want its id, marked deleted", got)
	}
}

// TestForgetUserReadsDB: once the server is stopped and the read store's
// users are rebuilt from the log by the command line, reads.db holds no
// trace of a forgotten user's name or email; the command line forgets
// too.
func TestForgetUserReadsDB(t *testing.T) {
	dir := t.TempDir()
	var id, other string
	t.Run("serve", func(t *testing.T) {
		ts := startServer(t, dir)
		root := login(t, ts.URL, "admin", testAdminPassword)
		a := newTenant(t, ts, root, "Shredded")
		id = root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": a.id, "username": "quillon",
			"password": "password-quillon", "role": "client", "email": forgetEmail, "full_name": forgetName}).Map(t)["id"].(string)
		other = root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": a.id, "username": "second",
			"password": "password-second", "role": "client", "email": "second.person.4417@example.net", "full_name": "Second Person"}).Map(t)["id"].(string)
		root.must(http.StatusOK, "POST", "/api/users/"+id+"/forget", nil)
	})
	ctx := context.Background()
	r := runCLI(t, ctx, cliEnv(dir), "", "users", "forget", other)
	if r.code != 0 || !strings.Contains(r.stdout, "erased the full name and email of user "+other) {
		t.Fatalf("users forget: exit %d (%v), stdout %q, stderr %q", r.code, r.err, r.stdout, r.stderr)
	}
	if r := runCLI(t, ctx, cliEnv(dir), "", "users", "forget", other); r.code != 0 || !strings.Contains(r.stdout, "already forgotten") {
		t.Fatalf("users forget again: exit %d (%v), stdout %q", r.code, r.err, r.stdout)
	}
	if r := runCLI(t, ctx, cliEnv(dir), "", "users", "forget"); r.code != 2 {
		t.Fatalf("users forget without an id: exit %d, want 2", r.code)
	}
	// The read model is thrown away and rebuilt from the log.
	for _, f := range []string{"reads.db", "reads.db-wal", "reads.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	t.Run("rebuilt", func(t *testing.T) {
		ts := startServer(t, dir)
		root := login(t, ts.URL, "admin", testAdminPassword)
		for _, uid := range []string{id, other} {
			if got := root.must(http.StatusOK, "GET", "/api/users/"+uid, nil).Map(t); got["email"] != domain.Erased || got["full_name"] != domain.Erased {
				t.Fatalf("rebuilt user %s: got %v, want erased fields", uid, got)
			}
		}
	})
	if leak := fileHolds(t, filepath.Join(dir, "reads.db"), forgetEmail, forgetName, "Vantablack", "vantablack", "second.person.4417", "Second Person"); leak != "" {
		t.Fatalf("the rebuilt read store: %s", leak)
	}
	if leak := fileHolds(t, filepath.Join(dir, "events.db"), forgetEmail, forgetName, "second.person.4417", "Second Person"); leak != "" {
		t.Fatalf("the event log: %s", leak)
	}
}
