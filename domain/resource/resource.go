// Package resource declares, once, every resource the API serves: its
// name, the fields clients filter, sort and search on (with their kinds
// and indexes), and who may read what. The projections derive their
// collections from it, the query API its allow-lists and read scopes,
// the write endpoints its names; a field or resource spelled here is
// spelled nowhere else.
package resource

import (
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/campaign"
	"agentdesk/domain/company"
	"agentdesk/domain/conversation"
	"agentdesk/domain/document"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/notification"
	"agentdesk/domain/syncrun"
	"agentdesk/domain/ticket"
	"agentdesk/domain/usage"
	"agentdesk/domain/user"
)

// Kind is how a field's values compare and sort.
type Kind uint8

// Field kinds.
const (
	Text     Kind = iota // compares as text
	Number               // numerically
	Bool                 // true or false
	Time                 // chronologically (RFC 3339)
	TextList             // a list of strings; equality matches any element
	Enum                 // one of Values, ordered as Values are
)

// Field is a top-level field of a resource's records.
type Field struct {
	Name string
	Kind Kind
	// Values are an Enum's values in domain order.
	Values []string
	// Filter, Sort and Search say what clients may do with the field:
	// filter on it (with the comparison suffixes), sort by it, find text
	// in it with q.
	Filter, Sort, Search bool
	// Then, for a field clients sort by, is the field that orders the
	// records equal in this one, in the same direction, before id. The
	// index that serves filtering on the field and sorting by Then
	// (partition, field, Then) then serves sorting by the field as well,
	// and no second index is kept for it: each index costs every write
	// and a rebuild a sort of the whole table.
	Then string
}

// Resource is a resource served under /api/{Name}.
type Resource struct {
	// Name is the URL segment and, unless Collection is set, the name of
	// the read model and its projection.
	Name string
	// Collection names the read model when it differs from Name.
	Collection string
	// Fields are the queryable fields; id is always filterable.
	Fields []Field
	// Indexes are composite indexes, each a list of field names.
	Indexes [][]string
	// Counts are groups of fields (text, enum or bool, and at most one
	// list, counted under each of its values) whose totals per value the
	// read store keeps: a list filtered by equality on exactly
	// one group's fields, the read scope's included, gets its exact total
	// without counting records.
	Counts [][]string
	// DefaultSort is the field lists are sorted by when the client asks
	// for none, descending when DefaultDesc.
	DefaultSort string
	DefaultDesc bool
	// Scope says what a principal may read.
	Scope func(domain.Principal) domain.ReadScope
	// Also names other read models a write to this resource must reach
	// before it is answered.
	Also []string
	// Parent, for a child resource, is the resource its records belong
	// to, through the field ParentField: a child record may be read by
	// whoever may read its parent, and a list must name one parent.
	Parent      *Resource
	ParentField string
	// Partition, when set, is the field every list is narrowed to by the
	// read scope instead of the company (a recipient's own records): the
	// indexes that serve sorting start with it.
	Partition string
	// RequireFilter, when set, is a field every list must narrow to one
	// value by equality unless the read scope already does: a scope of
	// every company (a superadmin's) is then read one company at a time,
	// by the indexes that start with the field.
	RequireFilter string
	// Derived marks records computed over the events of many streams
	// (the audit trail, usage totals), not one aggregate's state: they
	// have no history and no past states of their own.
	Derived bool
	// IDValid, when set, says which ids name records; without it they
	// are UUIDs, an aggregate's id. Anything else is not found without a
	// lookup.
	IDValid func(id string) bool
}

// ValidID reports whether id may name a record of r.
func (r *Resource) ValidID(id string) bool {
	if r.IDValid != nil {
		return r.IDValid(id)
	}
	return domain.ValidID(id)
}

// CollectionName returns the read model's name.
func (r *Resource) CollectionName() string {
	if r.Collection != "" {
		return r.Collection
	}
	return r.Name
}

// Field returns the named field.
func (r *Resource) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Filters returns the names of the fields clients may filter on.
func (r *Resource) Filters() []string { return r.names(func(f Field) bool { return f.Filter }) }

// Sorts returns the names of the fields clients may sort by.
func (r *Resource) Sorts() []string { return r.names(func(f Field) bool { return f.Sort }) }

