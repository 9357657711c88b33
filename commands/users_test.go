package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
)

// crashing is an event store that dies, once armed, on the first append
// to a stream of the given category: the append is not stored and every
// later call fails, as if the process had been killed between two appends.
type crashing struct {
	eventstore.Store
	category string
	armed    atomic.Bool
	dead     atomic.Bool
}

var errCrashed = errors.New("process killed (injected)")

func (c *crashing) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if c.dead.Load() || (c.armed.Load() && eventstore.Category(stream) == c.category) {
		c.dead.Store(true)
		return eventstore.AppendResult{}, errCrashed
	}
	return c.Store.Append(ctx, stream, expected, events)
}

// openCrashing opens a store at path that will die on the first append to
// a user stream, and an App over it (a process).
func openCrashing(t *testing.T, path string) (*commands.App, *crashing) {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	store := &crashing{Store: es, category: user.Category}
	app, err := commands.New(commands.Config{Store: store, Hasher: noHash{}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return app, store
}

// reopen is the restart after the crash: a new App on the same file.
func reopen(t *testing.T, path string) *commands.App {
	t.Helper()
	app, _ := openCrashing(t, path)
	return app
}

// TestCrashBetweenClaimAndCreate kills the process between the username
// claim and the user's creation: the next start must still create the
// superadmin, and a new request must get a name a crashed one claimed.
func TestCrashBetweenClaimAndCreate(t *testing.T) {
	ctx := context.Background()

	t.Run("superadmin on first start", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.db")
		app, store := openCrashing(t, path)
		store.armed.Store(true)
		if _, _, err := app.EnsureSuperadmin(ctx, "root", "password-1"); !errors.Is(err, errCrashed) {
			t.Fatalf("first start: err = %v, want the injected crash", err)
		}
		claim := readStream(t, store.Store, user.UsernameStream("root"))
		if len(claim) != 1 || claim[0].Type != user.TypeClaimed {
			t.Fatalf("after the crash the claim stream holds %v, want one claim", types(claim))
		}

		app = reopen(t, path)
		_, made, err := app.EnsureSuperadmin(ctx, "root", "password-1")
		if err != nil || !made {
			t.Fatalf("second start: made %v, err %v; want the superadmin created", made, err)
		}
		if _, made, err := app.EnsureSuperadmin(ctx, "root", "password-1"); err != nil || made {
			t.Fatalf("third start: made %v, err %v; want nothing to do", made, err)
		}
	})

	t.Run("user created by a later request", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.db")
		app, store := openCrashing(t, path)
		company := uuid.NewString()
		admin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.CompanyAdmin}}
		in := commands.CreateUser{Username: "Alice", Password: "password-1", Role: domain.ContentWriter}
		store.armed.Store(true)
		if _, err := app.CreateUser(ctx, admin, in); !errors.Is(err, errCrashed) {
			t.Fatalf("first attempt: err = %v, want the injected crash", err)
		}
		orphan := readStream(t, store.Store, user.UsernameStream("alice"))
		if len(orphan) != 1 {
			t.Fatalf("claim stream holds %v, want the orphaned claim", types(orphan))
		}

		app = reopen(t, path)
		res, err := app.CreateUser(ctx, admin, in)
		if err != nil {
			t.Fatalf("a new request for the name: %v", err)
		}
		claim := readStream(t, store.Store, user.UsernameStream("alice"))
		if got := types(claim); got != "username.claimed username.released username.claimed" {
			t.Fatalf("claim stream: %s, want the orphaned claim released and a new one", got)
		}
		var c user.Claimed
		if err := json.Unmarshal(claim[2].Data, &c); err != nil || c.UserID != res.ID {
			t.Fatalf("the name belongs to %q, want the new user %s", c.UserID, res.ID)
		}
		var first user.Claimed
		if err := json.Unmarshal(orphan[0].Data, &first); err != nil {
			t.Fatal(err)
		}
		if got := types(readStream(t, store.Store, user.Stream(first.UserID))); got != user.TypeAbandoned {
			t.Fatalf("the crashed user's stream: %q, want it abandoned", got)
		}
		// The name is taken now, for real.
		if _, err := app.CreateUser(ctx, admin, in); !isFieldError(err, "username") {
			t.Fatalf("creating the name again: err = %v, want username taken", err)
		}
	})
}

