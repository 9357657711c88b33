// Package company is the Company aggregate: a tenant of the platform.
// Every other aggregate belongs to exactly one company.
package company

import (
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// MaxName is the longest company name accepted.
const MaxName = 200

// Company is the state of one company, rebuilt from its events.
type Company struct {
	ID        string
	Name      string
	Suspended bool
	Deleted   bool
	// MonthlyTokenQuota is the tokens its users may spend on the LLM in a
	// UTC month; nil for the server's default.
	MonthlyTokenQuota *int64
	Version           uint64
}

// Status names a company's state as records show it.
type Status string

// Statuses of a company.
const (
	Active    Status = "active"
	Suspended Status = "suspended"
)

// Status returns c's status.
func (c *Company) Status() Status {
	if c.Suspended {
		return Suspended
	}
	return Active
}

// Exists reports whether the company was created and not deleted.
func (c *Company) Exists() bool { return c.Version > 0 && !c.Deleted }

// Apply evolves c by one event.
func (c *Company) Apply(e domain.Event) {
	c.Version++
	switch e := e.(type) {
	case *Created:
		c.ID, c.Name = e.CompanyID, e.Name
	case *Updated:
		c.Name = e.Name
	case *SuspendedEvent:
		c.Suspended = true
	case *Reactivated:
		c.Suspended = false
	case *Deleted:
		c.Deleted = true
	case *QuotaSet:
		c.MonthlyTokenQuota = e.MonthlyTokenQuota
	}
}

// Create decides the creation of a company.
func (c *Company) Create(id, name string) ([]domain.Event, error) {
	if c.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(id) {
		p.Add("id", "must be a UUID")
	}
	name = strings.TrimSpace(name)
	checkName(p, name)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{CompanyID: id, Name: name}}, nil
}

// Update decides renaming the company; the same name records nothing.
func (c *Company) Update(name string) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	name = strings.TrimSpace(name)
	checkName(p, name)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if name == c.Name {
		return nil, nil
	}
	return []domain.Event{&Updated{Name: name}}, nil
}

// MaxQuota is the largest monthly token quota accepted: beyond it a
// number loses precision in JSON clients.
const MaxQuota int64 = 1_000_000_000_000_000

// SetQuota decides the company's monthly token quota: a number of tokens
// (0: none at all), or nil for the server's default. The same quota
// records nothing.
func (c *Company) SetQuota(quota *int64) ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	if quota != nil && (*quota < 0 || *quota > MaxQuota) {
		return nil, &domain.ValidationError{Fields: map[string]string{
			"monthly_token_quota": "must be a number of tokens from 0 to 1,000,000,000,000,000, or null for the server's default"}}
	}
	if sameQuota(quota, c.MonthlyTokenQuota) {
		return nil, nil
	}
	var q *int64
	if quota != nil {
		v := *quota
		q = &v
	}
	return []domain.Event{&QuotaSet{MonthlyTokenQuota: q}}, nil
}

// sameQuota reports whether a and b are the same quota, both the
// default (nil) or the same number.
func sameQuota(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Suspend decides suspending the company: its users can no longer sign
// in or act until it is reactivated. Suspending it again records nothing.
func (c *Company) Suspend() ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	if c.Suspended {
		return nil, nil
	}
	return []domain.Event{&SuspendedEvent{}}, nil
}

// Reactivate decides lifting a suspension; an active company records
// nothing.
func (c *Company) Reactivate() ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	if !c.Suspended {
		return nil, nil
	}
	return []domain.Event{&Reactivated{}}, nil
}

// Delete decides deleting the company.
func (c *Company) Delete() ([]domain.Event, error) {
	if !c.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

func checkName(p domain.Problems, name string) {
	switch {
	case name == "":
		p.Add("name", "must not be empty")
	case utf8.RuneCountInString(name) > MaxName:
		p.Add("name", "must be at most 200 characters")
	}
}

// Created records a new company.
type Created struct {
	CompanyID string `json:"company_id"`
	Name      string `json:"name"`
}

// Updated records a company's new name.
type Updated struct {
	Name string `json:"name"`
}

// Deleted records a company's deletion.
type Deleted struct{}

// SuspendedEvent records a company's suspension. (Suspended is the
// status; the event keeps its own name.)
type SuspendedEvent struct{}

// Reactivated records the end of a company's suspension.
type Reactivated struct{}

// QuotaSet records the company's new monthly token quota; null means the
// server's default.
type QuotaSet struct {
	MonthlyTokenQuota *int64 `json:"monthly_token_quota"`
}

// Event type names, stable forever.
const (
	TypeCreated     = "company.created"
	TypeUpdated     = "company.updated"
	TypeDeleted     = "company.deleted"
	TypeSuspended   = "company.suspended"
	TypeReactivated = "company.reactivated"
	TypeQuotaSet    = "company.quota_set"
)

// EventType implements domain.Event.
func (*SuspendedEvent) EventType() string { return TypeSuspended }

// EventType implements domain.Event.
func (*Reactivated) EventType() string { return TypeReactivated }

// EventType implements domain.Event.
func (*QuotaSet) EventType() string { return TypeQuotaSet }

// EventType implements domain.Event.
func (*Created) EventType() string { return TypeCreated }

// EventType implements domain.Event.
func (*Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (*Deleted) EventType() string { return TypeDeleted }

// Events decodes stored company events.
var Events = domain.NewRegistry(
	func() domain.Event { return &Created{} },
	func() domain.Event { return &Updated{} },
	func() domain.Event { return &Deleted{} },
	func() domain.Event { return &SuspendedEvent{} },
	func() domain.Event { return &Reactivated{} },
	func() domain.Event { return &QuotaSet{} },
)

// Stream returns the event stream id of a company.
func Stream(id string) string { return "company-" + id }

// Category is the stream category of companies.
const Category = "company"
