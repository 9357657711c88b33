package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxExamples is how many error answers are kept per route and status, to
// show what went wrong without flooding the report.
const maxExamples = 3

// routeStats is what one worker saw on one route. Each worker owns its
// own, so recording takes no lock; merge folds them together at the end.
type routeStats struct {
	// samples holds the latency of every answered request, errors
	// included; a transport error has no latency worth the name.
	samples []time.Duration
	// errors counts failures by kind: an HTTP status ("503") or
	// "transport".
	errors map[string]int
	// examples keeps the first few error answers per kind.
	examples map[string][]string
}

// record adds one request: its latency, and kind and detail when it failed.
func (s *routeStats) record(took time.Duration, kind, detail string) {
	if kind != "transport" {
		s.samples = append(s.samples, took)
	}
	if kind == "" {
		return
	}
	if s.errors == nil {
		s.errors, s.examples = map[string]int{}, map[string][]string{}
	}
	s.errors[kind]++
	if len(s.examples[kind]) < maxExamples {
		s.examples[kind] = append(s.examples[kind], detail)
	}
}

// merge adds o into s.
func (s *routeStats) merge(o *routeStats) {
	s.samples = append(s.samples, o.samples...)
	for k, n := range o.errors {
		if s.errors == nil {
			s.errors, s.examples = map[string]int{}, map[string][]string{}
		}
		s.errors[k] += n
		for _, e := range o.examples[k] {
			if len(s.examples[k]) < maxExamples {
				s.examples[k] = append(s.examples[k], e)
			}
		}
	}
}

// errorCount is the number of failed requests.
func (s *routeStats) errorCount() int {
	n := 0
	for _, c := range s.errors {
		n += c
	}
	return n
}

// count is the number of requests made: answered ones and transport errors.
func (s *routeStats) count() int { return len(s.samples) + s.errors["transport"] }

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples
// by the nearest-rank method: the smallest sample such that at least p %
// of the samples are at or below it. Every sample is kept, so the figure
// is exact. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// counters are running totals shared by all workers, read while they run
// (the soak's samples report requests and errors between two samples).
type counters struct {
	requests atomic.Int64
	errors   atomic.Int64
}

// result is a finished run of one workload.
type result struct {
	name    string // what was driven, for the report
	elapsed time.Duration
	routes  []string // in the order they are reported
	stats   map[string]*routeStats
}

// total is every route folded together.
func (r *result) total() *routeStats {
	t := &routeStats{}
	for _, name := range r.routes {
		t.merge(r.stats[name])
	}
	return t
}

// errorCount is the number of failed requests on every route.
func (r *result) errorCount() int {
	n := 0
	for _, s := range r.stats {
		n += s.errorCount()
	}
	return n
}

// rate is a count over the run's elapsed time, per second.
func (r *result) rate(n int) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(n) / r.elapsed.Seconds()
}

// row is one line of the report's table.
type row struct {
	route              string
	count              int
	perSecond          float64
	p50, p99, maxTaken time.Duration
	errors             string
}

// summarize computes the table row of s; it sorts s's samples.
func summarize(route string, s *routeStats, r *result) row {
	slices.Sort(s.samples)
	var top time.Duration
	if n := len(s.samples); n > 0 {
		top = s.samples[n-1]
	}
	return row{
		route: route, count: s.count(), perSecond: r.rate(s.count()),
		p50: percentile(s.samples, 50), p99: percentile(s.samples, 99), maxTaken: top,
		errors: formatErrors(s.errors),
	}
}

// formatErrors writes error counts as "503×2 transport×1", or "0".
func formatErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k + "×" + strconv.Itoa(errs[k])
	}
	return strings.Join(parts, " ")
}

// report prints r's table, one row per route then the total, and the
// first answers of each kind of error.
func report(w io.Writer, r *result) {
	fmt.Fprintf(w, "\n%s: %s\n", r.name, r.elapsed.Round(time.Millisecond))
	rows := make([]row, 0, len(r.routes)+1)
	for _, name := range r.routes {
		rows = append(rows, summarize(name, r.stats[name], r))
	}
	if len(r.routes) > 1 {
		rows = append(rows, summarize("total", r.total(), r))
	}
	printRows(w, rows)
	for _, name := range r.routes {
		s := r.stats[name]
		kinds := make([]string, 0, len(s.examples))
		for k := range s.examples {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			for _, e := range s.examples[k] {
				fmt.Fprintf(w, "  error %s on %s: %s\n", k, name, e)
			}
		}
	}
}

// printRows prints rows as an aligned table.
func printRows(w io.Writer, rows []row) {
	width := len("route")
	for _, r := range rows {
		width = max(width, len(r.route))
	}
	fmt.Fprintf(w, "  %-*s %9s %9s %9s %9s %9s  %s\n", width, "route", "count", "req/s", "p50", "p99", "max", "errors")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s %9d %9.0f %9s %9s %9s  %s\n", width, r.route, r.count, r.perSecond,
			ms(r.p50), ms(r.p99), ms(r.maxTaken), r.errors)
	}
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}
