package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"agentdesk/projections"
)

// scrapeResult is one parsed scrape of /metrics.
type scrapeResult struct {
	families map[string]*dto.MetricFamily
	raw      string
}

// scrape GETs base/metrics and parses the text exposition format.
func scrape(tb testing.TB, base string) scrapeResult {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: status %d: %s", resp.StatusCode, raw)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		tb.Fatalf("parse /metrics: %v\n%s", err, raw)
	}
	return scrapeResult{families: families, raw: string(raw)}
}

// value returns the series name{labels} (labels as "k=v" pairs): a
// counter's or gauge's value, a histogram's sample count; 0 when the
// series is absent (a counter not yet incremented has none).
func (s scrapeResult) value(name string, labels ...string) float64 {
	f, ok := s.families[name]
	if !ok {
		return 0
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if !slices.Contains(labels, l.GetName()+"="+l.GetValue()) {
				continue series
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// TestMetricsMoveWithRequests drives the real server through a create, a
// list, two 404s, a conflict and a refused sign-in, then checks that the
// scrape's series moved by exactly that, with route patterns (never ids)
// as labels.
func TestMetricsMoveWithRequests(t *testing.T) {
	ts := startServerOn(t, t.TempDir(), backend{name: "sqlite-sqlite", env: map[string]string{"SIGN_IN_RATE_LIMIT": "1"}})
	root := login(t, ts.URL, "admin", testAdminPassword) // a success: only failures count
	before := scrape(t, ts.URL)

	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Initech"}).Map(t)
	id := co["id"].(string)
	root.list("/api/companies")
	missing := uuid.NewString()
	root.must(http.StatusNotFound, "GET", "/api/companies/"+missing, nil)
	root.must(http.StatusNotFound, "GET", "/no/such/"+missing, nil)
	root.must(http.StatusConflict, "PUT", "/api/companies/"+id, map[string]any{"name": "Initrode", "revision": 7})
	if got := signInStatus(t, ts.URL, "admin", "wrong-password"); got != http.StatusUnauthorized {
		t.Fatalf("first failed sign-in: got %d, want 401", got)
	}
	if got := signInStatus(t, ts.URL, "admin", "wrong-password"); got != http.StatusTooManyRequests {
		t.Fatalf("second failed sign-in in a minute: got %d, want 429", got)
	}
	after := scrape(t, ts.URL)

	moved := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"agentdesk_http_requests_total", []string{"route=/api/companies", "method=POST", "status=201"}, 1},
		{"agentdesk_http_request_duration_seconds", []string{"route=/api/companies", "method=POST", "status=201"}, 1},
		{"agentdesk_http_requests_total", []string{"route=/api/companies", "method=GET", "status=200"}, 1},
		{"agentdesk_http_requests_total", []string{"route=/api/companies/{id}", "method=GET", "status=404"}, 1},
		{"agentdesk_http_requests_total", []string{"route=unmatched", "method=GET", "status=404"}, 1},
		{"agentdesk_http_requests_total", []string{"route=/api/companies/{id}", "method=PUT", "status=409"}, 1},
		{"agentdesk_http_requests_total", []string{"route=/auth/token", "method=POST", "status=429"}, 1},
		{"agentdesk_commands_total", []string{"aggregate=company", "outcome=ok"}, 1},
		{"agentdesk_commands_total", []string{"aggregate=company", "outcome=conflict"}, 1},
		{"agentdesk_command_duration_seconds", []string{"aggregate=company"}, 2},
		{"agentdesk_eventstore_append_duration_seconds", []string{"outcome=ok"}, 1},
		{"agentdesk_eventstore_append_events", nil, 1},
		{"agentdesk_eventstore_commit_events", nil, 1},
		{"agentdesk_eventstore_commit_appends", nil, 1},
		{"agentdesk_eventstore_commit_duration_seconds", nil, 1},
		{"agentdesk_readstore_query_duration_seconds", []string{"collection=" + projections.Companies, "operation=count"}, 1},
		{"agentdesk_rate_limited_total", []string{"company_id=", "reason=sign_in"}, 1},
	} {
		if got := moved(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Gets also look up the caller on every request: at least the 404's.
	if got := moved("agentdesk_readstore_query_duration_seconds", "collection="+projections.Companies, "operation=get"); got < 1 {
		t.Errorf("company gets moved by %v, want at least 1", got)
	}
	for _, id := range []string{id, missing} {
		if strings.Contains(after.raw, id) {
			t.Errorf("the scrape holds the id %s: labels must be route patterns", id)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after.families[name]; !ok {
			t.Errorf("the scrape lacks %s (Go and process collectors)", name)
		}
	}

	// The projections catch up with the head: every lag reaches 0.
	var last scrapeResult
	deadline := time.Now().Add(10 * time.Second)
	for {
		last = scrape(t, ts.URL)
		if lagging(last) == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if l := lagging(last); l != nil {
		t.Fatalf("projections still behind after 10s: %v", l)
	}
	head := last.value("agentdesk_eventstore_head_position")
	for _, pr := range projections.All() {
		name := pr.Name()
		p := "projection=" + name
		if pos := last.value("agentdesk_projection_position", p); pos != head || last.value("agentdesk_projection_caught_up", p) != 1 ||
			last.value("agentdesk_projection_failing", p) != 0 {
			t.Errorf("projection %s: position %v (head %v), caught up %v, failing %v; want at the head, caught up, not failing",
				name, pos, head, last.value("agentdesk_projection_caught_up", p), last.value("agentdesk_projection_failing", p))
		}
	}
	if head < 3 {
		t.Errorf("head position %v, want at least 3 (superadmin and company events)", head)
	}
}

// lagging returns the projections whose lag is not 0, or nil; a scrape
// without any lag series is lagging too.
func lagging(s scrapeResult) []string {
	f, ok := s.families["agentdesk_projection_lag"]
	if !ok || len(f.GetMetric()) != len(projections.All()) {
		return []string{"(no lag series for every projection)"}
	}
	var out []string
	for _, m := range f.GetMetric() {
		if m.GetGauge().GetValue() != 0 {
			out = append(out, m.GetLabel()[0].GetValue())
		}
	}
	return out
}

// TestMetricsScrapeIsCheap: a scrape of an idle server reads the
// projections' progress and the event store's head, nothing more. The
// bound is loose for a shared machine; BenchmarkMetricsScrape measures.
func TestMetricsScrapeIsCheap(t *testing.T) {
	ts := startServer(t, t.TempDir())
	scrape(t, ts.URL) // warm the connection
	var took []time.Duration
	for range 5 {
		start := time.Now()
		scrape(t, ts.URL)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("scrape with parsing: median %v of %v", took[2], took)
	if took[2] > 100*time.Millisecond {
		t.Fatalf("median scrape took %v, want well under 100ms", took[2])
	}
}

// BenchmarkMetricsScrape: GET /metrics on an idle server (the response
// read whole, not parsed).
func BenchmarkMetricsScrape(b *testing.B) {
	ts := startServer(b, b.TempDir())
	for b.Loop() {
		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// TestDebugAddr: DEBUG_ADDR serves the profiles and the metrics on a
// listener of its own; the API's listener serves no profiles.
func TestDebugAddr(t *testing.T) {
	env := cliEnv(t.TempDir())
	env["ADMIN_PASSWORD"] = testAdminPassword
	env["DEBUG_ADDR"] = "127.0.0.1:0"
	base, logs := serveInBackground(t, env)
	debug := "http://" + debugAddr(t, logs.String())
	for _, c := range []struct {
		url, want string
		status    int
	}{
		{debug + "/debug/pprof/", "goroutine", http.StatusOK},
		{debug + "/debug/pprof/goroutine?debug=1", "goroutine profile", http.StatusOK},
		{debug + "/metrics", "agentdesk_http_requests_total", http.StatusOK},
		{base + "/metrics", "agentdesk_projection_lag", http.StatusOK},
		{base + "/debug/pprof/", "", http.StatusNotFound},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: got %d, want %d with %q", c.url, resp.StatusCode, c.status, c.want)
		}
	}
}

// debugAddr finds the debug listener's address in serve's JSON log.
func debugAddr(tb testing.TB, log string) string {
	tb.Helper()
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "debug listening" {
			return line.Addr
		}
	}
	tb.Fatalf("no debug listener in the log:\n%s", log)
	return ""
}

// A DEBUG_ADDR in use stops serve before it opens anything, as HTTP_ADDR does.
func TestDebugAddrInUseFailsFirst(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "data")
	env := cliEnv(dir)
	env["DEBUG_ADDR"] = taken.Addr().String()
	r := runCLI(t, context.Background(), env, "")
	if r.code != 1 || !strings.Contains(r.stderr, "DEBUG_ADDR") {
		t.Fatalf("exit %d, stderr %q; want 1 and a message naming DEBUG_ADDR", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("DATA_DIR: %v, want it never created", err)
	}
}
