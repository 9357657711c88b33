package reactions_test

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
	"agentdesk/reactions"
	"agentdesk/reactions/reactionstest"
)

// memCheckpoints and memParking keep the reactions' own state in memory;
// the server keeps them in the read store (see cmd/agentdesk).
type memCheckpoints struct {
	mu  sync.Mutex
	pos map[string]eventstore.Position
}

func (m *memCheckpoints) LoadCheckpoint(_ context.Context, name string) (eventstore.Position, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos[name], nil
}

func (m *memCheckpoints) SaveCheckpoint(_ context.Context, name string, p eventstore.Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos == nil {
		m.pos = map[string]eventstore.Position{}
	}
	if p.Compare(m.pos[name]) > 0 {
		m.pos[name] = p
	}
	return nil
}

type memParking struct {
	mu     sync.Mutex
	parked map[string]reactions.Parked
}

func (m *memParking) Park(_ context.Context, p reactions.Parked) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.parked == nil {
		m.parked = map[string]reactions.Parked{}
	}
	m.parked[p.ID] = p
	return nil
}

func (m *memParking) Parked(_ context.Context, id string) (reactions.Parked, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.parked[id]
	if !ok {
		return reactions.Parked{}, reactions.ErrNotParked
	}
	return p, nil
}

func (m *memParking) Unpark(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.parked, id)
	return nil
}

func (m *memParking) CountParked(_ context.Context, reaction string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.parked {
		if p.Reaction == reaction {
			n++
		}
	}
	return n, nil
}

func (m *memParking) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.parked {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// running is a Service running until stop.
type running struct {
	svc  *reactions.Service
	stop func()
}

func start(t testing.TB, cfg reactions.Config) *running {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := reactions.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("reactions: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &running{svc: svc, stop: stop}
}

// offboarded sets up a company with users and agents... and deletes it.
func offboarded(t testing.TB, w *world, name string, users int) (companyID string) {
	t.Helper()
	companyID, admin := w.company(t, name)
	for i := range users {
		w.user(t, admin, name+"-u"+string(rune('a'+i)), domain.ContentWriter)
	}
	if _, err := w.app.DeleteCompany(context.Background(), w.root, companyID); err != nil {
		t.Fatal(err)
	}
	return companyID
}

// TestRedeliveryAppendsNothingTwice: a handler that fails after its
// commands went through (as if killed before its acknowledgement) runs
// again, on a retry and after a restart, and appends nothing twice.
func TestRedeliveryAppendsNothingTwice(t *testing.T) {
	w := newWorld(t)
	offboarded(t, w, "acme", 3) // 4 users with the admin
	inner := reactions.Offboarding(w.events, w.app)
	var calls atomic.Int32
	crash := inner
	crash.Handle = func(ctx context.Context, ev eventstore.RecordedEvent) error {
		if err := inner.Handle(ctx, ev); err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			return errors.New("killed after the commands, before the ack")
		}
		return nil
	}
	cps := &memCheckpoints{}
	r := start(t, reactions.Config{Events: w.events, Checkpoints: cps, Parking: &memParking{}, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{crash}, RetryInterval: time.Millisecond})
	eventually(t, "the retry", func() bool { return calls.Load() >= 2 })
	if n := w.count(t, user.TypeDeactivated); n != 4 {
		t.Fatalf("after a retry: %d users deactivated, want 4, once each", n)
	}
	r.stop()

	// A process that dies before its checkpoint is stored: the next one
	// delivers the deletion again.
	restarted := &memCheckpoints{}
	var again atomic.Int32
	replay := inner
	replay.Handle = func(ctx context.Context, ev eventstore.RecordedEvent) error {
		again.Add(1)
		return inner.Handle(ctx, ev)
	}
	start(t, reactions.Config{Events: w.events, Checkpoints: restarted, Parking: &memParking{}, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{replay}})
	eventually(t, "the redelivery", func() bool { return again.Load() >= 1 })
	if n := w.count(t, user.TypeDeactivated); n != 4 {
		t.Fatalf("after a redelivery: %d users deactivated, want 4", n)
	}
	for _, ev := range w.find(t, user.TypeDeactivated) {
		if ev.Metadata.ActorID != "system:"+reactions.OffboardingName || ev.Metadata.CausationID == "" {
			t.Errorf("deactivated by %q caused by %q: want the offboarding, caused by the deletion", ev.Metadata.ActorID, ev.Metadata.CausationID)
		}
	}
}

// TestPoisonIsParkedAndReplayed: a message that fails past its retries is
// parked, counted in the status, and replayed once the fault is gone.
func TestPoisonIsParkedAndReplayed(t *testing.T) {
	w := newWorld(t)
	offboarded(t, w, "acme", 1)
	inner := reactions.Offboarding(w.events, w.app)
	var broken atomic.Bool
	broken.Store(true)
	var tries atomic.Int32
	flaky := inner
	flaky.Handle = func(ctx context.Context, ev eventstore.RecordedEvent) error {
		tries.Add(1)
		if broken.Load() {
			panic("the directory is down") // Recoverer turns it into an error
		}
		return inner.Handle(ctx, ev)
	}
	parking := &memParking{}
	r := start(t, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: parking, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{flaky}, MaxRetries: 2, RetryInterval: time.Millisecond})
	eventually(t, "the message to be parked", func() bool { return len(parking.ids()) == 1 })
	if got := tries.Load(); got != 3 {
		t.Errorf("tried %d times, want 3 (once and 2 retries)", got)
	}
	st, err := r.svc.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Parked != 1 || st[0].Checkpoint == "" {
		t.Fatalf("status %+v: want one reaction, one parked, a checkpoint", st)
	}
	id := parking.ids()[0]
	p, _ := parking.Parked(context.Background(), id)
	if p.EventType != "company.deleted" || p.Reaction != reactions.OffboardingName || p.Error == "" {
		t.Fatalf("parked %+v: want the deletion, its reaction and its error", p)
	}
	if n := w.count(t, user.TypeDeactivated); n != 0 {
		t.Fatalf("%d users deactivated while failing", n)
	}

	// Still broken: parked again, with the replay counted.
	res, err := r.svc.Replay(context.Background(), id)
	if err != nil || res.Status != "parked" {
		t.Fatalf("replay while broken: %+v, %v; want parked again", res, err)
	}
	if p, _ := parking.Parked(context.Background(), id); p.Replays != 1 {
		t.Errorf("replays %d, want 1", p.Replays)
	}
	broken.Store(false)
	res, err = r.svc.Replay(context.Background(), id)
	if err != nil || res.Status != "handled" {
		t.Fatalf("replay after the fix: %+v, %v; want handled", res, err)
	}
	if len(parking.ids()) != 0 {
		t.Fatalf("still parked: %v", parking.ids())
	}
	if n := w.count(t, user.TypeDeactivated); n != 2 {
		t.Fatalf("%d users deactivated after the replay, want 2", n)
	}
	if _, err := r.svc.Replay(context.Background(), id); !errors.Is(err, reactions.ErrNotParked) {
		t.Fatalf("replaying it again: %v, want ErrNotParked", err)
	}
}

