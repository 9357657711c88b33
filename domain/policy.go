package domain

import "slices"

// Role is a user's role. Every role but Superadmin is scoped to one company.
type Role string

// Roles, from most to least privileged.
const (
	Superadmin     Role = "superadmin"
	CompanyAdmin   Role = "company_admin"
	ContentManager Role = "content_manager"
	ContentWriter  Role = "content_writer"
	Client         Role = "client"
)

// System is the role of the platform's own processes (reactions): it may
// do what a superadmin may, and no user can hold it. Events it causes name
// the process as their actor (see SystemPrincipal).
const System Role = "system"

// SystemPrincipal returns the principal a platform process named name
// acts as, in company companyID (empty for none): its actor id is
// "system:" + name.
func SystemPrincipal(name, companyID string) Principal {
	return Principal{UserID: "system:" + name, Username: name, CompanyID: companyID, Role: System}
}

// Roles lists every role a user may hold.
var Roles = []Role{Superadmin, CompanyAdmin, ContentManager, ContentWriter, Client}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Principal is the authenticated actor of a command or query. Its
// CompanyID scopes everything it touches, except for a superadmin, whose
// CompanyID is empty.
type Principal struct {
	UserID    string
	Username  string
	CompanyID string
	Role      Role
}

// IsSuperadmin reports whether p may act on every company: a superadmin,
// or the platform itself (System).
func (p Principal) IsSuperadmin() bool { return p.Role == Superadmin || p.Role == System }

// InCompany reports whether p may see data of companyID at all: its own
// company, or any company for a superadmin.
func (p Principal) InCompany(companyID string) bool {
	return p.IsSuperadmin() || (p.CompanyID != "" && p.CompanyID == companyID)
}

// Action is something a principal does to a resource.
type Action string

// Actions checked by the policy.
const (
	Read    Action = "read"
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Assign  Action = "assign"
	Status  Action = "status"
	Comment Action = "comment"
)

// SetQuota is setting a company's monthly token quota.
const SetQuota Action = "set_quota"

// CanCompany reports whether p may do a to the company companyID (empty
// for a create). Only a superadmin changes companies, their quotas
// (SetQuota) included: a company admin reads its own.
func CanCompany(p Principal, a Action, companyID string) bool {
	if p.IsSuperadmin() {
		return true
	}
	return a == Read && p.Role == CompanyAdmin && p.CompanyID == companyID
}

// UserRef is what the policy needs to know about a target user.
type UserRef struct {
	ID        string
	CompanyID string
	Role      Role
}

// CanUser reports whether p may do a to the user target. For a create,
// target carries the company and role of the user to be created.
func CanUser(p Principal, a Action, target UserRef) bool {
	if p.IsSuperadmin() {
		return true
	}
	if !p.InCompany(target.CompanyID) {
		return false
	}
	switch p.Role {
	case CompanyAdmin:
		return target.Role != Superadmin
	case ContentManager:
		return a == Read
	case ContentWriter, Client:
		return a == Read && target.ID == p.UserID
	}
	return false
}

// CanListUsers reports whether p may list users beyond itself.
func CanListUsers(p Principal) bool {
	return p.IsSuperadmin() || p.Role == CompanyAdmin || p.Role == ContentManager
}

// TicketRef is what the policy needs to know about a target ticket.
type TicketRef struct {
	CompanyID   string
	RequesterID string
	AssigneeID  string
}

// CanTicket reports whether p may do a to the ticket target. For a create,
// target carries the company and the requester.
//
// Company admins and content managers do everything within their company.
// Content writers read, open and comment on any ticket of their company
// and change (edit, change status, hand over) the tickets assigned to
// them. Clients open tickets for themselves, and read and comment on their
// own requests only.
func CanTicket(p Principal, a Action, target TicketRef) bool {
	if p.IsSuperadmin() {
		return true
	}
	if !p.InCompany(target.CompanyID) {
		return false
	}
	switch p.Role {
	case CompanyAdmin, ContentManager:
		return true
	case ContentWriter:
		switch a {
		case Read, Create, Comment:
			return true
		case Update, Status, Assign:
			return target.AssigneeID == p.UserID
		}
	case Client:
		switch a {
		case Read, Create, Comment:
			return target.RequesterID == p.UserID
		}
	}
	return false
}

// TicketsOwnOnly reports whether p may only see tickets it requested.
func TicketsOwnOnly(p Principal) bool { return p.Role == Client }

// Actions on agents, campaigns and their content, besides the generic
// ones above. Status covers an agent's activation and a campaign's moves
// along its lifecycle.
const (
	// Chat is talking to an agent.
	Chat Action = "chat"
	// EditContent is adding a content item to a campaign or editing one.
	EditContent Action = "edit_content"
	// Approve is approving a campaign's content item.
	Approve Action = "approve"
	// Publish is publishing an approved content item.
	Publish Action = "publish"
	// Embed is recording the vector an embeddings model made of a
	// knowledge chunk.
	Embed Action = "embed"
)

