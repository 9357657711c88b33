package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"agentdesk/domain"
)

// cliResult is what one run of the command line left behind.
type cliResult struct {
	err    error
	code   int
	stdout string
	stderr string
}

// runCLI runs the command line args with env as the whole environment
// and stdin as standard input, the way main does.
func runCLI(t *testing.T, ctx context.Context, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	code := report(err, &stderr)
	return cliResult{err: err, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliEnv is the environment of a command run on the embedded stores in
// dir. HTTP_ADDR 127.0.0.1:0 is never in use.
func cliEnv(dir string) map[string]string {
	return map[string]string{
		"DATA_DIR":    dir,
		"HTTP_ADDR":   "127.0.0.1:0",
		"BCRYPT_COST": "4",
		"LOG_LEVEL":   "warn",
	}
}

// signInStatus tries to sign in and returns the HTTP status.
func signInStatus(t *testing.T, base, username, password string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/auth/token", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestVersion(t *testing.T) {
	r := runCLI(t, context.Background(), nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "agentdesk ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Fatalf("version: exit %d, stdout %q, stderr %q; want exit 0 and agentdesk's and Go's versions", r.code, r.stdout, r.stderr)
	}
	if v := buildVersion(); v == "" {
		t.Fatal("buildVersion is empty, want a revision or \"dev\"")
	}

	t.Run("set at link time", func(t *testing.T) {
		old := version
		version = "v9.8.7-test"
		t.Cleanup(func() { version = old })
		r := runCLI(t, context.Background(), nil, "", "version")
		if !strings.HasPrefix(r.stdout, "agentdesk v9.8.7-test ") {
			t.Fatalf("got %q, want the version set with -X main.version", r.stdout)
		}
	})
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runCLI(t, context.Background(), nil, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d (%v), want 0", args, r.code, r.err)
		}
		for _, cmd := range []string{"serve", "version", "users"} {
			if !strings.Contains(r.stdout, cmd) {
				t.Errorf("%v: the help does not list %q:\n%s", args, cmd, r.stdout)
			}
		}
	}
	r := runCLI(t, context.Background(), nil, "", "users", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "reset-password") {
		t.Fatalf("users --help: exit %d, stdout %q; want reset-password listed", r.code, r.stdout)
	}
}

// A command line that is not understood exits 2 and touches nothing: the
// context is cancelled and DATA_DIR absent, so that a command run by
// mistake could neither serve nor go unnoticed.
func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"serv"}, `did you mean "serve"`},
		{[]string{"--port=8080"}, "unknown flag: --port"},
		{[]string{"serve", "extra-arg"}, `serve takes no arguments, got ["extra-arg"]`},
		{[]string{"serve", "--addr", "x"}, "unknown flag: --addr"},
		{[]string{"version", "now"}, "version takes no arguments"},
		{[]string{"users"}, "users needs a command"},
		{[]string{"users", "frob"}, `unknown command "frob" for users`},
		{[]string{"users", "reset-password"}, "takes one USERNAME, got 0"},
		{[]string{"users", "reset-password", "a", "b"}, "takes one USERNAME, got 2"},
		{[]string{"users", "reset-password", "--generate=maybe", "a"}, "invalid argument"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			r := runCLI(t, ctx, cliEnv(dir), "", tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d (%v), want 2", r.code, r.err)
			}
			if !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("stderr %q, want %q and a hint to --help", r.stderr, tt.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("DATA_DIR: %v, want it never created", err)
			}
		})
	}
}

// serveInBackground runs agentdesk with args (serve when empty) through
// run until the test ends, and returns its URL and its log. It fails the
// test unless the server stops cleanly when its context ends.
func serveInBackground(t *testing.T, env map[string]string, args ...string) (string, *lockedBuffer) {
	t.Helper()
	env["HTTP_ADDR"], env["LOG_LEVEL"], env["LOG_FORMAT"] = "127.0.0.1:0", "info", "json"
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &lockedBuffer{}, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context's end")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(logs.String()); addr != "" {
			ts := &testServer{URL: "http://" + addr}
			ts.waitReady(t)
			return ts.URL, logs
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not listen within 30s:\n%s", logs)
	return "", nil
}

