package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"agentdesk/eventstore"
)

// TestCrashReactionsNotifyOnce kills the binary with SIGKILL while 8
// writers open and assign tickets, restarts it on the same data dir, and
// checks that every assignment in the event log, acknowledged or not,
// ends up with exactly one notification: none lost with the process, none
// doubled by the redelivery after the restart.
func TestCrashReactionsNotifyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)
	root := login(t, p.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Crash reactions"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "cr-admin", "password": "password-cr-admin", "role": "company_admin"})
	admin := login(t, p.URL, "cr-admin", "password-cr-admin")
	assignee := admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "cr-writer", "password": "password-cr-writer", "role": "content_writer"}).Map(t)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	assigned := 0
	httpc := &http.Client{Timeout: 10 * time.Second}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				rec, ok := post(httpc, admin.token, p.URL+"/api/tickets", map[string]any{"title": fmt.Sprintf("crash-%d-%d", w, i)})
				if !ok {
					continue
				}
				if _, ok := post(httpc, admin.token, p.URL+"/api/tickets/"+rec["id"].(string)+"/assign", map[string]any{"assignee_id": assignee["id"]}); ok {
					mu.Lock()
					assigned++
					mu.Unlock()
				}
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := assigned
		mu.Unlock()
		if n >= 150 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	cancel()
	wg.Wait()
	t.Logf("killed after %d acknowledged assignments", assigned)

	p = startProcess(t, bin, dir)
	writer := login(t, p.URL, "cr-writer", "password-cr-writer")
	admin = login(t, p.URL, "cr-admin", "password-cr-admin")
	// Every ticket assigned in the log (acknowledged or not) is listed
	// with its assignee once the projections caught up.
	want := admin.list("/api/tickets" + filterQuery(map[string]any{"assignee_id": assignee["id"]}, "range=[0,0]")).Total
	if want < int64(assigned) {
		t.Fatalf("%d tickets assigned in the read model, %d acknowledged", want, assigned)
	}
	waitFor(t, "a notification for every assignment", func() bool {
		return writer.list("/api/notifications?range=[0,0]").Total >= want
	})
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	if got := writer.list("/api/notifications?range=[0,0]").Total; got != want {
		t.Fatalf("%d notifications for %d assignments", got, want)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	perTicket := map[string]int{}
	for _, typ := range []string{"ticket.assigned", "notification.created"} {
		sub, err := es.Subscribe(t.Context(), eventstore.Start, eventstore.Filter{Types: []string{typ}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := sub.Next(t.Context(), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range b.Events {
				if typ == "ticket.assigned" {
					perTicket[ev.StreamID[len("ticket-"):]] += 1000
					continue
				}
				var d struct {
					SubjectID string `json:"subject_id"`
				}
				json.Unmarshal(ev.Data, &d)
				perTicket[d.SubjectID]++
			}
			if b.CaughtUp {
				break
			}
		}
		sub.Close()
	}
	for id, n := range perTicket {
		if n != 1001 {
			t.Errorf("ticket %s: %d assignments, %d notifications; want one each", id, n/1000, n%1000)
		}
	}
	if int64(len(perTicket)) != want {
		t.Errorf("%d tickets in the log, %d in the read model", len(perTicket), want)
	}
}