// SortKeys returns the fields a list sorted by field is ordered by, in
// the same direction: the field, then its Then if it has one (and then,
// in the read store, id).
func (r *Resource) SortKeys(field string) []string {
	if f, ok := r.Field(field); ok && f.Then != "" {
		return []string{field, f.Then}
	}
	return []string{field}
}

// SearchFields returns the names of the fields q searches.
func (r *Resource) SearchFields() []string { return r.names(func(f Field) bool { return f.Search }) }

func (r *Resource) names(keep func(Field) bool) []string {
	var out []string
	for _, f := range r.Fields {
		if keep(f) {
			out = append(out, f.Name)
		}
	}
	return out
}

// Read models that are not resources of their own but that writes wait
// for, and that the query side reads.
const (
	// CredentialsCollection holds password hashes for sign-in; no
	// endpoint serves it.
	CredentialsCollection = "credentials"
	// KnowledgeVectorsCollection holds the vectors of knowledge chunks
	// for retrieval; no endpoint serves it.
	KnowledgeVectorsCollection = "knowledge_vectors"
	// UsageMonthlyCollection holds each company's tokens of each UTC
	// month (one record per usage.MonthKey), which the monthly token
	// quota is checked against; no endpoint serves it.
	UsageMonthlyCollection = "usage_monthly"
	// commentsCollection is the read model of Comments.
	commentsCollection = "ticket_comments"
	// campaignContentCollection is the name (and read model) of
	// CampaignContent; Campaigns waits for it too, so it is a constant
	// to keep the two declarations apart.
	campaignContentCollection = "campaign_content"
)

func roles() []string {
	out := make([]string, len(domain.Roles))
	for i, r := range domain.Roles {
		out[i] = string(r)
	}
	return out
}

// times are the record timestamps every resource filters and sorts on.
func times(names ...string) []Field {
	out := make([]Field, len(names))
	for i, n := range names {
		out[i] = Field{Name: n, Kind: Time, Filter: true, Sort: true}
	}
	return out
}