// AgentRef is what the policy needs to know about a target agent.
type AgentRef struct {
	CompanyID string
	// Active is false for an inactive agent, which clients do not see.
	Active bool
}

// CanAgent reports whether p may do a to the agent target. For a create,
// target carries the company.
//
// Company admins and content managers manage their company's agents and
// chat with them. Content writers read and chat with every agent of their
// company. Clients read and chat with active agents only; an inactive
// agent is invisible to them.
func CanAgent(p Principal, a Action, target AgentRef) bool {
	if p.IsSuperadmin() {
		return true
	}
	if !p.InCompany(target.CompanyID) {
		return false
	}
	switch p.Role {
	case CompanyAdmin, ContentManager:
		return true
	case ContentWriter:
		return a == Read || a == Chat
	case Client:
		return (a == Read || a == Chat) && target.Active
	}
	return false
}

// CampaignRef is what the policy needs to know about a target campaign.
type CampaignRef struct {
	CompanyID string
}

// CanCampaign reports whether p may do a to the campaign target or to one
// of its content items. For a create, target carries the company.
//
// Company admins and content managers do everything within their company:
// Create, Update, Status and Delete on campaigns, and EditContent,
// Approve, Publish and Delete (removal) on content items. Content writers
// read campaigns and add and edit content items (EditContent), but neither
// approve, publish nor remove them. Clients have no access to campaigns.
func CanCampaign(p Principal, a Action, target CampaignRef) bool {
	if p.IsSuperadmin() {
		return true
	}
	if !p.InCompany(target.CompanyID) {
		return false
	}
	switch p.Role {
	case CompanyAdmin, ContentManager:
		return true
	case ContentWriter:
		return a == Read || a == EditContent
	}
	return false
}

// KnowledgeRef is what the policy needs to know about a target knowledge
// chunk.
type KnowledgeRef struct {
	CompanyID string
}

// CanKnowledge reports whether p may do a to the knowledge chunk target.
// For a create, target carries the company.
//
// Company admins and content managers do everything within their company;
// content writers read, create and update chunks but do not delete them.
// Clients have no access to knowledge chunks. Embeddings are recorded by
// the platform's own process (System) only: no person, a superadmin
// included, records a vector.
func CanKnowledge(p Principal, a Action, target KnowledgeRef) bool {
	if a == Embed {
		return p.Role == System
	}
	if p.IsSuperadmin() {
		return true
	}
	if !p.InCompany(target.CompanyID) {
		return false
	}
	switch p.Role {
	case CompanyAdmin, ContentManager:
		return true
	case ContentWriter:
		return a == Read || a == Create || a == Update
	}
	return false
}

// NotificationRef is what the policy needs to know about a target
// notification.
type NotificationRef struct {
	CompanyID string
	// UserID is the recipient.
	UserID string
}

// CanNotification reports whether p may do a to the notification target.
// For a create, target carries the company and the recipient.
//
// Notifications are created by the platform (superadmins, and the System
// role its processes act as), never by users. Only the recipient reads a
// notification and marks it read (Update), whatever its role: a
// superadmin reads its own notifications only.
func CanNotification(p Principal, a Action, target NotificationRef) bool {
	switch a {
	case Create:
		return p.IsSuperadmin()
	case Read, Update:
		return p.UserID != "" && p.UserID == target.UserID
	}
	return false
}

// ConversationRef is what the policy needs to know about a target
// conversation.
type ConversationRef struct {
	CompanyID string
	// UserID is the user talking to the agent.
	UserID string
}

// CanConversation reports whether p may do a to the conversation target.
//
// Only the user who started a conversation posts to it (Chat), whatever
// its role; starting one is CanAgent's Chat on the agent. Company admins
// and content managers read every conversation of their company, to see
// what the company's agents answer; content writers and clients read
// their own. Superadmins read all.
func CanConversation(p Principal, a Action, target ConversationRef) bool {
	own := p.UserID != "" && p.UserID == target.UserID && p.InCompany(target.CompanyID)
	switch a {
	case Chat:
		return own
	case Read:
		if own || p.Role == Superadmin {
			return true
		}
		return (p.Role == CompanyAdmin || p.Role == ContentManager) && p.InCompany(target.CompanyID)
	}
	return false
}

// CanComplete reports whether p may ask the LLM for completions: staff
// of a company and superadmins; a client talks to agents only, whose
// prompts and limits the company sets.
func CanComplete(p Principal) bool {
	switch p.Role {
	case Superadmin, System:
		return true
	case CompanyAdmin, ContentManager, ContentWriter:
		return p.CompanyID != ""
	}
	return false
}

// CanUsage reports whether p may read what the LLM cost companyID (the
// usage records): every company's for a superadmin, its own company's
// for a company admin or content manager, who answer for its spending.
func CanUsage(p Principal, companyID string) bool {
	switch p.Role {
	case Superadmin:
		return true
	case CompanyAdmin, ContentManager:
		return p.CompanyID != "" && p.CompanyID == companyID
	}
	return false
}

