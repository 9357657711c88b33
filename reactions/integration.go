package reactions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"agentdesk/domain/campaign"
	"agentdesk/domain/company"
	"agentdesk/domain/ticket"
	"agentdesk/eventstore"
)

// IntegrationName names the reaction that publishes integration events.
const IntegrationName = "integration_events"

// DefaultIntegrationTopic is where integration events go unless
// configured otherwise.
const DefaultIntegrationTopic = "agentdesk_integration"

// IntegrationEvent is the outbound schema of an event for other systems:
// a CloudEvents 1.0 envelope in JSON (structured mode). Its type names
// the schema and its version, as agentdesk.ticket.assigned.v1; a change
// that is not backwards compatible gets a new version, published beside
// the old one for a while. It is never the internal event as stored.
type IntegrationEvent struct {
	SpecVersion     string          `json:"specversion"` // "1.0"
	ID              string          `json:"id"`          // the internal event's id: a consumer dedupes on it
	Source          string          `json:"source"`      // "agentdesk"
	Type            string          `json:"type"`
	Subject         string          `json:"subject"` // "<resource>/<id>"
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"` // "application/json"
	CompanyID       string          `json:"companyid"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// The data of each integration event type, version 1.
type (
	// TicketOpenedV1 is the data of agentdesk.ticket.opened.v1.
	TicketOpenedV1 struct {
		TicketID    string   `json:"ticket_id"`
		Title       string   `json:"title"`
		Priority    string   `json:"priority"`
		RequesterID string   `json:"requester_id"`
		Tags        []string `json:"tags"`
	}
	// TicketAssignedV1 is the data of agentdesk.ticket.assigned.v1.
	TicketAssignedV1 struct {
		TicketID           string `json:"ticket_id"`
		AssigneeID         string `json:"assignee_id"`
		PreviousAssigneeID string `json:"previous_assignee_id,omitempty"`
	}
	// TicketStatusChangedV1 is the data of agentdesk.ticket.status_changed.v1.
	TicketStatusChangedV1 struct {
		TicketID string `json:"ticket_id"`
		From     string `json:"from"`
		To       string `json:"to"`
	}
	// TicketCommentedV1 is the data of agentdesk.ticket.commented.v1.
	TicketCommentedV1 struct {
		TicketID  string `json:"ticket_id"`
		CommentID string `json:"comment_id"`
		AuthorID  string `json:"author_id"`
	}
	// CampaignStatusChangedV1 is the data of agentdesk.campaign.status_changed.v1.
	CampaignStatusChangedV1 struct {
		CampaignID string `json:"campaign_id"`
		From       string `json:"from"`
		To         string `json:"to"`
	}
	// CompanyDeletedV1 is the data of agentdesk.company.deleted.v1.
	CompanyDeletedV1 struct {
		CompanyID string `json:"company_id"`
	}
)

// integrationTypes maps internal event types to their outbound ones.
var integrationTypes = map[string]string{
	ticket.TypeOpened:          "agentdesk.ticket.opened.v1",
	ticket.TypeAssigned:        "agentdesk.ticket.assigned.v1",
	ticket.TypeStatusChanged:   "agentdesk.ticket.status_changed.v1",
	ticket.TypeCommented:       "agentdesk.ticket.commented.v1",
	campaign.TypeStatusChanged: "agentdesk.campaign.status_changed.v1",
	company.TypeDeleted:        "agentdesk.company.deleted.v1",
}

// ToIntegration maps a stored event to its integration event; ok is false
// for events that have none.
func ToIntegration(ev eventstore.RecordedEvent) (out IntegrationEvent, ok bool, err error) {
	typ, ok := integrationTypes[ev.Type]
	if !ok {
		return IntegrationEvent{}, false, nil
	}
	id := ev.StreamID[strings.IndexByte(ev.StreamID, '-')+1:]
	var data any
	var subject string
	switch eventstore.Category(ev.StreamID) {
	case eventstore.Category(ticket.Stream("")):
		subject = "tickets/" + id
		e, err := ticket.Events.Decode(ev.Type, ev.SchemaVersion, ev.Data)
		if err != nil {
			return IntegrationEvent{}, false, err
		}
		switch e := e.(type) {
		case *ticket.Opened:
			data = TicketOpenedV1{TicketID: id, Title: e.Title, Priority: string(e.Priority), RequesterID: e.RequesterID, Tags: nonNil(e.Tags)}
		case *ticket.Assigned:
			data = TicketAssignedV1{TicketID: id, AssigneeID: e.AssigneeID, PreviousAssigneeID: e.PreviousAssigneeID}
		case *ticket.StatusChanged:
			data = TicketStatusChangedV1{TicketID: id, From: string(e.From), To: string(e.To)}
		case *ticket.Commented:
			data = TicketCommentedV1{TicketID: id, CommentID: e.CommentID, AuthorID: e.AuthorID}
		}
	case eventstore.Category(campaign.Stream("")):
		subject = "campaigns/" + id
		e, err := campaign.Events.Decode(ev.Type, ev.SchemaVersion, ev.Data)
		if err != nil {
			return IntegrationEvent{}, false, err
		}
		if e, ok := e.(*campaign.StatusChanged); ok {
			data = CampaignStatusChangedV1{CampaignID: id, From: string(e.From), To: string(e.To)}
		}
	case eventstore.Category(company.Stream("")):
		subject = "companies/" + id
		data = CompanyDeletedV1{CompanyID: id}
	}
	if data == nil {
		return IntegrationEvent{}, false, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return IntegrationEvent{}, false, err
	}
	return IntegrationEvent{
		SpecVersion: "1.0", ID: ev.ID, Source: "agentdesk", Type: typ, Subject: subject,
		Time: ev.Metadata.RecordedAt.UTC(), DataContentType: "application/json",
		CompanyID: ev.Metadata.CompanyID, CorrelationID: ev.Metadata.CorrelationID, Data: raw,
	}, true, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Integration returns the reaction that publishes integration events on
// topic through pub. The message UUID is the event id, so a broker that
// dedupes (NATS JetStream) stores a redelivered one once; consumers dedupe
// on the CloudEvents id otherwise.
func Integration(pub message.Publisher, topic string) Reaction {
	types := make([]string, 0, len(integrationTypes))
	for t := range integrationTypes {
		types = append(types, t)
	}
	return Reaction{
		Name:   IntegrationName,
		Filter: eventstore.Filter{Types: types},
		Handle: func(ctx context.Context, ev eventstore.RecordedEvent) error {
			out, ok, err := ToIntegration(ev)
			if err != nil || !ok {
				return err
			}
			payload, err := json.Marshal(out)
			if err != nil {
				return err
			}
			msg := message.NewMessage(ev.ID, payload)
			msg.Metadata.Set("ce_type", out.Type)
			msg.Metadata.Set(MetaCompanyID, out.CompanyID)
			msg.SetContext(ctx)
			if err := pub.Publish(topic, msg); err != nil {
				return fmt.Errorf("publish %s: %w", out.Type, err)
			}
			return nil
		},
	}
}
