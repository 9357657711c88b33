package commands

import (
	"context"
	"fmt"

	"agentdesk/domain"
	"agentdesk/domain/company"
)

// CreateCompany creates a company; only a superadmin may.
func (a *App) CreateCompany(ctx context.Context, m Meta, name string) (Result, error) {
	if !domain.CanCompany(m.Principal, domain.Create, "") {
		return Result{}, domain.ErrForbidden
	}
	id := newID(m, "company")
	return create(ctx, a, m, company.Events, company.Stream(id), id,
		func(c *company.Company) (string, []domain.Event, error) {
			evs, err := c.Create(id, name)
			return id, evs, err
		})
}

// UpdateCompany renames a company.
func (a *App) UpdateCompany(ctx context.Context, m Meta, id, name string) (Result, error) {
	return a.ChangeCompany(ctx, m, id, CompanyChanges{Name: &name})
}

// SetCompanyQuota sets a company's monthly token quota: a number of
// tokens (0: none), or nil for the server's default. Only a superadmin
// may.
func (a *App) SetCompanyQuota(ctx context.Context, m Meta, id string, quota *int64) (Result, error) {
	return a.ChangeCompany(ctx, m, id, CompanyChanges{SetQuota: true, MonthlyTokenQuota: quota})
}

// CompanyChanges are the fields of a company an update sets; the others
// stay as they are.
type CompanyChanges struct {
	// Name, when set, renames the company.
	Name *string
	// SetQuota says that MonthlyTokenQuota is given: a number of tokens,
	// or nil for the server's default.
	SetQuota          bool
	MonthlyTokenQuota *int64
}

// ChangeCompany changes a company's fields in one append. A quota sent
// back unchanged (React Admin sends the whole record) is no change; a
// change of the quota needs domain.SetQuota, whatever the rest needs.
func (a *App) ChangeCompany(ctx context.Context, m Meta, id string, in CompanyChanges) (Result, error) {
	return a.onCompany(ctx, m, id, domain.Update, func(c *company.Company) ([]domain.Event, error) {
		var evs []domain.Event
		if in.Name != nil {
			e, err := c.Update(*in.Name)
			if err != nil {
				return nil, err
			}
			evs = append(evs, e...)
		}
		if in.SetQuota {
			e, err := c.SetQuota(in.MonthlyTokenQuota)
			if err != nil {
				return nil, err
			}
			if len(e) > 0 && !domain.CanCompany(m.Principal, domain.SetQuota, id) {
				return nil, fmt.Errorf("%w: only a superadmin sets a company's monthly_token_quota", domain.ErrForbidden)
			}
			evs = append(evs, e...)
		}
		return evs, nil
	})
}

// SuspendCompany suspends a company: its users can neither sign in nor
// act, and their tokens stop working, until it is reactivated.
func (a *App) SuspendCompany(ctx context.Context, m Meta, id string) (Result, error) {
	return a.onCompany(ctx, m, id, domain.Update, (*company.Company).Suspend)
}

// ReactivateCompany lifts a company's suspension.
func (a *App) ReactivateCompany(ctx context.Context, m Meta, id string) (Result, error) {
	return a.onCompany(ctx, m, id, domain.Update, (*company.Company).Reactivate)
}

// DeleteCompany deletes a company; its history stays.
func (a *App) DeleteCompany(ctx context.Context, m Meta, id string) (Result, error) {
	return a.onCompany(ctx, m, id, domain.Delete, (*company.Company).Delete)
}

func (a *App) onCompany(ctx context.Context, m Meta, id string, act domain.Action, decide func(*company.Company) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, company.Events, company.Stream(id), id,
		func(c *company.Company) (string, []domain.Event, error) {
			if !c.Exists() || !domain.CanCompany(m.Principal, domain.Read, id) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanCompany(m.Principal, act, id) {
				return "", nil, domain.ErrForbidden
			}
			evs, err := decide(c)
			return id, evs, err
		})
}

// companyExists reports whether a live company has this id.
func (a *App) companyExists(ctx context.Context, id string) (bool, error) {
	l, err := load[company.Company](ctx, a, company.Events, company.Stream(id))
	if err != nil {
		return false, err
	}
	return l.state.Exists(), nil
}
