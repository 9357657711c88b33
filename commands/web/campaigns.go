package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/campaign"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
)

// Campaigns
//
//	POST   /api/campaigns                        create (a draft)
//	PUT    /api/campaigns/{id}                   edit; the status is read-only here
//	DELETE /api/campaigns/{id}
//	POST   /api/campaigns/{id}/status            {status}: schedule, activate, pause, complete, archive
//
// Content items (resource campaign_content, read at /api/campaign_content)
//
//	POST   /api/campaigns/{id}/content           {title, body} → 201, the new item
//	POST   /api/campaign_content                 {campaign_id, title, body} → 201 (React Admin's create)
//	PUT    /api/campaigns/{campaign_id}/content/{id}           {title, body}
//	DELETE /api/campaigns/{campaign_id}/content/{id}
//	POST   /api/campaigns/{campaign_id}/content/{id}/approve
//	POST   /api/campaigns/{campaign_id}/content/{id}/publish
//
// An item's events live in its campaign's stream and its id says nothing
// about the campaign, so a command on an item needs the campaign id. It
// comes from the URL: commands never read projections, and the event
// store cannot find a stream by item id. PUT and DELETE on
// /api/campaign_content/{id} therefore answer 405 and name the URL to use
// (a React Admin data provider maps them with the record's campaign_id).

// campaignBody is what create and update read.
type campaignBody struct {
	CompanyID   *string           `json:"company_id"`
	Name        *string           `json:"name"`
	Description *string           `json:"description"`
	AgentID     json.RawMessage   `json:"agent_id"` // a UUID or null
	Channel     *campaign.Channel `json:"channel"`
	StartsAt    json.RawMessage   `json:"starts_at"` // RFC 3339 or null
	EndsAt      json.RawMessage   `json:"ends_at"`
}

// campaignReadOnly are the fields of a campaign record no write sets
// directly; the status changes through POST …/status only.
type campaignReadOnly struct {
	Status       json.RawMessage `json:"status"`
	ContentCount json.RawMessage `json:"content_count"`
}

// createCampaignBody is what POST /api/campaigns reads.
type createCampaignBody struct {
	campaignBody
	readOnly
	campaignReadOnly
}

func (h *Handler) createCampaign(c *call) (outcome, error) {
	var b createCampaignBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	in := commands.CreateCampaign{CompanyID: deref(b.CompanyID), Name: deref(b.Name), Description: deref(b.Description),
		Channel: deref(b.Channel)}
	var err error
	if b.AgentID != nil {
		if in.AgentID, err = optionalID(b.AgentID, "agent_id"); err != nil {
			return outcome{}, err
		}
	}
	if in.StartsAt, err = optionalTime(b.StartsAt, "starts_at"); err != nil {
		return outcome{}, err
	}
	if in.EndsAt, err = optionalTime(b.EndsAt, "ends_at"); err != nil {
		return outcome{}, err
	}
	res, err := h.app.CreateCampaign(c.r.Context(), c.meta, in)
	if err != nil {
		return outcome{}, err
	}
	return created(res)
}

// updateCampaignBody is what PUT /api/campaigns/{id} reads.
type updateCampaignBody struct {
	campaignBody
	recordFields
	campaignReadOnly
}

func (h *Handler) updateCampaign(c *call) (outcome, error) {
	var b updateCampaignBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	in := commands.UpdateCampaign{
		UpdateCmd: campaign.UpdateCmd{Name: b.Name, Description: b.Description, Channel: b.Channel},
		Fixed:     commands.Fixed{"company_id": b.CompanyID},
	}
	if b.AgentID != nil {
		a, err := optionalID(b.AgentID, "agent_id")
		if err != nil {
			return outcome{}, err
		}
		in.AgentID = &a
	}
	for _, f := range []struct {
		raw   json.RawMessage
		name  string
		field ***time.Time
	}{{b.StartsAt, "starts_at", &in.StartsAt}, {b.EndsAt, "ends_at", &in.EndsAt}} {
		if f.raw == nil {
			continue // left out: unchanged
		}
		t, err := optionalTime(f.raw, f.name)
		if err != nil {
			return outcome{}, err
		}
		*f.field = &t
	}
	return done(h.app.UpdateCampaign(c.r.Context(), c.meta, c.id, in))
}

// deleteCampaign deletes the campaign and, with it, its content items:
// the answer waits until the items are gone from their list too.
func (h *Handler) deleteCampaign(c *call) (outcome, error) {
	out, err := h.deleteWith(c, resource.Campaigns.Name, func(ctx context.Context, m commands.Meta, id string) (commands.Result, error) {
		return h.app.DeleteCampaign(ctx, m, id, nil) // If-Match reaches it as m.IfRevision
	})
	if err != nil {
		return outcome{}, err
	}
	return out, h.records.Await(c.r.Context(), resource.CampaignContent.Name, out.res.Position)
}

// campaignStatusBody is what POST /api/campaigns/{id}/status reads.
type campaignStatusBody struct {
	Status *campaign.Status `json:"status"`
}

func (h *Handler) campaignStatus(c *call) (outcome, error) {
	var b campaignStatusBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if b.Status == nil {
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"status": "is required"}}
	}
	return done(h.app.ChangeCampaignStatus(c.r.Context(), c.meta, c.id, commands.ChangeCampaignStatus{To: *b.Status}))
}

// --- content items ---

// contentReadOnly are the fields of a content item record no write sets
// directly.
type contentReadOnly struct {
	Status   json.RawMessage `json:"status"`
	AuthorID json.RawMessage `json:"author_id"`
}

