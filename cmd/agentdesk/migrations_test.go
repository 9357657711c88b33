package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/eventstore"
	"agentdesk/readstore/mongo/mongotest"
)

// appendV1Fixture appends migrations/testdata/ticket-events-v1.json's
// version 1 events, as they are, to ts's event store, in company
// companyID by actorID, and returns the ticket's id.
func appendV1Fixture(t *testing.T, ts *testServer, companyID, actorID string) string {
	t.Helper()
	raw, err := os.ReadFile("../../migrations/testdata/ticket-events-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.NewReplacer("{{company_id}}", companyID, "{{actor_id}}", actorID).Replace(string(raw)))
	var f struct {
		Stream string `json:"stream"`
		Events []struct {
			ID            string          `json:"id"`
			Type          string          `json:"type"`
			SchemaVersion int             `json:"schema_version"`
			RecordedAt    time.Time       `json:"recorded_at"`
			Data          json.RawMessage `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	expected := eventstore.NoStream
	for i, ev := range f.Events {
		res, err := ts.srv.events.Append(context.Background(), f.Stream, expected, []eventstore.EventData{{
			ID: ev.ID, Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data,
			Metadata: eventstore.Metadata{CompanyID: companyID, ActorID: actorID, ActorRole: "superadmin",
				CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), CommandID: uuid.NewString(), RecordedAt: ev.RecordedAt},
		}})
		if err != nil {
			t.Fatalf("append fixture event %d: %v", i, err)
		}
		expected = eventstore.Exact(res.NextRevision)
	}
	return strings.TrimPrefix(f.Stream, "ticket-")
}

// TestVersion1EventsOnEveryReadPath: version 1 ticket events, whose
// priority is a number, read as version 2 everywhere: the projection, a
// command on the ticket (which loads the aggregate), its history, its
// state as of a time, and the audit export; on every combination of
// stores.
func TestVersion1EventsOnEveryReadPath(t *testing.T) {
	onEveryBackend(t, testVersion1EventsOnEveryReadPath)
}

func testVersion1EventsOnEveryReadPath(t *testing.T, b backend) {
	ts := startServerOn(t, t.TempDir(), b)
	root := login(t, ts.URL, "admin", testAdminPassword)
	me := root.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Legacy"}).Map(t)
	companyID := co["id"].(string)
	id := appendV1Fixture(t, ts, companyID, me["id"].(string))

	var rec map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := root.do("GET", "/api/tickets/"+id, nil)
		if r.Status == http.StatusOK {
			if rec = r.Map(t); rec["revision"] == float64(2) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fixture's ticket never reached revision 2: %d %s", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec["priority"] != "high" || rec["title"] != "Printer on fire (3rd floor)" {
		t.Fatalf("projection: got priority %v, title %v; want high and the edited title", rec["priority"], rec["title"])
	}

	asOf := root.must(http.StatusOK, "GET", "/api/tickets/"+id+"?as_of=2025-03-01T09:30:00Z", nil).Map(t)
	if asOf["priority"] != "normal" || asOf["title"] != "Printer on fire" {
		t.Fatalf("as of 09:30: got priority %v, title %v; want normal (1) and the first title", asOf["priority"], asOf["title"])
	}

	var h struct {
		Data []struct {
			Type    string                                 `json:"type"`
			Data    map[string]any                         `json:"data"`
			Changes map[string]struct{ Before, After any } `json:"changes"`
		} `json:"data"`
	}
	root.must(http.StatusOK, "GET", "/api/tickets/"+id+"/history?order=ASC", nil).JSON(t, &h)
	if len(h.Data) != 3 || h.Data[0].Data["priority"] != "normal" || h.Data[1].Data["priority"] != "high" ||
		h.Data[1].Changes["priority"].Before != "normal" || h.Data[1].Changes["priority"].After != "high" {
		t.Fatalf("history: got %+v, want named priorities in the events' data and changes", h.Data)
	}

	export := root.must(http.StatusOK, "GET", "/api/audit/export?company_id="+companyID, nil).Body
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		var line struct {
			StreamID      string         `json:"stream_id"`
			SchemaVersion int            `json:"schema_version"`
			Data          map[string]any `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.StreamID != "ticket-"+id {
			continue
		}
		seen++
		if p, ok := line.Data["priority"]; line.SchemaVersion != 2 || (ok && p != "normal" && p != "high") {
			t.Errorf("export: %s; want schema version 2 and a named priority", sc.Bytes())
		}
	}
	if seen != 3 {
		t.Fatalf("export: %d lines of the fixture's ticket, want 3:\n%s", seen, export)
	}

	// A command loads the aggregate from the version 1 events.
	edited := root.must(http.StatusOK, "PUT", "/api/tickets/"+id, map[string]any{"title": "Printer fixed", "revision": 2}).Map(t)
	if edited["priority"] != "high" || edited["title"] != "Printer fixed" {
		t.Fatalf("after an edit: got %v", edited)
	}
	root.must(http.StatusOK, "PUT", "/api/tickets/"+id, map[string]any{"priority": "urgent", "revision": 3})
	evs, err := ts.srv.events.ReadStream(context.Background(), "ticket-"+id, 3, 0)
	if err != nil || len(evs) != 2 || evs[0].SchemaVersion != 2 || !strings.Contains(string(evs[1].Data), `"priority":"urgent"`) {
		t.Fatalf("new events: %+v, %v; want them written at version 2 with the named priority", evs, err)
	}
}

// TestMigrateCommand: the server applies the read-store migrations when
// it starts; migrate status lists them applied, migrate up has nothing to
// do; on a data dir of an earlier version (no record) status lists them
// pending and up applies them.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	env := cliEnv(dir)
	r := runCLI(t, context.Background(), env, "", "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "0 applied, 1 pending") {
		t.Fatalf("status before: exit %d, stdout %q, stderr %q; want the migration pending", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, context.Background(), env, "", "migrate", "up")
	if r.code != 0 || !strings.Contains(r.stdout, "applied 1: drop the aggregate snapshots") {
		t.Fatalf("up: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, context.Background(), env, "", "migrate", "up")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to apply") {
		t.Fatalf("up again: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, context.Background(), env, "", "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "1 applied, 0 pending") {
		t.Fatalf("status after: exit %d, stdout %q", r.code, r.stdout)
	}

	// A fresh data dir: the server's start applies them.
	dir2 := t.TempDir()
	ts := startServer(t, dir2)
	ts.srv.Shutdown(context.Background())
	r = runCLI(t, context.Background(), cliEnv(dir2), "", "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "1 applied, 0 pending") {
		t.Fatalf("status after a start: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, context.Background(), cliEnv(dir2), "", "migrate"); r.code != 2 {
		t.Fatalf("migrate alone: exit %d, want 2", r.code)
	}
}

// TestMigrateCommandOnMongo: migrate up and status on a MongoDB read
// store (FerretDB through the real driver), records and all.
func TestMigrateCommandOnMongo(t *testing.T) {
	env := cliEnv(t.TempDir())
	env["MONGO_URI"], env["MONGO_DATABASE"] = mongotest.Start(t), "migrate_cli"
	for _, step := range []struct{ args, want string }{
		{"status", "0 applied, 1 pending"},
		{"up", "applied 1: drop the aggregate snapshots"},
		{"up", "nothing to apply"},
		{"status", "1 applied, 0 pending"},
	} {
		r := runCLI(t, context.Background(), env, "", "migrate", step.args)
		if r.code != 0 || !strings.Contains(r.stdout, step.want) {
			t.Fatalf("migrate %s: exit %d, stdout %q, stderr %q; want %q", step.args, r.code, r.stdout, r.stderr, step.want)
		}
	}
}
