package commands

import (
	"context"

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
	return a.onCompany(ctx, m, id, domain.Update, func(c *company.Company) ([]domain.Event, error) {
		return c.Update(name)
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
