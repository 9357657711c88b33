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
	Version   uint64
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

// Event type names, stable forever.
const (
	TypeCreated     = "company.created"
	TypeUpdated     = "company.updated"
	TypeDeleted     = "company.deleted"
	TypeSuspended   = "company.suspended"
	TypeReactivated = "company.reactivated"
)

// EventType implements domain.Event.
func (*SuspendedEvent) EventType() string { return TypeSuspended }

// EventType implements domain.Event.
func (*Reactivated) EventType() string { return TypeReactivated }

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
)

// Stream returns the event stream id of a company.
func Stream(id string) string { return "company-" + id }

// Category is the stream category of companies.
const Category = "company"
