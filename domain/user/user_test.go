package user

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
)

const (
	userID      = "aaaaaaaa-1111-4111-8111-111111111111"
	otherUserID = "bbbbbbbb-2222-4222-8222-222222222222"
	companyID   = "cccccccc-3333-4333-8333-333333333333"
	hash        = "$2a$10$abcdefghijklmnopqrstuv"
)

// spec is one "given events → command → expected events or error" case
// for an aggregate S. A case that expects neither an error nor fields
// expects exactly want (nothing when want is empty).
type spec[S any] struct {
	name       string
	given      []domain.Event
	when       func(*S) ([]domain.Event, error)
	want       []domain.Event
	wantErr    error    // checked with errors.Is
	wantFields []string // keys of the expected *domain.ValidationError
}

func runSpecs[S any, P interface {
	*S
	Apply(domain.Event)
}](t *testing.T, specs []spec[S]) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			state := P(new(S))
			for _, e := range s.given {
				state.Apply(e)
			}
			got, err := s.when(state)
			checkOutcome(t, got, err, s.want, s.wantErr, s.wantFields)
		})
	}
}

func checkOutcome(tb testing.TB, got []domain.Event, err error, want []domain.Event, wantErr error, wantFields []string) {
	tb.Helper()
	switch {
	case wantErr != nil:
		if !errors.Is(err, wantErr) {
			tb.Fatalf("got error %v, want %v", err, wantErr)
		}
	case wantFields != nil:
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			tb.Fatalf("got error %v, want a *domain.ValidationError on %v", err, wantFields)
		}
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantFields) {
			tb.Fatalf("got invalid fields %v, want %v", keys, wantFields)
		}
	case err != nil:
		tb.Fatalf("got error %v, want events %s", err, describe(want))
	}
	if err != nil {
		if len(got) != 0 {
			tb.Fatalf("got events %s along with error %v, want none", describe(got), err)
		}
		return
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("got events %s, want %s", describe(got), describe(want))
	}
}

