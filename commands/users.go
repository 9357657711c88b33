package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trustelem/zxcvbn"

	"agentdesk/domain"
	"agentdesk/domain/user"
)

// Password length limits; bcrypt reads at most 72 bytes.
const (
	MinPassword = 8
	MaxPassword = 72
)

// CreateUser is the input of the CreateUser command.
type CreateUser struct {
	// CompanyID is only read for a superadmin; company admins create users
	// in their own company. It is empty for a new superadmin.
	CompanyID string
	Username  string
	Password  string
	Email     string
	FullName  string
	Role      domain.Role
}

// CreateUser creates a user and claims its username.
func (a *App) CreateUser(ctx context.Context, m Meta, in CreateUser) (Result, error) {
	p := m.Principal
	companyID := in.CompanyID
	if !p.IsSuperadmin() {
		if companyID != "" && companyID != p.CompanyID {
			return Result{}, &domain.ValidationError{Fields: map[string]string{"company_id": "must be your own company"}}
		}
		companyID = p.CompanyID
	}
	if !domain.CanUser(p, domain.Create, domain.UserRef{CompanyID: companyID, Role: in.Role}) {
		return Result{}, domain.ErrForbidden
	}
	if companyID != "" && p.IsSuperadmin() {
		ok, err := a.companyExists(ctx, companyID)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			return Result{}, &domain.ValidationError{Fields: map[string]string{"company_id": "no such company"}}
		}
	}
	hash, err := a.hashPassword(in.Password, in.Username, in.Email, in.FullName)
	if err != nil {
		return Result{}, err
	}
	id := newID(m, "user")
	// Validate before claiming the name, so a bad request claims nothing.
	var probe user.User
	cmd := user.CreateCmd{UserID: id, CompanyID: companyID, Username: in.Username, Email: in.Email,
		FullName: in.FullName, Role: in.Role, PasswordHash: hash}
	if _, err := probe.Create(cmd); err != nil {
		return Result{}, err
	}
	if err := a.claimUsername(ctx, m.other(), companyID, in.Username, id); err != nil {
		return Result{}, err
	}
	return create(ctx, a, m, user.Events, user.Stream(id), id,
		func(u *user.User) (string, []domain.Event, error) {
			evs, err := u.Create(cmd)
			return companyID, evs, err
		})
}

// UpdateUser is the input of the UpdateUser command; nil fields stay.
type UpdateUser struct {
	Email    *string
	FullName *string
	Role     *domain.Role
	Password *string
	// OldPassword is required when users change their own password; an
	// admin resetting someone else's does not give it.
	OldPassword *string
	// Fixed holds username and company_id as sent back; changing them is
	// a validation error.
	Fixed Fixed
}

// UpdateUser changes a user's profile, role or password. Users may change
// their own profile and password but not their own role.
func (a *App) UpdateUser(ctx context.Context, m Meta, id string, in UpdateUser) (Result, error) {
	var hash string
	if in.Password != nil {
		h, err := a.hashPassword(*in.Password)
		if err != nil {
			return Result{}, err
		}
		hash = h
	}
	return a.onUser(ctx, m, id, domain.Update, func(u *user.User) ([]domain.Event, error) {
		if err := in.Fixed.check(func(field string) string {
			if field == "username" {
				return u.Username
			}
			return u.CompanyID
		}); err != nil {
			return nil, err
		}
		if in.Role != nil && *in.Role != u.Role {
			if u.ID == m.Principal.UserID && !m.Principal.IsSuperadmin() {
				return nil, fmt.Errorf("%w: you cannot change your own role", domain.ErrForbidden)
			}
			if *in.Role == domain.Superadmin && !m.Principal.IsSuperadmin() {
				return nil, fmt.Errorf("%w: only a superadmin grants superadmin", domain.ErrForbidden)
			}
		}
		evs, err := u.Update(user.UpdateCmd{Email: in.Email, FullName: in.FullName, Role: in.Role})
		if err != nil || hash == "" {
			return evs, err
		}
		if strings.EqualFold(strings.TrimSpace(*in.Password), u.Username) {
			return nil, &domain.ValidationError{Fields: map[string]string{"password": "must not be the username"}}
		}
		if u.ID == m.Principal.UserID {
			switch {
			case in.OldPassword == nil || *in.OldPassword == "":
				return nil, &domain.ValidationError{Fields: map[string]string{"old_password": "is required to change your own password"}}
			case !a.hasher.Verify(u.PasswordHash, *in.OldPassword):
				return nil, &domain.ValidationError{Fields: map[string]string{"old_password": "is not your current password"}}
			}
		}
		pw, err := u.ChangePassword(hash)
		return append(evs, pw...), err
	})
}

