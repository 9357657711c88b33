package metrics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// sample returns the value of the series name{labels}: a counter's or a
// gauge's value, a histogram's sample count. It fails tb if the series
// is missing.
func sample(tb testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	tb.Helper()
	v, ok := find(tb, g, name, labels)
	if !ok {
		tb.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// find is sample without the failure: ok is false when there is no such
// series.
func find(tb testing.TB, g prometheus.Gatherer, name string, labels map[string]string) (v float64, ok bool) {
	tb.Helper()
	families, err := g.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; !ok || want != l.GetValue() {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// routes stands for chi's RoutePattern in these tests.
func routes(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/tickets/"):
		return "/api/tickets/{id}"
	case r.URL.Path == "/api/tickets":
		return "/api/tickets"
	}
	return ""
}

func TestMiddlewareLabelsByRoutePattern(t *testing.T) {
	m := New(Config{})
	h := m.Middleware(routes)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case routes(r) == "":
			http.NotFound(w, r)
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusInternalServerError) // superfluous: ignored
		case r.Method == http.MethodPost:
			_, _ = io.WriteString(w, "{}") // an implicit 200
		}
		// GET writes nothing: net/http answers 200.
	}))
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/tickets/0190a1b2-0000-7000-8000-000000000001"},
		{"GET", "/api/tickets/0190a1b2-0000-7000-8000-000000000002"},
		{"PUT", "/api/tickets/0190a1b2-0000-7000-8000-000000000001"},
		{"POST", "/api/tickets"},
		{"GET", "/nowhere/0190a1b2-0000-7000-8000-000000000003"},
		{"BREW", "/api/tickets"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	g := m.reg
	for _, c := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/api/tickets/{id}", "GET", "200", 2},
		{"/api/tickets/{id}", "PUT", "409", 1},
		{"/api/tickets", "POST", "200", 1},
		{unmatched, "GET", "404", 1},
		{"/api/tickets", "OTHER", "200", 1},
	} {
		labels := map[string]string{"route": c.route, "method": c.method, "status": c.status}
		if got := sample(t, g, "agentdesk_http_requests_total", labels); got != c.want {
			t.Errorf("requests %v: got %v, want %v", labels, got, c.want)
		}
		if got := sample(t, g, "agentdesk_http_request_duration_seconds", labels); got != c.want {
			t.Errorf("timed requests %v: got %v, want %v", labels, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.httpRequests); n != 5 {
		t.Errorf("got %d request series, want 5 (ids and raw paths must not make series)", n)
	}
}

func TestReportsMoveTheirSeries(t *testing.T) {
	m := New(Config{})
	m.CommandDecided("ticket", "ok", time.Millisecond)
	m.CommandDecided("ticket", "ok", time.Millisecond)
	m.CommandDecided("ticket", "conflict", time.Millisecond)
	m.Appended(3, "ok", 200*time.Microsecond)
	m.Committed(2, 4, 300*time.Microsecond)
	m.Read("tickets", "count", time.Millisecond)
	m.RateLimited("", "sign_in")
	m.RateLimited("0190a1b2-0000-7000-8000-00000000000c", "api")
	g := m.reg
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentdesk_commands_total", map[string]string{"aggregate": "ticket", "outcome": "ok"}, 2},
		{"agentdesk_commands_total", map[string]string{"aggregate": "ticket", "outcome": "conflict"}, 1},
		{"agentdesk_command_duration_seconds", map[string]string{"aggregate": "ticket"}, 3},
		{"agentdesk_eventstore_append_duration_seconds", map[string]string{"outcome": "ok"}, 1},
		{"agentdesk_eventstore_append_events", nil, 1},
		{"agentdesk_eventstore_commit_appends", nil, 1},
		{"agentdesk_eventstore_commit_events", nil, 1},
		{"agentdesk_eventstore_commit_duration_seconds", nil, 1},
		{"agentdesk_readstore_query_duration_seconds", map[string]string{"collection": "tickets", "operation": "count"}, 1},
		{"agentdesk_rate_limited_total", map[string]string{"company_id": "", "reason": "sign_in"}, 1},
		{"agentdesk_rate_limited_total", map[string]string{"company_id": "0190a1b2-0000-7000-8000-00000000000c", "reason": "api"}, 1},
	} {
		if got := sample(t, g, c.name, c.labels); got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestProjectionsAreReadOnScrape(t *testing.T) {
	progress := Progress{Head: 10, Projections: []Projection{
		{Name: "tickets", Position: 10, CaughtUp: true},
		{Name: "users", Position: 4, Failing: true},
	}}
	m := New(Config{Projections: func() Progress { return progress }})
	g := m.reg
	for _, c := range []struct {
		name, projection string
		want             float64
	}{
		{"agentdesk_projection_position", "tickets", 10},
		{"agentdesk_projection_lag", "tickets", 0},
		{"agentdesk_projection_caught_up", "tickets", 1},
		{"agentdesk_projection_failing", "tickets", 0},
		{"agentdesk_projection_position", "users", 4},
		{"agentdesk_projection_lag", "users", 6},
		{"agentdesk_projection_caught_up", "users", 0},
		{"agentdesk_projection_failing", "users", 1},
	} {
		if got := sample(t, g, c.name, map[string]string{"projection": c.projection}); got != c.want {
			t.Errorf("%s{projection=%q}: got %v, want %v", c.name, c.projection, got, c.want)
		}
	}
	if got := sample(t, g, "agentdesk_eventstore_head_position", nil); got != 10 {
		t.Errorf("head: got %v, want 10", got)
	}

	// The next scrape sees the projections move.
	progress.Head, progress.Projections[1].Position = 12, 12
	if got := sample(t, g, "agentdesk_projection_lag", map[string]string{"projection": "users"}); got != 0 {
		t.Errorf("lag after catching up: got %v, want 0", got)
	}
	if got := sample(t, g, "agentdesk_projection_lag", map[string]string{"projection": "tickets"}); got != 2 {
		t.Errorf("lag of the projection left behind: got %v, want 2", got)
	}
}

func TestReactionsAreReadOnScrape(t *testing.T) {
	progress := Progress{Head: 10, Reactions: []Reaction{
		{Projection: Projection{Name: "notifications", Position: 7, CaughtUp: true}, LagSeconds: 1.5, Parked: 2},
		{Projection: Projection{Name: "company_offboarding", Position: 10, Failing: true}},
	}}
	m := New(Config{Projections: func() Progress { return progress }})
	for _, c := range []struct {
		name, reaction string
		want           float64
	}{
		{"agentdesk_reaction_position", "notifications", 7},
		{"agentdesk_reaction_lag", "notifications", 3},
		{"agentdesk_reaction_lag_seconds", "notifications", 1.5},
		{"agentdesk_reaction_parked", "notifications", 2},
		{"agentdesk_reaction_failing", "notifications", 0},
		{"agentdesk_reaction_lag", "company_offboarding", 0},
		{"agentdesk_reaction_parked", "company_offboarding", 0},
		{"agentdesk_reaction_failing", "company_offboarding", 1},
	} {
		if got := sample(t, m.reg, c.name, map[string]string{"reaction": c.reaction}); got != c.want {
			t.Errorf("%s{reaction=%q}: got %v, want %v", c.name, c.reaction, got, c.want)
		}
	}
}

// A head that cannot be read leaves out the head and the lags, logs why,
// and serves everything else.
func TestScrapeSurvivesUnreadableHead(t *testing.T) {
	var logs bytes.Buffer
	m := New(Config{
		Projections: func() Progress {
			return Progress{HeadErr: errors.New("event store closed"), Projections: []Projection{{Name: "tickets", Position: 3, CaughtUp: true}}}
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200; body %s", rec.Code, body)
	}
	for _, want := range []string{`agentdesk_projection_position{projection="tickets"} 3`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	for _, absent := range []string{"agentdesk_projection_lag{", "agentdesk_eventstore_head_position "} {
		if strings.Contains(body, absent) {
			t.Errorf("the scrape has %q though the head was unreadable", absent)
		}
	}
	if !strings.Contains(logs.String(), "event store closed") {
		t.Errorf("got logs %q, want the head's error", logs.String())
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := New(Config{})
	m.CommandDecided("ticket", "ok", time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("got Content-Type %q, want the text exposition format", ct)
	}
	if body := rec.Body.String(); !strings.Contains(body, `agentdesk_commands_total{aggregate="ticket",outcome="ok"} 1`) {
		t.Errorf("the scrape lacks the command counter:\n%s", body)
	}
}

// The metrics follow Prometheus' naming conventions (units, _total).
func TestNamesPassPromlint(t *testing.T) {
	m := New(Config{Projections: func() Progress { return Progress{Projections: []Projection{{Name: "tickets"}}} }})
	m.CommandDecided("ticket", "ok", time.Millisecond)
	m.Appended(1, "ok", time.Millisecond)
	m.Committed(1, 1, time.Millisecond)
	m.Read("tickets", "get", time.Millisecond)
	m.RateLimited("", "sign_in")
	m.Middleware(routes)(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "agentdesk_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// BenchmarkMiddleware measures what the middleware adds to a request: run
// with -benchmem and compare "bare" with "metrics".
func BenchmarkMiddleware(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	route := func(*http.Request) string { return "/api/tickets/{id}" }
	req := httptest.NewRequest("GET", "/api/tickets/0190a1b2-0000-7000-8000-000000000001", nil)
	w := discard{header: http.Header{}}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", noop},
		{"metrics", New(Config{}).Middleware(route)(noop)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
