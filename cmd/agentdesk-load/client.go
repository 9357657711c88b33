package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// newHTTPClient returns the one client every request of a run goes
// through. Its pool keeps an idle connection for every worker, so the
// workload measures requests, not TCP handshakes.
func newHTTPClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second, // the server's own write timeout
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2*concurrency + 16,
			MaxIdleConnsPerHost: concurrency + 16,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// api calls agentdesk over HTTP as one user.
type api struct {
	http  *http.Client
	base  string // "http://127.0.0.1:8080"
	token string // bearer token; empty before sign-in
}

// statusError is an answer with an unexpected status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// do sends one request and reads the whole answer into buf (reset first),
// so that the connection goes back to the pool. A nil body sends none; any
// other is sent as JSON. The error is a transport error only: the caller
// judges the status.
func (a *api) do(ctx context.Context, method, path string, body []byte, buf *bytes.Buffer) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// call sends a request that must answer want, and decodes the answer into
// out when out is not nil. It is for setting up, not for the measured
// workload.
func (a *api) call(ctx context.Context, method, path string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	status, err := a.do(ctx, method, path, body, &buf)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return &statusError{method: method, path: path, status: status, body: snippet(buf.Bytes())}
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// signIn trades a username and password for a token and returns an api
// that acts as that user.
func (a *api) signIn(ctx context.Context, username, password string) (*api, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	in := map[string]string{"username": username, "password": password}
	if err := a.call(ctx, http.MethodPost, "/auth/token", in, http.StatusOK, &tok); err != nil {
		return nil, fmt.Errorf("sign in as %s: %w", username, err)
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("sign in as %s: no access_token in the answer", username)
	}
	return &api{http: a.http, base: a.base, token: tok.AccessToken}, nil
}

// waitReady polls /readyz until it answers 200, the timeout passes or
// exited is closed (the server died while starting).
func (a *api) waitReady(ctx context.Context, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var buf bytes.Buffer
	delay := 20 * time.Millisecond
	for {
		status, err := a.do(ctx, http.MethodGet, "/readyz", nil, &buf)
		if err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the server exited while starting")
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("status %d: %s", status, snippet(buf.Bytes()))
			}
			return fmt.Errorf("not ready within %s: %w", timeout, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// snippet is the start of an answer, on one line, for an error message.
func snippet(b []byte) string {
	const limit = 300
	s := strings.TrimSpace(string(b))
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}
