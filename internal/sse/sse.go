// Package sse writes server-sent events (text/event-stream) to an HTTP
// response, each flushed as it is written.
package sse

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Stream is a response being sent as server-sent events. The headers
// and the 200 go out with the first event, so that a failure before it
// can still be answered with its own status. A Stream is used by one
// goroutine.
type Stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// wait bounds each write: a client that stops reading is let go.
	wait            time.Duration
	started, failed bool
}

// New returns a Stream on w whose writes may each take up to wait. The
// server's own write deadline is lifted: a stream lasts as long as what
// feeds it, which bounds itself.
func New(w http.ResponseWriter, wait time.Duration) *Stream {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return &Stream{w: w, rc: rc, wait: wait}
}

// Send writes one event whose data is v as JSON, and flushes it.
func (s *Stream) Send(event string, v any) error {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		// Proxies such as nginx would hold the events back.
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.wait))
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		s.failed = true
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
		return err
	}
	return nil
}

// Started reports whether an event was sent: the status is gone.
func (s *Stream) Started() bool { return s.started }

// Failed reports whether a write failed: the client is gone, whether or
// not the request's context has noticed yet.
func (s *Stream) Failed() bool { return s.failed }
