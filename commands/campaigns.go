package commands

import (
	"context"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/campaign"
)

// CreateCampaign is the input of the CreateCampaign command.
type CreateCampaign struct {
	// CompanyID is only read for a superadmin; everyone else creates
	// campaigns in their own company.
	CompanyID   string
	Name        string
	Description string
	// AgentID, optional until the campaign is scheduled, must name an
	// agent of the company.
	AgentID  string
	Channel  campaign.Channel
	StartsAt *time.Time
	EndsAt   *time.Time
}

// CreateCampaign creates a campaign, as a draft.
func (a *App) CreateCampaign(ctx context.Context, m Meta, in CreateCampaign) (Result, error) {
	companyID, err := a.companyForCreate(ctx, m.Principal, in.CompanyID, func(companyID string) bool {
		return domain.CanCampaign(m.Principal, domain.Create, domain.CampaignRef{CompanyID: companyID})
	})
	if err != nil {
		return Result{}, err
	}
	id := newID(m, "campaign")
	cmd := campaign.CreateCmd{
		CampaignID: id, CompanyID: companyID, Name: in.Name, Description: in.Description,
		AgentID: in.AgentID, Channel: in.Channel, StartsAt: in.StartsAt, EndsAt: in.EndsAt,
	}
	// Validate before looking the agent up, so that every problem of the
	// input is reported at once.
	var probe campaign.Campaign
	if _, err := probe.Create(cmd); err != nil {
		return Result{}, err
	}
	if in.AgentID != "" {
		if err := a.checkAgent(ctx, companyID, in.AgentID, "agent_id"); err != nil {
			return Result{}, err
		}
	}
	return create(ctx, a, m, campaign.Events, campaign.Stream(id), id,
		func(c *campaign.Campaign) (string, []domain.Event, error) {
			evs, err := c.Create(cmd)
			return companyID, evs, err
		})
}

// UpdateCampaign is the input of UpdateCampaign; nil fields stay as they
// are. A new agent must be an agent of the campaign's company.
type UpdateCampaign struct {
	campaign.UpdateCmd
	// ExpectedRevision, when set, is the campaign's revision the caller
	// edited; if the campaign has changed since, nothing is written and
	// the error is a domain.ErrConflict. Meta.IfRevision does the same.
	ExpectedRevision *uint64
	// Fixed holds company_id as sent back; changing it is a validation
	// error. The status changes through ChangeCampaignStatus only.
	Fixed Fixed
}

// UpdateCampaign edits a campaign (while draft, scheduled or paused).
func (a *App) UpdateCampaign(ctx context.Context, m Meta, id string, in UpdateCampaign) (Result, error) {
	return a.onCampaign(ctx, m, id, id, domain.Update, in.ExpectedRevision, func(c *campaign.Campaign) ([]domain.Event, error) {
		if err := in.Fixed.check(func(string) string { return c.CompanyID }); err != nil {
			return nil, err
		}
		evs, err := c.Update(in.UpdateCmd)
		if err == nil && in.AgentID != nil && *in.AgentID != "" && *in.AgentID != c.AgentID {
			if err := a.checkAgent(ctx, c.CompanyID, *in.AgentID, "agent_id"); err != nil {
				return nil, err
			}
		}
		return evs, err
	})
}

// ChangeCampaignStatus is the input of ChangeCampaignStatus.
type ChangeCampaignStatus struct {
	To campaign.Status
	// ExpectedRevision is optional, as in UpdateCampaign.
	ExpectedRevision *uint64
}

// ChangeCampaignStatus moves a campaign along its lifecycle. Scheduling
// also checks that the campaign's agent is still there.
func (a *App) ChangeCampaignStatus(ctx context.Context, m Meta, id string, in ChangeCampaignStatus) (Result, error) {
	return a.onCampaign(ctx, m, id, id, domain.Status, in.ExpectedRevision, func(c *campaign.Campaign) ([]domain.Event, error) {
		evs, err := c.ChangeStatus(in.To, a.now())
		if err == nil && len(evs) > 0 && in.To == campaign.Scheduled {
			if err := a.checkAgent(ctx, c.CompanyID, c.AgentID, "agent_id"); err != nil {
				return nil, err
			}
		}
		return evs, err
	})
}

// DeleteCampaign deletes a campaign with its content items, in any status;
// its history stays. expected is an optional expected revision, as in
// UpdateCampaign.
func (a *App) DeleteCampaign(ctx context.Context, m Meta, id string, expected *uint64) (Result, error) {
	return a.onCampaign(ctx, m, id, id, domain.Delete, expected, (*campaign.Campaign).Delete)
}

// AddCampaignContent is the input of AddCampaignContent.
type AddCampaignContent struct {
	Title string
	Body  string
	// CompanyID, when sent (a record read back and posted again), must
	// be the campaign's company.
	CompanyID *string
}

