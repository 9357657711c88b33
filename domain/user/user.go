// Package user is the User aggregate (a person who signs in, with one role
// in one company, or a platform superadmin) and the Username aggregate that
// keeps usernames unique across the platform.
package user

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// User is the state of one user, rebuilt from its events.
type User struct {
	ID           string
	CompanyID    string
	Username     string
	Email        string
	FullName     string
	Role         domain.Role
	PasswordHash string
	Deleted      bool
	// Inactive is set while the user is deactivated: it cannot sign in
	// or act.
	Inactive bool
	// Abandoned is set when the user was never created and never can be:
	// its username claim was found orphaned and handed to someone else.
	Abandoned bool
	// Forgotten is set once the user's personal data was erased: Email
	// and FullName read domain.Erased and cannot be set again, since the
	// key they would be sealed with is gone.
	Forgotten bool
	Version   uint64
}

// Exists reports whether the user was created and not deleted.
func (u *User) Exists() bool { return u.Version > 0 && !u.Deleted && !u.Abandoned }

// Ref is what the role policy needs to know about u.
func (u *User) Ref() domain.UserRef {
	return domain.UserRef{ID: u.ID, CompanyID: u.CompanyID, Role: u.Role}
}

// Apply evolves u by one event.
func (u *User) Apply(e domain.Event) {
	u.Version++
	switch e := e.(type) {
	case *Created:
		u.ID, u.CompanyID, u.Username = e.UserID, e.CompanyID, e.Username
		u.Email, u.FullName, u.Role, u.PasswordHash = e.Email, e.FullName, e.Role, e.PasswordHash
	case *Updated:
		if e.Email != nil {
			u.Email = *e.Email
		}
		if e.FullName != nil {
			u.FullName = *e.FullName
		}
		if e.Role != nil {
			u.Role = *e.Role
		}
	case *PasswordChanged:
		u.PasswordHash = e.PasswordHash
	case *Deleted:
		u.Deleted = true
	case *Abandoned:
		u.Abandoned = true
	case *Deactivated:
		u.Inactive = true
	case *Reactivated:
		u.Inactive = false
	case *Forgotten:
		u.Forgotten = true
		u.Email, u.FullName = erase(u.Email), erase(u.FullName)
	}
}

// erase returns what a personal field reads once erased.
func erase(v string) string {
	if v == "" {
		return ""
	}
	return domain.Erased
}

