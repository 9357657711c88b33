package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"agentdesk/projections"
	"agentdesk/readstore"
)

// cliContext bounds one test's command runs.
func cliContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cliStatus runs `projections status --json` and returns its lines by id.
func cliStatus(t *testing.T, ctx context.Context, env map[string]string, args ...string) map[string]operatorLine {
	t.Helper()
	r := runCLI(t, ctx, env, "", append([]string{"projections", "status", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("projections status --json: exit %d, stderr %q", r.code, r.stderr)
	}
	var lines []operatorLine
	if err := json.Unmarshal([]byte(r.stdout), &lines); err != nil {
		t.Fatalf("projections status --json printed %q: %v", r.stdout, err)
	}
	out := map[string]operatorLine{}
	for _, l := range lines {
		out[l.ID] = l
	}
	return out
}

// wantCLI fails unless r exited with code and its stdout and stderr hold
// the wanted texts.
func wantCLI(t *testing.T, what string, r cliResult, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d (%v), want %d; stdout %q, stderr %q", what, r.code, r.err, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("%s: stdout %q, want %q in it", what, r.stdout, s)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr %q, want %q in it", what, r.stderr, s)
		}
	}
}

// TestProjectionsCLIOnline: the projections commands against a running
// server, over HTTP with a superadmin's token: status as a table and as
// JSON, a rebuild followed to its switch, a verification, a resume of a
// projection that is not halted (refused), a wrong token (refused with
// the 401), and, without a server named, the refusal of a data dir the
// server holds, pointing at AGENTDESK_SERVER.
func TestProjectionsCLIOnline(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	root := login(t, ts.URL, "admin", testAdminPassword)
	tn := newTenant(t, ts, root, "Operated")
	for _, title := range []string{"One", "Two", "Three"} {
		tn.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": title})
	}
	ctx := cliContext(t)
	env := cliEnv(dir)
	env["AGENTDESK_SERVER"], env["AGENTDESK_TOKEN"] = ts.URL, root.token

	r := runCLI(t, ctx, env, "", "projections", "status")
	wantCLI(t, "status", r, 0, []string{"NAME", "STATE", "tickets", "projection", "reaction", "running"}, nil)

	lines := cliStatus(t, ctx, env)
	if l := lines[projections.Tickets]; l.Kind != kindProjection || l.State != projections.StateRunning || l.Generation != 1 || l.Version < 1 || l.Checkpoint == "" || l.Head == "" {
		t.Fatalf("status --json: tickets %+v, want a running projection at generation 1", l)
	}
	var reactionLines int
	for id, l := range lines {
		if l.Kind == kindReaction {
			reactionLines++
			if id != "reaction:"+l.Name {
				t.Errorf("status --json: reaction %q has id %q", l.Name, id)
			}
		}
	}
	if reactionLines == 0 {
		t.Fatalf("status --json lists no reaction: %v", lines)
	}

	r = runCLI(t, ctx, env, "", "projections", "rebuild", "users")
	wantCLI(t, "rebuild users", r, 0, []string{"users rebuilt"}, []string{"users: generation 2 is live"})
	if l := projectionLine(t, root, projections.Users); l.Generation != 2 || l.Rebuild != nil {
		t.Fatalf("after rebuild users: %+v, want generation 2 live", l)
	}
	login(t, ts.URL, "admin", testAdminPassword) // sign-in reads the rebuilt users

	r = runCLI(t, ctx, env, "", "projections", "verify", "tickets")
	wantCLI(t, "verify tickets", r, 0, []string{"tickets: 3 documents compared", "no differences"}, nil)

	r = runCLI(t, ctx, env, "", "projections", "resume", "tickets")
	wantCLI(t, "resume tickets", r, 1, nil, []string{"409", "not halted"})

	r = runCLI(t, ctx, env, "", "projections", "verify", "nope")
	wantCLI(t, "verify nope", r, 1, nil, []string{"404", "nope"})

	bad := maps.Clone(env)
	bad["AGENTDESK_TOKEN"] = "not-a-token"
	r = runCLI(t, ctx, bad, "", "projections", "status")
	wantCLI(t, "status with a bad token", r, 1, nil, []string{"401"})
	if strings.Contains(r.stdout, "tickets") {
		t.Errorf("status with a bad token printed %q", r.stdout)
	}

	// The flags stand in for the environment.
	r = runCLI(t, ctx, cliEnv(dir), "", "projections", "status", "--server", ts.URL, "--token", root.token)
	wantCLI(t, "status --server --token", r, 0, []string{"tickets"}, nil)

	// A content writer's token is not an operator's.
	writer := tn.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "op-writer", "password": "password-op-writer", "role": "content_writer"}).Map(t)
	if writer["id"] == nil {
		t.Fatalf("writer %v", writer)
	}
	notOperator := maps.Clone(env)
	notOperator["AGENTDESK_TOKEN"] = login(t, ts.URL, "op-writer", "password-op-writer").token
	r = runCLI(t, ctx, notOperator, "", "projections", "rebuild", "tickets")
	wantCLI(t, "rebuild as a content writer", r, 1, nil, []string{"403"})

	// Without a server named, the command would open the data dir the
	// server holds.
	for _, args := range [][]string{{"status"}, {"rebuild", "tickets"}, {"verify", "tickets"}} {
		r = runCLI(t, ctx, cliEnv(dir), "", append([]string{"projections"}, args...)...)
		wantCLI(t, "offline "+strings.Join(args, " ")+" on a served data dir", r, 1, nil,
			[]string{"data dir " + dir + " is in use by another agentdesk process", "AGENTDESK_SERVER=http://", "AGENTDESK_TOKEN"})
	}
	if l := projectionLine(t, root, projections.Tickets); l.Generation != 1 || l.State != projections.StateRunning {
		t.Fatalf("after the refused commands: tickets %+v, want generation 1 running, untouched", l)
	}
}

