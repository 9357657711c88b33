package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"agentdesk/eventstore/esdb/esdbtest"
	"agentdesk/readstore/mongo/mongotest"
)

// TestLeaseTakeoverBetweenProcesses runs two agentdesk binaries on shared
// stores (the EventStoreDB protocol double and FerretDB, served by this
// test process): one runs the projections and reactions, the other
// follows. Killing the holder with SIGKILL, the other takes over within
// the lease time; tickets created and assigned through both processes,
// before and after, are all there once, with one notification per
// assignment, and the read model verifies against the log.
func TestLeaseTakeoverBetweenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two binaries; skipped with -short")
	}
	const ttl = 3 * time.Second
	env := []string{
		"EVENTSTORE_URL=" + esdbtest.MustStart(t, esdbtest.Config{}).URL(),
		"MONGO_URI=" + mongotest.Start(t),
		"MONGO_DATABASE=" + strings.ReplaceAll(t.Name(), "/", "_"),
		"LEASE_TTL=" + ttl.String(),
		// Processes sharing stores share the key that seals the keys of
		// users' personal data, each with a data dir of its own.
		"SECRETS_KEY=" + strings.Repeat("5a", 32),
	}
	bin := buildBinary(t)
	procs := []*process{startProcess(t, bin, t.TempDir(), env...), startProcess(t, bin, t.TempDir(), env...)}

	// runBy returns the pid of the process that runs the projections, as
	// p sees it (0: nobody).
	runBy := func(p *process) int {
		root := login(t, p.URL, "admin", testAdminPassword)
		l := root.list("/api/admin/projections")
		if len(l.Data) == 0 {
			return 0
		}
		by, _ := l.Data[0]["run_by"].(string)
		parts := strings.Split(by, "/")
		if len(parts) != 3 {
			return 0
		}
		pid, _ := strconv.Atoi(parts[1])
		return pid
	}
	var holder, other *process
	waitFor(t, "a process to hold the lease", func() bool {
		pid := runBy(procs[0])
		for i, p := range procs {
			if p.cmd.Process.Pid == pid {
				holder, other = p, procs[1-i]
				return runBy(procs[1-i]) == pid
			}
		}
		return false
	})

	root := login(t, holder.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Shared"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "shared-admin", "password": "password-shared-admin", "role": "company_admin"})
	writerID := ""
	{
		a := login(t, other.URL, "shared-admin", "password-shared-admin") // the follower reads its own writes too
		w := a.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "shared-writer", "password": "password-shared-writer", "role": "content_writer"}).Map(t)
		writerID = w["id"].(string)
	}
	var mu sync.Mutex
	created := map[string]bool{}
	assigned := 0
	work := func(p *process, n int, prefix string) {
		a := login(t, p.URL, "shared-admin", "password-shared-admin")
		for i := range n {
			tk := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("%s %d", prefix, i)}).Map(t)
			id := tk["id"].(string)
			a.must(http.StatusOK, "GET", "/api/tickets/"+id, nil) // read-your-writes, on either process
			a.must(http.StatusOK, "POST", "/api/tickets/"+id+"/assign", map[string]any{"assignee_id": writerID})
			mu.Lock()
			created[id] = true
			assigned++
			mu.Unlock()
		}
	}
	// The follower's realtime feed: tickets the holder's projections
	// wrote reach a stream of their company on the follower, as "read
	// again"; another company's stream hears nothing of them.
	otherCo := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Elsewhere"}).Map(t)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": otherCo["id"], "username": "elsewhere-admin", "password": "password-elsewhere", "role": "company_admin"})
	sharedFeed := openEvents(t, login(t, other.URL, "shared-admin", "password-shared-admin"), "")
	elsewhereFeed := openEvents(t, login(t, other.URL, "elsewhere-admin", "password-elsewhere"), "")
	work(holder, 8, "on the holder")
	for m := sharedFeed.next(); m.Topic != "resource/tickets" || m.Event.Type != "updated" || len(m.Event.Payload.IDs) != 0; m = sharedFeed.next() {
	}
	work(other, 8, "on the follower")
	for quiet := time.After(1500 * time.Millisecond); ; {
		select {
		case m := <-elsewhereFeed.msgs:
			if strings.HasPrefix(m.Topic, "resource/tickets") {
				t.Fatalf("another company's stream on the follower heard %+v", m)
			}
			continue
		case <-quiet:
		}
		break
	}

	// The follower caches principals too: a deactivation applied by the
	// holder must reach it.
	wf := login(t, other.URL, "shared-writer", "password-shared-writer")
	wf.must(http.StatusOK, "GET", "/auth/me", nil)
	root.must(http.StatusOK, "POST", "/api/users/"+writerID+"/deactivate", nil)
	waitFor(t, "the follower to refuse the deactivated user", func() bool {
		return wf.do("GET", "/auth/me", nil).Status == http.StatusUnauthorized
	})
	root.must(http.StatusOK, "POST", "/api/users/"+writerID+"/reactivate", nil)

	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.cmd.Wait()
	killed := time.Now()
	var took time.Duration
	waitFor(t, "the other process to take the lease over", func() bool {
		if runBy(other) == other.cmd.Process.Pid {
			took = time.Since(killed)
			return true
		}
		return false
	})
	t.Logf("takeover %s after the holder was killed (lease %s)", took.Round(time.Millisecond), ttl)
	if took > 2*ttl+2*time.Second {
		t.Fatalf("takeover took %s, lease %s", took, ttl)
	}
	work(other, 8, "after the takeover")

	a := login(t, other.URL, "shared-admin", "password-shared-admin")
	l := a.list("/api/tickets?range=[0,999]")
	if int(l.Total) != len(created) {
		t.Fatalf("%d tickets listed, %d created", l.Total, len(created))
	}
	for _, d := range l.Data {
		if !created[d["id"].(string)] {
			t.Errorf("ticket %v listed but never acknowledged", d["id"])
		}
	}
	w := login(t, other.URL, "shared-writer", "password-shared-writer")
	waitFor(t, "a notification per assignment", func() bool {
		return w.list("/api/notifications?range=[0,0]").Total >= int64(assigned)
	})
	time.Sleep(500 * time.Millisecond)
	if n := w.list("/api/notifications?range=[0,0]").Total; n != int64(assigned) {
		t.Fatalf("%d notifications for %d assignments", n, assigned)
	}
	root = login(t, other.URL, "admin", testAdminPassword)
	for _, name := range []string{"tickets", "notifications"} {
		v := root.must(http.StatusOK, "POST", "/api/admin/projections/"+name+"/verify", nil).Map(t)
		if diffs, _ := v["differences"].([]any); len(diffs) != 0 {
			t.Errorf("%s differs from the log after the takeover: %v", name, diffs)
		}
	}
}
