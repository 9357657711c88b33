package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/campaign"
	"agentdesk/domain/notification"
	"agentdesk/eventstore"
	"agentdesk/readapi"
)

// The fuzz targets drive every write route with a body, one target per
// route family, through the real router, handlers and command pipeline
// (on an in-memory event store holding a fixture, fresh for every
// input), and check properties that can fail:
//
//   - no panic, and never a 5xx: every error is one the API's mapping
//     turns into a 4xx;
//   - a body holding a control character or invalid UTF-8 anywhere is
//     refused (an oracle independent of scanBody: encoding/json's
//     decoding of the whole body);
//   - a write that succeeds records only text that obeys the text rule;
//   - a body that decodes re-encodes to a body that decodes, to the same
//     encoding again.
//
// The seed corpora (testdata/fuzz/Fuzz*) hold realistic bodies for every
// route and hostile ones. TestFuzzCoversEveryRoute keeps the route table
// complete.

// fuzzRoute is a write route and the body type its handler decodes (nil
// when it reads none).
type fuzzRoute struct {
	method, pattern string
	body            func() any
}

// fuzzFamilies are the write routes, by the file that serves them.
var fuzzFamilies = map[string][]fuzzRoute{
	"companies": {
		{"POST", "/api/companies", func() any { return new(createCompanyBody) }},
		{"PUT", "/api/companies/{id}", func() any { return new(updateCompanyBody) }},
		{"POST", "/api/companies/{id}/suspend", func() any { return new(emptyBody) }},
		{"POST", "/api/companies/{id}/reactivate", func() any { return new(emptyBody) }},
	},
	"users": {
		{"POST", "/api/users", func() any { return new(createUserBody) }},
		{"PUT", "/api/users/{id}", func() any { return new(updateUserBody) }},
		{"POST", "/api/users/{id}/deactivate", func() any { return new(emptyBody) }},
		{"POST", "/api/users/{id}/reactivate", func() any { return new(emptyBody) }},
		{"POST", "/api/users/{id}/forget", func() any { return new(emptyBody) }},
	},
	"tickets": {
		{"POST", "/api/tickets", func() any { return new(openTicketBody) }},
		{"PUT", "/api/tickets/{id}", func() any { return new(updateTicketBody) }},
		{"POST", "/api/tickets/{id}/assign", func() any { return new(assignTicketBody) }},
		{"POST", "/api/tickets/{id}/status", func() any { return new(ticketStatusBody) }},
		{"POST", "/api/tickets/{id}/comments", func() any { return new(commentBody) }},
	},
	"agents": {
		{"POST", "/api/agents", func() any { return new(createAgentBody) }},
		{"PUT", "/api/agents/{id}", func() any { return new(updateAgentBody) }},
		{"POST", "/api/agents/{id}/activate", func() any { return new(emptyBody) }},
		{"POST", "/api/agents/{id}/deactivate", func() any { return new(emptyBody) }},
		{"POST", "/api/agents/{id}/integrations/{type}/sync", func() any { return new(emptyBody) }},
	},
	"campaigns": {
		{"POST", "/api/campaigns", func() any { return new(createCampaignBody) }},
		{"PUT", "/api/campaigns/{id}", func() any { return new(updateCampaignBody) }},
		{"POST", "/api/campaigns/{id}/status", func() any { return new(campaignStatusBody) }},
		{"POST", "/api/campaigns/{id}/content", func() any { return new(addContentBody) }},
		{"POST", "/api/campaign_content", func() any { return new(addContentBody) }},
		{"PUT", "/api/campaigns/{campaign_id}/content/{id}", func() any { return new(editContentBody) }},
		{"POST", "/api/campaigns/{campaign_id}/content/{id}/approve", func() any { return new(emptyBody) }},
		{"POST", "/api/campaigns/{campaign_id}/content/{id}/publish", func() any { return new(emptyBody) }},
		{"PUT", "/api/campaign_content/{id}", nil},
	},
	"knowledge_chunks": {
		{"POST", "/api/knowledge_chunks", func() any { return new(createKnowledgeBody) }},
		{"PUT", "/api/knowledge_chunks/{id}", func() any { return new(updateKnowledgeBody) }},
	},
	"notifications": {
		{"POST", "/api/notifications", nil},
		{"POST", "/api/notifications/{id}/read", func() any { return new(emptyBody) }},
		{"POST", "/api/notifications/read_all", func() any { return new(emptyBody) }},
	},
}