// CanAudit reports whether p may read the audit trail of companyID:
// every company's for a superadmin, its own company's for a company
// admin, nobody else's. The trail shows who did what to every record of
// the company, more than any other role may read of them.
func CanAudit(p Principal, companyID string) bool {
	switch p.Role {
	case Superadmin:
		return true
	case CompanyAdmin:
		return p.CompanyID != "" && p.CompanyID == companyID
	}
	return false
}

// ReadScope is what a principal may read of a resource, decided once by
// the policy and applied by the query side to lists and single reads
// alike: nothing at all (Denied), or the records whose fields equal every
// Match (none: every record).
type ReadScope struct {
	Denied bool
	Where  []Match
}

// Match requires a record's field to hold a value.
type Match struct {
	Field string
	Value string
}

// Allows reports whether a record whose fields read as field(name) is in s.
func (s ReadScope) Allows(field func(name string) string) bool {
	if s.Denied {
		return false
	}
	for _, m := range s.Where {
		if field(m.Field) != m.Value {
			return false
		}
	}
	return true
}

var denied = ReadScope{Denied: true}

// inCompany scopes a company-bound principal to its company, and adds
// more matches.
func inCompany(p Principal, more ...Match) ReadScope {
	return ReadScope{Where: append([]Match{{"company_id", p.CompanyID}}, more...)}
}

// CompanyScope is what p may read of companies: all for a superadmin,
// its own for a company admin (CanCompany).
func CompanyScope(p Principal) ReadScope {
	switch {
	case p.IsSuperadmin():
		return ReadScope{}
	case CanCompany(p, Read, p.CompanyID):
		return ReadScope{Where: []Match{{"id", p.CompanyID}}}
	}
	return denied
}

// UserScope is what p may read of users (CanUser): the company for
// admins and managers, only itself for writers and clients.
func UserScope(p Principal) ReadScope {
	switch p.Role {
	case Superadmin:
		return ReadScope{}
	case CompanyAdmin, ContentManager:
		return inCompany(p)
	case ContentWriter, Client:
		return inCompany(p, Match{"id", p.UserID})
	}
	return denied
}

// TicketScope is what p may read of tickets (CanTicket with Read): the
// company, or for a client the tickets it requested.
func TicketScope(p Principal) ReadScope {
	switch p.Role {
	case Superadmin:
		return ReadScope{}
	case CompanyAdmin, ContentManager, ContentWriter:
		return inCompany(p)
	case Client:
		return inCompany(p, Match{"requester_id", p.UserID})
	}
	return denied
}

// AgentScope is what p may read of agents (CanAgent with Read): the
// company, and for a client only the active agents.
func AgentScope(p Principal) ReadScope {
	switch p.Role {
	case Superadmin:
		return ReadScope{}
	case CompanyAdmin, ContentManager, ContentWriter:
		return inCompany(p)
	case Client:
		return inCompany(p, Match{"status", "active"})
	}
	return denied
}

// CampaignScope is what p may read of campaigns and their content
// (CanCampaign with Read): the company, never for a client.
func CampaignScope(p Principal) ReadScope { return staffScope(p) }

// KnowledgeScope is what p may read of knowledge chunks (CanKnowledge
// with Read): the company, never for a client.
func KnowledgeScope(p Principal) ReadScope { return staffScope(p) }

// NotificationScope is what p may read of notifications
// (CanNotification with Read): its own, whatever its role.
func NotificationScope(p Principal) ReadScope {
	if p.UserID == "" {
		return denied
	}
	return ReadScope{Where: []Match{{"user_id", p.UserID}}}
}

// AuditScope is what p may read of the audit trail (CanAudit): every
// company's for a superadmin, its own company's for a company admin,
// nothing for the other roles.
func AuditScope(p Principal) ReadScope { return rolesScope(p, CompanyAdmin) }

// UsageScope is what p may read of the usage records (CanUsage).
func UsageScope(p Principal) ReadScope { return rolesScope(p, CompanyAdmin, ContentManager) }

// ConversationScope is what p may read of conversations and their
// messages (CanConversation with Read).
func ConversationScope(p Principal) ReadScope {
	if (p.Role == ContentWriter || p.Role == Client) && p.UserID != "" {
		return inCompany(p, Match{"user_id", p.UserID})
	}
	return rolesScope(p, CompanyAdmin, ContentManager)
}

// staffScope is the company's records for its staff (every role but
// client), all for a superadmin, nothing for a client.
func staffScope(p Principal) ReadScope {
	return rolesScope(p, CompanyAdmin, ContentManager, ContentWriter)
}

// rolesScope is every company's records for a superadmin, its own
// company's for the roles given, and nothing for the others.
func rolesScope(p Principal, roles ...Role) ReadScope {
	switch {
	case p.Role == Superadmin:
		return ReadScope{}
	case slices.Contains(roles, p.Role):
		return inCompany(p)
	}
	return denied
}
