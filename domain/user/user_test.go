package user

import (
	"fmt"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	userID      = "aaaaaaaa-1111-4111-8111-111111111111"
	otherUserID = "bbbbbbbb-2222-4222-8222-222222222222"
	companyID   = "cccccccc-3333-4333-8333-333333333333"
	hash        = "$2a$10$abcdefghijklmnopqrstuv"
)

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
	specs := []domaintest.Spec[User]{
		{
			Name: "creates a company user",
			When: create(func(c *CreateCmd) {}),
			Want: []domain.Event{created()},
		},
		{
			Name: "normalizes the username and trims email and full name",
			When: create(func(c *CreateCmd) {
				c.Username, c.Email, c.FullName = "  Alice.Liddell@Wonder-Land_1 ", " alice@example.com\t", "  Alice Liddell "
			}),
			Want: []domain.Event{createdWith(func(e *Created) { e.Username = "alice.liddell@wonder-land_1" })},
		},
		{
			Name: "creates a superadmin without a company",
			When: create(func(c *CreateCmd) { c.CompanyID, c.Role = "", domain.Superadmin }),
			Want: []domain.Event{createdSuperadmin()},
		},
		{
			Name: "email and full name are optional",
			When: create(func(c *CreateCmd) { c.Email, c.FullName = "  ", "" }),
			Want: []domain.Event{createdWith(func(e *Created) { e.Email, e.FullName = "", "" })},
		},
		{
			Name: "accepts the shortest and a digit-led username",
			When: create(func(c *CreateCmd) { c.Username = "7ab" }),
			Want: []domain.Event{createdWith(func(e *Created) { e.Username = "7ab" })},
		},
		{
			Name: "accepts a 64-character username",
			When: create(func(c *CreateCmd) { c.Username = strings.Repeat("a", 64) }),
			Want: []domain.Event{createdWith(func(e *Created) { e.Username = strings.Repeat("a", 64) })},
		},
		{
			Name: "accepts a 200-rune full name",
			When: create(func(c *CreateCmd) { c.FullName = strings.Repeat("é", 200) }),
			Want: []domain.Event{createdWith(func(e *Created) { e.FullName = strings.Repeat("é", 200) })},
		},
		{
			Name:       "a superadmin belongs to no company",
			When:       create(func(c *CreateCmd) { c.Role = domain.Superadmin }),
			WantFields: []string{"role"},
		},
		{
			Name:       "rejects an empty role",
			When:       create(func(c *CreateCmd) { c.Role = "" }),
			WantFields: []string{"role"},
		},
		{
			Name:       "rejects an unknown role",
			When:       create(func(c *CreateCmd) { c.Role = "root" }),
			WantFields: []string{"role"},
		},
		{
			Name:       "rejects an id that is not a UUID",
			When:       create(func(c *CreateCmd) { c.UserID = "alice" }),
			WantFields: []string{"id"},
		},
		{
			Name:       "rejects an upper-case id",
			When:       create(func(c *CreateCmd) { c.UserID = strings.ToUpper(userID) }),
			WantFields: []string{"id"},
		},
		{
			Name:       "rejects a missing password hash",
			When:       create(func(c *CreateCmd) { c.PasswordHash = "" }),
			WantFields: []string{"password"},
		},
		{
			Name:       "rejects a too long full name",
			When:       create(func(c *CreateCmd) { c.FullName = strings.Repeat("x", 201) }),
			WantFields: []string{"full_name"},
		},
		{
			Name: "reports every invalid field at once",
			When: create(func(c *CreateCmd) {
				*c = CreateCmd{UserID: "x", Username: "a", Email: "nope", FullName: strings.Repeat("x", 201), Role: "root"}
			}),
			WantFields: []string{"email", "full_name", "id", "password", "role", "username"},
		},
		{
			Name:    "cannot create twice",
			Given:   []domain.Event{created()},
			When:    create(func(c *CreateCmd) {}),
			WantErr: domain.ErrAlreadyExists,
		},
		{
			Name:    "cannot reuse a deleted user's id",
			Given:   deletedUser,
			When:    create(func(c *CreateCmd) {}),
			WantErr: domain.ErrAlreadyExists,
		},
	}
	for _, role := range []domain.Role{domain.CompanyAdmin, domain.ContentManager, domain.ContentWriter, domain.Client} {
		specs = append(specs,
			domaintest.Spec[User]{
				Name: "creates a " + string(role) + " in a company",
				When: create(func(c *CreateCmd) { c.Role = role }),
				Want: []domain.Event{createdWith(func(e *Created) { e.Role = role })},
			},
			domaintest.Spec[User]{
				Name:       "a " + string(role) + " needs a company",
				When:       create(func(c *CreateCmd) { c.Role, c.CompanyID = role, "" }),
				WantFields: []string{"company_id"},
			},
			domaintest.Spec[User]{
				Name:       "a " + string(role) + " needs a UUID company",
				When:       create(func(c *CreateCmd) { c.Role, c.CompanyID = role, "acme" }),
				WantFields: []string{"company_id"},
			},
		)
	}
	for _, name := range []string{
		"", "ab", "  ab  ", strings.Repeat("a", 65), ".alice", "_alice", "-alice", "@alice",
		"al ice", "alice!", "jürgen", "alice/bob", "al\nice",
	} {
		specs = append(specs, domaintest.Spec[User]{
			Name:       fmt.Sprintf("rejects username %q", name),
			When:       create(func(c *CreateCmd) { c.Username = name }),
			WantFields: []string{"username"},
		})
	}
	for _, email := range []string{
		"alice", "alice@", "@example.com", "Alice <alice@example.com>", "<alice@example.com>",
		"alice@example.com, bob@example.com", strings.Repeat("a", 243) + "@example.com",
	} {
		specs = append(specs, domaintest.Spec[User]{
			Name:       fmt.Sprintf("rejects email %.40q", email),
			When:       create(func(c *CreateCmd) { c.Email = email }),
			WantFields: []string{"email"},
		})
	}
	domaintest.Run(t, specs)
}