// One fuzz target per route family (see fuzzFamilies).

func FuzzCompanyBodies(f *testing.F)      { fuzzFamily(f, "companies") }
func FuzzUserBodies(f *testing.F)         { fuzzFamily(f, "users") }
func FuzzTicketBodies(f *testing.F)       { fuzzFamily(f, "tickets") }
func FuzzAgentBodies(f *testing.F)        { fuzzFamily(f, "agents") }
func FuzzCampaignBodies(f *testing.F)     { fuzzFamily(f, "campaigns") }
func FuzzKnowledgeBodies(f *testing.F)    { fuzzFamily(f, "knowledge_chunks") }
func FuzzNotificationBodies(f *testing.F) { fuzzFamily(f, "notifications") }

// fuzzFamily sends every input to every route of the family, each on a
// fresh copy of the fixture.
func fuzzFamily(f *testing.F, family string) {
	fx := newFixture(f)
	// One router for the whole run, its store swapped for each input
	// (inputs run one at a time in a process): building the router and
	// the command pipeline for every input would be most of the work.
	tg := &target{fx: fx, family: family, store: &swapStore{}}
	tg.router = fx.router(f, family, tg.store, func(err error) {
		if readapi.ErrorStatus(err) >= 500 {
			tg.failure = err
		}
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range fuzzFamilies[family] {
			if rt.body != nil {
				checkDecode(t, rt, body)
			}
			tg.checkRoute(t, rt, body)
		}
	})
}

// target is a fuzz target's router over the fixture.
type target struct {
	fx      *fixture
	family  string
	router  http.Handler
	store   *swapStore
	failure error // an error the API's mapping answers with a 5xx
}

// swapStore is a memStore that can be swapped for another.
type swapStore struct{ *memStore }

// checkDecode checks the decoding of body into the route's body type.
func checkDecode(t *testing.T, rt fuzzRoute, body []byte) {
	v := rt.body()
	err := decodeBody(body, v)
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) || re.status != http.StatusBadRequest && re.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s %s: decode error %#v, want a *requestError with 400 or 422", rt.method, rt.pattern, err)
		}
		return
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s %s: re-encode %#v: %v", rt.method, rt.pattern, v, err)
	}
	v2 := rt.body()
	if err := decodeBody(again, v2); err != nil {
		t.Fatalf("%s %s: %q decoded, but its re-encoding %q does not: %v", rt.method, rt.pattern, body, again, err)
	}
	if third, _ := json.Marshal(v2); !bytes.Equal(third, again) {
		t.Fatalf("%s %s: %q re-encodes to %q, then to %q", rt.method, rt.pattern, body, again, third)
	}
	if msg := badText(again); msg != "" {
		t.Fatalf("%s %s: %q decoded with %s", rt.method, rt.pattern, body, msg)
	}
}