// TestCrashBetweenDeleteAndRelease kills the process between a user's
// deletion and the release of its username: the name must be free for the
// next user anyway.
func TestCrashBetweenDeleteAndRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	app, store := openCrashing(t, path)
	store.category = "username"
	company := uuid.NewString()
	admin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.CompanyAdmin}}
	in := commands.CreateUser{Username: "carol", Password: "password-1", Role: domain.ContentWriter}
	first, err := app.CreateUser(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	store.armed.Store(true)
	if _, err := app.DeleteUser(ctx, admin, first.ID); !errors.Is(err, errCrashed) {
		t.Fatalf("delete: err = %v, want the injected crash", err)
	}
	app = reopen(t, path)
	second, err := app.CreateUser(ctx, admin, in)
	if err != nil {
		t.Fatalf("the name of a deleted user whose release was lost: %v", err)
	}
	if second.ID == first.ID {
		t.Fatal("the new user reuses the deleted one's id")
	}
}

// TestAbandonedCreationCannotLand covers the race the abandonment guards
// against: a creation whose claim was taken over because it looked
// orphaned must fail rather than make a second user with the name.
func TestAbandonedCreationCannotLand(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	admin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: domain.CompanyAdmin}}
	slow := uuid.NewString()
	// The slow request has claimed the name but not yet created its user.
	if _, err := es.Append(ctx, user.UsernameStream("bob"), eventstore.NoStream, []eventstore.EventData{
		{ID: uuid.NewString(), Type: user.TypeClaimed, Data: []byte(`{"user_id":"` + slow + `"}`), Metadata: eventstore.Metadata{CompanyID: company}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: "bob", Password: "password-1", Role: domain.ContentWriter}); err != nil {
		t.Fatalf("the fast request: %v", err)
	}
	// The slow request's creation now finds its stream abandoned.
	_, err := es.Append(ctx, user.Stream(slow), eventstore.NoStream, []eventstore.EventData{
		{ID: uuid.NewString(), Type: user.TypeCreated, Data: []byte(`{}`), Metadata: eventstore.Metadata{CompanyID: company}},
	})
	if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("the slow creation: err = %v, want a wrong expected revision", err)
	}
}

func readStream(t *testing.T, es eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := es.ReadStream(context.Background(), stream, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func types(evs []eventstore.RecordedEvent) string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return strings.Join(out, " ")
}

func isFieldError(err error, field string) bool {
	var v *domain.ValidationError
	return errors.As(err, &v) && v.Fields[field] != ""
}

// TestWeakPasswordsRefused: common, trivial and username-like passwords
// are refused with a field error, on create, update and reset.
func TestWeakPasswordsRefused(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	admin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: uuid.NewString(), Role: domain.CompanyAdmin}}
	for _, pw := range []string{"12345678", "password", "        ", "qwertyuiop", "aaaaaaaaaa"} {
		_, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: "frank", Password: pw, Role: domain.Client, FullName: "Frank"})
		if !isFieldError(err, "password") {
			t.Errorf("create with %q: err = %v, want a password field error", pw, err)
		}
	}
	res, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: "frank", Password: "correct-horse-battery", Role: domain.Client})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"password1", "FRANK", "frank"} {
		if _, err := app.UpdateUser(ctx, admin, res.ID, commands.UpdateUser{Password: &pw}); !isFieldError(err, "password") {
			t.Errorf("update to %q: err = %v, want a password field error", pw, err)
		}
	}
}