// describe prints events with their type and JSON data, so pointer fields
// show their values rather than addresses.
func describe(evs []domain.Event) string {
	if len(evs) == 0 {
		return "[]"
	}
	parts := make([]string, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			data = fmt.Appendf(nil, "%+v", e)
		}
		parts[i] = e.EventType() + string(data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func ptr[T any](v T) *T { return &v }

func created() *Created {
	return &Created{
		UserID: userID, CompanyID: companyID, Username: "alice", Email: "alice@example.com",
		FullName: "Alice Liddell", Role: domain.ContentWriter, PasswordHash: hash,
	}
}

func createdWith(change func(*Created)) *Created {
	e := created()
	change(e)
	return e
}

func createdSuperadmin() *Created {
	return createdWith(func(e *Created) { e.CompanyID, e.Role = "", domain.Superadmin })
}

var deletedUser = []domain.Event{created(), &Deleted{Username: "alice"}}

func validCreate() CreateCmd {
	return CreateCmd{
		UserID: userID, CompanyID: companyID, Username: "alice", Email: "alice@example.com",
		FullName: "Alice Liddell", Role: domain.ContentWriter, PasswordHash: hash,
	}
}

func create(change func(*CreateCmd)) func(*User) ([]domain.Event, error) {
	return func(u *User) ([]domain.Event, error) {
		c := validCreate()
		change(&c)
		return u.Create(c)
	}
}

func TestCreate(t *testing.T) {
	specs := []spec[User]{
		{
			name: "creates a company user",
			when: create(func(c *CreateCmd) {}),
			want: []domain.Event{created()},
		},
		{
			name: "normalizes the username and trims email and full name",
			when: create(func(c *CreateCmd) {
				c.Username, c.Email, c.FullName = "  Alice.Liddell@Wonder-Land_1 ", " alice@example.com\t", "  Alice Liddell "
			}),
			want: []domain.Event{createdWith(func(e *Created) { e.Username = "alice.liddell@wonder-land_1" })},
		},
		{
			name: "creates a superadmin without a company",
			when: create(func(c *CreateCmd) { c.CompanyID, c.Role = "", domain.Superadmin }),
			want: []domain.Event{createdSuperadmin()},
		},
		{
			name: "email and full name are optional",
			when: create(func(c *CreateCmd) { c.Email, c.FullName = "  ", "" }),
			want: []domain.Event{createdWith(func(e *Created) { e.Email, e.FullName = "", "" })},
		},
		{
			name: "accepts the shortest and a digit-led username",
			when: create(func(c *CreateCmd) { c.Username = "7ab" }),
			want: []domain.Event{createdWith(func(e *Created) { e.Username = "7ab" })},
		},
		{
			name: "accepts a 64-character username",
			when: create(func(c *CreateCmd) { c.Username = strings.Repeat("a", 64) }),
			want: []domain.Event{createdWith(func(e *Created) { e.Username = strings.Repeat("a", 64) })},
		},
		{
			name: "accepts a 200-rune full name",
			when: create(func(c *CreateCmd) { c.FullName = strings.Repeat("é", 200) }),
			want: []domain.Event{createdWith(func(e *Created) { e.FullName = strings.Repeat("é", 200) })},
		},
		{
			name:       "a superadmin belongs to no company",
			when:       create(func(c *CreateCmd) { c.Role = domain.Superadmin }),
			wantFields: []string{"role"},
		},
		{
			name:       "rejects an empty role",
			when:       create(func(c *CreateCmd) { c.Role = "" }),
			wantFields: []string{"role"},
		},
		{
			name:       "rejects an unknown role",
			when:       create(func(c *CreateCmd) { c.Role = "root" }),
			wantFields: []string{"role"},
		},
		{
			name:       "rejects an id that is not a UUID",
			when:       create(func(c *CreateCmd) { c.UserID = "alice" }),
			wantFields: []string{"id"},
		},
		{
			name:       "rejects an upper-case id",
			when:       create(func(c *CreateCmd) { c.UserID = strings.ToUpper(userID) }),
			wantFields: []string{"id"},
		},
		{
			name:       "rejects a missing password hash",
			when:       create(func(c *CreateCmd) { c.PasswordHash = "" }),
			wantFields: []string{"password"},
		},
		{
			name:       "rejects a too long full name",
			when:       create(func(c *CreateCmd) { c.FullName = strings.Repeat("x", 201) }),
			wantFields: []string{"full_name"},
		},
		{
			name: "reports every invalid field at once",
			when: create(func(c *CreateCmd) {
				*c = CreateCmd{UserID: "x", Username: "a", Email: "nope", FullName: strings.Repeat("x", 201), Role: "root"}
			}),
			wantFields: []string{"email", "full_name", "id", "password", "role", "username"},
		},
		{
			name:    "cannot create twice",
			given:   []domain.Event{created()},
			when:    create(func(c *CreateCmd) {}),
			wantErr: domain.ErrAlreadyExists,
		},
		{
			name:    "cannot reuse a deleted user's id",
			given:   deletedUser,
			when:    create(func(c *CreateCmd) {}),
			wantErr: domain.ErrAlreadyExists,
		},
	}
	for _, role := range []domain.Role{domain.CompanyAdmin, domain.ContentManager, domain.ContentWriter, domain.Client} {
		specs = append(specs,
			spec[User]{
				name: "creates a " + string(role) + " in a company",
				when: create(func(c *CreateCmd) { c.Role = role }),
				want: []domain.Event{createdWith(func(e *Created) { e.Role = role })},
			},
			spec[User]{
				name:       "a " + string(role) + " needs a company",
				when:       create(func(c *CreateCmd) { c.Role, c.CompanyID = role, "" }),
				wantFields: []string{"company_id"},
			},
			spec[User]{
				name:       "a " + string(role) + " needs a UUID company",
				when:       create(func(c *CreateCmd) { c.Role, c.CompanyID = role, "acme" }),
				wantFields: []string{"company_id"},
			},
		)
	}
	for _, name := range []string{
		"", "ab", "  ab  ", strings.Repeat("a", 65), ".alice", "_alice", "-alice", "@alice",
		"al ice", "alice!", "jürgen", "alice/bob", "al\nice",
	} {
		specs = append(specs, spec[User]{
			name:       fmt.Sprintf("rejects username %q", name),
			when:       create(func(c *CreateCmd) { c.Username = name }),
			wantFields: []string{"username"},
		})
	}
	for _, email := range []string{
		"alice", "alice@", "@example.com", "Alice <alice@example.com>", "<alice@example.com>",
		"alice@example.com, bob@example.com", strings.Repeat("a", 243) + "@example.com",
	} {
		specs = append(specs, spec[User]{
			name:       fmt.Sprintf("rejects email %.40q", email),
			when:       create(func(c *CreateCmd) { c.Email = email }),
			wantFields: []string{"email"},
		})
	}
	runSpecs(t, specs)
}

func update(c UpdateCmd) func(*User) ([]domain.Event, error) {
	return func(u *User) ([]domain.Event, error) { return u.Update(c) }
}

func TestUpdate(t *testing.T) {
	runSpecs(t, []spec[User]{
		{
			name:  "records a new email, trimmed",
			given: []domain.Event{created()},
			when:  update(UpdateCmd{Email: ptr(" alice@wonderland.example ")}),
			want:  []domain.Event{&Updated{Email: ptr("alice@wonderland.example")}},
		},
		{
			name:  "records a cleared email",
			given: []domain.Event{created()},
			when:  update(UpdateCmd{Email: ptr("")}),
			want:  []domain.Event{&Updated{Email: ptr("")}},
		},
		{
			name:  "records a new full name, trimmed",
			given: []domain.Event{created()},
			when:  update(UpdateCmd{FullName: ptr(" Alice L. ")}),
			want:  []domain.Event{&Updated{FullName: ptr("Alice L.")}},
		},
		{
			name:  "records a new role",
			given: []domain.Event{created()},
			when:  update(UpdateCmd{Role: ptr(domain.ContentManager)}),
			want:  []domain.Event{&Updated{Role: ptr(domain.ContentManager)}},
		},
		{
			name:  "records only the fields that change",
			given: []domain.Event{created()},
			when: update(UpdateCmd{
				Email: ptr(" alice@example.com "), FullName: ptr("Alice L."), Role: ptr(domain.ContentWriter),
			}),
			want: []domain.Event{&Updated{FullName: ptr("Alice L.")}},
		},
		{
			name:  "an empty update records nothing",
			given: []domain.Event{created()},
			when:  update(UpdateCmd{}),
		},
		{
			name:  "an update to the current values records nothing",
			given: []domain.Event{created()},
			when: update(UpdateCmd{
				Email: ptr("alice@example.com"), FullName: ptr(" Alice Liddell"), Role: ptr(domain.ContentWriter),
			}),
		},
		{
			name:  "sees earlier updates",
			given: []domain.Event{created(), &Updated{Role: ptr(domain.CompanyAdmin)}},
			when:  update(UpdateCmd{Role: ptr(domain.CompanyAdmin)}),
		},
		{
			name:  "a superadmin keeps its role without a company",
			given: []domain.Event{createdSuperadmin()},
			when:  update(UpdateCmd{Role: ptr(domain.Superadmin), FullName: ptr("Root")}),
			want:  []domain.Event{&Updated{FullName: ptr("Root")}},
		},
		{
			name:       "rejects an unknown role",
			given:      []domain.Event{created()},
			when:       update(UpdateCmd{Role: ptr(domain.Role("root"))}),
			wantFields: []string{"role"},
		},
		{
			name:       "a company user cannot become superadmin",
			given:      []domain.Event{created()},
			when:       update(UpdateCmd{Role: ptr(domain.Superadmin)}),
			wantFields: []string{"role"},
		},
		{
			name:       "a superadmin cannot take a company role, having no company",
			given:      []domain.Event{createdSuperadmin()},
			when:       update(UpdateCmd{Role: ptr(domain.CompanyAdmin)}),
			wantFields: []string{"company_id"},
		},
		{
			name:       "rejects an invalid email",
			given:      []domain.Event{created()},
			when:       update(UpdateCmd{Email: ptr("Alice <alice@example.com>")}),
			wantFields: []string{"email"},
		},
		{
			name:       "rejects a too long full name",
			given:      []domain.Event{created()},
			when:       update(UpdateCmd{FullName: ptr(strings.Repeat("x", 201))}),
			wantFields: []string{"full_name"},
		},
		{
			name:       "rejects an invalid field even if the valid ones do not change",
			given:      []domain.Event{created()},
			when:       update(UpdateCmd{Email: ptr("alice@example.com"), Role: ptr(domain.Role(""))}),
			wantFields: []string{"role"},
		},
		{
			name:    "a deleted user is not found",
			given:   deletedUser,
			when:    update(UpdateCmd{FullName: ptr("Alice L.")}),
			wantErr: domain.ErrNotFound,
		},
		{
			name:    "a user never created is not found",
			when:    update(UpdateCmd{FullName: ptr("Alice L.")}),
			wantErr: domain.ErrNotFound,
		},
	})
}

func TestChangePassword(t *testing.T) {
	change := func(h string) func(*User) ([]domain.Event, error) {
		return func(u *User) ([]domain.Event, error) { return u.ChangePassword(h) }
	}
	runSpecs(t, []spec[User]{
		{
			name:  "records the new hash",
			given: []domain.Event{created()},
			when:  change("$2a$10$new"),
			want:  []domain.Event{&PasswordChanged{PasswordHash: "$2a$10$new"}},
		},
		{
			name:       "rejects an empty hash",
			given:      []domain.Event{created()},
			when:       change(""),
			wantFields: []string{"password"},
		},
		{
			name:    "a deleted user is not found",
			given:   deletedUser,
			when:    change("$2a$10$new"),
			wantErr: domain.ErrNotFound,
		},
		{
			name:    "a user never created is not found",
			when:    change("$2a$10$new"),
			wantErr: domain.ErrNotFound,
		},
	})
}

func TestDelete(t *testing.T) {
	del := func(u *User) ([]domain.Event, error) { return u.Delete() }
	runSpecs(t, []spec[User]{
		{
			name:  "records the username to free",
			given: []domain.Event{created()},
			when:  del,
			want:  []domain.Event{&Deleted{Username: "alice"}},
		},
		{
			name:  "deletes a superadmin",
			given: []domain.Event{createdSuperadmin()},
			when:  del,
			want:  []domain.Event{&Deleted{Username: "alice"}},
		},
		{name: "cannot delete twice", given: deletedUser, when: del, wantErr: domain.ErrNotFound},
		{name: "a user never created is not found", when: del, wantErr: domain.ErrNotFound},
	})
}

func TestApply(t *testing.T) {
	base := User{
		ID: userID, CompanyID: companyID, Username: "alice", Email: "alice@example.com",
		FullName: "Alice Liddell", Role: domain.ContentWriter, PasswordHash: hash, Version: 1,
	}
	state := func(change func(*User)) User {
		s := base
		change(&s)
		return s
	}
	for _, c := range []struct {
		name       string
		given      []domain.Event
		want       User
		wantExists bool
	}{
		{name: "nothing", want: User{}},
		{name: "created", given: []domain.Event{created()}, want: base, wantExists: true},
		{
			name:       "updated fields replace, absent fields stay",
			given:      []domain.Event{created(), &Updated{Email: ptr("")}, &Updated{Role: ptr(domain.Client)}},
			want:       state(func(s *User) { s.Email, s.Role, s.Version = "", domain.Client, 3 }),
			wantExists: true,
		},
		{
			name:       "password changed",
			given:      []domain.Event{created(), &PasswordChanged{PasswordHash: "new"}},
			want:       state(func(s *User) { s.PasswordHash, s.Version = "new", 2 }),
			wantExists: true,
		},
		{
			name:  "deleted",
			given: deletedUser,
			want:  state(func(s *User) { s.Deleted, s.Version = true, 2 }),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got User
			for _, e := range c.given {
				got.Apply(e)
			}
			if got != c.want {
				t.Fatalf("got state %+v, want %+v", got, c.want)
			}
			if got.Exists() != c.wantExists {
				t.Fatalf("got Exists() = %v, want %v", got.Exists(), c.wantExists)
			}
		})
	}
}

func TestRef(t *testing.T) {
	var u User
	u.Apply(created())
	want := domain.UserRef{ID: userID, CompanyID: companyID, Role: domain.ContentWriter}
	if got := u.Ref(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestNormalizeUsername(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"alice", "alice"},
		{"  Alice\t", "alice"},
		{"ALICE@Example.COM", "alice@example.com"},
		{"", ""},
	} {
		if got := NormalizeUsername(c.in); got != c.want {
			t.Errorf("got NormalizeUsername(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