// fixture is a company with its admin and a writer, a ticket, an agent,
// a draft campaign, an active one with an approved content item, and a
// knowledge chunk, recorded in base.
type fixture struct {
	base       *memStore
	superadmin domain.Principal
	admin      domain.Principal
	ids        map[string]string // path parameter values, by family
	contentID  string            // the active campaign's item
	campaignID string            // the active campaign
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	fx := &fixture{base: newMemStore(), superadmin: domain.Principal{UserID: uuid.NewString(), Username: "root", Role: domain.Superadmin}}
	app := fx.app(tb, fx.base)
	// Command ids make the new records' ids derived, hence the same in
	// every run: the seed corpora name them.
	root := commands.Meta{Principal: fx.superadmin, CommandID: "fixture/root"}
	must := func(res commands.Result, err error) string {
		tb.Helper()
		if err != nil {
			tb.Fatalf("fixture: %v", err)
		}
		return res.ID
	}
	companyID := must(app.CreateCompany(ctx, root, "Fuzz Co"))
	root.CommandID = "fixture/admin"
	adminID := must(app.CreateUser(ctx, root, commands.CreateUser{CompanyID: companyID, Username: "fuzz-admin",
		Password: "correct horse battery", Role: domain.CompanyAdmin}))
	fx.admin = domain.Principal{UserID: adminID, Username: "fuzz-admin", CompanyID: companyID, Role: domain.CompanyAdmin}
	m := func(name string) commands.Meta {
		return commands.Meta{Principal: fx.admin, CommandID: "fixture/" + name}
	}
	writerID := must(app.CreateUser(ctx, m("writer"), commands.CreateUser{Username: "fuzz-writer",
		Password: "another horse battery", Role: domain.ContentWriter}))
	ticketID := must(app.OpenTicket(ctx, m("ticket"), commands.OpenTicket{Title: "Printer on fire", Tags: []string{"hardware"}}))
	agentID := must(app.CreateAgent(ctx, m("agent"), commands.CreateAgent{Name: "Helpdesk bot", Model: "gpt-4o-mini",
		Integrations: []agent.IntegrationInput{{Type: agent.WordPress, SiteURL: "https://blog.example.com"}}}))
	start := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	fx.campaignID = must(app.CreateCampaign(ctx, m("campaign"), commands.CreateCampaign{Name: "Spring launch", AgentID: agentID,
		Channel: campaign.Channel("email"), StartsAt: &start}))
	fx.contentID = must(app.AddCampaignContent(ctx, m("content"), fx.campaignID, commands.AddCampaignContent{Title: "Teaser", Body: "Soon."}))
	// An approved item in an active campaign: publishing it succeeds.
	must(app.ApproveCampaignContent(ctx, m("approve"), fx.campaignID, fx.contentID, nil))
	for _, to := range []campaign.Status{campaign.Scheduled, campaign.Active} {
		must(app.ChangeCampaignStatus(ctx, m("status/"+string(to)), fx.campaignID, commands.ChangeCampaignStatus{To: to}))
	}
	// The campaign routes target a draft (an active campaign takes no
	// edits); the content item routes the active one.
	draftID := must(app.CreateCampaign(ctx, m("draft"), commands.CreateCampaign{Name: "Autumn", AgentID: agentID,
		Channel: campaign.Channel("social"), StartsAt: &start}))
	chunkID := must(app.CreateKnowledgeChunk(ctx, m("chunk"), commands.CreateKnowledgeChunk{AgentID: agentID, Title: "Printers",
		Content: "Turn it off and on again."}))
	system := commands.Meta{Principal: domain.SystemPrincipal("fixture", companyID), CommandID: "fixture/notification"}
	notificationID := must(app.CreateNotification(ctx, system, commands.CreateNotification{UserID: adminID,
		Kind: notification.TicketAssigned, Subject: "tickets", SubjectID: ticketID, Title: "Printer on fire was assigned to you"}))
	fx.ids = map[string]string{"companies": companyID, "users": writerID, "tickets": ticketID,
		"agents": agentID, "campaigns": draftID, "knowledge_chunks": chunkID, "notifications": notificationID}
	return fx
}

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func (fx *fixture) app(tb testing.TB, store eventstore.Store) *commands.App {
	tb.Helper()
	app, err := commands.New(commands.Config{Store: store, Hasher: plainHasher{}, Now: func() time.Time { return fixedNow }, CacheSize: -1, PII: fakePII{}})
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// router serves the write routes on store, as the family's user: the
// superadmin for companies, the company's admin for the rest. onError,
// if set, sees every error before the API's mapping answers it.
func (fx *fixture) router(tb testing.TB, family string, store eventstore.Store, onError func(error)) http.Handler {
	tb.Helper()
	p := fx.admin
	if family == "companies" {
		p = fx.superadmin
	}
	h, err := New(Config{
		App: fx.app(tb, store), Records: fakeRecords{}, Inbox: fakeRecords{}, Sealer: fakeSealer{},
		Principal: func(ctx context.Context) (domain.Principal, bool) {
			// Only a superadmin forgets a user.
			if rc := chi.RouteContext(ctx); rc != nil && strings.HasSuffix(rc.RoutePattern(), "/forget") {
				return fx.superadmin, true
			}
			return p, true
		},
		WriteError: func(w http.ResponseWriter, r *http.Request, err error) {
			if onError != nil {
				onError(err)
			}
			readapi.WriteError(discard, w, r, err)
		},
		Logger: discard,
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := chi.NewRouter()
	h.Mount(r)
	return r
}

// fakePII seals by a prefix: the fixture only needs personal data that
// round-trips and users that can be forgotten.
type fakePII struct{}

func (fakePII) Seal(_ context.Context, _, v string) (string, error) { return "sealed:" + v, nil }
func (fakePII) Open(_ context.Context, _, v string) (string, error) {
	return strings.TrimPrefix(v, "sealed:"), nil
}
func (fakePII) Forget(context.Context, string) error { return nil }

// path fills a route's parameters with the fixture's records.
func (fx *fixture) path(family, pattern string) string {
	if strings.Contains(pattern, "{campaign_id}") || strings.HasPrefix(pattern, "/api/campaign_content/") {
		return strings.NewReplacer("{campaign_id}", fx.campaignID, "{id}", fx.contentID).Replace(pattern)
	}
	return strings.NewReplacer("{id}", fx.ids[family], "{type}", "wordpress").Replace(pattern)
}

// checkRoute sends body to the route on a fresh copy of the fixture.
func (tg *target) checkRoute(t *testing.T, rt fuzzRoute, body []byte) {
	store := tg.fx.base.clone()
	tg.store.memStore, tg.failure = store, nil
	path := tg.fx.path(tg.family, rt.pattern)
	req := httptest.NewRequest(rt.method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	before := store.count()
	tg.router.ServeHTTP(rec, req)
	status, failure := rec.Code, tg.failure

	if failure != nil || status >= 500 || status < 200 {
		t.Fatalf("%s %s with %q: got %d %s (%v), want no server error", rt.method, path, body, status, rec.Body, failure)
	}
	if status >= 300 {
		var p readapi.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Detail == "" {
			t.Fatalf("%s %s with %q: got %d %s, want an error with a detail", rt.method, path, body, status, rec.Body)
		}
		return
	}
	if msg := badText(body); msg != "" {
		t.Fatalf("%s %s with %q: got %d, want refused: the body holds %s", rt.method, path, body, status, msg)
	}
	for _, ev := range store.since(before) {
		if msg := badText(ev.Data); msg != "" {
			t.Fatalf("%s %s with %q recorded %s %s with %s", rt.method, path, body, ev.Type, ev.Data, msg)
		}
	}
}

// badText is the oracle of the text rule: it decodes a whole JSON body
// with encoding/json, independently of scanBody, and describes the first
// string (key or value) that breaks the rule, or returns "". Invalid
// UTF-8 is judged on the raw bytes, since decoding hides it.
func badText(body []byte) string {
	if !utf8.Valid(body) {
		return "invalid UTF-8"
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return "" // not JSON: nothing to judge (a 2xx is then the bug)
	}
	var walk func(v any, key string) string
	walk = func(v any, key string) string {
		switch v := v.(type) {
		case string:
			for _, r := range v {
				lineBreak := r == '\t' || r == '\n' || r == '\r'
				if r < 0x20 && !(lineBreak && multiLine[key]) || r >= 0x7f && r <= 0x9f {
					return "a control character in " + key
				}
				if r == utf8.RuneError && !strings.Contains(string(body), "\ufffd") && !strings.Contains(strings.ToLower(string(body)), `\ufffd`) {
					return "a replaced character in " + key
				}
			}
		case []any:
			for _, e := range v {
				if msg := walk(e, key); msg != "" {
					return msg
				}
			}
		case map[string]any:
			for k, e := range v {
				if msg := walk(k, ""); msg != "" {
					return "a bad key"
				}
				if msg := walk(e, k); msg != "" {
					return msg
				}
			}
		}
		return ""
	}
	return walk(v, "")
}

// TestFuzzCoversEveryRoute: every route that reads a body is in the fuzz
// table, with the family it is served by. DELETE reads no body.
func TestFuzzCoversEveryRoute(t *testing.T) {
	fx := newFixture(t)
	var mounted, listed []string
	err := chi.Walk(fx.router(t, "tickets", newMemStore(), nil).(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodDelete {
			mounted = append(mounted, method+" "+route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, routes := range fuzzFamilies {
		for _, rt := range routes {
			listed = append(listed, rt.method+" "+rt.pattern)
		}
	}
	slices.Sort(mounted)
	slices.Sort(listed)
	if !slices.Equal(mounted, listed) {
		t.Fatalf("mounted routes with a body:\n%s\nwant the fuzz table:\n%s", strings.Join(mounted, "\n"), strings.Join(listed, "\n"))
	}
}

// TestFuzzSeedsReachTheCommands: every route that reads a body has a
// realistic seed in its family's corpus (a file named after the route),
// and it succeeds on the fixture, so the fuzz targets start from bodies
// that reach the commands and not only the decoding.
func TestFuzzSeedsReachTheCommands(t *testing.T) {
	fx := newFixture(t)
	for family, routes := range fuzzFamilies {
		target := map[string]string{"companies": "FuzzCompanyBodies", "users": "FuzzUserBodies", "tickets": "FuzzTicketBodies",
			"agents": "FuzzAgentBodies", "campaigns": "FuzzCampaignBodies", "knowledge_chunks": "FuzzKnowledgeBodies",
			"notifications": "FuzzNotificationBodies"}[family]
		for _, rt := range routes {
			if rt.body == nil {
				continue
			}
			t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
				body := readSeed(t, filepath.Join("testdata", "fuzz", target, seedName(rt)))
				rec := httptest.NewRecorder()
				fx.router(t, family, fx.base.clone(), nil).ServeHTTP(rec, httptest.NewRequest(rt.method, fx.path(family, rt.pattern), bytes.NewReader(body)))
				if rec.Code != http.StatusOK && rec.Code != http.StatusCreated && rec.Code != http.StatusAccepted {
					t.Fatalf("%s: got %d %s, want success", body, rec.Code, rec.Body)
				}
			})
		}
	}
}

// seedName is the corpus file of a route's realistic body:
// "realistic-PUT-api-tickets-id".
func seedName(rt fuzzRoute) string {
	name := strings.NewReplacer("/", "-", "{", "", "}", "").Replace(rt.pattern)
	return "realistic-" + rt.method + name
}

// readSeed reads a corpus file of one []byte, in go test's format.
func readSeed(tb testing.TB, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	header, value, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	lit, ok := strings.CutPrefix(value, "[]byte(")
	if header != "go test fuzz v1" || !ok || !strings.HasSuffix(lit, ")") {
		tb.Fatalf("%s: not a corpus file of one []byte", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// plainHasher stands in for bcrypt: fuzzing measures the code, not the
// hash function.
type plainHasher struct{}

func (plainHasher) Hash(pw string) (string, error) { return "plain:" + pw, nil }
func (plainHasher) Verify(hash, pw string) bool    { return hash == "plain:"+pw }

// fakeSealer seals visibly and opaquely enough for the event log.
type fakeSealer struct{}

func (fakeSealer) Seal(plaintext string) (string, error) {
	return "sealed:" + uuid.NewSHA1(uuid.Nil, []byte(plaintext)).String(), nil
}

// fakeRecords answers a record with just its id and revision: the fuzz
// targets check writes, not the read models.
type fakeRecords struct{}

func (fakeRecords) Record(_ context.Context, _ domain.Principal, _, id string, _ eventstore.Position) (json.RawMessage, error) {
	return json.Marshal(map[string]any{"id": id, "revision": 0})
}
func (fakeRecords) Await(context.Context, string, eventstore.Position) error { return nil }
func (fakeRecords) AwaitRevision(context.Context, string, string, uint64) error {
	return nil
}

// UnreadNotifications lists none: the fuzz targets check the bodies of
// read_all, not what it marks.
func (fakeRecords) UnreadNotifications(context.Context, domain.Principal, string, int) ([]string, error) {
	return nil, nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// memStore is an in-memory event store with what the command pipeline
// uses (Append with expected revisions and retries, ReadStream), for
// fuzzing: an input runs on a copy of the fixture in microseconds. It is
// a test double, not a Store: the rest of the contract is not there.
type memStore struct {
	mu      sync.Mutex
	streams map[string][]eventstore.RecordedEvent
	log     []eventstore.RecordedEvent
}

func newMemStore() *memStore { return &memStore{streams: map[string][]eventstore.RecordedEvent{}} }

// clone returns an independent copy: appends to either do not show in
// the other.
func (s *memStore) clone() *memStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &memStore{streams: make(map[string][]eventstore.RecordedEvent, len(s.streams)), log: slices.Clip(s.log)}
	for k, v := range s.streams {
		c.streams[k] = slices.Clip(v)
	}
	return c
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

func (s *memStore) since(n int) []eventstore.RecordedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log[n:])
}

func (s *memStore) Append(_ context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.streams[stream]
	// A retry: the same ids already at the end the first attempt expected.
	if len(events) > 0 {
		if i := slices.IndexFunc(cur, func(e eventstore.RecordedEvent) bool { return e.ID == events[0].ID }); i >= 0 && i+len(events) <= len(cur) {
			last := cur[i+len(events)-1]
			return eventstore.AppendResult{NextRevision: last.Revision, Position: last.Position}, nil
		}
	}
	if !expected.Matches(uint64(len(cur))-1, len(cur) > 0) {
		return eventstore.AppendResult{}, eventstore.ErrWrongExpectedRevision
	}
	var res eventstore.AppendResult
	for _, e := range events {
		if e.ID == "" || e.Type == "" || !json.Valid(e.Data) {
			return eventstore.AppendResult{}, eventstore.ErrInvalidEvent
		}
	}
	for _, e := range events {
		pos := uint64(len(s.log) + 1)
		rec := eventstore.RecordedEvent{ID: e.ID, StreamID: stream, Revision: uint64(len(cur)), Position: eventstore.Position{Commit: pos, Prepare: pos},
			Type: e.Type, SchemaVersion: max(e.SchemaVersion, 1), Data: e.Data, Metadata: e.Metadata}
		cur = append(cur, rec)
		s.log = append(s.log, rec)
		res = eventstore.AppendResult{NextRevision: rec.Revision, Position: rec.Position}
	}
	s.streams[stream] = cur
	return res, nil
}

func (s *memStore) ReadStream(_ context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eventstore.RecordedEvent
	for _, e := range s.streams[stream] {
		if e.Revision >= from && (limit <= 0 || len(out) < limit) {
			e.Position = eventstore.Start // a stream read promises none
			out = append(out, e)
		}
	}
	return out, nil
}

var errNotInFake = errors.New("not in the in-memory test store")

func (s *memStore) ReadStreamBackward(context.Context, string, uint64, int) ([]eventstore.RecordedEvent, error) {
	return nil, errNotInFake
}
func (s *memStore) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Start, errNotInFake
}
func (s *memStore) Subscribe(context.Context, eventstore.Position, eventstore.Filter) (eventstore.Subscription, error) {
	return nil, errNotInFake
}
func (s *memStore) Close() error { return nil }
