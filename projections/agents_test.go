package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/domaintest"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// appendAt appends domain events to stream, recorded at the given time in
// company companyID.
func appendAt(tb testing.TB, es eventstore.Store, stream string, expected eventstore.ExpectedRevision, companyID string, at time.Time, evs ...domain.Event) eventstore.AppendResult {
	tb.Helper()
	data := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		raw, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		data[i] = eventstore.EventData{ID: uuid.NewString(), Type: e.EventType(), SchemaVersion: 1, Data: raw,
			Metadata: eventstore.Metadata{CompanyID: companyID, ActorID: "u1", RecordedAt: at}}
	}
	res, err := es.Append(context.Background(), stream, expected, data)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// runProjectors runs projectors until the returned stop is called, reading
// up to batch events at a time.
func runProjectors(tb testing.TB, s stores, batch int, ps ...projections.Projector) (*projections.Runner, func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := projections.New(ctx, projections.Config{Events: s.es, Reads: s.rs, Projectors: ps, BatchSize: batch})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	return r, func() { cancel(); <-done }
}

// readDoc returns the document id of collection, decoded into a D, after
// checking its JSON against the resource's declared fields; ok is false
// if there is none.
func readDoc[D any](tb testing.TB, rs readstore.Store, r *resource.Resource, id string) (doc D, ok bool) {
	tb.Helper()
	d, err := rs.Get(context.Background(), r.CollectionName(), id)
	if errors.Is(err, readstore.ErrNotFound) {
		return doc, false
	}
	if err != nil {
		tb.Fatalf("get %s/%s: %v", r.CollectionName(), id, err)
	}
	checkDeclared(tb, r, d.Data)
	if err := json.Unmarshal(d.Data, &doc); err != nil {
		tb.Fatal(err)
	}
	return doc, true
}

// mustDoc is readDoc for a document that must exist.
func mustDoc[D any](tb testing.TB, rs readstore.Store, r *resource.Resource, id string) D {
	tb.Helper()
	doc, ok := readDoc[D](tb, rs, r, id)
	if !ok {
		tb.Fatalf("%s/%s: not found, want a document", r.CollectionName(), id)
	}
	return doc
}

// checkDeclared fails unless raw carries an id, a revision (unless r's
// records are derived from many streams) and every field r declares,
// each with the JSON type of its kind (null meaning not set): the read
// store indexes and compares fields by these types.
func checkDeclared(tb testing.TB, r *resource.Resource, raw []byte) {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	if id, ok := m["id"].(string); !ok || id == "" {
		tb.Errorf("%s %s: id is %#v, want a string", r.Name, raw, m["id"])
	}
	if _, ok := m["revision"].(float64); !ok && !r.Derived {
		tb.Errorf("%s %s: revision is %#v, want a number", r.Name, raw, m["revision"])
	}
	for _, f := range r.Fields {
		v, ok := m[f.Name]
		if !ok {
			tb.Errorf("%s %s: no field %s", r.Name, raw, f.Name)
			continue
		}
		if v == nil {
			continue
		}
		good := false
		switch f.Kind {
		case resource.Text:
			_, good = v.(string)
		case resource.Number:
			_, good = v.(float64)
		case resource.Bool:
			_, good = v.(bool)
		case resource.Time:
			s, isString := v.(string)
			_, err := time.Parse(time.RFC3339, s)
			good = isString && err == nil
		case resource.Enum:
			s, isString := v.(string)
			good = isString && slices.Contains(f.Values, s)
		case resource.TextList:
			list, isList := v.([]any)
			good = isList
			for _, e := range list {
				if _, isString := e.(string); !isString {
					good = false
				}
			}
		}
		if !good {
			tb.Errorf("%s: field %s is %#v, not of its declared kind %d", r.Name, f.Name, v, f.Kind)
		}
	}
}

const (
	shopSecret agent.Sealed = "sealed:shop-credential-1"
	siteSecret agent.Sealed = "sealed:site-credential-2"
	newSecret  agent.Sealed = "sealed:shop-credential-3"
)

// No agent document ever holds a credential, sealed or not, whatever
// events brought it there.
func assertNoCredential(tb testing.TB, rs readstore.Store) {
	tb.Helper()
	docs, _, err := rs.Query(context.Background(), projections.Agents, readstore.Query{})
	if err != nil {
		tb.Fatal(err)
	}
	if len(docs) == 0 {
		tb.Fatal("no agent documents to check")
	}
	for _, d := range docs {
		for _, secret := range []agent.Sealed{shopSecret, siteSecret, newSecret} {
			if strings.Contains(string(d.Data), string(secret)) {
				tb.Fatalf("agent %s holds a sealed credential: %s", d.ID, d.Data)
			}
		}
		if strings.Contains(string(d.Data), `"credential"`) {
			tb.Fatalf("agent %s has a credential field: %s", d.ID, d.Data)
		}
	}
}