// CreateCmd creates a user. The password arrives already hashed: hashing
// is the application's business, not the domain's.
type CreateCmd struct {
	UserID       string
	CompanyID    string // empty for a superadmin
	Username     string
	Email        string
	FullName     string
	Role         domain.Role
	PasswordHash string
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{2,63}$`)

// NormalizeUsername returns the canonical (trimmed, lower-case) username.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Create decides the creation of a user.
func (u *User) Create(c CreateCmd) ([]domain.Event, error) {
	if u.Abandoned {
		return nil, fmt.Errorf("%w: this user's creation was abandoned and its username given to another request; send a new request", domain.ErrConflict)
	}
	if u.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(c.UserID) {
		p.Add("id", "must be a UUID")
	}
	c.Username = NormalizeUsername(c.Username)
	if !usernamePattern.MatchString(c.Username) {
		p.Add("username", "must be 3 to 64 characters: letters, digits, '.', '_', '@' or '-'")
	}
	checkRole(p, c.Role, c.CompanyID)
	c.Email = strings.TrimSpace(c.Email)
	checkEmail(p, c.Email)
	c.FullName = strings.TrimSpace(c.FullName)
	checkFullName(p, c.FullName)
	if c.PasswordHash == "" {
		p.Add("password", "is required")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{
		UserID: c.UserID, CompanyID: c.CompanyID, Username: c.Username, Email: c.Email,
		FullName: c.FullName, Role: c.Role, PasswordHash: c.PasswordHash,
	}}, nil
}

// UpdateCmd changes the fields that are set.
type UpdateCmd struct {
	Email    *string
	FullName *string
	Role     *domain.Role
}

// Update decides a profile or role change; only changed fields are recorded.
func (u *User) Update(c UpdateCmd) ([]domain.Event, error) {
	if !u.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	var e Updated
	changed := false
	if c.Email != nil {
		email := strings.TrimSpace(*c.Email)
		// Checked only when changed: a forgotten user's email, sent
		// back as it reads, is no address.
		if email != u.Email {
			checkEmail(p, email)
			e.Email, changed = &email, true
			u.checkNotErased(p, "email")
		}
	}
	if c.FullName != nil {
		name := strings.TrimSpace(*c.FullName)
		checkFullName(p, name)
		if name != u.FullName {
			e.FullName, changed = &name, true
			u.checkNotErased(p, "full_name")
		}
	}
	if c.Role != nil {
		checkRole(p, *c.Role, u.CompanyID)
		if *c.Role != u.Role {
			e.Role, changed = c.Role, true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	return []domain.Event{&e}, nil
}

// ChangePassword decides a password change.
func (u *User) ChangePassword(hash string) ([]domain.Event, error) {
	if !u.Exists() {
		return nil, domain.ErrNotFound
	}
	if hash == "" {
		return nil, &domain.ValidationError{Fields: map[string]string{"password": "is required"}}
	}
	return []domain.Event{&PasswordChanged{PasswordHash: hash}}, nil
}

// Delete decides deleting the user.
func (u *User) Delete() ([]domain.Event, error) {
	if !u.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{Username: u.Username}}, nil
}

// checkNotErased refuses a new value for a personal field of a forgotten
// user. Sent back as it reads (domain.Erased) it is no change and fine.
func (u *User) checkNotErased(p domain.Problems, field string) {
	if u.Forgotten {
		p.Add(field, "was erased and cannot be set again")
	}
}

// Forget decides erasing the user's personal data (email and full name).
// A deleted user may be forgotten too: its data is still in the log.
// Forgetting again records nothing.
func (u *User) Forget() ([]domain.Event, error) {
	if u.Version == 0 || u.Abandoned {
		return nil, domain.ErrNotFound
	}
	if u.Forgotten {
		return nil, nil
	}
	return []domain.Event{&Forgotten{}}, nil
}

func checkRole(p domain.Problems, r domain.Role, companyID string) {
	switch {
	case !r.Valid():
		p.Add("role", "must be one of superadmin, company_admin, content_manager, content_writer, client")
	case r == domain.Superadmin && companyID != "":
		p.Add("role", "a superadmin belongs to no company")
	case r != domain.Superadmin && !domain.ValidID(companyID):
		p.Add("company_id", "is required for this role")
	}
}

func checkEmail(p domain.Problems, email string) {
	if email == "" {
		return
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		p.Add("email", "must be a valid address")
	}
}

func checkFullName(p domain.Problems, name string) {
	if utf8.RuneCountInString(name) > 200 {
		p.Add("full_name", "must be at most 200 characters")
	}
}

// Created records a new user.
type Created struct {
	UserID       string      `json:"user_id"`
	CompanyID    string      `json:"company_id"`
	Username     string      `json:"username"`
	Email        string      `json:"email"`
	FullName     string      `json:"full_name"`
	Role         domain.Role `json:"role"`
	PasswordHash string      `json:"password_hash"`
}

// Updated records changed profile fields.
type Updated struct {
	Email    *string      `json:"email,omitempty"`
	FullName *string      `json:"full_name,omitempty"`
	Role     *domain.Role `json:"role,omitempty"`
}

// MapPersonal implements domain.Personal: the email and the full name
// are personal data.
func (e *Created) MapPersonal(f func(string) (string, error)) (domain.Event, error) {
	c := *e
	var err error
	if c.Email, err = f(e.Email); err != nil {
		return nil, err
	}
	if c.FullName, err = f(e.FullName); err != nil {
		return nil, err
	}
	return &c, nil
}

// MapPersonal implements domain.Personal: the email and the full name
// are personal data.
func (e *Updated) MapPersonal(f func(string) (string, error)) (domain.Event, error) {
	c := *e
	for _, field := range []**string{&c.Email, &c.FullName} {
		if *field == nil {
			continue
		}
		v, err := f(**field)
		if err != nil {
			return nil, err
		}
		*field = &v
	}
	return &c, nil
}

// Forgotten records that a user's personal data was erased: the key its
// email and full name were sealed with in the log is destroyed, so the
// earlier events still decode but those fields read domain.Erased. The
// event itself says who erased it and when (its metadata).
type Forgotten struct{}

// PasswordChanged records a new password hash.
type PasswordChanged struct {
	PasswordHash string `json:"password_hash"`
}

// Deleted records a user's deletion.
type Deleted struct {
	Username string `json:"username"`
}

// Deactivate decides deactivating the user; deactivating it again
// records nothing.
func (u *User) Deactivate() ([]domain.Event, error) {
	if !u.Exists() {
		return nil, domain.ErrNotFound
	}
	if u.Inactive {
		return nil, nil
	}
	return []domain.Event{&Deactivated{}}, nil
}

// Reactivate decides reactivating a deactivated user.
func (u *User) Reactivate() ([]domain.Event, error) {
	if !u.Exists() {
		return nil, domain.ErrNotFound
	}
	if !u.Inactive {
		return nil, nil
	}
	return []domain.Event{&Reactivated{}}, nil
}

// Deactivated records that a user may no longer sign in or act.
type Deactivated struct{}

// Reactivated records that a deactivated user may sign in again.
type Reactivated struct{}

// Abandoned records that a user was never created and never will be. A
// user's creation claims the username first, then appends user.created;
// a crash between the two leaves a claim with no user. Whoever next wants
// the name appends Abandoned to the would-be user's empty stream (with
// "no stream" expected, so it cannot land after a creation, nor a creation
// after it) and then takes the claim over.
type Abandoned struct {
	Username string `json:"username"`
}

// Abandon decides abandoning a user that was never created.
func (u *User) Abandon(username string) ([]domain.Event, error) {
	if u.Abandoned {
		return nil, nil
	}
	if u.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	return []domain.Event{&Abandoned{Username: NormalizeUsername(username)}}, nil
}

// Event type names, stable forever.
const (
	TypeCreated         = "user.created"
	TypeUpdated         = "user.updated"
	TypePasswordChanged = "user.password_changed"
	TypeDeleted         = "user.deleted"
	TypeAbandoned       = "user.abandoned"
	TypeDeactivated     = "user.deactivated"
	TypeReactivated     = "user.reactivated"
	TypeForgotten       = "user.forgotten"
)

// EventType implements domain.Event.
func (*Forgotten) EventType() string { return TypeForgotten }

// EventType implements domain.Event.
func (*Deactivated) EventType() string { return TypeDeactivated }

// EventType implements domain.Event.
func (*Reactivated) EventType() string { return TypeReactivated }

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*PasswordChanged) EventType() string { return TypePasswordChanged }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// EventType implements domain.Event.
func (*Abandoned) EventType() string { return TypeAbandoned }

// Events decodes stored user events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &PasswordChanged{} },
	func() domain.Event { return &Deleted{} },
	func() domain.Event { return &Abandoned{} },
	func() domain.Event { return &Deactivated{} },
	func() domain.Event { return &Reactivated{} },
	func() domain.Event { return &Forgotten{} },
	func() domain.Event { return &Claimed{} },
	func() domain.Event { return &Released{} },
)

// Stream returns the event stream id of a user.
func Stream(id string) string { return "user-" + id }

// Category is the stream category of users.
const Category = "user"

// SecretFields names event data fields that must never leave the server
// (audit views redact them).
var SecretFields = []string{"password_hash"}