// listeningAddr finds the address in serve's JSON log, or "".
func listeningAddr(log string) string {
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "agentdesk listening" {
			return line.Addr
		}
	}
	return ""
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// With no command agentdesk serves, and stops cleanly when its context
// ends (main's ends on SIGINT and SIGTERM; serveInBackground checks).
func TestServeIsTheDefault(t *testing.T) {
	env := cliEnv(t.TempDir())
	env["ADMIN_PASSWORD"] = testAdminPassword
	base, _ := serveInBackground(t, env)
	login(t, base, "admin", testAdminPassword)
}

// A port in use stops serve before it creates the data dir, opens the
// stores or creates the superadmin.
func TestServePortInUseFailsFirst(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, args := range [][]string{{"serve"}, {}} {
		dir := filepath.Join(t.TempDir(), "data")
		env := cliEnv(dir)
		env["HTTP_ADDR"] = addr
		r := runCLI(t, context.Background(), env, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, addr) || !strings.Contains(r.stderr, "HTTP_ADDR") {
			t.Fatalf("%v: exit %d, stderr %q; want 1 and a message naming HTTP_ADDR %s", args, r.code, r.stderr, addr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v: DATA_DIR: %v, want it never created", args, err)
		}
	}
}

// An operator resets the superadmin's password on the embedded stores
// while no server runs; the next start signs in with it.
func TestResetPassword(t *testing.T) {
	dir := t.TempDir()
	t.Run("first start", func(t *testing.T) {
		ts := startServer(t, dir) // stops when the subtest ends
		login(t, ts.URL, "admin", testAdminPassword)
	})
	ctx := context.Background()

	r := runCLI(t, ctx, cliEnv(dir), "typed-password-1\n", "users", "reset-password", "admin")
	if r.code != 0 || !strings.Contains(r.stdout, `password of "admin" reset`) {
		t.Fatalf("reset from stdin: exit %d (%v), stdout %q; want 0 and what it did", r.code, r.err, r.stdout)
	}
	if strings.Contains(r.stdout, "typed-password-1") {
		t.Errorf("stdout %q repeats the password it was given", r.stdout)
	}
	t.Run("typed password works", func(t *testing.T) {
		ts := startServer(t, dir)
		login(t, ts.URL, "admin", "typed-password-1")
		if got := signInStatus(t, ts.URL, "admin", testAdminPassword); got != http.StatusUnauthorized {
			t.Errorf("sign-in with the old password: got %d, want 401", got)
		}
	})

	r = runCLI(t, ctx, cliEnv(dir), "", "users", "reset-password", "--generate", "admin")
	_, generated, ok := strings.Cut(r.stdout, "new password: ")
	generated = strings.TrimSpace(generated)
	if r.code != 0 || !ok || len(generated) < 16 {
		t.Fatalf("reset --generate: exit %d (%v), stdout %q; want 0 and a new password printed", r.code, r.err, r.stdout)
	}
	t.Run("generated password works", func(t *testing.T) {
		ts := startServer(t, dir)
		login(t, ts.URL, "admin", generated)
		if got := signInStatus(t, ts.URL, "admin", "typed-password-1"); got != http.StatusUnauthorized {
			t.Errorf("sign-in with the replaced password: got %d, want 401", got)
		}
	})
}

// TestResetPasswordRefuses: bad input and a missing data dir; a server
// running on the data dir is TestDataDirLockRefusesResetPassword.
func TestResetPasswordRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Run("first start", func(t *testing.T) { startServer(t, dir) })
	ctx := context.Background()

	t.Run("unknown user", func(t *testing.T) {
		r := runCLI(t, ctx, cliEnv(dir), "long-enough-password\n", "users", "reset-password", "nobody")
		if r.code != 1 || !errors.Is(r.err, domain.ErrNotFound) || !strings.Contains(r.stderr, `"nobody"`) {
			t.Fatalf("exit %d, err %v, stderr %q; want 1 and a not-found error naming the user", r.code, r.err, r.stderr)
		}
	})
	t.Run("no password on stdin", func(t *testing.T) {
		r := runCLI(t, ctx, cliEnv(dir), "", "users", "reset-password", "admin")
		if r.code != 1 || !strings.Contains(r.stderr, "--generate") {
			t.Fatalf("exit %d, stderr %q; want 1 and a hint to --generate", r.code, r.stderr)
		}
	})
	t.Run("password too short", func(t *testing.T) {
		r := runCLI(t, ctx, cliEnv(dir), "short\n", "users", "reset-password", "admin")
		var v *domain.ValidationError
		if r.code != 1 || !errors.As(r.err, &v) {
			t.Fatalf("exit %d, err %v; want 1 and a validation error", r.code, r.err)
		}
	})
	t.Run("data dir missing", func(t *testing.T) {
		missing := filepath.Join(dir, "typo")
		r := runCLI(t, ctx, cliEnv(missing), "long-enough-password\n", "users", "reset-password", "admin")
		if r.code != 1 || !strings.Contains(r.stderr, "DATA_DIR") {
			t.Fatalf("exit %d, stderr %q; want 1 and a message naming DATA_DIR", r.code, r.stderr)
		}
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the missing DATA_DIR: %v, want it still missing", err)
		}
	})
}

