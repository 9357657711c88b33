package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRebuildOnEveryBackend: a rebuild over HTTP switches to a new
// generation and verifies against the log on every combination of stores
// (MongoDB through FerretDB included), with the records served throughout.
func TestRebuildOnEveryBackend(t *testing.T) {
	onEveryBackend(t, func(t *testing.T, b backend) {
		ts := startServerOn(t, t.TempDir(), b)
		root := login(t, ts.URL, "admin", testAdminPassword)
		co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Rebuilt"}).Map(t)
		root.must(http.StatusCreated, "POST", "/api/users", map[string]any{"company_id": co["id"], "username": "rb-admin", "password": "password-rb-admin", "role": "company_admin"})
		a := login(t, ts.URL, "rb-admin", "password-rb-admin")
		for i := range 12 {
			a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": fmt.Sprintf("ticket %d", i)})
		}
		root.must(http.StatusAccepted, "POST", "/api/admin/projections/tickets/rebuild", nil)
		deadline := time.Now().Add(30 * time.Second)
		for {
			line := root.must(http.StatusOK, "GET", "/api/admin/projections/tickets", nil).Map(t)
			if line["generation"] == float64(2) && line["rebuild"] == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no switch to generation 2: %v", line)
			}
			if l := a.list("/api/tickets?range=[0,0]"); l.Total != 12 {
				t.Fatalf("during the rebuild: total %d, want 12", l.Total)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if l := a.list("/api/tickets?range=[0,99]"); l.Total != 12 || len(l.Data) != 12 {
			t.Fatalf("after the rebuild: %d of total %d", len(l.Data), l.Total)
		}
		v := root.must(http.StatusOK, "POST", "/api/admin/projections/tickets/verify", nil).Map(t)
		if d, _ := v["differences"].([]any); len(d) != 0 || v["documents"] != float64(12) {
			t.Fatalf("verify: %v", v)
		}
	})
}
