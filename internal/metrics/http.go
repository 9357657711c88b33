package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// unmatched is the route label of requests no route matched.
const unmatched = "unmatched"

// Middleware counts and times every request by route pattern, method and
// status. route returns the pattern of the route that served a request,
// such as "/api/tickets/{id}", or "" when none matched; it is called after
// the request is served (chi fills its route context while routing). The
// raw path is never a label: ids in it would make a series per record.
// Methods outside the standard ones are counted as "OTHER".
func (m *Metrics) Middleware(route func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			took := time.Since(start).Seconds()
			pattern := route(r)
			if pattern == "" {
				pattern = unmatched
			}
			method, status := methodLabel(r.Method), statusLabel(rec.status)
			m.httpRequests.WithLabelValues(pattern, method, status).Inc()
			m.httpDuration.WithLabelValues(pattern, method, status).Observe(took)
		})
	}
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without a status.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// methodLabel bounds the method label: a client may send any token.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusLabels are the labels of the statuses 100-599, made once: an
// allocation per request for a three-digit string is avoidable.
var statusLabels = func() (l [600]string) {
	for code := 100; code < len(l); code++ {
		l[code] = strconv.Itoa(code)
	}
	return l
}()

// statusLabel formats code; a handler that wrote nothing answered 200.
func statusLabel(code int) string {
	switch {
	case code == 0:
		return "200"
	case code >= 100 && code < len(statusLabels):
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}
