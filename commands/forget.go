package commands

import (
	"context"
	"errors"
	"fmt"

	"agentdesk/domain"
	"agentdesk/domain/user"
)

// ErrNoPII is returned by ForgetUser when no PII is configured: personal
// data was stored as it is, and only a key store makes it erasable.
var ErrNoPII = errors.New("personal data is not sealed by this process (no key store configured), so it cannot be erased")

// Forgotten is what ForgetUser did.
type Forgotten struct {
	Result
	// Deleted is set when the user had been deleted: its data was still
	// in the log, but it has no record to answer.
	Deleted bool
}

// ForgetUser erases a user's personal data (email and full name) by
// destroying the key they are sealed with in the event log, then records
// user.forgotten: the history keeps who erased it and when, and the read
// models show the fields erased at once. Only a superadmin may; a user
// the actor cannot see is domain.ErrNotFound, one it can see but not
// forget domain.ErrForbidden. A deleted user may be forgotten too.
//
// The key goes before the event is recorded, so that the erasure is never
// claimed without being done. A crash between the two leaves the data
// erased and the event missing (the read model shows the old values until
// a rebuild): running the command again records it.
func (a *App) ForgetUser(ctx context.Context, m Meta, id string) (Forgotten, error) {
	if !domain.ValidID(id) {
		return Forgotten{}, domain.ErrNotFound
	}
	var out Forgotten
	res, err := execute(ctx, a, m, user.Events, user.Stream(id), id,
		func(u *user.User) (string, []domain.Event, error) {
			p := m.Principal
			visible := p.IsSuperadmin() || (u.Exists() && (u.ID == p.UserID || domain.CanUser(p, domain.Read, u.Ref())))
			if u.Version == 0 || u.Abandoned || !visible {
				return "", nil, domain.ErrNotFound
			}
			if !p.IsSuperadmin() {
				return "", nil, fmt.Errorf("%w: only a superadmin erases personal data", domain.ErrForbidden)
			}
			evs, err := u.Forget()
			if err != nil {
				return "", nil, err
			}
			if a.pii == nil {
				return "", nil, ErrNoPII
			}
			// Even when the user was forgotten already: that is the
			// repair of a crash the other way round.
			if err := a.pii.Forget(ctx, id); err != nil {
				return "", nil, fmt.Errorf("forget the key of user %s: %w", id, err)
			}
			out.Deleted = u.Deleted
			return u.CompanyID, evs, nil
		})
	out.Result = res
	return out, err
}

// ForgetUserAsOperator is ForgetUser run by the operator from the command
// line: its user.forgotten carries actor_id "operator".
func (a *App) ForgetUserAsOperator(ctx context.Context, id string) (Forgotten, error) {
	return a.ForgetUser(ctx, operator, id)
}
