package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/company"
	"agentdesk/domain/resource"
	"agentdesk/domain/ticket"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Names of the read models (and of their projections), from the
// resource declarations.
var (
	Companies   = resource.Companies.CollectionName()
	Users       = resource.Users.CollectionName()
	Tickets     = resource.Tickets.CollectionName()
	Credentials = resource.CredentialsCollection
	// TicketComments holds one document per comment, found by ticket: a
	// child record is its own document, so nothing grows without bound
	// inside one (MongoDB caps a document at 16 MB).
	TicketComments = resource.Comments.CollectionName()
)

// kinds maps the declared kinds of fields to the read store's types.
var kinds = map[resource.Kind]readstore.FieldType{
	resource.Text: readstore.String, resource.Number: readstore.Number, resource.Bool: readstore.Bool,
	resource.Time: readstore.Time, resource.TextList: readstore.StringList, resource.Enum: readstore.Enum,
}

// collectionOf is the read-store collection of a declared resource.
func collectionOf(r *resource.Resource) readstore.Collection {
	c := readstore.Collection{Name: r.CollectionName(), Indexes: r.Indexes, TextFields: r.SearchFields(), Counts: r.Counts}
	for _, f := range r.Fields {
		c.Fields = append(c.Fields, readstore.Field{Name: f.Name, Type: kinds[f.Kind], Values: f.Values})
	}
	return c
}

// Company is a document of the companies read model.
type Company struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	// MonthlyTokenQuota is the tokens the company's users may spend on
	// the LLM in a UTC month; null for the server's default
	// (LLM_MONTHLY_TOKEN_QUOTA).
	MonthlyTokenQuota *int64    `json:"monthly_token_quota"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	Revision          uint64    `json:"revision"`
}

// CompaniesProjector builds the companies read model.
func CompaniesProjector() Projector {
	return &Def[Company]{
		ProjectionName: Companies,
		Spec:           collectionOf(resource.Companies),
		Categories:     []string{company.Category},
		DocID:          streamID(company.Category),
		Creates:        []string{company.TypeCreated},
		// 2: monthly_token_quota.
		ProjectorVersion: 2,
		Project: func(ev eventstore.RecordedEvent, cur *Company) (*Company, error) {
			e, err := decode(company.Events, ev)
			if err != nil {
				return nil, err
			}
			at := ev.Metadata.RecordedAt
			switch e := e.(type) {
			case *company.Created:
				return &Company{ID: e.CompanyID, CompanyID: e.CompanyID, Name: e.Name, Status: string(company.Active), CreatedAt: at, UpdatedAt: at, Revision: ev.Revision}, nil
			case *company.Deleted:
				return nil, nil
			}
			if cur == nil {
				return nil, fmt.Errorf("%s before company.created", ev.Type)
			}
			next := *cur
			switch e := e.(type) {
			case *company.Updated:
				next.Name = e.Name
			case *company.SuspendedEvent:
				next.Status = string(company.Suspended)
			case *company.Reactivated:
				next.Status = string(company.Active)
			case *company.QuotaSet:
				next.MonthlyTokenQuota = e.MonthlyTokenQuota
			}
			next.UpdatedAt, next.Revision = at, ev.Revision
			return &next, nil
		},
	}
}

// User is a document of the users read model. It never holds the
// password hash.
type User struct {
	ID        string  `json:"id"`
	CompanyID *string `json:"company_id"`
	Username  string  `json:"username"`
	Email     string  `json:"email"`
	FullName  string  `json:"full_name"`
	Role      string  `json:"role"`
	Active    bool    `json:"active"`
	// PasswordVersion counts password changes: tokens issued before the
	// last one are refused.
	PasswordVersion uint64    `json:"password_version"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	Revision        uint64    `json:"revision"`
}

// UsersProjector builds the users read model. With WithPII it opens the
// users' sealed email and full name; without, it stores them as the log
// holds them.
func UsersProjector(opts ...Option) Projector {
	o := newOptions(opts)
	return &Def[User]{
		Open:           o.openPersonal(user.Events, streamID(user.Category)),
		ProjectionName: Users,
		Spec:           collectionOf(resource.Users),
		Categories:     []string{user.Category},
		DocID:          streamID(user.Category),
		Creates:        []string{user.TypeCreated},
		Project: func(ev eventstore.RecordedEvent, cur *User) (*User, error) {
			e, err := decode(user.Events, ev)
			if err != nil {
				return nil, err
			}
			at := ev.Metadata.RecordedAt
			switch e := e.(type) {
			case *user.Created:
				u := &User{ID: e.UserID, Username: e.Username, Email: e.Email, FullName: e.FullName,
					Role: string(e.Role), Active: true, CreatedAt: at, UpdatedAt: at, Revision: ev.Revision}
				if e.CompanyID != "" {
					u.CompanyID = &e.CompanyID
				}
				return u, nil
			case *user.Deleted, *user.Abandoned:
				return nil, nil
			}
			if cur == nil {
				return nil, fmt.Errorf("%s before user.created", ev.Type)
			}
			next := *cur
			switch e := e.(type) {
			case *user.Updated:
				if e.Email != nil {
					next.Email = *e.Email
				}
				if e.FullName != nil {
					next.FullName = *e.FullName
				}
				if e.Role != nil {
					next.Role = string(*e.Role)
				}
			case *user.PasswordChanged:
				next.PasswordVersion++
			case *user.Deactivated:
				next.Active = false
			case *user.Reactivated:
				next.Active = true
			case *user.Forgotten:
				next.Email, next.FullName = erased(next.Email), erased(next.FullName)
			}
			next.UpdatedAt, next.Revision = at, ev.Revision
			return &next, nil
		},
	}
}