// The resources.
var (
	Companies = &Resource{
		Name: "companies",
		Fields: append([]Field{
			{Name: "company_id", Kind: Text},
			{Name: "name", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "status", Kind: Enum, Values: []string{string(company.Active), string(company.Suspended)}, Filter: true, Sort: true},
		}, times("created_at", "updated_at")...),
		Indexes:     [][]string{{"created_at"}, {"updated_at"}, {"name"}, {"status"}},
		Counts:      [][]string{{"status"}},
		DefaultSort: "created_at",
		DefaultDesc: true,
		Scope:       domain.CompanyScope,
	}
	Users = &Resource{
		Name: "users",
		Fields: append([]Field{
			{Name: "company_id", Kind: Text, Filter: true, Sort: true},
			{Name: "username", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "email", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "full_name", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "role", Kind: Enum, Values: roles(), Filter: true, Sort: true},
			{Name: "active", Kind: Bool, Filter: true, Sort: true},
		}, times("created_at", "updated_at")...),
		Indexes: [][]string{
			{"company_id", "created_at"}, {"company_id", "updated_at"}, {"company_id", "username"},
			{"company_id", "email"}, {"company_id", "full_name"}, {"company_id", "role"}, {"company_id", "active"}, {"username"}, {"company_id"},
		},
		Counts:      [][]string{{"company_id"}, {"company_id", "role"}, {"company_id", "active"}},
		DefaultSort: "created_at",
		DefaultDesc: true,
		Scope:       domain.UserScope,
		Also:        []string{CredentialsCollection},
	}
	Tickets = &Resource{
		Name: "tickets",
		Fields: append([]Field{
			{Name: "company_id", Kind: Text, Filter: true, Sort: true},
			{Name: "title", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "description", Kind: Text, Search: true},
			{Name: "priority", Kind: Enum, Values: []string{string(ticket.Low), string(ticket.Normal), string(ticket.High), string(ticket.Urgent)}, Filter: true, Sort: true, Then: "created_at"},
			{Name: "status", Kind: Enum, Values: []string{string(ticket.Open), string(ticket.InProgress), string(ticket.Resolved), string(ticket.Closed)}, Filter: true, Sort: true, Then: "created_at"},
			{Name: "requester_id", Kind: Text, Filter: true, Sort: true, Then: "created_at"},
			{Name: "assignee_id", Kind: Text, Filter: true, Sort: true, Then: "created_at"},
			{Name: "tags", Kind: TextList, Filter: true},
			{Name: "comment_count", Kind: Number, Filter: true, Sort: true},
		}, times("created_at", "updated_at", "last_activity_at")...),
		// Sorting by status, priority, requester or assignee reads the
		// index that serves filtering on it (their Then is created_at).
		// Four indexes fewer than one per sort took the index phase of a
		// rebuild of 200,000 tickets from 3.9–4.6 s to 3.0–4.0 s (three
		// alternating pairs).
		Indexes: [][]string{
			{"company_id", "created_at"},
			{"company_id", "status", "created_at"},
			{"company_id", "priority", "created_at"},
			{"company_id", "requester_id", "created_at"},
			{"company_id", "assignee_id", "created_at"},
			{"company_id", "updated_at"},
			{"company_id", "last_activity_at"},
			{"company_id", "comment_count"},
			{"company_id", "title"},
			{"company_id", "tags"},
			{"company_id"},
		},
		// Each group costs every ticket write an update of its count;
		// a requester's or an assignee's tickets are few enough to count.
		Counts:      [][]string{{"company_id"}, {"company_id", "status"}, {"company_id", "priority"}, {"company_id", "tags"}},
		DefaultSort: "created_at",
		DefaultDesc: true,
		Scope:       domain.TicketScope,
		Also:        []string{commentsCollection},
	}
	// Comments are the tickets' comments, each its own record; they are
	// listed by ticket (getManyReference), and whoever may read a ticket
	// may read its comments.
	Comments = &Resource{
		Name:       "comments",
		Collection: commentsCollection,
		Fields: append([]Field{
			{Name: "ticket_id", Kind: Text, Filter: true, Sort: true},
			{Name: "company_id", Kind: Text, Filter: true},
			{Name: "author_id", Kind: Text, Filter: true, Sort: true},
			{Name: "body", Kind: Text, Search: true},
			{Name: "seq", Kind: Number, Filter: true, Sort: true},
		}, times("created_at")...),
		Indexes:     [][]string{{"ticket_id", "seq"}, {"ticket_id", "created_at"}, {"ticket_id", "author_id"}, {"company_id", "created_at"}, {"ticket_id"}},
		Counts:      [][]string{{"ticket_id"}, {"company_id", "ticket_id"}},
		DefaultSort: "seq",
		Scope:       childScope(domain.TicketScope),
		Parent:      Tickets,
		ParentField: "ticket_id",
	}
	// TicketAttachments are the files attached to tickets, each its own
	// record, read by whoever may read the ticket.
	TicketAttachments = &Resource{
		Name: "ticket_attachments",
		Fields: append([]Field{
			{Name: "ticket_id", Kind: Text, Filter: true, Sort: true},
			{Name: "company_id", Kind: Text, Filter: true},
			{Name: "uploader_id", Kind: Text, Filter: true},
			{Name: "filename", Kind: Text, Filter: true, Sort: true, Search: true},
			{Name: "content_type", Kind: Text, Filter: true},
			{Name: "size", Kind: Number, Filter: true, Sort: true},
		}, times("created_at")...),
		Indexes: [][]string{{"ticket_id", "created_at"}, {"ticket_id", "filename"}, {"ticket_id", "size"}, {"ticket_id", "uploader_id"},
			{"ticket_id", "content_type"}, {"company_id", "created_at"}, {"ticket_id"},
		},
		Counts:      [][]string{{"ticket_id"}, {"company_id", "ticket_id"}},
		DefaultSort: "created_at",
		Scope:       childScope(domain.TicketScope),
		Parent:      Tickets,
		ParentField: "ticket_id",
	}
)

// Agents are a company's AI agents. Integration credentials are
// write-only: records only say whether one is set.
var Agents = &Resource{
	Name: "agents",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "name", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "description", Kind: Text, Search: true},
		{Name: "model", Kind: Text, Filter: true, Sort: true},
		{Name: "status", Kind: Enum, Values: []string{string(agent.Active), string(agent.Inactive)}, Filter: true, Sort: true},
		{Name: "temperature", Kind: Number, Filter: true, Sort: true},
		{Name: "max_tokens", Kind: Number, Filter: true, Sort: true},
	}, times("created_at", "updated_at")...),
	Indexes: [][]string{
		{"company_id", "created_at"}, {"company_id", "updated_at"}, {"company_id", "name"}, {"company_id", "model"},
		{"company_id", "status"}, {"company_id", "temperature"}, {"company_id", "max_tokens"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "status"}},
	DefaultSort: "created_at",
	DefaultDesc: true,
	Scope:       domain.AgentScope,
}

