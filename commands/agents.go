package commands

import (
	"context"
	"fmt"
	"strconv"

	"agentdesk/domain"
	"agentdesk/domain/agent"
)

// Sealer seals (encrypts) integration credentials for storage; only the
// process that runs the integrations can open them again. The HTTP layer
// holds one and seals every credential it receives, with SealCredential,
// before it calls an agent command: commands and the domain only ever see
// sealed credentials, so none reaches the event log in clear. Seal may
// return a different value for the same plaintext each time (a fresh
// nonce). Implementations must be safe for concurrent use.
type Sealer interface {
	Seal(plaintext string) (string, error)
}

// SealCredential seals a credential sent in clear for an agent command's
// integration: nil stays nil (keep the stored credential) and "" stays ""
// (remove it).
func SealCredential(s Sealer, plaintext *string) (*agent.Sealed, error) {
	if plaintext == nil {
		return nil, nil
	}
	if *plaintext == "" {
		sealed := agent.Sealed("")
		return &sealed, nil
	}
	v, err := s.Seal(*plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal credential: %w", err)
	}
	sealed := agent.Sealed(v)
	return &sealed, nil
}

// CreateAgent is the input of the CreateAgent command.
type CreateAgent struct {
	// CompanyID is only read for a superadmin; everyone else creates
	// agents in their own company.
	CompanyID    string
	Name         string
	Description  string
	SystemPrompt string
	Model        string
	// Temperature and MaxTokens take the domain's defaults when nil.
	Temperature *float64
	MaxTokens   *int
	// Integrations carry sealed credentials (see Sealer); an integration
	// without an ID is given one.
	Integrations []agent.IntegrationInput
}

// CreateAgent creates an agent, active.
func (a *App) CreateAgent(ctx context.Context, m Meta, in CreateAgent) (Result, error) {
	companyID, err := a.companyForCreate(ctx, m.Principal, in.CompanyID, func(companyID string) bool {
		return domain.CanAgent(m.Principal, domain.Create, domain.AgentRef{CompanyID: companyID, Active: true})
	})
	if err != nil {
		return Result{}, err
	}
	id := newID(m, "agent")
	integrations := withIntegrationIDs(m, in.Integrations)
	return create(ctx, a, m, agent.Events, agent.Stream(id), id,
		func(ag *agent.Agent) (string, []domain.Event, error) {
			evs, err := ag.Create(agent.CreateCmd{
				AgentID: id, CompanyID: companyID, Name: in.Name, Description: in.Description,
				SystemPrompt: in.SystemPrompt, Model: in.Model, Temperature: in.Temperature, MaxTokens: in.MaxTokens,
				Integrations: integrations,
			})
			return companyID, evs, err
		})
}

// UpdateAgent is the input of UpdateAgent; nil fields stay as they are.
// Integrations, when set, replace the whole list and carry sealed
// credentials (see Sealer); an integration without an ID is a new one and
// is given an ID.
type UpdateAgent struct {
	agent.UpdateCmd
	// Status, when set, activates or deactivates the agent in the same
	// append.
	Status *agent.Status
	// ExpectedRevision, when set, is the agent's revision the caller
	// edited; if the agent has changed since, nothing is written and the
	// error is a domain.ErrConflict. Meta.IfRevision does the same.
	ExpectedRevision *uint64
	// Fixed holds company_id as sent back; changing it is a validation
	// error.
	Fixed Fixed
}

// UpdateAgent changes an agent's settings, integrations and status: one
// request, one atomic change.
func (a *App) UpdateAgent(ctx context.Context, m Meta, id string, in UpdateAgent) (Result, error) {
	cmd := in.UpdateCmd
	if cmd.Integrations != nil {
		list := withIntegrationIDs(m, *cmd.Integrations)
		cmd.Integrations = &list
	}
	return a.onAgent(ctx, m, id, domain.Update, in.ExpectedRevision, func(ag *agent.Agent) ([]domain.Event, error) {
		if err := in.Fixed.check(func(string) string { return ag.CompanyID }); err != nil {
			return nil, err
		}
		evs, err := ag.Update(cmd)
		if err != nil || in.Status == nil || *in.Status == ag.Status {
			return evs, err
		}
		var status []domain.Event
		switch *in.Status {
		case agent.Active:
			status, err = ag.Activate()
		case agent.Inactive:
			status, err = ag.Deactivate()
		default:
			return nil, &domain.ValidationError{Fields: map[string]string{"status": "must be one of active, inactive"}}
		}
		if err != nil {
			return nil, err
		}
		if !domain.CanAgent(m.Principal, domain.Status, ag.Ref()) {
			return nil, domain.ErrForbidden
		}
		return append(evs, status...), nil
	})
}