// DeactivateUser deactivates a user: it can neither sign in nor act, and
// its tokens stop working, until it is reactivated. Nobody deactivates
// themselves.
func (a *App) DeactivateUser(ctx context.Context, m Meta, id string) (Result, error) {
	if id == m.Principal.UserID {
		return Result{}, fmt.Errorf("%w: you cannot deactivate yourself", domain.ErrForbidden)
	}
	return a.onUser(ctx, m, id, domain.Delete, (*user.User).Deactivate)
}

// ReactivateUser reactivates a deactivated user.
func (a *App) ReactivateUser(ctx context.Context, m Meta, id string) (Result, error) {
	return a.onUser(ctx, m, id, domain.Delete, (*user.User).Reactivate)
}

// DeleteUser deletes a user and frees the username.
func (a *App) DeleteUser(ctx context.Context, m Meta, id string) (Result, error) {
	if id == m.Principal.UserID {
		return Result{}, fmt.Errorf("%w: you cannot delete yourself", domain.ErrForbidden)
	}
	var username, companyID string
	res, err := a.onUser(ctx, m, id, domain.Delete, func(u *user.User) ([]domain.Event, error) {
		username, companyID = u.Username, u.CompanyID
		return u.Delete()
	})
	if err != nil || !res.Changed {
		return res, err
	}
	_, err = execute(ctx, a, m.other(), user.Events, user.UsernameStream(username), id,
		func(n *user.Username) (string, []domain.Event, error) {
			evs, err := n.Release(id)
			return companyID, evs, err
		})
	return res, err
}

// onUser runs a command on an existing user the actor can see. Users who
// may only read themselves see nobody else: others are not found.
func (a *App) onUser(ctx context.Context, m Meta, id string, act domain.Action, decide func(*user.User) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, user.Events, user.Stream(id), id,
		func(u *user.User) (string, []domain.Event, error) {
			self := u.ID == m.Principal.UserID
			if !u.Exists() || !(self || domain.CanUser(m.Principal, domain.Read, u.Ref())) {
				return "", nil, domain.ErrNotFound
			}
			// Everyone may change their own profile and password.
			if !(self && act == domain.Update) && !domain.CanUser(m.Principal, act, u.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			evs, err := decide(u)
			return u.CompanyID, evs, err
		})
}

// EnsureSuperadmin creates the platform superadmin if no user holds the
// username yet. It reports whether it created one, and where (the result's
// position, for a reader to wait for).
func (a *App) EnsureSuperadmin(ctx context.Context, username, password string) (Result, bool, error) {
	l, err := load[user.Username](ctx, a, user.Events, user.UsernameStream(username))
	if err != nil {
		return Result{}, false, err
	}
	if owner := l.state.Owner; owner != "" {
		u, err := load[user.User](ctx, a, user.Events, user.Stream(owner))
		if err != nil {
			return Result{}, false, err
		}
		if u.state.Exists() {
			return Result{}, false, nil
		}
		// The name is held by a user that is not there (a crash between
		// the claim and the creation): CreateUser settles the claim.
	}
	system := Meta{Principal: domain.Principal{UserID: "system", Role: domain.Superadmin}}
	res, err := a.CreateUser(ctx, system, CreateUser{Username: username, Password: password, Role: domain.Superadmin, FullName: "Platform administrator"})
	return res, err == nil, err
}