// Campaigns run content through an agent on a channel.
var Campaigns = &Resource{
	Name: "campaigns",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "name", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "description", Kind: Text, Search: true},
		{Name: "agent_id", Kind: Text, Filter: true, Sort: true},
		{Name: "channel", Kind: Enum, Values: []string{string(campaign.Email), string(campaign.Social), string(campaign.Blog), string(campaign.Web)}, Filter: true, Sort: true},
		{Name: "status", Kind: Enum, Values: campaignStatuses(), Filter: true, Sort: true},
		{Name: "content_count", Kind: Number, Filter: true, Sort: true},
	}, times("starts_at", "ends_at", "created_at", "updated_at")...),
	Indexes: [][]string{
		{"company_id", "created_at"}, {"company_id", "updated_at"}, {"company_id", "name"}, {"company_id", "agent_id"},
		{"company_id", "channel"}, {"company_id", "status", "starts_at"}, {"company_id", "starts_at"}, {"company_id", "ends_at"},
		{"company_id", "content_count"}, {"company_id", "status"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "status"}, {"company_id", "channel"}},
	DefaultSort: "created_at",
	DefaultDesc: true,
	Scope:       domain.CampaignScope,
	// A campaign's deletion removes its content items.
	Also: []string{campaignContentCollection},
}

// CampaignContent are the content items of campaigns, each its own
// record, listed by campaign.
var CampaignContent = &Resource{
	Name: campaignContentCollection,
	Fields: append([]Field{
		{Name: "campaign_id", Kind: Text, Filter: true, Sort: true},
		{Name: "company_id", Kind: Text, Filter: true},
		{Name: "title", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "body", Kind: Text, Search: true},
		{Name: "status", Kind: Enum, Values: []string{string(campaign.ItemDraft), string(campaign.ItemApproved), string(campaign.ItemPublished)}, Filter: true, Sort: true},
		{Name: "author_id", Kind: Text, Filter: true, Sort: true},
	}, times("created_at", "updated_at")...),
	Indexes: [][]string{
		{"campaign_id", "created_at"}, {"campaign_id", "updated_at"}, {"campaign_id", "title"}, {"campaign_id", "status"},
		{"campaign_id", "author_id"}, {"company_id", "created_at"}, {"campaign_id"},
	},
	Counts:      [][]string{{"campaign_id"}, {"company_id", "campaign_id"}},
	DefaultSort: "created_at",
	Scope:       childScope(domain.CampaignScope),
	Parent:      Campaigns,
	ParentField: "campaign_id",
}

// KnowledgeChunks are pieces of knowledge an agent retrieves from.
var KnowledgeChunks = &Resource{
	Name: "knowledge_chunks",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "agent_id", Kind: Text, Filter: true, Sort: true},
		{Name: "title", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "content", Kind: Text, Search: true},
		{Name: "source", Kind: Enum, Values: []string{string(knowledge.Manual), string(knowledge.Upload), string(knowledge.Shopify), string(knowledge.WordPress), string(knowledge.URL)}, Filter: true, Sort: true},
		{Name: "tags", Kind: TextList, Filter: true},
		{Name: "token_count", Kind: Number, Filter: true, Sort: true},
		// remote_id names the remote item a synced chunk was made of.
		{Name: "remote_id", Kind: Text, Filter: true},
		// document_id is the knowledge document the chunk was split
		// from, null for one written on its own.
		{Name: "document_id", Kind: Text, Filter: true},
		// position is the log position of the chunk's last change (a
		// position key), by which retrieval follows an agent's chunks.
		{Name: "position", Kind: Text},
	}, times("created_at", "updated_at")...),
	Indexes: [][]string{
		{"company_id", "created_at"}, {"company_id", "updated_at"}, {"company_id", "agent_id", "created_at"}, {"company_id", "title"},
		{"company_id", "source"}, {"company_id", "tags"}, {"company_id", "token_count"}, {"company_id", "agent_id"}, {"company_id"},
		// Retrieval reads an agent's chunks changed since it last looked.
		{"company_id", "agent_id", "position"},
		{"company_id", "agent_id", "remote_id"},
		// A document's chunks.
		{"company_id", "document_id", "created_at"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "agent_id"}, {"company_id", "source"}},
	DefaultSort: "created_at",
	DefaultDesc: true,
	Scope:       domain.KnowledgeScope,
}

