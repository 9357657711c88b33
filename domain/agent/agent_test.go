package agent

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"agentdesk/domain"
	"agentdesk/domain/domaintest"
)

const (
	agentID   = "aaaaaaaa-1111-4111-8111-111111111111"
	companyID = "22222222-2222-4222-8222-222222222222"
	shopID    = "33333333-3333-4333-8333-333333333333"
	siteID    = "44444444-4444-4444-8444-444444444444"
	newID     = "55555555-5555-4555-8555-555555555555"

	shopSecret Sealed = "sealed:v1:c2hvcA=="
	siteSecret Sealed = "sealed:v1:c2l0ZQ=="
	newSecret  Sealed = "sealed:v1:bmV3"
)

func shopInput() IntegrationInput {
	return IntegrationInput{ID: shopID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10", Credential: domaintest.Ptr(shopSecret)}
}

func siteInput() IntegrationInput {
	return IntegrationInput{ID: siteID, Type: WordPress, SiteURL: "https://blog.acme.example/", Credential: domaintest.Ptr(siteSecret)}
}

func shop() Integration {
	return Integration{ID: shopID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10", Credential: shopSecret, CredentialSet: true}
}

func site() Integration {
	return Integration{ID: siteID, Type: WordPress, SiteURL: "https://blog.acme.example/", Credential: siteSecret, CredentialSet: true}
}

func created() *Created {
	return &Created{
		AgentID: agentID, CompanyID: companyID, Name: "Support bot", Description: "Answers orders questions.",
		SystemPrompt: "You are helpful.", Model: "gpt-4o-mini", Temperature: 0.3, MaxTokens: 2000,
		Integrations: []Integration{shop(), site()},
	}
}

func validCreate() CreateCmd {
	return CreateCmd{
		AgentID: agentID, CompanyID: companyID, Name: "Support bot", Description: "Answers orders questions.",
		SystemPrompt: "You are helpful.", Model: "gpt-4o-mini", Temperature: domaintest.Ptr(0.3), MaxTokens: domaintest.Ptr(2000),
		Integrations: []IntegrationInput{shopInput(), siteInput()},
	}
}

func create(change func(*CreateCmd)) func(*Agent) ([]domain.Event, error) {
	return func(a *Agent) ([]domain.Event, error) {
		c := validCreate()
		change(&c)
		return a.Create(c)
	}
}

func createdWith(change func(*Created)) []domain.Event {
	e := created()
	change(e)
	return []domain.Event{e}
}

// withIntegration returns a create that sends one integration changed by change.
func withIntegration(base IntegrationInput, change func(*IntegrationInput)) func(*Agent) ([]domain.Event, error) {
	return create(func(c *CreateCmd) {
		change(&base)
		c.Integrations = []IntegrationInput{base}
	})
}

var deletedAgent = []domain.Event{created(), &Deleted{}}

func TestCreate(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Agent]{
		{
			Name: "creates an agent with its integrations",
			When: create(func(c *CreateCmd) {}),
			Want: []domain.Event{created()},
		},
		{
			Name: "defaults the temperature and max tokens",
			When: create(func(c *CreateCmd) { c.Temperature, c.MaxTokens = nil, nil }),
			Want: createdWith(func(e *Created) { e.Temperature, e.MaxTokens = DefaultTemperature, DefaultMaxTokens }),
		},
		{
			Name: "trims the name and model",
			When: create(func(c *CreateCmd) { c.Name, c.Model = "  Support bot\n", " gpt-4o-mini " }),
			Want: []domain.Event{created()},
		},
		{
			Name: "records no integrations as an empty list",
			When: create(func(c *CreateCmd) { c.Integrations = nil }),
			Want: createdWith(func(e *Created) { e.Integrations = []Integration{} }),
		},
		{
			Name: "an integration without a credential has none set",
			When: withIntegration(shopInput(), func(i *IntegrationInput) { i.Credential = nil }),
			Want: createdWith(func(e *Created) {
				e.Integrations = []Integration{{ID: shopID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10"}}
			}),
		},
		{
			Name: "normalizes the shop domain to lower case",
			When: withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain = " ACME.MyShopify.com " }),
			Want: createdWith(func(e *Created) { e.Integrations = []Integration{shop()} }),
		},
		{
			Name: "accepts a shop on its own host and the unstable API",
			When: withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain, i.APIVersion = "shop.acme-store.co.uk", "unstable" }),
			Want: createdWith(func(e *Created) {
				s := shop()
				s.ShopDomain, s.APIVersion = "shop.acme-store.co.uk", "unstable"
				e.Integrations = []Integration{s}
			}),
		},
		{
			Name: "accepts the model settings' bounds and the longest texts",
			When: create(func(c *CreateCmd) {
				c.Temperature, c.MaxTokens = domaintest.Ptr(0.0), domaintest.Ptr(MaxMaxTokens)
				c.Name, c.Description = strings.Repeat("é", MaxName), strings.Repeat("é", MaxDescription)
				c.SystemPrompt, c.Model = strings.Repeat("é", MaxSystemPrompt), strings.Repeat("m", MaxModel)
			}),
			Want: createdWith(func(e *Created) {
				e.Temperature, e.MaxTokens = 0, MaxMaxTokens
				e.Name, e.Description = strings.Repeat("é", MaxName), strings.Repeat("é", MaxDescription)
				e.SystemPrompt, e.Model = strings.Repeat("é", MaxSystemPrompt), strings.Repeat("m", MaxModel)
			}),
		},
		{
			Name: "accepts models with a provider prefix and a version",
			When: create(func(c *CreateCmd) {
				c.Model, c.Temperature, c.MaxTokens = "anthropic/claude-3.5:beta_1", domaintest.Ptr(2.0), domaintest.Ptr(1)
			}),
			Want: createdWith(func(e *Created) { e.Model, e.Temperature, e.MaxTokens = "anthropic/claude-3.5:beta_1", 2, 1 }),
		},
		{
			Name: "accepts ten integrations",
			When: create(func(c *CreateCmd) { c.Integrations = numbered(MaxIntegrations) }),
			Want: createdWith(func(e *Created) { e.Integrations = numberedWant(MaxIntegrations) }),
		},
		{Name: "rejects an empty name", When: create(func(c *CreateCmd) { c.Name = " " }), WantFields: []string{"name"}},
		{Name: "rejects a too long name", When: create(func(c *CreateCmd) { c.Name = strings.Repeat("x", MaxName+1) }), WantFields: []string{"name"}},
		{Name: "rejects a too long description", When: create(func(c *CreateCmd) { c.Description = strings.Repeat("x", MaxDescription+1) }), WantFields: []string{"description"}},
		{Name: "rejects a too long system prompt", When: create(func(c *CreateCmd) { c.SystemPrompt = strings.Repeat("x", MaxSystemPrompt+1) }), WantFields: []string{"system_prompt"}},
		{Name: "rejects an empty model", When: create(func(c *CreateCmd) { c.Model = "" }), WantFields: []string{"model"}},
		{Name: "rejects a too long model", When: create(func(c *CreateCmd) { c.Model = strings.Repeat("m", MaxModel+1) }), WantFields: []string{"model"}},
		{Name: "rejects a model with spaces", When: create(func(c *CreateCmd) { c.Model = "gpt 4" }), WantFields: []string{"model"}},
		{Name: "rejects a model starting with a dash", When: create(func(c *CreateCmd) { c.Model = "-gpt" }), WantFields: []string{"model"}},
		{Name: "rejects a negative temperature", When: create(func(c *CreateCmd) { c.Temperature = domaintest.Ptr(-0.1) }), WantFields: []string{"temperature"}},
		{Name: "rejects a temperature above 2", When: create(func(c *CreateCmd) { c.Temperature = domaintest.Ptr(2.01) }), WantFields: []string{"temperature"}},
		{Name: "rejects a NaN temperature", When: create(func(c *CreateCmd) { c.Temperature = domaintest.Ptr(math.NaN()) }), WantFields: []string{"temperature"}},
		{Name: "rejects zero max tokens", When: create(func(c *CreateCmd) { c.MaxTokens = domaintest.Ptr(0) }), WantFields: []string{"max_tokens"}},
		{Name: "rejects too many max tokens", When: create(func(c *CreateCmd) { c.MaxTokens = domaintest.Ptr(MaxMaxTokens + 1) }), WantFields: []string{"max_tokens"}},
		{Name: "rejects eleven integrations", When: create(func(c *CreateCmd) { c.Integrations = numbered(MaxIntegrations + 1) }), WantFields: []string{"integrations"}},
		{
			Name:       "rejects an integration id that is not a UUID",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.ID = "shop" }),
			WantFields: []string{"integrations.0.id"},
		},
		{
			Name:       "rejects an integration id sent twice",
			When:       create(func(c *CreateCmd) { c.Integrations = []IntegrationInput{shopInput(), shopInput()} }),
			WantFields: []string{"integrations.1.id"},
		},
		{
			Name:       "rejects an unknown integration type",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.Type = "magento" }),
			WantFields: []string{"integrations.0.type"},
		},
		{
			Name:       "rejects a shopify integration without a shop",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain = "" }),
			WantFields: []string{"integrations.0.shop_domain"},
		},
		{
			Name:       "rejects a shop given as a URL",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain = "https://acme.myshopify.com/" }),
			WantFields: []string{"integrations.0.shop_domain"},
		},
		{
			Name:       "rejects a shop that is a single label",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain = "acme" }),
			WantFields: []string{"integrations.0.shop_domain"},
		},
		{
			Name:       "rejects a shop with an empty label",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.ShopDomain = "acme..myshopify.com" }),
			WantFields: []string{"integrations.0.shop_domain"},
		},
		{
			Name:       "rejects a missing shopify API version",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.APIVersion = "" }),
			WantFields: []string{"integrations.0.api_version"},
		},
		{
			Name:       "rejects a malformed shopify API version",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.APIVersion = "v2" }),
			WantFields: []string{"integrations.0.api_version"},
		},
		{
			Name:       "rejects a site URL on a shopify integration",
			When:       withIntegration(shopInput(), func(i *IntegrationInput) { i.SiteURL = "https://acme.example" }),
			WantFields: []string{"integrations.0.site_url"},
		},
		{
			Name:       "rejects a wordpress integration without a site",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.SiteURL = " " }),
			WantFields: []string{"integrations.0.site_url"},
		},
		{
			Name:       "rejects a plain http site",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.SiteURL = "http://blog.acme.example" }),
			WantFields: []string{"integrations.0.site_url"},
		},
		{
			Name:       "rejects a site URL without a host",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.SiteURL = "https:///wp" }),
			WantFields: []string{"integrations.0.site_url"},
		},
		{
			Name:       "rejects a site URL with a password in it",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.SiteURL = "https://admin:pw@blog.acme.example" }),
			WantFields: []string{"integrations.0.site_url"},
		},
		{
			Name:       "rejects shopify fields on a wordpress integration",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.ShopDomain, i.APIVersion = "acme.myshopify.com", "2024-10" }),
			WantFields: []string{"integrations.0.api_version", "integrations.0.shop_domain"},
		},
		{
			Name:       "rejects a too long sealed credential",
			When:       withIntegration(siteInput(), func(i *IntegrationInput) { i.Credential = domaintest.Ptr(Sealed(strings.Repeat("s", MaxSealed+1))) }),
			WantFields: []string{"integrations.0.credential"},
		},
		{
			Name: "reports every invalid field at once",
			When: create(func(c *CreateCmd) {
				*c = CreateCmd{AgentID: "x", CompanyID: "y", Model: "?", Temperature: domaintest.Ptr(3.0), MaxTokens: domaintest.Ptr(-1),
					Integrations: []IntegrationInput{{Type: "ftp"}}}
			}),
			WantFields: []string{"company_id", "id", "integrations.0.id", "integrations.0.type", "max_tokens", "model", "name", "temperature"},
		},
		{Name: "cannot create twice", Given: []domain.Event{created()}, When: create(func(c *CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
		{Name: "cannot reuse a deleted agent's id", Given: deletedAgent, When: create(func(c *CreateCmd) {}), WantErr: domain.ErrAlreadyExists},
	})
}

