package projections

import (
	"fmt"
	"time"

	"agentdesk/domain/agent"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
)

// Agents is the name of the agents read model and of its projection.
var Agents = resource.Agents.CollectionName()

// Agent is a document of the agents read model. It never holds an
// integration's credential, sealed or not: AgentIntegration has no field
// for one.
type Agent struct {
	ID           string             `json:"id"`
	CompanyID    string             `json:"company_id"`
	Name         string             `json:"name"`
	Description  string             `json:"description"`
	SystemPrompt string             `json:"system_prompt"`
	Model        string             `json:"model"`
	Temperature  float64            `json:"temperature"`
	MaxTokens    int                `json:"max_tokens"`
	Status       string             `json:"status"`
	Integrations []AgentIntegration `json:"integrations"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	Revision     uint64             `json:"revision"`
}

// AgentIntegration is an integration as the agents read model shows it:
// whether a credential is stored, never the credential. Its JSON matches
// agent.Integration's without the credential field.
type AgentIntegration struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	ShopDomain    string `json:"shop_domain,omitempty"`
	APIVersion    string `json:"api_version,omitempty"`
	SiteURL       string `json:"site_url,omitempty"`
	CredentialSet bool   `json:"credential_set"`
}

// AgentsProjector builds the agents read model.
func AgentsProjector() Projector {
	return &Def[Agent]{
		ProjectionName: Agents,
		Spec:           collectionOf(resource.Agents),
		Categories:     []string{agent.Category},
		DocID:          streamID(agent.Category),
		Creates:        []string{agent.TypeCreated},
		Project:        projectAgent,
	}
}

func projectAgent(ev eventstore.RecordedEvent, cur *Agent) (*Agent, error) {
	e, err := decode(agent.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	switch e := e.(type) {
	case *agent.Created:
		return &Agent{
			ID: e.AgentID, CompanyID: e.CompanyID, Name: e.Name, Description: e.Description,
			SystemPrompt: e.SystemPrompt, Model: e.Model, Temperature: e.Temperature, MaxTokens: e.MaxTokens,
			Status: string(agent.Active), Integrations: agentIntegrations(e.Integrations),
			CreatedAt: at, UpdatedAt: at, Revision: ev.Revision,
		}, nil
	case *agent.Deleted:
		return nil, nil
	}
	if cur == nil {
		// The agent is gone: this is a batch cut short after its deletion
		// landed and applied again (readstore.Batch), so it stays gone.
		return nil, nil
	}
	next := *cur
	switch e := e.(type) {
	case *agent.Updated:
		if e.Name != nil {
			next.Name = *e.Name
		}
		if e.Description != nil {
			next.Description = *e.Description
		}
		if e.SystemPrompt != nil {
			next.SystemPrompt = *e.SystemPrompt
		}
		if e.Model != nil {
			next.Model = *e.Model
		}
		if e.Temperature != nil {
			next.Temperature = *e.Temperature
		}
		if e.MaxTokens != nil {
			next.MaxTokens = *e.MaxTokens
		}
		if e.Integrations != nil {
			next.Integrations = agentIntegrations(*e.Integrations)
		}
	case *agent.Activated:
		next.Status = string(agent.Active)
	case *agent.Deactivated:
		next.Status = string(agent.Inactive)
	default:
		return nil, fmt.Errorf("unexpected agent event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}

// agentIntegrations copies what the read model may show of ins: never
// nil, so clients always get a list.
func agentIntegrations(ins []agent.Integration) []AgentIntegration {
	out := make([]AgentIntegration, len(ins))
	for i, in := range ins {
		in = in.Redacted()
		out[i] = AgentIntegration{ID: in.ID, Type: string(in.Type), ShopDomain: in.ShopDomain,
			APIVersion: in.APIVersion, SiteURL: in.SiteURL, CredentialSet: in.CredentialSet}
	}
	return out
}