// SyncRuns are the runs that copy an agent's shop products and site
// pages into its knowledge chunks, one record per run. The runs of one
// agent share a stream (see syncrun): a record has no history of its
// own, and the audit trail names the agent's id as their entity.
var SyncRuns = &Resource{
	Name: "sync_runs",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "agent_id", Kind: Text, Filter: true, Sort: true},
		{Name: "integration_id", Kind: Text, Filter: true},
		{Name: "type", Kind: Enum, Values: []string{string(agent.Shopify), string(agent.WordPress)}, Filter: true, Sort: true},
		{Name: "status", Kind: Enum, Values: syncStatuses(), Filter: true, Sort: true},
		{Name: "added", Kind: Number, Filter: true, Sort: true},
		{Name: "updated", Kind: Number, Filter: true, Sort: true},
		{Name: "removed", Kind: Number, Filter: true, Sort: true},
		{Name: "error", Kind: Text, Search: true},
	}, times("started_at", "finished_at", "updated_at")...),
	Indexes: [][]string{
		{"company_id", "started_at"}, {"company_id", "finished_at"}, {"company_id", "updated_at"},
		{"company_id", "agent_id"}, {"company_id", "type"}, {"company_id", "status"},
		{"company_id", "added"}, {"company_id", "updated"}, {"company_id", "removed"},
		{"company_id", "agent_id", "started_at"}, {"company_id", "integration_id", "started_at"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "agent_id"}, {"company_id", "status"}},
	DefaultSort: "started_at",
	DefaultDesc: true,
	Scope:       domain.KnowledgeScope,
	Derived:     true,
}

func syncStatuses() []string {
	out := make([]string, len(syncrun.Statuses))
	for i, s := range syncrun.Statuses {
		out[i] = string(s)
	}
	return out
}

// KnowledgeDocuments are files uploaded for agents, whose text is split
// into knowledge chunks; they follow the chunks' visibility.
var KnowledgeDocuments = &Resource{
	Name: "knowledge_documents",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "agent_id", Kind: Text, Filter: true, Sort: true},
		{Name: "title", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "filename", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "content_type", Kind: Text, Filter: true, Sort: true},
		{Name: "size", Kind: Number, Filter: true, Sort: true},
		{Name: "status", Kind: Enum, Values: documentStatuses(), Filter: true, Sort: true},
		{Name: "chunk_count", Kind: Number, Filter: true, Sort: true},
	}, times("created_at", "updated_at")...),
	Indexes: [][]string{
		{"company_id", "created_at"}, {"company_id", "updated_at"}, {"company_id", "agent_id", "created_at"}, {"company_id", "agent_id"},
		{"company_id", "title"}, {"company_id", "filename"}, {"company_id", "content_type"}, {"company_id", "size"},
		{"company_id", "status"}, {"company_id", "chunk_count"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "agent_id"}, {"company_id", "status"}},
	DefaultSort: "created_at",
	DefaultDesc: true,
	Scope:       domain.KnowledgeScope,
	// A document's write answers once its chunks are readable too.
	Also: []string{KnowledgeChunks.CollectionName()},
}

func documentStatuses() []string {
	out := make([]string, len(document.Statuses))
	for i, s := range document.Statuses {
		out[i] = string(s)
	}
	return out
}

// Conversations are users' chats with agents: the user's own, and every
// conversation of the company for its admins and content managers.
var Conversations = &Resource{
	Name: "conversations",
	Fields: append([]Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "agent_id", Kind: Text, Filter: true},
		{Name: "user_id", Kind: Text, Filter: true},
		{Name: "title", Kind: Text, Filter: true, Sort: true, Search: true},
		{Name: "status", Kind: Enum, Values: []string{string(conversation.StatusOpen), string(conversation.StatusEscalated)}, Filter: true, Sort: true},
		{Name: "ticket_id", Kind: Text, Filter: true},
		{Name: "message_count", Kind: Number, Filter: true, Sort: true},
	}, times("created_at", "updated_at", "last_message_at")...),
	// A user's own list (the scope of clients and content writers) is
	// served by the indexes that start with company_id and user_id.
	Indexes: [][]string{
		{"company_id", "last_message_at"}, {"company_id", "created_at"}, {"company_id", "updated_at"},
		{"company_id", "user_id", "last_message_at"}, {"company_id", "user_id", "created_at"},
		{"company_id", "agent_id", "last_message_at"}, {"company_id", "status", "last_message_at"},
		{"company_id", "status"}, {"company_id", "title"}, {"company_id", "message_count"}, {"company_id", "ticket_id"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}, {"company_id", "user_id"}, {"company_id", "agent_id"}, {"company_id", "status"}},
	DefaultSort: "last_message_at",
	DefaultDesc: true,
	Scope:       domain.ConversationScope,
	Also:        []string{conversationMessagesCollection},
}

