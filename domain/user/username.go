package user

import "agentdesk/domain"

// Username is the state of one username's claim: usernames are unique
// platform-wide because sign-in takes a username alone.
type Username struct {
	Owner   string // user id holding the name, or empty
	Version uint64
}

// Apply evolves n by one event.
func (n *Username) Apply(e domain.Event) {
	n.Version++
	switch e := e.(type) {
	case *Claimed:
		n.Owner = e.UserID
	case *Released:
		n.Owner = ""
	}
}

// Claim decides claiming the name for userID. stale, when not empty, is
// an owner the caller has proven holds the name without a live user (its
// creation was abandoned, or it was deleted and the release never
// recorded): its claim is released and the name claimed in one append.
func (n *Username) Claim(userID, stale string) ([]domain.Event, error) {
	switch n.Owner {
	case userID:
		return nil, nil
	case "":
		return []domain.Event{&Claimed{UserID: userID}}, nil
	case stale:
		return []domain.Event{&Released{UserID: stale}, &Claimed{UserID: userID}}, nil
	}
	return nil, &domain.ValidationError{Fields: map[string]string{"username": "is taken"}}
}

// Release decides giving the name up; only its owner releases it.
func (n *Username) Release(userID string) ([]domain.Event, error) {
	if n.Owner == "" || n.Owner != userID {
		return nil, nil
	}
	return []domain.Event{&Released{UserID: userID}}, nil
}

// Claimed records that a user holds a username.
type Claimed struct {
	UserID string `json:"user_id"`
}

// Released records that a username is free again.
type Released struct {
	UserID string `json:"user_id"`
}

// Username event type names, stable forever.
const (
	TypeClaimed  = "username.claimed"
	TypeReleased = "username.released"
)

// EventType implements domain.Event.
func (*Claimed) EventType() string { return TypeClaimed }

// EventType implements domain.Event.
func (*Released) EventType() string { return TypeReleased }

// UsernameStream returns the stream id of a username's claim.
func UsernameStream(name string) string { return "username-" + NormalizeUsername(name) }
