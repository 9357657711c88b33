package commands_test

import (
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
)

// plainHash "hashes" by prefixing, so a test can tell which password an
// event carries.
type plainHash struct{}

func (plainHash) Hash(pw string) (string, error) { return "hashed:" + pw, nil }

func (plainHash) Verify(hash, pw string) bool { return hash == "hashed:"+pw }

func newOperatorApp(t *testing.T) (*commands.App, eventstore.Store) {
	t.Helper()
	es, err := eventstore.OpenSQLite(eventstore.SQLiteConfig{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	app, err := commands.New(commands.Config{Store: es, Hasher: plainHash{}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return app, es
}

func head(t *testing.T, es eventstore.Store) eventstore.Position {
	t.Helper()
	p, err := es.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResetPassword(t *testing.T) {
	ctx := context.Background()
	app, es := newOperatorApp(t)
	created, _, err := app.EnsureSuperadmin(ctx, "root", "first-password")
	if err != nil {
		t.Fatal(err)
	}
	before := readStream(t, es, user.Stream(created.ID))

	// The name is matched as sign-in matches it: case and spaces aside.
	res, err := app.ResetPassword(ctx, " Root", "second-password")
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if res.ID != created.ID || !res.Changed {
		t.Fatalf("got result %+v, want a change to user %s", res, created.ID)
	}
	after := readStream(t, es, user.Stream(created.ID))
	if len(after) != len(before)+1 {
		t.Fatalf("user stream grew from %d to %d events, want one more", len(before), len(after))
	}
	ev := after[len(after)-1]
	if ev.Type != user.TypePasswordChanged {
		t.Fatalf("got event %s, want %s", ev.Type, user.TypePasswordChanged)
	}
	var data user.PasswordChanged
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.PasswordHash != "hashed:second-password" {
		t.Errorf("got hash %q, want the new password's", data.PasswordHash)
	}
	if ev.Metadata.ActorID != "operator" || ev.Metadata.ActorRole != string(domain.Superadmin) {
		t.Errorf("got actor %s/%s, want operator/superadmin", ev.Metadata.ActorID, ev.Metadata.ActorRole)
	}
	if head(t, es) != res.Position {
		t.Errorf("store head %v, want the reset's position %v: something else was appended", head(t, es), res.Position)
	}
}

func TestResetPasswordAppendsNothingOnError(t *testing.T) {
	ctx := context.Background()
	superadmin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), Role: domain.Superadmin}}
	tests := []struct {
		name     string
		username string
		password string
		// given prepares the store: gone is a user created and deleted.
		given   func(t *testing.T, app *commands.App)
		wantErr func(error) bool
	}{
		{
			name: "unknown user", username: "nobody", password: "long-enough-password",
			wantErr: func(err error) bool { return errors.Is(err, domain.ErrNotFound) },
		},
		{
			name: "deleted user", username: "gone", password: "long-enough-password",
			given: func(t *testing.T, app *commands.App) {
				res, err := app.CreateUser(ctx, superadmin, commands.CreateUser{Username: "gone", Password: "first-password", Role: domain.Superadmin})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := app.DeleteUser(ctx, superadmin, res.ID); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: func(err error) bool { return errors.Is(err, domain.ErrNotFound) },
		},
		{
			name: "password too short", username: "root", password: "short",
			wantErr: func(err error) bool { return isFieldError(err, "password") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, es := newOperatorApp(t)
			if _, _, err := app.EnsureSuperadmin(ctx, "root", "first-password"); err != nil {
				t.Fatal(err)
			}
			if tt.given != nil {
				tt.given(t, app)
			}
			before := head(t, es)
			_, err := app.ResetPassword(ctx, tt.username, tt.password)
			if !tt.wantErr(err) {
				t.Fatalf("got error %v, want the %s error", err, tt.name)
			}
			if after := head(t, es); after != before {
				t.Fatalf("store head moved from %v to %v, want nothing appended", before, after)
			}
		})
	}
}

func TestUserExists(t *testing.T) {
	ctx := context.Background()
	app, _ := newOperatorApp(t)
	exists := func(name string) bool {
		t.Helper()
		ok, err := app.UserExists(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists("root") {
		t.Fatal("root exists before anything was recorded")
	}
	res, _, err := app.EnsureSuperadmin(ctx, "root", "first-password")
	if err != nil {
		t.Fatal(err)
	}
	if !exists("ROOT") {
		t.Fatal("root does not exist after its creation")
	}
	superadmin := commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), Role: domain.Superadmin}}
	if _, err := app.DeleteUser(ctx, superadmin, res.ID); err != nil {
		t.Fatal(err)
	}
	if exists("root") {
		t.Fatal("root exists after its deletion")
	}
}