// contentBody is what adding and editing an item read.
type contentBody struct {
	CampaignID *string `json:"campaign_id"`
	// CompanyID is the campaign's: sent back, it must be that one.
	CompanyID *string `json:"company_id"`
	Title     *string `json:"title"`
	Body      *string `json:"body"`
}

// addContentBody is what adding a content item reads.
type addContentBody struct {
	contentBody
	readOnly
	contentReadOnly
}

// addContent serves both POST /api/campaigns/{id}/content and POST
// /api/campaign_content (campaign_id in the body). A record read back
// may be posted again (Clone): its read-only fields are ignored.
func (h *Handler) addContent(c *call) (outcome, error) {
	var b addContentBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	campaignID := c.id
	switch {
	case campaignID == "" && b.CampaignID == nil:
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"campaign_id": "is required"}}
	case campaignID == "":
		campaignID = *b.CampaignID
		if !domain.ValidID(campaignID) {
			return outcome{}, &domain.ValidationError{Fields: map[string]string{"campaign_id": "must be a UUID"}}
		}
	case b.CampaignID != nil && *b.CampaignID != campaignID:
		return outcome{}, &domain.ValidationError{Fields: map[string]string{"campaign_id": "does not match the URL"}}
	}
	res, err := h.app.AddCampaignContent(c.r.Context(), c.meta, campaignID, commands.AddCampaignContent{
		Title: deref(b.Title), Body: deref(b.Body), CompanyID: b.CompanyID})
	if err != nil {
		return outcome{}, err
	}
	out := contentOutcome(campaignID, res)
	out.status = http.StatusCreated
	return out, nil
}

// editContentBody is what editing a content item reads.
type editContentBody struct {
	contentBody
	recordFields
	contentReadOnly
}

// editContent serves PUT /api/campaigns/{campaign_id}/content/{id}; the
// record's revision (or If-Match) is the item's, as the command reads it.
func (h *Handler) editContent(c *call) (outcome, error) {
	var b editContentBody
	if err := c.decode(&b); err != nil {
		return outcome{}, err
	}
	if err := b.checkID(c.id); err != nil {
		return outcome{}, err
	}
	campaignID := chi.URLParam(c.r, "campaign_id")
	res, err := h.app.EditCampaignContent(c.r.Context(), c.meta, campaignID, c.id, commands.EditCampaignContent{
		Title: b.Title, Body: b.Body, Fixed: commands.Fixed{"campaign_id": b.CampaignID, "company_id": b.CompanyID}})
	if err != nil {
		return outcome{}, err
	}
	return contentOutcome(campaignID, res), nil
}

// contentAction is approve or publish, which take no input: the body is
// empty or an empty object.
func (h *Handler) contentAction(fn func(ctx context.Context, m commands.Meta, campaignID, itemID string, expected *uint64) (commands.Result, error)) func(c *call) (outcome, error) {
	return func(c *call) (outcome, error) {
		if len(bytes.TrimSpace(c.body)) > 0 {
			var empty emptyBody
			if err := c.decode(&empty); err != nil {
				return outcome{}, err
			}
		}
		campaignID := chi.URLParam(c.r, "campaign_id")
		res, err := fn(c.r.Context(), c.meta, campaignID, c.id, nil)
		if err != nil {
			return outcome{}, err
		}
		return contentOutcome(campaignID, res), nil
	}
}

// removeContent answers with the item as it was just before.
func (h *Handler) removeContent(c *call) (outcome, error) {
	ctx := c.r.Context()
	campaignID := chi.URLParam(c.r, "campaign_id")
	before, err := h.records.Record(ctx, c.meta.Principal, resource.CampaignContent.Name, c.id, eventstore.Start)
	if err != nil {
		return outcome{}, err
	}
	res, err := h.app.RemoveCampaignContent(ctx, c.meta, campaignID, c.id, nil)
	if err != nil {
		return outcome{}, err
	}
	// The run waits for the campaign's views (its content count); the
	// item's list must not show it either when the answer arrives.
	if err := h.records.Await(ctx, resource.CampaignContent.Name, res.Position); err != nil {
		return outcome{}, err
	}
	out := contentOutcome(campaignID, res)
	out.snapshot = before
	return out, nil
}

// contentOutcome renders the result of a content item command. The
// command names the item (Result.ID); the answer is the item record,
// reached as the campaign's child, so that the write waits for the
// campaign's views too and, when the command recorded nothing, for the
// campaign record's revision, which is its stream's (an item's own
// revision is older whenever another item changed since).
func contentOutcome(campaignID string, res commands.Result) outcome {
	res.ChildID, res.ID = res.ID, campaignID
	return outcome{res: res, child: resource.CampaignContent.Name}
}

// contentMoved answers PUT and DELETE on /api/campaign_content/{id}: see
// the comment at the top of this file.
func (h *Handler) contentMoved(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET")
	h.writeErr(w, r, &requestError{status: http.StatusMethodNotAllowed,
		msg: "content items are changed under their campaign: " + r.Method + " /api/campaigns/{campaign_id}/content/{id}"})
}

// optionalTime reads an RFC 3339 time or null (nil).
func optionalTime(raw json.RawMessage, field string) (*time.Time, error) {
	if raw == nil {
		return nil, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &requestError{status: http.StatusBadRequest, msg: "field " + field + " must be a string or null", fields: map[string]string{field: "must be a string or null"}}
	}
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, &domain.ValidationError{Fields: map[string]string{field: "must be an RFC 3339 time such as 2025-01-31T09:00:00Z, or null"}}
	}
	return &t, nil
}
