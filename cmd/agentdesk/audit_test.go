package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readapi"
)

func init() {
	// The description gives the export's JSON lines as the array of its
	// lines, which TestOpenAPI validates each line against.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		var lines []any
		dec := json.NewDecoder(body)
		for dec.More() {
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			lines = append(lines, v)
		}
		if lines == nil {
			lines = []any{}
		}
		return lines, nil
	})
}

// auditWorld is two companies with a user of every role and some
// history, seen through the audit trail.
type auditWorld struct {
	ts     *testServer
	root   *client
	a, b   *company
	ticket string // a ticket of a
}

func newAuditWorld(t *testing.T) *auditWorld {
	t.Helper()
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	w := &auditWorld{ts: ts, root: root, a: newCompany(t, ts, root, "Audited"), b: newCompany(t, ts, root, "Other")}
	admin := w.a.users["company_admin"]
	w.ticket = admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Audited ticket"}).Map(t)["id"].(string)
	admin.must(http.StatusOK, "POST", "/api/tickets/"+w.ticket+"/assign", map[string]any{"assignee_id": w.a.ids["content_writer"]})
	w.b.users["company_admin"].must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Not theirs"})
	// The trail is a projection: wait until it holds the last write.
	w.waitAudit(t, admin, w.a.id, map[string]any{"entity_id": w.ticket, "type": "ticket.assigned"})
	// The assignee's notification is recorded by a reaction, after.
	w.waitAudit(t, admin, w.a.id, map[string]any{"resource": "notifications"})
	// Whatever else the reactions record, the trail is to hold all of it:
	// the log is still and the audit projection has applied its head
	// (the trail lingers at the head, and an export reads the log).
	var still eventstore.Position
	waitFor(t, "the audit trail to hold the whole log", func() bool {
		head, err := ts.srv.events.Head(t.Context())
		applied, ok := ts.srv.runner.Applied(projections.AuditLog)
		settled := err == nil && ok && head == still && applied.Compare(head) >= 0
		still = head
		if !settled {
			time.Sleep(100 * time.Millisecond)
		}
		return settled
	})
	return w
}

