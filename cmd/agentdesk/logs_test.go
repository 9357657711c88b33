package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSecretsNeverLogged runs sign-ins, password changes, users and an
// agent with a credential through a server logging at debug, then greps
// everything it logged for the tokens, passwords and credential it saw.
func TestSecretsNeverLogged(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig(t, t.TempDir())
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	ts := &testServer{URL: "http://" + ln.Addr().String(), srv: srv}
	ts.waitReady(t)

	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Quiet")
	secrets := []string{testAdminPassword, root.token, a.admin.token, "password-Quiet", "shpat_do-not-log-me", "elaine-secret-1", "elaine-secret-2"}
	u := a.admin.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "elaine", "password": "elaine-secret-1", "role": "content_writer"}).Map(t)
	elaine := login(t, ts.URL, "elaine", "elaine-secret-1")
	secrets = append(secrets, elaine.token)
	elaine.must(http.StatusOK, "PUT", "/api/users/"+u["id"].(string), map[string]any{"password": "elaine-secret-2", "old_password": "elaine-secret-1"})
	elaine.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
	(&client{tb: t, base: ts.URL}).do("POST", "/auth/token", map[string]any{"username": "elaine", "password": "wrong-but-secret-3"})
	secrets = append(secrets, "wrong-but-secret-3")
	a.admin.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Bot", "model": "gpt-4o-mini",
		"integrations": []map[string]any{{"type": "shopify", "shop_domain": "quiet.myshopify.com", "api_version": "2025-01", "credential": "shpat_do-not-log-me"}}})
	a.admin.must(http.StatusUnprocessableEntity, "POST", "/api/agents", map[string]any{"name": "Bot", "model": "gpt-4o-mini",
		"integrations": []map[string]any{{"type": "shopify", "shop_domain": "not a domain", "credential": "shpat_do-not-log-me"}}})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "/auth/token") {
		t.Fatalf("the debug log has no request lines; the test would prove nothing:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds a secret (%.12s…)", s)
		}
	}
}

// TestRequestIDs: a plain X-Request-ID is kept, anything else replaced by
// a new id; the id is answered and stamped on the events the request
// records.
func TestRequestIDs(t *testing.T) {
	ts := startServer(t, t.TempDir())
	root := login(t, ts.URL, "admin", testAdminPassword)
	a := newTenant(t, ts, root, "Traced")
	r := a.admin.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Traced"}, "X-Request-ID", "trace-42:abc")
	if got := r.Header.Get("X-Request-ID"); got != "trace-42:abc" {
		t.Fatalf("X-Request-ID answered %q, want the client's", got)
	}
	evs, err := ts.srv.events.ReadStream(t.Context(), "ticket-"+r.Map(t)["id"].(string), 0, 0)
	if err != nil || len(evs) != 1 || evs[0].Metadata.RequestID != "trace-42:abc" {
		t.Fatalf("the event's request id: %+v, %v", evs, err)
	}
	for _, bad := range []string{"has spaces", strings.Repeat("x", 200), "quote\"d", "<script>"} {
		got := a.admin.do("GET", "/api/tickets", nil, "X-Request-ID", bad).Header.Get("X-Request-ID")
		if got == bad || got == "" {
			t.Errorf("X-Request-ID %q answered %q, want a new id", bad, got)
		}
	}
	if got := a.admin.do("GET", "/api/tickets", nil).Header.Get("X-Request-ID"); got == "" {
		t.Error("a request without an id got none")
	}
}
