package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"agentdesk/commands"
	"agentdesk/domain/agent"
	"agentdesk/domain/resource"
)

// Agents
//
//	POST   /api/agents                  create (active)
//	PUT    /api/agents/{id}             update, status included
//	DELETE /api/agents/{id}
//	POST   /api/agents/{id}/activate
//	POST   /api/agents/{id}/deactivate
//
// Integration credentials travel in clear in requests only: each one is
// sealed here, before the command, so commands, events and records never
// hold it in clear; records say credential_set instead. A credential left
// out (or null) keeps the stored one, "" removes it, anything else
// replaces it.

// agentBody is what create and update read.
type agentBody struct {
	CompanyID    *string            `json:"company_id"`
	Name         *string            `json:"name"`
	Description  *string            `json:"description"`
	SystemPrompt *string            `json:"system_prompt"`
	Model        *string            `json:"model"`
	Temperature  *float64           `json:"temperature"`
	MaxTokens    *int               `json:"max_tokens"`
	Integrations *[]integrationBody `json:"integrations"`
}

// integrationBody is one integration as a request sends it: the record's
// integration plus, optionally, the credential in clear.
type integrationBody struct {
	ID         *string                `json:"id"`
	Type       *agent.IntegrationType `json:"type"`
	ShopDomain *string                `json:"shop_domain"`
	APIVersion *string                `json:"api_version"`
	SiteURL    *string                `json:"site_url"`
	Credential *string                `json:"credential"`
	// CredentialSet is read-only: records carry it, writes ignore it.
	CredentialSet json.RawMessage `json:"credential_set"`
}

// createAgentBody is what POST /api/agents reads.
type createAgentBody struct {
	agentBody
	readOnly
	// A new agent is active: a clone of an inactive one is too, like
	// a clone's other read-only fields.
	Status json.RawMessage `json:"status"`
}

func (h *Handler) createAgent(c *call) (outcome, error) {
	var b createAgentBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	in := commands.CreateAgent{
		CompanyID: deref(b.CompanyID), Name: deref(b.Name), Description: deref(b.Description),
		SystemPrompt: deref(b.SystemPrompt), Model: deref(b.Model), Temperature: b.Temperature, MaxTokens: b.MaxTokens,
	}
	if b.Integrations != nil {
		// A clone's integration ids name another agent's integrations:
		// a new agent's integrations are new ones, with new ids.
		list := make([]integrationBody, len(*b.Integrations))
		for i, it := range *b.Integrations {
			it.ID = nil
			list[i] = it
		}
		var err error
		if in.Integrations, err = h.sealIntegrations(list); err != nil {
			return outcome{}, err
		}
	}
	res, err := h.app.CreateAgent(c.r.Context(), c.meta, in)
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateAgentBody is what PUT /api/agents/{id} reads.
type updateAgentBody struct {
	agentBody
	recordFields
	Status *agent.Status `json:"status"`
}

// updateAgent takes the whole record back. Unlike a company's or a
// campaign's, an agent's status may change here too (active or inactive,
// in the same append as the other changes), since it is a plain setting
// with no lifecycle rules; the actions remain for a one-click switch.
func (h *Handler) updateAgent(c *call) (outcome, error) {
	var b updateAgentBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	in := commands.UpdateAgent{
		UpdateCmd: agent.UpdateCmd{
			Name: b.Name, Description: b.Description, SystemPrompt: b.SystemPrompt, Model: b.Model,
			Temperature: b.Temperature, MaxTokens: b.MaxTokens,
		},
		Status: b.Status,
		Fixed:  commands.Fixed{"company_id": b.CompanyID},
	}
	if b.Integrations != nil {
		list, err := h.sealIntegrations(*b.Integrations)
		if err != nil {
			return outcome{}, err
		}
		in.Integrations = &list
	}
	return done(h.app.UpdateAgent(c.r.Context(), c.meta, c.id, in))
}

func (h *Handler) deleteAgent(c *call) (outcome, error) {
	return h.deleteWith(c, resource.Agents.Name, func(ctx context.Context, m commands.Meta, id string) (commands.Result, error) {
		return h.app.DeleteAgent(ctx, m, id, nil) // If-Match reaches it as m.IfRevision
	})
}

func (h *Handler) activateAgent(ctx context.Context, m commands.Meta, id string) (commands.Result, error) {
	return h.app.ActivateAgent(ctx, m, id, nil)
}

func (h *Handler) deactivateAgent(ctx context.Context, m commands.Meta, id string) (commands.Result, error) {
	return h.app.DeactivateAgent(ctx, m, id, nil)
}

// sealIntegrations turns the integrations of a request into command
// input, each credential sent in clear sealed; the domain validates the
// rest.
func (h *Handler) sealIntegrations(in []integrationBody) ([]agent.IntegrationInput, error) {
	out := make([]agent.IntegrationInput, len(in))
	for i, it := range in {
		sealed, err := commands.SealCredential(h.sealer, it.Credential)
		if err != nil {
			// The cause names no credential; the mapping logs it once.
			return nil, err
		}
		out[i] = agent.IntegrationInput{
			ID: deref(it.ID), Type: deref(it.Type), ShopDomain: deref(it.ShopDomain),
			APIVersion: deref(it.APIVersion), SiteURL: deref(it.SiteURL), Credential: sealed,
		}
	}
	return out, nil
}

// startSync serves POST /api/agents/{id}/integrations/{type}/sync: it
// starts a knowledge sync of the agent's integration of that type and
// answers 202 with the new run's record (sync_runs), which the syncs
// reaction then works through. A body is optional; if sent, it must be
// an empty object.
func (h *Handler) startSync(c *call) (outcome, error) {
	if len(bytes.TrimSpace(c.body)) > 0 {
		var b emptyBody
		if err := c.decode(&b); err != nil {
			return outcome{}, err
		}
	}
	res, err := h.app.StartSync(c.r.Context(), c.meta, c.id, agent.IntegrationType(chi.URLParam(c.r, "type")))
	return outcome{res: res, status: http.StatusAccepted}, err
}
