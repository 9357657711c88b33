package domain_test

import (
	"slices"
	"testing"

	"agentdesk/domain"
)

const (
	companyA = "aaaaaaaa-1111-4111-8111-111111111111"
	companyB = "bbbbbbbb-2222-4222-8222-222222222222"
	otherID  = "cccccccc-3333-4333-8333-333333333333"
	otherID2 = "dddddddd-4444-4444-8444-444444444444"
)

var (
	superadmin = domain.Principal{UserID: "00000000-0000-4000-8000-000000000001", Username: "root", Role: domain.Superadmin}
	admin      = domain.Principal{UserID: "00000000-0000-4000-8000-000000000002", Username: "ada", CompanyID: companyA, Role: domain.CompanyAdmin}
	manager    = domain.Principal{UserID: "00000000-0000-4000-8000-000000000003", Username: "max", CompanyID: companyA, Role: domain.ContentManager}
	writer     = domain.Principal{UserID: "00000000-0000-4000-8000-000000000004", Username: "wes", CompanyID: companyA, Role: domain.ContentWriter}
	client     = domain.Principal{UserID: "00000000-0000-4000-8000-000000000005", Username: "cal", CompanyID: companyA, Role: domain.Client}

	principals = []domain.Principal{superadmin, admin, manager, writer, client}
	actions    = []domain.Action{domain.Read, domain.Create, domain.Update, domain.Delete, domain.Assign, domain.Status, domain.Comment}
	crud       = []domain.Action{domain.Read, domain.Create, domain.Update, domain.Delete}
)

var (
	all          = actions
	none         = []domain.Action{}
	readOnly     = []domain.Action{domain.Read}
	participate  = []domain.Action{domain.Read, domain.Create, domain.Comment}
	allButDelete = []domain.Action{domain.Read, domain.Create, domain.Update, domain.Assign, domain.Status, domain.Comment}
)

// ticketTargets are tickets as seen from principal p, all in company A
// except the foreign one.
var ticketTargets = map[string]func(p domain.Principal) domain.TicketRef{
	"own request assigned to self": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyA, RequesterID: p.UserID, AssigneeID: p.UserID}
	},
	"own request unassigned": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyA, RequesterID: p.UserID}
	},
	"other's request assigned to self": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyA, RequesterID: otherID, AssigneeID: p.UserID}
	},
	"other's request assigned to another": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyA, RequesterID: otherID, AssigneeID: otherID2}
	},
	"other's request unassigned": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyA, RequesterID: otherID}
	},
	"other company, own request assigned to self": func(p domain.Principal) domain.TicketRef {
		return domain.TicketRef{CompanyID: companyB, RequesterID: p.UserID, AssigneeID: p.UserID}
	},
}

func TestCanTicket(t *testing.T) {
	for _, c := range []struct {
		p      domain.Principal
		target string
		allow  []domain.Action
	}{
		{superadmin, "own request assigned to self", all},
		{superadmin, "own request unassigned", all},
		{superadmin, "other's request assigned to self", all},
		{superadmin, "other's request assigned to another", all},
		{superadmin, "other's request unassigned", all},
		{superadmin, "other company, own request assigned to self", all},

		{admin, "own request assigned to self", all},
		{admin, "own request unassigned", all},
		{admin, "other's request assigned to self", all},
		{admin, "other's request assigned to another", all},
		{admin, "other's request unassigned", all},
		{admin, "other company, own request assigned to self", none},

		{manager, "own request assigned to self", all},
		{manager, "own request unassigned", all},
		{manager, "other's request assigned to self", all},
		{manager, "other's request assigned to another", all},
		{manager, "other's request unassigned", all},
		{manager, "other company, own request assigned to self", none},

		// Writers work on every ticket of their company but change only
		// the ones assigned to them, and delete none.
		{writer, "own request assigned to self", allButDelete},
		{writer, "own request unassigned", participate},
		{writer, "other's request assigned to self", allButDelete},
		{writer, "other's request assigned to another", participate},
		{writer, "other's request unassigned", participate},
		{writer, "other company, own request assigned to self", none},

		// Clients see only their own requests, and never change them.
		{client, "own request assigned to self", participate},
		{client, "own request unassigned", participate},
		{client, "other's request assigned to self", none},
		{client, "other's request assigned to another", none},
		{client, "other's request unassigned", none},
		{client, "other company, own request assigned to self", none},
	} {
		target := ticketTargets[c.target](c.p)
		for _, a := range actions {
			want := slices.Contains(c.allow, a)
			if got := domain.CanTicket(c.p, a, target); got != want {
				t.Errorf("%s may %s %s: got %v, want %v", c.p.Role, a, c.target, got, want)
			}
		}
	}
}

