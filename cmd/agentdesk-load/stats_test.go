package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one sample is every percentile", []time.Duration{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 1..100 rounds up to the max", hundred, 99.9, 100 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"a tiny p is the min", hundred, 0.001, time.Millisecond},
		{"p50 of an even count is the lower middle", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p75 of four", []time.Duration{1, 2, 3, 4}, 75, 3},
		{"p76 of four", []time.Duration{1, 2, 3, 4}, 76, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tt.samples), tt.p, got, tt.want)
			}
		})
	}
}

func TestRouteStatsMergeAndFormat(t *testing.T) {
	var a, b routeStats
	a.record(time.Millisecond, "", "")
	a.record(2*time.Millisecond, "503", "first")
	b.record(3*time.Millisecond, "503", "second")
	b.record(0, "transport", "connection refused")
	for range maxExamples + 2 {
		b.record(time.Millisecond, "409", "conflict")
	}
	a.merge(&b)
	if got, want := a.count(), 2+1+1+maxExamples+2; got != want {
		t.Errorf("count = %d, want %d (transport errors count as requests)", got, want)
	}
	if got, want := len(a.samples), 2+1+maxExamples+2; got != want {
		t.Errorf("samples = %d, want %d (transport errors have no latency)", got, want)
	}
	if got, want := a.errorCount(), 1+1+1+maxExamples+2; got != want {
		t.Errorf("errorCount = %d, want %d", got, want)
	}
	if got, want := formatErrors(a.errors), "409×5 503×2 transport×1"; got != want {
		t.Errorf("formatErrors = %q, want %q", got, want)
	}
	if got := len(a.examples["409"]); got != maxExamples {
		t.Errorf("kept %d examples of 409, want %d", got, maxExamples)
	}
	if got := formatErrors(nil); got != "0" {
		t.Errorf("formatErrors(nil) = %q, want \"0\"", got)
	}
}

// TestSendJudgesAnswers: a 2xx is a success; any other status and a
// transport error are failures, counted live and by kind.
func TestSendJudgesAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusCreated)
		case "/conflict":
			http.Error(w, `{"detail":"changed by someone else"}`, http.StatusConflict)
		default:
			http.Error(w, `{"detail":"boom"}`, http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	hc := newHTTPClient(1)
	live := &counters{}
	w := &worker{api: &api{http: hc, base: srv.URL}, stats: make([]routeStats, 1), live: live}
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		ok   bool
	}{{"/ok", true}, {"/conflict", false}, {"/fail", false}} {
		if got := w.send(ctx, 0, http.MethodPost, tc.path, []byte(`{}`)); got != tc.ok {
			t.Errorf("send %s = %v, want %v", tc.path, got, tc.ok)
		}
	}
	w.api.base = "http://127.0.0.1:1" // nothing listens there
	if w.send(ctx, 0, http.MethodGet, "/", nil) {
		t.Error("send to a closed port succeeded")
	}
	if got, want := formatErrors(w.stats[0].errors), "409×1 500×1 transport×1"; got != want {
		t.Errorf("errors = %q, want %q", got, want)
	}
	if got := live.requests.Load(); got != 4 {
		t.Errorf("live requests = %d, want 4", got)
	}
	if got := live.errors.Load(); got != 3 {
		t.Errorf("live errors = %d, want 3", got)
	}
	if ex := w.stats[0].examples["500"]; len(ex) != 1 || !strings.Contains(ex[0], "boom") {
		t.Errorf("examples of 500 = %q, want the answer's detail", ex)
	}
	var out bytes.Buffer
	report(&out, &result{name: "t", elapsed: time.Second, routes: []string{"POST /x"}, stats: map[string]*routeStats{"POST /x": &w.stats[0]}})
	if !strings.Contains(out.String(), "error 500 on POST /x") {
		t.Errorf("the report does not show the failed answer:\n%s", out.String())
	}
}
