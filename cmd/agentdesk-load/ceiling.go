package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ceilingRoute is the bare handler's one route.
const ceilingRoute = "GET /ticket (bare net/http)"

// ceiling is a bare net/http server in this process that answers every
// request with one stored JSON document. Driven by the same client at the
// same concurrency as the server, it shows what this machine's HTTP stack
// and this load generator reach with no application behind them: the
// ceiling the server's figures are read against.
type ceiling struct {
	srv  *http.Server
	url  string
	done chan error
}

// startCeiling serves doc on a free loopback port.
func startCeiling(doc []byte) (*ceiling, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &ceiling{
		url:  "http://" + ln.Addr().String(),
		done: make(chan error, 1),
		srv: &http.Server{
			ReadHeaderTimeout: 10 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(doc)
			}),
		},
	}
	go func() { c.done <- c.srv.Serve(ln) }()
	return c, nil
}

// stop closes the server and waits for it.
func (c *ceiling) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	if serr := <-c.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// ceilingOps is the bare handler's workload: one GET.
func ceilingOps() []op {
	return []op{{route: ceilingRoute, weight: 1, run: func(ctx context.Context, w *worker, i int) {
		w.send(ctx, i, http.MethodGet, "/ticket", nil)
	}}}
}
