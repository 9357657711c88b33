package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestClientGoneDuringWriteWait: a client that goes away while its write
// waits for the projections (stopped here, so the wait would last the
// whole WRITE_WAIT) is no failure of the server's: nothing is logged
// above debug and no 5xx is counted, whatever the write.
func TestClientGoneDuringWriteWait(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig(t, t.TempDir())
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	ts := &testServer{URL: "http://" + ln.Addr().String(), srv: srv}
	ts.waitReady(t)
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Gone")
	tk := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Before"}).Map(t)
	ts.srv.stopProjections()
	mark := len(logs.String()) // what follows is what counts

	for _, c := range []struct {
		name, method, path, route string
		body                      any
		headers                   []string
	}{
		{"create", "POST", "/api/tickets", "/api/tickets", map[string]any{"title": "Gone"}, nil},
		{"create with an idempotency key", "POST", "/api/tickets", "/api/tickets", map[string]any{"title": "Gone again"}, []string{"Idempotency-Key", "gone-1"}},
		{"action", "POST", "/api/tickets/" + tk["id"].(string) + "/status", "/api/tickets/{id}/status", map[string]any{"status": "in_progress"}, nil},
		{"update", "PUT", "/api/tickets/" + tk["id"].(string), "/api/tickets/{id}", map[string]any{"title": "Renamed"}, nil},
		{"delete", "DELETE", "/api/tickets/" + tk["id"].(string), "/api/tickets/{id}", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := requestsServed(t, ts.URL, c.method, c.route)
			var body io.Reader
			if c.body != nil {
				raw, _ := json.Marshal(c.body)
				body = bytes.NewReader(raw)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, c.method, ts.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+a.admin.token)
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(c.headers); i += 2 {
				req.Header.Set(c.headers[i], c.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("answered %d before the client gave up: the write did not wait, the test proves nothing", resp.StatusCode)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("request: %v, want the client's deadline", err)
			}
			// The server answers the gone client once it notices; wait
			// for the request to be counted.
			var after map[string]float64
			waitFor(t, "the request to be counted", func() bool {
				after = requestsServed(t, ts.URL, c.method, c.route)
				return total(after) > total(before)
			})
			for status, n := range after {
				if n > before[status] && status >= "500" {
					t.Errorf("counted as %s, want no 5xx for a client that went away", status)
				}
			}
			if after["499"] != before["499"]+1 {
				t.Errorf("499s counted: %v before, %v after; want one more", before, after)
			}
		})
	}
	logged := logs.String()[mark:]
	for line := range strings.Lines(logged) {
		if !strings.Contains(line, "level=DEBUG") && !strings.Contains(line, "level=INFO") {
			t.Errorf("logged above info for a client that went away: %s", line)
		}
	}
	if !strings.Contains(logged, "client went away") {
		t.Fatalf("the debug log does not mention the gone clients; the test would prove nothing:\n%s", logged)
	}
}

// requestsServed reads agentdesk_http_requests_total for method and
// route from /metrics, by status.
func requestsServed(t *testing.T, base, method, route string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^agentdesk_http_requests_total\{(.*)\} (\S+)$`)
	label := regexp.MustCompile(`(\w+)="([^"]*)"`)
	out := map[string]float64{}
	for _, m := range line.FindAllStringSubmatch(string(raw), -1) {
		labels := map[string]string{}
		for _, l := range label.FindAllStringSubmatch(m[1], -1) {
			labels[l[1]] = l[2]
		}
		if labels["method"] != method || labels["route"] != route {
			continue
		}
		var n float64
		if err := json.Unmarshal([]byte(m[2]), &n); err != nil {
			t.Fatalf("metric value %q: %v", m[2], err)
		}
		out[labels["status"]] += n
	}
	return out
}

// total sums a count by status.
func total(byStatus map[string]float64) float64 {
	var n float64
	for _, v := range byStatus {
		n += v
	}
	return n
}