func update(c UpdateCmd) func(*User) ([]domain.Event, error) {
	return func(u *User) ([]domain.Event, error) { return u.Update(c) }
}

func TestUpdate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[User]{
		{
			Name:  "records a new email, trimmed",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Email: domaintest.Ptr(" alice@wonderland.example ")}),
			Want:  []domain.Event{&Updated{Email: domaintest.Ptr("alice@wonderland.example")}},
		},
		{
			Name:  "records a cleared email",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Email: domaintest.Ptr("")}),
			Want:  []domain.Event{&Updated{Email: domaintest.Ptr("")}},
		},
		{
			Name:  "records a new full name, trimmed",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{FullName: domaintest.Ptr(" Alice L. ")}),
			Want:  []domain.Event{&Updated{FullName: domaintest.Ptr("Alice L.")}},
		},
		{
			Name:  "records a new role",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Role: domaintest.Ptr(domain.ContentManager)}),
			Want:  []domain.Event{&Updated{Role: domaintest.Ptr(domain.ContentManager)}},
		},
		{
			Name:  "records only the fields that change",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{
				Email: domaintest.Ptr(" alice@example.com "), FullName: domaintest.Ptr("Alice L."), Role: domaintest.Ptr(domain.ContentWriter),
			}),
			Want: []domain.Event{&Updated{FullName: domaintest.Ptr("Alice L.")}},
		},
		{
			Name:  "an empty update records nothing",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{}),
		},
		{
			Name:  "an update to the current values records nothing",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{
				Email: domaintest.Ptr("alice@example.com"), FullName: domaintest.Ptr(" Alice Liddell"), Role: domaintest.Ptr(domain.ContentWriter),
			}),
		},
		{
			Name:  "sees earlier updates",
			Given: []domain.Event{created(), &Updated{Role: domaintest.Ptr(domain.CompanyAdmin)}},
			When:  update(UpdateCmd{Role: domaintest.Ptr(domain.CompanyAdmin)}),
		},
		{
			Name:  "a superadmin keeps its role without a company",
			Given: []domain.Event{createdSuperadmin()},
			When:  update(UpdateCmd{Role: domaintest.Ptr(domain.Superadmin), FullName: domaintest.Ptr("Root")}),
			Want:  []domain.Event{&Updated{FullName: domaintest.Ptr("Root")}},
		},
		{
			Name:       "rejects an unknown role",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Role: domaintest.Ptr(domain.Role("root"))}),
			WantFields: []string{"role"},
		},
		{
			Name:       "a company user cannot become superadmin",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Role: domaintest.Ptr(domain.Superadmin)}),
			WantFields: []string{"role"},
		},
		{
			Name:       "a superadmin cannot take a company role, having no company",
			Given:      []domain.Event{createdSuperadmin()},
			When:       update(UpdateCmd{Role: domaintest.Ptr(domain.CompanyAdmin)}),
			WantFields: []string{"company_id"},
		},
		{
			Name:       "rejects an invalid email",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Email: domaintest.Ptr("Alice <alice@example.com>")}),
			WantFields: []string{"email"},
		},
		{
			Name:       "rejects a too long full name",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{FullName: domaintest.Ptr(strings.Repeat("x", 201))}),
			WantFields: []string{"full_name"},
		},
		{
			Name:       "rejects an invalid field even if the valid ones do not change",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Email: domaintest.Ptr("alice@example.com"), Role: domaintest.Ptr(domain.Role(""))}),
			WantFields: []string{"role"},
		},
		{
			Name:    "a deleted user is not found",
			Given:   deletedUser,
			When:    update(UpdateCmd{FullName: domaintest.Ptr("Alice L.")}),
			WantErr: domain.ErrNotFound,
		},
		{
			Name:    "a user never created is not found",
			When:    update(UpdateCmd{FullName: domaintest.Ptr("Alice L.")}),
			WantErr: domain.ErrNotFound,
		},
	})
}

