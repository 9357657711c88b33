package commands_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
)

// member returns the metadata of a command by a new user of company with role.
func member(company string, role domain.Role) commands.Meta {
	return commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), CompanyID: company, Role: role}}
}

func superadminMeta() commands.Meta {
	return commands.Meta{Principal: domain.Principal{UserID: uuid.NewString(), Role: domain.Superadmin}}
}

// testSealer seals like a real one as far as the event log can tell: the
// output is opaque and differs on every call.
type testSealer struct {
	n    atomic.Int64
	fail bool
}

var errSealer = errors.New("key unavailable")

func (s *testSealer) Seal(plaintext string) (string, error) {
	if s.fail {
		return "", errSealer
	}
	return fmt.Sprintf("sealed:%x", sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", s.n.Add(1), plaintext))), nil
}

func seal(t *testing.T, s commands.Sealer, plaintext string) *agent.Sealed {
	t.Helper()
	sealed, err := commands.SealCredential(s, &plaintext)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func newAgent(t *testing.T, app *commands.App, m commands.Meta) string {
	t.Helper()
	res, err := app.CreateAgent(context.Background(), m, commands.CreateAgent{Name: "Support bot", Model: "gpt-4o-mini"})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func wantFieldError(t *testing.T, err error, field, msg string) {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields[field], msg) {
		t.Fatalf("got %v, want a validation error on %s: %q", err, field, msg)
	}
}

func TestAgentRoles(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	company, other := uuid.NewString(), uuid.NewString()
	active := newAgent(t, app, adminOf(company))
	inactive := newAgent(t, app, adminOf(company))
	if _, err := app.DeactivateAgent(ctx, adminOf(company), inactive, nil); err != nil {
		t.Fatal(err)
	}
	rename := commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Name: new(string)}}
	*rename.Name = "Renamed"
	for _, c := range []struct {
		name string
		m    commands.Meta
		do   func(m commands.Meta) error
		want error
	}{
		{"admin creates", member(company, domain.CompanyAdmin), func(m commands.Meta) error {
			_, err := app.CreateAgent(ctx, m, commands.CreateAgent{Name: "a", Model: "m"})
			return err
		}, nil},
		{"manager creates", member(company, domain.ContentManager), func(m commands.Meta) error {
			_, err := app.CreateAgent(ctx, m, commands.CreateAgent{Name: "a", Model: "m"})
			return err
		}, nil},
		{"writer may not create", member(company, domain.ContentWriter), func(m commands.Meta) error {
			_, err := app.CreateAgent(ctx, m, commands.CreateAgent{Name: "a", Model: "m"})
			return err
		}, domain.ErrForbidden},
		{"client may not create", member(company, domain.Client), func(m commands.Meta) error {
			_, err := app.CreateAgent(ctx, m, commands.CreateAgent{Name: "a", Model: "m"})
			return err
		}, domain.ErrForbidden},
		{"manager updates", member(company, domain.ContentManager), func(m commands.Meta) error {
			_, err := app.UpdateAgent(ctx, m, active, rename)
			return err
		}, nil},
		{"writer may not update", member(company, domain.ContentWriter), func(m commands.Meta) error {
			_, err := app.UpdateAgent(ctx, m, active, rename)
			return err
		}, domain.ErrForbidden},
		{"writer may not deactivate an inactive agent either", member(company, domain.ContentWriter), func(m commands.Meta) error {
			_, err := app.DeactivateAgent(ctx, m, inactive, nil)
			return err
		}, domain.ErrForbidden},
		{"client may not update an active agent", member(company, domain.Client), func(m commands.Meta) error {
			_, err := app.UpdateAgent(ctx, m, active, rename)
			return err
		}, domain.ErrForbidden},
		{"client does not see an inactive agent", member(company, domain.Client), func(m commands.Meta) error {
			_, err := app.ActivateAgent(ctx, m, inactive, nil)
			return err
		}, domain.ErrNotFound},
		{"admin of another company does not see it", member(other, domain.CompanyAdmin), func(m commands.Meta) error {
			_, err := app.DeleteAgent(ctx, m, active, nil)
			return err
		}, domain.ErrNotFound},
		{"a malformed id is not found", member(company, domain.CompanyAdmin), func(m commands.Meta) error {
			_, err := app.DeleteAgent(ctx, m, "agent-1", nil)
			return err
		}, domain.ErrNotFound},
		{"manager activates", member(company, domain.ContentManager), func(m commands.Meta) error {
			_, err := app.ActivateAgent(ctx, m, inactive, nil)
			return err
		}, nil},
		{"admin deletes", member(company, domain.CompanyAdmin), func(m commands.Meta) error {
			_, err := app.DeleteAgent(ctx, m, active, nil)
			return err
		}, nil},
		{"a deleted agent is not found", member(company, domain.CompanyAdmin), func(m commands.Meta) error {
			_, err := app.UpdateAgent(ctx, m, active, rename)
			return err
		}, domain.ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do(c.m)
			if (c.want == nil && err != nil) || !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestAgentCompanyScope(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	_, err := app.CreateAgent(ctx, adminOf(uuid.NewString()), commands.CreateAgent{CompanyID: uuid.NewString(), Name: "a", Model: "m"})
	wantFieldError(t, err, "company_id", "must be your own company")
	root := superadminMeta()
	_, err = app.CreateAgent(ctx, root, commands.CreateAgent{Name: "a", Model: "m"})
	wantFieldError(t, err, "company_id", "required")
	_, err = app.CreateAgent(ctx, root, commands.CreateAgent{CompanyID: uuid.NewString(), Name: "a", Model: "m"})
	wantFieldError(t, err, "company_id", "no such company")
	company, err := app.CreateCompany(ctx, root, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.CreateAgent(ctx, root, commands.CreateAgent{CompanyID: company.ID, Name: "a", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	evs := readStream(t, es, agent.Stream(res.ID))
	if len(evs) != 1 || evs[0].Type != agent.TypeCreated || evs[0].Metadata.CompanyID != company.ID {
		t.Fatalf("got %+v, want one agent.created in company %s", evs, company.ID)
	}
}

// Credentials reach the event log sealed only: not in the data, not in
// the metadata, not after an update that keeps them.
func TestAgentCredentialsNeverInClear(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	sealer := &testSealer{}
	const token, password, newToken = "shpat_0123456789abcdef", "wp-app-password-xyz", "shpat_fedcba9876543210"
	res, err := app.CreateAgent(ctx, m, commands.CreateAgent{
		Name: "Shop bot", Model: "gpt-4o-mini",
		Integrations: []agent.IntegrationInput{
			{Type: agent.Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10", Credential: seal(t, sealer, token)},
			{Type: agent.WordPress, SiteURL: "https://blog.acme.example", Credential: seal(t, sealer, password)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs := readStream(t, es, agent.Stream(res.ID))
	var created agent.Created
	if err := json.Unmarshal(evs[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Integrations) != 2 {
		t.Fatalf("got %d integrations, want 2", len(created.Integrations))
	}
	shopID := created.Integrations[0].ID
	for _, it := range created.Integrations {
		if !domain.ValidID(it.ID) || !it.CredentialSet || !strings.HasPrefix(string(it.Credential), "sealed:") {
			t.Fatalf("got integration %+v, want an id and a sealed credential", it)
		}
	}
	// Keep the shop's credential (none sent), replace the site's.
	_, err = app.UpdateAgent(ctx, m, res.ID, commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Integrations: &[]agent.IntegrationInput{
		{ID: shopID, Type: agent.Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2025-01"},
		{ID: created.Integrations[1].ID, Type: agent.WordPress, SiteURL: "https://blog.acme.example", Credential: seal(t, sealer, newToken)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	evs = readStream(t, es, agent.Stream(res.ID))
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	for _, e := range evs {
		raw, _ := json.Marshal(e)
		for _, secret := range []string{token, password, newToken} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("%s holds a credential in clear: %s", e.Type, raw)
			}
		}
	}
	var updated agent.Updated
	if err := json.Unmarshal(evs[1].Data, &updated); err != nil {
		t.Fatal(err)
	}
	if got := (*updated.Integrations)[0]; got.Credential != created.Integrations[0].Credential || !got.CredentialSet {
		t.Fatalf("got shop %+v, want its sealed credential kept", got)
	}
	if got := (*updated.Integrations)[1]; got.Credential == created.Integrations[1].Credential || !got.CredentialSet {
		t.Fatalf("got site %+v, want a new sealed credential", got)
	}
}

func TestSealCredential(t *testing.T) {
	s := &testSealer{}
	if got, err := commands.SealCredential(s, nil); got != nil || err != nil {
		t.Fatalf("nil: got %v, %v; want nil, nil (keep the stored one)", got, err)
	}
	if got, err := commands.SealCredential(s, new(string)); err != nil || got == nil || *got != "" {
		t.Fatalf("empty: got %v, %v; want a pointer to \"\" (remove it)", got, err)
	}
	pw := "secret"
	if got, err := commands.SealCredential(&testSealer{fail: true}, &pw); !errors.Is(err, errSealer) || got != nil {
		t.Fatalf("failing sealer: got %v, %v; want its error wrapped", got, err)
	}
}

// A stale expected revision is a conflict and writes nothing; the current
// one goes through.
func TestAgentRevisionConflict(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newAgent(t, app, m)
	rev := func(n uint64) *uint64 { return &n }
	name := func(s string) commands.UpdateAgent {
		return commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Name: &s}, ExpectedRevision: rev(0)}
	}
	res, err := app.UpdateAgent(ctx, m, id, name("First"))
	if err != nil || res.Revision != 1 {
		t.Fatalf("got %+v, %v; want revision 1", res, err)
	}
	_, err = app.UpdateAgent(ctx, m, id, name("Second"))
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "changed by someone else (revision 1, you sent 0)") {
		t.Fatalf("got %v, want a conflict naming revisions 1 and 0", err)
	}
	if _, err := app.DeactivateAgent(ctx, m, id, rev(5)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("deactivate at a future revision: got %v, want a conflict", err)
	}
	if _, err := app.DeleteAgent(ctx, m, id, rev(1)); err != nil {
		t.Fatalf("delete at the current revision: %v", err)
	}
	if evs := readStream(t, es, agent.Stream(id)); len(evs) != 3 {
		t.Fatalf("got %d events, want 3 (created, updated, deleted)", len(evs))
	}
}

// Activating an active agent records nothing and says so.
func TestAgentNoOp(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newAgent(t, app, m)
	res, err := app.ActivateAgent(ctx, m, id, nil)
	if err != nil || res.Changed || res.ID != id {
		t.Fatalf("got %+v, %v; want unchanged", res, err)
	}
	if evs := readStream(t, es, agent.Stream(id)); len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
}

// Integrations sent without ids get ids derived from the command id, so a
// retry names the same integrations.
func TestAgentIntegrationIDsFromCommandID(t *testing.T) {
	ids := func() []string {
		app, es := newApp(t)
		m := adminOf("11111111-1111-4111-8111-111111111111")
		m.CommandID = commands.IdempotencyKey{Scope: m.Principal.CompanyID, Key: "k"}.CommandID()
		res, err := app.CreateAgent(context.Background(), m, commands.CreateAgent{Name: "a", Model: "m", Integrations: []agent.IntegrationInput{
			{Type: agent.WordPress, SiteURL: "https://a.example"}, {Type: agent.WordPress, SiteURL: "https://b.example"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var created agent.Created
		if err := json.Unmarshal(readStream(t, es, agent.Stream(res.ID))[0].Data, &created); err != nil {
			t.Fatal(err)
		}
		return []string{res.ID, created.Integrations[0].ID, created.Integrations[1].ID}
	}
	first, second := ids(), ids()
	if fmt.Sprint(first) != fmt.Sprint(second) || first[1] == first[2] {
		t.Fatalf("got %v then %v, want the same distinct ids", first, second)
	}
}

// An update may change the status too, in one append; company_id sent
// back must be the agent's.
func TestUpdateAgentStatusAndFixed(t *testing.T) {
	app, es := newApp(t)
	ctx := context.Background()
	company := uuid.NewString()
	m := adminOf(company)
	id := newAgent(t, app, m)
	name, inactive, bogus, other := "Renamed", agent.Inactive, agent.Status("paused"), uuid.NewString()
	res, err := app.UpdateAgent(ctx, m, id, commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Name: &name}, Status: &inactive, Fixed: commands.Fixed{"company_id": &company}})
	if err != nil || res.Revision != 2 {
		t.Fatalf("got %+v, %v; want revision 2", res, err)
	}
	evs := readStream(t, es, agent.Stream(id))
	if len(evs) != 3 || evs[1].Type != agent.TypeUpdated || evs[2].Type != agent.TypeDeactivated || evs[1].Metadata.CommandID != evs[2].Metadata.CommandID {
		t.Fatalf("got %v, want updated and deactivated by one command", types(evs))
	}
	if res, err := app.UpdateAgent(ctx, m, id, commands.UpdateAgent{Status: &inactive}); err != nil || res.Changed {
		t.Fatalf("same status: got %+v, %v; want unchanged", res, err)
	}
	_, err = app.UpdateAgent(ctx, m, id, commands.UpdateAgent{Status: &bogus})
	wantFieldError(t, err, "status", "must be one of")
	_, err = app.UpdateAgent(ctx, m, id, commands.UpdateAgent{UpdateCmd: agent.UpdateCmd{Name: &name}, Fixed: commands.Fixed{"company_id": &other}})
	wantFieldError(t, err, "company_id", "cannot be changed")
}

// Meta.IfRevision (a PUT's record revision or If-Match) guards the agent
// like ExpectedRevision.
func TestAgentIfRevision(t *testing.T) {
	app, _ := newApp(t)
	ctx := context.Background()
	m := adminOf(uuid.NewString())
	id := newAgent(t, app, m)
	stale := uint64(3)
	m.IfRevision = &stale
	if _, err := app.DeactivateAgent(ctx, m, id, nil); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("got %v, want a conflict", err)
	}
}
