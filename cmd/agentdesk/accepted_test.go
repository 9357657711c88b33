package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRecordedWriteIsNeverAnError: when a write is recorded but its view
// is behind past WRITE_WAIT, the answer is 202 Accepted with the record's
// id, revision, position and Location, never an error a client would
// retry into a duplicate; a retry with the same Idempotency-Key replays
// that 202, and /readyz says why the server is not ready.
func TestRecordedWriteIsNeverAnError(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.WriteWait = 200 * time.Millisecond
	ts := startServerWith(t, dir, cfg)
	root := login(t, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Behind"}).Map(t)

	ts.srv.stopProjections() // every view stays where it is from now on

	key := []string{"Idempotency-Key", "behind-1"}
	body := map[string]any{"company_id": co["id"], "title": "Printer on fire", "priority": "urgent"}
	first := root.must(http.StatusAccepted, "POST", "/api/tickets", body, key...)
	acc := first.Map(t)
	id, _ := acc["id"].(string)
	if id == "" || acc["status"] != "accepted" || acc["position"] == "" || acc["location"] != "/api/tickets/"+id {
		t.Fatalf("202 body %s: want id, status accepted, position and location", first.Body)
	}
	if got := first.Header.Get("Location"); got != "/api/tickets/"+id {
		t.Fatalf("Location %q; want /api/tickets/%s", got, id)
	}
	if first.Header.Get("Retry-After") == "" {
		t.Fatal("202 without Retry-After")
	}
	again := root.must(http.StatusAccepted, "POST", "/api/tickets", body, key...)
	if again.Header.Get("Idempotent-Replayed") != "true" || again.Map(t)["id"] != id {
		t.Fatalf("retry with the same key: %s (replayed %q); want the first answer replayed", again.Body, again.Header.Get("Idempotent-Replayed"))
	}

	anon := &client{tb: t, base: ts.URL}
	ready := anon.must(http.StatusServiceUnavailable, "GET", "/readyz", nil).Map(t)
	if detail, _ := ready["detail"].(string); !strings.Contains(detail, "stopped") {
		t.Fatalf("/readyz with projections stopped: %v; want a detail saying they stopped", ready)
	}
}