// userTargets are users as seen from principal p.
var userTargets = map[string]func(p domain.Principal) domain.UserRef{
	"self": func(p domain.Principal) domain.UserRef {
		return domain.UserRef{ID: p.UserID, CompanyID: p.CompanyID, Role: p.Role}
	},
	"a writer of the company": func(domain.Principal) domain.UserRef {
		return domain.UserRef{ID: otherID, CompanyID: companyA, Role: domain.ContentWriter}
	},
	"an admin of the company": func(domain.Principal) domain.UserRef {
		return domain.UserRef{ID: otherID2, CompanyID: companyA, Role: domain.CompanyAdmin}
	},
	"a superadmin": func(domain.Principal) domain.UserRef {
		return domain.UserRef{ID: otherID, Role: domain.Superadmin}
	},
	"a client of another company": func(domain.Principal) domain.UserRef {
		return domain.UserRef{ID: otherID, CompanyID: companyB, Role: domain.Client}
	},
}

func TestCanUser(t *testing.T) {
	for _, c := range []struct {
		p      domain.Principal
		target string
		allow  []domain.Action
	}{
		{superadmin, "self", crud},
		{superadmin, "a writer of the company", crud},
		{superadmin, "an admin of the company", crud},
		{superadmin, "a superadmin", crud},
		{superadmin, "a client of another company", crud},

		{admin, "self", crud},
		{admin, "a writer of the company", crud},
		{admin, "an admin of the company", crud},
		{admin, "a superadmin", none},
		{admin, "a client of another company", none},

		{manager, "self", readOnly},
		{manager, "a writer of the company", readOnly},
		{manager, "an admin of the company", readOnly},
		{manager, "a superadmin", none},
		{manager, "a client of another company", none},

		{writer, "self", readOnly},
		{writer, "a writer of the company", none},
		{writer, "an admin of the company", none},
		{writer, "a superadmin", none},
		{writer, "a client of another company", none},

		{client, "self", readOnly},
		{client, "a writer of the company", none},
		{client, "an admin of the company", none},
		{client, "a superadmin", none},
		{client, "a client of another company", none},
	} {
		target := userTargets[c.target](c.p)
		for _, a := range crud {
			want := slices.Contains(c.allow, a)
			if got := domain.CanUser(c.p, a, target); got != want {
				t.Errorf("%s may %s %s: got %v, want %v", c.p.Role, a, c.target, got, want)
			}
		}
	}
}

