package reactions_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/eventstore"
	"agentdesk/internal/auth"
)

// world is an event store and the commands over it, on a clock the test
// moves.
type world struct {
	events eventstore.Store
	app    *commands.App
	clock  *fakeClock
	root   commands.Meta
}

func newWorld(t testing.TB) *world {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	clock := newFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	app, err := commands.New(commands.Config{Store: es, Hasher: auth.Bcrypt{Cost: 4}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	root := commands.Meta{Principal: domain.Principal{UserID: "00000000-0000-7000-8000-000000000001", Role: domain.Superadmin}}
	return &world{events: es, app: app, clock: clock, root: root}
}

// company creates a company with an admin and returns their ids and the
// admin's command metadata.
func (w *world) company(t testing.TB, name string) (companyID string, admin commands.Meta) {
	t.Helper()
	ctx := context.Background()
	co, err := w.app.CreateCompany(ctx, w.root, name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := w.app.CreateUser(ctx, w.root, commands.CreateUser{CompanyID: co.ID, Username: name + "-admin", Password: "a-long-password-1", Email: name + "@example.com", FullName: "Admin", Role: domain.CompanyAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return co.ID, commands.Meta{Principal: domain.Principal{UserID: u.ID, CompanyID: co.ID, Role: domain.CompanyAdmin}}
}

// user creates a user of the company admin's company.
func (w *world) user(t testing.TB, admin commands.Meta, username string, role domain.Role) commands.Meta {
	t.Helper()
	u, err := w.app.CreateUser(context.Background(), admin, commands.CreateUser{Username: username, Password: "a-long-password-1", Email: username + "@example.com", FullName: username, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return commands.Meta{Principal: domain.Principal{UserID: u.ID, CompanyID: admin.Principal.CompanyID, Role: role}}
}

// count counts the stored events of type typ.
func (w *world) count(t testing.TB, typ string) int {
	t.Helper()
	return len(w.find(t, typ))
}

// find returns the stored events of type typ.
func (w *world) find(t testing.TB, typ string) []eventstore.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := w.events.Subscribe(ctx, eventstore.Start, eventstore.Filter{Types: []string{typ}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var out []eventstore.RecordedEvent
	for {
		b, err := sub.Next(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Events...)
		if b.CaughtUp {
			return out
		}
	}
}

// eventually polls cond every 10 ms for up to 15 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeClock is a clock moved by Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock by d and wakes whoever waits until then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}