func numbered(n int) []IntegrationInput {
	out := make([]IntegrationInput, n)
	for i := range out {
		out[i] = IntegrationInput{ID: numberedID(i), Type: WordPress, SiteURL: "https://blog.acme.example/"}
	}
	return out
}

func numberedWant(n int) []Integration {
	out := make([]Integration, n)
	for i := range out {
		out[i] = Integration{ID: numberedID(i), Type: WordPress, SiteURL: "https://blog.acme.example/"}
	}
	return out
}

func numberedID(i int) string { return fmt.Sprintf("55555555-5555-4555-8555-%012d", i) }

func update(c UpdateCmd) func(*Agent) ([]domain.Event, error) {
	return func(a *Agent) ([]domain.Event, error) { return a.Update(c) }
}

func TestUpdate(t *testing.T) {
	same := created()
	domaintest.Run(t, []domaintest.Spec[Agent]{
		{
			Name:  "records a new name, trimmed",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Name: domaintest.Ptr(" Sales bot ")}),
			Want:  []domain.Event{&Updated{Name: domaintest.Ptr("Sales bot")}},
		},
		{
			Name:  "records new model settings",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{
				Description: domaintest.Ptr(""), SystemPrompt: domaintest.Ptr("Be brief."), Model: domaintest.Ptr("gpt-4o"),
				Temperature: domaintest.Ptr(0.0), MaxTokens: domaintest.Ptr(100),
			}),
			Want: []domain.Event{&Updated{
				Description: domaintest.Ptr(""), SystemPrompt: domaintest.Ptr("Be brief."), Model: domaintest.Ptr("gpt-4o"),
				Temperature: domaintest.Ptr(0.0), MaxTokens: domaintest.Ptr(100),
			}},
		},
		{
			Name:  "records only the fields that change",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{
				Name: domaintest.Ptr(same.Name), Model: domaintest.Ptr(same.Model), Temperature: domaintest.Ptr(same.Temperature),
				MaxTokens: domaintest.Ptr(4000),
			}),
			Want: []domain.Event{&Updated{MaxTokens: domaintest.Ptr(4000)}},
		},
		{Name: "an empty update records nothing", Given: []domain.Event{created()}, When: update(UpdateCmd{})},
		{
			Name:  "an update to the current values records nothing",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{
				Name: domaintest.Ptr(same.Name + " "), Description: domaintest.Ptr(same.Description), SystemPrompt: domaintest.Ptr(same.SystemPrompt),
				Model: domaintest.Ptr(same.Model), Temperature: domaintest.Ptr(same.Temperature), MaxTokens: domaintest.Ptr(same.MaxTokens),
			}),
		},
		{
			Name:  "integrations sent again without credentials keep theirs and record nothing",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Integrations: &[]IntegrationInput{withoutCredential(shopInput()), withoutCredential(siteInput())}}),
		},
		{
			Name:  "a new credential replaces the sealed one",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{Integrations: &[]IntegrationInput{
				withoutCredential(shopInput()), {ID: siteID, Type: WordPress, SiteURL: "https://blog.acme.example/", Credential: domaintest.Ptr(newSecret)},
			}}),
			Want: []domain.Event{&Updated{Integrations: &[]Integration{shop(), func() Integration { s := site(); s.Credential = newSecret; return s }()}}},
		},
		{
			Name:  "an empty credential removes the stored one",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Integrations: &[]IntegrationInput{{ID: shopID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10", Credential: domaintest.Ptr(Sealed(""))}}}),
			Want:  []domain.Event{&Updated{Integrations: &[]Integration{{ID: shopID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10"}}}},
		},
		{
			Name:  "the list is replaced: left out integrations go, new ones come without a credential unless sent",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{Integrations: &[]IntegrationInput{
				{ID: newID, Type: WordPress, SiteURL: "https://news.acme.example"}, withoutCredential(siteInput()),
			}}),
			Want: []domain.Event{&Updated{Integrations: &[]Integration{{ID: newID, Type: WordPress, SiteURL: "https://news.acme.example"}, site()}}},
		},
		{
			Name:  "reordering the integrations is a change",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Integrations: &[]IntegrationInput{withoutCredential(siteInput()), withoutCredential(shopInput())}}),
			Want:  []domain.Event{&Updated{Integrations: &[]Integration{site(), shop()}}},
		},
		{
			Name:  "an empty list removes every integration",
			Given: []domain.Event{created()},
			When:  update(UpdateCmd{Integrations: &[]IntegrationInput{}}),
			Want:  []domain.Event{&Updated{Integrations: &[]Integration{}}},
		},
		{
			Name:  "a credential is not carried over to an integration of another id",
			Given: []domain.Event{created()},
			When: update(UpdateCmd{Integrations: &[]IntegrationInput{
				{ID: newID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10"},
			}}),
			Want: []domain.Event{&Updated{Integrations: &[]Integration{{ID: newID, Type: Shopify, ShopDomain: "acme.myshopify.com", APIVersion: "2024-10"}}}},
		},
		{
			Name:  "sees the state left by earlier updates",
			Given: []domain.Event{created(), &Updated{Model: domaintest.Ptr("gpt-4o"), Integrations: &[]Integration{}}},
			When:  update(UpdateCmd{Model: domaintest.Ptr("gpt-4o"), Integrations: &[]IntegrationInput{}}),
		},
		{
			Name:  "an inactive agent can be updated",
			Given: []domain.Event{created(), &Deactivated{}},
			When:  update(UpdateCmd{Name: domaintest.Ptr("Sales bot")}),
			Want:  []domain.Event{&Updated{Name: domaintest.Ptr("Sales bot")}},
		},
		{
			Name:       "rejects invalid fields even with valid changes",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Name: domaintest.Ptr(""), Model: domaintest.Ptr("a b"), Temperature: domaintest.Ptr(5.0), MaxTokens: domaintest.Ptr(0), Description: domaintest.Ptr("ok")}),
			WantFields: []string{"max_tokens", "model", "name", "temperature"},
		},
		{
			Name:       "rejects an invalid integration list",
			Given:      []domain.Event{created()},
			When:       update(UpdateCmd{Integrations: &[]IntegrationInput{{ID: shopID, Type: Shopify}}}),
			WantFields: []string{"integrations.0.api_version", "integrations.0.shop_domain"},
		},
		{Name: "a deleted agent is not found", Given: deletedAgent, When: update(UpdateCmd{Name: domaintest.Ptr("x")}), WantErr: domain.ErrNotFound},
		{Name: "an agent never created is not found", When: update(UpdateCmd{}), WantErr: domain.ErrNotFound},
	})
}

