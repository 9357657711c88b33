package user

import (
	"testing"

	"agentdesk/domain"
)

func claim(id string) func(*Username) ([]domain.Event, error) {
	return func(n *Username) ([]domain.Event, error) { return n.Claim(id) }
}

func release(id string) func(*Username) ([]domain.Event, error) {
	return func(n *Username) ([]domain.Event, error) { return n.Release(id) }
}

func TestUsername(t *testing.T) {
	claimed := []domain.Event{&Claimed{UserID: userID}}
	released := []domain.Event{&Claimed{UserID: userID}, &Released{UserID: userID}}
	runSpecs(t, []spec[Username]{
		{
			name: "claims a free name",
			when: claim(userID),
			want: []domain.Event{&Claimed{UserID: userID}},
		},
		{
			name:  "a claim by the owner records nothing",
			given: claimed,
			when:  claim(userID),
		},
		{
			name:       "a name taken by another user is invalid",
			given:      claimed,
			when:       claim(otherUserID),
			wantFields: []string{"username"},
		},
		{
			name:  "a released name can be claimed by another user",
			given: released,
			when:  claim(otherUserID),
			want:  []domain.Event{&Claimed{UserID: otherUserID}},
		},
		{
			name:  "the owner releases the name",
			given: claimed,
			when:  release(userID),
			want:  []domain.Event{&Released{UserID: userID}},
		},
		{
			name:  "a release by another user records nothing",
			given: claimed,
			when:  release(otherUserID),
		},
		{
			name: "releasing a free name records nothing",
			when: release(userID),
		},
		{
			name:  "releasing a released name records nothing",
			given: released,
			when:  release(userID),
		},
		{
			name:  "releasing a free name with no user records nothing",
			given: released,
			when:  release(""),
		},
	})
}

func TestUsernameApply(t *testing.T) {
	for _, c := range []struct {
		name  string
		given []domain.Event
		want  Username
	}{
		{name: "nothing", want: Username{}},
		{name: "claimed", given: []domain.Event{&Claimed{UserID: userID}}, want: Username{Owner: userID, Version: 1}},
		{
			name:  "released",
			given: []domain.Event{&Claimed{UserID: userID}, &Released{UserID: userID}},
			want:  Username{Version: 2},
		},
		{
			name:  "claimed again",
			given: []domain.Event{&Claimed{UserID: userID}, &Released{UserID: userID}, &Claimed{UserID: otherUserID}},
			want:  Username{Owner: otherUserID, Version: 3},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got Username
			for _, e := range c.given {
				got.Apply(e)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// The claim stream is keyed by the normalized name, so "Alice" and
// " alice" contend for the same claim.
func TestUsernameStream(t *testing.T) {
	for _, name := range []string{"alice", "Alice", "  ALICE\t"} {
		if got, want := UsernameStream(name), "username-alice"; got != want {
			t.Errorf("got UsernameStream(%q) = %q, want %q", name, got, want)
		}
	}
}