func TestAgentsReadModel(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	r, stop := runProjectors(t, s, 3, projections.AgentsProjector())
	defer stop()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	id, other := uuid.NewString(), uuid.NewString()
	shop := agent.Integration{ID: uuid.NewString(), Type: agent.Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2025-01", Credential: shopSecret, CredentialSet: true}
	site := agent.Integration{ID: uuid.NewString(), Type: agent.WordPress, SiteURL: "https://blog.example.com", Credential: siteSecret, CredentialSet: true}
	appendAt(t, s.es, agent.Stream(other), eventstore.NoStream, "c2", at(0), &agent.Created{AgentID: other, CompanyID: "c2", Name: "other", Model: "m", Temperature: 0.7, MaxTokens: 10})
	res := appendAt(t, s.es, agent.Stream(id), eventstore.NoStream, "c1", at(0), &agent.Created{
		AgentID: id, CompanyID: "c1", Name: "Support", Description: "answers", SystemPrompt: "be kind", Model: "gpt-4o",
		Temperature: 0.7, MaxTokens: 1024, Integrations: []agent.Integration{shop, site},
	})
	// The event store does hold the sealed credential: the read model must drop it.
	if evs, err := s.es.ReadStream(context.Background(), agent.Stream(id), 0, 1); err != nil || !strings.Contains(string(evs[0].Data), string(shopSecret)) {
		t.Fatalf("the created event should carry the sealed credential: %v", err)
	}
	waitForProjection(t, r, projections.Agents, res.Position)
	got := mustDoc[projections.Agent](t, s.rs, resource.Agents, id)
	want := projections.Agent{
		ID: id, CompanyID: "c1", Name: "Support", Description: "answers", SystemPrompt: "be kind", Model: "gpt-4o",
		Temperature: 0.7, MaxTokens: 1024, Status: "active", CreatedAt: at(0), UpdatedAt: at(0), Revision: 0,
		Integrations: []projections.AgentIntegration{
			{ID: shop.ID, Type: "shopify", ShopDomain: "acme.myshopify.com", APIVersion: "2025-01", CredentialSet: true},
			{ID: site.ID, Type: "wordpress", SiteURL: "https://blog.example.com", CredentialSet: true},
		},
	}
	if !agentsEqual(got, want) {
		t.Fatalf("created: got %+v, want %+v", got, want)
	}
	assertNoCredential(t, s.rs)

	// An update replaces the integrations: a new credential for the shop,
	// none for a site; a zero temperature is a value.
	shop.Credential = newSecret
	bare := agent.Integration{ID: uuid.NewString(), Type: agent.WordPress, SiteURL: "https://www.example.com"}
	res = appendAt(t, s.es, agent.Stream(id), eventstore.Exact(0), "c1", at(1), &agent.Updated{
		Name: domaintest.Ptr("Support bot"), Temperature: domaintest.Ptr(0.0), MaxTokens: domaintest.Ptr(2048),
		Integrations: &[]agent.Integration{shop, bare},
	})
	waitForProjection(t, r, projections.Agents, res.Position)
	got = mustDoc[projections.Agent](t, s.rs, resource.Agents, id)
	want.Name, want.Temperature, want.MaxTokens, want.UpdatedAt, want.Revision = "Support bot", 0, 2048, at(1), 1
	want.Integrations = []projections.AgentIntegration{want.Integrations[0], {ID: bare.ID, Type: "wordpress", SiteURL: "https://www.example.com"}}
	if !agentsEqual(got, want) {
		t.Fatalf("updated: got %+v, want %+v", got, want)
	}
	assertNoCredential(t, s.rs)

	res = appendAt(t, s.es, agent.Stream(id), eventstore.Exact(1), "c1", at(2), &agent.Deactivated{})
	waitForProjection(t, r, projections.Agents, res.Position)
	got = mustDoc[projections.Agent](t, s.rs, resource.Agents, id)
	if got.Status != "inactive" || got.Revision != 2 || !got.UpdatedAt.Equal(at(2)) || !got.CreatedAt.Equal(at(0)) {
		t.Fatalf("deactivated: got status %s revision %d updated %v created %v, want inactive, 2, %v, %v", got.Status, got.Revision, got.UpdatedAt, got.CreatedAt, at(2), at(0))
	}
	res = appendAt(t, s.es, agent.Stream(id), eventstore.Exact(2), "c1", at(3), &agent.Activated{}, &agent.Updated{Integrations: &[]agent.Integration{}})
	waitForProjection(t, r, projections.Agents, res.Position)
	got = mustDoc[projections.Agent](t, s.rs, resource.Agents, id)
	if got.Status != "active" || got.Revision != 4 || got.Integrations == nil || len(got.Integrations) != 0 {
		t.Fatalf("activated, integrations cleared: got status %s revision %d integrations %#v, want active, 4, []", got.Status, got.Revision, got.Integrations)
	}
	assertNoCredential(t, s.rs)

	res = appendAt(t, s.es, agent.Stream(id), eventstore.Exact(4), "c1", at(4), &agent.Deleted{})
	waitForProjection(t, r, projections.Agents, res.Position)
	if _, ok := readDoc[projections.Agent](t, s.rs, resource.Agents, id); ok {
		t.Fatal("deleted agent still in the read model")
	}
	if o := mustDoc[projections.Agent](t, s.rs, resource.Agents, other); o.CompanyID != "c2" || o.Name != "other" {
		t.Fatalf("other agent: got %+v", o)
	}
}

func agentsEqual(a, b projections.Agent) bool {
	return a.ID == b.ID && a.CompanyID == b.CompanyID && a.Name == b.Name && a.Description == b.Description &&
		a.SystemPrompt == b.SystemPrompt && a.Model == b.Model && a.Temperature == b.Temperature && a.MaxTokens == b.MaxTokens &&
		a.Status == b.Status && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) && a.Revision == b.Revision &&
		slices.Equal(a.Integrations, b.Integrations)
}