// conversationMessagesCollection is the name (and read model) of
// ConversationMessages, which Conversations waits for.
const conversationMessagesCollection = "conversation_messages"

// ConversationMessages are the messages of conversations, each its own
// record, listed by conversation.
var ConversationMessages = &Resource{
	Name: conversationMessagesCollection,
	Fields: append([]Field{
		{Name: "conversation_id", Kind: Text, Filter: true, Sort: true},
		{Name: "company_id", Kind: Text, Filter: true},
		{Name: "agent_id", Kind: Text},
		{Name: "role", Kind: Enum, Values: []string{string(conversation.User), string(conversation.Assistant)}, Filter: true, Sort: true},
		{Name: "content", Kind: Text, Search: true},
		{Name: "citations", Kind: TextList, Filter: true},
		{Name: "seq", Kind: Number, Filter: true, Sort: true},
	}, times("created_at")...),
	Indexes: [][]string{{"conversation_id", "seq"}, {"conversation_id", "created_at"}, {"conversation_id", "role"}, {"company_id", "created_at"},
		{"company_id", "citations"}, {"conversation_id"}},
	Counts:      [][]string{{"conversation_id"}, {"company_id", "conversation_id"}},
	DefaultSort: "seq",
	Scope:       childScope(domain.ConversationScope),
	Parent:      Conversations,
	ParentField: "conversation_id",
}

// Notifications tell one user what happened to records they have to do
// with; each is its own record, read by its recipient only.
var Notifications = &Resource{
	Name: "notifications",
	Fields: append([]Field{
		{Name: "user_id", Kind: Text, Filter: true},
		{Name: "company_id", Kind: Text, Filter: true},
		{Name: "kind", Kind: Text, Filter: true, Sort: true},
		{Name: "subject", Kind: Text, Filter: true},
		{Name: "subject_id", Kind: Text, Filter: true},
		{Name: "title", Kind: Text, Search: true},
		{Name: "read", Kind: Bool, Filter: true, Sort: true},
	}, times("created_at", "read_at")...),
	// Every list is one user's (the scope): each sort is served per user,
	// the unread ones newest first by (user_id, read, created_at), and
	// (user_id, read), which ends with id, pages read_all by id.
	Indexes: [][]string{
		{"user_id", "kind"}, {"user_id", "read"}, {"user_id", "created_at"}, {"user_id", "read_at"},
		{"user_id", "read", "created_at"}, {"user_id", "subject", "subject_id"}, {"user_id", "company_id"},
	},
	Counts:      [][]string{{"user_id"}, {"user_id", "read"}},
	DefaultSort: "created_at",
	DefaultDesc: true,
	Scope:       domain.NotificationScope,
	Partition:   "user_id",
}

// AuditLog is the audit trail: a record per event of the log saying who
// did what to which record, when, and as part of what (correlation,
// causation, command and request ids). It holds no event data, which may
// be personal and erasable; a record's past states are read elsewhere.
// It is never written to through the API.
var AuditLog = &Resource{
	Name: "audit_log",
	Fields: []Field{
		{Name: "company_id", Kind: Text, Filter: true},
		{Name: "actor_id", Kind: Text, Filter: true},
		{Name: "resource", Kind: Text, Filter: true},
		{Name: "entity_id", Kind: Text, Filter: true},
		{Name: "type", Kind: Text, Filter: true},
		{Name: "correlation_id", Kind: Text, Filter: true},
		{Name: "recorded_at", Kind: Time, Filter: true, Sort: true},
		// position is the event's place in the log (a position key), the
		// order in which things happened even within one instant.
		{Name: "position", Kind: Text, Sort: true},
	},
	// Every filter React Admin offers is served newest first from its own
	// index, so a page of a million entries reads 25 index entries.
	Indexes: [][]string{
		{"company_id", "recorded_at"}, {"company_id", "position"},
		{"company_id", "actor_id", "recorded_at"}, {"company_id", "resource", "recorded_at"},
		{"company_id", "entity_id", "recorded_at"}, {"company_id", "type", "recorded_at"},
		{"company_id", "correlation_id", "recorded_at"},
	},
	// Types and resources are few, so keeping their totals costs little:
	// a page of one type's entries of a company with 1,000,000 took a p50
	// of 2.9 ms counting its 50,000, 0.38 ms with the kept total. An
	// actor's or a record's entries are counted.
	Counts:        [][]string{{"company_id"}, {"company_id", "type"}, {"company_id", "resource"}},
	DefaultSort:   "recorded_at",
	DefaultDesc:   true,
	Scope:         domain.AuditScope,
	RequireFilter: "company_id",
	Derived:       true,
}

