package user

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func TestForget(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[User]{
		{Name: "forgets a user", Given: []domain.Event{created()}, When: (*User).Forget, Want: []domain.Event{&Forgotten{}}},
		{Name: "forgets a deleted user, whose data is still in the log", Given: deletedUser, When: (*User).Forget, Want: []domain.Event{&Forgotten{}}},
		{Name: "forgetting again records nothing", Given: []domain.Event{created(), &Forgotten{}}, When: (*User).Forget},
		{Name: "a user never created is not found", When: (*User).Forget, WantErr: domain.ErrNotFound},
		{Name: "an abandoned user is not found", Given: []domain.Event{&Abandoned{Username: "alice"}}, When: (*User).Forget, WantErr: domain.ErrNotFound},
	})
}

func TestUpdateForgotten(t *testing.T) {
	forgotten := []domain.Event{created(), &Forgotten{}}
	update := func(c UpdateCmd) func(*User) ([]domain.Event, error) {
		return func(u *User) ([]domain.Event, error) { return u.Update(c) }
	}
	erased := domain.Erased
	domaintest.Run(t, []domaintest.Spec[User]{
		{Name: "the erased values sent back are no change", Given: forgotten,
			When: update(UpdateCmd{Email: &erased, FullName: &erased})},
		{Name: "a new email is refused", Given: forgotten,
			When: update(UpdateCmd{Email: domaintest.Ptr("new@example.com")}), WantFields: []string{"email"}},
		{Name: "a new full name is refused", Given: forgotten,
			When: update(UpdateCmd{FullName: domaintest.Ptr("Alice Again")}), WantFields: []string{"full_name"}},
		{Name: "the role still changes", Given: forgotten,
			When: update(UpdateCmd{Email: &erased, Role: domaintest.Ptr(domain.ContentManager)}),
			Want: []domain.Event{&Updated{Role: domaintest.Ptr(domain.ContentManager)}}},
	})
}

func TestForgottenErasesState(t *testing.T) {
	var u User
	u.Apply(createdWith(func(e *Created) { e.Email = "" }))
	u.Apply(&Forgotten{})
	if u.FullName != domain.Erased || u.Email != "" || !u.Forgotten {
		t.Fatalf("got full name %q, email %q, forgotten %v; want %q, \"\" (never set), true", u.FullName, u.Email, u.Forgotten, domain.Erased)
	}
	if !u.Exists() {
		t.Fatal("got a forgotten user that no longer exists, want it to exist: only its personal data is erased")
	}
}

func TestMapPersonal(t *testing.T) {
	upper := func(s string) (string, error) { return strings.ToUpper(s), nil }
	c := created()
	got, err := c.MapPersonal(upper)
	if err != nil {
		t.Fatal(err)
	}
	want := createdWith(func(e *Created) { e.Email, e.FullName = "ALICE@EXAMPLE.COM", "ALICE LIDDELL" })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(c, created()) {
		t.Fatalf("got the original changed to %+v, want it left as it was", c)
	}

	u := &Updated{FullName: domaintest.Ptr("Alice L."), Role: domaintest.Ptr(domain.CompanyAdmin)}
	got, err = u.MapPersonal(upper)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Updated{FullName: domaintest.Ptr("ALICE L."), Role: domaintest.Ptr(domain.CompanyAdmin)}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v (an unset email stays unset)", got, want)
	}
	if *u.FullName != "Alice L." {
		t.Fatalf("got the original's full name changed to %q, want it left as it was", *u.FullName)
	}

	boom := errors.New("boom")
	if _, err := c.MapPersonal(func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want f's error", err)
	}
	for _, e := range []domain.Event{&Claimed{}, &Released{}, &Deleted{}, &PasswordChanged{}} {
		if _, ok := e.(domain.Personal); ok {
			t.Errorf("got %s declared personal, want only events that carry an email or a name", e.EventType())
		}
	}
}
