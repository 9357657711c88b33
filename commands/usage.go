package commands

import (
	"context"

	"agentdesk/domain"
	"agentdesk/domain/usage"
)

// RecordUsage is the input of RecordUsage: what one model call cost.
// Who made it, and for which company, is the principal's.
type RecordUsage struct {
	// AgentID is the agent the call was made for; "" for none (a
	// completion). The caller vouches that it is an agent of the
	// principal's company.
	AgentID string
	Model   string
	Kind    usage.Kind
	// Tokens as the provider reported them.
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// RecordUsage records what a model call of the principal cost, as a
// usage record of its own: its actor is the caller, so that the audit
// trail shows who spent the tokens, and its company the caller's (none
// for a superadmin), against which they count. Whoever may ask for
// completions may record (domain.CanComplete), platform processes
// (domain.System) included. A call that cost no tokens records nothing.
func (a *App) RecordUsage(ctx context.Context, m Meta, in RecordUsage) (Result, error) {
	p := m.Principal
	if !domain.CanComplete(p) {
		return Result{}, domain.ErrForbidden
	}
	id := newID(m, "usage")
	cmd := usage.RecordCmd{CompanyID: p.CompanyID, UserID: p.UserID, AgentID: in.AgentID, Model: in.Model, Kind: in.Kind,
		PromptTokens: in.PromptTokens, CompletionTokens: in.CompletionTokens, TotalTokens: in.TotalTokens}
	return create(ctx, a, m, usage.Events, usage.Stream(id), id,
		func(r *usage.Record) (string, []domain.Event, error) {
			evs, err := r.Record(cmd)
			return p.CompanyID, evs, err
		})
}
