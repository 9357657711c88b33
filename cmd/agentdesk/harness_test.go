package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"agentdesk/eventstore/esdb/esdbtest"
	"agentdesk/internal/config"
	"agentdesk/readstore/mongo/mongotest"
)

const testAdminPassword = "super-secret-admin"

// testServer is a real server on 127.0.0.1:0 over a temporary data dir.
type testServer struct {
	URL string
	srv *Server
	dir string
}

// backend is a combination of stores a test server runs on: the
// environment that selects them (EVENTSTORE_URL, MONGO_URI,
// MONGO_DATABASE), empty for the embedded SQLite stores.
type backend struct {
	name string
	env  map[string]string
}

// backends returns the four combinations of {SQLite, EventStoreDB} ×
// {SQLite, MongoDB}. Each gets its own EventStoreDB protocol double and
// its own database on one FerretDB server, so tests on different
// combinations share nothing; a restart within a test reuses its
// combination's stores.
func backends(t *testing.T) []backend {
	t.Helper()
	mongoURI := mongotest.Start(t)
	db := func(name string) string { return strings.ReplaceAll(t.Name()+"_"+name, "/", "_") }
	esdb := func() string { return esdbtest.MustStart(t, esdbtest.Config{}).URL() }
	return []backend{
		{name: "sqlite-sqlite"},
		{name: "esdb-sqlite", env: map[string]string{"EVENTSTORE_URL": esdb()}},
		{name: "sqlite-mongo", env: map[string]string{"MONGO_URI": mongoURI, "MONGO_DATABASE": db("sm")}},
		{name: "esdb-mongo", env: map[string]string{"EVENTSTORE_URL": esdb(), "MONGO_URI": mongoURI, "MONGO_DATABASE": db("em")}},
	}
}

// onEveryBackend runs test once per combination of stores.
func onEveryBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// testConfig is the configuration of an in-process test server on dir,
// with the embedded stores.
func testConfig(tb testing.TB, dir string) config.Config {
	tb.Helper()
	return testConfigOn(tb, dir, backend{})
}

// testConfigOn is the configuration of an in-process test server on dir
// and the stores of b.
func testConfigOn(tb testing.TB, dir string, b backend) config.Config {
	tb.Helper()
	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case "DATA_DIR":
			return dir
		case "ADMIN_PASSWORD":
			return testAdminPassword
		case "BCRYPT_COST":
			return "4"
		case "LOG_LEVEL":
			return "warn"
		}
		return b.env[k]
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// quietLogger logs warnings and errors through tb.
func quietLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startServer runs the server in-process on the embedded stores until
// the test ends.
func startServer(tb testing.TB, dir string) *testServer {
	tb.Helper()
	return startServerOn(tb, dir, backend{})
}

// startServerOn runs the server in-process on the stores of b until the
// test ends.
func startServerOn(tb testing.TB, dir string, b backend) *testServer {
	tb.Helper()
	return startServerWith(tb, dir, testConfigOn(tb, dir, b))
}

// startServerWith runs the server in-process with cfg until the test
// ends.
func startServerWith(tb testing.TB, dir string, cfg config.Config) *testServer {
	tb.Helper()
	return startServerLogging(tb, dir, cfg, quietLogger(tb))
}

// startServerLogging runs the server in-process with cfg, logging to
// log, until the test ends.
func startServerLogging(tb testing.TB, dir string, cfg config.Config, log *slog.Logger) *testServer {
	tb.Helper()
	return startServerOpts(tb, dir, cfg, log, Options{})
}

// offline is the HTTP client of test servers' knowledge syncs unless a
// test gives its own: no test reaches a real shop or site.
var offline = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("no network in tests: %s", r.URL.Host)
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// startServerOpts runs the server in-process with cfg and opts, logging
// to log, until the test ends.
func startServerOpts(tb testing.TB, dir string, cfg config.Config, log *slog.Logger, opts Options) *testServer {
	tb.Helper()
	if opts.SyncHTTP == nil {
		opts.SyncHTTP = offline
	}
	srv, err := OpenWith(context.Background(), cfg, log, opts)
	if err != nil {
		tb.Fatalf("open server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ts := &testServer{URL: "http://" + ln.Addr().String(), srv: srv, dir: dir}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	ts.waitReady(tb)
	return ts
}

func (ts *testServer) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(ts.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal("server not ready within 10s")
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is an HTTP client acting as one user.
type client struct {
	tb    testing.TB
	base  string
	token string
	// http sends the requests; nil means http.DefaultClient.
	http *http.Client
}

// with returns a copy of c that reports failures to tb (a subtest).
func (c *client) with(tb testing.TB) *client {
	cp := *c
	cp.tb = tb
	return &cp
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as an object.
func (r response) Map(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	r.JSON(tb, &m)
	return m
}

func (c *client) do(method, path string, body any, headers ...string) response {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// must performs a request and fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any, headers ...string) response {
	c.tb.Helper()
	r := c.do(method, path, body, headers...)
	if r.Status != want {
		c.tb.Fatalf("%s %s: got status %d, want %d; body %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// login signs in and returns a client holding the token.
func login(tb testing.TB, base, username, password string) *client {
	tb.Helper()
	form := url.Values{"username": {username}, "password": {password}}
	resp, err := http.PostForm(base+"/auth/token", form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		tb.Fatalf("login %s: status %d: %s", username, resp.StatusCode, raw)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		tb.Fatal(err)
	}
	if tok.AccessToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn <= 0 {
		tb.Fatalf("login %s: got %+v, want a bearer token with expires_in", username, tok)
	}
	return &client{tb: tb, base: base, token: tok.AccessToken}
}

// listResult is a React Admin list response.
type listResult struct {
	Data  []map[string]any `json:"data"`
	Total int64            `json:"total"`
}

func (c *client) list(path string) listResult {
	c.tb.Helper()
	var l listResult
	c.must(http.StatusOK, "GET", path, nil).JSON(c.tb, &l)
	return l
}

func ids(l listResult) []string {
	out := make([]string, len(l.Data))
	for i, d := range l.Data {
		out[i], _ = d["id"].(string)
	}
	return out
}

func filterQuery(filter map[string]any, extra string) string {
	raw, _ := json.Marshal(filter)
	q := "?filter=" + url.QueryEscape(string(raw))
	if extra != "" {
		q += "&" + extra
	}
	return q
}