func withoutCredential(i IntegrationInput) IntegrationInput {
	i.Credential = nil
	return i
}

func TestStatusAndDelete(t *testing.T) {
	domaintest.Run(t, []domaintest.Spec[Agent]{
		{Name: "deactivates an active agent", Given: []domain.Event{created()}, When: (*Agent).Deactivate, Want: []domain.Event{&Deactivated{}}},
		{Name: "deactivating an inactive agent records nothing", Given: []domain.Event{created(), &Deactivated{}}, When: (*Agent).Deactivate},
		{Name: "activates an inactive agent", Given: []domain.Event{created(), &Deactivated{}}, When: (*Agent).Activate, Want: []domain.Event{&Activated{}}},
		{Name: "activating a new agent records nothing: it starts active", Given: []domain.Event{created()}, When: (*Agent).Activate},
		{Name: "activating after a reactivation records nothing", Given: []domain.Event{created(), &Deactivated{}, &Activated{}}, When: (*Agent).Activate},
		{Name: "cannot activate a deleted agent", Given: []domain.Event{created(), &Deactivated{}, &Deleted{}}, When: (*Agent).Activate, WantErr: domain.ErrNotFound},
		{Name: "cannot deactivate a deleted agent", Given: deletedAgent, When: (*Agent).Deactivate, WantErr: domain.ErrNotFound},
		{Name: "cannot deactivate an agent never created", When: (*Agent).Deactivate, WantErr: domain.ErrNotFound},
		{Name: "deletes an agent", Given: []domain.Event{created()}, When: (*Agent).Delete, Want: []domain.Event{&Deleted{}}},
		{Name: "deletes an inactive agent", Given: []domain.Event{created(), &Deactivated{}}, When: (*Agent).Delete, Want: []domain.Event{&Deleted{}}},
		{Name: "cannot delete twice", Given: deletedAgent, When: (*Agent).Delete, WantErr: domain.ErrNotFound},
	})
}

