// Package agent is the Agent aggregate: an AI assistant of a company, with
// its prompt and model settings, its status (active or inactive) and its
// integrations with shops and sites.
//
// Integration credentials are write-only. The domain never sees them in
// clear: the application seals (encrypts) them before they reach a
// command, and events carry only the sealed value (see Sealed and
// SecretFields) next to a credential_set flag that read models may show.
package agent

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"agentdesk/domain"
)

// Status tells whether an agent is in service.
type Status string

// Statuses. A new agent is active.
const (
	Active   Status = "active"
	Inactive Status = "inactive"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == Active || s == Inactive }

// IntegrationType is the kind of system an integration connects to.
type IntegrationType string

// Integration types.
const (
	Shopify   IntegrationType = "shopify"
	WordPress IntegrationType = "wordpress"
)

// Valid reports whether t is a known integration type.
func (t IntegrationType) Valid() bool { return t == Shopify || t == WordPress }

// Sealed is a credential as the application sealed (encrypted) it: an
// opaque string the domain stores and passes on but never opens. Plain
// credentials must never be converted to Sealed; only a sealer's output is.
type Sealed string

// Limits on field sizes, in characters unless said otherwise.
const (
	MaxName         = 200
	MaxDescription  = 2000
	MaxSystemPrompt = 20000
	MaxModel        = 100
	MinTemperature  = 0.0
	MaxTemperature  = 2.0
	MinMaxTokens    = 1
	MaxMaxTokens    = 200000
	MaxIntegrations = 10
	MaxSiteURL      = 2000
	// MaxSealed is the longest sealed credential, in bytes.
	MaxSealed = 8192
)

// Defaults for the model settings a create leaves out.
const (
	DefaultTemperature = 0.7
	DefaultMaxTokens   = 1024
)

