package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"agentdesk/eventstore"
)

// process is the agentdesk binary running as a child process.
type process struct {
	cmd *exec.Cmd
	URL string
}

// buildBinary compiles agentdesk once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "agentdesk")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs the binary on dataDir and waits until it listens.
func startProcess(t *testing.T, bin, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATA_DIR="+dataDir, "HTTP_ADDR=127.0.0.1:0", "ADMIN_PASSWORD="+testAdminPassword,
		"BCRYPT_COST=4", "LOG_FORMAT=json", "LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		// AGENTDESK_TEST_PROCESS_LOG keeps the processes' logs, to debug a
		// failing test.
		var keep io.Writer = io.Discard
		if f := os.Getenv("AGENTDESK_TEST_PROCESS_LOG"); f != "" {
			if out, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
				defer out.Close()
				keep = out
			}
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintf(keep, "%d %s\n", cmd.Process.Pid, sc.Bytes())
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "agentdesk listening" {
				addr <- line.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		p := &process{cmd: cmd, URL: "http://" + a}
		(&testServer{URL: p.URL}).waitReady(t)
		return p
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60s")
	}
	return nil
}

// load is what concurrent writers got acknowledged.
type load struct {
	acked map[string]string // title → id, for every 2xx
	moved map[string]bool   // ids whose status change got a 2xx
	sent  int64
}

// writeUntilSignal runs 8 concurrent ticket writers (opens, and a status
// change for every other ticket) against p, sends sig once at least 200
// tickets were acknowledged, and returns what was acknowledged. prefix
// keeps titles unique across rounds.
func writeUntilSignal(t *testing.T, p *process, token, companyID, prefix string, sig syscall.Signal) load {
	t.Helper()
	const writers = 8
	var (
		mu   sync.Mutex
		res  = load{acked: map[string]string{}, moved: map[string]bool{}}
		sent atomic.Int64
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpc := &http.Client{Timeout: 10 * time.Second}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				title := fmt.Sprintf("%s-w%d-%d", prefix, w, i)
				sent.Add(1)
				rec, ok := post(httpc, token, p.URL+"/api/tickets", map[string]any{"title": title, "company_id": companyID})
				if !ok {
					continue
				}
				id := rec["id"].(string)
				mu.Lock()
				res.acked[title] = id
				mu.Unlock()
				if i%2 == 0 {
					if _, ok := post(httpc, token, p.URL+"/api/tickets/"+id+"/status", map[string]any{"status": "in_progress"}); ok {
						mu.Lock()
						res.moved[id] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(res.acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	waitErr := p.cmd.Wait()
	cancel()
	wg.Wait()
	if sig == syscall.SIGTERM && waitErr != nil {
		t.Fatalf("graceful stop under load: %v", waitErr)
	}
	res.sent = sent.Load()
	if len(res.acked) == 0 {
		t.Fatalf("no write was acknowledged before %v", sig)
	}
	t.Logf("%v: %d requests sent, %d tickets acknowledged", sig, res.sent, len(res.acked))
	return res
}

// TestCrashKeepsAcknowledgedWrites runs concurrent writers against the
// binary, kills it with SIGKILL mid-load, restarts it on the same data
// dir, stops it again with SIGTERM mid-load (a graceful stop lets requests
// in flight finish), restarts it, and checks that every write answered
// 2xx is there exactly once and that the read model caught up with the
// event log.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)
	root := login(t, p.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Crashco"}).Map(t)
	companyID := co["id"].(string)

	killed := writeUntilSignal(t, p, root.token, companyID, "kill", syscall.SIGKILL)
	p = startProcess(t, bin, dir)
	root = login(t, p.URL, "admin", testAdminPassword)
	stopped := writeUntilSignal(t, p, root.token, companyID, "term", syscall.SIGTERM)

	p = startProcess(t, bin, dir)
	root = login(t, p.URL, "admin", testAdminPassword)
	seen := map[string]int{}
	var total int64
	for skip := 0; ; skip += 1000 {
		l := root.list(fmt.Sprintf("/api/tickets?skip=%d&limit=1000&sort=created_at&order=ASC", skip))
		total = l.Total
		for _, d := range l.Data {
			id := d["id"].(string)
			seen[d["title"].(string)]++
			if (killed.moved[id] || stopped.moved[id]) && d["status"] != "in_progress" {
				t.Errorf("ticket %s: acknowledged status change lost (status %v)", id, d["status"])
			}
		}
		if len(l.Data) < 1000 {
			break
		}
	}
	for _, round := range []load{killed, stopped} {
		for title, id := range round.acked {
			if seen[title] != 1 {
				t.Errorf("acknowledged ticket %s (%s) found %d times, want exactly once", title, id, seen[title])
			}
		}
	}
	for title, n := range seen {
		if n != 1 {
			t.Errorf("ticket %s stored %d times", title, n)
		}
	}

	// Stop gracefully and compare the read model with the event log.
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
	sub, err := es.Subscribe(t.Context(), eventstore.Start, eventstore.Filter{Types: []string{"ticket.opened"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	opened := 0
	for {
		b, err := sub.Next(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		opened += len(b.Events)
		if b.CaughtUp {
			break
		}
	}
	if int64(opened) != total {
		t.Fatalf("event log holds %d opened tickets, read model %d", opened, total)
	}
}

// post sends a JSON POST and reports whether it got a 2xx, with the record.
func post(c *http.Client, token, url string, body any) (map[string]any, bool) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, strings.NewReader(string(raw)))
	if err != nil {
		return nil, false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, false
	}
	var rec map[string]any
	if json.NewDecoder(resp.Body).Decode(&rec) != nil {
		return nil, false
	}
	return rec, true
}