// hashPassword checks a new password and hashes it. Besides its length,
// a password must not be trivially guessable: zxcvbn (Dropbox's
// estimator, with its lists of common passwords, names and keyboard
// patterns, here in github.com/trustelem/zxcvbn) must rate it above its
// lowest score, counting what is known of the user (username, email,
// name) as guessable. "12345678", "password", all spaces, "qwertyuiop" or
// the username are refused.
func (a *App) hashPassword(pw string, userInputs ...string) (string, error) {
	switch {
	case len(pw) < MinPassword:
		return "", &domain.ValidationError{Fields: map[string]string{"password": fmt.Sprintf("must be at least %d characters", MinPassword)}}
	case len(pw) > MaxPassword:
		return "", &domain.ValidationError{Fields: map[string]string{"password": fmt.Sprintf("must be at most %d bytes", MaxPassword)}}
	case zxcvbn.PasswordStrength(pw, userInputs).Score < 1:
		return "", &domain.ValidationError{Fields: map[string]string{"password": "is too common or too easy to guess"}}
	}
	h, err := a.hasher.Hash(pw)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// claimUsername reserves a username for userID. The claim is its own
// stream appended with an expected revision, so two concurrent creates of
// the same name cannot both win. A claim whose owner has no live user is
// settled first (see settleClaim), so a crash between claiming the name
// and creating the user, or between deleting a user and releasing its
// name, never blocks the name for good.
func (a *App) claimUsername(ctx context.Context, m Meta, companyID, username, userID string) error {
	stream := user.UsernameStream(username)
	claim, err := load[user.Username](ctx, a, user.Events, stream)
	if err != nil {
		return err
	}
	var stale string
	if owner := claim.state.Owner; owner != "" && owner != userID {
		if stale, err = a.settleClaim(ctx, m, companyID, username, owner); err != nil {
			return err
		}
	}
	_, err = execute(ctx, a, m, user.Events, stream, userID,
		func(n *user.Username) (string, []domain.Event, error) {
			evs, err := n.Claim(userID, stale)
			return companyID, evs, err
		})
	if errors.Is(err, domain.ErrConflict) {
		return &domain.ValidationError{Fields: map[string]string{"username": "is taken"}}
	}
	return err
}

// settleClaim decides whether owner's claim on username is stale: it is
// when owner's user was deleted (the release was never recorded) or never
// created. A user never created may still be on its way (its claim just
// landed), so it is abandoned first: an append to its empty stream that
// expects no stream, which its creation (also expecting no stream) cannot
// follow. Whichever lands first wins, so the name is never held twice. It
// returns owner when the claim may be taken over, or the "is taken" error.
func (a *App) settleClaim(ctx context.Context, m Meta, companyID, username, owner string) (string, error) {
	taken := &domain.ValidationError{Fields: map[string]string{"username": "is taken"}}
	if !domain.ValidID(owner) {
		return "", taken
	}
	for range 2 {
		u, err := load[user.User](ctx, a, user.Events, user.Stream(owner))
		if err != nil {
			return "", err
		}
		switch {
		case u.state.Exists():
			return "", taken
		case u.exists: // deleted or abandoned
			return owner, nil
		}
		_, err = decideAndAppend(ctx, a, m, u, user.Stream(owner), owner,
			func(u *user.User) (string, []domain.Event, error) {
				evs, err := u.Abandon(username)
				return companyID, evs, err
			})
		if err == nil {
			return owner, nil
		}
		if !errors.Is(err, domain.ErrConflict) {
			return "", err
		}
		// The user was created (or abandoned) meanwhile: look again.
	}
	return "", taken
}

// checkMember verifies that userID is a live user of companyID; field
// names the input for the validation message.
func (a *App) checkMember(ctx context.Context, companyID, userID, field string) error {
	if !domain.ValidID(userID) {
		return &domain.ValidationError{Fields: map[string]string{field: "must be a UUID"}}
	}
	l, err := load[user.User](ctx, a, user.Events, user.Stream(userID))
	if err != nil {
		return err
	}
	if !l.state.Exists() || l.state.CompanyID != companyID {
		return &domain.ValidationError{Fields: map[string]string{field: "no such user in this company"}}
	}
	return nil
}
