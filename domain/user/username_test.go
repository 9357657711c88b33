package user

import (
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

func claim(id string) func(*Username) ([]domain.Event, error) {
	return func(n *Username) ([]domain.Event, error) { return n.Claim(id, "") }
}

func release(id string) func(*Username) ([]domain.Event, error) {
	return func(n *Username) ([]domain.Event, error) { return n.Release(id) }
}

func TestUsername(t *testing.T) {
	claimed := []domain.Event{&Claimed{UserID: userID}}
	released := []domain.Event{&Claimed{UserID: userID}, &Released{UserID: userID}}
	domaintest.Run(t, []domaintest.Spec[Username]{
		{
			Name: "claims a free name",
			When: claim(userID),
			Want: []domain.Event{&Claimed{UserID: userID}},
		},
		{
			Name:  "a claim by the owner records nothing",
			Given: claimed,
			When:  claim(userID),
		},
		{
			Name:       "a name taken by another user is invalid",
			Given:      claimed,
			When:       claim(otherUserID),
			WantFields: []string{"username"},
		},
		{
			Name:  "a stale claim is released and taken over in one decision",
			Given: claimed,
			When:  func(n *Username) ([]domain.Event, error) { return n.Claim(otherUserID, userID) },
			Want:  []domain.Event{&Released{UserID: userID}, &Claimed{UserID: otherUserID}},
		},
		{
			Name:       "a claim proven stale for someone else is still taken",
			Given:      claimed,
			When:       func(n *Username) ([]domain.Event, error) { return n.Claim(otherUserID, "someone-else") },
			WantFields: []string{"username"},
		},
		{
			Name:  "a released name can be claimed by another user",
			Given: released,
			When:  claim(otherUserID),
			Want:  []domain.Event{&Claimed{UserID: otherUserID}},
		},
		{
			Name:  "the owner releases the name",
			Given: claimed,
			When:  release(userID),
			Want:  []domain.Event{&Released{UserID: userID}},
		},
		{
			Name:  "a release by another user records nothing",
			Given: claimed,
			When:  release(otherUserID),
		},
		{
			Name: "releasing a free name records nothing",
			When: release(userID),
		},
		{
			Name:  "releasing a released name records nothing",
			Given: released,
			When:  release(userID),
		},
		{
			Name:  "releasing a free name with no user records nothing",
			Given: released,
			When:  release(""),
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
			got := domaintest.Replay[Username](c.given)
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
