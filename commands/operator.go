package commands

import (
	"context"
	"fmt"

	"agentdesk/domain"
	"agentdesk/domain/user"
)

// operator is the principal of commands an operator runs from the command
// line, outside any HTTP session: its events carry actor_id "operator", so
// the audit trail tells them apart from the API's and the bootstrap's
// ("system").
var operator = Meta{Principal: domain.Principal{UserID: "operator", Role: domain.Superadmin}}

// UserExists reports whether a live user holds username. A name claimed
// by a user that was never created, or was deleted, is not held.
func (a *App) UserExists(ctx context.Context, username string) (bool, error) {
	id, err := a.ownerOf(ctx, username)
	if err != nil || id == "" {
		return false, err
	}
	u, err := load[user.User](ctx, a, user.Events, user.Stream(id))
	if err != nil {
		return false, err
	}
	return u.state.Exists(), nil
}

// ResetPassword sets the password of the user holding username, acting as
// the operator: it is how a locked-out superadmin gets back in. It appends
// user.PasswordChanged; a user that does not exist is domain.ErrNotFound,
// and a password out of the length limits a *domain.ValidationError.
func (a *App) ResetPassword(ctx context.Context, username, password string) (Result, error) {
	id, err := a.ownerOf(ctx, username)
	if err != nil {
		return Result{}, err
	}
	notFound := fmt.Errorf("user %q: %w", user.NormalizeUsername(username), domain.ErrNotFound)
	if id == "" {
		return Result{}, notFound
	}
	hash, err := a.hashPassword(password, username)
	if err != nil {
		return Result{}, err
	}
	return execute(ctx, a, operator, user.Events, user.Stream(id), id,
		func(u *user.User) (string, []domain.Event, error) {
			if !u.Exists() {
				return "", nil, notFound
			}
			evs, err := u.ChangePassword(hash)
			return u.CompanyID, evs, err
		})
}

// ownerOf returns the id of the user that claims username, or "" when no
// valid id does.
func (a *App) ownerOf(ctx context.Context, username string) (string, error) {
	l, err := load[user.Username](ctx, a, user.Events, user.UsernameStream(username))
	if err != nil {
		return "", err
	}
	if !domain.ValidID(l.state.Owner) {
		return "", nil
	}
	return l.state.Owner, nil
}
