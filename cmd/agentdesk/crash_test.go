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
func startProcess(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATA_DIR="+dataDir, "HTTP_ADDR=127.0.0.1:0", "ADMIN_PASSWORD="+testAdminPassword,
		"BCRYPT_COST=4", "LOG_FORMAT=json", "LOG_LEVEL=info")
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
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
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

// TestCrashKeepsAcknowledgedWrites kills the server with SIGKILL in the
// middle of concurrent writes, restarts it on the same data dir, and checks
// that every write answered 2xx is there exactly once and that the read
// model caught up with the event log.
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

	const writers = 8
	var (
		mu    sync.Mutex
		acked = map[string]string{} // title → id, for every 2xx
		moved = map[string]bool{}   // ids whose status change got a 2xx
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpc := &http.Client{Timeout: 10 * time.Second}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				title := fmt.Sprintf("w%d-%d", w, i)
				sent.Add(1)
				rec, ok := post(httpc, root.token, p.URL+"/api/tickets", map[string]any{"title": title, "company_id": companyID})
				if !ok {
					continue
				}
				mu.Lock()
				acked[title] = rec["id"].(string)
				mu.Unlock()
				if i%2 == 0 {
					if _, ok := post(httpc, root.token, p.URL+"/api/tickets/"+rec["id"].(string)+"/status", map[string]any{"status": "in_progress"}); ok {
						mu.Lock()
						moved[rec["id"].(string)] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	// Let the load run, then kill the server without warning.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	t.Logf("%d requests sent, %d tickets acknowledged before SIGKILL", sent.Load(), len(acked))

	p2 := startProcess(t, bin, dir)
	root2 := login(t, p2.URL, "admin", testAdminPassword)
	seen := map[string]int{}
	var total int64
	for skip := 0; ; skip += 1000 {
		l := root2.list(fmt.Sprintf("/api/tickets?skip=%d&limit=1000&sort=created_at&order=ASC", skip))
		total = l.Total
		for _, d := range l.Data {
			seen[d["title"].(string)]++
			if moved[d["id"].(string)] && d["status"] != "in_progress" {
				t.Errorf("ticket %v: acknowledged status change lost (status %v)", d["id"], d["status"])
			}
		}
		if len(l.Data) < 1000 {
			break
		}
	}
	for title, id := range acked {
		if seen[title] != 1 {
			t.Errorf("acknowledged ticket %s (%s) found %d times, want exactly once", title, id, seen[title])
		}
	}
	for title, n := range seen {
		if n != 1 {
			t.Errorf("ticket %s stored %d times", title, n)
		}
	}

	// Stop gracefully and compare the read model with the event log.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	opened := 0
	for after := uint64(0); ; {
		evs, err := es.ReadAll(t.Context(), after, 1000, eventstore.Filter{Types: []string{"ticket.opened"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		opened += len(evs)
		after = evs[len(evs)-1].Position
	}
	if int64(opened) != total {
		t.Fatalf("event log holds %d opened tickets, read model %d", opened, total)
	}
	if !strings.HasPrefix(p2.URL, "http://127.0.0.1:") {
		t.Fatalf("server listened on %s, want loopback", p2.URL)
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
