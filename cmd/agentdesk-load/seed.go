package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// seed creates the run's companies, one company_admin each (signed in),
// and tickets per company, the tickets over HTTP with workers in
// parallel. Names carry a random run id, so a server that already holds
// an earlier run's data (-url) takes a new one.
func seed(ctx context.Context, root *api, companies, tickets, workers int, out io.Writer) ([]*company, error) {
	run := strings.ToLower(rand.Text()[:8])
	start := time.Now()
	cos := make([]*company, companies)
	for j := range cos {
		var co struct {
			ID string `json:"id"`
		}
		name := fmt.Sprintf("Load %s %d", run, j+1)
		if err := root.call(ctx, http.MethodPost, "/api/companies", map[string]string{"name": name}, http.StatusCreated, &co); err != nil {
			return nil, fmt.Errorf("create company: %w", err)
		}
		username, password := fmt.Sprintf("load-%s-admin-%d", run, j+1), rand.Text()
		user := map[string]string{"company_id": co.ID, "username": username, "password": password, "role": "company_admin"}
		if err := root.call(ctx, http.MethodPost, "/api/users", user, http.StatusCreated, nil); err != nil {
			return nil, fmt.Errorf("create company admin: %w", err)
		}
		admin, err := root.signIn(ctx, username, password)
		if err != nil {
			return nil, err
		}
		cos[j] = &company{id: co.ID, admin: admin, seeded: make([]string, tickets)}
	}
	setUp := time.Since(start)

	// Ticket k goes to company k % companies, so every company fills at
	// the same pace.
	start = time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for n := range min(workers, companies*tickets) {
		wg.Go(func() {
			var buf bytes.Buffer
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= companies*tickets {
					return
				}
				co := cos[k%companies]
				id, err := seedTicket(ctx, co.admin, n, k, &buf)
				if err != nil {
					cancel(err)
					return
				}
				co.seeded[k/companies] = id
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("seed tickets: %w", err)
	}
	took := time.Since(start)
	for _, co := range cos {
		co.pool.ids = append([]string(nil), co.seeded...)
	}
	fmt.Fprintf(out, "seeded %d companies with one company_admin each in %s; %d tickets in %s: %.0f tickets/s with %d workers\n",
		companies, setUp.Round(time.Millisecond), companies*tickets, took.Round(time.Millisecond),
		float64(companies*tickets)/took.Seconds(), min(workers, companies*tickets))
	return cos, nil
}

// seedTicket opens ticket number k as worker n and returns its id.
func seedTicket(ctx context.Context, admin *api, n, k int, buf *bytes.Buffer) (string, error) {
	body, _ := json.Marshal(newTicketBody{
		Title:       fmt.Sprintf("Seeded ticket %d", k),
		Description: "Seeded by the load generator.",
		Priority:    priorities[k%len(priorities)],
		Tags:        []string{"seed"},
	})
	status, err := admin.do(ctx, http.MethodPost, "/api/tickets", body, buf)
	if err != nil {
		return "", fmt.Errorf("worker %d: POST /api/tickets: %w", n, err)
	}
	if status != http.StatusCreated {
		return "", &statusError{method: http.MethodPost, path: "/api/tickets", status: status, body: snippet(buf.Bytes())}
	}
	var rec ticketRecord
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec.ID == "" {
		return "", fmt.Errorf("POST /api/tickets: no id in the answer: %s", snippet(buf.Bytes()))
	}
	return rec.ID, nil
}