// Integration connects an agent to a Shopify shop or a WordPress site. As
// recorded in events it carries the sealed credential; read models keep
// Redacted instead.
type Integration struct {
	ID   string          `json:"id"`
	Type IntegrationType `json:"type"`
	// ShopDomain and APIVersion are set for Shopify only, SiteURL for
	// WordPress only.
	ShopDomain string `json:"shop_domain,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	SiteURL    string `json:"site_url,omitempty"`
	// Credential is the sealed credential, empty when none is stored.
	Credential Sealed `json:"credential,omitempty"`
	// CredentialSet tells whether a credential is stored, without it.
	CredentialSet bool `json:"credential_set"`
}

// Redacted returns i without its sealed credential; CredentialSet still
// tells whether one is stored. It is what read models and answers keep.
func (i Integration) Redacted() Integration {
	i.Credential = ""
	return i
}

// SecretFields names the JSON fields of agent event data that carry
// sealed credentials; they sit inside each element of the integrations
// list of agent.created and agent.updated, so a redactor must look for
// them at any depth. Audit views and read models drop them.
var SecretFields = []string{"credential"}

// Agent is the state of one agent, rebuilt from its events.
type Agent struct {
	ID           string
	CompanyID    string
	Name         string
	Description  string
	SystemPrompt string
	Model        string
	Temperature  float64
	MaxTokens    int
	Status       Status
	Integrations []Integration
	Deleted      bool
	// Version is the number of events applied; the stream's revision is
	// Version-1.
	Version uint64
}

// Exists reports whether the agent was created and not deleted.
func (a *Agent) Exists() bool { return a.Version > 0 && !a.Deleted }

// Ref is what the role policy needs to know about a.
func (a *Agent) Ref() domain.AgentRef {
	return domain.AgentRef{CompanyID: a.CompanyID, Active: a.Status == Active}
}

// Apply evolves a by one event.
func (a *Agent) Apply(e domain.Event) {
	a.Version++
	switch e := e.(type) {
	case *Created:
		a.ID, a.CompanyID, a.Name, a.Description = e.AgentID, e.CompanyID, e.Name, e.Description
		a.SystemPrompt, a.Model, a.Temperature, a.MaxTokens = e.SystemPrompt, e.Model, e.Temperature, e.MaxTokens
		a.Integrations, a.Status = e.Integrations, Active
	case *Updated:
		if e.Name != nil {
			a.Name = *e.Name
		}
		if e.Description != nil {
			a.Description = *e.Description
		}
		if e.SystemPrompt != nil {
			a.SystemPrompt = *e.SystemPrompt
		}
		if e.Model != nil {
			a.Model = *e.Model
		}
		if e.Temperature != nil {
			a.Temperature = *e.Temperature
		}
		if e.MaxTokens != nil {
			a.MaxTokens = *e.MaxTokens
		}
		if e.Integrations != nil {
			a.Integrations = *e.Integrations
		}
	case *Activated:
		a.Status = Active
	case *Deactivated:
		a.Status = Inactive
	case *Deleted:
		a.Deleted = true
	}
}

// IntegrationInput is an integration as a command sends it.
type IntegrationInput struct {
	// ID identifies the integration; the application assigns one to a new
	// integration before the command reaches the domain.
	ID         string
	Type       IntegrationType
	ShopDomain string
	APIVersion string
	SiteURL    string
	// Credential, when nil, keeps the credential stored for the
	// integration with the same ID (none for a new one); when empty it
	// removes the stored credential; otherwise it replaces it.
	Credential *Sealed
}

// CreateCmd creates an agent.
type CreateCmd struct {
	AgentID      string
	CompanyID    string
	Name         string
	Description  string
	SystemPrompt string
	Model        string
	// Temperature defaults to DefaultTemperature and MaxTokens to
	// DefaultMaxTokens when nil.
	Temperature  *float64
	MaxTokens    *int
	Integrations []IntegrationInput
}

// Create decides the creation of an agent; a new agent is active.
func (a *Agent) Create(c CreateCmd) ([]domain.Event, error) {
	if a.Version > 0 {
		return nil, domain.ErrAlreadyExists
	}
	p := domain.Problems{}
	if !domain.ValidID(c.AgentID) {
		p.Add("id", "must be a UUID")
	}
	if !domain.ValidID(c.CompanyID) {
		p.Add("company_id", "must be a UUID")
	}
	name := strings.TrimSpace(c.Name)
	checkName(p, name)
	checkDescription(p, c.Description)
	checkSystemPrompt(p, c.SystemPrompt)
	model := strings.TrimSpace(c.Model)
	checkModel(p, model)
	temperature := DefaultTemperature
	if c.Temperature != nil {
		temperature = *c.Temperature
	}
	checkTemperature(p, temperature)
	maxTokens := DefaultMaxTokens
	if c.MaxTokens != nil {
		maxTokens = *c.MaxTokens
	}
	checkMaxTokens(p, maxTokens)
	integrations := integrations(p, c.Integrations, nil)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return []domain.Event{&Created{
		AgentID: c.AgentID, CompanyID: c.CompanyID, Name: name, Description: c.Description,
		SystemPrompt: c.SystemPrompt, Model: model, Temperature: temperature, MaxTokens: maxTokens,
		Integrations: integrations,
	}}, nil
}

// UpdateCmd changes the fields that are set; nil fields stay as they are.
type UpdateCmd struct {
	Name         *string
	Description  *string
	SystemPrompt *string
	Model        *string
	Temperature  *float64
	MaxTokens    *int
	// Integrations, when set, replaces the whole list; see
	// IntegrationInput.Credential for how credentials carry over.
	Integrations *[]IntegrationInput
}

// Update decides an update; only fields that change are recorded, and an
// update that changes nothing records nothing. A credential sent again is
// sealed anew, so it always counts as a change.
func (a *Agent) Update(c UpdateCmd) ([]domain.Event, error) {
	if !a.Exists() {
		return nil, domain.ErrNotFound
	}
	p := domain.Problems{}
	var e Updated
	changed := false
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		checkName(p, name)
		if name != a.Name {
			e.Name, changed = &name, true
		}
	}
	if c.Description != nil {
		checkDescription(p, *c.Description)
		if *c.Description != a.Description {
			e.Description, changed = c.Description, true
		}
	}
	if c.SystemPrompt != nil {
		checkSystemPrompt(p, *c.SystemPrompt)
		if *c.SystemPrompt != a.SystemPrompt {
			e.SystemPrompt, changed = c.SystemPrompt, true
		}
	}
	if c.Model != nil {
		model := strings.TrimSpace(*c.Model)
		checkModel(p, model)
		if model != a.Model {
			e.Model, changed = &model, true
		}
	}
	if c.Temperature != nil {
		checkTemperature(p, *c.Temperature)
		if *c.Temperature != a.Temperature {
			e.Temperature, changed = c.Temperature, true
		}
	}
	if c.MaxTokens != nil {
		checkMaxTokens(p, *c.MaxTokens)
		if *c.MaxTokens != a.MaxTokens {
			e.MaxTokens, changed = c.MaxTokens, true
		}
	}
	if c.Integrations != nil {
		list := integrations(p, *c.Integrations, a.Integrations)
		if !slices.Equal(list, a.Integrations) {
			e.Integrations, changed = &list, true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return nil, nil
	}
	return []domain.Event{&e}, nil
}

// Activate decides putting the agent in service; an active agent records
// nothing.
func (a *Agent) Activate() ([]domain.Event, error) {
	if !a.Exists() {
		return nil, domain.ErrNotFound
	}
	if a.Status == Active {
		return nil, nil
	}
	return []domain.Event{&Activated{}}, nil
}

// Deactivate decides taking the agent out of service; an inactive agent
// records nothing.
func (a *Agent) Deactivate() ([]domain.Event, error) {
	if !a.Exists() {
		return nil, domain.ErrNotFound
	}
	if a.Status == Inactive {
		return nil, nil
	}
	return []domain.Event{&Deactivated{}}, nil
}

// Delete decides deleting the agent; its history stays in the log.
func (a *Agent) Delete() ([]domain.Event, error) {
	if !a.Exists() {
		return nil, domain.ErrNotFound
	}
	return []domain.Event{&Deleted{}}, nil
}

var (
	modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`)
	// hostPattern is a DNS name of at least two labels, in lower case.
	hostPattern       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	apiVersionPattern = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}|unstable)$`)
)

func checkName(p domain.Problems, name string) {
	switch {
	case name == "":
		p.Add("name", "must not be empty")
	case utf8.RuneCountInString(name) > MaxName:
		p.Add("name", fmt.Sprintf("must be at most %d characters", MaxName))
	}
}

func checkDescription(p domain.Problems, d string) {
	if utf8.RuneCountInString(d) > MaxDescription {
		p.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescription))
	}
}

func checkSystemPrompt(p domain.Problems, s string) {
	if utf8.RuneCountInString(s) > MaxSystemPrompt {
		p.Add("system_prompt", fmt.Sprintf("must be at most %d characters", MaxSystemPrompt))
	}
}

func checkModel(p domain.Problems, model string) {
	switch {
	case model == "":
		p.Add("model", "must not be empty")
	case len(model) > MaxModel:
		p.Add("model", fmt.Sprintf("must be at most %d characters", MaxModel))
	case !modelPattern.MatchString(model):
		p.Add("model", "must be letters, digits, '.', '-', '_', ':' or '/' (for example gpt-4o-mini)")
	}
}

func checkTemperature(p domain.Problems, t float64) {
	// Written so that NaN fails too.
	if !(t >= MinTemperature && t <= MaxTemperature) {
		p.Add("temperature", "must be between 0 and 2")
	}
}

func checkMaxTokens(p domain.Problems, n int) {
	if n < MinMaxTokens || n > MaxMaxTokens {
		p.Add("max_tokens", fmt.Sprintf("must be between %d and %d", MinMaxTokens, MaxMaxTokens))
	}
}

// integrations validates and normalizes a new integration list. A
// credential left out (nil) carries over from the integration with the
// same id in previous. Problems are reported on "integrations" or on
// "integrations.<index>.<field>", the path React Admin's forms use.
func integrations(p domain.Problems, in []IntegrationInput, previous []Integration) []Integration {
	if len(in) > MaxIntegrations {
		p.Add("integrations", fmt.Sprintf("at most %d integrations", MaxIntegrations))
	}
	out := make([]Integration, 0, len(in))
	seen := map[string]bool{}
	for i, c := range in {
		field := func(name string) string { return "integrations." + strconv.Itoa(i) + "." + name }
		switch {
		case !domain.ValidID(c.ID):
			p.Add(field("id"), "must be a UUID")
		case seen[c.ID]:
			p.Add(field("id"), "appears twice")
		}
		seen[c.ID] = true
		it := Integration{ID: c.ID, Type: c.Type}
		switch c.Type {
		case Shopify:
			it.ShopDomain = strings.ToLower(strings.TrimSpace(c.ShopDomain))
			it.APIVersion = strings.TrimSpace(c.APIVersion)
			switch {
			case it.ShopDomain == "":
				p.Add(field("shop_domain"), "is required for a shopify integration")
			case len(it.ShopDomain) > 253 || !hostPattern.MatchString(it.ShopDomain):
				p.Add(field("shop_domain"), "must be a host name such as name.myshopify.com")
			}
			if !apiVersionPattern.MatchString(it.APIVersion) {
				p.Add(field("api_version"), "must be a Shopify API version such as 2024-10, or unstable")
			}
			if strings.TrimSpace(c.SiteURL) != "" {
				p.Add(field("site_url"), "must be empty for a shopify integration")
			}
		case WordPress:
			it.SiteURL = strings.TrimSpace(c.SiteURL)
			if msg := checkSiteURL(it.SiteURL); msg != "" {
				p.Add(field("site_url"), msg)
			}
			if strings.TrimSpace(c.ShopDomain) != "" {
				p.Add(field("shop_domain"), "must be empty for a wordpress integration")
			}
			if strings.TrimSpace(c.APIVersion) != "" {
				p.Add(field("api_version"), "must be empty for a wordpress integration")
			}
		default:
			p.Add(field("type"), "must be one of shopify, wordpress")
		}
		if c.Credential != nil {
			it.Credential = *c.Credential
		} else if j := slices.IndexFunc(previous, func(old Integration) bool { return old.ID == c.ID }); j >= 0 {
			it.Credential = previous[j].Credential
		}
		if len(it.Credential) > MaxSealed {
			p.Add(field("credential"), "is too long")
		}
		it.CredentialSet = it.Credential != ""
		out = append(out, it)
	}
	return out
}

// checkSiteURL returns what is wrong with a WordPress site URL, or "".
func checkSiteURL(s string) string {
	if s == "" {
		return "is required for a wordpress integration"
	}
	if len(s) > MaxSiteURL {
		return fmt.Sprintf("must be at most %d characters", MaxSiteURL)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.Opaque != "" {
		return "must be an https URL such as https://blog.example.com"
	}
	return ""
}
