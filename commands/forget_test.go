package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
	"agentdesk/internal/pii"
	"agentdesk/internal/secrets"
)

// newPIIApp returns an App that seals personal data with keys in a
// keys.db of its own.
func newPIIApp(t *testing.T) (*commands.App, eventstore.Store) {
	t.Helper()
	dir := t.TempDir()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	sealer, err := secrets.New(bytes.Repeat([]byte{1}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pii.OpenSQLite(filepath.Join(dir, "keys.db"), sealer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	app, err := commands.New(commands.Config{Store: es, Hasher: noHash{}, Now: func() time.Time { return fixedNow },
		PII: pii.NewCodec(keys, domain.Erased)})
	if err != nil {
		t.Fatal(err)
	}
	return app, es
}

const (
	secretName  = "Zebedee Quarrington"
	secretEmail = "zebedee.quarrington@example.org"
)

func TestPersonalDataSealedInTheLog(t *testing.T) {
	ctx := context.Background()
	app, es := newPIIApp(t)
	company := uuid.NewString()
	admin := adminOf(company)
	res, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: "zebedee", Password: "correct horse battery",
		Email: secretEmail, FullName: secretName, Role: domain.ContentWriter})
	if err != nil {
		t.Fatal(err)
	}
	name := "Zebedee Q."
	if _, err := app.UpdateUser(ctx, admin, res.ID, commands.UpdateUser{FullName: &name}); err != nil {
		t.Fatal(err)
	}
	evs := readStream(t, es, user.Stream(res.ID))
	for _, ev := range evs {
		for _, clear := range []string{secretName, secretEmail, "zebedee.quarrington", name} {
			if bytes.Contains(ev.Data, []byte(clear)) {
				t.Fatalf("got %s stored as %s, want %q sealed", ev.Type, ev.Data, clear)
			}
		}
	}
	var c user.Created
	if err := json.Unmarshal(evs[0].Data, &c); err != nil {
		t.Fatal(err)
	}
	if !pii.IsSealed(c.Email) || !pii.IsSealed(c.FullName) || c.Username != "zebedee" {
		t.Fatalf("got email %q, full name %q, username %q; want the first two sealed, the username as it is", c.Email, c.FullName, c.Username)
	}
	// The username's claim carries the user's id only.
	for _, ev := range readStream(t, es, user.UsernameStream("zebedee")) {
		var fields map[string]any
		if err := json.Unmarshal(ev.Data, &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["user_id"]; len(fields) != 1 || !ok {
			t.Fatalf("got claim data %s, want the user id alone", ev.Data)
		}
	}

	// The state is loaded opened: the values sent back unchanged (as
	// React Admin does) record nothing.
	email := secretEmail
	again, err := app.UpdateUser(ctx, admin, res.ID, commands.UpdateUser{Email: &email, FullName: &name})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed {
		t.Fatal("got an update recorded for the same email and name, want none: the loaded state holds them opened")
	}
}

func TestForgetUser(t *testing.T) {
	ctx := context.Background()
	app, es := newPIIApp(t)
	company := uuid.NewString()
	admin := adminOf(company)
	create := func(username string) string {
		t.Helper()
		res, err := app.CreateUser(ctx, admin, commands.CreateUser{Username: username, Password: "correct horse battery",
			Email: username + "@example.org", FullName: secretName, Role: domain.ContentWriter})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	id := create("zebedee")

	if _, err := app.ForgetUser(ctx, admin, id); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("company admin: got %v, want domain.ErrForbidden", err)
	}
	if _, err := app.ForgetUser(ctx, adminOf(uuid.NewString()), id); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another company's admin: got %v, want domain.ErrNotFound", err)
	}
	if _, err := app.ForgetUser(ctx, superadminMeta(), uuid.NewString()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("no such user: got %v, want domain.ErrNotFound", err)
	}

	root := superadminMeta()
	got, err := app.ForgetUser(ctx, root, id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Changed || got.Deleted {
		t.Fatalf("got %+v, want a change on a live user", got)
	}
	evs := readStream(t, es, user.Stream(id))
	last := evs[len(evs)-1]
	if last.Type != user.TypeForgotten || last.Metadata.ActorID != root.Principal.UserID || last.Metadata.CompanyID != company {
		t.Fatalf("got %s by %s in %q, want user.forgotten by the superadmin in the user's company", last.Type, last.Metadata.ActorID, last.Metadata.CompanyID)
	}

	// The history still replays: later commands load the user.
	again, err := app.ForgetUser(ctx, root, id)
	if err != nil || again.Changed {
		t.Fatalf("forgetting again: got %+v, %v; want nothing recorded", again, err)
	}
	role := domain.ContentManager
	erased := domain.Erased
	if _, err := app.UpdateUser(ctx, admin, id, commands.UpdateUser{Email: &erased, FullName: &erased, Role: &role}); err != nil {
		t.Fatalf("an update sending the erased fields back: got %v, want it to apply the role", err)
	}
	email := "new@example.org"
	if _, err := app.UpdateUser(ctx, admin, id, commands.UpdateUser{Email: &email}); !isFieldError(err, "email") {
		t.Fatalf("a new email for a forgotten user: got %v, want a validation error on email", err)
	}

	// A deleted user's data is still in the log: it can be forgotten.
	gone := create("gone")
	if _, err := app.DeleteUser(ctx, admin, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := app.ForgetUser(ctx, admin, gone); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a company admin, deleted user: got %v, want domain.ErrNotFound", err)
	}
	got, err = app.ForgetUser(ctx, root, gone)
	if err != nil || !got.Changed || !got.Deleted {
		t.Fatalf("got %+v, %v; want the deleted user forgotten", got, err)
	}
}

func TestForgetUserNeedsPII(t *testing.T) {
	ctx := context.Background()
	app, _ := newApp(t)
	res, err := app.CreateUser(ctx, superadminMeta(), commands.CreateUser{Username: "plain", Password: "correct horse battery", Role: domain.Superadmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.ForgetUser(ctx, superadminMeta(), res.ID); !errors.Is(err, commands.ErrNoPII) {
		t.Fatalf("got %v, want commands.ErrNoPII", err)
	}
}
