package readapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	decl "agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// progress is a Progress whose projections are caught up or not, as a
// test says.
type progress map[string]bool

func (p progress) Wait(context.Context, string, eventstore.Position) error { return nil }
func (p progress) CaughtUp(name string) bool                               { return p[name] }
func (p progress) Ready() bool {
	for _, ok := range p {
		if !ok {
			return false
		}
	}
	return true
}

type tokens struct{}

func (tokens) Issue(TokenClaims) (string, time.Duration, error) { return "t", time.Hour, nil }
func (tokens) Parse(string) (TokenClaims, error) {
	return TokenClaims{UserID: "01a22b3c-0000-7000-8000-000000000001", Role: "superadmin"}, nil
}

type passwords struct{}

func (passwords) Verify(string, string) bool { return false }
func (passwords) VerifyUnknown(string) bool  { return false }

// TestNotCaughtUpIs503: while a read model is rebuilt from the start (or
// its projection fails), its lists and records answer 503 with
// Retry-After, not partial totals or 404s, and a token whose user is not
// in the users view yet answers 503, not a 401 that logs the user out.
func TestNotCaughtUpIs503(t *testing.T) {
	rs, err := readstore.OpenSQLite(readstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "reads.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	ctx := context.Background()
	for _, name := range []string{decl.Users.CollectionName(), decl.Companies.CollectionName(), decl.Tickets.CollectionName(), decl.CredentialsCollection} {
		fields := []readstore.Field{{Name: "username", Type: readstore.String}, {Name: "created_at", Type: readstore.Time}}
		if err := rs.Ensure(ctx, readstore.Collection{Name: name, Fields: fields}); err != nil {
			t.Fatal(err)
		}
	}
	user, _ := json.Marshal(map[string]any{"id": "01a22b3c-0000-7000-8000-000000000001", "username": "root", "role": "superadmin", "active": true})
	state := progress{decl.Users.CollectionName(): true, decl.Companies.CollectionName(): true, decl.Tickets.CollectionName(): false, decl.CredentialsCollection: false}
	api, err := New(Config{Reads: rs, Progress: state, Tokens: tokens{}, Passwords: passwords{}})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	api.Public(r)
	r.Group(func(r chi.Router) { r.Use(api.Authenticate); api.Authenticated(r) })
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	want503 := func(what string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: got %d (Retry-After %q) %s, want 503 with Retry-After", what, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	// The user is not in the users view yet, which is catching up.
	state[decl.Users.CollectionName()] = false
	want503("a token while the users view catches up", do("GET", "/auth/me", ""))
	want503("sign-in while credentials catch up", do("POST", "/auth/token", "username=root&password=x"))

	if err := rs.Apply(ctx, readstore.Batch{Writes: []readstore.Write{{Collection: decl.Users.CollectionName(), Doc: readstore.Doc{ID: "01a22b3c-0000-7000-8000-000000000001", Version: "1", Data: user}}}}); err != nil {
		t.Fatal(err)
	}
	state[decl.Users.CollectionName()] = true
	if rec := do("GET", "/auth/me", ""); rec.Code != http.StatusOK {
		t.Fatalf("/auth/me once the users view is current: %d %s", rec.Code, rec.Body)
	}
	want503("a list of a view catching up", do("GET", "/api/tickets", ""))
	want503("a record of a view catching up", do("GET", "/api/tickets/01a22b3c-0000-7000-8000-000000000002", ""))
	if rec := do("GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while a view catches up: %d", rec.Code)
	}
	state[decl.Tickets.CollectionName()] = true
	if rec := do("GET", "/api/tickets", ""); rec.Code != http.StatusOK {
		t.Fatalf("tickets once current: %d %s", rec.Code, rec.Body)
	}
}

// TestClientGoneIsNotAnError: a request whose client went away is not
// logged as a failure of the server's.
func TestClientGoneIsNotAnError(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/tickets", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	WriteError(log, rec, req, fmt.Errorf("query: %w", context.Canceled))
	if logged.Len() != 0 || rec.Code == http.StatusInternalServerError {
		t.Fatalf("a gone client: status %d, logged %q", rec.Code, logged.String())
	}
}