// Credential is what sign-in needs about a user: kept in its own
// collection, which no query endpoint serves.
type Credential struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
}

// CredentialsProjector builds the credentials read model used by sign-in.
func CredentialsProjector() Projector {
	return &Def[Credential]{
		ProjectionName: Credentials,
		Spec: readstore.Collection{
			Name:    Credentials,
			Fields:  []readstore.Field{{Name: "username", Type: readstore.String}},
			Indexes: [][]string{{"username"}},
		},
		Categories: []string{user.Category},
		DocID:      streamID(user.Category),
		Creates:    []string{user.TypeCreated},
		Project: func(ev eventstore.RecordedEvent, cur *Credential) (*Credential, error) {
			e, err := decode(user.Events, ev)
			if err != nil {
				return nil, err
			}
			switch e := e.(type) {
			case *user.Created:
				return &Credential{ID: e.UserID, Username: e.Username, PasswordHash: e.PasswordHash}, nil
			case *user.PasswordChanged:
				if cur == nil {
					return nil, fmt.Errorf("%s before user.created", ev.Type)
				}
				next := *cur
				next.PasswordHash = e.PasswordHash
				return &next, nil
			case *user.Deleted, *user.Abandoned:
				return nil, nil
			}
			return cur, nil
		},
	}
}

// Ticket is a document of the tickets read model.
type Ticket struct {
	ID             string    `json:"id"`
	CompanyID      string    `json:"company_id"`
	Title          string    `json:"title"`
	Description    string    `json:"description"`
	Priority       string    `json:"priority"`
	Status         string    `json:"status"`
	RequesterID    string    `json:"requester_id"`
	AssigneeID     *string   `json:"assignee_id"`
	Tags           []string  `json:"tags"`
	CommentCount   int       `json:"comment_count"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	Revision       uint64    `json:"revision"`
}

// TicketsProjector builds the tickets read model.
func TicketsProjector() Projector {
	return &Def[Ticket]{
		ProjectionName: Tickets,
		Spec:           collectionOf(resource.Tickets),
		Categories:     []string{ticket.Category},
		DocID:          streamID(ticket.Category),
		Creates:        []string{ticket.TypeOpened},
		Project:        projectTicket,
	}
}

func projectTicket(ev eventstore.RecordedEvent, cur *Ticket) (*Ticket, error) {
	e, err := decode(ticket.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	if o, ok := e.(*ticket.Opened); ok {
		tags := o.Tags
		if tags == nil {
			tags = []string{}
		}
		return &Ticket{
			ID: o.TicketID, CompanyID: o.CompanyID, Title: o.Title, Description: o.Description,
			Priority: string(o.Priority), Status: string(ticket.Open), RequesterID: o.RequesterID,
			Tags: tags, CreatedBy: ev.Metadata.ActorID, CreatedAt: at, UpdatedAt: at, LastActivityAt: at,
			Revision: ev.Revision,
		}, nil
	}
	if cur == nil {
		return nil, fmt.Errorf("%s before ticket.opened", ev.Type)
	}
	next := *cur
	next.LastActivityAt, next.Revision = at, ev.Revision
	switch e := e.(type) {
	case *ticket.Edited:
		if e.Title != nil {
			next.Title = *e.Title
		}
		if e.Description != nil {
			next.Description = *e.Description
		}
		if e.Priority != nil {
			next.Priority = string(*e.Priority)
		}
		if e.Tags != nil {
			next.Tags = *e.Tags
		}
		next.UpdatedAt = at
	case *ticket.Assigned:
		id := e.AssigneeID
		next.AssigneeID, next.UpdatedAt = &id, at
	case *ticket.Unassigned:
		next.AssigneeID, next.UpdatedAt = nil, at
	case *ticket.StatusChanged:
		next.Status, next.UpdatedAt = string(e.To), at
	case *ticket.Commented:
		next.CommentCount++
	case *ticket.Deleted:
		return nil, nil
	}
	return &next, nil
}

// streamID returns a DocID function that takes the aggregate id from the
// stream name of a category.
func streamID(category string) func(eventstore.RecordedEvent) string {
	prefix := category + "-"
	return func(ev eventstore.RecordedEvent) string {
		if len(ev.StreamID) <= len(prefix) || ev.StreamID[:len(prefix)] != prefix {
			return ""
		}
		return ev.StreamID[len(prefix):]
	}
}

// All returns the projectors agentdesk runs.
func All(opts ...Option) []Projector {
	return []Projector{
		CompaniesProjector(), UsersProjector(opts...), CredentialsProjector(), TicketsProjector(), TicketCommentsProjector(), TicketAttachmentsProjector(),
		AgentsProjector(), CampaignsProjector(), CampaignContentProjector(), KnowledgeChunksProjector(), KnowledgeDocumentsProjector(), KnowledgeVectorsProjector(), SyncRunsProjector(),
		ConversationsProjector(), ConversationMessagesProjector(),
		NotificationsProjector(), UsageProjector(), UsageMonthlyProjector(), AuditLogProjector(),
	}
}
