package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"

	"agentdesk/commands/web"
	"agentdesk/domain/resource"
	"agentdesk/internal/llm/llmtest"
)

// TestOpenAPI: GET /openapi.json answers, without a token, a valid
// OpenAPI 3 document that describes exactly the routes the router
// mounts, and what the server answers on every one of them matches it.
func TestOpenAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	// A provider for OpenAI's models only: Anthropic's answer 503.
	cfg.OpenAIBaseURL, cfg.OpenAIAPIKey = llmtest.New(t).URL, "sk-described"
	// A stand-in for the built admin app.
	cfg.AdminDir = t.TempDir()
	for name, content := range map[string]string{"index.html": "<!doctype html><title>agentdesk</title>", "assets/app.js": "console.log('agentdesk')"} {
		if err := os.MkdirAll(filepath.Join(cfg.AdminDir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.AdminDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServerWith(t, dir, cfg)
	doc := loadOpenAPI(t, ts)

	t.Run("routes", func(t *testing.T) {
		mounted := map[string]bool{}
		err := chi.Walk(ts.srv.http.Handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			mounted[method+" "+route] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		described := operations(doc)
		for _, route := range sortedKeys(mounted) {
			if !described[route] {
				t.Errorf("%s is mounted but not described", route)
			}
		}
		for _, route := range sortedKeys(described) {
			if !mounted[route] {
				t.Errorf("%s is described but not mounted", route)
			}
		}
		if len(mounted) < 40 {
			t.Fatalf("walked %d routes; the router was not walked", len(mounted))
		}
	})

	t.Run("responses", func(t *testing.T) {
		v := newValidator(t, doc)
		openAPISamples(t, ts, v)
		for _, op := range sortedKeys(operations(doc)) {
			if len(v.seen[op]) == 0 {
				t.Errorf("%s: no sample request; add one to openAPISamples", op)
			}
		}
		statuses := map[int]bool{}
		for _, seen := range v.seen {
			for status := range seen {
				statuses[status] = true
			}
		}
		for _, want := range []int{200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429} {
			if !statuses[want] {
				t.Errorf("no sample answered %d", want)
			}
		}
	})
}

// TestOpenAPIDescriptionFails: the checks of TestOpenAPI can fail. A
// record that validates against the description stops validating when
// the description loses one of its fields, and a route the description
// lacks is reported.
func TestOpenAPIDescriptionFails(t *testing.T) {
	ticket := `{"id":"01a22b16-0000-7000-8000-000000000000","company_id":"c","title":"t","description":"","priority":"low",` +
		`"status":"open","requester_id":"u","assignee_id":null,"tags":[],"comment_count":0,"created_by":"u",` +
		`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","last_activity_at":"2026-01-01T00:00:00Z","revision":0}`
	answer := func(status int, body string) (*http.Response, []byte) {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}, "Etag": {`"0"`}}}, []byte(body)
	}
	// check validates a GET of path answered with a ticket against the
	// description, changed by change, and returns the errors.
	check := func(path string, change func(*openapi3.T)) []string {
		t.Helper()
		desc, err := describeAPI("test")
		if err != nil {
			t.Fatal(err)
		}
		change(desc)
		raw, err := desc.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{TB: t}
		req, err := http.NewRequest("GET", "http://127.0.0.1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := answer(http.StatusOK, ticket)
		newValidator(rec, doc).check(req, nil, resp, body)
		return rec.errors
	}
	const path = "/api/tickets/01a22b16-0000-7000-8000-000000000000"
	if errs := check(path, func(*openapi3.T) {}); len(errs) > 0 {
		t.Fatalf("a valid ticket does not validate: %v", errs)
	}
	errs := check(path, func(doc *openapi3.T) {
		s := doc.Components.Schemas["Ticket"].Value
		delete(s.Properties, "priority")
		s.Required = slices.DeleteFunc(s.Required, func(f string) bool { return f == "priority" })
	})
	if len(errs) == 0 {
		t.Error("a ticket with a field its description lacks validated")
	}
	errs = check(path, func(doc *openapi3.T) { doc.Paths.Delete("/api/tickets/{id}") })
	if len(errs) == 0 {
		t.Error("an answer of an undescribed route validated")
	}
}

// TestOpenAPIRecordsFollowDeclarations: a record is described by its
// document type with the enums of its declaration, and a declared field
// the documents lack, or hold with another kind, keeps the description
// (and so the server) from being built.
func TestOpenAPIRecordsFollowDeclarations(t *testing.T) {
	type doc struct {
		ID     string    `json:"id"`
		Title  string    `json:"title"`
		Status string    `json:"status"`
		At     time.Time `json:"at"`
		Note   *string   `json:"note,omitempty"`
	}
	for _, c := range []struct {
		name   string
		fields []resource.Field
		ok     bool
	}{
		{"as declared", []resource.Field{{Name: "title"}, {Name: "status", Kind: resource.Enum, Values: []string{"a", "b"}}, {Name: "at", Kind: resource.Time}}, true},
		{"missing", []resource.Field{{Name: "body"}}, false},
		{"another kind", []resource.Field{{Name: "title", Kind: resource.Number}}, false},
		{"a time as text", []resource.Field{{Name: "at"}}, false},
	} {
		s, err := recordSchema(&resource.Resource{Name: "docs", Fields: c.fields}, new(doc))
		if (err == nil) != c.ok {
			t.Errorf("%s: got error %v, want ok %v", c.name, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if got := s.Properties["status"].Value.Enum; !slices.Equal(got, []any{"a", "b"}) {
			t.Errorf("%s: status enum %v, want [a b]", c.name, got)
		}
		if note := s.Properties["note"].Value; !note.Nullable || slices.Contains(s.Required, "note") {
			t.Errorf("%s: note is nullable %v, required %v; want a nullable, optional field", c.name, note.Nullable, s.Required)
		}
		if want := []string{"id", "title", "status", "at"}; !slices.Equal(s.Required, want) {
			t.Errorf("%s: required %v, want %v", c.name, s.Required, want)
		}
	}
}

// recorder collects the errors reported through it instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// loadOpenAPI reads the description as a client would, without a token,
// and validates it.
func loadOpenAPI(tb testing.TB, ts *testServer) *openapi3.T {
	tb.Helper()
	anon := &client{tb: tb, base: ts.URL}
	r := anon.must(http.StatusOK, "GET", openAPIPath, nil)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("GET %s: Content-Type %q, want application/json", openAPIPath, ct)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		tb.Fatalf("load the description: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("the description is invalid: %v", err)
	}
	return doc
}

// validator checks every request a client sends through it, and the
// answer, against the description: a request answered with success must
// match its operation (parameters, body), and every answer must match
// one of the operation's responses (status, headers, body).
type validator struct {
	tb     testing.TB
	router routers.Router
	mu     sync.Mutex
	// seen records, by operation ("GET /api/tickets/{id}"), the statuses
	// answered.
	seen map[string]map[int]bool
}

func newValidator(tb testing.TB, doc *openapi3.T) *validator {
	router, err := legacy.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return &validator{tb: tb, router: router, seen: map[string]map[int]bool{}}
}

// client returns an HTTP client whose requests are checked.
func (v *validator) client() *http.Client { return &http.Client{Transport: v} }

// RoundTrip sends req and checks it and its answer.
func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") && req.Method == http.MethodGet && req.URL.Path == "/api/events" {
		// The event stream does not end: its first message will do.
		raw, err = readFirstEvent(resp.Body)
	} else {
		raw, err = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	v.check(req, body, resp, raw)
	return resp, nil
}

func (v *validator) check(req *http.Request, body []byte, resp *http.Response, raw []byte) {
	in := req.Clone(context.Background())
	in.Body = io.NopCloser(bytes.NewReader(body))
	what := fmt.Sprintf("%s %s → %d", req.Method, req.URL.RequestURI(), resp.StatusCode)
	if strings.HasPrefix(in.URL.Path, adminPath) {
		// Every file and route of the admin app is one operation.
		in.URL.Path = adminPath + "*"
	}
	route, params, err := v.router.FindRoute(in)
	if err != nil {
		v.tb.Errorf("%s: not described: %v", what, err)
		return
	}
	v.mu.Lock()
	op := route.Method + " " + route.Path
	if v.seen[op] == nil {
		v.seen[op] = map[int]bool{}
	}
	v.seen[op][resp.StatusCode] = true
	v.mu.Unlock()

	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	input := &openapi3filter.RequestValidationInput{Request: in, PathParams: params, Route: route, Options: opts}
	if resp.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			v.tb.Errorf("%s: the request does not match its description: %v\nbody: %s", what, err, body)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(raw)), Options: opts,
	})
	if err != nil {
		v.tb.Errorf("%s: the answer does not match the description: %v\nbody: %s", what, err, raw)
	}
}