func TestReplay(t *testing.T) {
	a := domaintest.Replay[Agent]([]domain.Event{
		created(), &Deactivated{},
		&Updated{Name: domaintest.Ptr("Sales bot"), Temperature: domaintest.Ptr(1.5), Integrations: &[]Integration{site()}},
	})
	if a.ID != agentID || a.CompanyID != companyID || a.Name != "Sales bot" || a.Model != "gpt-4o-mini" ||
		a.Temperature != 1.5 || a.MaxTokens != 2000 || a.Status != Inactive || !slices.Equal(a.Integrations, []Integration{site()}) || a.Version != 3 {
		t.Fatalf("got %+v", a)
	}
	if got, want := a.Ref(), (domain.AgentRef{CompanyID: companyID, Active: false}); got != want {
		t.Fatalf("got ref %+v, want %+v", got, want)
	}
	if !a.Exists() {
		t.Fatal("got Exists() false, want true")
	}
}

func TestValid(t *testing.T) {
	for _, s := range []Status{Active, Inactive} {
		if !s.Valid() {
			t.Errorf("got Status(%q).Valid() false, want true", s)
		}
	}
	for _, it := range []IntegrationType{Shopify, WordPress} {
		if !it.Valid() {
			t.Errorf("got IntegrationType(%q).Valid() false, want true", it)
		}
	}
	if Status("ACTIVE").Valid() || IntegrationType("ftp").Valid() {
		t.Error("got an unknown status or integration type valid, want invalid")
	}
}