// TestProjectionsCLIOffline: with no server running, the projections
// commands open the stores themselves: status says the projections are
// stopped, verify finds nothing, a rebuild switches to generation 2, and
// a ticket changed in the read store behind the projection's back makes
// verify exit non-zero naming the ticket and the field.
func TestProjectionsCLIOffline(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	root := login(t, ts.URL, "admin", testAdminPassword)
	tn := newTenant(t, ts, root, "Offline")
	var ticketIDs []string
	for _, title := range []string{"Printer jam", "VPN down", "Invoice missing"} {
		ticketIDs = append(ticketIDs, tn.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": title}).Map(t)["id"].(string))
	}
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := cliContext(t)
	env := cliEnv(dir)

	r := runCLI(t, ctx, env, "", "projections", "status")
	wantCLI(t, "status", r, 0, []string{"NAME", "tickets", "stopped"}, nil)
	lines := cliStatus(t, ctx, env)
	if len(lines) != len(projections.All()) {
		t.Fatalf("offline status lists %d lines, want the %d projections", len(lines), len(projections.All()))
	}
	for id, l := range lines {
		if l.Kind != kindProjection || l.State != "stopped" {
			t.Errorf("offline status: %s %+v, want a stopped projection", id, l)
		}
	}
	if l := lines[projections.Tickets]; l.Generation != 1 || l.LagEvents != 0 {
		t.Fatalf("offline status: tickets %+v, want generation 1 level with the log", l)
	}

	r = runCLI(t, ctx, env, "", "projections", "verify", "tickets")
	wantCLI(t, "verify tickets", r, 0, []string{"tickets: 3 documents compared", "no differences"}, nil)

	r = runCLI(t, ctx, env, "", "projections", "rebuild", "tickets")
	wantCLI(t, "rebuild tickets", r, 0, []string{"tickets rebuilt"}, []string{"tickets: generation 2 is live"})
	if l := cliStatus(t, ctx, env)[projections.Tickets]; l.Generation != 2 || l.Rebuild != nil || l.State != "stopped" {
		t.Fatalf("after the offline rebuild: tickets %+v, want generation 2, stopped", l)
	}

	r = runCLI(t, ctx, env, "", "projections", "resume", "tickets")
	wantCLI(t, "offline resume", r, 1, nil, []string{"running server", "AGENTDESK_SERVER"})

	// Change a ticket in the read store behind the projection's back.
	tamperTicketTitle(t, filepath.Join(dir, "reads.db"), ticketIDs[1], "VPN down", "Tampered with")

	r = runCLI(t, ctx, env, "", "projections", "verify", "tickets")
	wantCLI(t, "verify tickets after tampering", r, 1, []string{ticketIDs[1] + " differs in title", "Tampered with", "VPN down"},
		[]string{"tickets differs from a replay of the log in 1 documents", "agentdesk projections rebuild tickets"})
	for _, id := range []string{ticketIDs[0], ticketIDs[2]} {
		if strings.Contains(r.stdout, id) {
			t.Errorf("verify names untouched ticket %s: %q", id, r.stdout)
		}
	}

	// A rebuild repairs it.
	r = runCLI(t, ctx, env, "", "projections", "rebuild", "tickets")
	wantCLI(t, "rebuild after tampering", r, 0, []string{"tickets rebuilt"}, nil)
	r = runCLI(t, ctx, env, "", "projections", "verify", "tickets")
	wantCLI(t, "verify after the repair", r, 0, []string{"no differences"}, nil)
}

// tamperTicketTitle rewrites ticket id's title in the read store at path
// from old to title, with a version above every stored one, as a write
// no projection made.
func tamperTicketTitle(t *testing.T, path, id, old, title string) {
	t.Helper()
	ctx := context.Background()
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	// The plain name is the live generation, whichever it is.
	if err := rs.Ensure(ctx, projections.TicketsProjector().Collection()); err != nil {
		t.Fatal(err)
	}
	doc, err := rs.Get(ctx, projections.Tickets, id)
	if err != nil {
		t.Fatal(err)
	}
	var tk map[string]any
	if err := json.Unmarshal(doc.Data, &tk); err != nil {
		t.Fatal(err)
	}
	if tk["title"] != old {
		t.Fatalf("ticket %s in the read store: %s, want title %q", id, doc.Data, old)
	}
	tk["title"] = title
	data, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{
		{Collection: projections.Tickets, Doc: readstore.Doc{ID: id, Version: strings.Repeat("f", 40), Data: data}},
	}}); err != nil {
		t.Fatal(err)
	}
}