// replayTail folds every event p reads from the store with p and applies
// the writes, then folds and applies its events from index from on again,
// as the runner does when a batch was cut short after its writes landed:
// the second pass must succeed and change nothing.
func replayTail(tb testing.TB, s stores, p projections.Projector, from int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.rs.Ensure(ctx, p.Collection()); err != nil {
		tb.Fatal(err)
	}
	sub, err := s.es.Subscribe(ctx, eventstore.Start, p.Filter())
	if err != nil {
		tb.Fatal(err)
	}
	defer sub.Close()
	var mine []eventstore.RecordedEvent
	for {
		b, err := sub.Next(ctx, 0)
		if err != nil {
			tb.Fatal(err)
		}
		mine = append(mine, b.Events...)
		if b.CaughtUp {
			break
		}
	}
	if from >= len(mine) {
		tb.Fatalf("%s read %d events, want more than %d", p.Name(), len(mine), from)
	}
	snapshot := func() []readstore.Doc {
		docs, _, err := s.rs.Query(ctx, p.Collection().Name, readstore.Query{})
		if err != nil {
			tb.Fatal(err)
		}
		return docs
	}
	fold := func(evs []eventstore.RecordedEvent) {
		tb.Helper()
		writes, err := p.Fold(ctx, s.rs, evs)
		if err != nil {
			tb.Fatalf("fold %d events: %v", len(evs), err)
		}
		if err := s.rs.Apply(ctx, readstore.Batch{Writes: writes}); err != nil {
			tb.Fatal(err)
		}
	}
	fold(mine)
	before := snapshot()
	fold(mine[from:])
	after := snapshot()
	if len(after) != len(before) {
		tb.Fatalf("%s: replaying the tail left %d documents, want %d", p.Name(), len(after), len(before))
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Version != before[i].Version || string(after[i].Data) != string(before[i].Data) {
			tb.Fatalf("%s: replaying the tail changed %s: got %s, want %s", p.Name(), after[i].ID, after[i].Data, before[i].Data)
		}
	}
}

// A batch cut short after an agent's deletion landed is applied again
// without error, and the agent stays gone.
func TestAgentsReplayAfterDeletion(t *testing.T) {
	s := openStores(t, t.TempDir())
	defer s.close()
	id := uuid.NewString()
	appendAt(t, s.es, agent.Stream(id), eventstore.NoStream, "c1", time.Now().UTC(),
		&agent.Created{AgentID: id, CompanyID: "c1", Name: "a", Model: "m"}, &agent.Deactivated{}, &agent.Deleted{})
	replayTail(t, s, projections.AgentsProjector(), 1)
	if _, ok := readDoc[projections.Agent](t, s.rs, resource.Agents, id); ok {
		t.Fatal("deleted agent came back after a replay")
	}
}
