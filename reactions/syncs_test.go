package reactions_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/syncrun"
	"agentdesk/eventstore"
	"agentdesk/reactions"
)

// plainOpener opens what the tests seal as "sealed:" + plaintext.
type plainOpener struct{}

func (plainOpener) Open(sealed string) (string, error) {
	plain, ok := strings.CutPrefix(sealed, "sealed:")
	if !ok {
		return "", errors.New("not sealed here")
	}
	return plain, nil
}

// scriptedSource answers a listing, or an error, and records the marks
// and credentials it was asked with.
type scriptedSource struct {
	mu      sync.Mutex
	listing reactions.SyncListing
	err     error
	asked   []string // credential + " since " + mark
}

func (s *scriptedSource) Read(_ context.Context, _ agent.Integration, credential, since string) (reactions.SyncListing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, credential+" since "+since)
	return s.listing, s.err
}

// crashing fails RecordSyncItems while crash is set, as a process that
// dies after writing chunks and before recording them would.
type crashing struct {
	*commands.App
	crash bool
}

func (c *crashing) RecordSyncItems(ctx context.Context, m commands.Meta, agentID string, in syncrun.RecordCmd) (commands.Result, error) {
	if c.crash {
		return commands.Result{}, errors.New("crash")
	}
	return c.App.RecordSyncItems(ctx, m, agentID, in)
}

type syncWorld struct {
	*world
	admin   commands.Meta
	agentID string
	source  *scriptedSource
	cmds    *crashing
	handle  func(ctx context.Context, ev eventstore.RecordedEvent) error
}

func newSyncWorld(t *testing.T) *syncWorld {
	t.Helper()
	w := newWorld(t)
	_, admin := w.company(t, "acme")
	sealed := agent.Sealed("sealed:shpat_1")
	ag, err := w.app.CreateAgent(context.Background(), admin, commands.CreateAgent{Name: "Shop bot", Model: "gpt-4o-mini",
		Integrations: []agent.IntegrationInput{{Type: agent.Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2025-01", Credential: &sealed}}})
	if err != nil {
		t.Fatal(err)
	}
	src := &scriptedSource{}
	cmds := &crashing{App: w.app}
	r, err := reactions.Syncs(reactions.SyncConfig{Commands: cmds, Opener: plainOpener{}, Sources: map[agent.IntegrationType]reactions.SyncSource{agent.Shopify: src}})
	if err != nil {
		t.Fatal(err)
	}
	return &syncWorld{world: w, admin: admin, agentID: ag.ID, source: src, cmds: cmds, handle: r.Handle}
}

// start starts a run and returns its sync.started event.
func (w *syncWorld) start(t *testing.T) eventstore.RecordedEvent {
	t.Helper()
	if _, err := w.app.StartSync(context.Background(), w.admin, w.agentID, agent.Shopify); err != nil {
		t.Fatal(err)
	}
	evs := w.find(t, syncrun.TypeStarted)
	return evs[len(evs)-1]
}

func items(ids ...string) []reactions.SyncItem {
	out := make([]reactions.SyncItem, len(ids))
	for i, id := range ids {
		out[i] = reactions.SyncItem{RemoteID: id, Title: "Item " + id, Content: "About " + id}
	}
	return out
}

// TestSyncResumesAfterACrash: a run that wrote chunks and died before
// recording them is handled again (its sync.started is redelivered), and
// it finishes with every item counted once and no chunk written twice.
// A third delivery of the finished run does nothing.
func TestSyncResumesAfterACrash(t *testing.T) {
	w := newSyncWorld(t)
	w.source.listing = reactions.SyncListing{Changed: items("a", "b", "c"), IDs: []string{"a", "b", "c"}, Mark: "m1"}
	ev := w.start(t)
	w.cmds.crash = true
	if err := w.handle(context.Background(), ev); err == nil {
		t.Fatal("got no error from the crashed run, want one (so that it is delivered again)")
	}
	w.cmds.crash = false
	for range 2 {
		if err := w.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.count(t, "knowledge.created"); got != 3 {
		t.Fatalf("got %d chunks created, want 3", got)
	}
	fin := w.find(t, syncrun.TypeFinished)
	if len(fin) != 1 || !strings.Contains(string(fin[0].Data), `"added":3`) || !strings.Contains(string(fin[0].Data), `"mark":"m1"`) {
		t.Fatalf("finished: got %v, want one with 3 added and the mark", fin)
	}
	if got := w.source.asked; len(got) != 2 || got[0] != "shpat_1 since " {
		t.Fatalf("source asked %v, want twice from the start with the opened credential", got)
	}

	// The next run reads from the mark; an item gone is removed, a
	// changed one updated.
	w.source.listing = reactions.SyncListing{Changed: []reactions.SyncItem{{RemoteID: "b", Title: "Item b", Content: "Now different"}}, IDs: []string{"a", "b"}, Mark: "m2"}
	if err := w.handle(context.Background(), w.start(t)); err != nil {
		t.Fatal(err)
	}
	if got := w.source.asked[2]; got != "shpat_1 since m1" {
		t.Fatalf("second run asked %q, want since m1", got)
	}
	if c, u, d := w.count(t, "knowledge.created"), w.count(t, "knowledge.updated"), w.count(t, "knowledge.deleted"); c != 3 || u != 1 || d != 1 {
		t.Fatalf("got %d created, %d updated, %d deleted; want 3, 1, 1", c, u, d)
	}
	state, err := w.app.SyncState(context.Background(), w.agentID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range state.Integrations {
		if len(it.Known) != 2 || !it.Known["a"] || !it.Known["b"] || it.Running != "" || it.Mark != "m2" {
			t.Fatalf("state: got %+v, want a and b known, nothing running, mark m2", it)
		}
	}
}

// TestSyncFails: a source that fails fails the run with its reason, and
// the next run may start, from the last finished mark.
func TestSyncFails(t *testing.T) {
	w := newSyncWorld(t)
	w.source.err = errors.New("shopify: throttled: HTTP 429 after 6 retries")
	if err := w.handle(context.Background(), w.start(t)); err != nil {
		t.Fatal(err)
	}
	failed := w.find(t, syncrun.TypeFailed)
	if len(failed) != 1 || !strings.Contains(string(failed[0].Data), "HTTP 429 after 6 retries") {
		t.Fatalf("failed: got %v, want the source's reason", failed)
	}
	if _, err := w.app.StartSync(context.Background(), w.admin, w.agentID, agent.Shopify); err != nil {
		t.Fatalf("start after a failure: %v", err)
	}
	if _, err := w.app.StartSync(context.Background(), w.admin, w.agentID, agent.Shopify); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("start while running: got %v, want ErrConflict", err)
	}
}

// TestSyncOfARemovedIntegration fails the run.
func TestSyncOfARemovedIntegration(t *testing.T) {
	w := newSyncWorld(t)
	ev := w.start(t)
	none := []agent.IntegrationInput{}
	if _, err := w.app.UpdateAgent(context.Background(), w.admin, w.agentID, commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Integrations: &none}}); err != nil {
		t.Fatal(err)
	}
	if err := w.handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if failed := w.find(t, syncrun.TypeFailed); len(failed) != 1 || !strings.Contains(string(failed[0].Data), "integration was removed") {
		t.Fatalf("failed: got %v", failed)
	}
	if len(w.source.asked) != 0 {
		t.Fatalf("the source was asked %v, want never", w.source.asked)
	}
}
