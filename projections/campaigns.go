package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"agentdesk/domain"
	"agentdesk/domain/campaign"
	"agentdesk/domain/resource"
	"agentdesk/eventstore"
	"agentdesk/readstore"
)

// Names of the campaign read models (and of their projections).
var (
	Campaigns = resource.Campaigns.CollectionName()
	// CampaignContent holds one document per content item, found by
	// campaign: a child record is its own document.
	CampaignContent = resource.CampaignContent.CollectionName()
)

// Campaign is a document of the campaigns read model.
type Campaign struct {
	ID          string     `json:"id"`
	CompanyID   string     `json:"company_id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	AgentID     *string    `json:"agent_id"`
	Channel     string     `json:"channel"`
	Status      string     `json:"status"`
	StartsAt    *time.Time `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	// ContentCount is the number of live content items: added minus
	// removed.
	ContentCount int       `json:"content_count"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Revision is the campaign stream's revision of its last event, of
	// any kind, content events included: a PUT's expected revision is
	// checked against the stream.
	Revision uint64 `json:"revision"`
}

// CampaignsProjector builds the campaigns read model.
func CampaignsProjector() Projector {
	return &Def[Campaign]{
		ProjectionName: Campaigns,
		Spec:           collectionOf(resource.Campaigns),
		Categories:     []string{campaign.Category},
		DocID:          streamID(campaign.Category),
		Creates:        []string{campaign.TypeCreated},
		Project:        projectCampaign,
	}
}

func projectCampaign(ev eventstore.RecordedEvent, cur *Campaign) (*Campaign, error) {
	e, err := decode(campaign.Events, ev)
	if err != nil {
		return nil, err
	}
	at := ev.Metadata.RecordedAt
	switch e := e.(type) {
	case *campaign.Created:
		return &Campaign{
			ID: e.CampaignID, CompanyID: e.CompanyID, Name: e.Name, Description: e.Description,
			AgentID: optional(e.AgentID), Channel: string(e.Channel), Status: string(campaign.Draft),
			StartsAt: e.StartsAt, EndsAt: e.EndsAt, CreatedAt: at, UpdatedAt: at, Revision: ev.Revision,
		}, nil
	case *campaign.Deleted:
		return nil, nil
	}
	if cur == nil {
		// The campaign is gone: this is a batch cut short after its
		// deletion landed and applied again (readstore.Batch), so it
		// stays gone.
		return nil, nil
	}
	next := *cur
	// Every event moves the revision; only changes to the campaign's own
	// fields move updated_at. Content events change content_count at
	// most: each item is a record of its own with its own updated_at.
	next.Revision = ev.Revision
	switch e := e.(type) {
	case *campaign.Updated:
		if e.Name != nil {
			next.Name = *e.Name
		}
		if e.Description != nil {
			next.Description = *e.Description
		}
		if e.AgentID != nil {
			next.AgentID = optional(*e.AgentID)
		}
		if e.Channel != nil {
			next.Channel = string(*e.Channel)
		}
		if e.Window != nil {
			next.StartsAt, next.EndsAt = e.Window.StartsAt, e.Window.EndsAt
		}
		next.UpdatedAt = at
	case *campaign.StatusChanged:
		next.Status, next.UpdatedAt = string(e.To), at
	case *campaign.ContentAdded:
		next.ContentCount++
	case *campaign.ContentRemoved:
		next.ContentCount--
	case *campaign.ContentEdited, *campaign.ContentApproved, *campaign.ContentPublished:
	default:
		return nil, fmt.Errorf("unexpected campaign event %s", ev.Type)
	}
	return &next, nil
}

// optional is s, or nil when s is empty (not set).
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ContentItem is a document of the campaign_content read model: one
// content item of a campaign.
type ContentItem struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	CompanyID  string    `json:"company_id"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Status     string    `json:"status"`
	AuthorID   string    `json:"author_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Revision is the campaign stream's revision of the last event about
	// this item, which content commands check an item's expected
	// revision against (campaign.Item.Revision).
	Revision uint64 `json:"revision"`
}

// contentProjector keeps one document per campaign content item. It is
// not a Def (one document per stream): items live in their campaign's
// stream, each event names its item, and a campaign's deletion deletes
// all of its items.
type contentProjector struct{}

// CampaignContentProjector builds the campaign_content read model.
func CampaignContentProjector() Projector { return contentProjector{} }

// Name implements Projector.
func (contentProjector) Name() string { return CampaignContent }

// Version implements Projector.
func (contentProjector) Version() int { return 1 }

// Collection implements Projector.
func (contentProjector) Collection() readstore.Collection {
	return collectionOf(resource.CampaignContent)
}

// Document returns an empty content item, as Def.Document does.
func (contentProjector) Document() any { return new(ContentItem) }

// Filter implements Projector: only content events and deletions are read.
func (contentProjector) Filter() eventstore.Filter {
	return eventstore.Filter{Categories: []string{campaign.Category}, Types: []string{
		campaign.TypeContentAdded, campaign.TypeContentEdited, campaign.TypeContentApproved,
		campaign.TypeContentPublished, campaign.TypeContentRemoved, campaign.TypeDeleted,
	}}
}

// itemSlot is a content item while a batch is folded.
type itemSlot struct {
	campaignID string
	doc        *ContentItem
	version    string          // the stored version: a position key
	stored     json.RawMessage // the stored document, when it was loaded
	touched    bool
}

// itemID returns the id of the content item e is about, or "" if none.
func itemID(e domain.Event) string {
	switch e := e.(type) {
	case *campaign.ContentAdded:
		return e.ItemID
	case *campaign.ContentEdited:
		return e.ItemID
	case *campaign.ContentApproved:
		return e.ItemID
	case *campaign.ContentPublished:
		return e.ItemID
	case *campaign.ContentRemoved:
		return e.ItemID
	}
	return ""
}

// Fold implements Projector, as Def.Fold does for one document per item:
// the items a batch changes are loaded (except those it adds), events at
// or below an item's version are skipped, and each changed item is
// written once. A campaign's deletion tombstones every item of the
// campaign, those stored and those added earlier in the same batch.
func (contentProjector) Fold(ctx context.Context, rs readstore.Store, events []eventstore.RecordedEvent) ([]readstore.Write, error) {
	decoded := make([]domain.Event, len(events))
	slots := make(map[string]*itemSlot, len(events))
	var order, missing []string
	for i, ev := range events {
		e, err := decode(campaign.Events, ev)
		if err != nil {
			return nil, eventError(ev, err)
		}
		decoded[i] = e
		id := itemID(e)
		if id == "" {
			continue
		}
		if _, ok := slots[id]; !ok {
			slots[id] = &itemSlot{campaignID: campaignOf(ev)}
			order = append(order, id)
			if ev.Type != campaign.TypeContentAdded {
				missing = append(missing, id)
			}
		}
	}
	for len(missing) > 0 {
		chunk := missing[:min(len(missing), maxInIDs)]
		missing = missing[len(chunk):]
		docs, _, err := rs.Query(ctx, CampaignContent, readstore.Query{Where: []readstore.Condition{{Field: "id", Op: readstore.In, Value: chunk}}})
		if err != nil {
			return nil, fmt.Errorf("load content items: %w", err)
		}
		for _, d := range docs {
			var item ContentItem
			if err := json.Unmarshal(d.Data, &item); err != nil {
				return nil, fmt.Errorf("decode content item %s: %w", d.ID, err)
			}
			s := slots[d.ID]
			s.doc, s.version, s.stored = &item, d.Version, d.Data
		}
	}
	for i, ev := range events {
		key := ev.Position.Key()
		if _, ok := decoded[i].(*campaign.Deleted); ok {
			campaignID := campaignOf(ev)
			stored, err := campaignItems(ctx, rs, campaignID)
			if err != nil {
				return nil, err
			}
			for _, d := range stored {
				if _, ok := slots[d.ID]; !ok {
					slots[d.ID] = &itemSlot{campaignID: campaignID, version: d.Version}
					order = append(order, d.ID)
				}
			}
			for _, id := range order {
				if s := slots[id]; s.campaignID == campaignID && key > s.version {
					s.doc, s.version, s.touched = nil, key, true
				}
			}
			continue
		}
		s := slots[itemID(decoded[i])]
		if key <= s.version {
			continue
		}
		next, err := projectItem(ev, decoded[i], s)
		if err != nil {
			return nil, eventError(ev, err)
		}
		s.doc, s.version, s.touched = next, key, true
	}
	writes := make([]readstore.Write, 0, len(order))
	for _, id := range order {
		s := slots[id]
		if !s.touched {
			continue
		}
		w := readstore.Write{Collection: CampaignContent, Doc: readstore.Doc{ID: id, Version: s.version}, Created: s.stored == nil && s.doc != nil}
		if s.doc == nil {
			w.Delete, w.Doc.Data = true, s.stored
		} else {
			raw, err := json.Marshal(s.doc)
			if err != nil {
				return nil, fmt.Errorf("encode content item %s: %w", id, err)
			}
			w.Doc.Data = raw
		}
		writes = append(writes, w)
	}
	return writes, nil
}

// projectItem returns the item in s after e, recorded as ev, or nil if
// the item is gone.
func projectItem(ev eventstore.RecordedEvent, e domain.Event, s *itemSlot) (*ContentItem, error) {
	at := ev.Metadata.RecordedAt
	if a, ok := e.(*campaign.ContentAdded); ok {
		return &ContentItem{
			ID: a.ItemID, CampaignID: s.campaignID, CompanyID: ev.Metadata.CompanyID, Title: a.Title, Body: a.Body,
			Status: string(campaign.ItemDraft), AuthorID: a.AuthorID, CreatedAt: at, UpdatedAt: at, Revision: ev.Revision,
		}, nil
	}
	if s.doc == nil {
		// The item is gone (removed, or its campaign deleted): this is a
		// batch cut short after the tombstone landed and applied again
		// (readstore.Batch), so it stays gone.
		return nil, nil
	}
	next := *s.doc
	switch e := e.(type) {
	case *campaign.ContentEdited:
		if e.Title != nil {
			next.Title = *e.Title
		}
		if e.Body != nil {
			next.Body = *e.Body
		}
		next.Status = string(campaign.ItemDraft)
	case *campaign.ContentApproved:
		next.Status = string(campaign.ItemApproved)
	case *campaign.ContentPublished:
		next.Status = string(campaign.ItemPublished)
	case *campaign.ContentRemoved:
		return nil, nil
	default:
		return nil, fmt.Errorf("unexpected content event %s", ev.Type)
	}
	next.UpdatedAt, next.Revision = at, ev.Revision
	return &next, nil
}

// campaignItems returns the ids and versions of a campaign's stored
// items.
func campaignItems(ctx context.Context, rs readstore.Store, campaignID string) ([]readstore.Doc, error) {
	return children(ctx, rs, CampaignContent, "campaign_id", campaignID, "created_at")
}

// campaignOf returns the id of the campaign whose stream holds ev.
func campaignOf(ev eventstore.RecordedEvent) string {
	return streamID(campaign.Category)(ev)
}