// readFirstEvent reads a server-sent event stream up to the end of its
// first event.
func readFirstEvent(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 512)
	for !bytes.Contains(out, []byte("\n\n")) {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func init() {
	// Bodies that are text, whatever their schema says of them.
	text := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	for _, ct := range []string{"text/event-stream", "text/html", "text/javascript", "text/css", "image/svg+xml", "image/png"} {
		openapi3filter.RegisterBodyDecoder(ct, text)
	}
}

// operations lists the described operations ("GET /api/tickets/{id}").
func operations(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

// openAPISamples sends a request, or several, to every route, answered
// with success and with the errors the API describes.
func openAPISamples(t *testing.T, ts *testServer, v *validator) {
	hc := v.client()
	anon := &client{tb: t, base: ts.URL, http: hc}
	anon.must(http.StatusOK, "GET", "/healthz", nil)
	anon.must(http.StatusOK, "GET", "/readyz", nil)
	anon.must(http.StatusOK, "GET", "/metrics", nil)
	anon.must(http.StatusOK, "GET", openAPIPath, nil)
	anon.must(http.StatusUnauthorized, "GET", "/auth/me", nil)
	anon.must(http.StatusUnauthorized, "GET", "/api/tickets", nil)
	form := url.Values{"username": {"admin"}, "password": {testAdminPassword}}.Encode()
	anon.must(http.StatusOK, "POST", "/auth/token", form, "Content-Type", "application/x-www-form-urlencoded")
	anon.must(http.StatusOK, "POST", "/auth/token", map[string]any{"username": "admin", "password": testAdminPassword})
	anon.must(http.StatusUnauthorized, "POST", "/auth/token", map[string]any{"username": "admin", "password": "not-the-password"})
	anon.must(http.StatusUnprocessableEntity, "POST", "/auth/token", map[string]any{"username": "", "password": ""})
	noRedirect := &client{tb: t, base: ts.URL, http: &http.Client{Transport: v, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	noRedirect.must(http.StatusFound, "GET", "/", nil)
	noRedirect.must(http.StatusMovedPermanently, "GET", "/admin", nil)
	anon.must(http.StatusOK, "GET", "/admin/", nil)
	anon.must(http.StatusOK, "GET", "/admin/tickets/create", nil)
	anon.must(http.StatusOK, "HEAD", "/admin/", nil)
	anon.must(http.StatusOK, "GET", "/admin/assets/app.js", nil)
	anon.must(http.StatusNotFound, "GET", "/admin/assets/missing.js", nil)
	anon.must(http.StatusUnauthorized, "GET", "/api/events?ticket=nonsense", nil)
	anon.must(http.StatusUnauthorized, "POST", "/api/events/ticket", nil)
	anon.must(http.StatusBadRequest, "POST", "/auth/token", "{", "Content-Type", "application/json")

	root := login(t, ts.URL, "admin", testAdminPassword)
	root.http = hc
	root.must(http.StatusOK, "GET", "/auth/me", nil) // a superadmin has no company: company_id is null

	// Companies, as the superadmin.
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Described"}).Map(t)
	coID := co["id"].(string)
	root.must(http.StatusOK, "PUT", "/api/companies/"+coID, map[string]any{"name": "Described Inc", "revision": co["revision"]})
	root.must(http.StatusOK, "POST", "/api/companies/"+coID+"/suspend", nil)
	root.must(http.StatusOK, "POST", "/api/companies/"+coID+"/reactivate", map[string]any{})
	root.must(http.StatusOK, "GET", "/api/companies/"+coID, nil)
	root.must(http.StatusOK, "GET", "/api/companies"+filterQuery(map[string]any{"status": "active", "created_at_gte": "2020-01-01"},
		`sort=["name","ASC"]&range=[0,9]`), nil)
	gone := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Short-lived"}).Map(t)
	root.must(http.StatusOK, "DELETE", "/api/companies/"+gone["id"].(string), nil, "If-Match", fmt.Sprintf(`"%v"`, gone["revision"]))

	// Users: the company's admin, then everything else as that admin.
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{
		"company_id": coID, "username": "described-admin", "password": "password-Described", "role": "company_admin",
		"email": "described-admin@example.com", "full_name": "Described Admin",
	})
	a := login(t, ts.URL, "described-admin", "password-Described")
	a.http = hc
	me := a.must(http.StatusOK, "GET", "/auth/me", nil).Map(t)
	var ticket struct {
		Ticket string `json:"ticket"`
	}
	a.must(http.StatusOK, "POST", "/api/events/ticket", nil).JSON(t, &ticket)
	anon.must(http.StatusOK, "GET", "/api/events?ticket="+url.QueryEscape(ticket.Ticket), nil, "Last-Event-ID", "0.1")
	anon.must(http.StatusUnauthorized, "GET", "/api/events?ticket="+url.QueryEscape(a.token), nil)
	w := a.must(http.StatusCreated, "POST", "/api/users", map[string]any{
		"username": "described-writer", "password": "writer-password-9", "role": "content_writer", "email": "writer@example.com",
	}).Map(t)
	wID := w["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/users/"+wID, map[string]any{"full_name": "Wanda Writer", "revision": w["revision"]})
	a.must(http.StatusOK, "POST", "/api/users/"+wID+"/deactivate", nil)
	a.must(http.StatusOK, "POST", "/api/users/"+wID+"/reactivate", nil)
	a.must(http.StatusOK, "GET", "/api/users/"+wID, nil)
	a.must(http.StatusOK, "GET", "/api/users?sort=username&order=ASC&skip=0&limit=5", nil)
	tmp := a.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "described-temp", "password": "temp-password-9", "role": "client"}).Map(t)
	a.must(http.StatusOK, "DELETE", "/api/users/"+tmp["id"].(string), nil)
	a.must(http.StatusForbidden, "POST", "/api/users/"+wID+"/forget", nil)
	forgotten := a.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "described-forgotten", "password": "forgotten-password-9", "role": "client", "email": "forgotten@example.com"}).Map(t)
	root.must(http.StatusOK, "POST", "/api/users/"+forgotten["id"].(string)+"/forget", nil)
	writer := login(t, ts.URL, "described-writer", "writer-password-9")
	writer.http = hc
	writer.must(http.StatusForbidden, "GET", "/api/companies", nil)

	// LLM completion; with no provider for the model, 503 naming the
	// variable to set, after the role and the body are checked.
	writer.must(http.StatusOK, "POST", completionPath, map[string]any{"prompt": "Hello"})
	if p := writer.must(http.StatusServiceUnavailable, "POST", completionPath, map[string]any{"prompt": "Hello", "model": "claude-haiku-4-5"}).Map(t); !strings.Contains(p["detail"].(string), "ANTHROPIC_API_KEY") {
		t.Errorf("completion without a provider: got %v, want a detail naming ANTHROPIC_API_KEY", p)
	}
	a.must(http.StatusUnprocessableEntity, "POST", completionPath, map[string]any{"prompt": "Hello", "messages": []any{}})
	a.must(http.StatusBadRequest, "POST", completionPath, map[string]any{"prompt": "Hello", "stream": "yes"})
	a.must(http.StatusCreated, "POST", "/api/users", map[string]any{"username": "described-client", "password": "client-password-9", "role": "client"})
	cl := login(t, ts.URL, "described-client", "client-password-9")
	cl.http = hc
	cl.must(http.StatusForbidden, "POST", completionPath, map[string]any{"prompt": "Hello"})

	// The operator's endpoints, superadmin only.
	root.must(http.StatusOK, "GET", "/api/admin/reactions", nil)
	root.must(http.StatusOK, "GET", "/api/admin/reactions/parked"+filterQuery(map[string]any{"reaction": "notifications"}, "range=[0,9]"), nil)
	root.must(http.StatusBadRequest, "GET", "/api/admin/reactions/parked"+filterQuery(map[string]any{"event_type": "x"}, ""), nil)
	root.must(http.StatusNotFound, "POST", "/api/admin/reactions/parked/notifications.nope/replay", nil)
	writer.must(http.StatusForbidden, "GET", "/api/admin/reactions", nil)
	writer.must(http.StatusForbidden, "GET", "/api/admin/reactions/parked", nil)
	writer.must(http.StatusForbidden, "POST", "/api/admin/reactions/parked/x/replay", nil)
	root.must(http.StatusOK, "GET", "/api/admin/projections", nil)
	root.must(http.StatusOK, "GET", "/api/admin/projections/tickets", nil)
	root.must(http.StatusNotFound, "GET", "/api/admin/projections/nope", nil)
	root.must(http.StatusOK, "GET", "/api/admin/projections/parked"+filterQuery(map[string]any{"projection": "tickets"}, ""), nil)
	root.must(http.StatusAccepted, "POST", "/api/admin/projections/agents/rebuild", nil)
	root.must(http.StatusNotFound, "POST", "/api/admin/projections/nope/rebuild", nil)
	root.must(http.StatusConflict, "POST", "/api/admin/projections/tickets/resume", nil)
	if v := root.must(http.StatusOK, "POST", "/api/admin/projections/tickets/verify", nil).Map(t); len(v["differences"].([]any)) != 0 {
		t.Errorf("verify: %v", v)
	}
	writer.must(http.StatusForbidden, "GET", "/api/admin/projections", nil)

	// Tickets and their comments.
	tk := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{
		"title": "Printer on fire", "description": "Third floor", "priority": "urgent", "tags": []string{"hardware"},
	}).Map(t)
	tkID := tk["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/tickets/"+tkID, map[string]any{"title": "Printer on fire (3rd floor)", "revision": tk["revision"]})
	a.must(http.StatusConflict, "PUT", "/api/tickets/"+tkID, map[string]any{"title": "Too late", "revision": tk["revision"]})
	a.must(http.StatusOK, "POST", "/api/tickets/"+tkID+"/assign", map[string]any{"assignee_id": me["id"]})
	a.must(http.StatusOK, "POST", "/api/tickets/"+tkID+"/status", map[string]any{"status": "in_progress"})
	cm := a.must(http.StatusCreated, "POST", "/api/tickets/"+tkID+"/comments", map[string]any{"body": "On my way"}).Map(t)
	a.must(http.StatusOK, "GET", "/api/tickets/"+tkID+"/comments?range=[0,9]", nil)
	a.must(http.StatusOK, "GET", "/api/comments"+filterQuery(map[string]any{"ticket_id": tkID}, "sort=seq"), nil)
	a.must(http.StatusBadRequest, "GET", "/api/comments", nil)
	a.must(http.StatusOK, "GET", "/api/comments/"+cm["id"].(string), nil)
	// Attachments: multipart, each its own record under the ticket.
	att := a.upload("POST", "/api/tickets/"+tkID+"/attachments", "screen.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), nil)
	if att.Status != http.StatusCreated {
		t.Fatalf("attach: got %d %s", att.Status, att.Body)
	}
	attID := att.Map(t)["id"].(string)
	a.must(http.StatusOK, "GET", "/api/ticket_attachments"+filterQuery(map[string]any{"ticket_id": tkID}, "sort=size&order=DESC"), nil)
	a.must(http.StatusOK, "GET", "/api/ticket_attachments/"+attID, nil)
	a.must(http.StatusOK, "GET", "/api/ticket_attachments/"+attID+"/history", nil)
	a.must(http.StatusOK, "GET", "/api/tickets/"+tkID+"/attachments/"+attID+"/file", nil)
	a.must(http.StatusOK, "DELETE", "/api/tickets/"+tkID+"/attachments/"+attID, nil)
	a.must(http.StatusOK, "GET", "/api/tickets/"+tkID, nil)
	a.must(http.StatusOK, "GET", "/api/tickets/"+tkID+"/history?range=[0,9]", nil)
	a.must(http.StatusOK, "GET", "/api/tickets/"+tkID+"?revision=0", nil)
	a.must(http.StatusBadRequest, "GET", "/api/tickets/"+tkID+"?as_of=yesterday", nil)
	a.must(http.StatusNotFound, "GET", "/api/tickets/"+tkID+"?as_of=2001-01-01T00:00:00Z", nil)
	for _, r := range resource.All() {
		if !r.Derived {
			root.must(http.StatusNotFound, "GET", "/api/"+r.Name+"/01a22b16-0000-7000-8000-000000000000/history", nil)
		}
	}
	a.must(http.StatusOK, "GET", "/api/tickets"+filterQuery(map[string]any{"priority": []string{"high", "urgent"}, "assignee_id_ne": nil, "q": "printer"},
		`sort=["priority","DESC"]`), nil)
	a.must(http.StatusOK, "GET", "/api/tickets"+filterQuery(map[string]any{"id": []string{tkID}}, ""), nil)
	a.must(http.StatusOK, "GET", "/api/tickets?range=[500,509]", nil) // an empty page
	a.must(http.StatusNotFound, "GET", "/api/tickets/01a22b16-0000-7000-8000-000000000000", nil)
	a.must(http.StatusNotFound, "GET", "/api/tickets/01a22b16-0000-7000-8000-000000000000/comments", nil)
	a.must(http.StatusBadRequest, "GET", "/api/tickets?sort=nope", nil)
	invalid := a.must(http.StatusUnprocessableEntity, "POST", "/api/tickets", map[string]any{"title": ""}).Map(t)
	if _, ok := invalid["errors"].(map[string]any)["title"]; !ok {
		t.Errorf("an invalid ticket: got %v, want errors naming title", invalid)
	}
	a.must(http.StatusBadRequest, "POST", "/api/tickets", map[string]any{"title": "x", "bogus": 1})
	a.must(http.StatusUnsupportedMediaType, "POST", "/api/tickets", "title=x", "Content-Type", "text/plain")
	a.must(http.StatusRequestEntityTooLarge, "POST", "/api/tickets", `{"title":"x","description":"`+strings.Repeat("a", web.MaxBody)+`"}`)
	key := "Idempotency-Key"
	a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Exactly once"}, key, "described-1")
	replay := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Exactly once"}, key, "described-1")
	if replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a replayed write: got headers %v, want Idempotent-Replayed", replay.Header)
	}
	a.must(http.StatusConflict, "POST", "/api/tickets", map[string]any{"title": "Another"}, key, "described-1")
	old := a.must(http.StatusCreated, "POST", "/api/tickets", map[string]any{"title": "Duplicate"}).Map(t)
	a.must(http.StatusOK, "DELETE", "/api/tickets/"+old["id"].(string), nil)

	// Agents and their knowledge.
	ag := a.must(http.StatusCreated, "POST", "/api/agents", map[string]any{
		"name": "Helpdesk bot", "model": "gpt-4o-mini", "system_prompt": "You help.",
		"integrations": []map[string]any{{"type": "shopify", "shop_domain": "acme.myshopify.com", "api_version": "2025-01", "credential": "shpat_secret"}},
	}).Map(t)
	agID := ag["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/agents/"+agID, map[string]any{"name": "Helpdesk bot 2", "temperature": 0.2, "revision": ag["revision"]})
	a.must(http.StatusOK, "POST", "/api/agents/"+agID+"/deactivate", nil)
	a.must(http.StatusOK, "POST", "/api/agents/"+agID+"/activate", nil)
	a.must(http.StatusOK, "GET", "/api/agents/"+agID, nil)
	a.must(http.StatusOK, "GET", "/api/agents"+filterQuery(map[string]any{"status": "active", "temperature_lte": 1}, ""), nil)
	// A knowledge sync: the test server reaches no shop, so the run fails.
	run := a.must(http.StatusAccepted, "POST", "/api/agents/"+agID+"/integrations/shopify/sync", nil).Map(t)
	a.must(http.StatusUnprocessableEntity, "POST", "/api/agents/"+agID+"/integrations/wordpress/sync", map[string]any{})
	a.must(http.StatusNotFound, "POST", "/api/agents/"+coID+"/integrations/shopify/sync", nil)
	a.must(http.StatusOK, "GET", "/api/sync_runs/"+run["id"].(string), nil)
	a.must(http.StatusOK, "GET", "/api/sync_runs"+filterQuery(map[string]any{"agent_id": agID, "status": []string{"running", "failed"}}, "sort=started_at&order=DESC"), nil)
	spare := a.must(http.StatusCreated, "POST", "/api/agents", map[string]any{"name": "Spare", "model": "gpt-4o-mini"}).Map(t)
	a.must(http.StatusOK, "DELETE", "/api/agents/"+spare["id"].(string), nil)

	kc := a.must(http.StatusCreated, "POST", "/api/knowledge_chunks", map[string]any{
		"agent_id": agID, "title": "Printers", "content": "Turn it off and on again.", "tags": []string{"hardware"}, "source": "manual",
	}).Map(t)
	kcID := kc["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/knowledge_chunks/"+kcID, map[string]any{"title": "Printers, again", "revision": kc["revision"]})
	a.must(http.StatusOK, "GET", "/api/knowledge_chunks/"+kcID, nil)
	a.must(http.StatusOK, "GET", "/api/knowledge_chunks"+filterQuery(map[string]any{"agent_id": agID, "tags": "hardware"}, ""), nil)
	// Knowledge documents: multipart uploads, split into chunks.
	upload := func(c *client, want int, method, path, name, ct string, file []byte, fields map[string]string) map[string]any {
		r := c.upload(method, path, name, ct, file, fields)
		if r.Status != want {
			t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
		}
		return r.Map(t)
	}
	kd := upload(a, http.StatusCreated, "POST", "/api/knowledge_documents", "printers.md", "text/markdown",
		[]byte("# Printers\n\nTurn it off and on again.\n\n## Paper\n\nLoad A4 only."), map[string]string{"agent_id": agID})
	kdID := kd["id"].(string)
	upload(a, http.StatusOK, "PUT", "/api/knowledge_documents/"+kdID, "printers.md", "text/markdown",
		[]byte("# Printers\n\nTurn it off and on again.\n\n## Paper\n\nLoad A4 or Letter."), map[string]string{"title": "Printers"})
	upload(a, http.StatusUnsupportedMediaType, "POST", "/api/knowledge_documents", "photo.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), map[string]string{"agent_id": agID})
	a.must(http.StatusOK, "GET", "/api/knowledge_documents/"+kdID, nil)
	a.must(http.StatusOK, "GET", "/api/knowledge_documents"+filterQuery(map[string]any{"agent_id": agID, "status": "ingested"}, "sort=chunk_count&order=DESC"), nil)
	a.must(http.StatusOK, "GET", "/api/knowledge_documents/"+kdID+"/file", nil)
	a.must(http.StatusOK, "DELETE", "/api/knowledge_documents/"+kdID, nil)
	a.must(http.StatusNotFound, "GET", "/api/knowledge_documents/"+kdID+"/file", nil)

	// Agent chat, and the conversations it records.
	reply := writer.must(http.StatusOK, "POST", "/api/agents/"+agID+"/chat", map[string]any{"message": "My printer is on fire"}).Map(t)
	convID := reply["conversation_id"].(string)
	writer.must(http.StatusOK, "POST", "/api/agents/"+agID+"/chat", map[string]any{"message": "Can I talk to a human?", "conversation_id": convID})
	writer.must(http.StatusUnprocessableEntity, "POST", "/api/agents/"+agID+"/chat", map[string]any{"message": ""})
	a.must(http.StatusNotFound, "POST", "/api/agents/"+coID+"/chat", map[string]any{"message": "Hello"})
	a.must(http.StatusOK, "GET", "/api/conversations"+filterQuery(map[string]any{"agent_id": agID, "status": "escalated"}, "sort=last_message_at&order=DESC"), nil)
	a.must(http.StatusOK, "GET", "/api/conversations/"+convID, nil)
	msgs := a.must(http.StatusOK, "GET", "/api/conversation_messages"+filterQuery(map[string]any{"conversation_id": convID}, "sort=seq&order=ASC"), nil).Map(t)
	a.must(http.StatusOK, "GET", "/api/conversation_messages/"+msgs["data"].([]any)[1].(map[string]any)["id"].(string), nil)
	a.must(http.StatusOK, "DELETE", "/api/knowledge_chunks/"+kcID, nil)

	// Notifications: the platform creates them, their recipient reads
	// them and marks them read.
	pf := newPlatform(t, ts)
	nID := pf.notify(t, coID, me["id"].(string), "", "Printer on fire was assigned to you").ID
	pf.notify(t, coID, me["id"].(string), "", "Printer on fire was resolved")
	a.must(http.StatusOK, "GET", "/api/notifications"+filterQuery(map[string]any{"read": false}, "sort=created_at&order=DESC"), nil)
	a.must(http.StatusOK, "GET", "/api/notifications/"+nID, nil)
	a.must(http.StatusOK, "POST", "/api/notifications/"+nID+"/read", nil)
	a.must(http.StatusOK, "POST", "/api/notifications/read_all", nil)
	a.must(http.StatusMethodNotAllowed, "POST", "/api/notifications", map[string]any{"title": "x"})

	// Usage: what the LLM cost, by company, day and agent; the quota is
	// a superadmin's to set.
	pf.spend(t, coID, 42)
	days := a.must(http.StatusOK, "GET", "/api/usage"+filterQuery(map[string]any{"day_gte": "2020-01-01", "agent_id": nil}, "sort=day&order=DESC"), nil).Map(t)
	a.must(http.StatusOK, "GET", "/api/usage/"+days["data"].([]any)[0].(map[string]any)["id"].(string), nil)
	a.must(http.StatusNotFound, "GET", "/api/usage/"+coID, nil)
	writer.must(http.StatusForbidden, "GET", "/api/usage", nil)
	root.must(http.StatusOK, "PUT", "/api/companies/"+coID, map[string]any{"monthly_token_quota": 1000000})
	a.must(http.StatusForbidden, "PUT", "/api/companies/"+coID, map[string]any{"monthly_token_quota": nil})

	// Campaigns and their content.
	cp := a.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{
		"name": "Spring launch", "channel": "email", "agent_id": agID, "starts_at": "2030-03-01T09:00:00Z", "ends_at": "2030-03-31T18:00:00Z",
	}).Map(t)
	cpID := cp["id"].(string)
	a.must(http.StatusOK, "PUT", "/api/campaigns/"+cpID, map[string]any{"description": "The launch", "revision": cp["revision"]})
	item := a.must(http.StatusCreated, "POST", "/api/campaigns/"+cpID+"/content", map[string]any{"title": "Teaser", "body": "Soon."}).Map(t)
	itemPath := "/api/campaigns/" + cpID + "/content/" + item["id"].(string)
	other := a.must(http.StatusCreated, "POST", "/api/campaign_content", map[string]any{"campaign_id": cpID, "title": "Other", "body": "More."}).Map(t)
	a.must(http.StatusOK, "PUT", itemPath, map[string]any{"title": "Teaser!", "body": "Soon."})
	a.must(http.StatusOK, "POST", itemPath+"/approve", nil)
	a.must(http.StatusOK, "POST", "/api/campaigns/"+cpID+"/status", map[string]any{"status": "scheduled"})
	a.must(http.StatusOK, "POST", "/api/campaigns/"+cpID+"/status", map[string]any{"status": "active"})
	a.must(http.StatusOK, "POST", itemPath+"/publish", map[string]any{})
	a.must(http.StatusOK, "DELETE", "/api/campaigns/"+cpID+"/content/"+other["id"].(string), nil)
	a.must(http.StatusMethodNotAllowed, "PUT", "/api/campaign_content/"+item["id"].(string), map[string]any{"title": "x"})
	a.must(http.StatusMethodNotAllowed, "DELETE", "/api/campaign_content/"+item["id"].(string), nil)
	a.must(http.StatusOK, "GET", "/api/campaign_content/"+item["id"].(string), nil)
	a.must(http.StatusOK, "GET", "/api/campaign_content"+filterQuery(map[string]any{"campaign_id": cpID, "status": "published"}, ""), nil)
	a.must(http.StatusOK, "GET", "/api/campaigns/"+cpID, nil)
	a.must(http.StatusOK, "GET", "/api/campaigns"+filterQuery(map[string]any{"channel": "email", "starts_at_gte": "2030-01-01T00:00:00Z"}, ""), nil)
	draft := a.must(http.StatusCreated, "POST", "/api/campaigns", map[string]any{"name": "Never sent", "channel": "blog"}).Map(t)
	a.must(http.StatusOK, "DELETE", "/api/campaigns/"+draft["id"].(string), nil)

	// The audit trail and its export.
	audit := a.must(http.StatusOK, "GET", "/api/audit_log"+filterQuery(map[string]any{"resource": "tickets", "recorded_at_gte": "2020-01-01T00:00:00Z"}, "range=[0,4]"), nil).Map(t)
	a.must(http.StatusOK, "GET", "/api/audit_log/"+audit["data"].([]any)[0].(map[string]any)["id"].(string), nil)
	root.must(http.StatusBadRequest, "GET", "/api/audit_log", nil)
	writer.must(http.StatusForbidden, "GET", "/api/audit_log", nil)
	a.must(http.StatusOK, "GET", auditExportPath, nil)
	a.must(http.StatusOK, "GET", auditExportPath+"?as_of="+url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), nil)
	a.must(http.StatusBadRequest, "GET", auditExportPath+"?as_of=soon", nil)
	root.must(http.StatusBadRequest, "GET", auditExportPath, nil)
	writer.must(http.StatusForbidden, "GET", auditExportPath, nil)

	// Last, since it locks this address out of signing in for a minute:
	// guessing passwords is slowed down.
	for i := 0; ; i++ {
		r := anon.do("POST", "/auth/token", map[string]any{"username": "admin", "password": "guess-" + fmt.Sprint(i)})
		if r.Status == http.StatusTooManyRequests {
			break
		}
		if i > 100 {
			t.Fatalf("no 429 after %d wrong passwords", i)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