// waitAudit polls, bounded, until c's list of company's audit entries
// matching filter is not empty.
func (w *auditWorld) waitAudit(t *testing.T, c *client, company string, filter map[string]any) listResult {
	t.Helper()
	f := map[string]any{"company_id": company}
	for k, v := range filter {
		f[k] = v
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := c.list("/api/audit_log" + filterQuery(f, ""))
		if len(l.Data) > 0 {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit entry matching %v within 10s", f)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuditLogRoles: the audit trail over HTTP, role by role, as
// DESIGN.md's table says: a superadmin reads every company's (naming
// one), a company admin its own company's, every other role nothing.
func TestAuditLogRoles(t *testing.T) {
	w := newAuditWorld(t)
	adminA, adminB := w.a.users["company_admin"], w.b.users["company_admin"]

	own := adminA.list("/api/audit_log?range=[0,999]")
	if own.Total == 0 || int64(len(own.Data)) != own.Total {
		t.Fatalf("company admin's trail: %d entries of %d, want all of them and some", len(own.Data), own.Total)
	}
	var last string
	for i, e := range own.Data {
		if e["company_id"] != w.a.id {
			t.Fatalf("company admin sees an entry of company %v: %v", e["company_id"], e)
		}
		if _, ok := e["data"]; ok {
			t.Fatalf("an entry holds the event's data: %v", e)
		}
		if strings.HasPrefix(e["type"].(string), "username.") {
			t.Errorf("the trail holds a username claim: %v", e)
		}
		for _, f := range []string{"id", "actor_id", "actor_role", "resource", "entity_id", "type", "schema_version", "revision",
			"position", "recorded_at", "correlation_id", "causation_id", "command_id", "request_id"} {
			if _, ok := e[f]; !ok {
				t.Errorf("entry %d lacks %s: %v", i, f, e)
			}
		}
		if at := e["recorded_at"].(string); i > 0 && at > last {
			t.Errorf("entries are not newest first: %s after %s", at, last)
		}
		last = e["recorded_at"].(string)
	}

	// The filters React Admin sends, each answered from the company's
	// own entries.
	ticket := adminA.list("/api/audit_log" + filterQuery(map[string]any{"resource": "tickets", "entity_id": w.ticket}, "sort=position&order=ASC"))
	if got := column(ticket, "type"); len(got) != 2 || got[0] != "ticket.opened" || got[1] != "ticket.assigned" {
		t.Errorf("the ticket's entries in log order: types %v, want [ticket.opened ticket.assigned]", got)
	}
	actor := ticket.Data[0]["actor_id"].(string)
	for _, f := range []map[string]any{
		{"actor_id": actor, "type": "ticket.assigned"},
		{"correlation_id": ticket.Data[1]["correlation_id"]},
		{"recorded_at_gte": ticket.Data[0]["recorded_at"], "recorded_at_lte": ticket.Data[1]["recorded_at"], "entity_id": w.ticket},
	} {
		l := adminA.list("/api/audit_log" + filterQuery(f, ""))
		if len(l.Data) == 0 || l.Total != int64(len(l.Data)) {
			t.Errorf("filter %v: %d entries of %d, want some", f, len(l.Data), l.Total)
		}
	}
	if got := adminA.list("/api/audit_log" + filterQuery(map[string]any{"company_id": w.b.id}, "")); got.Total != 0 || len(got.Data) != 0 {
		t.Errorf("company admin naming another company: %d entries, want none", got.Total)
	}
	adminA.must(http.StatusBadRequest, "GET", "/api/audit_log"+filterQuery(map[string]any{"actor_role": "client"}, ""), nil)
	adminA.must(http.StatusBadRequest, "GET", "/api/audit_log?sort=type", nil)

	// Reading one entry: the company's own, never another's.
	ownEntry, otherEntry := own.Data[0]["id"].(string), adminB.list("/api/audit_log").Data[0]["id"].(string)
	adminA.must(http.StatusOK, "GET", "/api/audit_log/"+ownEntry, nil)
	adminA.must(http.StatusNotFound, "GET", "/api/audit_log/"+otherEntry, nil)
	adminB.must(http.StatusNotFound, "GET", "/api/audit_log/"+ownEntry, nil)

	// The superadmin reads any company's, one company at a time.
	r := w.root.must(http.StatusBadRequest, "GET", "/api/audit_log", nil)
	if !strings.Contains(string(r.Body), "company_id") {
		t.Errorf("a superadmin's list without a company: %s, want a message naming company_id", r.Body)
	}
	w.root.must(http.StatusBadRequest, "GET", "/api/audit_log"+filterQuery(map[string]any{"company_id": []string{w.a.id, w.b.id}}, ""), nil)
	if got := w.root.list("/api/audit_log" + filterQuery(map[string]any{"company_id": w.a.id}, "range=[0,999]")); got.Total != own.Total {
		t.Errorf("superadmin's view of company a: %d entries, want the %d its admin sees", got.Total, own.Total)
	}
	platform := w.root.list("/api/audit_log" + filterQuery(map[string]any{"company_id": nil}, ""))
	if platform.Total == 0 || platform.Data[0]["company_id"] != nil {
		t.Errorf("the platform's own entries (company_id null): %v", platform.Data)
	}
	w.root.must(http.StatusOK, "GET", "/api/audit_log/"+ownEntry, nil)
	w.root.must(http.StatusOK, "GET", "/api/audit_log/"+otherEntry, nil)

	// Every other role: nothing, listed or by id.
	for _, role := range []string{"content_manager", "content_writer", "client"} {
		c := w.a.users[role].with(t)
		c.must(http.StatusForbidden, "GET", "/api/audit_log", nil)
		c.must(http.StatusForbidden, "GET", "/api/audit_log"+filterQuery(map[string]any{"company_id": w.a.id}, ""), nil)
		c.must(http.StatusForbidden, "GET", "/api/audit_log/"+ownEntry, nil)
		c.must(http.StatusForbidden, "GET", auditExportPath, nil)
	}
}

// exportLines reads an export's lines, failing on one that is not an
// event.
func exportLines(t *testing.T, raw []byte) []readapi.ExportedEvent {
	t.Helper()
	var out []readapi.ExportedEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev readapi.ExportedEvent
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil || ev.ID == "" {
			t.Fatalf("line %d is not an event (%v): %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExport checks that lines are company's events, in log order, and
// as many as the company's audit entries plus its username claims.
func checkExport(t *testing.T, lines []readapi.ExportedEvent, company string, entries int64) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("an empty export")
	}
	claims := int64(0)
	for i, ev := range lines {
		if ev.Metadata.CompanyID != company {
			t.Fatalf("line %d is an event of company %q, want only %s's: %+v", i+1, ev.Metadata.CompanyID, company, ev)
		}
		if i > 0 && ev.Position <= lines[i-1].Position {
			t.Fatalf("line %d is not in log order: position %s after %s", i+1, ev.Position, lines[i-1].Position)
		}
		if len(ev.Data) == 0 || ev.Type == "" || ev.StreamID == "" || ev.SchemaVersion < 1 {
			t.Fatalf("line %d is incomplete: %+v", i+1, ev)
		}
		if strings.HasPrefix(ev.StreamID, "username-") {
			claims++
		}
	}
	if got := int64(len(lines)) - claims; got != entries {
		t.Errorf("export: %d events besides %d username claims, want the %d of the audit trail", got, claims, entries)
	}
}

// TestAuditExportHTTP: GET /api/audit/export streams a company's events
// to its admin and to a superadmin naming it, and to nobody else.
func TestAuditExportHTTP(t *testing.T) {
	w := newAuditWorld(t)
	adminA := w.a.users["company_admin"]
	entries := adminA.list("/api/audit_log").Total

	r := adminA.must(http.StatusOK, "GET", auditExportPath, nil)
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	own := exportLines(t, r.Body)
	checkExport(t, own, w.a.id, entries)
	same := adminA.must(http.StatusOK, "GET", auditExportPath+"?company_id="+w.a.id, nil)
	if !bytes.Equal(same.Body, r.Body) {
		t.Error("a company admin naming its own company exports something else")
	}
	// Naming another company is refused, not answered empty: the
	// export is of one company, which the admin may not read.
	adminA.must(http.StatusForbidden, "GET", auditExportPath+"?company_id="+w.b.id, nil)

	w.root.must(http.StatusBadRequest, "GET", auditExportPath, nil)
	w.root.must(http.StatusBadRequest, "GET", auditExportPath+"?company_id=nope", nil)
	byRoot := w.root.must(http.StatusOK, "GET", auditExportPath+"?company_id="+w.a.id, nil)
	if !bytes.Equal(byRoot.Body, r.Body) {
		t.Error("the superadmin's export of company a differs from its admin's")
	}
	other := exportLines(t, w.root.must(http.StatusOK, "GET", auditExportPath+"?company_id="+w.b.id, nil).Body)
	checkExport(t, other, w.b.id, w.root.list("/api/audit_log"+filterQuery(map[string]any{"company_id": w.b.id}, "")).Total)

	for _, role := range []string{"content_manager", "content_writer", "client"} {
		w.a.users[role].with(t).must(http.StatusForbidden, "GET", auditExportPath, nil)
	}
	anon := &client{tb: t, base: w.ts.URL}
	anon.must(http.StatusUnauthorized, "GET", auditExportPath, nil)
}

// TestAuditExportCLI: `audit export` on a data dir no server holds
// writes the company's events, to a file or to stdout; while a server
// holds it, it is refused with a pointer to the HTTP export.
func TestAuditExportCLI(t *testing.T) {
	w := newAuditWorld(t)
	entries := w.a.users["company_admin"].list("/api/audit_log").Total
	ctx := cliContext(t)
	env := cliEnv(w.ts.dir)

	r := runCLI(t, ctx, env, "", "audit", "export", "--company", w.a.id)
	wantCLI(t, "export on a served data dir", r, 1, nil, []string{"in use", "GET /api/audit/export?company_id=" + w.a.id})

	if err := w.ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, ctx, env, "", "audit", "export", "--company", w.a.id)
	wantCLI(t, "export to stdout", r, 0, nil, nil)
	checkExport(t, exportLines(t, []byte(r.stdout)), w.a.id, entries)

	out := filepath.Join(t.TempDir(), "b.ndjson")
	r = runCLI(t, ctx, env, "", "audit", "export", "--company", w.b.id, "--out", out)
	wantCLI(t, "export to a file", r, 0, nil, []string{"exported", out})
	if r.stdout != "" || strings.Contains(r.stderr, "\r") {
		t.Errorf("export to a file: stdout %q, stderr %q; want nothing on stdout and no progress bar off a terminal", r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range exportLines(t, raw) {
		if ev.Metadata.CompanyID != w.b.id {
			t.Fatalf("the export of company b holds an event of %q", ev.Metadata.CompanyID)
		}
	}

	wantCLI(t, "export without a company", runCLI(t, ctx, env, "", "audit", "export"), 2, nil, []string{"--company"})
	wantCLI(t, "audit alone", runCLI(t, ctx, env, "", "audit"), 2, nil, nil)
}

// TestAuditLogRebuild: the trail is a projection like the others: an
// operator rebuilds it into a new generation, which holds the same
// entries.
func TestAuditLogRebuild(t *testing.T) {
	w := newAuditWorld(t)
	before := w.root.list("/api/audit_log" + filterQuery(map[string]any{"company_id": w.a.id}, "sort=position&order=ASC&range=[0,999]"))
	w.root.must(http.StatusAccepted, "POST", "/api/admin/projections/audit_log/rebuild", nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var l operatorLine
		w.root.must(http.StatusOK, "GET", "/api/admin/projections/audit_log", nil).JSON(t, &l)
		if l.Rebuild == nil && l.Generation > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild did not switch within 20s: %+v", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := w.root.list("/api/audit_log" + filterQuery(map[string]any{"company_id": w.a.id}, "sort=position&order=ASC&range=[0,999]"))
	if got, want := ids(after), ids(before); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after the rebuild: %d entries %v, want the %d of before", len(got), got, len(want))
	}
}
