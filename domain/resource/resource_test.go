package resource_test

import (
	"slices"
	"testing"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/campaign"
	"agentdesk/domain/company"
	"agentdesk/domain/knowledge"
	"agentdesk/domain/notification"
	"agentdesk/domain/resource"
	"agentdesk/domain/syncrun"
	"agentdesk/domain/ticket"
	"agentdesk/domain/usage"
	"agentdesk/domain/user"
)

// TestDeclarations keeps the declarations honest: every field a client
// may filter or sort on is declared and indexed, search fields are text,
// enums have values, names are unique and every resource has a scope.
func TestDeclarations(t *testing.T) {
	names := map[string]bool{}
	for _, r := range resource.All() {
		if names[r.Name] {
			t.Fatalf("resource %s declared twice", r.Name)
		}
		names[r.Name] = true
		if r.Scope == nil {
			t.Fatalf("%s has no read scope", r.Name)
		}
		if _, ok := r.Field(r.DefaultSort); !ok || !slices.Contains(r.Sorts(), r.DefaultSort) {
			t.Errorf("%s: default sort %q is not a sortable field", r.Name, r.DefaultSort)
		}
		indexed := map[string]bool{}
		for _, idx := range r.Indexes {
			for _, f := range idx {
				if _, ok := r.Field(f); !ok {
					t.Errorf("%s: index %v names undeclared field %q", r.Name, idx, f)
				}
				indexed[f] = true
			}
		}
		for _, f := range r.Fields {
			if (f.Filter || f.Sort) && !indexed[f.Name] {
				t.Errorf("%s: %s may be filtered or sorted on but is in no index", r.Name, f.Name)
			}
			if then, ok := r.Field(f.Then); f.Then != "" && (!f.Sort || !ok || !then.Sort || f.Then == f.Name) {
				t.Errorf("%s: %s breaks its ties by %q, which needs both to be other sortable fields", r.Name, f.Name, f.Then)
			}
			if f.Sort && f.Kind == resource.TextList {
				t.Errorf("%s: list field %s cannot be sorted", r.Name, f.Name)
			}
			if f.Search && f.Kind != resource.Text {
				t.Errorf("%s: search field %s is not text", r.Name, f.Name)
			}
			if (f.Kind == resource.Enum) != (len(f.Values) > 0) {
				t.Errorf("%s: field %s: values only and always for enums", r.Name, f.Name)
			}
		}
		for _, g := range r.Counts {
			for _, name := range g {
				f, ok := r.Field(name)
				if !ok || (f.Kind != resource.Text && f.Kind != resource.Enum && f.Kind != resource.Bool && f.Kind != resource.TextList) {
					t.Errorf("%s: count group %v: %q is not a declared text, enum, bool or list field", r.Name, g, name)
				}
			}
		}
		if r.Parent != nil {
			if f, ok := r.Field(r.ParentField); !ok || !f.Filter {
				t.Errorf("%s: parent field %q must be a filterable field", r.Name, r.ParentField)
			}
		}
	}
}

