package commands_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
)

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newApp(t *testing.T) (*commands.App, eventstore.Store) {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	app, err := commands.New(commands.Config{Store: es, Hasher: noHash{}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return app, es
}

func adminOf(company string) commands.Meta {
	return commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.CompanyAdmin}}
}

func TestNewValidates(t *testing.T) {
	if _, err := commands.New(commands.Config{}); err == nil {
		t.Fatal("got nil, want an error naming the missing store and hasher")
	}
}

// Concurrent edits of one ticket: every one either lands or is a conflict,
// and the stream holds exactly the ones that landed — no lost update.
func TestConcurrentUpdatesConflict(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	res, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "race"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed, conflicts := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			title := fmt.Sprintf("title %d", i)
			_, err := app.UpdateTicket(ctx, m, res.ID, commands.UpdateTicket{EditCmd: ticket.EditCmd{Title: &title}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				landed++
			case errors.Is(err, domain.ErrConflict):
				conflicts++
			default:
				t.Errorf("update %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	evs, err := es.ReadStream(ctx, ticket.Stream(res.ID), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if landed == 0 || landed+conflicts != n || len(evs) != 1+landed {
		t.Fatalf("got %d landed, %d conflicts, %d events; want landed+conflicts=%d and events=1+landed", landed, conflicts, len(evs), n)
	}
}

// Metadata comes from the principal and the command, never from input.
func TestMetadataStampedFromPrincipal(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	m := adminOf(company)
	m.CorrelationID = uuid.NewString()
	if _, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "x", CompanyID: uuid.NewString()}); err == nil {
		t.Fatal("a company admin opened a ticket in another company")
	}
	res, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := es.ReadStream(ctx, ticket.Stream(res.ID), 0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %d events (err %v), want 1", len(evs), err)
	}
	md := evs[0].Metadata
	if md.CompanyID != company || md.ActorID != m.Principal.UserID || md.ActorRole != "company_admin" ||
		md.CorrelationID != m.CorrelationID || md.CommandID == "" || md.CausationID != md.CommandID || !md.RecordedAt.Equal(fixedNow) {
		t.Fatalf("got metadata %+v", md)
	}
	if evs[0].Type != ticket.TypeOpened || evs[0].SchemaVersion != 2 {
		t.Fatalf("got type %s v%d, want ticket.opened v2", evs[0].Type, evs[0].SchemaVersion)
	}
}

// A command replayed under the same command id (an Idempotency-Key) does
// not append again: creates resolve to the same aggregate, comments to the
// same event.
func TestSameCommandIDAppendsOnce(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	m.CommandID = commands.IdempotencyKey{Scope: m.Principal.CompanyID, Key: "k1"}.CommandID()
	first, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "once"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := app.OpenTicket(ctx, m, commands.OpenTicket{Title: "once"})
	if err != nil || again.ID != first.ID || again.Revision != first.Revision || again.Changed {
		t.Fatalf("retry: got %+v, %v; want %+v", again, err, first)
	}
	m.CommandID = commands.IdempotencyKey{Scope: m.Principal.CompanyID, Key: "k2"}.CommandID()
	c1, err := app.CommentTicket(ctx, m, first.ID, "hello")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := app.CommentTicket(ctx, m, first.ID, "hello")
	if err != nil || c2.Revision != c1.Revision {
		t.Fatalf("comment retry: got %+v, %v; want revision %d", c2, err, c1.Revision)
	}
	evs, _ := es.ReadStream(ctx, ticket.Stream(first.ID), 0, 0)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2 (opened, commented)", len(evs))
	}
}

func TestUsernamesAreUnique(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	in := commands.CreateUser{Username: "Dana", Password: "long-enough", Role: domain.ContentWriter}
	if _, err := app.CreateUser(ctx, m, in); err != nil {
		t.Fatal(err)
	}
	other := adminOf(uuid.NewString())
	in.Username = "dana"
	_, err := app.CreateUser(ctx, other, in)
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Fields["username"] == "" {
		t.Fatalf("got %v, want a validation error on username", err)
	}
	in.Password = "short"
	in.Username = "erin"
	if _, err := app.CreateUser(ctx, m, in); !errors.As(err, &ve) || ve.Fields["password"] == "" {
		t.Fatalf("got %v, want a validation error on password", err)
	}
}

