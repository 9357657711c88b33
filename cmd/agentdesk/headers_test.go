package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHeadersTooLarge: request headers over the limit answer 431 with the
// API's JSON error body, whether one header or many make them too large,
// and so does a request line that does; headers under it are served.
// Past net/http's backstop the answer is its own 431.
func TestHeadersTooLarge(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	many := make([]string, 0, 2*200)
	for i := range 200 {
		many = append(many, fmt.Sprintf("X-Many-%d", i), strings.Repeat("m", 400))
	}
	for _, c := range []struct {
		name    string
		path    string
		headers []string
		want    int
	}{
		{"one big header", "/auth/me", []string{"X-Big", strings.Repeat("b", maxHeaderBytes)}, http.StatusRequestHeaderFieldsTooLarge},
		{"many headers", "/auth/me", many, http.StatusRequestHeaderFieldsTooLarge},
		{"a long URL", "/api/tickets?q=" + strings.Repeat("u", maxHeaderBytes), nil, http.StatusRequestHeaderFieldsTooLarge},
		{"just under the limit", "/auth/me", []string{"X-Big", strings.Repeat("b", maxHeaderBytes-1024)}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := root.with(t).do("GET", c.path, nil, c.headers...)
			if r.Status != c.want {
				t.Fatalf("got %d %.200s, want %d", r.Status, r.Body, c.want)
			}
			if c.want == http.StatusOK {
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type: got %q, want application/json", ct)
			}
			var p map[string]any
			r.JSON(t, &p)
			if d, _ := p["detail"].(string); !strings.Contains(d, fmt.Sprint(maxHeaderBytes)) || p["message"] != p["detail"] {
				t.Fatalf("got %v, want detail and message naming the limit of %d bytes", p, maxHeaderBytes)
			}
		})
	}

	t.Run("past the backstop", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			// The server stops reading at its limit: this write may fail.
			_, _ = fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: %s\r\n\r\n", strings.Repeat("h", 4*maxHeaderBytes))
		}()
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("read the answer: %v", err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 431 ") {
			t.Fatalf("got %q, want a 431", status)
		}
	})

	// The server still answers.
	root.must(http.StatusOK, "GET", "/auth/me", nil)
}

func TestHeaderBytes(t *testing.T) {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		"GET /api/tickets?x=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc\r\nX-A: 1\r\nX-A: 2\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	// The exact size on the wire.
	want := len("GET /api/tickets?x=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
	if got := headerBytes(req); got != want {
		t.Fatalf("got %d, want %d", got, want)
	}
}