// ActivateAgent puts an agent back in service; expected is an optional
// expected revision, as in UpdateAgent.
func (a *App) ActivateAgent(ctx context.Context, m Meta, id string, expected *uint64) (Result, error) {
	return a.onAgent(ctx, m, id, domain.Status, expected, (*agent.Agent).Activate)
}

// DeactivateAgent takes an agent out of service; expected is an optional
// expected revision, as in UpdateAgent.
func (a *App) DeactivateAgent(ctx context.Context, m Meta, id string, expected *uint64) (Result, error) {
	return a.onAgent(ctx, m, id, domain.Status, expected, (*agent.Agent).Deactivate)
}

// DeleteAgent deletes an agent, its history stays; expected is an
// optional expected revision, as in UpdateAgent. Campaigns and knowledge
// chunks that name it keep the reference.
func (a *App) DeleteAgent(ctx context.Context, m Meta, id string, expected *uint64) (Result, error) {
	return a.onAgent(ctx, m, id, domain.Delete, expected, (*agent.Agent).Delete)
}

// onAgent runs a command on an existing agent the actor can see; an agent
// of another company, or an inactive one for a client, is not found.
func (a *App) onAgent(ctx context.Context, m Meta, id string, act domain.Action, expected *uint64, decide func(*agent.Agent) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, agent.Events, agent.Stream(id), id,
		func(ag *agent.Agent) (string, []domain.Event, error) {
			if !ag.Exists() || !domain.CanAgent(m.Principal, domain.Read, ag.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanAgent(m.Principal, act, ag.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			if err := checkRevision(expected, ag.Version-1); err != nil {
				return "", nil, err
			}
			evs, err := decide(ag)
			return ag.CompanyID, evs, err
		})
}

// withIntegrationIDs returns in with an id given to each integration that
// has none, derived from the command id when there is one so that a retry
// names the same integrations.
func withIntegrationIDs(m Meta, in []agent.IntegrationInput) []agent.IntegrationInput {
	out := make([]agent.IntegrationInput, len(in))
	for i, it := range in {
		if it.ID == "" {
			it.ID = newID(m, "agent/integration/"+strconv.Itoa(i))
		}
		out[i] = it
	}
	return out
}

// checkAgent verifies that agentID is a live agent of companyID; field
// names the input for the validation message. An inactive agent counts:
// it can be activated again.
func (a *App) checkAgent(ctx context.Context, companyID, agentID, field string) error {
	if !domain.ValidID(agentID) {
		return &domain.ValidationError{Fields: map[string]string{field: "must be a UUID"}}
	}
	l, err := load[agent.Agent](ctx, a, agent.Events, agent.Stream(agentID))
	if err != nil {
		return err
	}
	if !l.state.Exists() || l.state.CompanyID != companyID {
		return &domain.ValidationError{Fields: map[string]string{field: "no such agent in this company"}}
	}
	return nil
}

// checkRevision implements a command's optional expected revision: when
// expected is set and differs from current, the revision the target is
// at, the target changed since the caller read it and the command fails
// with a domain.ErrConflict.
func checkRevision(expected *uint64, current uint64) error {
	if expected == nil || *expected == current {
		return nil
	}
	return fmt.Errorf("%w: changed by someone else (revision %d, you sent %d)", domain.ErrConflict, current, *expected)
}

// companyForCreate returns the company a create targets: the actor's own,
// or for a superadmin the requested one, which must exist. allowed tells
// whether the actor may create in that company.
func (a *App) companyForCreate(ctx context.Context, p domain.Principal, requested string, allowed func(companyID string) bool) (string, error) {
	companyID, err := scopedCompany(p, requested)
	if err != nil {
		return "", err
	}
	if !allowed(companyID) {
		return "", domain.ErrForbidden
	}
	if p.IsSuperadmin() {
		ok, err := a.companyExists(ctx, companyID)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &domain.ValidationError{Fields: map[string]string{"company_id": "no such company"}}
		}
	}
	return companyID, nil
}