// TestScopesFollowThePolicy checks the read scopes against the policy's
// Can* answers for every role, on records of the principal's company and
// of another.
func TestScopesFollowThePolicy(t *testing.T) {
	const own, other, me, someone = "c1", "c2", "u1", "u2"
	for _, role := range domain.Roles {
		p := domain.Principal{UserID: me, CompanyID: own, Role: role}
		if role == domain.Superadmin {
			p.CompanyID = ""
		}
		for _, company := range []string{own, other} {
			for _, who := range []string{me, someone} {
				fields := func(rec map[string]string) func(string) string {
					return func(n string) string { return rec[n] }
				}
				ticket := map[string]string{"company_id": company, "requester_id": who}
				if got, want := domain.TicketScope(p).Allows(fields(ticket)), domain.CanTicket(p, domain.Read, domain.TicketRef{CompanyID: company, RequesterID: who}); got != want {
					t.Errorf("%s reading a ticket of %s requested by %s: scope says %v, policy %v", role, company, who, got, want)
				}
				user := map[string]string{"company_id": company, "id": who, "role": string(domain.ContentWriter)}
				if got, want := domain.UserScope(p).Allows(fields(user)), domain.CanUser(p, domain.Read, domain.UserRef{ID: who, CompanyID: company, Role: domain.ContentWriter}); got != want {
					t.Errorf("%s reading user %s of %s: scope says %v, policy %v", role, who, company, got, want)
				}
			}
			for _, who := range []string{me, someone} {
				n := map[string]string{"company_id": company, "user_id": who}
				if got, want := domain.NotificationScope(p).Allows(func(f string) string { return n[f] }), domain.CanNotification(p, domain.Read, domain.NotificationRef{CompanyID: company, UserID: who}); got != want {
					t.Errorf("%s reading a notification of %s for %s: scope says %v, policy %v", role, company, who, got, want)
				}
			}
			entry := map[string]string{"company_id": company}
			if got, want := domain.AuditScope(p).Allows(func(n string) string { return entry[n] }), domain.CanAudit(p, company); got != want {
				t.Errorf("%s reading the audit trail of %s: scope says %v, policy %v", role, company, got, want)
			}
			if got, want := domain.UsageScope(p).Allows(func(n string) string { return entry[n] }), domain.CanUsage(p, company); got != want {
				t.Errorf("%s reading the usage of %s: scope says %v, policy %v", role, company, got, want)
			}
			co := map[string]string{"id": company}
			if got, want := domain.CompanyScope(p).Allows(func(n string) string { return co[n] }), domain.CanCompany(p, domain.Read, company); got != want {
				t.Errorf("%s reading company %s: scope says %v, policy %v", role, company, got, want)
			}
		}
	}
}

// TestEverySortHasAnIndex: a list is always narrowed to one partition
// (a company, a parent record for child resources, or the declared
// Partition such as a recipient), so every sortable
// field needs an index on (partition, field): then the page is read off
// the index in order, whatever the partition's size, instead of sorting
// it whole. The partition field itself sorts by an index on it alone.
func TestEverySortHasAnIndex(t *testing.T) {
	for _, r := range resource.All() {
		partition := ""
		switch {
		case r.Parent != nil:
			partition = r.ParentField
		case r.Partition != "":
			partition = r.Partition
		case r != resource.Companies:
			partition = "company_id"
		}
		for _, f := range r.Sorts() {
			want := r.SortKeys(f)
			if partition != "" && f != partition {
				want = append([]string{partition}, want...)
			}
			if !slices.ContainsFunc(r.Indexes, func(idx []string) bool { return slices.Equal(idx, want) }) {
				t.Errorf("%s: sorting by %s needs the index %v", r.Name, f, want)
			}
		}
	}
}

// TestEveryCategoryIsAResource: the audit trail names the resource of
// every aggregate's stream, and of no bookkeeping stream.
func TestEveryCategoryIsAResource(t *testing.T) {
	for category, want := range map[string]*resource.Resource{
		company.Category: resource.Companies, user.Category: resource.Users, ticket.Category: resource.Tickets,
		agent.Category: resource.Agents, campaign.Category: resource.Campaigns, knowledge.Category: resource.KnowledgeChunks,
		notification.Category: resource.Notifications, usage.Category: resource.Usage, syncrun.Category: resource.SyncRuns,
	} {
		if got, ok := resource.ForCategory(category); !ok || got != want {
			t.Errorf("category %s: got %v, want %s", category, got, want.Name)
		}
	}
	if got, ok := resource.ForCategory("username"); ok {
		t.Errorf("username claims are the resource %s, want none", got.Name)
	}
}

// TestValidID: records are named by UUIDs, but usage records by their
// company, day and agent.
func TestValidID(t *testing.T) {
	const id = "aaaaaaaa-1111-4111-8111-111111111111"
	day := usage.DayKey(id, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), "")
	for _, c := range []struct {
		r    *resource.Resource
		id   string
		want bool
	}{
		{resource.Tickets, id, true},
		{resource.Tickets, day, false},
		{resource.Usage, day, true},
		{resource.Usage, id, false},
		{resource.Usage, id + ":2026-11", false},
	} {
		if got := c.r.ValidID(c.id); got != c.want {
			t.Errorf("%s.ValidID(%q) = %v, want %v", c.r.Name, c.id, got, c.want)
		}
	}
}
