// Package metrics holds agentdesk's Prometheus metrics: a registry of
// their own (never the global default) with the Go runtime and process
// collectors, the HTTP middleware, and the methods the rest of the server
// reports through. Other packages report through small interfaces they
// define themselves (commands.Observer, eventstore.CommitObserver,
// readapi.RateLimitObserver), which *Metrics implements; none of them
// imports Prometheus.
//
// Every metric is named agentdesk_*. Labels carry route patterns, command
// and collection names, outcomes and company ids: never a record id, a
// raw path or any other user data, so the number of series stays bounded.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures New.
type Config struct {
	// Projections, when set, is called on every scrape for the
	// projections' progress; see Progress.
	Projections func() Progress
	// Logger reports scrapes that failed in part; defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Metrics is agentdesk's registry and its metrics. It is safe for
// concurrent use; create one with New.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec

	appendDuration *prometheus.HistogramVec
	appendEvents   prometheus.Histogram
	commitAppends  prometheus.Histogram
	commitEvents   prometheus.Histogram
	commitDuration prometheus.Histogram

	readDuration *prometheus.HistogramVec

	rateLimited *prometheus.CounterVec
}

// Latency buckets, in seconds.
var (
	// requestBuckets span 0.5 ms (a cached read) to 10 s (a write that
	// waited out its projection).
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// storeBuckets start lower: a read-store get or an event-store
	// commit on a fast disk takes tens of microseconds.
	storeBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	// sizeBuckets count events or appends; the SQLite store gathers at
	// most 512 events in one commit by default.
	sizeBuckets = prometheus.ExponentialBuckets(1, 2, 11) // 1 … 1024
)

// New returns the metrics, registered in a new registry with the Go
// runtime and process collectors.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: cfg.Logger,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentdesk_http_requests_total",
			Help: "HTTP requests served, by route pattern (\"unmatched\" when no route matched), method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentdesk_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern, method and status.",
			Buckets: requestBuckets,
		}, []string{"route", "method", "status"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentdesk_commands_total",
			Help: "Command decisions, by aggregate (ticket, user, username, …) and outcome (ok, unchanged, conflict, invalid, forbidden, not_found, canceled, error).",
		}, []string{"aggregate", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentdesk_command_duration_seconds",
			Help:    "Time to load, decide and append a command, by aggregate.",
			Buckets: requestBuckets,
		}, []string{"aggregate"}),
		appendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentdesk_eventstore_append_duration_seconds",
			Help:    "Time of an event-store append until it is durable, by outcome (ok, conflict, error).",
			Buckets: storeBuckets,
		}, []string{"outcome"}),
		appendEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentdesk_eventstore_append_events",
			Help:    "Events per event-store append.",
			Buckets: sizeBuckets,
		}),
		commitAppends: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentdesk_eventstore_commit_appends",
			Help:    "Appends gathered in one group commit of the embedded event store.",
			Buckets: sizeBuckets,
		}),
		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentdesk_eventstore_commit_events",
			Help:    "Events written by one group commit of the embedded event store.",
			Buckets: sizeBuckets,
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentdesk_eventstore_commit_duration_seconds",
			Help:    "Time of one group commit of the embedded event store, fsync included.",
			Buckets: storeBuckets,
		}),
		readDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentdesk_readstore_query_duration_seconds",
			Help:    "Time of a read-store call of the query API, by collection and operation (get, query, count).",
			Buckets: storeBuckets,
		}, []string{"collection", "operation"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentdesk_rate_limited_total",
			Help: "Requests refused with 429, by company (\"\" when the limit is not per company) and limit.",
		}, []string{"company_id", "reason"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration,
		m.commands, m.commandDuration,
		m.appendDuration, m.appendEvents, m.commitAppends, m.commitEvents, m.commitDuration,
		m.readDuration,
		m.rateLimited,
	)
	if cfg.Projections != nil {
		m.reg.MustRegister(&projectionCollector{progress: cfg.Projections})
	}
	return m
}

// Handler serves the metrics in Prometheus' text exposition format. A
// collector that fails (the event store's head cannot be read) is logged
// and left out; the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// CommandDecided counts a command's decision and times it; it implements
// commands.Observer.
func (m *Metrics) CommandDecided(aggregate, outcome string, took time.Duration) {
	m.commands.WithLabelValues(aggregate, outcome).Inc()
	m.commandDuration.WithLabelValues(aggregate).Observe(took.Seconds())
}

// Appended records one event-store append of events, with its outcome
// (ok, conflict or error) and duration.
func (m *Metrics) Appended(events int, outcome string, took time.Duration) {
	m.appendDuration.WithLabelValues(outcome).Observe(took.Seconds())
	m.appendEvents.Observe(float64(events))
}

// Committed records one group commit of the embedded event store; it
// implements eventstore.CommitObserver.
func (m *Metrics) Committed(appends, events int, took time.Duration) {
	m.commitAppends.Observe(float64(appends))
	m.commitEvents.Observe(float64(events))
	m.commitDuration.Observe(took.Seconds())
}

// Read records one read-store call on collection: operation is get,
// query or count.
func (m *Metrics) Read(collection, operation string, took time.Duration) {
	m.readDuration.WithLabelValues(collection, operation).Observe(took.Seconds())
}

// RateLimited counts a request refused with 429 by the limit named
// reason, against companyID ("" for a limit that is not per company); it
// implements readapi.RateLimitObserver. Only companies that were refused
// get a series.
func (m *Metrics) RateLimited(companyID, reason string) {
	m.rateLimited.WithLabelValues(companyID, reason).Inc()
}
