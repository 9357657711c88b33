package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
	"agentdesk/internal/auth"
	"agentdesk/projections"
)

// projectionLine reads the operator status line of projection name.
func projectionLine(tb testing.TB, root *client, name string) operatorLine {
	tb.Helper()
	var l operatorLine
	root.must(http.StatusOK, "GET", "/api/admin/projections/"+name, nil).JSON(tb, &l)
	return l
}

// tryRequest sends one request as c without failing the test, so that
// goroutines other than the test's may use it: it returns the status
// and the body, or the error of the round trip.
func tryRequest(ctx context.Context, c *client, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// seedTickets opens n tickets in the admin's company straight through the
// commands on the server's event store, 16 at a time, and waits until the
// tickets view shows them.
func seedTickets(tb testing.TB, ts *testServer, admin *client, n int) {
	tb.Helper()
	me := admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(tb)
	meta := commands.Meta{Principal: domain.Principal{UserID: me["id"].(string), CompanyID: me["company_id"].(string), Role: domain.CompanyAdmin}}
	app, err := commands.New(commands.Config{Store: ts.srv.events, Hasher: auth.Bcrypt{Cost: 4}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := app.OpenTicket(ctx, meta, commands.OpenTicket{Title: fmt.Sprintf("Seeded %d", i), Description: "Seeded before the rebuild", Priority: ticket.Normal, Tags: []string{"seed"}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("open a seeded ticket: %v", err)
	}
	head, err := ts.srv.events.Head(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := ts.srv.runner.Wait(wctx, projections.Tickets, head); err != nil {
		tb.Fatalf("wait for the tickets view: %v", err)
	}
}

// TestRebuildOverHTTPUnderLoad: an operator rebuilds the tickets view over
// HTTP while clients create tickets, read them back and list them. No
// request fails, no list total goes down, a second rebuild is refused
// while the first runs, generation 2 goes live, and a verification then
// finds the view equal to a replay of the log, holding every ticket.
func TestRebuildOverHTTPUnderLoad(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	admin := newTenant(t, ts, root, "Rebuilt").admin
	const seeded = 4000
	seedTickets(t, ts, admin, seeded)
	if got := admin.list("/api/tickets?range=[0,0]").Total; got != seeded {
		t.Fatalf("before the rebuild: %d tickets, want %d", got, seeded)
	}
	before := projectionLine(t, root, projections.Tickets)
	if before.Generation != 1 || before.Rebuild != nil || before.State != projections.StateRunning {
		t.Fatalf("before the rebuild: %+v, want generation 1 running", before)
	}

	// Every request runs to its end, so that each create answered 201 is
	// counted and none is cut off: the load stops between requests.
	ctx := context.Background()
	var stopped atomic.Bool
	var created atomic.Int64
	var wg sync.WaitGroup
	defer func() { stopped.Store(true); wg.Wait() }()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stopped.Load(); i++ {
				status, body, err := tryRequest(ctx, admin, "POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("Under load %d-%d", w, i)})
				if err != nil || status != http.StatusCreated {
					t.Errorf("create: status %d, %v: %s", status, err, body)
					return
				}
				created.Add(1)
				var rec struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(body, &rec); err != nil || rec.ID == "" {
					t.Errorf("create answered %s: %v", body, err)
					return
				}
				status, body, err = tryRequest(ctx, admin, "GET", "/api/tickets/"+rec.ID, nil)
				if err != nil || status != http.StatusOK {
					t.Errorf("read back %s: status %d, %v: %s", rec.ID, status, err, body)
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			var last int64
			for !stopped.Load() {
				status, body, err := tryRequest(ctx, admin, "GET", "/api/tickets?range=[0,9]&sort=created_at&order=DESC", nil)
				if err != nil || status != http.StatusOK {
					t.Errorf("list: status %d, %v: %s", status, err, body)
					return
				}
				var l listResult
				if err := json.Unmarshal(body, &l); err != nil {
					t.Errorf("list answered %s: %v", body, err)
					return
				}
				if l.Total < last || l.Total < seeded || len(l.Data) != 10 {
					t.Errorf("list: total %d with %d rows after a total of %d (%d seeded)", l.Total, len(l.Data), last, seeded)
					return
				}
				last = l.Total
			}
		})
	}
	waitFor(t, "the first creates under load", func() bool { return created.Load() >= 8 })

	var started operatorLine
	root.must(http.StatusAccepted, "POST", "/api/admin/projections/tickets/rebuild", nil).JSON(t, &started)
	createdAtStart, rebuildStart := created.Load(), time.Now()
	root.must(http.StatusConflict, "POST", "/api/admin/projections/tickets/rebuild", nil)
	if started.Rebuild == nil || started.Rebuild.Generation != 2 || started.Name != projections.Tickets {
		t.Fatalf("the rebuild's answer %+v: want a rebuild into generation 2", started)
	}
	var after operatorLine
	var sawRebuilding bool
	waitFor(t, "generation 2 to go live", func() bool {
		after = projectionLine(t, root, projections.Tickets)
		sawRebuilding = sawRebuilding || after.State == projections.StateRebuilding
		return after.Generation == 2 && after.Rebuild == nil
	})
	createdDuring, rebuildTook := created.Load()-createdAtStart, time.Since(rebuildStart)
	// A few more creates and lists on the new generation.
	switched := created.Load()
	waitFor(t, "creates after the switch", func() bool { return created.Load() >= switched+8 })
	stopped.Store(true)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if after.State != projections.StateRunning || after.Error != "" || !sawRebuilding {
		t.Fatalf("after the rebuild: %+v (seen rebuilding: %v), want running without error", after, sawRebuilding)
	}
	if createdDuring == 0 {
		t.Fatal("no ticket was created while the rebuild ran: the test proves nothing")
	}

	var res projections.VerifyResult
	root.must(http.StatusOK, "POST", "/api/admin/projections/tickets/verify", nil).JSON(t, &res)
	if len(res.Differences) != 0 || res.More {
		t.Fatalf("verify after the rebuild: %d differences: %+v", len(res.Differences), res.Differences)
	}
	want := seeded + created.Load()
	if got := admin.list("/api/tickets?range=[0,0]").Total; got != want {
		t.Fatalf("after the rebuild: %d tickets, want %d (%d seeded, %d created over HTTP)", got, want, seeded, created.Load())
	}
	if int64(res.Documents) != want {
		t.Fatalf("verify compared %d documents, want %d", res.Documents, want)
	}
	t.Logf("rebuilt %d tickets in about %s while %d were created over HTTP", seeded, rebuildTook.Round(time.Millisecond), createdDuring)
}

// appendUndecodable appends to ticket id's stream a ticket.edited event
// whose title is a number, which the tickets projector cannot decode.
func appendUndecodable(tb testing.TB, ts *testServer, companyID, id string) eventstore.Position {
	tb.Helper()
	ctx := context.Background()
	evs, err := ts.srv.events.ReadStream(ctx, ticket.Stream(id), 0, 0)
	if err != nil || len(evs) == 0 {
		tb.Fatalf("read ticket %s: %d events, %v", id, len(evs), err)
	}
	last := evs[len(evs)-1]
	res, err := ts.srv.events.Append(ctx, ticket.Stream(id), eventstore.Exact(last.Revision), []eventstore.EventData{{
		ID: uuid.NewString(), Type: ticket.TypeEdited, SchemaVersion: 1, Data: json.RawMessage(`{"title": 5}`),
		Metadata: eventstore.Metadata{CompanyID: companyID, ActorID: last.Metadata.ActorID, ActorRole: last.Metadata.ActorRole,
			CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), CommandID: uuid.NewString(), RecordedAt: time.Now().UTC()},
	}})
	if err != nil {
		tb.Fatalf("append the undecodable event: %v", err)
	}
	return res.Position
}

// readyz returns /readyz's status and detail.
func readyz(tb testing.TB, base string) (int, string) {
	tb.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Detail string `json:"detail"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Detail
}

// TestPoisonEventHaltsTicketsOverHTTP: an event the tickets projector
// cannot decode halts it once its retry is spent; the operator status
// shows the error and its position, /readyz names it, the other views
// keep serving and the tickets view refuses with a 503 instead of going
// stale silently. Resuming tries again and halts again, the event being
// still bad.
func TestPoisonEventHaltsTicketsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.ProjectionRetries = 1
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	tn := newTenant(t, ts, root, "Poisoned")
	tk := tn.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Fine so far"}).Map(t)
	if l := projectionLine(t, root, projections.Tickets); l.State != projections.StateRunning || l.Error != "" {
		t.Fatalf("before the bad event: %+v", l)
	}

	pos := appendUndecodable(t, ts, tn.id, tk["id"].(string))
	var l operatorLine
	waitFor(t, "the tickets projection to halt", func() bool {
		l = projectionLine(t, root, projections.Tickets)
		return l.State == projections.StateHalted
	})
	if !strings.Contains(l.Error, "ticket.edited") || l.ErrorPosition != pos.Key() {
		t.Fatalf("halted line %+v: want an error at the bad event's position %s", l, pos)
	}
	if l.Parked != 0 {
		t.Fatalf("halted line %+v: nothing is parked without a skip policy", l)
	}
	if status, detail := readyz(t, ts.URL); status != http.StatusServiceUnavailable || !strings.Contains(detail, "tickets is halted") {
		t.Fatalf("/readyz: %d %q, want 503 naming the halted tickets projection", status, detail)
	}
	r := tn.admin.do("GET", "/api/tickets", nil)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "tickets") {
		t.Fatalf("GET /api/tickets on a halted view: %d %s, want a 503 with Retry-After naming the view", r.Status, r.Body)
	}
	tn.admin.must(http.StatusOK, "GET", "/api/users", nil)
	root.must(http.StatusOK, "GET", "/api/companies", nil)

	var resumed operatorLine
	root.must(http.StatusOK, "POST", "/api/admin/projections/tickets/resume", nil).JSON(t, &resumed)
	if resumed.Name != projections.Tickets || resumed.State == projections.StateHalted {
		t.Fatalf("the resume's answer %+v: want the tickets line, no longer halted", resumed)
	}
	// Until it halts again there is nothing to resume: a second resume
	// must not leave a wake-up behind for the next halt.
	root.must(http.StatusConflict, "POST", "/api/admin/projections/tickets/resume", nil)
	waitFor(t, "the tickets projection to halt again", func() bool {
		l = projectionLine(t, root, projections.Tickets)
		return l.State == projections.StateHalted
	})
	if l.Error == "" || l.ErrorPosition == "" {
		t.Fatalf("halted again: %+v, want the error and its position", l)
	}
	root.must(http.StatusConflict, "POST", "/api/admin/projections/companies/resume", nil)
	root.must(http.StatusNotFound, "POST", "/api/admin/projections/nope/resume", nil)
	tn.admin.must(http.StatusForbidden, "POST", "/api/admin/projections/tickets/resume", nil)
}

// TestPoisonEventParkedUnderSkipPolicy: with PROJECTION_SKIP_FAILING
// naming tickets, the event the projector cannot decode is parked instead
// of halting it: the parked list shows it, the status counts it, and the
// tickets view goes on with what comes after.
func TestPoisonEventParkedUnderSkipPolicy(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.ProjectionRetries = 1
	cfg.ProjectionSkipFailing = []string{projections.Tickets}
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	tn := newTenant(t, ts, root, "Parking")
	tk := tn.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before the bad event"}).Map(t)
	appendUndecodable(t, ts, tn.id, tk["id"].(string))

	var parked struct {
		Data []struct {
			Projection string `json:"projection"`
			EventID    string `json:"event_id"`
		} `json:"data"`
		Total int `json:"total"`
	}
	waitFor(t, "the bad event to be parked", func() bool {
		root.must(http.StatusOK, "GET", "/api/admin/projections/parked"+filterQuery(map[string]any{"projection": projections.Tickets}, ""), nil).JSON(t, &parked)
		return parked.Total > 0
	})
	if parked.Total != 1 || len(parked.Data) != 1 || parked.Data[0].Projection != projections.Tickets || parked.Data[0].EventID == "" {
		t.Fatalf("parked: %+v, want the one bad event of tickets", parked)
	}
	evs, err := ts.srv.events.ReadStream(context.Background(), ticket.Stream(tk["id"].(string)), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if bad := evs[len(evs)-1]; parked.Data[0].EventID != bad.ID {
		t.Fatalf("parked event %s, want the bad one %s", parked.Data[0].EventID, bad.ID)
	}

	next := tn.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "After the bad event"}).Map(t)
	l := tn.admin.list("/api/tickets")
	if !strings.Contains(strings.Join(ids(l), ","), next["id"].(string)) || l.Total != 2 {
		t.Fatalf("tickets %v (total %d): want both, the one after the bad event included", ids(l), l.Total)
	}
	line := projectionLine(t, root, projections.Tickets)
	if line.State != projections.StateRunning || line.Parked != 1 || !line.SkipFailing {
		t.Fatalf("status %+v: want running with 1 parked under the skip policy", line)
	}
	if status, detail := readyz(t, ts.URL); status != http.StatusOK {
		t.Fatalf("/readyz: %d %q, want ready: a parked event does not stop the projection", status, detail)
	}
}