// Usage is what the LLM cost: a record per company, UTC day and agent
// (id usage.DayKey: "<company_id>:<day>:<agent_id>", with "none" for no
// agent, and for a superadmin's own calls, which count against no
// company), summing the tokens of completions and of agents' replies.
// It is never written to through the API.
var Usage = &Resource{
	Name: "usage",
	Fields: []Field{
		{Name: "company_id", Kind: Text, Filter: true, Sort: true},
		{Name: "agent_id", Kind: Text, Filter: true, Sort: true},
		// day ("2026-11-30") and month ("2026-11") compare as text, which
		// is their order: day_gte and day_lte select a period.
		{Name: "day", Kind: Text, Filter: true, Sort: true},
		{Name: "month", Kind: Text, Filter: true, Sort: true},
		{Name: "total_tokens", Kind: Number, Filter: true, Sort: true},
	},
	Indexes: [][]string{
		{"company_id", "day"}, {"company_id", "agent_id", "day"}, {"company_id", "agent_id"}, {"company_id", "month"},
		{"company_id", "total_tokens"}, {"company_id"},
	},
	Counts:      [][]string{{"company_id"}},
	DefaultSort: "day",
	DefaultDesc: true,
	Scope:       domain.UsageScope,
	Derived:     true,
	IDValid:     usage.ValidDayKey,
}

// categories maps the event log's stream categories to the resources
// whose records their streams are. Username claims ("username-<name>")
// are not among them: they are the bookkeeping that keeps names unique,
// each beside a user.created or user.deleted of the user's own stream,
// and their stream id is the user name itself. A usage record's stream
// ("usage-<id>") is summed into the usage records, so the audit trail
// names who spent the tokens, under the resource usage and the id of the
// one record, which no record of usage has.
var categories = map[string]*Resource{
	company.Category: Companies, user.Category: Users, ticket.Category: Tickets, agent.Category: Agents,
	campaign.Category: Campaigns, knowledge.Category: KnowledgeChunks, notification.Category: Notifications,
	conversation.Category: Conversations,
	document.Category:     KnowledgeDocuments,
	usage.Category:        Usage,
	syncrun.Category:      SyncRuns,
}

// ForCategory returns the resource whose records the streams of a
// category hold.
func ForCategory(category string) (*Resource, bool) {
	r, ok := categories[category]
	return r, ok
}

func campaignStatuses() []string {
	out := make([]string, len(campaign.Statuses))
	for i, s := range campaign.Statuses {
		out[i] = string(s)
	}
	return out
}

// childScope is the scope of a child resource's own records: the
// company of whoever may read some parent records (the parent itself is
// checked too, which narrows it to the parents that principal may read).
func childScope(parent func(domain.Principal) domain.ReadScope) func(domain.Principal) domain.ReadScope {
	return func(p domain.Principal) domain.ReadScope {
		s := parent(p)
		if s.Denied || p.IsSuperadmin() {
			return s
		}
		return domain.ReadScope{Where: []domain.Match{{Field: "company_id", Value: p.CompanyID}}}
	}
}

// All lists the resources the API serves, in menu order.
func All() []*Resource {
	return []*Resource{Companies, Users, Agents, Tickets, Comments, TicketAttachments, Campaigns, CampaignContent, KnowledgeChunks, KnowledgeDocuments, SyncRuns,
		Conversations, ConversationMessages, Notifications, Usage, AuditLog}
}