func TestChangePassword(t *testing.T) {
	change := func(h string) func(*User) ([]domain.Event, error) {
		return func(u *User) ([]domain.Event, error) { return u.ChangePassword(h) }
	}
	domaintest.Run(t, []domaintest.Spec[User]{
		{
			Name:  "records the new hash",
			Given: []domain.Event{created()},
			When:  change("$2a$10$new"),
			Want:  []domain.Event{&PasswordChanged{PasswordHash: "$2a$10$new"}},
		},
		{
			Name:       "rejects an empty hash",
			Given:      []domain.Event{created()},
			When:       change(""),
			WantFields: []string{"password"},
		},
		{
			Name:    "a deleted user is not found",
			Given:   deletedUser,
			When:    change("$2a$10$new"),
			WantErr: domain.ErrNotFound,
		},
		{
			Name:    "a user never created is not found",
			When:    change("$2a$10$new"),
			WantErr: domain.ErrNotFound,
		},
	})
}

func TestDelete(t *testing.T) {
	del := func(u *User) ([]domain.Event, error) { return u.Delete() }
	domaintest.Run(t, []domaintest.Spec[User]{
		{
			Name:  "records the username to free",
			Given: []domain.Event{created()},
			When:  del,
			Want:  []domain.Event{&Deleted{Username: "alice"}},
		},
		{
			Name:  "deletes a superadmin",
			Given: []domain.Event{createdSuperadmin()},
			When:  del,
			Want:  []domain.Event{&Deleted{Username: "alice"}},
		},
		{Name: "cannot delete twice", Given: deletedUser, When: del, WantErr: domain.ErrNotFound},
		{Name: "a user never created is not found", When: del, WantErr: domain.ErrNotFound},
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
			given:      []domain.Event{created(), &Updated{Email: domaintest.Ptr("")}, &Updated{Role: domaintest.Ptr(domain.Client)}},
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
			got := domaintest.Replay[User](c.given)
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

func TestAbandon(t *testing.T) {
	abandon := func(u *User) ([]domain.Event, error) { return u.Abandon("Alice") }
	domaintest.Run(t, []domaintest.Spec[User]{
		{
			Name: "abandons a user never created",
			When: abandon,
			Want: []domain.Event{&Abandoned{Username: "alice"}},
		},
		{
			Name:    "a created user cannot be abandoned",
			Given:   []domain.Event{created()},
			When:    abandon,
			WantErr: domain.ErrAlreadyExists,
		},
		{
			Name:  "abandoning twice records nothing",
			Given: []domain.Event{&Abandoned{Username: "alice"}},
			When:  abandon,
		},
		{
			Name:    "an abandoned user can never be created",
			Given:   []domain.Event{&Abandoned{Username: "alice"}},
			When:    create(func(c *CreateCmd) {}),
			WantErr: domain.ErrConflict,
		},
	})
	u := User{}
	u.Apply(&Abandoned{Username: "alice"})
	if u.Exists() {
		t.Fatal("an abandoned user exists, want not")
	}
}

func TestDeactivateReactivate(t *testing.T) {
	deactivate := func(u *User) ([]domain.Event, error) { return u.Deactivate() }
	reactivate := func(u *User) ([]domain.Event, error) { return u.Reactivate() }
	domaintest.Run(t, []domaintest.Spec[User]{
		{Name: "deactivates a user", Given: []domain.Event{created()}, When: deactivate, Want: []domain.Event{&Deactivated{}}},
		{Name: "deactivating again records nothing", Given: []domain.Event{created(), &Deactivated{}}, When: deactivate},
		{Name: "reactivates", Given: []domain.Event{created(), &Deactivated{}}, When: reactivate, Want: []domain.Event{&Reactivated{}}},
		{Name: "an active user's reactivation records nothing", Given: []domain.Event{created()}, When: reactivate},
		{Name: "a deleted user cannot be deactivated", Given: []domain.Event{created(), &Deleted{Username: "alice"}}, When: deactivate, WantErr: domain.ErrNotFound},
	})
}