// For a create, the target is the user to be: its company and role.
func TestCanUserCreate(t *testing.T) {
	for _, c := range []struct {
		name   string
		p      domain.Principal
		target domain.UserRef
		want   bool
	}{
		{"superadmin creates a superadmin", superadmin, domain.UserRef{Role: domain.Superadmin}, true},
		{"superadmin creates an admin of any company", superadmin, domain.UserRef{CompanyID: companyB, Role: domain.CompanyAdmin}, true},
		{"admin creates an admin", admin, domain.UserRef{CompanyID: companyA, Role: domain.CompanyAdmin}, true},
		{"admin creates a manager", admin, domain.UserRef{CompanyID: companyA, Role: domain.ContentManager}, true},
		{"admin creates a writer", admin, domain.UserRef{CompanyID: companyA, Role: domain.ContentWriter}, true},
		{"admin creates a client", admin, domain.UserRef{CompanyID: companyA, Role: domain.Client}, true},
		{"admin cannot create a superadmin", admin, domain.UserRef{Role: domain.Superadmin}, false},
		{"admin cannot create a superadmin in its company", admin, domain.UserRef{CompanyID: companyA, Role: domain.Superadmin}, false},
		{"admin cannot create in another company", admin, domain.UserRef{CompanyID: companyB, Role: domain.Client}, false},
		{"manager cannot create a client", manager, domain.UserRef{CompanyID: companyA, Role: domain.Client}, false},
		{"writer cannot create a client", writer, domain.UserRef{CompanyID: companyA, Role: domain.Client}, false},
		{"client cannot create a client", client, domain.UserRef{CompanyID: companyA, Role: domain.Client}, false},
	} {
		if got := domain.CanUser(c.p, domain.Create, c.target); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCanCompany(t *testing.T) {
	targets := map[string]string{"own company": companyA, "another company": companyB, "a new company": ""}
	for _, c := range []struct {
		p      domain.Principal
		target string
		allow  []domain.Action
	}{
		{superadmin, "own company", crud},
		{superadmin, "another company", crud},
		{superadmin, "a new company", crud},
		{admin, "own company", readOnly},
		{admin, "another company", none},
		{admin, "a new company", none},
		{manager, "own company", none},
		{manager, "another company", none},
		{manager, "a new company", none},
		{writer, "own company", none},
		{writer, "another company", none},
		{writer, "a new company", none},
		{client, "own company", none},
		{client, "another company", none},
		{client, "a new company", none},
	} {
		for _, a := range crud {
			want := slices.Contains(c.allow, a)
			if got := domain.CanCompany(c.p, a, targets[c.target]); got != want {
				t.Errorf("%s may %s %s: got %v, want %v", c.p.Role, a, c.target, got, want)
			}
		}
		// Setting a quota is a superadmin's, like every change.
		if got, want := domain.CanCompany(c.p, domain.SetQuota, targets[c.target]), c.p.Role == domain.Superadmin; got != want {
			t.Errorf("%s may set the quota of %s: got %v, want %v", c.p.Role, c.target, got, want)
		}
	}
}

// Whatever the action and however the target points back at the actor,
// nobody but a superadmin reaches into another company.
func TestCrossCompanyAlwaysDenied(t *testing.T) {
	for _, p := range principals {
		if p.IsSuperadmin() {
			continue
		}
		for _, a := range actions {
			if domain.CanTicket(p, a, domain.TicketRef{CompanyID: companyB, RequesterID: p.UserID, AssigneeID: p.UserID}) {
				t.Errorf("%s may %s a ticket of another company: got true, want false", p.Role, a)
			}
			if domain.CanUser(p, a, domain.UserRef{ID: p.UserID, CompanyID: companyB, Role: p.Role}) {
				t.Errorf("%s may %s a user of another company: got true, want false", p.Role, a)
			}
			if domain.CanCompany(p, a, companyB) {
				t.Errorf("%s may %s another company: got true, want false", p.Role, a)
			}
		}
	}
}

func TestRoleQueries(t *testing.T) {
	for _, c := range []struct {
		p              domain.Principal
		superadmin     bool
		listUsers      bool
		ticketsOwnOnly bool
	}{
		{superadmin, true, true, false},
		{admin, false, true, false},
		{manager, false, true, false},
		{writer, false, false, false},
		{client, false, false, true},
	} {
		if got := c.p.IsSuperadmin(); got != c.superadmin {
			t.Errorf("IsSuperadmin(%s): got %v, want %v", c.p.Role, got, c.superadmin)
		}
		if got := domain.CanListUsers(c.p); got != c.listUsers {
			t.Errorf("CanListUsers(%s): got %v, want %v", c.p.Role, got, c.listUsers)
		}
		if got := domain.TicketsOwnOnly(c.p); got != c.ticketsOwnOnly {
			t.Errorf("TicketsOwnOnly(%s): got %v, want %v", c.p.Role, got, c.ticketsOwnOnly)
		}
	}
}

func TestInCompany(t *testing.T) {
	for _, c := range []struct {
		name    string
		p       domain.Principal
		company string
		want    bool
	}{
		{"superadmin in any company", superadmin, companyB, true},
		{"superadmin with no company", superadmin, "", true},
		{"admin in own company", admin, companyA, true},
		{"client in own company", client, companyA, true},
		{"admin in another company", admin, companyB, false},
		{"admin with no company", admin, "", false},
		{"companyless non-superadmin matches nothing", domain.Principal{Role: domain.CompanyAdmin}, "", false},
	} {
		if got := c.p.InCompany(c.company); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range domain.Roles {
		if !r.Valid() {
			t.Errorf("got Role(%q).Valid() = false, want true", r)
		}
	}
	if got, want := len(domain.Roles), 5; got != want {
		t.Errorf("got %d roles, want %d", got, want)
	}
	for _, r := range []domain.Role{"", "admin", "Superadmin", " client"} {
		if r.Valid() {
			t.Errorf("got Role(%q).Valid() = true, want false", r)
		}
	}
}

// contentActions are every action checked on agents, campaigns and
// knowledge chunks.
var contentActions = []domain.Action{
	domain.Read, domain.Create, domain.Update, domain.Delete, domain.Status,
	domain.Chat, domain.EditContent, domain.Approve, domain.Publish,
}

func TestCanAgent(t *testing.T) {
	var (
		manage  = contentActions
		useOnly = []domain.Action{domain.Read, domain.Chat}
	)
	targets := map[string]domain.AgentRef{
		"an active agent":                    {CompanyID: companyA, Active: true},
		"an inactive agent":                  {CompanyID: companyA},
		"an active agent of another company": {CompanyID: companyB, Active: true},
	}
	for _, c := range []struct {
		p      domain.Principal
		target string
		allow  []domain.Action
	}{
		{superadmin, "an active agent", manage},
		{superadmin, "an inactive agent", manage},
		{superadmin, "an active agent of another company", manage},
		{admin, "an active agent", manage},
		{admin, "an inactive agent", manage},
		{admin, "an active agent of another company", none},
		{manager, "an active agent", manage},
		{manager, "an inactive agent", manage},
		{manager, "an active agent of another company", none},
		{writer, "an active agent", useOnly},
		{writer, "an inactive agent", useOnly},
		{writer, "an active agent of another company", none},
		// Clients see active agents only.
		{client, "an active agent", useOnly},
		{client, "an inactive agent", none},
		{client, "an active agent of another company", none},
	} {
		for _, a := range contentActions {
			want := slices.Contains(c.allow, a)
			if got := domain.CanAgent(c.p, a, targets[c.target]); got != want {
				t.Errorf("%s may %s %s: got %v, want %v", c.p.Role, a, c.target, got, want)
			}
		}
	}
}

func TestCanCampaign(t *testing.T) {
	writeContent := []domain.Action{domain.Read, domain.EditContent}
	for _, c := range []struct {
		p       domain.Principal
		company string
		allow   []domain.Action
	}{
		{superadmin, companyA, contentActions},
		{superadmin, companyB, contentActions},
		{admin, companyA, contentActions},
		{admin, companyB, none},
		{manager, companyA, contentActions},
		{manager, companyB, none},
		// Writers add and edit content but never approve, publish or remove it.
		{writer, companyA, writeContent},
		{writer, companyB, none},
		{client, companyA, none},
		{client, companyB, none},
	} {
		for _, a := range contentActions {
			want := slices.Contains(c.allow, a)
			if got := domain.CanCampaign(c.p, a, domain.CampaignRef{CompanyID: c.company}); got != want {
				t.Errorf("%s may %s a campaign of %s: got %v, want %v", c.p.Role, a, c.company, got, want)
			}
		}
	}
}

func TestCanKnowledge(t *testing.T) {
	createEdit := []domain.Action{domain.Read, domain.Create, domain.Update}
	for _, c := range []struct {
		p       domain.Principal
		company string
		allow   []domain.Action
	}{
		{superadmin, companyA, contentActions},
		{superadmin, companyB, contentActions},
		{admin, companyA, contentActions},
		{admin, companyB, none},
		{manager, companyA, contentActions},
		{manager, companyB, none},
		// Writers create and edit chunks but do not delete them.
		{writer, companyA, createEdit},
		{writer, companyB, none},
		{client, companyA, none},
		{client, companyB, none},
	} {
		for _, a := range contentActions {
			want := slices.Contains(c.allow, a)
			if got := domain.CanKnowledge(c.p, a, domain.KnowledgeRef{CompanyID: c.company}); got != want {
				t.Errorf("%s may %s a knowledge chunk of %s: got %v, want %v", c.p.Role, a, c.company, got, want)
			}
		}
	}
}

// Only the platform's own process records embeddings.
func TestCanKnowledgeEmbed(t *testing.T) {
	for _, p := range append(principals, domain.SystemPrincipal("embeddings", companyA), domain.SystemPrincipal("embeddings", "")) {
		for _, company := range []string{companyA, companyB} {
			want := p.Role == domain.System
			if got := domain.CanKnowledge(p, domain.Embed, domain.KnowledgeRef{CompanyID: company}); got != want {
				t.Errorf("%s may embed a knowledge chunk of %s: got %v, want %v", p.Role, company, got, want)
			}
		}
	}
}

// A principal with no company (a misconfigured token) reaches nothing.
func TestCompanylessPrincipalDenied(t *testing.T) {
	for _, role := range []domain.Role{domain.CompanyAdmin, domain.ContentManager, domain.ContentWriter, domain.Client} {
		p := domain.Principal{UserID: otherID, Role: role}
		for _, a := range contentActions {
			if domain.CanAgent(p, a, domain.AgentRef{Active: true}) || domain.CanCampaign(p, a, domain.CampaignRef{}) || domain.CanKnowledge(p, a, domain.KnowledgeRef{}) {
				t.Errorf("companyless %s may %s: got true, want false", role, a)
			}
		}
	}
}

// Notifications are created by the platform only, and read and marked
// read by their recipient only, whatever the role.
func TestCanNotification(t *testing.T) {
	system := domain.SystemPrincipal("reactions", companyA)
	mine := func(p domain.Principal) domain.NotificationRef {
		return domain.NotificationRef{CompanyID: companyA, UserID: p.UserID}
	}
	someoneElses := func(domain.Principal) domain.NotificationRef {
		return domain.NotificationRef{CompanyID: companyA, UserID: otherID}
	}
	recipient := []domain.Action{domain.Read, domain.Update}
	for _, c := range []struct {
		name   string
		p      domain.Principal
		target func(domain.Principal) domain.NotificationRef
		allow  []domain.Action
	}{
		{"the platform's own", system, mine, append([]domain.Action{domain.Create}, recipient...)},
		{"the platform, someone's", system, someoneElses, []domain.Action{domain.Create}},
		{"superadmin's own", superadmin, mine, append([]domain.Action{domain.Create}, recipient...)},
		{"superadmin, someone's", superadmin, someoneElses, []domain.Action{domain.Create}},
		{"admin's own", admin, mine, recipient},
		{"admin, someone's of the company", admin, someoneElses, none},
		{"manager's own", manager, mine, recipient},
		{"manager, someone's", manager, someoneElses, none},
		{"writer's own", writer, mine, recipient},
		{"writer, someone's", writer, someoneElses, none},
		{"client's own", client, mine, recipient},
		{"client, someone's", client, someoneElses, none},
		{"nobody's own", domain.Principal{Role: domain.Client, CompanyID: companyA}, mine, none},
	} {
		for _, a := range actions {
			want := slices.Contains(c.allow, a)
			if got := domain.CanNotification(c.p, a, c.target(c.p)); got != want {
				t.Errorf("%s: may %s: got %v, want %v", c.name, a, got, want)
			}
		}
	}
}

// Every principal reads only its own notifications, through the scope as
// through the policy.
func TestNotificationScope(t *testing.T) {
	for _, p := range append(principals, domain.SystemPrincipal("reactions", companyA), domain.Principal{Role: domain.Client, CompanyID: companyA}) {
		s := domain.NotificationScope(p)
		for _, recipient := range []string{p.UserID, otherID, ""} {
			rec := map[string]string{"user_id": recipient, "company_id": companyA}
			got := s.Allows(func(n string) string { return rec[n] })
			if want := domain.CanNotification(p, domain.Read, domain.NotificationRef{CompanyID: companyA, UserID: recipient}); got != want {
				t.Errorf("%s %q reading a notification of %q: scope says %v, policy %v", p.Role, p.UserID, recipient, got, want)
			}
		}
	}
}

func TestCanComplete(t *testing.T) {
	cases := []struct {
		p    domain.Principal
		want bool
	}{
		{domain.Principal{Role: domain.Superadmin}, true},
		{domain.Principal{Role: domain.CompanyAdmin, CompanyID: "c"}, true},
		{domain.Principal{Role: domain.ContentManager, CompanyID: "c"}, true},
		{domain.Principal{Role: domain.ContentWriter, CompanyID: "c"}, true},
		{domain.Principal{Role: domain.Client, CompanyID: "c"}, false},
		{domain.Principal{Role: domain.ContentWriter}, false},
		{domain.Principal{Role: "intern", CompanyID: "c"}, false},
	}
	for _, c := range cases {
		if got := domain.CanComplete(c.p); got != c.want {
			t.Errorf("CanComplete(%+v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestCanConversation(t *testing.T) {
	for _, c := range []struct {
		name       string
		p          domain.Principal
		target     domain.ConversationRef
		read, chat bool
	}{
		{"own, client", client, domain.ConversationRef{CompanyID: companyA, UserID: client.UserID}, true, true},
		{"own, admin", admin, domain.ConversationRef{CompanyID: companyA, UserID: admin.UserID}, true, true},
		{"another's, admin", admin, domain.ConversationRef{CompanyID: companyA, UserID: client.UserID}, true, false},
		{"another's, manager", manager, domain.ConversationRef{CompanyID: companyA, UserID: client.UserID}, true, false},
		{"another's, writer", writer, domain.ConversationRef{CompanyID: companyA, UserID: client.UserID}, false, false},
		{"another's, client", client, domain.ConversationRef{CompanyID: companyA, UserID: writer.UserID}, false, false},
		{"another company's, admin", admin, domain.ConversationRef{CompanyID: companyB, UserID: otherID}, false, false},
		{"own id in another company", client, domain.ConversationRef{CompanyID: companyB, UserID: client.UserID}, false, false},
		{"any, superadmin", superadmin, domain.ConversationRef{CompanyID: companyB, UserID: otherID}, true, false},
		{"system", domain.SystemPrincipal("r", companyA), domain.ConversationRef{CompanyID: companyA, UserID: client.UserID}, false, false},
	} {
		if got := domain.CanConversation(c.p, domain.Read, c.target); got != c.read {
			t.Errorf("%s: read %v, want %v", c.name, got, c.read)
		}
		if got := domain.CanConversation(c.p, domain.Chat, c.target); got != c.chat {
			t.Errorf("%s: chat %v, want %v", c.name, got, c.chat)
		}
	}
}

func TestConversationScope(t *testing.T) {
	for _, c := range []struct {
		p    domain.Principal
		want domain.ReadScope
	}{
		{superadmin, domain.ReadScope{}},
		{admin, domain.ReadScope{Where: []domain.Match{{Field: "company_id", Value: companyA}}}},
		{manager, domain.ReadScope{Where: []domain.Match{{Field: "company_id", Value: companyA}}}},
		{writer, domain.ReadScope{Where: []domain.Match{{Field: "company_id", Value: companyA}, {Field: "user_id", Value: writer.UserID}}}},
		{client, domain.ReadScope{Where: []domain.Match{{Field: "company_id", Value: companyA}, {Field: "user_id", Value: client.UserID}}}},
		{domain.SystemPrincipal("r", companyA), domain.ReadScope{Denied: true}},
	} {
		got := domain.ConversationScope(c.p)
		if got.Denied != c.want.Denied || !slices.Equal(got.Where, c.want.Where) {
			t.Errorf("%s: got %+v, want %+v", c.p.Role, got, c.want)
		}
	}
}

func TestCanUsage(t *testing.T) {
	for _, c := range []struct {
		p         domain.Principal
		own, othr bool
	}{
		{domain.Principal{Role: domain.Superadmin}, true, true},
		{domain.Principal{Role: domain.CompanyAdmin, CompanyID: "c"}, true, false},
		{domain.Principal{Role: domain.ContentManager, CompanyID: "c"}, true, false},
		{domain.Principal{Role: domain.ContentWriter, CompanyID: "c"}, false, false},
		{domain.Principal{Role: domain.Client, CompanyID: "c"}, false, false},
		{domain.Principal{Role: domain.CompanyAdmin}, false, false},
		{domain.SystemPrincipal("reactions", "c"), false, false},
	} {
		for company, want := range map[string]bool{"c": c.own, "d": c.othr} {
			if got := domain.CanUsage(c.p, company); got != want {
				t.Errorf("CanUsage(%+v, %s) = %v, want %v", c.p, company, got, want)
			}
			rec := map[string]string{"company_id": company}
			if got := domain.UsageScope(c.p).Allows(func(n string) string { return rec[n] }); got != want {
				t.Errorf("UsageScope(%+v) allows %s: %v, want %v", c.p, company, got, want)
			}
		}
	}
}