func TestDeletedUserFreesUsername(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	in := commands.CreateUser{Username: "frank", Password: "long-enough", Role: domain.Client}
	res, err := app.CreateUser(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.DeleteUser(ctx, m, res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := app.CreateUser(ctx, m, in); err != nil {
		t.Fatalf("recreate after delete: %v", err)
	}
}

// Two Apps on one store stand for two server processes: each one's cache
// goes stale when the other appends, and a command decided on a stale
// state is decided again on the stored stream, never appended wrongly.
func TestStaleCacheIsDecidedAgain(t *testing.T) {
	app1, es := newApp(t)
	app2, err := commands.New(commands.Config{Store: es, Hasher: noHash{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	res, err := app1.OpenTicket(ctx, m, commands.OpenTicket{Title: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app1.CommentTicket(ctx, m, res.ID, "cached in app1"); err != nil {
		t.Fatal(err)
	}
	// app2 moves the ticket on; app1's cached state is now stale.
	for _, st := range []ticket.Status{ticket.Resolved, ticket.Closed} {
		if _, err := app2.ChangeTicketStatus(ctx, m, res.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	// On its stale state app1 would accept the comment; the stored ticket is closed.
	if _, err := app1.CommentTicket(ctx, m, res.ID, "too late"); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("comment on a ticket closed elsewhere: got %v, want ErrInvalidTransition", err)
	}
	// app2 reopens; app1 (now holding "closed") can still act.
	if _, err := app2.ChangeTicketStatus(ctx, m, res.ID, ticket.Open); err != nil {
		t.Fatal(err)
	}
	if _, err := app1.ChangeTicketStatus(ctx, m, res.ID, ticket.InProgress); err != nil {
		t.Fatalf("status change after a reopen elsewhere: %v", err)
	}
	evs, _ := es.ReadStream(ctx, ticket.Stream(res.ID), 0, 0)
	want := []string{ticket.TypeOpened, ticket.TypeCommented, ticket.TypeStatusChanged, ticket.TypeStatusChanged, ticket.TypeStatusChanged, ticket.TypeStatusChanged}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i, e := range evs {
		if e.Type != want[i] || e.Revision != uint64(i) {
			t.Fatalf("event %d: got %s@%d, want %s@%d", i, e.Type, e.Revision, want[i], i)
		}
	}
}

// decisions records what an Observer is told.
type decisions struct {
	mu  sync.Mutex
	got []string // "aggregate outcome"
}

func (d *decisions) CommandDecided(aggregate, outcome string, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if took <= 0 {
		outcome += " (no duration)"
	}
	d.got = append(d.got, aggregate+" "+outcome)
}

func (d *decisions) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	got := d.got
	d.got = nil
	return got
}

// The observer hears one outcome per decision, classified as the API's
// error table classifies the error.
func TestObserverHearsEveryOutcome(t *testing.T) {
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	obs := &decisions{}
	app, err := commands.New(commands.Config{Store: es, Hasher: noHash{}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	company := uuid.NewString()
	admin := adminOf(company)
	opened, err := app.OpenTicket(ctx, admin, commands.OpenTicket{Title: "observed"})
	if err != nil {
		t.Fatal(err)
	}
	client := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.Client}}
	own, err := app.OpenTicket(ctx, client, commands.OpenTicket{Title: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := obs.take(), []string{"ticket ok", "ticket ok"}; !slices.Equal(got, want) {
		t.Fatalf("opening: got %q, want %q", got, want)
	}
	title := func(s string) commands.UpdateTicket { return commands.UpdateTicket{EditCmd: ticket.EditCmd{Title: &s}} }
	stale := admin
	stale.IfRevision = new(uint64(7))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"same value", func() error { _, err := app.UpdateTicket(ctx, admin, opened.ID, title("observed")); return err }, "ticket unchanged"},
		{"stale revision", func() error { _, err := app.UpdateTicket(ctx, stale, opened.ID, title("late")); return err }, "ticket conflict"},
		{"unknown ticket", func() error { _, err := app.UpdateTicket(ctx, admin, uuid.NewString(), title("x")); return err }, "ticket not_found"},
		{"empty title", func() error { _, err := app.UpdateTicket(ctx, admin, opened.ID, title("")); return err }, "ticket invalid"},
		{"client deletes", func() error { _, err := app.DeleteTicket(ctx, client, own.ID); return err }, "ticket forbidden"},
		{"caller gone", func() error { _, err := app.UpdateTicket(canceled, admin, uuid.NewString(), title("x")); return err }, "ticket canceled"},
		{"create user", func() error {
			_, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: "olga", Password: "long-enough", Role: domain.ContentWriter})
			return err
		}, "username ok|user ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			want := strings.Split(c.want, "|")
			if strings.HasSuffix(c.want, " ok") || strings.HasSuffix(c.want, " unchanged") {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
			} else if err == nil {
				t.Fatalf("got success, want %s", c.want)
			}
			if got := obs.take(); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}