// AddCampaignContent adds a content item by the actor to a campaign, as a
// draft. The result's ID is the new item's id. A retry under the same
// command id finds the item there and records nothing.
func (a *App) AddCampaignContent(ctx context.Context, m Meta, campaignID string, in AddCampaignContent) (Result, error) {
	itemID := newID(m, "campaign/content")
	return a.onCampaign(ctx, m, campaignID, itemID, domain.EditContent, nil, func(c *campaign.Campaign) ([]domain.Event, error) {
		if m.CommandID != "" && c.KnowsItem(itemID) {
			return nil, nil
		}
		if in.CompanyID != nil && *in.CompanyID != c.CompanyID {
			return nil, &domain.ValidationError{Fields: map[string]string{"company_id": "must be the campaign's company"}}
		}
		return c.AddContent(campaign.AddContentCmd{ItemID: itemID, AuthorID: m.Principal.UserID, Title: in.Title, Body: in.Body})
	})
}

// EditCampaignContent is the input of EditCampaignContent; nil fields stay
// as they are.
type EditCampaignContent struct {
	Title *string
	Body  *string
	// ExpectedRevision, when set, is the item's revision the caller
	// edited: the campaign stream's revision of the last event about the
	// item (see campaign.Item). Changes to other items do not conflict.
	// Meta.IfRevision, on content item commands, is read the same way.
	ExpectedRevision *uint64
	// Fixed holds campaign_id and company_id as sent back; changing
	// either is a validation error.
	Fixed Fixed
}

// EditCampaignContent edits a content item; an approved item becomes a
// draft again. The result's ID is the item's id.
func (a *App) EditCampaignContent(ctx context.Context, m Meta, campaignID, itemID string, in EditCampaignContent) (Result, error) {
	return a.onContent(ctx, m, campaignID, itemID, domain.EditContent, in.ExpectedRevision, func(c *campaign.Campaign) ([]domain.Event, error) {
		if err := in.Fixed.check(func(field string) string {
			if field == "company_id" {
				return c.CompanyID
			}
			return c.ID
		}); err != nil {
			return nil, err
		}
		return c.EditContent(campaign.EditContentCmd{ItemID: itemID, Title: in.Title, Body: in.Body})
	})
}

// ApproveCampaignContent approves a draft content item; expected is the
// item's optional expected revision, as in EditCampaignContent.
func (a *App) ApproveCampaignContent(ctx context.Context, m Meta, campaignID, itemID string, expected *uint64) (Result, error) {
	return a.onContent(ctx, m, campaignID, itemID, domain.Approve, expected, func(c *campaign.Campaign) ([]domain.Event, error) {
		return c.ApproveContent(itemID)
	})
}

// PublishCampaignContent publishes an approved content item of an active
// campaign; expected is the item's optional expected revision.
func (a *App) PublishCampaignContent(ctx context.Context, m Meta, campaignID, itemID string, expected *uint64) (Result, error) {
	return a.onContent(ctx, m, campaignID, itemID, domain.Publish, expected, func(c *campaign.Campaign) ([]domain.Event, error) {
		return c.PublishContent(itemID)
	})
}

// RemoveCampaignContent removes a content item; expected is the item's
// optional expected revision.
func (a *App) RemoveCampaignContent(ctx context.Context, m Meta, campaignID, itemID string, expected *uint64) (Result, error) {
	return a.onContent(ctx, m, campaignID, itemID, domain.Delete, expected, func(c *campaign.Campaign) ([]domain.Event, error) {
		return c.RemoveContent(itemID)
	})
}

// onContent runs a command on a content item. Its expected revisions,
// expected and m.IfRevision (the item record's revision or If-Match), are
// the item's, not the campaign stream's, so they are checked here and not
// passed on.
func (a *App) onContent(ctx context.Context, m Meta, campaignID, itemID string, act domain.Action, expected *uint64, decide func(*campaign.Campaign) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(itemID) {
		return Result{}, domain.ErrNotFound
	}
	ifRevision := m.IfRevision
	m.IfRevision = nil
	return a.onCampaign(ctx, m, campaignID, itemID, act, nil, func(c *campaign.Campaign) ([]domain.Event, error) {
		if it, ok := c.Item(itemID); ok {
			for _, want := range []*uint64{expected, ifRevision} {
				if err := checkRevision(want, it.Revision); err != nil {
					return nil, err
				}
			}
		}
		return decide(c)
	})
}

// onCampaign runs a command on an existing campaign the actor can see; a
// campaign of another company is not found, and so is any campaign for a
// client. resultID is what the result names: the campaign or a content item.
func (a *App) onCampaign(ctx context.Context, m Meta, id, resultID string, act domain.Action, expected *uint64, decide func(*campaign.Campaign) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrNotFound
	}
	return execute(ctx, a, m, campaign.Events, campaign.Stream(id), resultID,
		func(c *campaign.Campaign) (string, []domain.Event, error) {
			if !c.Exists() || !domain.CanCampaign(m.Principal, domain.Read, c.Ref()) {
				return "", nil, domain.ErrNotFound
			}
			if !domain.CanCampaign(m.Principal, act, c.Ref()) {
				return "", nil, domain.ErrForbidden
			}
			if err := checkRevision(expected, c.Version-1); err != nil {
				return "", nil, err
			}
			evs, err := decide(c)
			return c.CompanyID, evs, err
		})
}