// Deleting the generated password file used to make the next start write
// a new password that was never set. Now the file is only written when
// the superadmin is created, a start without it warns, and a reset
// removes a file whose password it replaced.
func TestLostInitialPasswordFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "initial-admin-password")
	var first string
	t.Run("first start writes the file", func(t *testing.T) {
		base, _ := serveInBackground(t, cliEnv(dir), "serve")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("initial password file: %v", err)
		}
		first = strings.TrimSpace(string(raw))
		login(t, base, "admin", first)
	})
	t.Run("restart without the file writes none", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		base, logs := serveInBackground(t, cliEnv(dir))
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("password file after the restart: %v, want none written", err)
		}
		if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "agentdesk users reset-password admin") {
			t.Errorf("log has no warning naming the reset command:\n%s", logs)
		}
		login(t, base, "admin", first)
	})
	t.Run("reset removes the stale file", func(t *testing.T) {
		if err := os.WriteFile(path, []byte(first+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, context.Background(), cliEnv(dir), "after-the-reset\n", "users", "reset-password", "admin")
		if r.code != 0 || !strings.Contains(r.stdout, "removed "+path) {
			t.Fatalf("exit %d (%v), stdout %q; want 0 and the stale file removed", r.code, r.err, r.stdout)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("password file after the reset: %v, want it removed", err)
		}
		base, _ := serveInBackground(t, cliEnv(dir))
		login(t, base, "admin", "after-the-reset")
	})
}

// TestConnectionsAreCapped: past MAX_CONNECTIONS, new connections wait
// instead of being accepted, so idle ones cannot exhaust the process's
// file descriptors; once one closes, the next is served.
func TestConnectionsAreCapped(t *testing.T) {
	env := cliEnv(filepath.Join(t.TempDir(), "data"))
	env["MAX_CONNECTIONS"] = "16"
	base, _ := serveInBackground(t, env)
	addr := strings.TrimPrefix(base, "http://")
	var idle []net.Conn
	for range 16 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// waitReady's keep-alive connection may hold one of the 16 too, so
	// allow for it: with every slot taken, a request gets no answer.
	short := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := short.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		if resp, err = short.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Fatal("a 17th connection was served while 16 were open")
		}
	}
	idle[0].Close()
	idle = idle[1:]
	patient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := patient.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("after one connection closed: %v", err)
	}
	resp.Body.Close()
}
