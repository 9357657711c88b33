// Package sse writes server-sent events (text/event-stream) to an HTTP
// response, each flushed as it is written.
package sse

import (
	"encoding/json"
	"fmt"
	"io"
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
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(fmt.Sprintf("event: %s\ndata: %s\n\n", event, data))
}

// Message writes one event of the default type ("message", what an
// EventSource's onmessage receives) whose data is v as JSON, with id as
// its SSE id unless id is empty (the client's last event id is then
// left as it was), and flushes it.
func (s *Stream) Message(id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id == "" {
		return s.write(fmt.Sprintf("data: %s\n\n", data))
	}
	return s.write(fmt.Sprintf("id: %s\ndata: %s\n\n", id, data))
}

// Retry asks the client to wait d before it reconnects.
func (s *Stream) Retry(d time.Duration) error {
	return s.write(fmt.Sprintf("retry: %d\n\n", d.Milliseconds()))
}

// Comment writes a comment line, which clients ignore: a keep-alive.
func (s *Stream) Comment(text string) error {
	return s.write(": " + text + "\n\n")
}

// write starts the stream if it has not started, writes text and flushes.
func (s *Stream) write(text string) error {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		// Proxies such as nginx would hold the events back.
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.wait))
	if _, err := io.WriteString(s.w, text); err != nil {
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
