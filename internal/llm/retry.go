package llm

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// retrying sends a request again when the provider answers 429 or 5xx,
// waiting as its Retry-After asks or, without one, with exponential
// backoff. It sits under go-openai, so a stream is retried only before
// its first byte, never halfway through an answer.
type retrying struct {
	next    *http.Client
	retries int
	backoff time.Duration
	maxWait time.Duration
}

// Do implements go-openai's HTTPDoer.
func (d *retrying) Do(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.Body != nil {
			if req.GetBody == nil {
				return nil, errors.New("llm: cannot resend a request without GetBody")
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := d.next.Do(req)
		if err != nil || attempt >= d.retries || !retryable(resp.StatusCode) {
			return resp, err
		}
		wait, ok := d.wait(resp, attempt)
		if !ok {
			return resp, nil
		}
		if deadline, has := req.Context().Deadline(); has && time.Until(deadline) < wait {
			// The wait would outlast the request: the provider's answer
			// says more than a deadline error would.
			return resp, nil
		}
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// wait returns how long to wait before the next attempt, and false when
// the provider's Retry-After asks for longer than maxWait.
func (d *retrying) wait(resp *http.Response, attempt int) (time.Duration, bool) {
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		var w time.Duration
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			w = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			w = max(time.Until(at), 0)
		} else {
			w = -1 // unreadable: back off as if absent
		}
		if w > d.maxWait {
			return 0, false
		}
		if w >= 0 {
			return w, true
		}
	}
	w := d.backoff << attempt
	if w <= 0 || w > d.maxWait {
		w = d.maxWait
	}
	// Full jitter in the upper half keeps many clients from retrying in
	// step without ever retrying at once.
	return w/2 + rand.N(w/2+1), true
}