// TestIdleStatusReachesTheHead: events of other types move a reaction's
// checkpoint in its status at once, though the store is written at most
// once a second for them; an idle reaction shows no lag.
func TestIdleStatusReachesTheHead(t *testing.T) {
	w := newWorld(t)
	offboarded(t, w, "acme", 1)
	cps := &memCheckpoints{}
	frozen := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) // never a second later
	r := start(t, reactions.Config{Events: w.events, Checkpoints: cps, Parking: &memParking{}, PubSub: reactions.NewGoChannel(slog.New(slog.DiscardHandler)),
		Reactions: []reactions.Reaction{reactions.Offboarding(w.events, w.app)}, Now: func() time.Time { return frozen }})
	name := "reaction:" + reactions.OffboardingName
	eventually(t, "the deletion's checkpoint", func() bool {
		cps.mu.Lock()
		defer cps.mu.Unlock()
		return !cps.pos[name].IsZero()
	})
	cps.mu.Lock()
	stored := cps.pos[name]
	cps.mu.Unlock()
	w.company(t, "globex") // events the reaction skips
	head, err := w.events.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if head.Compare(stored) <= 0 {
		t.Fatalf("head %s not past the stored checkpoint %s", head.Key(), stored.Key())
	}
	eventually(t, "the status at the head", func() bool {
		st, err := r.svc.Status(context.Background())
		return err == nil && len(st) == 1 && st[0].Checkpoint == head.Key()
	})
}

// TestNATSTwoProcesses: two reaction processes on one embedded NATS
// JetStream server, each with its own checkpoints, both forwarding every
// event: each event is handled once, by one of them.
func TestNATSTwoProcesses(t *testing.T) {
	url := reactionstest.RunNATS(t)
	w := newWorld(t)
	const companies = 12
	for i := range companies {
		offboarded(t, w, "co"+string(rune('a'+i)), 1)
	}
	inner := reactions.Offboarding(w.events, w.app)
	var mu sync.Mutex
	handled := map[string][]int{}
	proc := func(n int) {
		counted := inner
		counted.Handle = func(ctx context.Context, ev eventstore.RecordedEvent) error {
			mu.Lock()
			handled[ev.ID] = append(handled[ev.ID], n)
			mu.Unlock()
			return inner.Handle(ctx, ev)
		}
		ps, err := reactions.NewNATS(reactions.NATSConfig{URL: url, Group: "test"}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ps.Close() })
		start(t, reactions.Config{Events: w.events, Checkpoints: &memCheckpoints{}, Parking: &memParking{}, PubSub: ps,
			Reactions: []reactions.Reaction{counted}, Shards: 2})
	}
	proc(1)
	proc(2)
	eventually(t, "every deletion to be handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == companies
	})
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	mu.Lock()
	defer mu.Unlock()
	by := map[int]int{}
	for id, who := range handled {
		if len(who) != 1 {
			t.Errorf("event %s handled %d times, by %v", id, len(who), who)
		}
		by[who[0]]++
	}
	t.Logf("handled by process: %v", by)
	if n := w.count(t, user.TypeDeactivated); n != 2*companies {
		t.Fatalf("%d users deactivated, want %d", n, 2*companies)
	}
}
